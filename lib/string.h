/* Freestanding memory and string functions (the subset the hypervisor and its tests use).
 * The hypervisor links no libc; gcc may emit calls to memcpy/memset/memmove/memcmp even in
 * freestanding code, so these carry the standard names. They are weak so that gnu-efi's
 * libefi (which also defines memcpy and memset) can coexist with them. */
#ifndef TRAPVISOR_LIB_STRING_H
#define TRAPVISOR_LIB_STRING_H

#include <stddef.h>

void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
size_t strnlen(const char *s, size_t max);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
char *strchr(const char *s, int c);

#endif
