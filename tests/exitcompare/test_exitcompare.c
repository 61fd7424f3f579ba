/* exitcompare's parsers, ratios and verdicts (tools/exitcompare/compare.c): what a log or CSV
 * from exitbench gives, which CPU is kept, every kind of bad input refused with its line, the
 * target boundaries exact in integers, and the printed ratio never contradicting a verdict. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tools/exitcompare/compare.h"

static char err[EC_ERR_MAX];

static int parse(const char *text, int cpu, struct ec_input *in)
{
    return ec_parse(text, strlen(text), cpu, in, err, sizeof err);
}

/* What f printed, as a string (freed by the caller). */
struct capture {
    FILE *f;
    char *buf;
    size_t len;
};
static void capture_start(struct capture *c)
{
    c->f = open_memstream(&c->buf, &c->len);
    assert_non_null(c->f);
}
static char *capture_end(struct capture *c)
{
    fclose(c->f);
    return c->buf;
}

static const char TV_LOG[] =
    "\x1b[2J\x1b[01;01HBdsDxe: loading Boot0002\r\n"
    "trapvisor: running on 1 of 1 CPUs\r\n"
    "exitbench: hypervisor trapvisor (signature \"TrapvisorHVM\")\r\n"
    "exitbench: edu at 00:02.0 bar0=0x80000000\r\n"
    "exitbench: cpu 0 apic_id 0\r\n"
    "exitbench: op=cpuid n=500 min=103 median=103 p99=103 max=103 hv_median=40\r\n"
    "\x1b[0mexitbench: op=vmcall n=500 min=151 median=151 p99=151 max=151 hv_median=86\r\n"
    "exitbench: op=mmio-read-edu n=500 min=273 median=273 p99=273 max=273 hv_median=194 \r\n"
    "exitbench: samples in \\trapvisor\\exitbench.csv\r\n";

static void log_keeps_op_lines_and_ignores_cr_escapes_and_other_lines(void **state)
{
    (void)state;
    struct ec_input in;
    assert_int_equal(parse(TV_LOG, EC_ANY_CPU, &in), 0);
    assert_int_equal(in.format, EC_FORMAT_LOG);
    assert_string_equal(in.hypervisor, "trapvisor");
    assert_int_equal(in.cpu, 0);
    assert_int_equal(in.nops, 3);
    const struct ec_op *m = ec_find_op(&in, "mmio-read-edu");
    assert_non_null(m);
    assert_int_equal(m->s.n, 500);
    assert_int_equal(m->s.median, 273);
    assert_int_equal(m->hv_median, 194);
    assert_string_equal(in.ops[1].name, "vmcall"); /* the escape before it is ignored */
    assert_null(ec_find_op(&in, "pio-cfc"));
}

static void log_skip_lines_and_lines_without_newline_are_fine(void **state)
{
    (void)state;
    struct ec_input in;
    assert_int_equal(parse("exitbench: vmcall skipped: no hypervisor that answers VMCALL\n"
                           "exitbench: op=ram-read n=7 min=1 median=2 p99=3 max=4 hv_median=0",
                           EC_ANY_CPU, &in),
                     0);
    assert_int_equal(in.nops, 1);
    assert_int_equal(in.ops[0].s.max, 4);
    assert_string_equal(in.hypervisor, "");
}

static const char TWO_CPU_LOG[] =
    "exitbench: cpu 1 apic_id 2\n"
    "exitbench: op=cpuid n=10 min=50 median=60 p99=70 max=80 hv_median=0\n"
    "exitbench: cpu 3 apic_id 6\n"
    "exitbench: op=cpuid n=10 min=51 median=61 p99=71 max=81 hv_median=0\n"
    "exitbench: op=mmio-read-edu n=10 min=90 median=95 p99=99 max=99 hv_median=0\n";

