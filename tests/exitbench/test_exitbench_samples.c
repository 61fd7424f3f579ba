/* exitbench's order statistics: sorting, nearest-rank p99, lower-middle median, the exact
 * result line the issue fixes, and the empty case. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tools/exitbench/samples.h"

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void samples_sort_matches_qsort_on_random_data(void **state)
{
    (void)state;
    srand(7);
    for (size_t n = 0; n < 300; n += 7) {
        uint64_t a[300], b[300];
        for (size_t i = 0; i < n; i++)
            a[i] = b[i] = ((uint64_t)rand() << 20) ^ (uint64_t)(rand() % 50);
        samples_sort(a, n);
        qsort(b, n, sizeof b[0], cmp_u64);
        assert_memory_equal(a, b, n * sizeof a[0]);
    }
}

static void samples_summary_uses_nearest_rank(void **state)
{
    (void)state;
    uint64_t v[200];
    for (int i = 0; i < 200; i++)
        v[i] = (uint64_t)(200 - i); /* 200..1, unsorted */
    struct sample_summary s = samples_summarize(v, 200);
    assert_int_equal(s.n, 200);
    assert_int_equal(s.min, 1);
    assert_int_equal(s.max, 200);
    assert_int_equal(s.median, 100); /* lower middle of 1..200 */
    assert_int_equal(s.p99, 198);    /* rank ceil(198) */

    uint64_t odd[5] = {9, 1, 5, 7, 3};
    s = samples_summarize(odd, 5);
    assert_int_equal(s.median, 5);
    assert_int_equal(s.p99, 9);

    uint64_t one[1] = {42};
    s = samples_summarize(one, 1);
    assert_int_equal(s.min, 42);
    assert_int_equal(s.median, 42);
    assert_int_equal(s.p99, 42);
}

static void samples_empty_summary_is_zero(void **state)
{
    (void)state;
    struct sample_summary s = samples_summarize(NULL, 0);
    assert_int_equal(s.n, 0);
    assert_int_equal(s.median, 0);
    assert_int_equal(s.max, 0);
}

static void samples_line_has_the_exact_format(void **state)
{
    (void)state;
    uint64_t v[4] = {130, 120, 125, 400};
    struct sample_summary s = samples_summarize(v, 4);
    char line[256];
    int n = samples_format_line(line, sizeof line, "mmio-read-edu", &s, 97);
    assert_string_equal(line, "exitbench: op=mmio-read-edu n=4 min=120 median=125 p99=400 "
                              "max=400 hv_median=97\n");
    assert_int_equal(n, (int)strlen(line));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(samples_sort_matches_qsort_on_random_data),
        cmocka_unit_test(samples_summary_uses_nearest_rank),
        cmocka_unit_test(samples_empty_summary_is_zero),
        cmocka_unit_test(samples_line_has_the_exact_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
