/* exitcompare's parsers, comparison and report (host C; the tool is tools/exitcompare/
 * exitcompare.c, the tests tests/exitcompare/).
 *
 * An input is one exitbench result, in either of exitbench's two outputs:
 * - a console or serial log: every line holding "exitbench: op=..." (anything before it on the
 *   line, CRs and every other line are ignored) must be exactly
 *   "exitbench: op=<name> n=<N> min=<a> median=<b> p99=<c> max=<d> hv_median=<e>";
 *   "exitbench: cpu <N> apic_id <M>" starts CPU N's lines (lines before any such line are
 *   CPU 0's); "exitbench: hypervisor <what>" is remembered;
 * - the CSV (first non-empty line "op,cpu,iteration,ticks", then one sample a row, iterations
 *   0, 1, 2, ... per operation and CPU): min/median/p99/max are computed per operation with
 *   exitbench's own samples_summarize (tools/exitbench/samples.c), hv_median is 0.
 * One CPU is kept: the one asked for, or by default the lowest CPU present.
 * Any departure from that is an error with a one-line message naming the line. */
#ifndef TRAPVISOR_EXITCOMPARE_COMPARE_H
#define TRAPVISOR_EXITCOMPARE_COMPARE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "tools/exitbench/samples.h"

#define EC_MAX_OPS     16
#define EC_MAX_CPUS    4096
#define EC_OP_NAME_MAX 31
#define EC_HV_NAME_MAX 15
#define EC_ERR_MAX     256
#define EC_ANY_CPU     (-1)

enum ec_format { EC_FORMAT_LOG, EC_FORMAT_CSV };

struct ec_op {
    char name[EC_OP_NAME_MAX + 1];
    struct sample_summary s;
    uint64_t hv_median;
};

struct ec_input {
    enum ec_format format;
    int cpu;                             /* the CPU kept */
    unsigned ncpus;                      /* how many CPUs the input holds */
    unsigned cpus[8];                    /* the first (lowest) of them, for messages */
    char hypervisor[EC_HV_NAME_MAX + 1]; /* from "exitbench: hypervisor X"; "" if none */
    size_t nops;
    struct ec_op ops[EC_MAX_OPS]; /* in the order the input first names them */
};

/* Parses one input held in text[0..len) (it need not be NUL-terminated). want_cpu is a CPU
 * number or EC_ANY_CPU (the lowest present). Returns 0, or -1 with a one-line reason in err
 * ("line 12: ..." where a line is at fault). */
int ec_parse(const char *text, size_t len, int want_cpu, struct ec_input *in, char *err,
             size_t errlen);

/* The operation named `name` in `in`, or NULL. */
const struct ec_op *ec_find_op(const struct ec_input *in, const char *name);

/* value/base as a decimal with two fractional digits and an "x" ("2.65x"), rounded down, up,
 * or to the nearest; base must not be 0. Returns the length (as snprintf). */
enum ec_round { EC_ROUND_DOWN, EC_ROUND_UP, EC_ROUND_NEAREST };
int ec_format_ratio(char *buf, size_t size, uint64_t value, uint64_t base, enum ec_round r);

/* Issue 5's real-hardware targets, from the two inputs' medians. */
struct ec_verdicts {
    uint64_t tv_cpuid, tv_mmio, kvm_mmio;
    bool mmio_within_1_3x_cpuid; /* tv_mmio <= 1.3 * tv_cpuid */
    bool kvm_at_least_10x;       /* kvm_mmio >= 10 * tv_mmio */
};

/* Fills v. Errors (-1 and err): cpuid or mmio-read-edu missing from the Trapvisor side,
 * mmio-read-edu missing from the KVM side, a zero median that a ratio divides by, or a log
 * whose "exitbench: hypervisor" line says the sides are swapped (the Trapvisor side not under
 * Trapvisor, the KVM side under Trapvisor). */
int ec_verdicts(const struct ec_input *tv, const struct ec_input *kvm, struct ec_verdicts *v,
                char *err, size_t errlen);

/* The two verdict lines, e.g.
 * "target: mmio-read-edu <= 1.3x cpuid under Trapvisor: 2.65x: not met\n"
 * "target: mmio-read-edu on QEMU's edu under KVM >= 10x Trapvisor's: 14.20x: met\n".
 * A ratio is rounded towards missing its target (up for "<=", down for ">="), so a printed
 * figure never looks met when the target is not. */
void ec_print_verdicts(FILE *f, const struct ec_verdicts *v);

/* The Markdown table: one row per operation of either input (exitbench's order first, then
 * any other in the order met), Trapvisor median, KVM median, KVM / Trapvisor (nearest), and
 * the sample counts; "-" where a side did not measure an operation. */
void ec_print_table(FILE *f, const struct ec_input *tv, const struct ec_input *kvm);

/* One line per operation in exitbench's own format (what the input says, or what its CSV
 * samples give), for checking a CSV against the log of the same run. */
void ec_print_summary(FILE *f, const struct ec_input *in);

/* "serial log" or "CSV". */
const char *ec_format_name(enum ec_format f);

#endif
