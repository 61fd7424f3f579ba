/* lib/string: the freestanding memory and string functions, including overlapping moves. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "lib/string.h"

static void memmove_handles_both_overlap_directions(void **state)
{
    (void)state;
    char a[] = "0123456789";
    memmove(a + 2, a, 6);
    assert_memory_equal(a, "0101234589", 10);
    char b[] = "0123456789";
    memmove(b, b + 3, 7);
    assert_memory_equal(b, "3456789789", 10);
}

static void memcpy_memset_memcmp(void **state)
{
    (void)state;
    unsigned char buf[16];
    memset(buf, 0xAB, sizeof buf);
    for (size_t i = 0; i < sizeof buf; i++)
        assert_int_equal(buf[i], 0xAB);
    memcpy(buf, "hello", 5);
    assert_int_equal(memcmp(buf, "hello", 5), 0);
    assert_true(memcmp("abc", "abd", 3) < 0);
    assert_true(memcmp("\xff", "\x01", 1) > 0); /* bytes compare unsigned */
    assert_int_equal(memcmp("x", "y", 0), 0);
}

static void string_functions(void **state)
{
    (void)state;
    assert_int_equal(strlen(""), 0);
    assert_int_equal(strlen("trapvisor"), 9);
    assert_int_equal(strnlen("trapvisor", 4), 4);
    assert_int_equal(strnlen("ab", 10), 2);
    assert_int_equal(strcmp("abc", "abc"), 0);
    assert_true(strcmp("abc", "abd") < 0);
    assert_true(strcmp("ab", "abc") < 0);
    assert_int_equal(strncmp("--caps", "--capsx", 6), 0);
    assert_true(strncmp("a", "b", 1) < 0);
    const char *s = "key=value";
    assert_ptr_equal(strchr(s, '='), s + 3);
    assert_null(strchr(s, '#'));
    assert_ptr_equal(strchr(s, '\0'), s + 9);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(memmove_handles_both_overlap_directions),
        cmocka_unit_test(memcpy_memset_memcmp),
        cmocka_unit_test(string_functions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
