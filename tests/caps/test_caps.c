/* vmx/caps.c: reading, the --caps report and vmx_adjust_controls, with the values Bochs's
 * corei7_skylake_x model reports (read by tests/rig/vmxprobe.efi in the rig; the same values
 * are in tests/rig/vmxprobe-skylake-x-bochs3.expected and -bochs27.expected). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "vmx/caps.h"

/* --- a fake CPU: CPUID leaves and an MSR table; reading an MSR not in it is a #GP --------- */

struct fake_msr {
    uint32_t index;
    uint64_t value;
};

struct fake_cpu {
    uint32_t leaf0[4], leaf1[4], ext0[4], ext1[4], ext8[4];
    const struct fake_msr *msrs;
    size_t n_msrs;
    unsigned gp_count; /* reads of MSRs the CPU does not have */
    uint32_t gp_msr;   /* the first such MSR */
    unsigned reads;
};

static uint64_t fake_rdmsr(void *ctx, uint32_t msr)
{
    struct fake_cpu *c = ctx;
    c->reads++;
    for (size_t i = 0; i < c->n_msrs; i++)
        if (c->msrs[i].index == msr)
            return c->msrs[i].value;
    if (c->gp_count++ == 0)
        c->gp_msr = msr;
    return 0;
}

static void fake_cpuid(void *ctx, uint32_t leaf, uint32_t sub, uint32_t r[4])
{
    struct fake_cpu *c = ctx;
    (void)sub;
    const uint32_t *src = leaf == 0             ? c->leaf0
                          : leaf == 1           ? c->leaf1
                          : leaf == 0x80000000u ? c->ext0
                          : leaf == 0x80000001u ? c->ext1
                          : leaf == 0x80000008u ? c->ext8
                                                : NULL;
    static const uint32_t zero[4];
    memcpy(r, src ? src : zero, 4 * sizeof r[0]);
}

/* Bochs 3.0, cpu model corei7_skylake_x (vmxprobe.efi in the rig, 2026-11-25). */
static const struct fake_msr bochs3_msrs[] = {
    {0x03A, 0x0000000000000000}, {0x480, 0x00d810000000002b}, {0x481, 0x000000ff00000016},
    {0x482, 0xfff9fffe0401e172}, {0x483, 0x407fffff00036dff}, {0x484, 0x0000ffff000011ff},
    {0x485, 0x00000000600401e0}, {0x486, 0x0000000080000021}, {0x487, 0x00000000ffffffff},
    {0x488, 0x0000000000002000}, {0x489, 0x00000000003727ff}, {0x48A, 0x0000000000000050},
    {0x48B, 0x02577fff00000000}, {0x48C, 0x00000f0106734141}, {0x491, 0x0000000000000001},
    {0x48D, 0x000000ff00000016}, {0x48E, 0xfff9fffe04006172}, {0x48F, 0x407fffff00036dfb},
    {0x490, 0x0000ffff000011fb},
};

/* Bochs 2.7 (Debian 12), the same model: no posted interrupts, no MTF, no mode-based EPT. */
static const struct fake_msr bochs27_msrs[] = {
    {0x03A, 0x0000000000000000}, {0x480, 0x00d810000000002b}, {0x481, 0x0000007f00000016},
    {0x482, 0xf7f9fffe0401e172}, {0x483, 0x007fffff00036dff}, {0x484, 0x0000ffff000011ff},
    {0x485, 0x00000000600401e0}, {0x486, 0x0000000080000021}, {0x487, 0x00000000ffffffff},
    {0x488, 0x0000000000002000}, {0x489, 0x00000000003727ff}, {0x48A, 0x0000000000000034},
    {0x48B, 0x02177fff00000000}, {0x48C, 0x00000f0106334141}, {0x491, 0x0000000000000001},
    {0x48D, 0x0000007f00000016}, {0x48E, 0xf7f9fffe04006172}, {0x48F, 0x007fffff00036dfb},
    {0x490, 0x0000ffff000011fb},
};

