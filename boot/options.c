/* Trapvisor's settings from the load options and the config file; see options.h.
 *
 * One table of settings serves both sources: a boolean setting `name` is `--name`,
 * `--no-name` or `--name=BOOL` on the command line and `name = BOOL` in the file; a valued
 * setting is `--name VALUE`, `--name=VALUE` or `name = VALUE`. No libc: this file is built
 * for the host (tests) and freestanding (trapvisor.efi). */
#include "boot/options.h"

#include "lib/fmt.h"

/* --- small string helpers (no libc) ------------------------------------------------------- */

static char ascii_lower(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* Case-insensitive comparison of a counted string with a NUL-terminated one. */
static bool word_is(const char *s, size_t n, const char *lit)
{
    size_t i = 0;
    for (; i < n; i++) {
        if (lit[i] == '\0' || ascii_lower(s[i]) != ascii_lower(lit[i]))
            return false;
    }
    return lit[i] == '\0';
}

/* A short, printable rendering of untrusted text for an error line: at most 32 characters,
 * anything unprintable as '?', "..." when cut. */
static void quote_value(char *out, size_t out_size, const char *s, size_t n)
{
    size_t o = 0, max = 32;
    for (size_t i = 0; i < n && i < max && o + 1 < out_size; i++) {
        char c = s[i];
        out[o++] = (c >= 0x20 && c < 0x7F) ? c : '?';
    }
    if (n > max) {
        for (int k = 0; k < 3 && o + 1 < out_size; k++)
            out[o++] = '.';
    }
    if (out_size)
        out[o] = '\0';
}

/* --- error reporting ------------------------------------------------------------------------ */

struct parse_ctx {
    struct options *o;
    struct options_error *err;
    unsigned line; /* 0: command line */
};

static void ctx_error(struct parse_ctx *c, const char *what, const char *s, size_t n)
{
    char q[40];
    quote_value(q, sizeof q, s, n);
    c->err->line = c->line;
    if (c->line)
        fmt_snprintf(c->err->text, sizeof c->err->text, "trapvisor.cfg line %u: %s '%s'", c->line,
                     what, q);
    else
        fmt_snprintf(c->err->text, sizeof c->err->text, "command line: %s '%s'", what, q);
}

static void ctx_error_plain(struct parse_ctx *c, const char *what)
{
    c->err->line = c->line;
    if (c->line)
        fmt_snprintf(c->err->text, sizeof c->err->text, "trapvisor.cfg line %u: %s", c->line, what);
    else
        fmt_snprintf(c->err->text, sizeof c->err->text, "command line: %s", what);
}

/* --- values ---------------------------------------------------------------------------------- */

static bool parse_bool(const char *v, size_t n, bool *out)
{
    if (word_is(v, n, "on") || word_is(v, n, "yes") || word_is(v, n, "true") ||
        word_is(v, n, "1")) {
        *out = true;
        return true;
    }
    if (word_is(v, n, "off") || word_is(v, n, "no") || word_is(v, n, "false") ||
        word_is(v, n, "0")) {
        *out = false;
        return true;
    }
    return false;
}

/* Decimal or 0x-prefixed hexadecimal, at most `max`; no sign, no trailing characters. */
static bool parse_number(const char *v, size_t n, uint32_t max, uint32_t *out)
{
    uint32_t base = 10;
    size_t i = 0;
    if (n > 2 && v[0] == '0' && (v[1] == 'x' || v[1] == 'X')) {
        base = 16;
        i = 2;
    }
    if (i >= n)
        return false;
    uint64_t acc = 0;
    for (; i < n; i++) {
        char c = ascii_lower(v[i]);
        uint32_t d;
        if (c >= '0' && c <= '9')
            d = (uint32_t)(c - '0');
        else if (base == 16 && c >= 'a' && c <= 'f')
            d = (uint32_t)(c - 'a' + 10);
        else
            return false;
        acc = acc * base + d;
        if (acc > max)
            return false;
    }
    *out = (uint32_t)acc;
    return true;
}

static bool set_log(struct parse_ctx *c, const char *v, size_t n)
{
    if (word_is(v, n, "quiet"))
        c->o->verbosity = OPTIONS_QUIET;
    else if (word_is(v, n, "normal"))
        c->o->verbosity = OPTIONS_NORMAL;
    else if (word_is(v, n, "verbose"))
        c->o->verbosity = OPTIONS_VERBOSE;
    else {
        ctx_error(c, "log must be quiet, normal or verbose, not", v, n);
        return false;
    }
    return true;
}

static bool set_start(struct parse_ctx *c, const char *v, size_t n)
{
    if (word_is(v, n, "none")) {
        c->o->start[0] = '\0';
        return true;
    }
    if (n == 0 || (v[0] != '\\' && v[0] != '/')) {
        ctx_error(c, "start must be a path on the ESP beginning with '\\' (or 'none'), not", v, n);
        return false;
    }
    if (n >= OPTIONS_PATH_MAX) {
        ctx_error(c, "start path longer than 255 characters:", v, n);
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (v[i] < 0x20 || v[i] >= 0x7F || v[i] == '"' || v[i] == ':') {
            ctx_error(c, "start path has a character that cannot be in a file path:", v, n);
            return false;
        }
    }
    for (size_t i = 0; i < n; i++)
        c->o->start[i] = v[i] == '/' ? '\\' : v[i];
    c->o->start[n] = '\0';
    return true;
}

static bool set_serial(struct parse_ctx *c, const char *v, size_t n)
{
    static const uint16_t com_ports[4] = {0x3F8, 0x2F8, 0x3E8, 0x2E8};
    uint32_t port;
    if (word_is(v, n, "off") || word_is(v, n, "none")) {
        c->o->serial_port = OPTIONS_SERIAL_OFF;
        return true;
    }
    if (n == 4 && word_is(v, 3, "com") && v[3] >= '1' && v[3] <= '4') {
        c->o->serial_port = com_ports[v[3] - '1'];
        return true;
    }
    /* A 16550 occupies eight consecutive ports, so its base is at most 0xFFF8. */
    if (!parse_number(v, n, 0xFFF8, &port) || port == 0) {
        ctx_error(c, "serial must be an I/O port (0x1-0xfff8), com1-com4 or off, not", v, n);
        return false;
    }
    c->o->serial_port = (uint16_t)port;
    return true;
}

static bool set_cpus(struct parse_ctx *c, const char *v, size_t n)
{
    uint32_t cpus;
    if (word_is(v, n, "all")) {
        c->o->cpus = 0;
        return true;
    }
    if (!parse_number(v, n, OPTIONS_CPUS_MAX, &cpus) || cpus == 0) {
        ctx_error(c, "cpus must be 1-1024 or all, not", v, n);
        return false;
    }
    c->o->cpus = cpus;
    return true;
}

/* --- the settings table ------------------------------------------------------------------------
 */

enum setting_kind { SETTING_BOOL, SETTING_VALUE };

struct setting {
    const char *name;
    enum setting_kind kind;
    size_t bool_offset;                                        /* SETTING_BOOL */
    bool (*set)(struct parse_ctx *c, const char *v, size_t n); /* SETTING_VALUE */
};

#define BOOL_SETTING(key, field)                                                                   \
    {                                                                                              \
        key, SETTING_BOOL, offsetof(struct options, field), 0                                      \
    }
#define VALUE_SETTING(key, fn)                                                                     \
    {                                                                                              \
        key, SETTING_VALUE, 0, fn                                                                  \
    }

static const struct setting settings[] = {
    BOOL_SETTING("edu", edu),
    BOOL_SETTING("stats", stats),
    BOOL_SETTING("caps", caps),
    BOOL_SETTING("dry-run", dry_run),
    VALUE_SETTING("log", set_log),
    VALUE_SETTING("start", set_start),
    VALUE_SETTING("serial", set_serial),
    VALUE_SETTING("cpus", set_cpus),
};

/* Looks a setting up by name; '_' matches '-' and case does not matter. */
static const struct setting *find_setting(const char *name, size_t n)
{
    for (size_t i = 0; i < sizeof settings / sizeof settings[0]; i++) {
        const char *s = settings[i].name;
        size_t k = 0;
        for (; k < n && s[k] != '\0'; k++) {
            char a = ascii_lower(name[k]);
            if (a == '_')
                a = '-';
            if (a != s[k])
                break;
        }
        if (k == n && s[k] == '\0')
            return &settings[i];
    }
    return 0;
}

static bool apply_value(struct parse_ctx *c, const struct setting *s, const char *v, size_t n)
{
    if (s->kind == SETTING_BOOL) {
        bool b;
        if (!parse_bool(v, n, &b)) {
            char what[48];
            fmt_snprintf(what, sizeof what, "%s must be on or off, not", s->name);
            ctx_error(c, what, v, n);
            return false;
        }
        *(bool *)((char *)c->o + s->bool_offset) = b;
        return true;
    }
    return s->set(c, v, n);
}

void options_defaults(struct options *o)
{
    o->edu = true;
    o->stats = true;
    o->verbosity = OPTIONS_NORMAL;
    o->caps = false;
    o->dry_run = false;
    o->help = false;
    for (size_t i = 0; i < OPTIONS_PATH_MAX; i++)
        o->start[i] = '\0';
    o->serial_port = OPTIONS_SERIAL_COM1;
    o->cpus = 0;
}

/* --- the config file -----------------------------------------------------------------------------
 */

static bool is_key_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '-' || ch == '_';
}

