/* Virtual devices on the real machine: the real bus scan, placement (pci/place.h), the
 * virtual bus with its backend over the real 0xCF8/0xCFC, the platform services devices use
 * (DMA into guest RAM, MSI through the local APIC), and BAR-move re-trapping in EPT. */
#include "boot/platform.h"
#include "devices/edu.h"
#include "devices/statsdev.h"
#include "lib/io.h"
#include "tools/edutest/acpi_mcfg.h"
#include "lib/fmt.h"
#include "lib/log.h"
#include "lib/spinlock.h"
#include "lib/string.h"
#include "pci/pci.h"
#include "vmx/arch.h"
#include "vmx/exit.h"

extern struct spinlock boot_ept_lock;
void boot_ept_changed(void);
bool boot_mmio_exit(struct vcpu *v, uint64_t gpa, uint64_t qual);
bool boot_mmio_exit_light(struct vcpu *v, uint64_t gpa, uint64_t qual);
void boot_mmio_paging_mode_changed(struct vcpu *v);
void boot_mmio_init(void);

struct pci_bus boot_bus;
static struct pci_function edu_fn, stats_fn;
static struct edu edu_dev;
static struct statsdev stats_dev;

/* The ECAM window of segment 0 (from the MCFG), when the firmware publishes one. */
struct ecam_window boot_ecam;
bool boot_have_ecam;
/* The owner tag of the trapped ECAM pages in the EPT region table. */
char boot_ecam_owner;

static volatile uint8_t *real_ecam(uint16_t bdf, uint16_t offset)
{
    unsigned bus = PCI_BDF_BUS(bdf);
    if (!boot_have_ecam || bus < boot_ecam.start_bus || bus > boot_ecam.end_bus)
        return 0;
    return (volatile uint8_t *)(uintptr_t)(boot_ecam.base +
                                           ((uint64_t)(bus - boot_ecam.start_bus) << 20) +
                                           ((uint64_t)(bdf & 0xFF) << 12) + offset);
}

/* --- the real bus (PCI Local Bus 3.0, 3.2.2.3.2: configuration mechanism #1; ECAM, PCIe
 * Base 7.2.2, for extended registers when there is an MCFG) -------------------------------- */

static uint32_t real_port_in(void *ctx, uint16_t port, unsigned size)
{
    (void)ctx;
    return size == 1 ? inb(port) : size == 2 ? inw(port) : inl(port);
}

static void real_port_out(void *ctx, uint16_t port, unsigned size, uint32_t value)
{
    (void)ctx;
    if (size == 1)
        outb(port, (uint8_t)value);
    else if (size == 2)
        outw(port, (uint16_t)value);
    else
        outl(port, value);
}

static uint32_t real_cfg_read(void *ctx, uint16_t bdf, uint16_t offset, unsigned size)
{
    (void)ctx;
    if (offset >= 256) {
        volatile uint8_t *p = real_ecam(bdf, offset);
        if (!p)
            return 0xFFFFFFFFu;
        return size == 1 ? *p : size == 2 ? *(volatile uint16_t *)p : *(volatile uint32_t *)p;
    }
    outl(0xCF8, 0x80000000u | ((uint32_t)bdf << 8) | (offset & 0xFC));
    return real_port_in(ctx, 0xCFC + (offset & 3), size);
}

static void real_cfg_write(void *ctx, uint16_t bdf, uint16_t offset, unsigned size, uint32_t value)
{
    (void)ctx;
    if (offset >= 256) {
        volatile uint8_t *p = real_ecam(bdf, offset);
        if (!p)
            return;
        if (size == 1)
            *p = (uint8_t)value;
        else if (size == 2)
            *(volatile uint16_t *)p = (uint16_t)value;
        else
            *(volatile uint32_t *)p = value;
        return;
    }
    outl(0xCF8, 0x80000000u | ((uint32_t)bdf << 8) | (offset & 0xFC));
    real_port_out(ctx, 0xCFC + (offset & 3), size, value);
}

static const struct pci_backend real_backend = {
    .cfg_read = real_cfg_read,
    .cfg_write = real_cfg_write,
    .port_in = real_port_in,
    .port_out = real_port_out,
};

/* --- platform services for device models ---------------------------------------------- */