static void skylake_x_cpu(struct fake_cpu *c, const struct fake_msr *m, size_t n)
{
    memset(c, 0, sizeof *c);
    /* "GenuineIntel" in EBX, EDX, ECX; CPUID values seen in the rig. */
    const uint32_t l0[4] = {0x16, 0x756e6547, 0x6c65746e, 0x49656e69};
    const uint32_t l1[4] = {0x00050654, 0, 0x77faf3bf, 0xbfebfbff};
    const uint32_t e0[4] = {0x80000008u, 0, 0, 0};
    const uint32_t e1[4] = {0, 0, 0x00000121, 0x2c100800};
    const uint32_t e8[4] = {0x00003028, 0, 0, 0};
    memcpy(c->leaf0, l0, sizeof l0);
    memcpy(c->leaf1, l1, sizeof l1);
    memcpy(c->ext0, e0, sizeof e0);
    memcpy(c->ext1, e1, sizeof e1);
    memcpy(c->ext8, e8, sizeof e8);
    c->msrs = m;
    c->n_msrs = n;
}

/* --- collecting the report text ------------------------------------------------------------- */

static char report[32768];
static size_t report_len;

static void collect(void *ctx, char ch)
{
    (void)ctx;
    if (report_len + 1 < sizeof report)
        report[report_len++] = ch;
    report[report_len] = '\0';
}

static void make_report(const struct vmx_caps_raw *raw)
{
    report_len = 0;
    report[0] = '\0';
    vmx_caps_print(raw, collect, NULL);
}

/* Asserts that the report has a line "caps:   NAME<spaces>VALUE". */
static void assert_item(const char *name, const char *value)
{
    char want[160];
    snprintf(want, sizeof want, "caps:   %-46s %s\n", name, value);
    if (!strstr(report, want))
        fail_msg("report has no line '%.*s'", (int)strlen(want) - 1, want);
}

static void assert_line(const char *line)
{
    char want[200];
    snprintf(want, sizeof want, "%s\n", line);
    if (!strstr(report, want))
        fail_msg("report has no line '%s'", line);
}

static struct vmx_caps_raw collect_bochs3(void)
{
    struct fake_cpu c;
    struct vmx_caps_raw raw;
    skylake_x_cpu(&c, bochs3_msrs, sizeof bochs3_msrs / sizeof bochs3_msrs[0]);
    vmx_caps_collect(&raw, fake_rdmsr, fake_cpuid, &c);
    assert_int_equal(c.gp_count, 0);
    return raw;
}

/* --- collecting ------------------------------------------------------------------------------ */

static void test_collect_reads_every_enumerated_msr_and_no_other(void **state)
{
    (void)state;
    struct fake_cpu c;
    struct vmx_caps_raw raw;
    skylake_x_cpu(&c, bochs3_msrs, sizeof bochs3_msrs / sizeof bochs3_msrs[0]);
    vmx_caps_collect(&raw, fake_rdmsr, fake_cpuid, &c);
    if (c.gp_count)
        fail_msg("read MSR 0x%x, which this CPU does not have", c.gp_msr);
    /* 0x492 (tertiary) is not enumerated on this model; all 19 others are read. */
    assert_int_equal(c.reads, 19);
    assert_string_equal(raw.vendor, "GenuineIntel");
    assert_true(raw.has_vmx);
    assert_true(raw.has_true);
    assert_true(raw.has_procbased2);
    assert_true(raw.has_ept_vpid);
    assert_true(raw.has_vmfunc);
    assert_false(raw.has_procbased3);
    assert_true(raw.has_ext_leaves);
    assert_int_equal(raw.basic, 0x00d810000000002bull);
    assert_int_equal(raw.true_procbased, 0xfff9fffe04006172ull);
    assert_int_equal(raw.ept_vpid, 0x00000f0106734141ull);
}

