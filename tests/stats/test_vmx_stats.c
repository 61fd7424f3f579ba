/* vmx/stats: exit accounting is exact (count, total, min, max, log2 histogram, per device),
 * a reset racing with another CPU's exits never tears a record, snapshots are consistent,
 * bad indices are refused; the exit stub's record in assembly (stats_record_fast, the same
 * instructions as vmx/stub.asm's inline copy) records exactly what the C reference does; the
 * MMIO path counters (version 2) count, reset, refuse bad paths, give the light count by
 * difference and tag each exit, and version 1's layout is unchanged. */
#include <pthread.h>
#include <stdbool.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vmx/stats.h"
#include "tests/support/rng.h"

static struct tv_stats pub, snap;
static struct stats_state st;

static int setup(void **state)
{
    (void)state;
    stats_init(&st, &pub);
    return 0;
}

static void stats_header_describes_the_layout(void **state)
{
    (void)state;
    assert_true(pub.hdr.magic == TV_STATS_MAGIC);
    assert_int_equal(pub.hdr.version, TV_STATS_VERSION);
    assert_int_equal(pub.hdr.header_size, offsetof(struct tv_stats, cpu));
    assert_int_equal(pub.hdr.cpu_stride, sizeof(struct tv_stats_cpu));
    assert_int_equal(pub.hdr.nbuckets, TV_STATS_BUCKETS);
    assert_int_equal(pub.hdr.flags & TV_STATS_F_ACCOUNTING, TV_STATS_F_ACCOUNTING);
    assert_true(pub.cpu[0].reason[10].min == UINT64_MAX);
    assert_true(TV_STATS_CTRL_OFFSET >= sizeof(struct tv_stats));
    assert_int_equal(TV_STATS_CTRL_OFFSET % 4096, 0);
}

static void stats_bucket_is_floor_log2(void **state)
{
    (void)state;
    assert_int_equal(stats_bucket(0), 0);
    assert_int_equal(stats_bucket(1), 0);
    assert_int_equal(stats_bucket(2), 1);
    assert_int_equal(stats_bucket(3), 1);
    assert_int_equal(stats_bucket(4), 2);
    assert_int_equal(stats_bucket(127), 6);
    assert_int_equal(stats_bucket(128), 7);
    assert_int_equal(stats_bucket((1ull << 31) - 1), 30);
    assert_int_equal(stats_bucket(1ull << 31), 31);
    assert_int_equal(stats_bucket(UINT64_MAX), TV_STATS_BUCKETS - 1);
}

static void stats_record_counts_exactly(void **state)
{
    (void)state;
    assert_true(stats_cpu_online(&st, 1, 7));
    assert_int_equal(pub.hdr.ncpus, 2);
    uint64_t ticks[] = {120, 95, 300, 95, 4000};
    for (unsigned i = 0; i < 5; i++)
        stats_record_exit(&st, 1, 48, ticks[i], i < 3 ? 0 : -1);
    stats_record_exit(&st, 1, 10, 60, -1);
    const struct tv_exit_stat *e = &pub.cpu[1].reason[48];
    assert_int_equal(e->count, 5);
    assert_int_equal(e->total, 120 + 95 + 300 + 95 + 4000);
    assert_int_equal(e->min, 95);
    assert_int_equal(e->max, 4000);
    assert_int_equal(e->hist[6], 3); /* 95, 95, 120 */
    assert_int_equal(e->hist[8], 1); /* 300 */
    assert_int_equal(e->hist[11], 1);
    const struct tv_exit_stat *d = &pub.cpu[1].mmio_device[0];
    assert_int_equal(d->count, 3);
    assert_int_equal(d->total, 515);
    assert_int_equal(pub.cpu[1].reason[10].count, 1);
    assert_int_equal(pub.cpu[1].seq, 6);
    assert_int_equal(pub.cpu[1].last_reason, 10);
    assert_int_equal(pub.cpu[1].last_ticks, 60);
    assert_int_equal(pub.cpu[0].reason[48].count, 0); /* other CPUs untouched */
}

