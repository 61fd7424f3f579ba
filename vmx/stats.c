/* Per-CPU VM-exit accounting; see stats.h. */
#include "vmx/stats.h"

#include "lib/string.h"
#include "lib/tsc.h"

/* vmx/stats_record.inc addresses these fields by number. */
_Static_assert(__builtin_offsetof(struct stats_record_ctx, reason) == 0, "REC_REASON");
_Static_assert(__builtin_offsetof(struct stats_record_ctx, device) == 4, "REC_DEVICE");
_Static_assert(__builtin_offsetof(struct stats_record_ctx, cpu) == 8, "REC_CPU");
_Static_assert(__builtin_offsetof(struct stats_record_ctx, lock) == 16, "REC_LOCK");
_Static_assert(__builtin_offsetof(struct tv_stats_cpu, last_reason) == 8, "CPU_LAST_REASON");
_Static_assert(__builtin_offsetof(struct tv_stats_cpu, last_ticks) == 16, "CPU_LAST_TICKS");
_Static_assert(__builtin_offsetof(struct tv_stats_cpu, seq) == 24, "CPU_SEQ");
_Static_assert(__builtin_offsetof(struct tv_stats_cpu, reason) == 32, "CPU_REASON");
_Static_assert(__builtin_offsetof(struct tv_stats_cpu, mmio_device) == 32 + 80 * 288, "CPU_DEVICE");
_Static_assert(sizeof(struct tv_exit_stat) == 288, "STAT_SIZE");
_Static_assert(__builtin_offsetof(struct tv_exit_stat, min) == 16, "STAT_MIN");
_Static_assert(__builtin_offsetof(struct tv_exit_stat, max) == 24, "STAT_MAX");
_Static_assert(__builtin_offsetof(struct tv_exit_stat, hist) == 32, "STAT_HIST");
_Static_assert(TV_STATS_REASONS == 80 && TV_STATS_DEVICES == 4 && TV_STATS_BUCKETS == 32,
               "stats_record.inc constants");

/* Version 1's layout is kept (struct tv_stats_cpu only grew at its end): the record above and
 * every reader of version 1 fields see the same offsets. */
_Static_assert(__builtin_offsetof(struct tv_stats_cpu, mmio_path) == 32 + 84 * 288,
               "MMIO path counters appended after mmio_device[]");
_Static_assert(TV_MMIO_PATH_COUNT <= TV_STATS_MMIO_PATHS, "a slot for every path");
/* The statistics function's 1 MiB BAR holds the pages and the control page after them
 * (devices/statsdev.h, STATSDEV_BAR0_SIZE). */
_Static_assert(TV_STATS_CTRL_OFFSET + 4096 <= 0x100000, "statistics fit the BAR");

/* The CPU's lock word (XCHG, implicitly locked: SDM Vol. 2B, XCHG), as the stub's record
 * takes it (vmx/stats_record.inc). */
static void lock_word(volatile int *lock)
{
    while (__atomic_exchange_n(lock, 1, __ATOMIC_ACQUIRE))
        while (__atomic_load_n(lock, __ATOMIC_RELAXED))
            __builtin_ia32_pause();
}

static void unlock_word(volatile int *lock)
{
    __atomic_store_n(lock, 0, __ATOMIC_RELEASE);
}

static void lock_cpu(struct stats_state *st, unsigned cpu)
{
    lock_word(&st->lock[cpu]);
}

static void unlock_cpu(struct stats_state *st, unsigned cpu)
{
    unlock_word(&st->lock[cpu]);
}

static void clear_stat(struct tv_exit_stat *s)
{
    memset(s, 0, sizeof *s);
    s->min = UINT64_MAX;
}

static void clear_cpu_counters(struct tv_stats_cpu *c)
{
    for (unsigned r = 0; r < TV_STATS_REASONS; r++)
        clear_stat(&c->reason[r]);
    for (unsigned d = 0; d < TV_STATS_DEVICES; d++)
        clear_stat(&c->mmio_device[d]);
    for (unsigned p = 0; p < TV_STATS_MMIO_PATHS; p++)
        c->mmio_path[p] = 0;
    c->last_reason = 0;
    c->last_ticks = 0;
}