static void test_collect_without_vmx_reads_no_msr(void **state)
{
    (void)state;
    struct fake_cpu c;
    struct vmx_caps_raw raw;
    skylake_x_cpu(&c, NULL, 0);
    c.leaf1[2] &= ~(1u << 5); /* CPUID.1:ECX.VMX = 0, as QEMU's TCG reports */
    vmx_caps_collect(&raw, fake_rdmsr, fake_cpuid, &c);
    assert_int_equal(c.reads, 0);
    assert_false(raw.has_vmx);
    make_report(&raw);
    assert_item("VMX (CPUID.1:ECX[5])", "no");
    assert_line("caps: Verdict: Trapvisor cannot run here: no VT-x (CPUID.1:ECX.VMX = 0)");
    assert_null(strstr(report, "IA32_VMX_BASIC"));
}

static void test_collect_skips_msrs_the_controls_do_not_enumerate(void **state)
{
    (void)state;
    /* No TRUE_ MSRs (BASIC[55] = 0) and no secondary controls (PROCBASED[63] = 0): reading
     * 0x48B-0x491 would fault. */
    const struct fake_msr old_cpu[] = {
        {0x03A, 0x5},
        {0x480, 0x0018100000000001},
        {0x481, 0x0000001f00000016},
        {0x482, 0x7ff9fffe0401e172},
        {0x483, 0x0036dff00036dff},
        {0x484, 0x000011ff000011ff},
        {0x485, 0},
        {0x486, 0x80000021},
        {0x487, 0xffffffff},
        {0x488, 0x2000},
        {0x489, 0x3727ff},
        {0x48A, 0x2e},
    };
    struct fake_cpu c;
    struct vmx_caps_raw raw;
    skylake_x_cpu(&c, old_cpu, sizeof old_cpu / sizeof old_cpu[0]);
    vmx_caps_collect(&raw, fake_rdmsr, fake_cpuid, &c);
    if (c.gp_count)
        fail_msg("read MSR 0x%x, which this CPU does not have", c.gp_msr);
    assert_false(raw.has_true);
    assert_false(raw.has_procbased2);
    assert_false(raw.has_ept_vpid);
    make_report(&raw);
    assert_line("caps: Secondary processor-based VM-execution controls: not available");
    assert_line("caps: VPID and EPT capabilities: not available");
    assert_line("caps: Verdict: Trapvisor cannot run here: no EPT");
    /* Without TRUE_ MSRs, a default1 control reads "forced", never "default". */
    assert_item("CR3-load exiting", "forced");
    assert_null(strstr(report, " default\n"));
}

static void test_collect_reads_tertiary_controls_when_enumerated(void **state)
{
    (void)state;
    struct fake_msr m[sizeof bochs3_msrs / sizeof bochs3_msrs[0] + 1];
    memcpy(m, bochs3_msrs, sizeof bochs3_msrs);
    m[3].value |= 1ull << (32 + 17); /* 0x482: "activate tertiary controls" allowed */
    m[sizeof bochs3_msrs / sizeof bochs3_msrs[0]] = (struct fake_msr){0x492, 0x11};
    struct fake_cpu c;
    struct vmx_caps_raw raw;
    skylake_x_cpu(&c, m, sizeof m / sizeof m[0]);
    vmx_caps_collect(&raw, fake_rdmsr, fake_cpuid, &c);
    assert_int_equal(c.gp_count, 0);
    assert_true(raw.has_procbased3);
    assert_int_equal(raw.procbased3, 0x11);
    make_report(&raw);
    assert_item("LOADIWKEY exiting", "yes");
    assert_item("IPI virtualization", "yes");
    assert_item("Enable HLAT", "no");
}

/* --- the report with Bochs 3.0's values ------------------------------------------------------- */