static void log_results_belong_to_the_last_cpu_line_and_the_lowest_cpu_is_the_default(void **s)
{
    (void)s;
    struct ec_input in;
    assert_int_equal(parse(TWO_CPU_LOG, EC_ANY_CPU, &in), 0);
    assert_int_equal(in.cpu, 1);
    assert_int_equal(in.ncpus, 2);
    assert_int_equal(in.nops, 1);
    assert_int_equal(ec_find_op(&in, "cpuid")->s.median, 60);

    assert_int_equal(parse(TWO_CPU_LOG, 3, &in), 0);
    assert_int_equal(in.cpu, 3);
    assert_int_equal(in.nops, 2);
    assert_int_equal(ec_find_op(&in, "cpuid")->s.median, 61);

    assert_int_equal(parse(TWO_CPU_LOG, 2, &in), -1);
    assert_string_equal(err, "no results for cpu 2 (CPUs present: 1 3)");
    assert_int_equal(in.nops, 0);
}

static void log_malformed_op_lines_are_refused_with_their_line_number(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "exitbench: op=cpuid n=5 min=1 median=2 p99=3 max=4\n",               /* no hv_median */
        "exitbench: op=cpuid n=5 min=1 median=2 p99=3 max=4 hv_median=0 x\n", /* trailing */
        "exitbench: op=cpuid n=5 min=1 median=2 p99=3 max=4 hv_median=-1\n",
        "exitbench: op=cpuid n=5 min=1 median=2.5 p99=3 max=4 hv_median=0\n",
        "exitbench: op=cpuid n=5 min=1 median=2 p99=3 max=18446744073709551616 hv_median=0\n",
        "exitbench: op=cpuid n=5 max=4 min=1 median=2 p99=3 hv_median=0\n",  /* order */
        "exitbench: op=cpuid  n=5 min=1 median=2 p99=3 max=4 hv_median=0\n", /* two blanks */
        "exitbench: op=CPUID n=5 min=1 median=2 p99=3 max=4 hv_median=0\n",
        "exitbench: op= n=5 min=1 median=2 p99=3 max=4 hv_median=0\n",
        "exitbench: op=cpuid\n",
        "exitbench: op=cpuid n=0 min=0 median=0 p99=0 max=0 hv_median=0\n",
        "exitbench: op=cpuid n=5 min=3 median=2 p99=3 max=4 hv_median=0\n", /* min > median */
        "exitbench: op=cpuid n=5 min=1 median=2 p99=5 max=4 hv_median=0\n", /* p99 > max */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[256];
        snprintf(text, sizeof text, "noise\nexitbench: cpu 0 apic_id 0\n%s", bad[i]);
        struct ec_input in;
        assert_int_equal(parse(text, EC_ANY_CPU, &in), -1);
        assert_memory_equal(err, "line 3: ", 8);
    }
    struct ec_input in;
    assert_int_equal(parse("exitbench: cpu x apic_id 0\n", EC_ANY_CPU, &in), -1);
    assert_string_equal(err, "line 1: malformed 'exitbench: cpu' line");
    assert_int_equal(parse("exitbench: cpu 4096 apic_id 0\n", EC_ANY_CPU, &in), -1);
}

static void log_with_two_results_for_one_cpu_is_refused(void **state)
{
    (void)state;
    struct ec_input in;
    assert_int_equal(parse("exitbench: op=cpuid n=1 min=1 median=1 p99=1 max=1 hv_median=0\n"
                           "exitbench: op=cpuid n=1 min=2 median=2 p99=2 max=2 hv_median=0\n",
                           EC_ANY_CPU, &in),
                     -1);
    assert_string_equal(err, "line 2: a second op=cpuid line for cpu 0 (two runs in one log? "
                             "keep one)");
}

