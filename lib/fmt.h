/* Freestanding formatted output.
 *
 * Conversions: %d %i %u %x %X %o %c %s %p %%; flags '-' (left-justify) and '0' (zero pad);
 * field width as digits or '*'; precision for %s ('.' digits or '.*', maximum characters)
 * and for integers (minimum digits); length modifiers hh h l ll z j.
 * Anything else is printed literally, so a bad format never reads a wrong argument type
 * past the one it names. */
#ifndef TRAPVISOR_LIB_FMT_H
#define TRAPVISOR_LIB_FMT_H

#include <stdarg.h>
#include <stddef.h>

/* A character sink: called once per output character. */
typedef void (*fmt_putc_fn)(void *ctx, char c);

/* Formats to a sink; returns the number of characters produced. */
int fmt_vformat(fmt_putc_fn putc, void *ctx, const char *fmt, va_list ap);

/* Like C's vsnprintf: writes at most size-1 characters and a NUL (when size > 0), returns the
 * length the whole output would have had. */
int fmt_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int fmt_snprintf(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