static bool dma_read(void *ctx, uint64_t gpa, void *buf, size_t len)
{
    (void)ctx;
    if (!boot_is_guest_ram(gpa, len))
        return false;
    memcpy(buf, (const void *)(uintptr_t)gpa, len);
    return true;
}

static bool dma_write(void *ctx, uint64_t gpa, const void *buf, size_t len)
{
    (void)ctx;
    if (!boot_is_guest_ram(gpa, len))
        return false;
    memcpy((void *)(uintptr_t)gpa, buf, len);
    return true;
}

/* An MSI is a write of `data` to `address` in the 0xFEE00000 window (SDM Vol. 3A, 11.11.1
 * "Message Address Register Format", 11.11.2 "Message Data Register Format"): destination
 * APIC ID in address bits 19:12, vector in data bits 7:0, delivery mode in bits 10:8,
 * trigger mode bit 15. Trapvisor delivers it as the local APIC would send the equivalent
 * IPI (SDM Vol. 3A, 11.6.1 "Interrupt Command Register"), through the x2APIC ICR MSR when
 * the guest turned x2APIC on, else through the xAPIC ICR in MMIO. */
static struct spinlock icr_lock = SPINLOCK_INIT;

static void msi_send(void *ctx, uint64_t address, uint32_t data)
{
    (void)ctx;
    if ((address & 0xFFF00000ull) != 0xFEE00000ull) {
        log_once("pci: MSI to 0x%llx is not an interrupt address; dropped\n",
                 (unsigned long long)address);
        return;
    }
    uint32_t dest = (uint32_t)(address >> 12) & 0xFF;
    uint32_t vector = data & 0xFF, mode = (data >> 8) & 7;
    bool logical = address & (1u << 2); /* destination mode (RH is bit 3) */
    if (vector < 16 && mode == 0) {
        log_once("pci: MSI with vector %u dropped\n", vector);
        return;
    }
    uint32_t icr_lo = vector | (mode << 8) | (logical ? (1u << 11) : 0) | (1u << 14) /* assert */;
    uint64_t apic_base = rdmsr(MSR_IA32_APIC_BASE);
    spin_lock(&icr_lock);
    if (apic_base & (1ull << 10)) { /* x2APIC: ICR is MSR 0x830, destination in bits 63:32 */
        wrmsr(MSR_IA32_X2APIC_ICR, ((uint64_t)dest << 32) | icr_lo);
    } else {
        volatile uint32_t *apic = (volatile uint32_t *)(uintptr_t)(apic_base & ~0xFFFull);
        for (unsigned spin = 0; spin < 100000 && (apic[0x300 / 4] & (1u << 12)); spin++)
            cpu_pause(); /* delivery status: wait for the previous IPI */
        apic[0x310 / 4] = dest << 24;
        apic[0x300 / 4] = icr_lo;
    }
    spin_unlock(&icr_lock);
}

static void intx_set(void *ctx, int level)
{
    (void)ctx;
    if (level)
        log_once("pci: INTx is not routed by Trapvisor (use MSI)\n");
}

static const struct platform_ops platform = {
    .dma_read = dma_read,
    .dma_write = dma_write,
    .msi_send = msi_send,
    .intx_set = intx_set,
    .now_ns = 0,
};

/* --- BAR windows in EPT ----------------------------------------------------------------- */

static uint64_t page_round(uint64_t size)
{
    return (size + 4095) & ~4095ull;
}

/* pci/ calls this with cfg_lock held whenever a BAR's decode changes. */
static void map_changed(void *ctx, struct pci_function *fn, int bar,
                        const struct pci_bar_window *old, const struct pci_bar_window *now)
{
    (void)ctx;
    spin_lock(&boot_ept_lock);
    int rc = 0;
    if (old->mapped && !old->io) {
        rc = ept_restore_range(&boot.ept, old->base & ~4095ull,
                               page_round(old->size + (old->base & 4095)));
        if (rc)
            log_printf("ept: restore of 0x%llx failed: %s\n", (unsigned long long)old->base,
                       ept_status_name(rc));
    }
    if (now->mapped && !now->io) {
        uint64_t base = now->base & ~4095ull, size = page_round(now->size + (now->base & 4095));
        if (now->backed && fn == &stats_fn) {
            uint64_t backed = TV_STATS_PAGES * 4096ull;
            if (backed > size)
                backed = size;
            rc = ept_map_readonly(&boot.ept, base, (uint64_t)(uintptr_t)stats_dev.pages, backed, fn,
                                  (uint32_t)bar);
            if (!rc && size > backed)
                rc = ept_trap_range(&boot.ept, base + backed, size - backed, fn,
                                    (uint32_t)bar | 0x100);
        } else {
            rc = ept_trap_range(&boot.ept, base, size, fn, (uint32_t)bar);
        }
        if (rc)
            log_printf("ept: trap of 0x%llx failed: %s\n", (unsigned long long)now->base,
                       ept_status_name(rc));
    }
    boot_ept_changed();
    spin_unlock(&boot_ept_lock);
}

