/* public_api.c - public_api.inc as C (built as C11 and C17). */
#include "public_api.inc"

int main(void) { return run_checks() == 0 ? 0 : 1; }
