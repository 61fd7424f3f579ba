/* vmxprobe.efi: a tiny UEFI application for testing the Bochs rig.
 *
 * It prints one line per fact to the UEFI console (which OVMF mirrors to COM1): the CPU
 * vendor, the CPUID bits the VT-x capability report needs, the processor count from MP
 * Services, and the raw VMX capability MSRs. Then it shuts the machine down. The MSR values
 * it prints from Bochs are the fixture of tests/caps (the corei7_skylake_x model).
 *
 * Only MSRs the CPU enumerates are read (a missing one raises #GP): the VMX MSRs only when
 * CPUID.1:ECX.VMX[bit 5] = 1 (SDM Vol. 3C 23.6, "Discovering Support for VMX"); the TRUE_
 * MSRs only when IA32_VMX_BASIC[55] = 1, the secondary-control and EPT/VPID MSRs only when
 * the primary processor-based controls allow bit 31, IA32_VMX_VMFUNC only when the
 * secondary controls allow bit 13, IA32_VMX_PROCBASED_CTLS3 only when the primary controls
 * allow bit 17 (SDM Vol. 3D, Appendix A.1, A.3.2, A.3.3, A.3.4, A.10, A.11). */
#include <efi.h>
#include <efilib.h>

#include <stdarg.h>
#include <stdint.h>

#include "boot/options.h"
#include "lib/efi_mp.h"
#include "lib/fmt.h"
#include "vmx/caps.h"

static EFI_SYSTEM_TABLE *probe_st;

static void probe_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void probe_printf(const char *fmt, ...)
{
    char line[160];
    CHAR16 wide[162];
    va_list ap;

    va_start(ap, fmt);
    fmt_vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    size_t n = 0;
    for (; n < sizeof line && line[n] != '\0'; n++)
        wide[n] = (CHAR16)(unsigned char)line[n];
    wide[n++] = L'\r';
    wide[n++] = L'\n';
    wide[n] = 0;
    probe_st->ConOut->OutputString(probe_st->ConOut, wide);
}

static void cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
    __asm__ volatile("cpuid"
                     : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
                     : "a"(leaf), "c"(sub));
}

static uint64_t rdmsr(uint32_t msr)
{
    uint32_t lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return ((uint64_t)hi << 32) | lo;
}

static void probe_msr(uint32_t msr, const char *name)
{
    uint64_t v = rdmsr(msr);
    probe_printf("vmxprobe: msr 0x%03x %s = 0x%016llx", (unsigned)msr, name, (unsigned long long)v);
}

static void probe_cpus(EFI_SYSTEM_TABLE *st)
{
    EFI_GUID guid = MP_SERVICES_GUID;
    struct mp_services *mp = NULL;
    EFI_STATUS s = st->BootServices->LocateProtocol(&guid, NULL, (void **)&mp);
    if (EFI_ERROR(s) || mp == NULL) {
        probe_printf("vmxprobe: cpus 1 (no MP Services protocol)");
        return;
    }
    UINTN total = 0, enabled = 0;
    s = mp->get_number_of_processors(mp, &total, &enabled);
    if (EFI_ERROR(s)) {
        probe_printf("vmxprobe: cpus ? (GetNumberOfProcessors failed)");
        return;
    }
    probe_printf("vmxprobe: cpus %u enabled %u", (unsigned)total, (unsigned)enabled);
}

/* The --caps report, read from this CPU through vmx/caps.c (a line at a time to ConOut). */
struct probe_line {
    char buf[160];
    size_t n;
};

static void probe_line_putc(void *ctx, char c)
{
    struct probe_line *l = ctx;
    if (c == '\n' || l->n + 1 >= sizeof l->buf) {
        l->buf[l->n] = '\0';
        probe_printf("%s", l->buf);
        l->n = 0;
        if (c == '\n')
            return;
    }
    l->buf[l->n++] = c;
}

static uint64_t probe_caps_rdmsr(void *ctx, uint32_t msr)
{
    (void)ctx;
    return rdmsr(msr);
}

static void probe_caps_cpuid(void *ctx, uint32_t leaf, uint32_t sub, uint32_t regs[4])
{
    (void)ctx;
    cpuid(leaf, sub, regs);
}

/* The settings as trapvisor.efi would see them: \EFI\trapvisor\trapvisor.cfg from this
 * image's volume, then the load options the shell passed (boot/options.c on real firmware). */
static char probe_cfg[OPTIONS_CONFIG_MAX + 1];

