/* Sample statistics for exitbench; see samples.h. */
#include "tools/exitbench/samples.h"

#include "lib/fmt.h"

/* Heapsort: bounded time and no recursion or allocation, fine inside firmware. */
static void sift_down(uint64_t *v, size_t root, size_t n)
{
    for (;;) {
        size_t child = 2 * root + 1;
        if (child >= n)
            return;
        if (child + 1 < n && v[child + 1] > v[child])
            child++;
        if (v[root] >= v[child])
            return;
        uint64_t t = v[root];
        v[root] = v[child];
        v[child] = t;
        root = child;
    }
}

void samples_sort(uint64_t *v, size_t n)
{
    if (n < 2)
        return;
    for (size_t i = n / 2; i-- > 0;)
        sift_down(v, i, n);
    for (size_t end = n - 1; end > 0; end--) {
        uint64_t t = v[0];
        v[0] = v[end];
        v[end] = t;
        sift_down(v, 0, end);
    }
}

struct sample_summary samples_summarize(uint64_t *v, size_t n)
{
    struct sample_summary s = {0};
    if (n == 0)
        return s;
    samples_sort(v, n);
    s.n = n;
    s.min = v[0];
    s.max = v[n - 1];
    s.median = v[(n - 1) / 2];
    size_t rank = (99 * n + 99) / 100; /* ceil(0.99 n), 1-based */
    s.p99 = v[rank - 1];
    return s;
}

int samples_format_line(char *buf, size_t size, const char *op, const struct sample_summary *s,
                        uint64_t hv_median)
{
    return fmt_snprintf(buf, size,
                        "exitbench: op=%s n=%llu min=%llu median=%llu p99=%llu max=%llu "
                        "hv_median=%llu\n",
                        op, (unsigned long long)s->n, (unsigned long long)s->min,
                        (unsigned long long)s->median, (unsigned long long)s->p99,
                        (unsigned long long)s->max, (unsigned long long)hv_median);
}
