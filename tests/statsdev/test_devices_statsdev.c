/* devices/statsdev: the statistics function shows the live counters byte for byte, resets
 * them only on the exact control write, drops every other write, and never reads outside
 * its BAR or the statistics. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "devices/statsdev.h"
#include "vmx/stats.h"

static struct tv_stats pub;
static struct stats_state st;
static struct statsdev sd;

static void reset_cb(void *ctx)
{
    stats_reset(ctx);
}

static int setup(void **state)
{
    (void)state;
    stats_init(&st, &pub);
    statsdev_init(&sd, &pub, reset_cb, &st);
    return 0;
}

static uint64_t rd(uint64_t off, unsigned size)
{
    uint64_t v = 0x1234;
    statsdev_ops.read(&sd.dev, 0, off, size, &v);
    return v;
}

static void statsdev_identity_and_bar(void **state)
{
    (void)state;
    assert_int_equal(statsdev_ops.id.vendor_id, TV_STATS_PCI_VENDOR);
    assert_int_equal(statsdev_ops.id.device_id, TV_STATS_PCI_DEVICE);
    assert_int_equal(statsdev_ops.bars[0].size, STATSDEV_BAR0_SIZE);
    assert_true(statsdev_ops.bars[0].backed);
    assert_true(STATSDEV_BAR0_SIZE >= TV_STATS_CTRL_OFFSET + 4096);
    assert_true((STATSDEV_BAR0_SIZE & (STATSDEV_BAR0_SIZE - 1)) == 0);
}

static void statsdev_reads_show_live_counters(void **state)
{
    (void)state;
    assert_true(rd(0, 8) == TV_STATS_MAGIC);
    assert_int_equal(rd(8, 4), TV_STATS_VERSION);
    stats_cpu_online(&st, 0, 3);
    stats_record_exit(&st, 0, 48, 150, 0);
    uint64_t off = offsetof(struct tv_stats, cpu[0].reason[48].count);
    assert_int_equal(rd(off, 8), 1);
    assert_int_equal(rd(off, 1), 1);
    assert_int_equal(rd(offsetof(struct tv_stats, cpu[0].last_ticks), 4), 150);
}

/* Version 2's MMIO path counters are in the pages like the rest: a guest reads them at their
 * offsets (every CPU block at cpu_stride), and the control write resets them. */
static void statsdev_shows_and_resets_mmio_path_counters(void **state)
{
    (void)state;
    assert_true(stats_count_mmio_path(&pub.cpu[3], &st.lock[3], TV_MMIO_PATH_FILL));
    assert_true(stats_count_mmio_path(&pub.cpu[3], &st.lock[3], TV_MMIO_PATH_FILL));
    assert_true(stats_count_mmio_path(&pub.cpu[3], &st.lock[3], TV_MMIO_PATH_RETRY));
    uint64_t stride = rd(offsetof(struct tv_stats_header, cpu_stride), 4);
    uint64_t base = rd(offsetof(struct tv_stats_header, header_size), 4) + 3 * stride;
    uint64_t fill = base + offsetof(struct tv_stats_cpu, mmio_path[TV_MMIO_PATH_FILL]);
    uint64_t retry = base + offsetof(struct tv_stats_cpu, mmio_path[TV_MMIO_PATH_RETRY]);
    assert_int_equal(rd(fill, 8), 2);
    assert_int_equal(rd(retry, 8), 1);
    assert_int_equal(rd(base + offsetof(struct tv_stats_cpu, mmio_path_last), 8),
                     TV_MMIO_PATH_RETRY);
    /* The last CPU's last field lies inside the statistics, before the control page. */
    uint64_t end =
        rd(offsetof(struct tv_stats_header, header_size), 4) + TV_STATS_MAX_CPUS * stride;
    assert_true(end <= TV_STATS_CTRL_OFFSET);
    assert_true(rd(end - 8, 8) != ~0ull);
    statsdev_ops.write(&sd.dev, 0, TV_STATS_CTRL_OFFSET, 4, TV_STATS_CTRL_RESET);
    assert_int_equal(rd(fill, 8), 0);
    assert_int_equal(rd(retry, 8), 0);
}

static void statsdev_reset_needs_the_exact_control_write(void **state)
{
    (void)state;
    stats_record_exit(&st, 0, 10, 50, -1);
    uint64_t count = offsetof(struct tv_stats, cpu[0].reason[10].count);
    statsdev_ops.write(&sd.dev, 0, TV_STATS_CTRL_OFFSET, 4, 2);     /* wrong value */
    statsdev_ops.write(&sd.dev, 0, TV_STATS_CTRL_OFFSET, 8, 1);     /* wrong size */
    statsdev_ops.write(&sd.dev, 0, TV_STATS_CTRL_OFFSET + 4, 4, 1); /* wrong offset */
    statsdev_ops.write(&sd.dev, 0, count, 8, 0);                    /* counters read-only */
    assert_int_equal(rd(count, 8), 1);
    assert_int_equal(sd.resets, 0);
    statsdev_ops.write(&sd.dev, 0, TV_STATS_CTRL_OFFSET, 4, TV_STATS_CTRL_RESET);
    assert_int_equal(rd(count, 8), 0);
    assert_int_equal(sd.resets, 1);
    assert_int_equal(rd(offsetof(struct tv_stats, hdr.generation), 8), 1);
}

static void statsdev_reads_outside_the_statistics(void **state)
{
    (void)state;
    assert_int_equal(rd(TV_STATS_CTRL_OFFSET, 4), 0);
    assert_true(rd(TV_STATS_CTRL_OFFSET + 8, 4) == ~0ull);
    assert_true(rd(sizeof(struct tv_stats) - 2, 4) == ~0ull); /* straddles the end */
    assert_true(rd(STATSDEV_BAR0_SIZE - 4, 8) == ~0ull);      /* past the BAR */
    assert_true(rd(UINT64_MAX - 2, 4) == ~0ull);              /* offset overflow */
    uint64_t v = 0;
    statsdev_ops.read(&sd.dev, 1, 0, 4, &v); /* no BAR 1 */
    assert_true(v == ~0ull);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(statsdev_identity_and_bar, setup),
        cmocka_unit_test_setup(statsdev_reads_show_live_counters, setup),
        cmocka_unit_test_setup(statsdev_shows_and_resets_mmio_path_counters, setup),
        cmocka_unit_test_setup(statsdev_reset_needs_the_exact_control_write, setup),
        cmocka_unit_test_setup(statsdev_reads_outside_the_statistics, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