/* One line without its line terminator; characters are already checked to be printable
 * ASCII or tab. */
static bool parse_config_line(struct parse_ctx *c, const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && is_blank(s[i]))
        i++;
    if (i == n || s[i] == '#')
        return true;
    size_t key = i;
    while (i < n && is_key_char(s[i]))
        i++;
    size_t key_len = i - key;
    while (i < n && is_blank(s[i]))
        i++;
    if (key_len == 0 || i == n || s[i] != '=') {
        ctx_error(c, "expected 'key = value', got", s + key, n - key);
        return false;
    }
    const struct setting *set = find_setting(s + key, key_len);
    if (!set) {
        ctx_error(c, "unknown key", s + key, key_len);
        return false;
    }
    i++; /* '=' */
    while (i < n && is_blank(s[i]))
        i++;
    const char *v = s + i;
    size_t vn;
    if (i < n && s[i] == '"') {
        size_t close = i + 1;
        while (close < n && s[close] != '"')
            close++;
        if (close == n) {
            ctx_error(c, "no closing quote in", s + i, n - i);
            return false;
        }
        v = s + i + 1;
        vn = close - i - 1;
        i = close + 1;
        while (i < n && is_blank(s[i]))
            i++;
        if (i < n && s[i] != '#') {
            ctx_error(c, "text after the quoted value:", s + i, n - i);
            return false;
        }
    } else {
        /* The value ends at a '#' that follows a blank (a comment) or at the line's end. */
        size_t end = i;
        while (end < n && !(s[end] == '#' && end > 0 && is_blank(s[end - 1])))
            end++;
        while (end > i && is_blank(s[end - 1]))
            end--;
        vn = end - i;
        if (vn == 0) {
            ctx_error(c, "no value for", s + key, key_len);
            return false;
        }
    }
    return apply_value(c, set, v, vn);
}

