/* Freestanding memory and string functions; see string.h for why they are weak. */
#include "lib/string.h"

#include <stdint.h>

#define WEAK __attribute__((weak))

/* Unaligned, alias-anything word access: x86 loads and stores need no alignment (SDM Vol. 1,
 * 4.1.1), so the copies below move 8 bytes per instruction instead of one (they run on the
 * VM-exit path: instruction fetch, page-table reads, device values). */
typedef uint64_t __attribute__((may_alias, aligned(1))) word64;
typedef uint32_t __attribute__((may_alias, aligned(1))) word32;
typedef uint16_t __attribute__((may_alias, aligned(1))) word16;

WEAK void *memcpy(void *dst, const void *src, size_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;
    for (; n >= 8; n -= 8, d += 8, s += 8)
        *(word64 *)d = *(const word64 *)s;
    if (n & 4) {
        *(word32 *)d = *(const word32 *)s;
        d += 4, s += 4;
    }
    if (n & 2) {
        *(word16 *)d = *(const word16 *)s;
        d += 2, s += 2;
    }
    if (n & 1)
        *d = *s;
    return dst;
}

WEAK void *memmove(void *dst, const void *src, size_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;
    if ((uintptr_t)d - (uintptr_t)s >= n) {
        /* No overlap with the destination after the source: forward copy is safe. */
        while (n--)
            *d++ = *s++;
    } else {
        while (n--)
            d[n] = s[n];
    }
    return dst;
}

WEAK void *memset(void *dst, int c, size_t n)
{
    unsigned char *d = dst;
    uint64_t w = 0x0101010101010101ull * (unsigned char)c;
    for (; n >= 8; n -= 8, d += 8)
        *(word64 *)d = w;
    if (n & 4) {
        *(word32 *)d = (uint32_t)w;
        d += 4;
    }
    if (n & 2) {
        *(word16 *)d = (uint16_t)w;
        d += 2;
    }
    if (n & 1)
        *d = (unsigned char)w;
    return dst;
}

WEAK int memcmp(const void *a, const void *b, size_t n)
{
    const unsigned char *x = a, *y = b;
    for (; n; n--, x++, y++)
        if (*x != *y)
            return *x < *y ? -1 : 1;
    return 0;
}

WEAK size_t strlen(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}

WEAK size_t strnlen(const char *s, size_t max)
{
    size_t n = 0;
    while (n < max && s[n])
        n++;
    return n;
}

WEAK int strcmp(const char *a, const char *b)
{
    while (*a && *a == *b)
        a++, b++;
    return (unsigned char)*a - (unsigned char)*b;
}

WEAK int strncmp(const char *a, const char *b, size_t n)
{
    for (; n; n--, a++, b++) {
        if (*a != *b)
            return (unsigned char)*a - (unsigned char)*b;
        if (!*a)
            return 0;
    }
    return 0;
}

WEAK char *strchr(const char *s, int c)
{
    for (;; s++) {
        if (*s == (char)c)
            return (char *)s;
        if (!*s)
            return 0;
    }
}
