/* tv_main: the part of trapvisor.efi that runs from the copy in the reserved region
 * (DESIGN.md steps 2-6): log sinks, checks, the plan, EPT, per-CPU launch. */
#include <efi.h>
#include <efilib.h>

#include "boot/boot.h"
#include "boot/platform.h"
#include "lib/fmt.h"
#include "lib/log.h"
#include "lib/serial.h"
#include "lib/string.h"
#include "vmx/arch.h"
#include "vmx/exit.h"
#include "vmx/hypercall_abi.h"
#include "vmx/vmx.h"

struct boot_state boot;

/* --- the bump allocator over the region after the image ------------------------------ */

void *boot_alloc(uint64_t bytes, uint64_t align)
{
    uint64_t p = (boot.heap_next + align - 1) & ~(align - 1);
    if (p + bytes > boot.heap_end || p + bytes < p)
        return 0;
    boot.heap_next = p + bytes;
    memset((void *)(uintptr_t)p, 0, bytes);
    return (void *)(uintptr_t)p;
}

/* --- log sinks ----------------------------------------------------------------------- */

static struct serial_port com1;

static void serial_sink(void *ctx, char c)
{
    serial_putc(ctx, c);
}

/* The UEFI console, only while the application runs on the BSP in guest mode: never from the
 * hypervisor (an exit handler runs on the host page tables) nor from an AP. */
static CHAR16 con_buf[128];
static unsigned con_len;
static volatile bool con_enabled;

static void con_flush(void)
{
    con_buf[con_len] = 0;
    if (con_len)
        boot.st->ConOut->OutputString(boot.st->ConOut, con_buf);
    con_len = 0;
}

static void console_sink(void *ctx, char c)
{
    (void)ctx;
    if (!con_enabled || (vmx.host_cr3 && read_cr3() == vmx.host_cr3))
        return;
    if (c == '\n')
        con_buf[con_len++] = '\r';
    con_buf[con_len++] = (CHAR16)(unsigned char)c;
    if (c == '\n' || con_len >= 120)
        con_flush();
}

/* --- the memory map ------------------------------------------------------------------ */

static bool is_ram_type(UINT32 t)
{
    return t == EfiLoaderCode || t == EfiLoaderData || t == EfiBootServicesCode ||
           t == EfiBootServicesData || t == EfiRuntimeServicesCode || t == EfiRuntimeServicesData ||
           t == EfiConventionalMemory || t == EfiACPIReclaimMemory || t == EfiACPIMemoryNVS ||
           t == 14 /* EfiPersistentMemory */;
}

static uint8_t mmap_buf[48 * 1024];

static bool read_memory_map(void)
{
    UINTN size = sizeof(mmap_buf), key = 0, dsize = 0;
    UINT32 ver = 0;
    if (EFI_ERROR(boot.st->BootServices->GetMemoryMap(&size, (EFI_MEMORY_DESCRIPTOR *)mmap_buf,
                                                      &key, &dsize, &ver)) ||
        dsize < sizeof(EFI_MEMORY_DESCRIPTOR))
        return false;
    boot.n_ram = 0;
    boot.ram_bytes = 0;
    boot.phys_top = 0;
    for (UINTN off = 0; off + dsize <= size; off += dsize) {
        const EFI_MEMORY_DESCRIPTOR *d = (const void *)(mmap_buf + off);
        uint64_t base = d->PhysicalStart, len = d->NumberOfPages * 4096ull;
        if (base + len > boot.phys_top)
            boot.phys_top = base + len;
        if (!is_ram_type(d->Type))
            continue;
        boot.ram_bytes += len;
        if (boot.n_ram && boot.ram[boot.n_ram - 1].base + boot.ram[boot.n_ram - 1].size == base)
            boot.ram[boot.n_ram - 1].size += len;
        else if (boot.n_ram < BOOT_MAX_RAM)
            boot.ram[boot.n_ram++] = (struct pci_range){base, len};
    }
    return true;
}

bool boot_is_guest_ram(uint64_t gpa, uint64_t len)
{
    if (len == 0 || gpa + len < gpa)
        return false;
    if (gpa < boot.region.base + boot.region.size && boot.region.base < gpa + len)
        return false;
    for (unsigned i = 0; i < boot.n_ram; i++)
        if (gpa >= boot.ram[i].base && gpa + len <= boot.ram[i].base + boot.ram[i].size)
            return true;
    return false;
}

/* --- per-CPU launch ------------------------------------------------------------------ */

static struct vcpu *new_vcpu(unsigned index, uint32_t apic_id)
{
    struct vcpu *v = boot_alloc(sizeof(*v), 64);
    uint8_t *vmxon = boot_alloc(4096, 4096), *vmcs = boot_alloc(4096, 4096);
    uint8_t *stack = boot_alloc(VMX_STACK_SIZE, 4096);
    if (!v || !vmxon || !vmcs || !stack || !boot_mmio_cpu_init(v, index))
        return 0;
    v->index = index;
    v->apic_id = apic_id;
    v->vmxon = vmxon;
    v->vmcs = vmcs;
    v->stack = stack;
    v->last_device = -1;
    return v;
}

void boot_cpu_online(struct vcpu *v)
{
    vmx.cpus[v->index] = v;
    __atomic_add_fetch(&vmx.ncpus, 1, __ATOMIC_SEQ_CST);
    if (vmx.stats)
        stats_cpu_online(vmx.stats, v->index, v->apic_id);
}

static void seal_region(void)
{
    /* Runs in VMX root on the CPU that made the hypercall. */
    boot_hide_region();
}