static void test_report_bochs3_basic_information(void **state)
{
    (void)state;
    struct vmx_caps_raw raw = collect_bochs3();
    make_report(&raw);
    assert_line("caps: Basic VMX information (IA32_VMX_BASIC 0x00d810000000002b)");
    assert_item("Revision", "43");
    assert_item("VMCS size in bytes", "4096");
    assert_item("VMCS restricted to 32-bit addresses", "no");
    assert_item("VMCS memory type", "write-back (6)");
    assert_item("INS/OUTS instruction information", "yes");
    assert_item("IA32_VMX_TRUE_*_CTLS", "yes");
    assert_item("Vendor", "GenuineIntel");
    assert_item("Physical address bits (MAXPHYADDR)", "40");
    assert_item("1-GByte pages (CPUID.80000001H:EDX[26])", "yes");
    assert_item("Running under a hypervisor (CPUID.1:ECX[31])", "no");
}

static void test_report_bochs3_controls_yes_no_forced_default(void **state)
{
    (void)state;
    struct vmx_caps_raw raw = collect_bochs3();
    make_report(&raw);
    /* Pin-based: 0x16 bits are default1 in the legacy MSR; TRUE also forces them (0x16). */
    assert_item("External-interrupt exiting", "yes");
    assert_item("Process posted interrupts", "yes");
    /* Primary: CR3-load/store exiting are default1 (legacy 0x0401e172) but TRUE (0x04006172)
     * lets them be 0: "default". */
    assert_item("CR3-load exiting", "default");
    assert_item("CR3-store exiting", "default");
    assert_item("HLT exiting", "yes");
    assert_item("Monitor trap flag", "yes");
    assert_item("Activate tertiary controls", "no");
    assert_item("Activate secondary controls", "yes");
    /* Secondary. */
    assert_item("Enable EPT", "yes");
    assert_item("Unrestricted guest", "yes");
    assert_item("Enable VPID", "yes");
    assert_item("Mode-based execute control for EPT", "yes");
    assert_item("Sub-page write permissions for EPT", "no");
    assert_item("Enable ENCLS exiting", "no");
    /* Exit: "Save debug controls" (bit 2) is default1 and TRUE allows 0. */
    assert_item("Save debug controls", "default");
    assert_item("Host address-space size", "yes");
    assert_item("Load CET state", "no");
    assert_item("Save IA32_PERF_GLOBAL_CTL", "yes");
    assert_item("Activate secondary VM-exit controls", "no");
    /* Entry. */
    assert_item("Load debug controls", "default");
    assert_item("IA-32e mode guest", "yes");
    assert_item("Load PKRS", "no");
}

static void test_report_bochs3_ept_vpid_and_misc(void **state)
{
    (void)state;
    struct vmx_caps_raw raw = collect_bochs3();
    make_report(&raw);
    assert_line("caps: VPID and EPT capabilities (IA32_VMX_EPT_VPID_CAP 0x00000f0106734141)");
    assert_item("Execute-only EPT translations", "yes");
    assert_item("Page-walk length 4", "yes");
    assert_item("Page-walk length 5", "no");
    assert_item("Paging-structure memory type UC", "yes");
    assert_item("Paging-structure memory type WB", "yes");
    assert_item("2-MByte EPT pages", "yes");
    assert_item("1-GByte EPT pages", "yes");
    assert_item("EPT accessed and dirty flags", "yes");
    assert_item("INVEPT single-context", "yes");
    assert_item("INVEPT all-context", "yes");
    assert_item("INVVPID single-context-retaining-globals", "yes");
    assert_item("EPTP switching", "yes");
    assert_item("VMX-preemption timer rate", "TSC >> 0");
    assert_item("Activity state wait-for-SIPI", "yes");
    assert_item("CR3-target values", "4");
    assert_item("MSR-load/store list entries (maximum)", "512");
    assert_item("VMWRITE to VM-exit information fields", "yes");
    assert_item("Must be 1", "0x80000021 (PE NE PG)");
    assert_item("Must be 1", "0x2000 (VMXE)");
    assert_item("Highest field index", "0x28");
    assert_item("Locked", "no");
    assert_item("VMXON", "allowed once Trapvisor sets and locks it");
    assert_line("caps: Verdict: Trapvisor can run here");
}

