/* exitcompare: Trapvisor's exitbench result against a KVM guest's (QEMU's userspace edu), as
 * a Markdown table and issue 5's two real-hardware verdicts. See --help and
 * docs/exit-comparison.md. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/exitcompare/compare.h"

/* exitbench's largest CSV: 100,000 samples x 7 operations x 32 CPUs, at most ~32 bytes a row,
 * about 700 MB. The bound only keeps a wrong file (a device, a disk image) from filling memory. */
#define MAX_INPUT_BYTES ((size_t)1 << 30)

static const char usage_text[] =
    "usage: exitcompare [--cpu N] TRAPVISOR KVM\n"
    "       exitcompare --summary [--cpu N] FILE\n"
    "\n"
    "TRAPVISOR and KVM are exitbench.efi results from one machine: TRAPVISOR under Trapvisor\n"
    "(the USB stick, or nested), KVM in a QEMU/KVM guest with -device edu and no Trapvisor.\n"
    "Each is either a console/serial log holding 'exitbench: op=' lines (other lines and CRs\n"
    "are ignored) or exitbench's CSV (\\trapvisor\\exitbench.csv: op,cpu,iteration,ticks), of\n"
    "which min/median/p99/max are computed as exitbench computes them.\n"
    "\n"
    "Prints a Markdown table (per operation: Trapvisor median, KVM median, KVM / Trapvisor,\n"
    "sample counts) and issue 5's two targets:\n"
    "  target: mmio-read-edu <= 1.3x cpuid under Trapvisor: R: met|not met\n"
    "  target: mmio-read-edu on QEMU's edu under KVM >= 10x Trapvisor's: R: met|not met\n"
    "Ratios have two decimals, rounded towards missing the target.\n"
    "\n"
    "  --cpu N     use CPU N's results from both inputs (exitbench --all-cpus); default: in\n"
    "              each input the lowest CPU present\n"
    "  --summary   print FILE's results as exitbench's own op= lines (hv_median=0 from a CSV)\n"
    "  --help      this text\n"
    "\n"
    "Exit status: 0 results printed (whether or not the targets are met); 2 bad usage or\n"
    "bad input (missing file, no results, a malformed line, an operation missing, a zero\n"
    "median, CPU N absent), with one 'exitcompare: ...' line on stderr.\n";

static int die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("exitcompare: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2);
}

/* The whole file in memory (NUL-terminated for convenience; the parser uses the length). */
static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        die("cannot read '%s': %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    if (!buf)
        die("out of memory");
    for (;;) {
        if (n == cap) {
            if (cap >= MAX_INPUT_BYTES)
                die("'%s' is larger than %zu MiB: not an exitbench result", path,
                    MAX_INPUT_BYTES >> 20);
            cap *= 2;
            char *b = realloc(buf, cap);
            if (!b)
                die("out of memory");
            buf = b;
        }
        errno = 0;
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    if (ferror(f))
        die("cannot read '%s': %s", path, errno ? strerror(errno) : "read error");
    fclose(f);
    *len = n;
    return buf;
}

static void load(const char *path, int cpu, struct ec_input *in)
{
    size_t len;
    char *text = read_all(path, &len);
    char err[EC_ERR_MAX];
    if (ec_parse(text, len, cpu, in, err, sizeof err))
        die("%s: %s", path, err);
    free(text);
}

static void describe(const char *side, const char *path, const struct ec_input *in)
{
    printf("- %s: `%s` (%s, cpu %d", side, path, ec_format_name(in->format), in->cpu);
    if (in->ncpus > 1)
        printf(" of %u CPUs", in->ncpus);
    if (in->hypervisor[0])
        printf(", exitbench saw hypervisor %s", in->hypervisor);
    printf(")\n");
}

int main(int argc, char **argv)
{
    int cpu = EC_ANY_CPU;
    bool summary = false;
    const char *files[2];
    int nfiles = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(usage_text, stdout);
            return 0;
        } else if (!strcmp(a, "--summary")) {
            summary = true;
        } else if (!strcmp(a, "--cpu")) {
            char *end;
            if (i + 1 >= argc)
                die("--cpu needs a CPU number (--help)");
            errno = 0;
            long v = strtol(argv[++i], &end, 10);
            if (errno || *end || end == argv[i] || v < 0 || v >= EC_MAX_CPUS)
                die("--cpu needs a CPU number from 0 to %d, not '%s'", EC_MAX_CPUS - 1, argv[i]);
            cpu = (int)v;
        } else if (a[0] == '-' && a[1]) {
            die("unknown option '%s' (--help)", a);
        } else if (nfiles < 2) {
            files[nfiles++] = a;
        } else {
            die("too many files (--help)");
        }
    }

    if (summary) {
        if (nfiles != 1)
            die("--summary takes one file (--help)");
        static struct ec_input in;
        load(files[0], cpu, &in);
        ec_print_summary(stdout, &in);
        return 0;
    }
    if (nfiles != 2)
        die("need two files, TRAPVISOR and KVM (--help)");

    static struct ec_input tv, kvm;
    load(files[0], cpu, &tv);
    load(files[1], cpu, &kvm);
    struct ec_verdicts v;
    char err[EC_ERR_MAX];
    if (ec_verdicts(&tv, &kvm, &v, err, sizeof err))
        die("%s", err);

    describe("Trapvisor", files[0], &tv);
    describe("KVM", files[1], &kvm);
    printf("\n");
    ec_print_table(stdout, &tv, &kvm);
    printf("\n");
    ec_print_verdicts(stdout, &v);
    return 0;
}