static void stats_refuses_out_of_range_indices(void **state)
{
    (void)state;
    assert_false(stats_cpu_online(&st, TV_STATS_MAX_CPUS, 0));
    stats_record_exit(&st, TV_STATS_MAX_CPUS, 1, 1, -1);   /* ignored, no write out of bounds */
    stats_record_exit(&st, 0, 5000, 33, TV_STATS_DEVICES); /* clamped reason, bad device */
    assert_int_equal(pub.cpu[0].reason[TV_STATS_REASONS - 1].count, 1);
    for (unsigned d = 0; d < TV_STATS_DEVICES; d++)
        assert_int_equal(pub.cpu[0].mmio_device[d].count, 0);
    assert_false(stats_name_device(&st, TV_STATS_DEVICES, "x"));
    assert_true(stats_name_device(&st, 0, "a-name-longer-than-sixteen"));
    assert_int_equal(strlen(pub.hdr.device_name[0]), TV_STATS_NAME_LEN - 1);
}

static void stats_snapshot_needs_room_and_copies_everything(void **state)
{
    (void)state;
    stats_record_exit(&st, 0, 12, 77, -1);
    memset(&snap, 0xAA, sizeof snap);
    assert_int_equal(stats_snapshot(&st, &snap, sizeof snap - 1), sizeof snap);
    assert_int_equal(((unsigned char *)&snap)[0], 0xAA); /* too small: nothing copied */
    assert_int_equal(stats_snapshot(&st, &snap, sizeof snap), sizeof snap);
    assert_memory_equal(&snap, &pub, sizeof snap);
}

struct hammer {
    unsigned cpu;
    unsigned n;
    bool fast; /* record through stats_record_fast (the stub's record) */
};

static void *hammer_exits(void *arg)
{
    struct hammer *h = arg;
    struct stats_record_ctx ctx;
    stats_record_ctx_init(&st, h->cpu, &ctx);
    for (unsigned i = 0; i < h->n; i++) {
        if (h->fast) {
            ctx.reason = 48;
            ctx.device = 1;
            stats_record_fast(&ctx, 100 + (i & 63));
        } else {
            stats_record_exit(&st, h->cpu, 48, 100 + (i & 63), 1);
        }
    }
    return NULL;
}

static void reset_races_with(bool fast)
{
    struct hammer h = {.cpu = 1, .n = 400000, .fast = fast};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, hammer_exits, &h), 0);
    uint64_t gen0 = pub.hdr.generation;
    for (int i = 0; i < 200; i++) {
        stats_reset(&st);
        stats_snapshot(&st, &snap, sizeof snap);
        const struct tv_exit_stat *e = &snap.cpu[1].reason[48];
        uint64_t sum = 0;
        for (unsigned b = 0; b < TV_STATS_BUCKETS; b++)
            sum += e->hist[b];
        assert_int_equal(sum, e->count); /* every record whole */
        assert_int_equal(snap.cpu[1].mmio_device[1].count, e->count);
        if (e->count)
            assert_true(e->min >= 100 && e->max <= 163 && e->total >= e->count * 100);
    }
    pthread_join(t, NULL);
    assert_int_equal(pub.hdr.generation, gen0 + 200);
    stats_reset(&st);
    h.n = 12345;
    hammer_exits(&h);
    assert_int_equal(pub.cpu[1].reason[48].count, 12345); /* exact after a reset */
    assert_int_equal(pub.cpu[1].mmio_device[1].count, 12345);
}

static void stats_reset_racing_with_exits_never_tears_a_record(void **state)
{
    (void)state;
    reset_races_with(false);
}

static void stats_reset_racing_with_stub_records_never_tears_a_record(void **state)
{
    (void)state;
    reset_races_with(true);
}

static struct tv_stats ref_pub;
static struct stats_state ref_st;

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rng(void)
{
    return xorshift64(&rng_state);
}

/* Differential: the same random exits through stats_record_fast and through the C
 * stats_record_exit leave identical CPU blocks (every counter, min/max, bucket, last_*, seq). */