static void input_without_results_is_refused(void **state)
{
    (void)state;
    struct ec_input in;
    assert_int_equal(parse("", EC_ANY_CPU, &in), -1);
    assert_string_equal(err, "no exitbench results (neither 'exitbench: op=' lines nor an "
                             "exitbench CSV)");
    assert_int_equal(
        parse("\r\n\r\nShell> exitbench.efi\r\nexitbench: hypervisor none\r\n", EC_ANY_CPU, &in),
        -1);
    assert_int_equal(parse("op,cpu,iteration,ticks\r\n\r\n", EC_ANY_CPU, &in), -1);
    assert_string_equal(err, "no samples");
    /* Binary junk with NULs and no newline: refused, not read past its length. */
    const char junk[] = {'\0', 'e', 'x', '\xff', '\0', 'o', 'p', '='};
    assert_int_equal(ec_parse(junk, sizeof junk, EC_ANY_CPU, &in, err, sizeof err), -1);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void csv_figures_are_nearest_rank_order_statistics_of_its_samples(void **state)
{
    (void)state;
    enum { N = 333 };
    static char text[64 * 1024];
    uint64_t cpuid[N], mmio[N];
    size_t len = (size_t)snprintf(text, sizeof text, "op,cpu,iteration,ticks\r\n");
    srand(11);
    for (int i = 0; i < N; i++) {
        cpuid[i] = 100 + (uint64_t)(rand() % 900);
        len += (size_t)snprintf(text + len, sizeof text - len, "cpuid,0,%d,%llu\r\n", i,
                                (unsigned long long)cpuid[i]);
    }
    for (int i = 0; i < N; i++) {
        mmio[i] = 1000 + (uint64_t)(rand() % 9000);
        len += (size_t)snprintf(text + len, sizeof text - len, "mmio-read-edu,0,%d,%llu\n", i,
                                (unsigned long long)mmio[i]);
    }
    struct ec_input in;
    assert_int_equal(parse(text, EC_ANY_CPU, &in), 0);
    assert_int_equal(in.format, EC_FORMAT_CSV);
    assert_int_equal(in.nops, 2);

    /* Oracle: qsort, lower-middle median, p99 at rank ceil(0.99 n) (1-based). */
    qsort(cpuid, N, sizeof cpuid[0], cmp_u64);
    qsort(mmio, N, sizeof mmio[0], cmp_u64);
    const struct ec_op *c = ec_find_op(&in, "cpuid"), *m = ec_find_op(&in, "mmio-read-edu");
    assert_int_equal(c->s.n, N);
    assert_int_equal(c->s.min, cpuid[0]);
    assert_int_equal(c->s.median, cpuid[(N - 1) / 2]);
    assert_int_equal(c->s.p99, cpuid[330 - 1]); /* ceil(0.99 * 333) = 330 */
    assert_int_equal(c->s.max, cpuid[N - 1]);
    assert_int_equal(m->s.median, mmio[(N - 1) / 2]);
    assert_int_equal(m->hv_median, 0);
}

static const char MIXED_CSV[] = "op,cpu,iteration,ticks\n"
                                "cpuid,3,0,300\n"
                                "cpuid,1,0,100\n"
                                "cpuid,3,1,302\n"
                                "cpuid,1,1,104\n"
                                "cpuid,1,2,102\n"
                                "ram-read,3,0,30\n";

static void csv_with_several_cpus_keeps_the_lowest_or_the_one_asked(void **state)
{
    (void)state;
    struct ec_input in;
    assert_int_equal(parse(MIXED_CSV, EC_ANY_CPU, &in), 0);
    assert_int_equal(in.cpu, 1);
    assert_int_equal(in.ncpus, 2);
    assert_int_equal(in.nops, 1); /* ram-read only ran on cpu 3 */
    assert_int_equal(in.ops[0].s.n, 3);
    assert_int_equal(in.ops[0].s.median, 102);

    assert_int_equal(parse(MIXED_CSV, 3, &in), 0);
    assert_int_equal(in.nops, 2);
    assert_int_equal(ec_find_op(&in, "cpuid")->s.median, 300);

    assert_int_equal(parse(MIXED_CSV, 0, &in), -1);
    assert_string_equal(err, "no results for cpu 0 (CPUs present: 1 3)");
}

static void csv_malformed_rows_are_refused_with_their_line_number(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "cpuid,0,1\n",
        "cpuid,0,1,5,6\n",
        "cpuid,0,1,x\n",
        "cpuid,0,1,-5\n",
        ",0,1,5\n",
        "cpuid,,1,5\n",
        "cpuid,0,1,\n",
        "cpuid,4096,1,5\n",
        "cpuid, 0,1,5\n",
        "Cpuid,0,1,5\n",
        "cpuid;0;1;5\n",
        "cpuid,0,1,1.5\n",
        "cpuid,0,1,99999999999999999999\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[256];
        snprintf(text, sizeof text, "op,cpu,iteration,ticks\ncpuid,0,0,5\n%s", bad[i]);
        struct ec_input in;
        int rc = parse(text, EC_ANY_CPU, &in);
        if (rc == 0)
            fail_msg("accepted row %zu: %s", i, bad[i]);
        assert_memory_equal(err, "line 3: ", 8);
    }
}