static void test_report_bochs27_differs_where_the_models_differ(void **state)
{
    (void)state;
    struct fake_cpu c;
    struct vmx_caps_raw raw;
    skylake_x_cpu(&c, bochs27_msrs, sizeof bochs27_msrs / sizeof bochs27_msrs[0]);
    vmx_caps_collect(&raw, fake_rdmsr, fake_cpuid, &c);
    assert_int_equal(c.gp_count, 0);
    make_report(&raw);
    assert_item("Process posted interrupts", "no");
    assert_item("Monitor trap flag", "no");
    assert_item("Mode-based execute control for EPT", "no");
    assert_item("Advanced VM-exit info for EPT violations", "no");
    assert_item("Save IA32_PERF_GLOBAL_CTL", "no");
    assert_item("Highest field index", "0x1a");
    assert_line("caps: Verdict: Trapvisor can run here");
}

static void test_report_every_line_is_prefixed_and_bounded(void **state)
{
    (void)state;
    struct vmx_caps_raw raw = collect_bochs3();
    make_report(&raw);
    assert_true(report_len > 2000);
    assert_true(report_len + 1 < sizeof report); /* not truncated by the test's buffer */
    const char *p = report;
    unsigned lines = 0;
    while (*p) {
        const char *nl = strchr(p, '\n');
        assert_non_null(nl);
        assert_memory_equal(p, "caps: ", 6);
        assert_true(nl - p <= 100);
        p = nl + 1;
        lines++;
    }
    assert_true(lines > 100);
}

static void test_report_firmware_locked_vmx_off(void **state)
{
    (void)state;
    struct vmx_caps_raw raw = collect_bochs3();
    raw.feature_control = 0x1; /* locked, VMX outside SMX off */
    make_report(&raw);
    assert_item("VMXON", "not allowed: VT-x is disabled in firmware setup");
    assert_line("caps: Verdict: Trapvisor cannot run here: no VT-x enabled in firmware setup");
    raw.feature_control = 0x5;
    make_report(&raw);
    assert_item("VMXON", "allowed");
    assert_line("caps: Verdict: Trapvisor can run here");
}

static void test_report_verdict_names_the_first_missing_feature(void **state)
{
    (void)state;
    struct vmx_caps_raw raw = collect_bochs3();
    raw.procbased2 &= ~(1ull << (32 + 7));
    make_report(&raw);
    assert_line("caps: Verdict: Trapvisor cannot run here: no unrestricted guest");
    raw = collect_bochs3();
    raw.ept_vpid &= ~(1ull << 16);
    make_report(&raw);
    assert_line("caps: Verdict: Trapvisor cannot run here: no 2-MByte EPT pages");
    raw = collect_bochs3();
    raw.ept_vpid &= ~(1ull << 14);
    make_report(&raw);
    assert_line("caps: Verdict: Trapvisor cannot run here: no write-back EPT paging structures");
    raw = collect_bochs3();
    raw.basic &= ~(0xFull << 50);
    make_report(&raw);
    assert_item("VMCS memory type", "uncacheable (0)");
    assert_line("caps: Verdict: Trapvisor cannot run here: no write-back VMCS memory");
}

/* --- control arithmetic ------------------------------------------------------------------------
 */

static void test_control_setting_semantics(void **state)
{
    (void)state;
    /* bit 0: may be 0 or 1; bit 1: must be 1; bit 2: must be 0; bit 3: default1 cleared by
     * TRUE. */
    uint64_t legacy = (0x0Bull << 32) | 0x0A;
    uint64_t truecap = (0x0Bull << 32) | 0x02;
    assert_int_equal(vmx_control_setting(legacy, truecap, true, 0), VMX_CONTROL_YES);
    assert_int_equal(vmx_control_setting(legacy, truecap, true, 1), VMX_CONTROL_FORCED);
    assert_int_equal(vmx_control_setting(legacy, truecap, true, 2), VMX_CONTROL_NO);
    assert_int_equal(vmx_control_setting(legacy, truecap, true, 3), VMX_CONTROL_DEFAULT);
    assert_int_equal(vmx_control_setting(legacy, 0, false, 3), VMX_CONTROL_FORCED);
    /* An inconsistent MSR (must be 1 and must be 0) is "no": the control cannot be used. */
    assert_int_equal(vmx_control_setting(0x1, 0, false, 0), VMX_CONTROL_NO);
}