static void stats_record_fast_matches_the_c_record(void **state)
{
    (void)state;
    stats_init(&ref_st, &ref_pub);
    static const uint64_t edge_ticks[] = {
        0, 1, 2, 3, 59, 60, 1ull << 31, (1ull << 32) - 1, 1ull << 32, UINT64_MAX, 1ull << 63};
    static const int32_t devices[] = {-1, 0, 1, 2, 3, 4, 7, INT32_MIN, INT32_MAX};
    struct stats_record_ctx ctx;
    stats_record_ctx_init(&st, 3, &ctx);
    assert_ptr_equal(ctx.cpu, &pub.cpu[3]);
    assert_int_equal(ctx.device, -1);
    for (unsigned i = 0; i < 200000; i++) {
        uint64_t r = rng();
        uint32_t reason = (r & 3) == 0   ? (uint32_t)(r >> 8) /* any value, bit 31 too */
                          : (r & 3) == 1 ? (uint32_t)((r >> 8) % 100)
                                         : (uint32_t)((r >> 8) % 80);
        uint64_t ticks = (r & 0x30) == 0      ? edge_ticks[(r >> 40) % 11]
                         : (r & 0x30) == 0x10 ? rng()
                                              : (r >> 20) % 5000;
        int32_t device = devices[(r >> 50) % 9];
        ctx.reason = reason;
        ctx.device = device;
        stats_record_fast(&ctx, ticks);
        stats_record_exit(&ref_st, 3, reason & 0xFFFF, ticks, device);
        /* The slot is consumed when it named a device, else left as it was. */
        assert_int_equal(ctx.device,
                         device >= 0 && device < (int32_t)TV_STATS_DEVICES ? -1 : device);
        if ((i & 1023) == 0)
            assert_memory_equal(&pub.cpu[3], &ref_pub.cpu[3], sizeof pub.cpu[3]);
    }
    assert_memory_equal(&pub.cpu[3], &ref_pub.cpu[3], sizeof pub.cpu[3]);
    assert_int_equal(pub.cpu[3].seq, 200000);
    assert_int_equal(st.lock[3], 0); /* released */
    for (unsigned c = 0; c < TV_STATS_MAX_CPUS; c++)
        if (c != 3)
            assert_int_equal(pub.cpu[c].seq, 0); /* other CPUs untouched */
}

/* Without statistics pages, or for a CPU beyond the last block, the record still has
 * somewhere to write and touches no real block. */
static void stats_record_without_a_block_goes_to_the_sink(void **state)
{
    (void)state;
    struct stats_record_ctx a, b;
    stats_record_ctx_init(NULL, 0, &a);
    stats_record_ctx_init(&st, TV_STATS_MAX_CPUS, &b);
    assert_non_null(a.cpu);
    assert_non_null(a.lock);
    assert_ptr_equal(a.cpu, b.cpu);
    a.reason = 10;
    stats_record_fast(&a, 55);
    b.reason = 48;
    b.device = 0;
    stats_record_fast(&b, 66);
    for (unsigned c = 0; c < TV_STATS_MAX_CPUS; c++)
        assert_int_equal(pub.cpu[c].seq, 0);
    assert_int_equal(a.cpu->seq, b.cpu->seq); /* the one sink */
}

static void stats_overhead_is_measured_and_leaves_no_samples(void **state)
{
    (void)state;
    uint64_t seq = pub.cpu[2].seq;
    uint64_t o = stats_measure_overhead(&st, 2, 1000, stats_record_fast);
    assert_int_equal(pub.hdr.overhead_ticks, o);
    assert_true(o < 100000); /* sanity: a few counter updates, not a stall */
    assert_int_equal(pub.cpu[2].reason[0].count, 0);
    assert_int_equal(pub.cpu[2].seq, seq);
    assert_int_equal(pub.cpu[2].reason[0].min, UINT64_MAX);
    assert_int_equal(stats_measure_overhead(&st, TV_STATS_MAX_CPUS, 10, stats_record_fast), 0);
}

/* Version 2 only appended: every version-1 offset (the stub's record and old readers use them)
 * is where it was, the new fields follow mmio_device[], and the statistics still fit the pages
 * before the control register. */