static void csv_iterations_out_of_sequence_are_refused(void **state)
{
    (void)state;
    struct ec_input in;
    assert_int_equal(parse("op,cpu,iteration,ticks\ncpuid,0,0,5\ncpuid,0,2,5\n", EC_ANY_CPU, &in),
                     -1);
    assert_string_equal(err, "line 3: cpuid on cpu 0: iteration 2 out of sequence (expected 1)");
    assert_int_equal(parse("op,cpu,iteration,ticks\ncpuid,0,0,5\ncpuid,0,0,5\n", EC_ANY_CPU, &in),
                     -1);
    assert_int_equal(parse("op,cpu,iteration,ticks\ncpuid,0,1,5\n", EC_ANY_CPU, &in), -1);
}

static void ratios_have_two_decimals_rounded_as_asked(void **state)
{
    (void)state;
    char b[64];
    ec_format_ratio(b, sizeof b, 273, 103, EC_ROUND_UP); /* 2.6504... */
    assert_string_equal(b, "2.66x");
    ec_format_ratio(b, sizeof b, 273, 103, EC_ROUND_DOWN);
    assert_string_equal(b, "2.65x");
    ec_format_ratio(b, sizeof b, 273, 103, EC_ROUND_NEAREST);
    assert_string_equal(b, "2.65x");
    ec_format_ratio(b, sizeof b, 2, 3, EC_ROUND_NEAREST); /* 0.666... */
    assert_string_equal(b, "0.67x");
    ec_format_ratio(b, sizeof b, 13, 10, EC_ROUND_UP); /* exact: no rounding either way */
    assert_string_equal(b, "1.30x");
    ec_format_ratio(b, sizeof b, 13, 10, EC_ROUND_DOWN);
    assert_string_equal(b, "1.30x");
    ec_format_ratio(b, sizeof b, 0, 7, EC_ROUND_UP);
    assert_string_equal(b, "0.00x");
    ec_format_ratio(b, sizeof b, 142, 10, EC_ROUND_DOWN);
    assert_string_equal(b, "14.20x");
    ec_format_ratio(b, sizeof b, UINT64_MAX, 1, EC_ROUND_UP); /* value * 100 needs 71 bits */
    assert_string_equal(b, "18446744073709551615.00x");
    ec_format_ratio(b, sizeof b, 1, UINT64_MAX, EC_ROUND_UP);
    assert_string_equal(b, "0.01x");
    ec_format_ratio(b, sizeof b, 5, 0, EC_ROUND_NEAREST);
    assert_string_equal(b, "-");
}

/* Two inputs with just the medians the verdicts read. */
static void make_inputs(struct ec_input *tv, struct ec_input *kvm, uint64_t cpuid, uint64_t mmio,
                        uint64_t kvm_mmio)
{
    char text[512];
    snprintf(text, sizeof text,
             "exitbench: op=cpuid n=1 min=%llu median=%llu p99=%llu max=%llu hv_median=0\n"
             "exitbench: op=mmio-read-edu n=1 min=%llu median=%llu p99=%llu max=%llu "
             "hv_median=0\n",
             (unsigned long long)cpuid, (unsigned long long)cpuid, (unsigned long long)cpuid,
             (unsigned long long)cpuid, (unsigned long long)mmio, (unsigned long long)mmio,
             (unsigned long long)mmio, (unsigned long long)mmio);
    assert_int_equal(parse(text, EC_ANY_CPU, tv), 0);
    snprintf(text, sizeof text,
             "exitbench: op=mmio-read-edu n=1 min=%llu median=%llu p99=%llu max=%llu "
             "hv_median=0\n",
             (unsigned long long)kvm_mmio, (unsigned long long)kvm_mmio,
             (unsigned long long)kvm_mmio, (unsigned long long)kvm_mmio);
    assert_int_equal(parse(text, EC_ANY_CPU, kvm), 0);
}