/* --- placement ------------------------------------------------------------------------ */

#define MAX_BUSY 96
static struct pci_range busy[MAX_BUSY];
static unsigned n_busy;

static void add_busy(uint64_t base, uint64_t size)
{
    if (size && n_busy < MAX_BUSY)
        busy[n_busy++] = (struct pci_range){base, size};
}

/* Reads every BAR of a real function by sizing it with the decode turned off (PCI 3.0,
 * 6.2.5.1), as firmware does; records memory BARs as busy. */
static void scan_bars(uint16_t bdf, unsigned nbars)
{
    uint32_t cmd = real_cfg_read(0, bdf, 4, 2);
    real_cfg_write(0, bdf, 4, 2, cmd & ~3u);
    for (unsigned i = 0; i < nbars; i++) {
        uint16_t off = (uint16_t)(0x10 + 4 * i);
        uint32_t lo = real_cfg_read(0, bdf, off, 4);
        if (lo & 1)
            continue; /* I/O BAR */
        bool is64 = ((lo >> 1) & 3) == 2;
        real_cfg_write(0, bdf, off, 4, 0xFFFFFFFFu);
        uint32_t szlo = real_cfg_read(0, bdf, off, 4);
        real_cfg_write(0, bdf, off, 4, lo);
        uint64_t base = lo & ~0xFull, mask = szlo & ~0xFull;
        uint64_t himask = 0xFFFFFFFFull;
        if (is64 && i + 1 < nbars) {
            uint32_t hi = real_cfg_read(0, bdf, off + 4, 4);
            real_cfg_write(0, bdf, off + 4, 4, 0xFFFFFFFFu);
            himask = real_cfg_read(0, bdf, off + 4, 4);
            real_cfg_write(0, bdf, off + 4, 4, hi);
            base |= (uint64_t)hi << 32;
            i++;
        } else {
            himask = 0xFFFFFFFFull;
        }
        uint64_t full = (himask << 32) | mask;
        if (!mask)
            continue;
        uint64_t size = ~full + 1;
        if (base)
            add_busy(base, size);
    }
    real_cfg_write(0, bdf, 4, 2, cmd);
}

static uint32_t scan_real_bus(void)
{
    uint32_t taken = 0;
    for (unsigned bus = 0; bus < 256; bus++) {
        for (unsigned dev = 0; dev < 32; dev++) {
            for (unsigned fn = 0; fn < 8; fn++) {
                uint16_t bdf = PCI_BDF(bus, dev, fn);
                uint32_t id = real_cfg_read(0, bdf, 0, 4);
                if ((id & 0xFFFF) == 0xFFFF) {
                    if (fn == 0)
                        break;
                    continue;
                }
                if (bus == 0)
                    taken |= 1u << dev;
                uint8_t hdr = (uint8_t)real_cfg_read(0, bdf, 0x0E, 1);
                scan_bars(bdf, (hdr & 0x7F) == 0 ? 6 : (hdr & 0x7F) == 1 ? 2 : 0);
                if ((hdr & 0x7F) == 1) { /* bridge: its memory windows are in use too */
                    uint32_t mem = real_cfg_read(0, bdf, 0x20, 4);
                    uint64_t mb = (mem & 0xFFF0) << 16, ml = ((mem >> 16) & 0xFFF0) << 16;
                    if (ml >= mb && mb)
                        add_busy(mb, ml - mb + 0x100000);
                }
                if (fn == 0 && !(hdr & 0x80))
                    break;
            }
        }
    }
    return taken;
}

static void reset_stats(void *ctx)
{
    stats_reset(ctx);
}