static void stats_layout_keeps_version_1_offsets(void **state)
{
    (void)state;
    assert_int_equal(offsetof(struct tv_stats_header, version), 8);
    assert_int_equal(offsetof(struct tv_stats_header, cpu_stride), 16);
    assert_int_equal(offsetof(struct tv_stats_header, flags), 36);
    assert_int_equal(offsetof(struct tv_stats_header, overhead_ticks), 40);
    assert_int_equal(offsetof(struct tv_stats_header, generation), 48);
    assert_int_equal(offsetof(struct tv_stats_header, device_name), 56);
    assert_int_equal(sizeof(struct tv_stats_header), 120);
    assert_int_equal(offsetof(struct tv_stats, cpu), 120);
    assert_int_equal(offsetof(struct tv_stats_cpu, apic_id), 0);
    assert_int_equal(offsetof(struct tv_stats_cpu, online), 4);
    assert_int_equal(offsetof(struct tv_stats_cpu, last_reason), 8);
    assert_int_equal(offsetof(struct tv_stats_cpu, last_ticks), 16);
    assert_int_equal(offsetof(struct tv_stats_cpu, seq), 24);
    assert_int_equal(offsetof(struct tv_stats_cpu, reason), 32);
    assert_int_equal(offsetof(struct tv_stats_cpu, mmio_device), 32 + 80 * 288);
    assert_int_equal(sizeof(struct tv_exit_stat), 288);
    assert_int_equal(offsetof(struct tv_stats_cpu, mmio_path), 32 + 84 * 288);
    assert_int_equal(offsetof(struct tv_stats_cpu, mmio_path_seq),
                     32 + 84 * 288 + 8 * TV_STATS_MMIO_PATHS);
    assert_int_equal(offsetof(struct tv_stats_cpu, mmio_path_last),
                     32 + 84 * 288 + 8 * TV_STATS_MMIO_PATHS + 8);
    assert_int_equal(sizeof(struct tv_stats_cpu), 32 + 84 * 288 + 8 * TV_STATS_MMIO_PATHS + 16);
    assert_int_equal(TV_STATS_VERSION, 2);
    assert_true(TV_MMIO_PATH_COUNT <= TV_STATS_MMIO_PATHS);
    assert_true(sizeof(struct tv_stats) <= TV_STATS_CTRL_OFFSET);
    /* Still 190 pages: the control register stays at 0xBE000 (boot/ and the BAR unchanged). */
    assert_int_equal(TV_STATS_CTRL_OFFSET, 0xBE000);
}

static void stats_mmio_path_counts_each_counted_path(void **state)
{
    (void)state;
    static const enum tv_mmio_path paths[] = {
        TV_MMIO_PATH_FULL,    TV_MMIO_PATH_FILL, TV_MMIO_PATH_GENERAL, TV_MMIO_PATH_RETRY,
        TV_MMIO_PATH_REFUSED, TV_MMIO_PATH_FILL, TV_MMIO_PATH_FILL,    TV_MMIO_PATH_GENERAL};
    for (unsigned i = 0; i < sizeof paths / sizeof paths[0]; i++)
        assert_true(stats_count_mmio_path(&pub.cpu[2], &st.lock[2], paths[i]));
    const uint64_t *n = pub.cpu[2].mmio_path;
    assert_int_equal(n[TV_MMIO_PATH_LIGHT], 0);
    assert_int_equal(n[TV_MMIO_PATH_FULL], 1);
    assert_int_equal(n[TV_MMIO_PATH_FILL], 3);
    assert_int_equal(n[TV_MMIO_PATH_GENERAL], 2);
    assert_int_equal(n[TV_MMIO_PATH_RETRY], 1);
    assert_int_equal(n[TV_MMIO_PATH_REFUSED], 1);
    for (unsigned p = TV_MMIO_PATH_COUNT; p < TV_STATS_MMIO_PATHS; p++)
        assert_int_equal(n[p], 0);   /* reserved */
    assert_int_equal(st.lock[2], 0); /* released */
    assert_int_equal(pub.cpu[2].mmio_path_last, TV_MMIO_PATH_GENERAL);
    for (unsigned c = 0; c < TV_STATS_MAX_CPUS; c++) {
        if (c == 2)
            continue;
        for (unsigned p = 0; p < TV_STATS_MMIO_PATHS; p++)
            assert_int_equal(pub.cpu[c].mmio_path[p], 0); /* other CPUs untouched */
    }
    assert_int_equal(pub.cpu[2].seq, 0); /* counting a path is not recording an exit */
}