static void probe_options(EFI_HANDLE image)
{
    EFI_LOADED_IMAGE *li = NULL;
    EFI_GUID li_guid = LOADED_IMAGE_PROTOCOL;
    if (EFI_ERROR(probe_st->BootServices->HandleProtocol(image, &li_guid, (void **)&li)) || !li) {
        probe_printf("vmxprobe: no loaded-image protocol");
        return;
    }
    char text[OPTIONS_CMDLINE_MAX + 1];
    size_t n = options_ucs2_to_ascii(li->LoadOptions, li->LoadOptionsSize, text, sizeof text);
    if (n == (size_t)-1)
        probe_printf("vmxprobe: load options: %u bytes, not text", (unsigned)li->LoadOptionsSize);
    else
        probe_printf("vmxprobe: load options: [%s]", text);

    struct options o;
    struct options_error err;
    options_defaults(&o);
    UINTN size = 0;
    EFI_FILE_HANDLE root = LibOpenRoot(li->DeviceHandle), f = NULL;
    if (root && !EFI_ERROR(root->Open(root, &f, L"\\EFI\\trapvisor\\trapvisor.cfg",
                                      EFI_FILE_MODE_READ, 0))) {
        size = sizeof probe_cfg;
        if (EFI_ERROR(f->Read(f, &size, probe_cfg)))
            size = 0;
        f->Close(f);
    }
    if (root)
        root->Close(root);
    probe_printf("vmxprobe: config file: %u bytes", (unsigned)size);
    if (options_parse_config(&o, probe_cfg, size, &err) != OPTIONS_OK) {
        probe_printf("vmxprobe: options: %s", err.text);
        return;
    }
    enum options_result r =
        options_parse_load_options(&o, li->LoadOptions, li->LoadOptionsSize, &err);
    if (r != OPTIONS_OK)
        probe_printf("vmxprobe: options: %s", err.text);
    if (r == OPTIONS_BAD)
        return;
    struct probe_line line = {.n = 0};
    options_print(&o, probe_line_putc, &line);
}

EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *st)
{
    InitializeLib(image, st); /* gnu-efi's BS, for LibOpenRoot */
    probe_st = st;
    probe_printf("vmxprobe: start");

    uint32_t r[4];
    cpuid(0, 0, r);
    char vendor[13];
    for (int i = 0; i < 4; i++) {
        vendor[i] = (char)(r[1] >> (8 * i));
        vendor[4 + i] = (char)(r[3] >> (8 * i));
        vendor[8 + i] = (char)(r[2] >> (8 * i));
    }
    vendor[12] = '\0';
    uint32_t max_leaf = r[0];
    probe_printf("vmxprobe: cpuid vendor %s max 0x%x", vendor, (unsigned)max_leaf);
    cpuid(1, 0, r);
    uint32_t ecx1 = r[2];
    probe_printf("vmxprobe: cpuid 1 eax 0x%08x ecx 0x%08x edx 0x%08x", (unsigned)r[0],
                 (unsigned)r[2], (unsigned)r[3]);
    cpuid(0x80000000u, 0, r);
    if (r[0] >= 0x80000008u) {
        cpuid(0x80000001u, 0, r);
        probe_printf("vmxprobe: cpuid 80000001 ecx 0x%08x edx 0x%08x", (unsigned)r[2],
                     (unsigned)r[3]);
        cpuid(0x80000008u, 0, r);
        probe_printf("vmxprobe: cpuid 80000008 eax 0x%08x", (unsigned)r[0]);
    }
    probe_cpus(st);
    probe_options(image);

    if (!(ecx1 & (1u << 5))) {
        probe_printf("vmxprobe: no VMX (CPUID.1:ECX[5] = 0)");
    } else {
        probe_msr(0x3A, "IA32_FEATURE_CONTROL");
        uint64_t basic = rdmsr(0x480);
        probe_msr(0x480, "IA32_VMX_BASIC");
        probe_msr(0x481, "IA32_VMX_PINBASED_CTLS");
        uint64_t proc = rdmsr(0x482);
        probe_msr(0x482, "IA32_VMX_PROCBASED_CTLS");
        probe_msr(0x483, "IA32_VMX_EXIT_CTLS");
        probe_msr(0x484, "IA32_VMX_ENTRY_CTLS");
        probe_msr(0x485, "IA32_VMX_MISC");
        probe_msr(0x486, "IA32_VMX_CR0_FIXED0");
        probe_msr(0x487, "IA32_VMX_CR0_FIXED1");
        probe_msr(0x488, "IA32_VMX_CR4_FIXED0");
        probe_msr(0x489, "IA32_VMX_CR4_FIXED1");
        probe_msr(0x48A, "IA32_VMX_VMCS_ENUM");
        if (proc & (1ull << (32 + 31))) {
            uint64_t proc2 = rdmsr(0x48B);
            probe_msr(0x48B, "IA32_VMX_PROCBASED_CTLS2");
            if (proc2 & ((1ull << (32 + 1)) | (1ull << (32 + 5))))
                probe_msr(0x48C, "IA32_VMX_EPT_VPID_CAP");
            if (proc2 & (1ull << (32 + 13)))
                probe_msr(0x491, "IA32_VMX_VMFUNC");
        }
        if (basic & (1ull << 55)) {
            probe_msr(0x48D, "IA32_VMX_TRUE_PINBASED_CTLS");
            probe_msr(0x48E, "IA32_VMX_TRUE_PROCBASED_CTLS");
            probe_msr(0x48F, "IA32_VMX_TRUE_EXIT_CTLS");
            probe_msr(0x490, "IA32_VMX_TRUE_ENTRY_CTLS");
        }
        if (proc & (1ull << (32 + 17)))
            probe_msr(0x492, "IA32_VMX_PROCBASED_CTLS3");
    }
    struct vmx_caps_raw raw;
    struct probe_line line = {.n = 0};
    vmx_caps_collect(&raw, probe_caps_rdmsr, probe_caps_cpuid, NULL);
    vmx_caps_print(&raw, probe_line_putc, &line);
    probe_printf("vmxprobe: done, shutting down");
    st->RuntimeServices->ResetSystem(EfiResetShutdown, EFI_SUCCESS, 0, NULL);
    return EFI_SUCCESS;
}