static struct pci_place_fn place_fns[2];
static unsigned n_place;

static const void *acpi_map(void *ctx, uint64_t pa, size_t len)
{
    (void)ctx;
    if (pa + len < pa || pa + len > boot.ept_limit)
        return 0;
    return (const void *)(uintptr_t)pa; /* identity */
}

/* Finds the MCFG through the ACPI tables in the UEFI configuration table. */
static void find_ecam(void)
{
    static EFI_GUID acpi20 = {
        0x8868e871, 0xe4f1, 0x11d3, {0xbc, 0x22, 0x00, 0x80, 0xc7, 0x3c, 0x88, 0x81}};
    static EFI_GUID acpi10 = {
        0xeb9d2d30, 0x2d88, 0x11d3, {0x9a, 0x16, 0x00, 0x90, 0x27, 0x3f, 0xc1, 0x4d}};
    uint64_t rsdp = 0;
    for (UINTN i = 0; i < boot.st->NumberOfTableEntries; i++) {
        EFI_CONFIGURATION_TABLE *t = &boot.st->ConfigurationTable[i];
        if (!memcmp(&t->VendorGuid, &acpi20, sizeof(EFI_GUID)))
            rsdp = (uint64_t)(uintptr_t)t->VendorTable;
        else if (!rsdp && !memcmp(&t->VendorGuid, &acpi10, sizeof(EFI_GUID)))
            rsdp = (uint64_t)(uintptr_t)t->VendorTable;
    }
    struct ecam_window w[4];
    size_t n = rsdp ? acpi_find_ecam(acpi_map, 0, rsdp, w, 4) : 0;
    for (size_t i = 0; i < n; i++) {
        if (w[i].segment == 0 && w[i].start_bus == 0) {
            boot_ecam = w[i];
            boot_have_ecam = true;
            boot_bus.ecam_start_bus = 0;
            boot_info("pci: ECAM at 0x%llx, buses %u-%u\n", (unsigned long long)w[i].base,
                      w[i].start_bus, w[i].end_bus);
            return;
        }
    }
}

/* Traps bus 0's part of the ECAM window (where the virtual functions live; accesses to the
 * real functions there are forwarded by pci/ through the backend). */
static bool trap_ecam(char *why, unsigned whylen)
{
    if (!boot_have_ecam)
        return true;
    int rc = ept_trap_range(&boot.ept, boot_ecam.base, 1u << 20, &boot_ecam_owner, 0);
    if (rc) {
        fmt_snprintf(why, whylen, "cannot trap the ECAM window: %s", ept_status_name(rc));
        return false;
    }
    add_busy(boot_ecam.base, ((uint64_t)boot_ecam.end_bus - boot_ecam.start_bus + 1) << 20);
    return true;
}

bool boot_place_devices(char *why, unsigned whylen)
{
    pci_bus_init(&boot_bus, &real_backend, 0, map_changed, 0);
    find_ecam();
    if (boot.opt_no_edu && boot.opt_no_stats)
        return true;
    n_busy = 0;
    if (!trap_ecam(why, whylen))
        return false;
    uint32_t taken = scan_real_bus();
    add_busy(0xFEC00000ull, 0x01400000ull); /* IOAPIC, LAPIC, firmware flash up to 4 GiB */
    uint64_t ram_top_4g = 0;
    for (unsigned i = 0; i < boot.n_ram; i++) {
        uint64_t end = boot.ram[i].base + boot.ram[i].size;
        if (boot.ram[i].base < (4ull << 30) && end > ram_top_4g)
            ram_top_4g = end < (4ull << 30) ? end : (4ull << 30);
    }
    /* The host bridge's 32-bit window: from the top of low RAM (rounded up to 256 MiB, and
     * not below 2 GiB, where chipsets start the PCI hole) to the IOAPIC. */
    uint64_t wbase = (ram_top_4g + 0x0FFFFFFFull) & ~0x0FFFFFFFull;
    if (wbase < 0x80000000ull)
        wbase = 0x80000000ull;
    struct pci_range window = {wbase, 0xFEC00000ull - wbase};
    n_place = 0;
    if (!boot.opt_no_edu)
        place_fns[n_place++].ops = &edu_ops;
    if (!boot.opt_no_stats)
        place_fns[n_place++].ops = &statsdev_ops;
    struct pci_place_input in = {.taken_slots = taken,
                                 .ram = boot.ram,
                                 .n_ram = boot.n_ram,
                                 .busy = busy,
                                 .n_busy = n_busy,
                                 .windows = &window,
                                 .n_windows = 1};
    enum pci_place_result pr = pci_place(&in, place_fns, n_place);
    if (pr != PCI_PLACE_OK) {
        fmt_snprintf(why, whylen, "cannot place the virtual devices: %s", pci_place_strerror(pr));
        return false;
    }
    for (unsigned i = 0; i < n_place; i++) {
        bool is_edu = place_fns[i].ops == &edu_ops;
        struct pci_function *fn = is_edu ? &edu_fn : &stats_fn;
        struct device *dev = is_edu ? &edu_dev.dev : &stats_dev.dev;
        if (is_edu)
            edu_init(&edu_dev, &platform, 0);
        else
            statsdev_init(&stats_dev, vmx.stats->pub, reset_stats, vmx.stats);
        if (!pci_bus_add(&boot_bus, fn, dev, PCI_BDF(0, place_fns[i].slot, 0))) {
            fmt_snprintf(why, whylen, "cannot add %s to the virtual bus", place_fns[i].ops->name);
            return false;
        }
    }
    return true;
}