static void stats_mmio_path_refuses_light_and_bad_paths(void **state)
{
    (void)state;
    static struct tv_stats_cpu before;
    memcpy(&before, &pub.cpu[1], sizeof before);
    assert_false(stats_count_mmio_path(&pub.cpu[1], &st.lock[1], TV_MMIO_PATH_LIGHT));
    assert_false(stats_count_mmio_path(&pub.cpu[1], &st.lock[1], TV_MMIO_PATH_COUNT));
    assert_false(stats_count_mmio_path(&pub.cpu[1], &st.lock[1], (enum tv_mmio_path)7));
    assert_false(stats_count_mmio_path(&pub.cpu[1], &st.lock[1], (enum tv_mmio_path)8));
    assert_false(stats_count_mmio_path(&pub.cpu[1], &st.lock[1], (enum tv_mmio_path)100000));
    assert_false(stats_count_mmio_path(&pub.cpu[1], &st.lock[1], (enum tv_mmio_path) - 1));
    assert_false(stats_count_mmio_path(NULL, &st.lock[1], TV_MMIO_PATH_FILL));
    assert_false(stats_count_mmio_path(&pub.cpu[1], NULL, TV_MMIO_PATH_FILL));
    assert_memory_equal(&before, &pub.cpu[1], sizeof before); /* nothing written */
    assert_int_equal(st.lock[1], 0);
}

static void stats_mmio_path_counters_reset_with_the_rest(void **state)
{
    (void)state;
    stats_record_exit(&st, 0, 48, 100, 0);
    assert_true(stats_count_mmio_path(&pub.cpu[0], &st.lock[0], TV_MMIO_PATH_FILL));
    stats_record_exit(&st, 0, 48, 780, 0);
    assert_true(stats_count_mmio_path(&pub.cpu[5], &st.lock[5], TV_MMIO_PATH_RETRY));
    uint64_t gen = pub.hdr.generation;
    stats_reset(&st);
    assert_int_equal(pub.hdr.generation, gen + 1);
    for (unsigned c = 0; c < TV_STATS_MAX_CPUS; c++)
        for (unsigned p = 0; p < TV_STATS_MMIO_PATHS; p++)
            assert_int_equal(pub.cpu[c].mmio_path[p], 0);
    /* Counting goes on exactly after a reset. */
    assert_true(stats_count_mmio_path(&pub.cpu[0], &st.lock[0], TV_MMIO_PATH_FULL));
    assert_int_equal(pub.cpu[0].mmio_path[TV_MMIO_PATH_FULL], 1);
    /* The snapshot copies the new fields too. */
    assert_int_equal(stats_snapshot(&st, &snap, sizeof snap), sizeof snap);
    assert_int_equal(snap.cpu[0].mmio_path[TV_MMIO_PATH_FULL], 1);
}

/* What the exit path does, exit by exit: the handler counts its path (every path but light),
 * then the stub records the exit (stats_record_fast, the stub's own instructions), except for a
 * refused exit, whose CPU stops first. Light = reason 48's count minus the counted paths,
 * exactly, at every exit, and the tag names each exit's path. */
