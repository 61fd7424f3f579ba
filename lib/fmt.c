/* Freestanding formatted output; see fmt.h for the supported conversions. */
#include "lib/fmt.h"

#include <stdbool.h>
#include <stdint.h>

struct spec {
    bool left;     /* '-' */
    bool zero;     /* '0' */
    int width;     /* minimum field width */
    int precision; /* -1: none */
    int length;    /* 0 int, 1 long, 2 long long, -1 short, -2 char, 3 size_t/intmax_t */
};

struct out {
    fmt_putc_fn putc;
    void *ctx;
    int count;
};

static void emit(struct out *o, char c)
{
    o->putc(o->ctx, c);
    o->count++;
}

static void emit_pad(struct out *o, char c, int n)
{
    while (n-- > 0)
        emit(o, c);
}

static void emit_string(struct out *o, const struct spec *sp, const char *s)
{
    if (!s)
        s = "(null)";
    int len = 0;
    while (s[len] && (sp->precision < 0 || len < sp->precision))
        len++;
    if (!sp->left)
        emit_pad(o, ' ', sp->width - len);
    for (int i = 0; i < len; i++)
        emit(o, s[i]);
    if (sp->left)
        emit_pad(o, ' ', sp->width - len);
}

/* Prints magnitude `v` in `base` with an optional sign or "0x" prefix, honouring width,
 * zero padding and precision (minimum digits). */
static void emit_number(struct out *o, const struct spec *sp, uint64_t v, unsigned base, bool upper,
                        bool negative, const char *prefix)
{
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = digits[v % base];
        v /= base;
    } while (v);

    int min_digits = sp->precision > n ? sp->precision : n;
    int prefix_len = negative ? 1 : 0;
    for (const char *p = prefix; p && *p; p++)
        prefix_len++;
    int body = prefix_len + min_digits;
    bool zero = sp->zero && !sp->left && sp->precision < 0;

    if (!sp->left && !zero)
        emit_pad(o, ' ', sp->width - body);
    if (negative)
        emit(o, '-');
    for (const char *p = prefix; p && *p; p++)
        emit(o, *p);
    if (zero)
        emit_pad(o, '0', sp->width - body);
    emit_pad(o, '0', min_digits - n);
    while (n)
        emit(o, tmp[--n]);
    if (sp->left)
        emit_pad(o, ' ', sp->width - body);
}

static int64_t signed_arg(const struct spec *sp, va_list *ap)
{
    switch (sp->length) {
    case -2:
        return (signed char)va_arg(*ap, int);
    case -1:
        return (short)va_arg(*ap, int);
    case 0:
        return va_arg(*ap, int);
    case 1:
        return va_arg(*ap, long);
    default:
        return va_arg(*ap, long long);
    }
}

static uint64_t unsigned_arg(const struct spec *sp, va_list *ap)
{
    switch (sp->length) {
    case -2:
        return (unsigned char)va_arg(*ap, unsigned);
    case -1:
        return (unsigned short)va_arg(*ap, unsigned);
    case 0:
        return va_arg(*ap, unsigned);
    case 1:
        return va_arg(*ap, unsigned long);
    case 3:
        return va_arg(*ap, size_t);
    default:
        return va_arg(*ap, unsigned long long);
    }
}

static const char *parse_spec(const char *f, struct spec *sp, va_list *ap)
{
    *sp = (struct spec){.precision = -1};
    for (;; f++) {
        if (*f == '-')
            sp->left = true;
        else if (*f == '0')
            sp->zero = true;
        else
            break;
    }
    if (*f == '*') {
        sp->width = va_arg(*ap, int);
        if (sp->width < 0) {
            sp->left = true;
            sp->width = -sp->width;
        }
        f++;
    } else {
        while (*f >= '0' && *f <= '9')
            sp->width = sp->width * 10 + (*f++ - '0');
    }
    if (*f == '.') {
        f++;
        sp->precision = 0;
        if (*f == '*') {
            sp->precision = va_arg(*ap, int);
            if (sp->precision < 0)
                sp->precision = -1;
            f++;
        } else {
            while (*f >= '0' && *f <= '9')
                sp->precision = sp->precision * 10 + (*f++ - '0');
        }
    }
    if (*f == 'h') {
        sp->length = -1;
        if (*++f == 'h') {
            sp->length = -2;
            f++;
        }
    } else if (*f == 'l') {
        sp->length = 1;
        if (*++f == 'l') {
            sp->length = 2;
            f++;
        }
    } else if (*f == 'z' || *f == 'j') {
        sp->length = 3;
        f++;
    }
    return f;
}

int fmt_vformat(fmt_putc_fn putc, void *ctx, const char *fmt, va_list ap_in)
{
    struct out o = {putc, ctx, 0};
    va_list ap;
    va_copy(ap, ap_in);
    for (const char *f = fmt; *f; f++) {
        if (*f != '%') {
            emit(&o, *f);
            continue;
        }
        const char *start = f;
        struct spec sp;
        f = parse_spec(f + 1, &sp, &ap);
        switch (*f) {
        case 'd':
        case 'i': {
            int64_t v = signed_arg(&sp, &ap);
            uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
            emit_number(&o, &sp, mag, 10, false, v < 0, 0);
            break;
        }
        case 'u':
            emit_number(&o, &sp, unsigned_arg(&sp, &ap), 10, false, false, 0);
            break;
        case 'x':
        case 'X':
            emit_number(&o, &sp, unsigned_arg(&sp, &ap), 16, *f == 'X', false, 0);
            break;
        case 'o':
            emit_number(&o, &sp, unsigned_arg(&sp, &ap), 8, false, false, 0);
            break;
        case 'p':
            emit_number(&o, &sp, (uintptr_t)va_arg(ap, void *), 16, false, false, "0x");
            break;
        case 'c': {
            char c = (char)va_arg(ap, int);
            if (!sp.left)
                emit_pad(&o, ' ', sp.width - 1);
            emit(&o, c);
            if (sp.left)
                emit_pad(&o, ' ', sp.width - 1);
            break;
        }
        case 's':
            emit_string(&o, &sp, va_arg(ap, const char *));
            break;
        case '%':
            emit(&o, '%');
            break;
        default:
            /* Unknown conversion (or the string ended): print it as written. */
            for (const char *p = start; p < f; p++)
                emit(&o, *p);
            if (!*f)
                f--;
            else
                emit(&o, *f);
            break;
        }
    }
    va_end(ap);
    return o.count;
}

struct buf_sink {
    char *buf;
    size_t size;
    size_t pos;
};

static void buf_putc(void *ctx, char c)
{
    struct buf_sink *b = ctx;
    if (b->size && b->pos < b->size - 1)
        b->buf[b->pos] = c;
    b->pos++;
}

int fmt_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
    struct buf_sink b = {buf, size, 0};
    int n = fmt_vformat(buf_putc, &b, fmt, ap);
    if (size)
        buf[b.pos < size ? b.pos : size - 1] = '\0';
    return n;
}

int fmt_snprintf(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = fmt_vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n;
}
