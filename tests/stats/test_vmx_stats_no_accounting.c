/* vmx/stats built with TRAPVISOR_ACCOUNTING=0 (`make ACCOUNTING=0`): the header says so, and
 * neither exits nor MMIO path counts change any counter, while bad paths are still refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vmx/stats.h"

static struct tv_stats pub;
static struct stats_state st;

static int setup(void **state)
{
    (void)state;
    stats_init(&st, &pub);
    return 0;
}

static void no_accounting_header_says_so(void **state)
{
    (void)state;
    assert_int_equal(pub.hdr.flags & TV_STATS_F_ACCOUNTING, 0);
    assert_int_equal(pub.hdr.version, TV_STATS_VERSION);
}

static void no_accounting_mmio_paths_stay_zero(void **state)
{
    (void)state;
    static struct tv_stats_cpu before;
    memcpy(&before, &pub.cpu[0], sizeof before);
    for (unsigned p = TV_MMIO_PATH_FULL; p < TV_MMIO_PATH_COUNT; p++)
        assert_true(stats_count_mmio_path(&pub.cpu[0], &st.lock[0], (enum tv_mmio_path)p));
    stats_record_exit(&st, 0, 48, 193, 0);
    assert_memory_equal(&before, &pub.cpu[0], sizeof before);
    for (unsigned p = 0; p < TV_STATS_MMIO_PATHS; p++)
        assert_int_equal(pub.cpu[0].mmio_path[p], 0);
    assert_int_equal(tv_stats_mmio_light(pub.cpu[0].reason[48].count, pub.cpu[0].mmio_path), 0);
    assert_int_equal(st.lock[0], 0);
}

static void no_accounting_still_refuses_bad_paths(void **state)
{
    (void)state;
    assert_false(stats_count_mmio_path(&pub.cpu[0], &st.lock[0], TV_MMIO_PATH_LIGHT));
    assert_false(stats_count_mmio_path(&pub.cpu[0], &st.lock[0], TV_MMIO_PATH_COUNT));
    assert_false(stats_count_mmio_path(NULL, &st.lock[0], TV_MMIO_PATH_FILL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(no_accounting_header_says_so, setup),
        cmocka_unit_test_setup(no_accounting_mmio_paths_stay_zero, setup),
        cmocka_unit_test_setup(no_accounting_still_refuses_bad_paths, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
