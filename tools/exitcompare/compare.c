/* exitcompare's parsers, comparison and report; see compare.h. */
#include "tools/exitcompare/compare.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define CSV_HEADER "op,cpu,iteration,ticks"

/* exitbench's operations in its own order; the table lists them first. */
static const char *const known_ops[] = {
    "cpuid", "vmcall", "pio-cfc", "mmio-read-edu", "mmio-write-edu", "ram-read", "stats-read",
};
#define NKNOWN (sizeof known_ops / sizeof known_ops[0])

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (err && errlen)
        vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* --- lines and fields ---------------------------------------------------------------------- */

struct cursor {
    const char *p, *end;
    unsigned line; /* 1-based number of the line last returned */
};

/* The next line without its LF, CR and trailing blanks; false at the end of the text. */
static bool next_line(struct cursor *c, const char **s, size_t *n)
{
    if (c->p >= c->end)
        return false;
    const char *start = c->p;
    const char *nl = memchr(start, '\n', (size_t)(c->end - start));
    const char *stop = nl ? nl : c->end;
    c->p = nl ? nl + 1 : c->end;
    c->line++;
    while (stop > start && (stop[-1] == '\r' || stop[-1] == ' ' || stop[-1] == '\t'))
        stop--;
    *s = start;
    *n = (size_t)(stop - start);
    return true;
}

/* A decimal without sign or blanks that fits in 64 bits. */
static bool parse_u64(const char *s, size_t n, uint64_t *v)
{
    uint64_t x = 0;
    if (n == 0 || n > 20)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        unsigned d = (unsigned)(s[i] - '0');
        if (x > (UINT64_MAX - d) / 10)
            return false;
        x = x * 10 + d;
    }
    *v = x;
    return true;
}

static bool op_name_ok(const char *s, size_t n)
{
    if (n == 0 || n > EC_OP_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
            return false;
    return true;
}

/* Finds `needle` in s[0..n); NULL if absent. */
static const char *find(const char *s, size_t n, const char *needle)
{
    size_t k = strlen(needle);
    for (size_t i = 0; i + k <= n; i++)
        if (!memcmp(s + i, needle, k))
            return s + i;
    return NULL;
}

/* Consumes "<key>=<u64>" followed by a blank or the end; *p advances past the blank. */
static bool take_field(const char **p, const char *end, const char *key, uint64_t *v)
{
    size_t k = strlen(key);
    if ((size_t)(end - *p) <= k || memcmp(*p, key, k) || (*p)[k] != '=')
        return false;
    const char *s = *p + k + 1, *e = s;
    while (e < end && *e != ' ')
        e++;
    if (!parse_u64(s, (size_t)(e - s), v))
        return false;
    *p = e < end ? e + 1 : e;
    return true;
}

/* --- the CPU set --------------------------------------------------------------------------- */

struct cpu_set {
    bool seen[EC_MAX_CPUS];
};

static int choose_cpu(const struct cpu_set *cs, int want, struct ec_input *in, char *err,
                      size_t errlen)
{
    in->ncpus = 0;
    for (unsigned c = 0; c < EC_MAX_CPUS; c++) {
        if (!cs->seen[c])
            continue;
        if (in->ncpus < sizeof in->cpus / sizeof in->cpus[0])
            in->cpus[in->ncpus] = c;
        in->ncpus++;
    }
    if (in->ncpus == 0)
        return fail(err, errlen, "no samples");
    if (want == EC_ANY_CPU) {
        in->cpu = (int)in->cpus[0];
        return 0;
    }
    if (want < 0 || want >= EC_MAX_CPUS || !cs->seen[want]) {
        char list[64] = "";
        size_t shown = in->ncpus < 8 ? in->ncpus : 8;
        for (size_t i = 0; i < shown; i++)
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%u", i ? " " : "",
                     in->cpus[i]);
        return fail(err, errlen, "no results for cpu %d (CPUs present: %s%s)", want, list,
                    in->ncpus > shown ? " ..." : "");
    }
    in->cpu = want;
    return 0;
}

/* Index of op `name` in names[0..*n), appending it if new; -1 when the table is full. */
static int op_index(char (*names)[EC_OP_NAME_MAX + 1], size_t *n, const char *s, size_t len)
{
    for (size_t i = 0; i < *n; i++)
        if (strlen(names[i]) == len && !memcmp(names[i], s, len))
            return (int)i;
    if (*n == EC_MAX_OPS)
        return -1;
    memcpy(names[*n], s, len);
    names[*n][len] = 0;
    return (int)(*n)++;
}

