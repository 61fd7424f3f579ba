/* Sample statistics for exitbench: order statistics over TSC-tick samples and the
 * result line. Pure C (no firmware), host-tested. */
#ifndef TRAPVISOR_EXITBENCH_SAMPLES_H
#define TRAPVISOR_EXITBENCH_SAMPLES_H

#include <stddef.h>
#include <stdint.h>

struct sample_summary {
    size_t n;
    uint64_t min, median, p99, max;
};

/* Sorts `v` in place (ascending; O(n log n), no allocation). */
void samples_sort(uint64_t *v, size_t n);

/* Summarizes `n` samples (sorting them in place). The median of an even count is the lower
 * middle sample, so every figure is a sample that was really measured; p99 is the sample at
 * rank ceil(0.99 n) (nearest-rank definition). All zero when n == 0. */
struct sample_summary samples_summarize(uint64_t *v, size_t n);

/* Formats the result line the issue fixes:
 * "exitbench: op=<name> n=<N> min=<a> median=<b> p99=<c> max=<d> hv_median=<e>\n".
 * Returns the length (as snprintf). */
int samples_format_line(char *buf, size_t size, const char *op, const struct sample_summary *s,
                        uint64_t hv_median);

#endif
