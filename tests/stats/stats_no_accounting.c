/* vmx/stats.c as `make ACCOUNTING=0` builds it for the hypervisor (the accounting compiled out),
 * for test_vmx_stats_no_accounting. */
#define TRAPVISOR_ACCOUNTING 0
#include "vmx/stats.c"