static char *verdict_text(uint64_t cpuid, uint64_t mmio, uint64_t kvm_mmio, struct ec_verdicts *v)
{
    struct ec_input tv, kvm;
    make_inputs(&tv, &kvm, cpuid, mmio, kvm_mmio);
    assert_int_equal(ec_verdicts(&tv, &kvm, v, err, sizeof err), 0);
    struct capture c;
    capture_start(&c);
    ec_print_verdicts(c.f, v);
    return capture_end(&c);
}

static void targets_are_exact_at_their_boundaries_and_printed_ratios_agree(void **state)
{
    (void)state;
    struct ec_verdicts v;
    char *t = verdict_text(100, 130, 1300, &v); /* exactly 1.3x and exactly 10x: both met */
    assert_true(v.mmio_within_1_3x_cpuid);
    assert_true(v.kvm_at_least_10x);
    assert_string_equal(t, "target: mmio-read-edu <= 1.3x cpuid under Trapvisor: 1.30x: met\n"
                           "target: mmio-read-edu on QEMU's edu under KVM >= 10x Trapvisor's: "
                           "10.00x: met\n");
    free(t);

    /* Just past each boundary: 1.3001x and 9.9992x. Nearest rounding would print 1.30x and
     * 10.00x next to "not met"; rounding towards the miss prints 1.31x and 9.99x. */
    t = verdict_text(10000, 13001, 130001 - 10, &v);
    assert_false(v.mmio_within_1_3x_cpuid);
    assert_false(v.kvm_at_least_10x);
    assert_string_equal(t, "target: mmio-read-edu <= 1.3x cpuid under Trapvisor: 1.31x: not met\n"
                           "target: mmio-read-edu on QEMU's edu under KVM >= 10x Trapvisor's: "
                           "9.99x: not met\n");
    free(t);

    /* Figures near 2^64: no overflow in the comparisons. */
    t = verdict_text(UINT64_MAX / 2, UINT64_MAX / 2, UINT64_MAX, &v);
    assert_true(v.mmio_within_1_3x_cpuid);
    assert_false(v.kvm_at_least_10x);
    free(t);
}

static void verdicts_refuse_missing_operations_zero_medians_and_swapped_inputs(void **state)
{
    (void)state;
    struct ec_input tv, kvm, none;
    struct ec_verdicts v;
    assert_int_equal(parse("exitbench: op=ram-read n=1 min=1 median=1 p99=1 max=1 hv_median=0\n",
                           EC_ANY_CPU, &none),
                     0);

    make_inputs(&tv, &kvm, 100, 200, 5000);
    assert_int_equal(ec_verdicts(&none, &kvm, &v, err, sizeof err), -1);
    assert_string_equal(err, "the Trapvisor side has no cpuid result for cpu 0");
    assert_int_equal(ec_verdicts(&tv, &none, &v, err, sizeof err), -1);
    assert_string_equal(err, "the KVM side has no mmio-read-edu result for cpu 0 (was -device edu "
                             "given?)");
    assert_int_equal(parse("exitbench: op=cpuid n=1 min=1 median=1 p99=1 max=1 hv_median=0\n",
                           EC_ANY_CPU, &none),
                     0);
    assert_int_equal(ec_verdicts(&none, &kvm, &v, err, sizeof err), -1);
    assert_string_equal(err, "the Trapvisor side has no mmio-read-edu result for cpu 0");

    make_inputs(&tv, &kvm, 0, 200, 5000);
    assert_int_equal(ec_verdicts(&tv, &kvm, &v, err, sizeof err), -1);
    assert_string_equal(err, "the Trapvisor side's cpuid median is 0: no ratio to it");
    make_inputs(&tv, &kvm, 100, 0, 5000);
    assert_int_equal(ec_verdicts(&tv, &kvm, &v, err, sizeof err), -1);
    assert_string_equal(err, "the Trapvisor side's mmio-read-edu median is 0: no ratio to it");

    make_inputs(&tv, &kvm, 100, 200, 5000);
    strcpy(tv.hypervisor, "kvm");
    assert_int_equal(ec_verdicts(&tv, &kvm, &v, err, sizeof err), -1);
    assert_non_null(strstr(err, "inputs swapped?"));
    strcpy(tv.hypervisor, "trapvisor");
    strcpy(kvm.hypervisor, "trapvisor");
    assert_int_equal(ec_verdicts(&tv, &kvm, &v, err, sizeof err), -1);
    assert_non_null(strstr(err, "inputs swapped?"));
    strcpy(kvm.hypervisor, "none"); /* QEMU TCG: allowed as the KVM side */
    assert_int_equal(ec_verdicts(&tv, &kvm, &v, err, sizeof err), 0);
}

