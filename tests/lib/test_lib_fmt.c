/* lib/fmt: every conversion, flag, width, precision and length modifier against the host
 * C library's snprintf, plus truncation and return values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "lib/fmt.h"

#define CHECK_LIKE_LIBC(...)                                                                       \
    do {                                                                                           \
        char ours[128], theirs[128];                                                               \
        int n1 = fmt_snprintf(ours, sizeof ours, __VA_ARGS__);                                     \
        int n2 = snprintf(theirs, sizeof theirs, __VA_ARGS__);                                     \
        assert_string_equal(ours, theirs);                                                         \
        assert_int_equal(n1, n2);                                                                  \
    } while (0)

static void fmt_integers_match_libc(void **state)
{
    (void)state;
    CHECK_LIKE_LIBC("%d %i %u", -42, 17, 4000000000u);
    CHECK_LIKE_LIBC("%d", (int)-2147483647 - 1);
    CHECK_LIKE_LIBC("%ld %lu", -1234567890123L, 18446744073709551615UL);
    CHECK_LIKE_LIBC("%lld %llu", -9223372036854775807LL - 1, 18446744073709551615ULL);
    CHECK_LIKE_LIBC("%x %X %lx %llx", 0xdeadbeefu, 0xabcu, 0x123456789abcUL, ~0ULL);
    CHECK_LIKE_LIBC("%o", 8u);
    CHECK_LIKE_LIBC("%hhd %hhu %hd %hu", 300, 300, 70000, 70000);
    CHECK_LIKE_LIBC("%zu %zx", (size_t)12345, (size_t)0xfff);
    CHECK_LIKE_LIBC("%d %u %x", 0, 0u, 0u);
}

static void fmt_width_and_padding_match_libc(void **state)
{
    (void)state;
    CHECK_LIKE_LIBC("[%8d] [%-8d] [%08d]", 42, 42, 42);
    CHECK_LIKE_LIBC("[%08d] [%8d] [%-8d]", -42, -42, -42);
    CHECK_LIKE_LIBC("[%016llx] [%04x] [%2x]", 0xabcULL, 0x12345u, 0xabcu);
    CHECK_LIKE_LIBC("[%*d] [%-*d] [%*d]", 6, 7, 6, 7, -6, 7);
    CHECK_LIKE_LIBC("[%.5d] [%8.3d] [%-8.3x]", 42, 7, 0xau);
    CHECK_LIKE_LIBC("[%10s] [%-10s] [%.3s] [%.*s]", "abc", "abc", "abcdef", 2, "xyz");
    CHECK_LIKE_LIBC("[%c] [%3c] [%-3c]", 'a', 'b', 'c');
}

static void fmt_pointer_and_percent(void **state)
{
    (void)state;
    char buf[64];
    fmt_snprintf(buf, sizeof buf, "%p", (void *)0x1234);
    assert_string_equal(buf, "0x1234");
    fmt_snprintf(buf, sizeof buf, "100%%");
    assert_string_equal(buf, "100%");
    const char *volatile null_string = NULL; /* volatile: hide the NULL from -Wformat */
    fmt_snprintf(buf, sizeof buf, "%s", null_string);
    assert_string_equal(buf, "(null)");
}

static void fmt_truncates_and_reports_full_length(void **state)
{
    (void)state;
    char buf[8];
    memset(buf, 'Z', sizeof buf);
    int n = fmt_snprintf(buf, 5, "hello world %d", 7);
    assert_int_equal(n, 13);
    assert_string_equal(buf, "hell");
    assert_int_equal(buf[5], 'Z'); /* nothing written past the size given */
    n = fmt_snprintf(buf, 0, "abc");
    assert_int_equal(n, 3);
    assert_int_equal(buf[0], 'h');
}

static void fmt_unknown_conversion_is_literal(void **state)
{
    (void)state;
    char buf[64];
    /* Through variables: the compiler would (rightly) reject these formats as literals. */
    const char *unknown = "a %q b %d", *trailing = "trailing %";
    fmt_snprintf(buf, sizeof buf, unknown, 5);
    assert_string_equal(buf, "a %q b 5");
    fmt_snprintf(buf, sizeof buf, trailing);
    assert_string_equal(buf, "trailing %");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fmt_integers_match_libc),
        cmocka_unit_test(fmt_width_and_padding_match_libc),
        cmocka_unit_test(fmt_pointer_and_percent),
        cmocka_unit_test(fmt_truncates_and_reports_full_length),
        cmocka_unit_test(fmt_unknown_conversion_is_literal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