enum options_result options_parse_config(struct options *o, const char *text, size_t len,
                                         struct options_error *err)
{
    struct parse_ctx c = {o, err, 0};
    err->line = 0;
    err->text[0] = '\0';
    if (len > OPTIONS_CONFIG_MAX) {
        fmt_snprintf(err->text, sizeof err->text,
                     "trapvisor.cfg: %zu bytes, larger than the %u-byte limit", len,
                     (unsigned)OPTIONS_CONFIG_MAX);
        return OPTIONS_BAD;
    }
    if (text == 0)
        return len == 0 ? OPTIONS_OK : OPTIONS_BAD;
    size_t pos = 0;
    if (len >= 3 && (unsigned char)text[0] == 0xEF && (unsigned char)text[1] == 0xBB &&
        (unsigned char)text[2] == 0xBF)
        pos = 3; /* UTF-8 byte-order mark */
    if (len >= 2 && (((unsigned char)text[0] == 0xFF && (unsigned char)text[1] == 0xFE) ||
                     ((unsigned char)text[0] == 0xFE && (unsigned char)text[1] == 0xFF))) {
        fmt_snprintf(err->text, sizeof err->text,
                     "trapvisor.cfg: UTF-16 text; save it as ASCII or UTF-8");
        return OPTIONS_BAD;
    }
    unsigned line = 1;
    while (pos < len) {
        size_t end = pos;
        while (end < len && text[end] != '\n')
            end++;
        size_t n = end - pos;
        if (n > 0 && text[pos + n - 1] == '\r')
            n--;
        c.line = line;
        if (n > OPTIONS_LINE_MAX - 1) {
            ctx_error_plain(&c, "line longer than 255 characters");
            return OPTIONS_BAD;
        }
        for (size_t i = 0; i < n; i++) {
            unsigned char ch = (unsigned char)text[pos + i];
            if (ch == 0) {
                ctx_error_plain(&c, "NUL byte (not a text file?)");
                return OPTIONS_BAD;
            }
            if ((ch < 0x20 && ch != '\t') || ch >= 0x7F) {
                ctx_error_plain(&c, "character that is not printable ASCII");
                return OPTIONS_BAD;
            }
        }
        if (!parse_config_line(&c, text + pos, n))
            return OPTIONS_BAD;
        pos = end + 1;
        line++;
    }
    return OPTIONS_OK;
}

