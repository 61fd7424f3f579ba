/* The hypervisor's own environment in the reserved region: host page tables, IDT, I/O and
 * MSR bitmaps, statistics, and the EPT identity map (through ept/). */
#include "boot/platform.h"
#include "lib/log.h"
#include "lib/spinlock.h"
#include "lib/string.h"
#include "vmx/arch.h"

static struct stats_state stats_state;
struct spinlock boot_ept_lock = SPINLOCK_INIT;

/* MSR bitmap layout (SDM Vol. 3C, 25.6.9): read-low 0..1023, read-high 1024.., write-low
 * 2048.., write-high 3072.. (low: MSRs 0-1FFFH; high: C0000000H-C0001FFFH). */
static void msr_intercept(uint8_t *bm, uint32_t msr)
{
    if (msr <= 0x1FFF) {
        bm[msr / 8] |= (uint8_t)(1u << (msr % 8));
        bm[2048 + msr / 8] |= (uint8_t)(1u << (msr % 8));
    }
}

/* I/O bitmaps A (0000-7FFF) and B (8000-FFFF) (SDM Vol. 3C, 25.6.4). */
static void io_intercept(uint16_t port)
{
    uint8_t *bm = port < 0x8000 ? vmx.io_bitmap_a : vmx.io_bitmap_b;
    unsigned p = port & 0x7FFF;
    bm[p / 8] |= (uint8_t)(1u << (p % 8));
}

bool boot_build_host(void)
{
    uint64_t limit = boot.phys_top > (4ull << 30) ? boot.phys_top : (4ull << 30);
    limit = (limit + (1ull << 30) - 1) & ~((1ull << 30) - 1);
    boot.ept_limit = limit;
    unsigned n = vmx_host_paging_pages(limit);
    uint64_t *pt = boot_alloc(n * 4096ull, 4096);
    vmx.msr_bitmap = boot_alloc(4096, 4096);
    vmx.io_bitmap_a = boot_alloc(4096, 4096);
    vmx.io_bitmap_b = boot_alloc(4096, 4096);
    struct tv_stats *pub = boot_alloc(TV_STATS_PAGES * 4096ull, 4096);
    if (!pt || !vmx.msr_bitmap || !vmx.io_bitmap_a || !vmx.io_bitmap_b || !pub)
        return false;
    vmx.host_cr3 = vmx_host_paging_build(pt, limit);
    vmx_host_idt_init();

    msr_intercept(vmx.msr_bitmap, MSR_IA32_FEATURE_CONTROL);
    for (uint32_t m = MSR_IA32_VMX_BASIC; m <= MSR_IA32_VMX_VMFUNC; m++)
        msr_intercept(vmx.msr_bitmap, m);
    for (uint16_t p = 0xCF8; p <= 0xCFF; p++)
        io_intercept(p);

    stats_init(&stats_state, pub);
    vmx.stats = &stats_state;
    vmx.hidden_base = boot.region.base;
    vmx.hidden_size = boot.region.size;
    vmx.ept_vpid_cap = rdmsr(MSR_IA32_VMX_EPT_VPID);
    return true;
}

/* --- EPT ----------------------------------------------------------------------------- */

static void *pool_alloc(void *ctx, uint64_t *phys)
{
    (void)ctx;
    void *p = boot_alloc(4096, 4096);
    *phys = (uint64_t)(uintptr_t)p;
    return p;
}

/* Freed tables go on a free list inside the region (the bump allocator never shrinks). */
static void *free_list;

static void *pool_alloc_reuse(void *ctx, uint64_t *phys)
{
    if (free_list) {
        void *p = free_list;
        free_list = *(void **)p;
        *phys = (uint64_t)(uintptr_t)p;
        return p;
    }
    return pool_alloc(ctx, phys);
}

static void pool_free(void *ctx, void *virt, uint64_t phys)
{
    (void)ctx;
    (void)phys;
    *(void **)virt = free_list;
    free_list = virt;
}

static void *pool_p2v(void *ctx, uint64_t phys)
{
    (void)ctx;
    return (void *)(uintptr_t)phys; /* the host map is an identity map */
}

static struct mtrr_state mtrr;

static void read_mtrrs(unsigned maxphyaddr)
{
    memset(&mtrr, 0, sizeof(mtrr));
    mtrr.maxphyaddr = maxphyaddr;
    uint32_t r[4];
    cpuid_count(1, 0, r);
    if (!(r[3] & (1u << 12))) /* CPUID.1:EDX.MTRR */
        return;
    mtrr.cap = rdmsr(MSR_IA32_MTRRCAP);
    mtrr.def_type = rdmsr(MSR_IA32_MTRR_DEF_TYPE);
    if (mtrr.cap & MTRRCAP_FIX)
        for (unsigned i = 0; i < MTRR_FIXED_MSRS; i++)
            mtrr.fixed[i] = rdmsr(mtrr_state_fixed_msr(i));
    unsigned vcnt = mtrr.cap & MTRRCAP_VCNT_MASK;
    if (vcnt > MTRR_MAX_VAR)
        vcnt = MTRR_MAX_VAR;
    for (unsigned i = 0; i < vcnt; i++) {
        mtrr.var[i].base = rdmsr(MSR_IA32_MTRR_PHYSBASE(i));
        mtrr.var[i].mask = rdmsr(MSR_IA32_MTRR_PHYSMASK(i));
    }
}