static void test_adjust_controls_adds_must_be_1_bits(void **state)
{
    (void)state;
    uint32_t v = 0xDEAD;
    /* Bochs 3.0 TRUE_PINBASED: must-be-1 0x16; want NMI exiting (bit 3) + virtual NMIs (5). */
    assert_true(vmx_adjust_controls(0x000000ff00000016ull, (1u << 3) | (1u << 5), &v));
    assert_int_equal(v, 0x16 | 0x08 | 0x20);
    /* TRUE_PROCBASED: want MSR bitmaps + secondary controls. */
    assert_true(vmx_adjust_controls(0xfff9fffe04006172ull, (1u << 28) | (1u << 31), &v));
    assert_int_equal(v, 0x04006172u | (1u << 28) | (1u << 31));
    /* Nothing wanted: exactly the must-be-1 bits. */
    assert_true(vmx_adjust_controls(0x0000ffff000011fbull, 0, &v));
    assert_int_equal(v, 0x11fb);
}

static void test_adjust_controls_fails_for_a_bit_not_allowed_1(void **state)
{
    (void)state;
    uint32_t v = 0x1234;
    /* Bochs 3.0 TRUE_PROCBASED: "activate tertiary controls" (bit 17) is not allowed. */
    assert_false(vmx_adjust_controls(0xfff9fffe04006172ull, (1u << 17) | (1u << 31), &v));
    assert_int_equal(v, 0x1234); /* untouched */
    assert_int_equal(vmx_controls_unsupported(0xfff9fffe04006172ull, (1u << 17) | (1u << 31)),
                     1u << 17);
    assert_int_equal(vmx_controls_unsupported(0xfff9fffe04006172ull, 1u << 31), 0);
    /* Bochs 2.7 TRUE_PROCBASED: no monitor trap flag (bit 27). */
    assert_false(vmx_adjust_controls(0xf7f9fffe04006172ull, 1u << 27, &v));
    /* An inconsistent MSR (bit 0 must be 1 and must be 0) cannot be satisfied. */
    assert_false(vmx_adjust_controls(0x0000000000000001ull, 0, &v));
    assert_int_equal(v, 0x1234);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_collect_reads_every_enumerated_msr_and_no_other),
        cmocka_unit_test(test_collect_without_vmx_reads_no_msr),
        cmocka_unit_test(test_collect_skips_msrs_the_controls_do_not_enumerate),
        cmocka_unit_test(test_collect_reads_tertiary_controls_when_enumerated),
        cmocka_unit_test(test_report_bochs3_basic_information),
        cmocka_unit_test(test_report_bochs3_controls_yes_no_forced_default),
        cmocka_unit_test(test_report_bochs3_ept_vpid_and_misc),
        cmocka_unit_test(test_report_bochs27_differs_where_the_models_differ),
        cmocka_unit_test(test_report_every_line_is_prefixed_and_bounded),
        cmocka_unit_test(test_report_firmware_locked_vmx_off),
        cmocka_unit_test(test_report_verdict_names_the_first_missing_feature),
        cmocka_unit_test(test_control_setting_semantics),
        cmocka_unit_test(test_adjust_controls_adds_must_be_1_bits),
        cmocka_unit_test(test_adjust_controls_fails_for_a_bit_not_allowed_1),
    };
    return cmocka_run_group_tests_name("caps", tests, NULL, NULL);
}