/* --- the command line ----------------------------------------------------------------------------
 */

struct word {
    const char *s;
    size_t n;
};

/* Splits into words at blanks, CR and LF; "..." groups a word (quotes removed, no escapes).
 * Returns the number of words, or -1 after an error. */
static int split_words(struct parse_ctx *c, const char *s, size_t len, struct word *w, int max)
{
    int count = 0;
    size_t i = 0;
    for (;;) {
        while (i < len && (is_blank(s[i]) || s[i] == '\r' || s[i] == '\n'))
            i++;
        if (i >= len || s[i] == '\0')
            return count;
        if (count == max) {
            ctx_error_plain(c, "too many arguments");
            return -1;
        }
        size_t start = i, n;
        if (s[i] == '"') {
            size_t close = i + 1;
            while (close < len && s[close] != '\0' && s[close] != '"')
                close++;
            if (close >= len || s[close] != '"') {
                ctx_error(c, "no closing quote in", s + i, close - i);
                return -1;
            }
            start = i + 1;
            n = close - i - 1;
            i = close + 1;
        } else {
            while (i < len && s[i] != '\0' && !is_blank(s[i]) && s[i] != '\r' && s[i] != '\n')
                i++;
            n = i - start;
        }
        w[count].s = s + start;
        w[count].n = n;
        count++;
    }
}

#define CMDLINE_WORDS_MAX 64

enum options_result options_parse_cmdline(struct options *o, const char *cmdline, size_t len,
                                          bool skip_image_path, struct options_error *err)
{
    struct parse_ctx c = {o, err, 0};
    struct word w[CMDLINE_WORDS_MAX];
    err->line = 0;
    err->text[0] = '\0';
    if (cmdline == 0)
        return OPTIONS_OK;
    size_t n = 0;
    while (n < len && cmdline[n] != '\0')
        n++;
    if (n > OPTIONS_CMDLINE_MAX) {
        fmt_snprintf(err->text, sizeof err->text,
                     "command line: %zu characters, longer than the %u-character limit", n,
                     (unsigned)OPTIONS_CMDLINE_MAX);
        return OPTIONS_BAD;
    }
    int count = split_words(&c, cmdline, n, w, CMDLINE_WORDS_MAX);
    if (count < 0)
        return OPTIONS_BAD;
    int i = 0;
    if (skip_image_path && count > 0 && (w[0].n == 0 || w[0].s[0] != '-'))
        i = 1;
    for (; i < count; i++) {
        const char *a = w[i].s;
        size_t an = w[i].n;
        if (word_is(a, an, "-h") || word_is(a, an, "--help") || word_is(a, an, "-?")) {
            o->help = true;
            continue;
        }
        if (word_is(a, an, "--quiet")) {
            o->verbosity = OPTIONS_QUIET;
            continue;
        }
        if (word_is(a, an, "--verbose")) {
            o->verbosity = OPTIONS_VERBOSE;
            continue;
        }
        if (an < 3 || a[0] != '-' || a[1] != '-') {
            ctx_error(&c, "unexpected argument", a, an);
            return OPTIONS_BAD;
        }
        const char *name = a + 2;
        size_t nn = an - 2, eq = 0;
        while (eq < nn && name[eq] != '=')
            eq++;
        bool has_value = eq < nn;
        const struct setting *s = find_setting(name, eq);
        bool negated = false;
        if (!s && eq > 3 && word_is(name, 3, "no-")) {
            s = find_setting(name + 3, eq - 3);
            negated = s != 0;
        }
        if (!s) {
            ctx_error(&c, "unknown option", a, has_value ? eq + 2 : an);
            return OPTIONS_BAD;
        }
        if (negated && (s->kind != SETTING_BOOL || has_value)) {
            ctx_error(&c, "unknown option", a, has_value ? eq + 2 : an);
            return OPTIONS_BAD;
        }
        if (has_value) {
            if (!apply_value(&c, s, name + eq + 1, nn - eq - 1))
                return OPTIONS_BAD;
        } else if (s->kind == SETTING_BOOL) {
            *(bool *)((char *)o + s->bool_offset) = !negated;
        } else {
            if (i + 1 >= count) {
                ctx_error(&c, "missing value after", a, an);
                return OPTIONS_BAD;
            }
            i++;
            if (!apply_value(&c, s, w[i].s, w[i].n))
                return OPTIONS_BAD;
        }
    }
    return OPTIONS_OK;
}