int boot_build_ept(void)
{
    uint32_t r[4];
    cpuid_count(0x80000000u, 0, r);
    unsigned maxphy = 36;
    if (r[0] >= 0x80000008u) {
        cpuid_count(0x80000008u, 0, r);
        maxphy = r[0] & 0xFF;
    }
    read_mtrrs(maxphy);
    struct ept_page_alloc alloc = {
        .ctx = 0, .alloc_page = pool_alloc_reuse, .free_page = pool_free, .phys_to_virt = pool_p2v};
    struct ept_config cfg = {.ept_vpid_cap = vmx.ept_vpid_cap,
                             .maxphyaddr = maxphy,
                             .want_ad = false,
                             .no_1g = false,
                             .mtrr = &mtrr};
    int rc = ept_init(&boot.ept, &alloc, &cfg);
    if (rc) {
        log_printf("ept: init failed: %s\n", ept_status_name(rc));
        return rc;
    }
    /* One identity range over everything below the limit: RAM and MMIO alike keep the
     * memory type the MTRRs give them; the region and the virtual BARs are cut out later. */
    uint64_t limit = boot.ept_limit;
    if (limit > (1ull << maxphy))
        limit = 1ull << maxphy;
    struct ept_range all = {
        .base = 0, .size = limit, .perm = EPT_PERM_RWX, .mem_type = EPT_MT_FROM_MTRR};
    rc = ept_build(&boot.ept, &all, 1);
    if (rc) {
        log_printf("ept: build failed: %s\n", ept_status_name(rc));
        return rc;
    }
    vmx.eptp = boot.ept.eptp;
    boot.ept.changed = false;
    boot_info("ept: identity map of %llu MiB, %u tables\n", (unsigned long long)(limit >> 20),
              boot.ept.tables);
    return 0;
}

/* After a map change: in VMX root, vmx_ept_changed (this CPU flushes now and waits, before
 * it resumes its guest, until every other CPU has flushed: each does at its next exit, and
 * the VMX-preemption timer forces one within 2^22 TSC ticks). Before launch only the
 * generation moves: no CPU has cached anything yet. A guest reads CR4 through the shadow
 * (VMXE clear), so CR4.VMXE is set exactly in VMX root. */
void boot_ept_changed(void)
{
    if (read_cr4() & X86_CR4_VMXE)
        vmx_ept_changed();
    else
        __atomic_add_fetch(&vmx.ept_generation, 1, __ATOMIC_SEQ_CST);
    boot.ept.changed = false;
}

/* Checks the map around both edges of the hidden region (the pages a split touched):
 * inside not present, outside present and identity. */
static void verify_hidden(void)
{
    uint64_t lo = boot.region.base, hi = boot.region.base + boot.region.size;
    uint64_t spans[2][2] = {{(lo & ~0x1FFFFFull) - 0x200000, lo + 0x200000},
                            {hi - 0x200000, (hi & ~0x1FFFFFull) + 0x400000}};
    unsigned bad = 0;
    for (unsigned s = 0; s < 2; s++) {
        for (uint64_t a = spans[s][0]; a < spans[s][1]; a += 4096) {
            struct ept_leaf leaf;
            bool inside = a >= lo && a < hi;
            if (!ept_walk(&boot.ept, a, &leaf))
                continue;
            bool ok =
                inside ? !leaf.present : leaf.present && leaf.hpa == a && leaf.perm == EPT_PERM_RWX;
            if (!ok && bad++ < 4)
                log_printf("ept: after hiding: 0x%llx maps to 0x%llx perm %u present %d\n",
                           (unsigned long long)a, (unsigned long long)leaf.hpa, leaf.perm,
                           leaf.present);
        }
    }
    if (bad)
        log_printf("ept: %u page(s) wrong around the hidden region\n", bad);
}

void boot_hide_region(void)
{
    static bool sealed;
    spin_lock(&boot_ept_lock);
    if (!sealed) {
        int rc = ept_hide_range(&boot.ept, boot.region.base, boot.region.size);
        sealed = true;
        boot_ept_changed();
        if (rc)
            log_printf("ept: cannot hide the hypervisor region: %s\n", ept_status_name(rc));
        else
            verify_hidden();
    }
    spin_unlock(&boot_ept_lock);
}