static void table_lists_exitbench_operations_in_order_then_others_with_dashes(void **state)
{
    (void)state;
    struct ec_input tv, kvm;
    assert_int_equal(parse(TV_LOG, EC_ANY_CPU, &tv), 0);
    assert_int_equal(
        parse("exitbench: op=my-op n=3 min=1 median=1 p99=1 max=1 hv_median=0\n"
              "exitbench: op=mmio-read-edu n=9 min=2000 median=2730 p99=3000 max=3000 "
              "hv_median=0\n"
              "exitbench: op=cpuid n=9 min=1 median=1030 p99=2000 max=2000 hv_median=0\n",
              EC_ANY_CPU, &kvm),
        0);
    struct capture c;
    capture_start(&c);
    ec_print_table(c.f, &tv, &kvm);
    char *t = capture_end(&c);
    assert_string_equal(t, "| operation | Trapvisor median | KVM median | KVM / Trapvisor | "
                           "samples (Trapvisor / KVM) |\n"
                           "|---|---|---|---|---|\n"
                           "| `cpuid` | 103 | 1030 | 10.00x | 500 / 9 |\n"
                           "| `vmcall` | 151 | - | - | 500 / - |\n"
                           "| `mmio-read-edu` | 273 | 2730 | 10.00x | 500 / 9 |\n"
                           "| `my-op` | - | 1 | - | - / 3 |\n");
    free(t);
}

static void summary_prints_exitbench_own_line_format(void **state)
{
    (void)state;
    struct ec_input in;
    assert_int_equal(parse("op,cpu,iteration,ticks\nram-read,0,0,9\nram-read,0,1,7\n"
                           "ram-read,0,2,8\n",
                           EC_ANY_CPU, &in),
                     0);
    struct capture c;
    capture_start(&c);
    ec_print_summary(c.f, &in);
    char *t = capture_end(&c);
    assert_string_equal(t, "exitbench: op=ram-read n=3 min=7 median=8 p99=9 max=9 hv_median=0\n");
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(log_keeps_op_lines_and_ignores_cr_escapes_and_other_lines),
        cmocka_unit_test(log_skip_lines_and_lines_without_newline_are_fine),
        cmocka_unit_test(log_results_belong_to_the_last_cpu_line_and_the_lowest_cpu_is_the_default),
        cmocka_unit_test(log_malformed_op_lines_are_refused_with_their_line_number),
        cmocka_unit_test(log_with_two_results_for_one_cpu_is_refused),
        cmocka_unit_test(input_without_results_is_refused),
        cmocka_unit_test(csv_figures_are_nearest_rank_order_statistics_of_its_samples),
        cmocka_unit_test(csv_with_several_cpus_keeps_the_lowest_or_the_one_asked),
        cmocka_unit_test(csv_malformed_rows_are_refused_with_their_line_number),
        cmocka_unit_test(csv_iterations_out_of_sequence_are_refused),
        cmocka_unit_test(ratios_have_two_decimals_rounded_as_asked),
        cmocka_unit_test(targets_are_exact_at_their_boundaries_and_printed_ratios_agree),
        cmocka_unit_test(verdicts_refuse_missing_operations_zero_medians_and_swapped_inputs),
        cmocka_unit_test(table_lists_exitbench_operations_in_order_then_others_with_dashes),
        cmocka_unit_test(summary_prints_exitbench_own_line_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
