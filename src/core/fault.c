/* fault.c - the counters behind zh__os_test_fail_after (see fault.h, platform.h). */
#include "core/fault.h"
#include "platform/platform.h"

_Atomic(unsigned) zh__fault_armed_ops;
static _Atomic(size_t) calls_counted;
static _Atomic(size_t) fail_from = SIZE_MAX;

void zh__os_test_fail_after(unsigned ops, size_t n) {
    zh__atomic_store_relaxed(&zh__fault_armed_ops, 0u);
    zh__atomic_store_relaxed(&calls_counted, (size_t)0);
    zh__atomic_store_relaxed(&fail_from, n);
    if (n != SIZE_MAX) zh__atomic_store_release(&zh__fault_armed_ops, ops);
}

size_t zh__os_test_fault_count(void) { return zh__atomic_load_relaxed(&calls_counted); }

bool zh__fault_count_call(void) {
    size_t index = zh__atomic_add_relaxed(&calls_counted, (size_t)1);
    return index >= zh__atomic_load_relaxed(&fail_from);
}
