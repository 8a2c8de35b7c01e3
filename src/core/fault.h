/* fault.h - test-only fault injection at the OS seam (platform.h,
 * zh__os_test_fail_after). Backends ask zh__fault_injected(op) before each map, grow
 * or remap; in builds without ZH_CONFIG_FAULT_INJECTION the question compiles away,
 * and with it the cost is one relaxed load while nothing is armed. */
#ifndef ZHEAP_CORE_FAULT_H
#define ZHEAP_CORE_FAULT_H

#include "common.h"

#ifndef ZH_CONFIG_FAULT_INJECTION
#define ZH_CONFIG_FAULT_INJECTION 0
#endif

/* The ZH__OS_FAULT_* kinds currently armed (0: none). */
extern _Atomic(unsigned) zh__fault_armed_ops;

/* Counts one armed call; true when it is the n-th or later (it must fail). */
bool zh__fault_count_call(void);

/* True when the backend must fail this call of kind `op` (one ZH__OS_FAULT_* bit). */
static inline bool zh__fault_injected(unsigned op) {
    if (!ZH_CONFIG_FAULT_INJECTION) return false;
    if (ZH__LIKELY((zh__atomic_load_relaxed(&zh__fault_armed_ops) & op) == 0)) return false;
    return zh__fault_count_call();
}

#endif /* ZHEAP_CORE_FAULT_H */
