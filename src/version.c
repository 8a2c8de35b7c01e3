/* version.c - the linked library's version (see include/zheap/version.h). */
#include "zheap/version.h"

const char *zh_version_string(void) { return ZH_VERSION_STRING; }
unsigned zh_version_number(void) { return ZH_VERSION_NUMBER; }