/* Whether the firmware's console already goes to a serial port (a text-output handle whose
 * device path has a UART node, UEFI 2.x 10.3.4.12): then the console sink would print every
 * line twice on the serial log, and only the serial sink is used. */
static bool console_on_serial(void)
{
    static EFI_GUID text_out = EFI_SIMPLE_TEXT_OUTPUT_PROTOCOL_GUID;
    static EFI_GUID dp_guid = EFI_DEVICE_PATH_PROTOCOL_GUID;
    UINTN n = 0;
    EFI_HANDLE *h = 0;
    if (EFI_ERROR(
            uefi_call_wrapper(BS->LocateHandleBuffer, 5, ByProtocol, &text_out, NULL, &n, &h)))
        return false;
    bool found = false;
    for (UINTN i = 0; i < n && !found; i++) {
        EFI_DEVICE_PATH *dp = 0;
        if (EFI_ERROR(uefi_call_wrapper(BS->HandleProtocol, 3, h[i], &dp_guid, (void **)&dp)) ||
            !dp)
            continue;
        for (unsigned k = 0; k < 64; k++) {
            unsigned len = dp->Length[0] | (dp->Length[1] << 8);
            if (dp->Type == END_DEVICE_PATH_TYPE || len < 4)
                break;
            if (dp->Type == MESSAGING_DEVICE_PATH && dp->SubType == MSG_UART_DP)
                found = true;
            dp = (EFI_DEVICE_PATH *)((UINT8 *)dp + len);
        }
    }
    uefi_call_wrapper(BS->FreePool, 1, h);
    return found;
}

static EFI_STATUS refuse(const char *why)
{
    log_printf("trapvisor: not started: %s\n", why);
    con_enabled = false;
    return EFI_UNSUPPORTED;
}

EFI_STATUS tv_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *st, struct boot_region *r)
{
    InitializeLib(image, st);
    boot.image = image;
    boot.st = st;
    boot.region = *r;
    boot.heap_next = r->base + r->image_size;
    boot.heap_end = r->base + r->size;

    con_enabled = true;
    log_add_sink(console_sink, 0);
    bool opts_ok = boot_options_load(image, st);
    if (boot.opt_serial && serial_init_pio(&com1, boot.opt_serial, 115200)) {
        log_add_sink(serial_sink, &com1);
        if (console_on_serial())
            log_remove_sink(console_sink, 0);
    }
    boot_info("trapvisor: starting (hypercall ABI %u.%u)\n", TV_ABI_VERSION >> 16,
              TV_ABI_VERSION & 0xFFFF);
    if (!opts_ok)
        return refuse("bad settings (see the line above)");
    boot_print_options();
    if (boot.opt_help) {
        con_enabled = false;
        return EFI_ABORTED;
    }
    if (boot.opt_caps) {
        boot_print_caps();
        con_enabled = false;
        return EFI_ABORTED;
    }

    char why[128];
    if (!vmx_check_cpu(why, sizeof(why)))
        return refuse(why);
    if (!vmx_global_init(why, sizeof(why)))
        return refuse(why);
    if (!read_memory_map())
        return refuse("cannot read the UEFI memory map");
    if (!boot_mp_init())
        return refuse("cannot count the CPUs");

    if (!boot_build_host())
        return refuse("the hypervisor region is too small");
    int rc = boot_build_ept();
    if (rc)
        return refuse("cannot build the EPT identity map");
    if (!boot_place_devices(why, sizeof(why)))
        return refuse(why);

    boot_print_plan();
    boot_print_devices();
    if (boot.opt_dry_run) {
        log_printf("trapvisor: dry run, nothing launched\n");
        con_enabled = false;
        return EFI_ABORTED;
    }

    boot_program_devices();
    vmx_hooks.is_guest_ram = boot_is_guest_ram;
    vmx_hooks.seal = seal_region;
    boot_install_hooks();

    /* BSP. */
    struct vcpu *bsp = new_vcpu(0, boot.apic_id[0]);
    if (!bsp)
        return refuse("the hypervisor region is too small");
    rc = vmx_cpu_launch(bsp, true);
    if (rc)
        return refuse("VMLAUNCH failed on the BSP");
    r->launched = true;
    boot_cpu_online(bsp);
    boot_info("vmx: CPU 0 (APIC %u) is a guest\n", bsp->apic_id);

    /* APs, through MP Services. */
    unsigned want = boot.opt_cpus ? boot.opt_cpus : boot.ncpus;
    for (unsigned i = 1; i < boot.ncpus && i < want && i < VMX_MAX_CPUS; i++) {
        struct vcpu *v = new_vcpu(i, boot.apic_id[i]);
        if (!v) {
            log_printf("vmx: CPU %u left out: the region is full\n", i);
            continue;
        }
        int arc = boot_mp_launch_ap(v);
        if (arc == 0) {
            boot_cpu_online(v);
            boot_info("vmx: CPU %u (APIC %u) is a guest\n", i, v->apic_id);
        } else {
            log_printf("vmx: CPU %u (APIC %u) not virtualized (%d, VM-instruction error %llu)\n", i,
                       v->apic_id, arc, (unsigned long long)v->launch_error);
        }
    }
    boot_mp_report_signatures();
    boot_loader_path(r->loader, sizeof(r->loader) / sizeof(r->loader[0]));
    r->hand_back = boot.from_shell ? EFI_SUCCESS : EFI_NOT_STARTED;
    if (!r->loader[0] && !boot.from_shell)
        boot_info("boot: started as a boot entry: handing back to the next boot entry\n");
    log_printf("trapvisor: running on %u of %u CPUs\n", vmx.ncpus, boot.ncpus);
    con_enabled = false;
    return EFI_SUCCESS;
}