static void stats_mmio_light_is_derived_exactly(void **state)
{
    (void)state;
    uint64_t rs = 0x243F6A8885A308D3ull;
    struct stats_record_ctx ctx;
    stats_record_ctx_init(&st, 4, &ctx);
    uint64_t expect[TV_MMIO_PATH_COUNT] = {0};
    for (unsigned i = 0; i < 20000; i++) {
        uint64_t r = xorshift64(&rs);
        if (r % 7 == 0) { /* another kind of exit between MMIO exits */
            ctx.reason = 10;
            stats_record_fast(&ctx, 40);
            assert_int_equal(tv_stats_last_mmio_path(pub.cpu[4].seq, pub.cpu[4].last_reason,
                                                     pub.cpu[4].mmio_path_seq,
                                                     pub.cpu[4].mmio_path_last),
                             -1);
            continue;
        }
        /* Mostly light, as in a driver's steady state; never refused but at the end. */
        enum tv_mmio_path p =
            (r >> 8) % 3 ? TV_MMIO_PATH_LIGHT : (enum tv_mmio_path)(1 + (r >> 16) % 4);
        if (p != TV_MMIO_PATH_LIGHT)
            assert_true(stats_count_mmio_path(ctx.cpu, ctx.lock, p));
        ctx.reason = 48;
        ctx.device = (int32_t)((r >> 24) % 2);
        stats_record_fast(&ctx, p == TV_MMIO_PATH_LIGHT ? 193 : 780);
        expect[p]++;
        const struct tv_stats_cpu *c = &pub.cpu[4];
        assert_int_equal(tv_stats_mmio_light(c->reason[48].count, c->mmio_path),
                         expect[TV_MMIO_PATH_LIGHT]);
        assert_int_equal(
            tv_stats_last_mmio_path(c->seq, c->last_reason, c->mmio_path_seq, c->mmio_path_last),
            p);
    }
    for (unsigned p = TV_MMIO_PATH_FULL; p < TV_MMIO_PATH_COUNT; p++)
        assert_int_equal(pub.cpu[4].mmio_path[p], expect[p]);
    assert_true(expect[TV_MMIO_PATH_LIGHT] > 10000 && expect[TV_MMIO_PATH_FILL] > 1000);
    /* A refused exit: counted, never recorded (its CPU stops). The light count is unchanged and
     * the latest recorded exit keeps its own path. */
    const uint64_t light = expect[TV_MMIO_PATH_LIGHT];
    const int last = tv_stats_last_mmio_path(pub.cpu[4].seq, pub.cpu[4].last_reason,
                                             pub.cpu[4].mmio_path_seq, pub.cpu[4].mmio_path_last);
    assert_true(stats_count_mmio_path(ctx.cpu, ctx.lock, TV_MMIO_PATH_REFUSED));
    assert_int_equal(pub.cpu[4].mmio_path[TV_MMIO_PATH_REFUSED], 1);
    assert_int_equal(tv_stats_mmio_light(pub.cpu[4].reason[48].count, pub.cpu[4].mmio_path), light);
    assert_int_equal(tv_stats_last_mmio_path(pub.cpu[4].seq, pub.cpu[4].last_reason,
                                             pub.cpu[4].mmio_path_seq, pub.cpu[4].mmio_path_last),
                     last);
}

/* Between a path's count and its exit's record (a reader of the live pages on another CPU can
 * land there) the counted paths exceed the recorded exits: the derived light count is 0, never
 * a wrapped-around huge number. */
static void stats_mmio_light_is_zero_while_an_exit_is_in_flight(void **state)
{
    (void)state;
    uint64_t paths[TV_STATS_MMIO_PATHS] = {0};
    assert_int_equal(tv_stats_mmio_light(0, paths), 0);
    paths[TV_MMIO_PATH_FILL] = 1;
    assert_int_equal(tv_stats_mmio_light(0, paths), 0);
    assert_int_equal(tv_stats_mmio_light(1, paths), 0);
    assert_int_equal(tv_stats_mmio_light(5, paths), 4);
    paths[TV_MMIO_PATH_REFUSED] = 3; /* never in reason 48's count: not subtracted */
    paths[TV_MMIO_PATH_LIGHT] = 99;  /* not a counted path (stays 0 in real blocks) */
    assert_int_equal(tv_stats_mmio_light(5, paths), 4);
    assert_int_equal(tv_stats_last_mmio_path(0, 48, UINT64_MAX, 0), -1); /* nothing recorded */
    assert_int_equal(tv_stats_last_mmio_path(7, 48, 6, 99), TV_MMIO_PATH_LIGHT); /* bad tag */
    assert_int_equal(tv_stats_last_mmio_path(7, 48, 6, TV_MMIO_PATH_GENERAL), TV_MMIO_PATH_GENERAL);
    assert_int_equal(tv_stats_last_mmio_path(7, 48, 5, TV_MMIO_PATH_GENERAL), TV_MMIO_PATH_LIGHT);
}

static void *hammer_paths(void *arg)
{
    struct hammer *h = arg;
    struct stats_record_ctx ctx;
    stats_record_ctx_init(&st, h->cpu, &ctx);
    for (unsigned i = 0; i < h->n; i++) {
        stats_count_mmio_path(ctx.cpu, ctx.lock, TV_MMIO_PATH_FILL);
        ctx.reason = 48;
        stats_record_fast(&ctx, 780);
    }
    return NULL;
}

