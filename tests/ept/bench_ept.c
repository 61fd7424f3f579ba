/* Host figures for ept/ (make bench-ept): the GPA -> owner lookup that runs on every
 * EPT-violation exit, building the identity map, and a BAR move (restore + trap + merge).
 * Built without sanitizers; times are wall-clock nanoseconds on the build machine. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "ept/ept.h"
#include "tests/ept/test_pool.h"
#include "tests/support/rng.h"

#define GiB (1ull << 30)
#define MiB (1ull << 20)

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* "quick": few iterations, for counting instructions under valgrind --tool=callgrind. */
static int quick;

static uint64_t rng_state = 88172645463325252ull;
static uint64_t rng(void)
{
    return xorshift64(&rng_state);
}

static void bench_lookup(unsigned nregions)
{
    static struct ept_region_table t;
    static int owner;
    ept_region_table_init(&t);
    for (unsigned i = 0; i < nregions; i++) {
        struct ept_region r = {0xC0000000ull + i * 0x10000ull, 0x4000, EPT_REGION_TRAPPED, i,
                               &owner};
        ept_region_insert(&t, &r);
    }
    unsigned N = quick ? 1u << 14 : 1u << 22;
    uint64_t *gpas = malloc(N * sizeof(*gpas));
    for (unsigned i = 0; i < N; i++)
        gpas[i] = 0xC0000000ull + rng() % (nregions * 0x10000ull);
    unsigned hits = 0;
    struct ept_region out;
    double t0 = now_ns();
    for (unsigned i = 0; i < N; i++)
        hits += ept_region_lookup(&t, gpas[i], &out);
    double t1 = now_ns();
    printf("ept: region lookup, %2u regions: %.1f ns/lookup (%u%% hits)\n", nregions, (t1 - t0) / N,
           (unsigned)(100.0 * hits / N));
    free(gpas);
}

static struct mtrr_state mtrr_typical(uint64_t ram)
{
    struct mtrr_state st = {0};
    st.cap = 8 | MTRRCAP_FIX;
    st.def_type = MTRR_DEF_E | MTRR_DEF_FE | MEM_TYPE_UC;
    st.maxphyaddr = 39;
    for (unsigned i = 0; i < MTRR_FIXED_MSRS; i++)
        st.fixed[i] = 0x0606060606060606ull;
    st.fixed[2] = 0;
    /* WB over [0, ram) as a power-of-two range, UC hole 3..4 GiB carved out. */
    uint64_t sz = 1;
    while (sz < ram)
        sz <<= 1;
    st.var[0].base = MEM_TYPE_WB;
    st.var[0].mask = (((1ull << 39) - 1) & ~(sz - 1)) | MTRR_PHYSMASK_VALID;
    st.var[1].base = 3 * GiB | MEM_TYPE_UC;
    st.var[1].mask = (((1ull << 39) - 1) & ~(GiB - 1)) | MTRR_PHYSMASK_VALID;
    return st;
}

static void bench_build(const char *name, uint64_t cap, uint64_t limit)
{
    static struct ept e;
    struct test_pool pool;
    test_pool_init(&pool, 4096);
    struct ept_page_alloc a = test_pool_alloc(&pool);
    struct mtrr_state m = mtrr_typical(limit);
    struct ept_config cfg = {cap, 39, false, false, &m};
    if (ept_init(&e, &a, &cfg) != EPT_OK)
        abort();
    struct ept_range r = {0, limit, EPT_PERM_RWX, EPT_MT_FROM_MTRR};
    double t0 = now_ns();
    int st = ept_build(&e, &r, 1);
    double t1 = now_ns();
    if (st != EPT_OK)
        abort();
    uint32_t built = e.tables;
    /* Hide a 64 MiB reserved region with an unaligned end, trap two BARs. */
    ept_hide_range(&e, 0x7C000000, 64 * MiB - 0x3000);
    ept_trap_range(&e, 0xC1000000, 0x1000, &e, 0);
    ept_trap_range(&e, 0xC1001000, 0x100000, &e, 1);
    uint32_t live = e.tables;
    /* A BAR moving back and forth: restore the old pages (merge), trap the new ones. */
    unsigned MOVES = quick ? 200 : 20000;
    uint64_t a0 = 0xC1000000, a1 = 0xD0345000;
    double t2 = now_ns();
    for (unsigned i = 0; i < MOVES; i++) {
        if (ept_move_trap(&e, i & 1 ? a1 : a0, i & 1 ? a0 : a1) != EPT_OK)
            abort();
    }
    double t3 = now_ns();
    printf("ept: build %-28s %6.1f us, %3u tables (%u with hidden region + 2 BARs); BAR move "
           "%.2f us\n",
           name, (t1 - t0) / 1e3, built, live, (t3 - t2) / MOVES / 1e3);
    ept_destroy(&e);
    test_pool_fini(&pool);
}

int main(int argc, char **argv)
{
    quick = argc > 1 && argv[1][0] == 'q';
    bench_lookup(2);
    bench_lookup(8);
    bench_lookup(64);
    uint64_t base = EPT_CAP_PWL4 | EPT_CAP_WB | EPT_CAP_2M | EPT_CAP_INVEPT;
    bench_build("4 GiB, 1 GiB pages", base | EPT_CAP_1G, 4 * GiB);
    bench_build("4 GiB, 2 MiB pages", base, 4 * GiB);
    bench_build("64 GiB, 1 GiB pages", base | EPT_CAP_1G, 64 * GiB);
    bench_build("64 GiB, 2 MiB pages", base, 64 * GiB);
    return 0;
}
