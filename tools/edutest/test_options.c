/* tools/edutest/options: edutest's LoadOptions parser, fed UCS-2 strings as the shell passes
 * them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tools/edutest/options.h"

/* Widens an ASCII string into buf (NUL-terminated); returns its length in characters. */
static size_t widen(const char *s, uint16_t *buf, size_t cap)
{
    size_t n = 0;
    for (; s[n] != '\0' && n + 1 < cap; n++)
        buf[n] = (uint16_t)(unsigned char)s[n];
    buf[n] = 0;
    return n;
}

static void program_name_alone_selects_defaults(void **state)
{
    (void)state;
    uint16_t w[64];
    struct edutest_options o;
    size_t n = widen("\\EFI\\trapvisor\\edutest.efi", w, 64);
    assert_true(edutest_parse_options(w, n, &o));
    assert_false(o.strict);
    assert_false(o.serial);
    assert_false(o.help);
    assert_string_equal(o.unknown, "");
}

static void strict_and_serial_are_recognised_in_any_order(void **state)
{
    (void)state;
    uint16_t w[64];
    struct edutest_options o;
    size_t n = widen("edutest.efi \t--serial   --strict", w, 64);
    assert_true(edutest_parse_options(w, n, &o));
    assert_true(o.strict);
    assert_true(o.serial);
    n = widen("edutest.efi --help", w, 64);
    assert_true(edutest_parse_options(w, n, &o));
    assert_true(o.help);
    assert_false(o.strict);
}

static void unknown_option_is_reported_by_name(void **state)
{
    (void)state;
    uint16_t w[64];
    struct edutest_options o;
    size_t n = widen("edutest.efi --strict --bogus --other", w, 64);
    assert_false(edutest_parse_options(w, n, &o));
    assert_string_equal(o.unknown, "--bogus");
    assert_true(o.strict);
}

static void prefixes_and_extensions_of_options_are_not_options(void **state)
{
    (void)state;
    uint16_t w[64];
    struct edutest_options o;
    size_t n = widen("x --strictly", w, 64);
    assert_false(edutest_parse_options(w, n, &o));
    assert_false(o.strict);
    n = widen("x --stri", w, 64);
    assert_false(edutest_parse_options(w, n, &o));
    n = widen("x -strict strict", w, 64); /* one dash or none: not an option, ignored */
    assert_true(edutest_parse_options(w, n, &o));
    assert_false(o.strict);
}

static void length_bounds_the_parse_without_a_terminator(void **state)
{
    (void)state;
    /* "--strict" followed by garbage past the stated length must not be read. */
    uint16_t w[16];
    widen("--serial--strict", w, 16);
    struct edutest_options o;
    assert_true(edutest_parse_options(w, 8, &o));
    assert_true(o.serial);
    assert_false(o.strict);
    /* A NUL inside the length ends the string (LoadOptionsSize counts the terminator). */
    widen("--serial", w, 16);
    assert_true(edutest_parse_options(w, 16, &o));
    assert_true(o.serial);
}

static void null_or_binary_options_give_defaults_or_a_bounded_name(void **state)
{
    (void)state;
    struct edutest_options o;
    assert_true(edutest_parse_options(NULL, 100, &o));
    assert_false(o.strict);

    /* A long unknown option with non-ASCII characters is truncated and made printable. */
    uint16_t w[80];
    w[0] = '-';
    w[1] = '-';
    for (size_t i = 2; i < 79; i++)
        w[i] = (uint16_t)(0x4e00 + i);
    w[79] = 0;
    assert_false(edutest_parse_options(w, 80, &o));
    assert_int_equal(strlen(o.unknown), sizeof(o.unknown) - 1);
    assert_int_equal(o.unknown[2], '?');
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(program_name_alone_selects_defaults),
        cmocka_unit_test(strict_and_serial_are_recognised_in_any_order),
        cmocka_unit_test(unknown_option_is_reported_by_name),
        cmocka_unit_test(prefixes_and_extensions_of_options_are_not_options),
        cmocka_unit_test(length_bounds_the_parse_without_a_terminator),
        cmocka_unit_test(null_or_binary_options_give_defaults_or_a_bounded_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