/* A reset from another CPU takes the same lock word: it never tears or loses a count, and the
 * counts are exact again right after it. */
static void stats_mmio_path_reset_racing_with_counts(void **state)
{
    (void)state;
    struct hammer h = {.cpu = 6, .n = 300000};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, hammer_paths, &h), 0);
    for (int i = 0; i < 200; i++) {
        stats_reset(&st);
        stats_snapshot(&st, &snap, sizeof snap);
        const struct tv_stats_cpu *c = &snap.cpu[6];
        /* The snapshot holds whole updates: each path count is at most one ahead of its exit's
         * record (counted, the stub's record not yet run). */
        assert_true(c->mmio_path[TV_MMIO_PATH_FILL] <= c->reason[48].count + 1);
        assert_int_equal(c->mmio_path[TV_MMIO_PATH_LIGHT], 0);
        assert_true(c->mmio_path_last == TV_MMIO_PATH_FILL || c->mmio_path_seq == UINT64_MAX);
    }
    pthread_join(t, NULL);
    stats_reset(&st);
    h.n = 4321;
    hammer_paths(&h);
    assert_int_equal(pub.cpu[6].mmio_path[TV_MMIO_PATH_FILL], 4321);
    assert_int_equal(pub.cpu[6].reason[48].count, 4321);
    assert_int_equal(tv_stats_mmio_light(pub.cpu[6].reason[48].count, pub.cpu[6].mmio_path), 0);
    assert_int_equal(st.lock[6], 0);
}

/* A CPU without a block counts into the sink, as its record does: no real block changes. */
static void stats_mmio_path_without_a_block_goes_to_the_sink(void **state)
{
    (void)state;
    struct stats_record_ctx a;
    stats_record_ctx_init(NULL, 0, &a);
    uint64_t before = a.cpu->mmio_path[TV_MMIO_PATH_GENERAL];
    assert_true(stats_count_mmio_path(a.cpu, a.lock, TV_MMIO_PATH_GENERAL));
    assert_int_equal(a.cpu->mmio_path[TV_MMIO_PATH_GENERAL], before + 1);
    for (unsigned c = 0; c < TV_STATS_MAX_CPUS; c++)
        assert_int_equal(pub.cpu[c].mmio_path[TV_MMIO_PATH_GENERAL], 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(stats_header_describes_the_layout, setup),
        cmocka_unit_test_setup(stats_bucket_is_floor_log2, setup),
        cmocka_unit_test_setup(stats_record_counts_exactly, setup),
        cmocka_unit_test_setup(stats_refuses_out_of_range_indices, setup),
        cmocka_unit_test_setup(stats_snapshot_needs_room_and_copies_everything, setup),
        cmocka_unit_test_setup(stats_reset_racing_with_exits_never_tears_a_record, setup),
        cmocka_unit_test_setup(stats_reset_racing_with_stub_records_never_tears_a_record, setup),
        cmocka_unit_test_setup(stats_record_fast_matches_the_c_record, setup),
        cmocka_unit_test_setup(stats_record_without_a_block_goes_to_the_sink, setup),
        cmocka_unit_test_setup(stats_overhead_is_measured_and_leaves_no_samples, setup),
        cmocka_unit_test_setup(stats_layout_keeps_version_1_offsets, setup),
        cmocka_unit_test_setup(stats_mmio_path_counts_each_counted_path, setup),
        cmocka_unit_test_setup(stats_mmio_path_refuses_light_and_bad_paths, setup),
        cmocka_unit_test_setup(stats_mmio_path_counters_reset_with_the_rest, setup),
        cmocka_unit_test_setup(stats_mmio_light_is_derived_exactly, setup),
        cmocka_unit_test_setup(stats_mmio_light_is_zero_while_an_exit_is_in_flight, setup),
        cmocka_unit_test_setup(stats_mmio_path_reset_racing_with_counts, setup),
        cmocka_unit_test_setup(stats_mmio_path_without_a_block_goes_to_the_sink, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