/* --- load options (UCS-2) --------------------------------------------------------------------- */

size_t options_ucs2_to_ascii(const void *data, size_t size, char *out, size_t out_size)
{
    const unsigned char *b = data;
    size_t units = data ? size / 2 : 0, n = 0;
    for (size_t i = 0; i < units; i++) {
        uint16_t ch = (uint16_t)(b[2 * i] | (b[2 * i + 1] << 8));
        if (ch == 0)
            break;
        if ((ch < 0x20 && ch != '\t' && ch != '\r' && ch != '\n') || ch >= 0x7F)
            return (size_t)-1;
        if (n + 1 < out_size)
            out[n] = (char)ch;
        n++;
    }
    if (out_size)
        out[n < out_size ? n : out_size - 1] = '\0';
    return n;
}

enum options_result options_parse_load_options(struct options *o, const void *data, size_t size,
                                               struct options_error *err)
{
    char text[OPTIONS_CMDLINE_MAX + 1];
    err->line = 0;
    err->text[0] = '\0';
    if (data == 0 || size < 2)
        return OPTIONS_OK;
    size_t n = options_ucs2_to_ascii(data, size, text, sizeof text);
    if (n == (size_t)-1) {
        fmt_snprintf(err->text, sizeof err->text,
                     "load options are not ASCII text (%zu bytes): ignored", size);
        return OPTIONS_IGNORED;
    }
    if (n > OPTIONS_CMDLINE_MAX) {
        fmt_snprintf(err->text, sizeof err->text,
                     "command line: %zu characters, longer than the %u-character limit", n,
                     (unsigned)OPTIONS_CMDLINE_MAX);
        return OPTIONS_BAD;
    }
    return options_parse_cmdline(o, text, n, true, err);
}

/* --- printing -----------------------------------------------------------------------------------
 */

static void emit(fmt_putc_fn putc, void *ctx, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void emit(fmt_putc_fn putc, void *ctx, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fmt_vformat(putc, ctx, fmt, ap);
    va_end(ap);
}

void options_print(const struct options *o, fmt_putc_fn putc, void *ctx)
{
    static const char *const levels[] = {"quiet", "normal", "verbose"};
    unsigned v = (unsigned)o->verbosity;
    emit(putc, ctx, "options: edu = %s\n", o->edu ? "on" : "off");
    emit(putc, ctx, "options: stats = %s\n", o->stats ? "on" : "off");
    emit(putc, ctx, "options: log = %s\n", v < 3 ? levels[v] : "?");
    emit(putc, ctx, "options: caps = %s\n", o->caps ? "on" : "off");
    emit(putc, ctx, "options: dry-run = %s\n", o->dry_run ? "on" : "off");
    if (o->start[0])
        emit(putc, ctx, "options: start = %.*s\n", OPTIONS_PATH_MAX - 1, o->start);
    else
        emit(putc, ctx, "options: start = none (return to the boot manager)\n");
    if (o->serial_port == OPTIONS_SERIAL_OFF)
        emit(putc, ctx, "options: serial = off\n");
    else
        emit(putc, ctx, "options: serial = 0x%x\n", (unsigned)o->serial_port);
    if (o->cpus)
        emit(putc, ctx, "options: cpus = %u\n", (unsigned)o->cpus);
    else
        emit(putc, ctx, "options: cpus = all\n");
}

void options_print_usage(fmt_putc_fn putc, void *ctx)
{
    static const char *const lines[] = {
        "usage: trapvisor.efi [options]   (also read from " OPTIONS_CONFIG_PATH ")",
        "  --no-edu, --no-stats      leave out the edu / statistics device",
        "  --quiet, --verbose        less or more serial output (--log=quiet|normal|verbose)",
        "  --caps                    print the VT-x capabilities and exit",
        "  --dry-run                 print the plan (CPUs, memory, devices) and exit",
        "  --start PATH|none         loader on the ESP to start after launch",
        "  --serial PORT|comN|off    serial log port (default 0x3f8)",
        "  --cpus N|all              CPUs to virtualize (default all)",
        "  --help                    this text",
    };
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++)
        emit(putc, ctx, "%s\n", lines[i]);
}