void stats_init(struct stats_state *st, struct tv_stats *pub)
{
    memset(st, 0, sizeof *st);
    st->pub = pub;
    memset(pub, 0, sizeof *pub);
    struct tv_stats_header *h = &pub->hdr;
    h->magic = TV_STATS_MAGIC;
    h->version = TV_STATS_VERSION;
    h->header_size = (uint32_t)sizeof(struct tv_stats_header);
    h->cpu_stride = (uint32_t)sizeof(struct tv_stats_cpu);
    h->nreasons = TV_STATS_REASONS;
    h->nbuckets = TV_STATS_BUCKETS;
    h->ndevices = TV_STATS_DEVICES;
    h->flags = TRAPVISOR_ACCOUNTING ? TV_STATS_F_ACCOUNTING : 0;
    for (unsigned c = 0; c < TV_STATS_MAX_CPUS; c++) {
        clear_cpu_counters(&pub->cpu[c]);
        pub->cpu[c].mmio_path_seq = UINT64_MAX; /* tags no exit */
    }
}

bool stats_cpu_online(struct stats_state *st, unsigned cpu, uint32_t apic_id)
{
    if (cpu >= TV_STATS_MAX_CPUS)
        return false;
    st->pub->cpu[cpu].apic_id = apic_id;
    st->pub->cpu[cpu].online = 1;
    /* ncpus only grows; CPUs come online in index order but need not. */
    uint32_t n = cpu + 1;
    uint32_t old = __atomic_load_n(&st->pub->hdr.ncpus, __ATOMIC_RELAXED);
    while (old < n && !__atomic_compare_exchange_n(&st->pub->hdr.ncpus, &old, n, false,
                                                   __ATOMIC_RELEASE, __ATOMIC_RELAXED))
        ;
    return true;
}

bool stats_name_device(struct stats_state *st, unsigned device, const char *name)
{
    if (device >= TV_STATS_DEVICES || !name)
        return false;
    char *dst = st->pub->hdr.device_name[device];
    size_t n = strnlen(name, TV_STATS_NAME_LEN - 1);
    memcpy(dst, name, n);
    memset(dst + n, 0, TV_STATS_NAME_LEN - n);
    return true;
}

unsigned stats_bucket(uint64_t ticks)
{
    if (ticks < 2)
        return 0;
    unsigned b = 63u - (unsigned)__builtin_clzll(ticks);
    return b < TV_STATS_BUCKETS ? b : TV_STATS_BUCKETS - 1;
}

__attribute__((unused)) /* not referenced when built with TRAPVISOR_ACCOUNTING=0 */
static inline void
add_sample(struct tv_exit_stat *s, uint64_t ticks)
{
    s->count++;
    s->total += ticks;
    if (ticks < s->min)
        s->min = ticks;
    if (ticks > s->max)
        s->max = ticks;
    /* stats_bucket() without the call and the branch (it runs on every exit): ticks 0 and 1
     * both land in bucket 0 through `| 1`. */
    unsigned b = 63u - (unsigned)__builtin_clzll(ticks | 1);
    s->hist[b < TV_STATS_BUCKETS ? b : TV_STATS_BUCKETS - 1]++;
}

void stats_record_exit(struct stats_state *st, unsigned cpu, unsigned reason, uint64_t ticks,
                       int device)
{
#if TRAPVISOR_ACCOUNTING
    if (cpu >= TV_STATS_MAX_CPUS)
        return;
    struct tv_stats_cpu *c = &st->pub->cpu[cpu];
    lock_cpu(st, cpu);
    add_sample(&c->reason[reason < TV_STATS_REASONS ? reason : TV_STATS_REASONS - 1], ticks);
    if (device >= 0 && (unsigned)device < TV_STATS_DEVICES)
        add_sample(&c->mmio_device[device], ticks);
    c->last_reason = reason;
    c->last_ticks = ticks;
    /* seq last: a reader that sees it move knows last_* belong to the new exit. */
    __atomic_store_n(&c->seq, c->seq + 1, __ATOMIC_RELEASE);
    unlock_cpu(st, cpu);
#else
    (void)st, (void)cpu, (void)reason, (void)ticks, (void)device;
#endif
}