/* --- the serial log ------------------------------------------------------------------------ */

struct log_record {
    int op;
    unsigned cpu;
    struct sample_summary s;
    uint64_t hv;
};

static int parse_log(const char *text, size_t len, int want_cpu, struct ec_input *in, char *err,
                     size_t errlen)
{
    struct cpu_set cs = {0};
    char names[EC_MAX_OPS][EC_OP_NAME_MAX + 1];
    size_t nnames = 0;
    struct log_record *rec = NULL;
    size_t nrec = 0, caprec = 0;
    unsigned cpu = 0;
    int rc = -1;

    struct cursor c = {text, text + len, 0};
    const char *s;
    size_t n;
    while (next_line(&c, &s, &n)) {
        const char *tag = find(s, n, "exitbench: ");
        if (!tag)
            continue;
        const char *p = tag + strlen("exitbench: "), *end = s + n;
        if ((size_t)(end - p) >= 4 && !memcmp(p, "cpu ", 4)) {
            /* "cpu <N> apic_id <M>" */
            const char *q = p + 4, *e = q;
            while (e < end && *e != ' ')
                e++;
            uint64_t v;
            if (!parse_u64(q, (size_t)(e - q), &v) || v >= EC_MAX_CPUS || (size_t)(end - e) < 9 ||
                memcmp(e, " apic_id ", 9)) {
                fail(err, errlen, "line %u: malformed 'exitbench: cpu' line", c.line);
                goto out;
            }
            cpu = (unsigned)v;
            continue;
        }
        if ((size_t)(end - p) >= 11 && !memcmp(p, "hypervisor ", 11)) {
            const char *q = p + 11, *e = q;
            while (e < end && *e != ' ')
                e++;
            size_t k = (size_t)(e - q) < EC_HV_NAME_MAX ? (size_t)(e - q) : EC_HV_NAME_MAX;
            memcpy(in->hypervisor, q, k);
            in->hypervisor[k] = 0;
            continue;
        }
        if ((size_t)(end - p) < 3 || memcmp(p, "op=", 3))
            continue; /* another exitbench line ("edu at", "vmcall skipped: ...") */

        /* "op=<name> n=<N> min=<a> median=<b> p99=<c> max=<d> hv_median=<e>", nothing after. */
        const char *q = p + 3, *e = q;
        while (e < end && *e != ' ')
            e++;
        if (!op_name_ok(q, (size_t)(e - q)) || e == end) {
            fail(err, errlen, "line %u: malformed op= line (operation name)", c.line);
            goto out;
        }
        const char *name = q;
        size_t name_len = (size_t)(e - q);
        p = e + 1;
        uint64_t vn, vmin, vmed, vp99, vmax, vhv;
        if (!take_field(&p, end, "n", &vn) || !take_field(&p, end, "min", &vmin) ||
            !take_field(&p, end, "median", &vmed) || !take_field(&p, end, "p99", &vp99) ||
            !take_field(&p, end, "max", &vmax) || !take_field(&p, end, "hv_median", &vhv) ||
            p != end) {
            fail(err, errlen,
                 "line %u: malformed op= line (want op=NAME n=N min=A median=B p99=C max=D "
                 "hv_median=E)",
                 c.line);
            goto out;
        }
        if (vn == 0 || vmin > vmed || vmed > vp99 || vp99 > vmax) {
            fail(err, errlen,
                 "line %u: inconsistent figures (n=0 or not min <= median <= p99 "
                 "<= max)",
                 c.line);
            goto out;
        }
        int op = op_index(names, &nnames, name, name_len);
        if (op < 0) {
            fail(err, errlen, "line %u: more than %d different operations", c.line, EC_MAX_OPS);
            goto out;
        }
        for (size_t i = 0; i < nrec; i++) {
            if (rec[i].op == op && rec[i].cpu == cpu) {
                fail(err, errlen,
                     "line %u: a second op=%s line for cpu %u (two runs in one log? keep one)",
                     c.line, names[op], cpu);
                goto out;
            }
        }
        if (nrec == caprec) {
            size_t ncap = caprec ? 2 * caprec : 32;
            struct log_record *r = realloc(rec, ncap * sizeof *r);
            if (!r) {
                fail(err, errlen, "out of memory");
                goto out;
            }
            rec = r;
            caprec = ncap;
        }
        rec[nrec++] = (struct log_record){
            .op = op,
            .cpu = cpu,
            .s = {.n = (size_t)vn, .min = vmin, .median = vmed, .p99 = vp99, .max = vmax},
            .hv = vhv,
        };
        cs.seen[cpu] = true;
    }
    if (nrec == 0) {
        fail(err, errlen,
             "no exitbench results (neither 'exitbench: op=' lines nor an "
             "exitbench CSV)");
        goto out;
    }
    if (choose_cpu(&cs, want_cpu, in, err, errlen))
        goto out;
    for (size_t op = 0; op < nnames; op++) {
        for (size_t i = 0; i < nrec; i++) {
            if (rec[i].op != (int)op || rec[i].cpu != (unsigned)in->cpu)
                continue;
            struct ec_op *o = &in->ops[in->nops++];
            memcpy(o->name, names[op], sizeof o->name);
            o->s = rec[i].s;
            o->hv_median = rec[i].hv;
        }
    }
    rc = 0;
out:
    free(rec);
    return rc;
}

