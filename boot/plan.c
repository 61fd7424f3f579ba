/* Settings (boot/options.h over the config file and the load options), --caps, --dry-run
 * and the loader to start after launch. */
#include <efi.h>
#include <efilib.h>

#include "boot/options.h"
#include "boot/platform.h"
#include "lib/log.h"
#include "lib/string.h"
#include "vmx/arch.h"
#include "vmx/caps.h"

static struct options opts;
static char cfg_text[OPTIONS_CONFIG_MAX + 1];

/* Reads \EFI\trapvisor\trapvisor.cfg from the volume trapvisor.efi came from. Returns the
 * byte count, 0 when there is no file, -1 when it is larger than the parser accepts. */
static long read_config(EFI_HANDLE image)
{
    EFI_LOADED_IMAGE *li = 0;
    if (EFI_ERROR(
            uefi_call_wrapper(BS->HandleProtocol, 3, image, &LoadedImageProtocol, (void **)&li)) ||
        !li)
        return 0;
    EFI_FILE_HANDLE root = LibOpenRoot(li->DeviceHandle);
    if (!root)
        return 0;
    EFI_FILE_HANDLE f = 0;
    long n = 0;
    if (!EFI_ERROR(
            root->Open(root, &f, L"\\EFI\\trapvisor\\trapvisor.cfg", EFI_FILE_MODE_READ, 0))) {
        UINTN size = sizeof(cfg_text);
        if (EFI_ERROR(f->Read(f, &size, cfg_text)))
            size = 0;
        n = size > OPTIONS_CONFIG_MAX ? -1 : (long)size;
        f->Close(f);
    }
    root->Close(root);
    return n;
}

/* Returns false (after printing why) when the settings are bad: Trapvisor then does not
 * launch, so a mistyped option never silently does something else. */
bool boot_options_load(EFI_HANDLE image, EFI_SYSTEM_TABLE *st)
{
    (void)st;
    options_defaults(&opts);
    struct options_error err = {0};
    long n = read_config(image);
    if (n < 0) {
        log_printf("options: %s is larger than %u bytes\n", OPTIONS_CONFIG_PATH,
                   OPTIONS_CONFIG_MAX);
        return false;
    }
    if (n > 0 && options_parse_config(&opts, cfg_text, (size_t)n, &err) == OPTIONS_BAD) {
        log_printf("options: %s line %u: %s\n", OPTIONS_CONFIG_PATH, err.line, err.text);
        return false;
    }
    EFI_LOADED_IMAGE *li = 0;
    if (!EFI_ERROR(
            uefi_call_wrapper(BS->HandleProtocol, 3, image, &LoadedImageProtocol, (void **)&li)) &&
        li && li->LoadOptions && li->LoadOptionsSize) {
        enum options_result r =
            options_parse_load_options(&opts, li->LoadOptions, li->LoadOptionsSize, &err);
        if (r == OPTIONS_BAD) {
            log_printf("options: command line: %s\n", err.text);
            return false;
        }
        if (r == OPTIONS_IGNORED)
            log_verbose("options: %s\n", err.text);
        boot.from_shell = r == OPTIONS_OK;
    }
    boot.opt_caps = opts.caps;
    boot.opt_dry_run = opts.dry_run;
    boot.opt_help = opts.help;
    boot.opt_no_edu = !opts.edu;
    boot.opt_no_stats = !opts.stats;
    boot.opt_cpus = opts.cpus;
    boot.opt_serial = opts.serial_port;
    log_level = (enum log_level)opts.verbosity;
    return true;
}

static void log_putc(void *ctx, char c)
{
    (void)ctx;
    log_printf("%c", c);
}

void boot_print_options(void)
{
    if (boot.opt_help)
        options_print_usage(log_putc, 0);
    else if (boot.opt_dry_run || log_level >= LOG_VERBOSE)
        options_print(&opts, log_putc, 0);
}

void boot_loader_path(CHAR16 *out, unsigned n)
{
    unsigned i = 0;
    for (; i + 1 < n && opts.start[i]; i++)
        out[i] = (CHAR16)(unsigned char)(opts.start[i] == '/' ? '\\' : opts.start[i]);
    if (n)
        out[i] = 0;
    if (i)
        boot_info("boot: next: %s\n", opts.start);
}

static const char *const mem_type_names[] = {"UC", "WC", "?", "?", "WT", "WP", "WB"};

void boot_print_plan(void)
{
    boot_info("plan: %u CPU(s) (APIC IDs", boot.ncpus);
    for (unsigned i = 0; i < boot.ncpus && i < VMX_MAX_CPUS; i++)
        log_printf(" %u", boot.apic_id[i]);
    log_printf(")%s\n", boot.opt_cpus && boot.opt_cpus < boot.ncpus ? ", limited by --cpus" : "");
    boot_info("plan: %llu MiB of RAM in %u range(s), highest address 0x%llx\n",
              (unsigned long long)(boot.ram_bytes >> 20), boot.n_ram,
              (unsigned long long)boot.phys_top);
    for (unsigned i = 0; i < boot.n_ram && (boot.opt_dry_run || log_level >= LOG_VERBOSE); i++)
        boot_info("plan:   RAM 0x%llx-0x%llx\n", (unsigned long long)boot.ram[i].base,
                  (unsigned long long)(boot.ram[i].base + boot.ram[i].size - 1));
    boot_info("plan: hypervisor region 0x%llx-0x%llx (%llu KiB, image %llu KiB), hidden from "
              "guests\n",
              (unsigned long long)boot.region.base,
              (unsigned long long)(boot.region.base + boot.region.size - 1),
              (unsigned long long)(boot.region.size >> 10),
              (unsigned long long)(boot.region.image_size >> 10));
    uint8_t t = (uint8_t)(boot.ept.mtrr.def_type & 7);
    boot_info("plan: EPT identity map 0-0x%llx, %u table pages, MTRR default type %s\n",
              (unsigned long long)(boot.ept_limit - 1), boot.ept.tables,
              t < 7 ? mem_type_names[t] : "?");
}

static uint64_t caps_rdmsr(void *ctx, uint32_t msr)
{
    (void)ctx;
    return rdmsr(msr);
}

static void caps_cpuid(void *ctx, uint32_t leaf, uint32_t sub, uint32_t regs[4])
{
    (void)ctx;
    cpuid_count(leaf, sub, regs);
}

/* --caps: what this CPU offers, read only through the MSRs it enumerates (vmx/caps.h). */
void boot_print_caps(void)
{
    static struct vmx_caps_raw raw;
    vmx_caps_collect(&raw, caps_rdmsr, caps_cpuid, 0);
    vmx_caps_print(&raw, log_putc, 0);
}
