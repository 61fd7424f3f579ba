/* The x86dec input format, shared by tools/x86dec and the Zydis reference in tests/decode:
 * one instruction per line, `<16|32|64> <hex bytes separated by spaces>`. */
#ifndef TRAPVISOR_TOOLS_X86DEC_INPUT_H
#define TRAPVISOR_TOOLS_X86DEC_INPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* More than the 15 an instruction may have, so over-long inputs reach the decoder. */
#define X86DEC_MAX_BYTES 32

static inline int x86dec_hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Parses one line (NUL-terminated, trailing newline allowed). Returns false for anything
 * not of the form: mode 16/32/64, then hex bytes of one or two digits separated by blanks,
 * at most X86DEC_MAX_BYTES of them. */
static inline bool x86dec_parse_line(const char *s, unsigned *mode_bits, uint8_t *bytes,
                                     size_t *nbytes)
{
    while (*s == ' ' || *s == '\t')
        s++;
    unsigned mode = 0;
    int digits = 0;
    while (*s >= '0' && *s <= '9' && digits < 3) {
        mode = mode * 10 + (unsigned)(*s++ - '0');
        digits++;
    }
    if (mode != 16 && mode != 32 && mode != 64)
        return false;
    if (*s != ' ' && *s != '\t')
        return false;
    size_t n = 0;
    for (;;) {
        while (*s == ' ' || *s == '\t')
            s++;
        if (*s == '\0' || *s == '\n' || *s == '\r')
            break;
        int hi = x86dec_hexval(s[0]);
        if (hi < 0)
            return false;
        int v = hi;
        s++;
        int lo = x86dec_hexval(s[0]);
        if (lo >= 0) {
            v = hi * 16 + lo;
            s++;
        }
        if (*s != ' ' && *s != '\t' && *s != '\0' && *s != '\n' && *s != '\r')
            return false;
        if (n == X86DEC_MAX_BYTES)
            return false;
        bytes[n++] = (uint8_t)v;
    }
    *mode_bits = mode;
    *nbytes = n;
    return true;
}

#endif