/* --- the CSV ------------------------------------------------------------------------------- */

struct csv_row {
    const char *op;
    size_t op_len;
    uint64_t cpu, iteration, ticks;
};

static bool split_row(const char *s, size_t n, struct csv_row *r)
{
    const char *f[4];
    size_t fl[4];
    size_t k = 0;
    const char *start = s, *end = s + n;
    for (const char *p = s;; p++) {
        if (p == end || *p == ',') {
            if (k == 4)
                return false;
            f[k] = start;
            fl[k] = (size_t)(p - start);
            k++;
            if (p == end)
                break;
            start = p + 1;
        }
    }
    if (k != 4 || !op_name_ok(f[0], fl[0]) || !parse_u64(f[1], fl[1], &r->cpu) ||
        r->cpu >= EC_MAX_CPUS || !parse_u64(f[2], fl[2], &r->iteration) ||
        !parse_u64(f[3], fl[3], &r->ticks))
        return false;
    r->op = f[0];
    r->op_len = fl[0];
    return true;
}

static int parse_csv(const char *text, size_t len, int want_cpu, struct ec_input *in, char *err,
                     size_t errlen)
{
    struct cpu_set cs = {0};
    char names[EC_MAX_OPS][EC_OP_NAME_MAX + 1];
    size_t nnames = 0;
    /* Samples seen so far per operation and CPU: the next iteration number expected. */
    uint64_t *count = calloc((size_t)EC_MAX_OPS * EC_MAX_CPUS, sizeof *count);
    uint64_t *v[EC_MAX_OPS] = {0};
    int rc = -1;
    if (!count)
        return fail(err, errlen, "out of memory");

    /* Pass 1: every row well formed, iterations in sequence; which CPUs are present. */
    struct cursor c = {text, text + len, 0};
    const char *s;
    size_t n;
    bool header = false;
    while (next_line(&c, &s, &n)) {
        if (n == 0)
            continue;
        if (!header) {
            header = true; /* ec_parse saw it */
            continue;
        }
        struct csv_row r;
        if (!split_row(s, n, &r)) {
            fail(err, errlen, "line %u: malformed CSV row (want op,cpu,iteration,ticks)", c.line);
            goto out;
        }
        int op = op_index(names, &nnames, r.op, r.op_len);
        if (op < 0) {
            fail(err, errlen, "line %u: more than %d different operations", c.line, EC_MAX_OPS);
            goto out;
        }
        uint64_t *k = &count[(size_t)op * EC_MAX_CPUS + r.cpu];
        if (r.iteration != *k) {
            fail(err, errlen,
                 "line %u: %s on cpu %llu: iteration %llu out of sequence (expected %llu)", c.line,
                 names[op], (unsigned long long)r.cpu, (unsigned long long)r.iteration,
                 (unsigned long long)*k);
            goto out;
        }
        (*k)++;
        cs.seen[r.cpu] = true;
    }
    if (choose_cpu(&cs, want_cpu, in, err, errlen))
        goto out;

    /* Pass 2: the chosen CPU's samples, then exitbench's own summary of them. */
    for (size_t op = 0; op < nnames; op++) {
        uint64_t k = count[op * EC_MAX_CPUS + (size_t)in->cpu];
        if (k && !(v[op] = malloc((size_t)k * sizeof(uint64_t)))) {
            fail(err, errlen, "out of memory");
            goto out;
        }
    }
    c = (struct cursor){text, text + len, 0};
    header = false;
    size_t filled[EC_MAX_OPS] = {0};
    while (next_line(&c, &s, &n)) {
        if (n == 0)
            continue;
        if (!header) {
            header = true;
            continue;
        }
        struct csv_row r;
        split_row(s, n, &r); /* checked in pass 1 */
        if (r.cpu != (uint64_t)in->cpu)
            continue;
        int op = op_index(names, &nnames, r.op, r.op_len);
        v[op][filled[op]++] = r.ticks;
    }
    for (size_t op = 0; op < nnames; op++) {
        if (!filled[op])
            continue;
        struct ec_op *o = &in->ops[in->nops++];
        memcpy(o->name, names[op], sizeof o->name);
        o->s = samples_summarize(v[op], filled[op]);
        o->hv_median = 0;
    }
    rc = 0;
out:
    for (size_t op = 0; op < EC_MAX_OPS; op++)
        free(v[op]);
    free(count);
    return rc;
}