bool stats_count_mmio_path(struct tv_stats_cpu *c, volatile int *lock, enum tv_mmio_path path)
{
    /* Compared as unsigned: an out-of-range value an enum cannot name is refused too. */
    const unsigned p = (unsigned)path;
    if (p == TV_MMIO_PATH_LIGHT || p >= TV_MMIO_PATH_COUNT || !c || !lock)
        return false;
#if TRAPVISOR_ACCOUNTING
    lock_word(lock);
    c->mmio_path[p]++;
    /* This exit's record has not run yet (it runs in the stub after the handler): the exit will
     * get seq + 1. Only this CPU writes its seq, so it is stable here. */
    c->mmio_path_seq = c->seq;
    c->mmio_path_last = p;
    unlock_word(lock);
#endif
    return true;
}

void stats_reset(struct stats_state *st)
{
    for (unsigned cpu = 0; cpu < TV_STATS_MAX_CPUS; cpu++) {
        lock_cpu(st, cpu);
        clear_cpu_counters(&st->pub->cpu[cpu]);
        unlock_cpu(st, cpu);
    }
    __atomic_add_fetch(&st->pub->hdr.generation, 1, __ATOMIC_RELEASE);
}

uint64_t stats_snapshot(struct stats_state *st, void *dst, uint64_t size)
{
    uint64_t need = sizeof(struct tv_stats);
    if (size < need)
        return need;
    struct tv_stats *out = dst;
    memcpy(&out->hdr, &st->pub->hdr, sizeof out->hdr);
    for (unsigned cpu = 0; cpu < TV_STATS_MAX_CPUS; cpu++) {
        lock_cpu(st, cpu);
        memcpy(&out->cpu[cpu], &st->pub->cpu[cpu], sizeof out->cpu[cpu]);
        unlock_cpu(st, cpu);
    }
    return need;
}

/* Where exits go when there are no statistics pages, or for a CPU without a block. */
static struct tv_stats_cpu stats_sink_cpu;
static volatile int stats_sink_lock;

void stats_record_ctx_init(struct stats_state *st, unsigned cpu, struct stats_record_ctx *ctx)
{
    ctx->reason = 0;
    ctx->device = -1;
    if (st && cpu < TV_STATS_MAX_CPUS) {
        ctx->cpu = &st->pub->cpu[cpu];
        ctx->lock = &st->lock[cpu];
    } else {
        ctx->cpu = &stats_sink_cpu;
        ctx->lock = &stats_sink_lock;
    }
}

uint64_t stats_measure_overhead(struct stats_state *st, unsigned cpu, unsigned rounds,
                                void (*record)(struct stats_record_ctx *, uint64_t))
{
    if (cpu >= TV_STATS_MAX_CPUS || rounds == 0 || !record)
        return 0;
    struct stats_record_ctx ctx;
    stats_record_ctx_init(st, cpu, &ctx);
    uint64_t empty = UINT64_MAX, full = UINT64_MAX;
    for (unsigned i = 0; i < rounds; i++) {
        uint64_t t0 = tsc_read_ordered();
        uint64_t t1 = tsc_read_ordered();
        if (t1 - t0 < empty)
            empty = t1 - t0;
        t0 = tsc_read_ordered();
        record(&ctx, i);
        t1 = tsc_read_ordered();
        if (t1 - t0 < full)
            full = t1 - t0;
    }
    uint64_t overhead = full > empty ? full - empty : 0;
    lock_cpu(st, cpu);
    clear_cpu_counters(&st->pub->cpu[cpu]);
    st->pub->cpu[cpu].seq = 0;
    st->pub->cpu[cpu].mmio_path_seq = UINT64_MAX; /* seq starts again: no stale tag matches */
    unlock_cpu(st, cpu);
    st->pub->hdr.overhead_ticks = overhead;
    return overhead;
}