/* Programs the placed BARs and turns memory decode on, as firmware would (PCI 3.0,
 * 6.2.2 COMMAND, 6.2.5.1). Runs in guest mode on the BSP, before the seal: pci/ calls
 * map_changed, which traps each window in EPT. */
void boot_program_devices(void)
{
    for (unsigned i = 0; i < n_place; i++) {
        struct pci_function *fn = place_fns[i].ops == &edu_ops ? &edu_fn : &stats_fn;
        for (unsigned s = 0; s < PCI_NUM_BARS; s++) {
            uint64_t base = place_fns[i].base[s];
            if (!base)
                continue;
            uint16_t off = (uint16_t)(0x10 + 4 * s);
            pci_cfg_write(&boot_bus, fn->bdf, off, 4, (uint32_t)base);
            if (place_fns[i].ops->bars[s].kind == PCI_BAR_MEM64)
                pci_cfg_write(&boot_bus, fn->bdf, off + 4, 4, (uint32_t)(base >> 32));
        }
        pci_cfg_write(&boot_bus, fn->bdf, 4, 2, 0x0006); /* memory decode, bus master */
    }
}

void boot_print_devices(void)
{
    for (unsigned i = 0; i < n_place; i++)
        for (unsigned s = 0; s < PCI_NUM_SLOTS; s++)
            if (place_fns[i].base[s])
                boot_info("pci: %s at 00:%02x.0 BAR%u 0x%llx (%llu KiB)\n", place_fns[i].ops->name,
                          place_fns[i].slot, s, (unsigned long long)place_fns[i].base[s],
                          (unsigned long long)(place_fns[i].ops->bars[s].size >> 10));
}

static uint32_t cfg_port(uint16_t port, unsigned size, bool write, uint32_t value)
{
    uint32_t v = 0xFFFFFFFFu;
    if (write)
        pci_cfg_port_write(&boot_bus, port, size, value);
    else
        pci_cfg_port_read(&boot_bus, port, size, &v);
    return v;
}

int boot_device_stats_slot(const void *owner)
{
    return owner == &edu_fn ? BOOT_STATS_SLOT_EDU : owner == &stats_fn ? BOOT_STATS_SLOT_STATS : -1;
}

void boot_install_hooks(void)
{
    vmx_hooks.io = cfg_port;
    boot_mmio_init();
    vmx_hooks.ept_violation = boot_mmio_exit;
    vmx_hooks.ept_violation_light = boot_mmio_exit_light;          /* replays MMIO sites only */
    vmx_hooks.paging_mode_changed = boot_mmio_paging_mode_changed; /* forgets them */
    vmx_hooks.ept_violation_loads_rsp =
        true; /* boot/mmio.c reads RSP only when an operand needs it */
    if (vmx.stats && !boot.opt_no_edu)
        stats_name_device(vmx.stats, BOOT_STATS_SLOT_EDU, "edu");
    if (vmx.stats && !boot.opt_no_stats)
        stats_name_device(vmx.stats, BOOT_STATS_SLOT_STATS, "stats");
}