int ec_parse(const char *text, size_t len, int want_cpu, struct ec_input *in, char *err,
             size_t errlen)
{
    memset(in, 0, sizeof *in);
    if (err && errlen)
        err[0] = 0;
    /* The CSV starts with its header (blank lines before it are tolerated). */
    struct cursor c = {text, text + len, 0};
    const char *s = NULL;
    size_t n = 0;
    while (next_line(&c, &s, &n) && n == 0)
        ;
    bool csv = c.line && n == strlen(CSV_HEADER) && !memcmp(s, CSV_HEADER, n);
    in->format = csv ? EC_FORMAT_CSV : EC_FORMAT_LOG;
    int rc = csv ? parse_csv(text, len, want_cpu, in, err, errlen)
                 : parse_log(text, len, want_cpu, in, err, errlen);
    if (rc)
        in->nops = 0;
    return rc;
}

const struct ec_op *ec_find_op(const struct ec_input *in, const char *name)
{
    for (size_t i = 0; i < in->nops; i++)
        if (!strcmp(in->ops[i].name, name))
            return &in->ops[i];
    return NULL;
}

const char *ec_format_name(enum ec_format f)
{
    return f == EC_FORMAT_CSV ? "CSV" : "serial log";
}

/* --- ratios and verdicts ------------------------------------------------------------------- */

int ec_format_ratio(char *buf, size_t size, uint64_t value, uint64_t base, enum ec_round r)
{
    if (base == 0)
        return snprintf(buf, size, "-");
    /* Hundredths in 128 bits: value * 100 cannot overflow. */
    unsigned __int128 num = (unsigned __int128)value * 100;
    unsigned __int128 q = num / base, rem = num % base;
    if (r == EC_ROUND_UP && rem)
        q++;
    else if (r == EC_ROUND_NEAREST && 2 * rem >= base)
        q++;
    unsigned __int128 whole = q / 100;
    unsigned frac = (unsigned)(q % 100);
    /* base >= 1, so q <= value * 100 and whole <= value: it fits in 64 bits. */
    return snprintf(buf, size, "%llu.%02ux", (unsigned long long)whole, frac);
}

int ec_verdicts(const struct ec_input *tv, const struct ec_input *kvm, struct ec_verdicts *v,
                char *err, size_t errlen)
{
    memset(v, 0, sizeof *v);
    if (tv->hypervisor[0] && strcmp(tv->hypervisor, "trapvisor"))
        return fail(err, errlen,
                    "the Trapvisor side says 'exitbench: hypervisor %s': it did not run under "
                    "Trapvisor (inputs swapped?)",
                    tv->hypervisor);
    if (!strcmp(kvm->hypervisor, "trapvisor"))
        return fail(err, errlen,
                    "the KVM side says 'exitbench: hypervisor trapvisor': it ran under Trapvisor "
                    "(inputs swapped?)");
    const struct ec_op *tc = ec_find_op(tv, "cpuid"), *tm = ec_find_op(tv, "mmio-read-edu");
    const struct ec_op *km = ec_find_op(kvm, "mmio-read-edu");
    if (!tc)
        return fail(err, errlen, "the Trapvisor side has no cpuid result for cpu %d", tv->cpu);
    if (!tm)
        return fail(err, errlen, "the Trapvisor side has no mmio-read-edu result for cpu %d",
                    tv->cpu);
    if (!km)
        return fail(err, errlen,
                    "the KVM side has no mmio-read-edu result for cpu %d (was -device edu "
                    "given?)",
                    kvm->cpu);
    if (tc->s.median == 0)
        return fail(err, errlen, "the Trapvisor side's cpuid median is 0: no ratio to it");
    if (tm->s.median == 0)
        return fail(err, errlen, "the Trapvisor side's mmio-read-edu median is 0: no ratio to it");
    v->tv_cpuid = tc->s.median;
    v->tv_mmio = tm->s.median;
    v->kvm_mmio = km->s.median;
    /* Exact in integers: mmio <= 1.3 cpuid  <=>  10 mmio <= 13 cpuid. */
    v->mmio_within_1_3x_cpuid =
        (unsigned __int128)v->tv_mmio * 10 <= (unsigned __int128)v->tv_cpuid * 13;
    v->kvm_at_least_10x = (unsigned __int128)v->kvm_mmio >= (unsigned __int128)v->tv_mmio * 10;
    return 0;
}

void ec_print_verdicts(FILE *f, const struct ec_verdicts *v)
{
    char r1[48], r2[48];
    ec_format_ratio(r1, sizeof r1, v->tv_mmio, v->tv_cpuid, EC_ROUND_UP);
    ec_format_ratio(r2, sizeof r2, v->kvm_mmio, v->tv_mmio, EC_ROUND_DOWN);
    fprintf(f, "target: mmio-read-edu <= 1.3x cpuid under Trapvisor: %s: %s\n", r1,
            v->mmio_within_1_3x_cpuid ? "met" : "not met");
    fprintf(f, "target: mmio-read-edu on QEMU's edu under KVM >= 10x Trapvisor's: %s: %s\n", r2,
            v->kvm_at_least_10x ? "met" : "not met");
}

/* --- the table ----------------------------------------------------------------------------- */

static void print_row(FILE *f, const char *name, const struct ec_input *tv,
                      const struct ec_input *kvm)
{
    const struct ec_op *a = ec_find_op(tv, name), *b = ec_find_op(kvm, name);
    char ta[24] = "-", kb[24] = "-", ratio[48] = "-", na[24] = "-", nb[24] = "-";
    if (a) {
        snprintf(ta, sizeof ta, "%llu", (unsigned long long)a->s.median);
        snprintf(na, sizeof na, "%zu", a->s.n);
    }
    if (b) {
        snprintf(kb, sizeof kb, "%llu", (unsigned long long)b->s.median);
        snprintf(nb, sizeof nb, "%zu", b->s.n);
    }
    if (a && b && a->s.median)
        ec_format_ratio(ratio, sizeof ratio, b->s.median, a->s.median, EC_ROUND_NEAREST);
    fprintf(f, "| `%s` | %s | %s | %s | %s / %s |\n", name, ta, kb, ratio, na, nb);
}

static bool is_known(const char *name)
{
    for (size_t i = 0; i < NKNOWN; i++)
        if (!strcmp(known_ops[i], name))
            return true;
    return false;
}

void ec_print_table(FILE *f, const struct ec_input *tv, const struct ec_input *kvm)
{
    fprintf(f, "| operation | Trapvisor median | KVM median | KVM / Trapvisor | samples "
               "(Trapvisor / KVM) |\n");
    fprintf(f, "|---|---|---|---|---|\n");
    for (size_t i = 0; i < NKNOWN; i++)
        if (ec_find_op(tv, known_ops[i]) || ec_find_op(kvm, known_ops[i]))
            print_row(f, known_ops[i], tv, kvm);
    for (size_t i = 0; i < tv->nops; i++)
        if (!is_known(tv->ops[i].name))
            print_row(f, tv->ops[i].name, tv, kvm);
    for (size_t i = 0; i < kvm->nops; i++)
        if (!is_known(kvm->ops[i].name) && !ec_find_op(tv, kvm->ops[i].name))
            print_row(f, kvm->ops[i].name, tv, kvm);
}

void ec_print_summary(FILE *f, const struct ec_input *in)
{
    for (size_t i = 0; i < in->nops; i++) {
        char line[256];
        samples_format_line(line, sizeof line, in->ops[i].name, &in->ops[i].s,
                            in->ops[i].hv_median);
        fputs(line, f);
    }
}
