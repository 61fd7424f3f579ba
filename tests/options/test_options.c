/* boot/options.c: command line, UCS-2 load options and trapvisor.cfg. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "boot/options.h"

static struct options opt;
static struct options_error err;

static int setup(void **state)
{
    (void)state;
    options_defaults(&opt);
    memset(&err, 0x5A, sizeof err);
    return 0;
}

static enum options_result cmd(const char *s)
{
    return options_parse_cmdline(&opt, s, strlen(s), true, &err);
}

static enum options_result cfg(const char *s)
{
    return options_parse_config(&opt, s, strlen(s), &err);
}

/* Builds UCS-2 little-endian bytes from ASCII; returns the byte count (with a NUL if asked). */
static size_t ucs2(uint8_t *out, const char *s, int with_nul)
{
    size_t n = 0;
    for (; *s; s++) {
        out[n++] = (uint8_t)*s;
        out[n++] = 0;
    }
    if (with_nul) {
        out[n++] = 0;
        out[n++] = 0;
    }
    return n;
}

static void assert_error_mentions(const char *needle)
{
    if (!strstr(err.text, needle))
        fail_msg("error text '%s' does not mention '%s'", err.text, needle);
    assert_null(strchr(err.text, '\n'));
}

/* --- defaults and printing ------------------------------------------------------------------ */

static void test_defaults_are_documented_values(void **state)
{
    (void)state;
    assert_true(opt.edu);
    assert_true(opt.stats);
    assert_int_equal(opt.verbosity, OPTIONS_NORMAL);
    assert_false(opt.caps);
    assert_false(opt.dry_run);
    assert_false(opt.help);
    assert_string_equal(opt.start, "");
    assert_int_equal(opt.serial_port, 0x3F8);
    assert_int_equal(opt.cpus, 0);
}

static char printed[2048];
static size_t printed_len;
static void collect(void *ctx, char c)
{
    (void)ctx;
    if (printed_len + 1 < sizeof printed)
        printed[printed_len++] = c;
    printed[printed_len] = '\0';
}

static void test_print_shows_every_setting(void **state)
{
    (void)state;
    assert_int_equal(cmd("x.efi --no-edu --verbose --start \\EFI\\a.efi --serial off --cpus 3"),
                     OPTIONS_OK);
    printed_len = 0;
    options_print(&opt, collect, NULL);
    assert_non_null(strstr(printed, "options: edu = off\n"));
    assert_non_null(strstr(printed, "options: stats = on\n"));
    assert_non_null(strstr(printed, "options: log = verbose\n"));
    assert_non_null(strstr(printed, "options: start = \\EFI\\a.efi\n"));
    assert_non_null(strstr(printed, "options: serial = off\n"));
    assert_non_null(strstr(printed, "options: cpus = 3\n"));
    printed_len = 0;
    options_print_usage(collect, NULL);
    assert_non_null(strstr(printed, "--dry-run"));
    assert_non_null(strstr(printed, "--cpus"));
}

/* --- command line ---------------------------------------------------------------------------- */

static void test_cmdline_flags_set_their_settings(void **state)
{
    (void)state;
    assert_int_equal(cmd("trapvisor.efi --no-edu --no-stats --caps --dry-run --quiet"), OPTIONS_OK);
    assert_false(opt.edu);
    assert_false(opt.stats);
    assert_true(opt.caps);
    assert_true(opt.dry_run);
    assert_int_equal(opt.verbosity, OPTIONS_QUIET);
    assert_int_equal(cmd("--edu --stats --verbose"), OPTIONS_OK);
    assert_true(opt.edu);
    assert_true(opt.stats);
    assert_int_equal(opt.verbosity, OPTIONS_VERBOSE);
}

static void test_cmdline_first_word_is_image_path_only_without_dash(void **state)
{
    (void)state;
    /* The shell passes the image path first; a boot entry's options start with '-'. */
    assert_int_equal(cmd("FS0:\\EFI\\trapvisor\\trapvisor.efi --caps"), OPTIONS_OK);
    assert_true(opt.caps);
    setup(NULL);
    assert_int_equal(cmd("--dry-run"), OPTIONS_OK);
    assert_true(opt.dry_run);
    /* Without skipping, a bare word is an error. */
    assert_int_equal(options_parse_cmdline(&opt, "x.efi", 5, false, &err), OPTIONS_BAD);
    assert_error_mentions("unexpected argument 'x.efi'");
}

static void test_cmdline_values_separate_or_with_equals(void **state)
{
    (void)state;
    assert_int_equal(cmd("x --cpus 2 --serial=0x2f8 --start=/EFI/debian/grubx64.efi"), OPTIONS_OK);
    assert_int_equal(opt.cpus, 2);
    assert_int_equal(opt.serial_port, 0x2F8);
    /* '/' is accepted and stored as the UEFI separator. */
    assert_string_equal(opt.start, "\\EFI\\debian\\grubx64.efi");
    assert_int_equal(cmd("x --cpus=all --serial com2 --log=quiet --edu=off --caps=yes"),
                     OPTIONS_OK);
    assert_int_equal(opt.cpus, 0);
    assert_int_equal(opt.serial_port, 0x2F8);
    assert_int_equal(opt.verbosity, OPTIONS_QUIET);
    assert_false(opt.edu);
    assert_true(opt.caps);
}

static void test_cmdline_last_setting_wins(void **state)
{
    (void)state;
    assert_int_equal(cmd("x --quiet --verbose --no-edu --edu --cpus 1 --cpus 4"), OPTIONS_OK);
    assert_int_equal(opt.verbosity, OPTIONS_VERBOSE);
    assert_true(opt.edu);
    assert_int_equal(opt.cpus, 4);
}

static void test_cmdline_quoted_path_keeps_spaces(void **state)
{
    (void)state;
    assert_int_equal(cmd("x --start \"\\EFI\\my loader\\a.efi\""), OPTIONS_OK);
    assert_string_equal(opt.start, "\\EFI\\my loader\\a.efi");
    assert_int_equal(cmd("x --start \"\\EFI\\unterminated"), OPTIONS_BAD);
    assert_error_mentions("no closing quote");
}

static void test_cmdline_start_none_clears_a_start_from_the_file(void **state)
{
    (void)state;
    assert_int_equal(cfg("start = \\EFI\\debian\\grubx64.efi\n"), OPTIONS_OK);
    assert_string_equal(opt.start, "\\EFI\\debian\\grubx64.efi");
    assert_int_equal(cmd("x --start none"), OPTIONS_OK);
    assert_string_equal(opt.start, "");
}

static void test_cmdline_help_forms(void **state)
{
    (void)state;
    assert_int_equal(cmd("x -h"), OPTIONS_OK);
    assert_true(opt.help);
    setup(NULL);
    assert_int_equal(cmd("x --help"), OPTIONS_OK);
    assert_true(opt.help);
}

static void test_cmdline_tabs_crlf_and_runs_of_blanks_separate_words(void **state)
{
    (void)state;
    assert_int_equal(cmd("  x\t\t--caps \r\n --no-stats\r\n"), OPTIONS_OK);
    assert_true(opt.caps);
    assert_false(opt.stats);
}

static void test_cmdline_empty_and_blank_change_nothing(void **state)
{
    (void)state;
    struct options before = opt;
    assert_int_equal(cmd(""), OPTIONS_OK);
    assert_int_equal(cmd("   \t "), OPTIONS_OK);
    assert_int_equal(options_parse_cmdline(&opt, NULL, 10, true, &err), OPTIONS_OK);
    assert_memory_equal(&before, &opt, sizeof opt);
}

static void test_cmdline_stops_at_nul_and_never_reads_past_len(void **state)
{
    (void)state;
    /* "--caps" lies after the NUL; "--dry-run" lies past len. Neither is read. */
    const char buf[] = "x --no-edu\0--caps";
    assert_int_equal(options_parse_cmdline(&opt, buf, sizeof buf - 1, true, &err), OPTIONS_OK);
    assert_false(opt.edu);
    assert_false(opt.caps);
    /* An exactly-sized heap buffer with no NUL: ASan catches any read past it. */
    const char *src = "x --dry-run";
    char *exact = malloc(strlen(src));
    memcpy(exact, src, strlen(src));
    assert_int_equal(options_parse_cmdline(&opt, exact, 7, true, &err), OPTIONS_BAD);
    assert_error_mentions("unknown option '--dry'");
    assert_int_equal(options_parse_cmdline(&opt, exact, strlen(src), true, &err), OPTIONS_OK);
    assert_true(opt.dry_run);
    free(exact);
}

static void test_cmdline_unknown_option_is_refused(void **state)
{
    (void)state;
    assert_int_equal(cmd("x --frobnicate"), OPTIONS_BAD);
    assert_int_equal(err.line, 0);
    assert_string_equal(err.text, "command line: unknown option '--frobnicate'");
    assert_int_equal(cmd("x --no-cpus"), OPTIONS_BAD);
    assert_error_mentions("unknown option '--no-cpus'");
    assert_int_equal(cmd("x --no-edu=on"), OPTIONS_BAD);
    assert_error_mentions("unknown option '--no-edu'");
    assert_int_equal(cmd("x -v"), OPTIONS_BAD);
    assert_error_mentions("unexpected argument '-v'");
    assert_int_equal(cmd("x --"), OPTIONS_BAD);
    assert_int_equal(cmd("x --caps stray"), OPTIONS_BAD);
    assert_error_mentions("unexpected argument 'stray'");
}

static void test_cmdline_bad_numbers_are_refused(void **state)
{
    (void)state;
    const char *bad[] = {"x --cpus 0",
                         "x --cpus -1",
                         "x --cpus abc",
                         "x --cpus 1025",
                         "x --cpus 0x",
                         "x --cpus 2x",
                         "x --cpus 99999999999999999999",
                         "x --cpus=",
                         "x --cpus ''",
                         "x --cpus 0x401"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        setup(NULL);
        if (cmd(bad[i]) != OPTIONS_BAD)
            fail_msg("'%s' was accepted", bad[i]);
        assert_error_mentions("cpus must be 1-1024 or all");
    }
    assert_int_equal(cmd("x --cpus 1024"), OPTIONS_OK);
    assert_int_equal(opt.cpus, 1024);
    assert_int_equal(cmd("x --cpus 0x10"), OPTIONS_OK);
    assert_int_equal(opt.cpus, 16);
}

static void test_cmdline_serial_ports(void **state)
{
    (void)state;
    const struct {
        const char *arg;
        uint16_t port;
    } good[] = {{"com1", 0x3F8},    {"COM2", 0x2F8},  {"com3", 0x3E8},
                {"com4", 0x2E8},    {"0x3f8", 0x3F8}, {"1016", 0x3F8},
                {"0xfff8", 0xFFF8}, {"off", 0},       {"none", 0}};
    char line[64];
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        snprintf(line, sizeof line, "x --serial %s", good[i].arg);
        assert_int_equal(cmd(line), OPTIONS_OK);
        assert_int_equal(opt.serial_port, good[i].port);
    }
    const char *bad[] = {"com5", "com0", "0", "0x10000", "0xfff9", "port", "com"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(line, sizeof line, "x --serial %s", bad[i]);
        if (cmd(line) != OPTIONS_BAD)
            fail_msg("'%s' was accepted", line);
        assert_error_mentions("serial must be");
    }
}

static void test_cmdline_missing_value_is_refused(void **state)
{
    (void)state;
    assert_int_equal(cmd("x --start"), OPTIONS_BAD);
    assert_string_equal(err.text, "command line: missing value after '--start'");
    assert_int_equal(cmd("x --serial"), OPTIONS_BAD);
    assert_int_equal(cmd("x --cpus"), OPTIONS_BAD);
}

static void test_cmdline_bad_start_paths_are_refused(void **state)
{
    (void)state;
    const char *bad[] = {"x --start grubx64.efi", "x --start fs0:\\a.efi", "x --start \\a:b.efi",
                         "x --start=\"\""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        setup(NULL);
        if (cmd(bad[i]) != OPTIONS_BAD)
            fail_msg("'%s' was accepted", bad[i]);
        assert_error_mentions("start");
        assert_string_equal(opt.start, "");
    }
}

static void test_cmdline_overlong_path_is_refused_and_error_is_one_short_line(void **state)
{
    (void)state;
    char line[600] = "x --start \\";
    size_t n = strlen(line);
    memset(line + n, 'a', 300);
    line[n + 300] = '\0';
    assert_int_equal(cmd(line), OPTIONS_BAD);
    assert_error_mentions("longer than 255");
    assert_true(strlen(err.text) < OPTIONS_ERROR_MAX);
    assert_non_null(strstr(err.text, "...'")); /* the value is cut, not copied whole */
    /* Exactly 255 characters fits. */
    line[n + 254] = '\0';
    assert_int_equal(cmd(line), OPTIONS_OK);
    assert_int_equal(strlen(opt.start), 255);
}

static void test_cmdline_huge_input_is_refused(void **state)
{
    (void)state;
    size_t n = OPTIONS_CMDLINE_MAX + 1;
    char *big = malloc(n);
    memset(big, ' ', n);
    memcpy(big, "x --caps", 8);
    assert_int_equal(options_parse_cmdline(&opt, big, n, true, &err), OPTIONS_BAD);
    assert_error_mentions("longer than the 1024-character limit");
    assert_false(opt.caps);
    /* 1024 characters is accepted. */
    assert_int_equal(options_parse_cmdline(&opt, big, n - 1, true, &err), OPTIONS_OK);
    assert_true(opt.caps);
    /* More words than the parser keeps. */
    char *many = malloc(3 * 100 + 1);
    for (int i = 0; i < 100; i++)
        memcpy(many + 3 * i, "-h ", 3);
    many[300] = '\0';
    assert_int_equal(cmd(many), OPTIONS_BAD);
    assert_error_mentions("too many arguments");
    free(big);
    free(many);
}

static void test_cmdline_unprintable_bytes_in_error_are_masked(void **state)
{
    (void)state;
    const char s[] = "x --\x01\x7f";
    assert_int_equal(options_parse_cmdline(&opt, s, sizeof s - 1, true, &err), OPTIONS_BAD);
    assert_string_equal(err.text, "command line: unknown option '--?"
                                  "?'");
}

/* --- UCS-2 load options --------------------------------------------------------------------- */

static void test_load_options_ucs2_with_image_path(void **state)
{
    (void)state;
    uint8_t buf[256];
    size_t n = ucs2(buf, "\\EFI\\BOOT\\BOOTX64.EFI --no-edu --cpus 2", 1);
    assert_int_equal(options_parse_load_options(&opt, buf, n, &err), OPTIONS_OK);
    assert_false(opt.edu);
    assert_int_equal(opt.cpus, 2);
}

static void test_load_options_without_nul_and_odd_size(void **state)
{
    (void)state;
    uint8_t buf[256];
    size_t n = ucs2(buf, "x --caps", 0);
    uint8_t *exact = malloc(n + 1);
    memcpy(exact, buf, n);
    exact[n] = 'Z'; /* an odd trailing byte is ignored */
    assert_int_equal(options_parse_load_options(&opt, exact, n + 1, &err), OPTIONS_OK);
    assert_true(opt.caps);
    free(exact);
}

static void test_load_options_empty_or_null_are_ok(void **state)
{
    (void)state;
    uint8_t nul[2] = {0, 0};
    assert_int_equal(options_parse_load_options(&opt, NULL, 0, &err), OPTIONS_OK);
    assert_int_equal(options_parse_load_options(&opt, nul, 2, &err), OPTIONS_OK);
    assert_int_equal(options_parse_load_options(&opt, nul, 1, &err), OPTIONS_OK);
}

static void test_load_options_binary_data_is_ignored_with_a_note(void **state)
{
    (void)state;
    /* A boot entry's optional data (here a GUID-like blob) is not a command line. */
    const uint8_t blob[] = {0x52, 0x43, 0x01, 0x00, 0xff, 0xfe, 0x00, 0x10};
    struct options before = opt;
    assert_int_equal(options_parse_load_options(&opt, blob, sizeof blob, &err), OPTIONS_IGNORED);
    assert_error_mentions("not ASCII text (8 bytes): ignored");
    assert_memory_equal(&before, &opt, sizeof opt);
    /* Non-ASCII characters (e.g. U+00E9) make it not text as well. */
    uint8_t buf[32];
    size_t n = ucs2(buf, "x --caps", 0);
    buf[n++] = 0xE9;
    buf[n++] = 0x00;
    assert_int_equal(options_parse_load_options(&opt, buf, n, &err), OPTIONS_IGNORED);
    assert_false(opt.caps);
}

static void test_load_options_too_long_is_refused(void **state)
{
    (void)state;
    size_t chars = OPTIONS_CMDLINE_MAX + 10;
    uint8_t *buf = malloc(2 * chars);
    for (size_t i = 0; i < chars; i++) {
        buf[2 * i] = ' ';
        buf[2 * i + 1] = 0;
    }
    assert_int_equal(options_parse_load_options(&opt, buf, 2 * chars, &err), OPTIONS_BAD);
    assert_error_mentions("1034 characters");
    free(buf);
}

static void test_ucs2_to_ascii_truncates_and_reports_length(void **state)
{
    (void)state;
    uint8_t buf[64];
    char out[4];
    size_t n = ucs2(buf, "abcdef", 1);
    assert_int_equal(options_ucs2_to_ascii(buf, n, out, sizeof out), 6);
    assert_string_equal(out, "abc");
    assert_int_equal(options_ucs2_to_ascii(buf, n, out, 0), 6);
    assert_int_equal(options_ucs2_to_ascii(NULL, 10, out, sizeof out), 0);
    assert_string_equal(out, "");
    buf[0] = 0x01; /* a control character */
    assert_int_equal(options_ucs2_to_ascii(buf, n, out, sizeof out), (size_t)-1);
}

/* --- config file ------------------------------------------------------------------------------ */

static void test_config_keys_set_their_settings(void **state)
{
    (void)state;
    const char *file = "# Trapvisor settings\n"
                       "edu = off\n"
                       "stats=no\n"
                       "log = verbose\n"
                       "caps = yes\n"
                       "dry-run = true\n"
                       "start = \\EFI\\debian\\grubx64.efi\n"
                       "serial = com2\n"
                       "cpus = 1\n";
    assert_int_equal(cfg(file), OPTIONS_OK);
    assert_false(opt.edu);
    assert_false(opt.stats);
    assert_int_equal(opt.verbosity, OPTIONS_VERBOSE);
    assert_true(opt.caps);
    assert_true(opt.dry_run);
    assert_string_equal(opt.start, "\\EFI\\debian\\grubx64.efi");
    assert_int_equal(opt.serial_port, 0x2F8);
    assert_int_equal(opt.cpus, 1);
}

static void test_config_then_cmdline_command_line_wins(void **state)
{
    (void)state;
    assert_int_equal(cfg("edu = off\ncpus = 1\nlog = quiet\n"), OPTIONS_OK);
    assert_int_equal(cmd("trapvisor.efi --edu --cpus all"), OPTIONS_OK);
    assert_true(opt.edu);
    assert_int_equal(opt.cpus, 0);
    assert_int_equal(opt.verbosity, OPTIONS_QUIET); /* not on the command line: file's value */
}

static void test_config_comments_blanks_crlf_tabs_and_case(void **state)
{
    (void)state;
    const char *file = "\r\n"
                       "   # indented comment\r\n"
                       "\t\r\n"
                       "\tEDU\t=\tOFF   # trailing comment\r\n"
                       "Dry_Run = On\r\n"
                       "start = \\EFI\\x#y.efi\r\n"
                       "cpus = 2";
    assert_int_equal(cfg(file), OPTIONS_OK);
    assert_false(opt.edu);
    assert_true(opt.dry_run);
    assert_string_equal(opt.start, "\\EFI\\x#y.efi"); /* '#' not after a blank is text */
    assert_int_equal(opt.cpus, 2);                    /* no newline at the end */
}

static void test_config_quoted_value(void **state)
{
    (void)state;
    assert_int_equal(cfg("start = \"\\EFI\\my dir\\a #1.efi\"  # comment\n"), OPTIONS_OK);
    assert_string_equal(opt.start, "\\EFI\\my dir\\a #1.efi");
    assert_int_equal(cfg("start = \"\\EFI\\a.efi\" junk\n"), OPTIONS_BAD);
    assert_error_mentions("text after the quoted value");
    assert_int_equal(cfg("start = \"\\EFI\\a.efi\n"), OPTIONS_BAD);
    assert_error_mentions("no closing quote");
}

static void test_config_empty_file_and_bom(void **state)
{
    (void)state;
    struct options before = opt;
    assert_int_equal(options_parse_config(&opt, "", 0, &err), OPTIONS_OK);
    assert_int_equal(options_parse_config(&opt, NULL, 0, &err), OPTIONS_OK);
    assert_int_equal(cfg("\n\n\n"), OPTIONS_OK);
    assert_memory_equal(&before, &opt, sizeof opt);
    assert_int_equal(cfg("\xEF\xBB\xBF"
                         "caps = on\n"),
                     OPTIONS_OK);
    assert_true(opt.caps);
    assert_int_equal(options_parse_config(&opt,
                                          "\xFF\xFE"
                                          "c\0a\0",
                                          6, &err),
                     OPTIONS_BAD);
    assert_error_mentions("UTF-16");
}

static void test_config_errors_name_the_line(void **state)
{
    (void)state;
    assert_int_equal(cfg("edu = off\n\n# fine\neddu = on\n"), OPTIONS_BAD);
    assert_int_equal(err.line, 4);
    assert_string_equal(err.text, "trapvisor.cfg line 4: unknown key 'eddu'");

    assert_int_equal(cfg("caps\n"), OPTIONS_BAD);
    assert_int_equal(err.line, 1);
    assert_error_mentions("expected 'key = value', got 'caps'");

    assert_int_equal(cfg("edu = maybe\n"), OPTIONS_BAD);
    assert_error_mentions("edu must be on or off, not 'maybe'");

    assert_int_equal(cfg("x\ncpus =   # nothing\n"), OPTIONS_BAD);
    assert_int_equal(err.line, 1);
    assert_int_equal(cfg("cpus =   # nothing\n"), OPTIONS_BAD);
    assert_error_mentions("no value for 'cpus'");

    assert_int_equal(cfg("= on\n"), OPTIONS_BAD);
    assert_int_equal(cfg("log = loud\n"), OPTIONS_BAD);
    assert_error_mentions("log must be quiet, normal or verbose");
    assert_int_equal(cfg("cpus = many\n"), OPTIONS_BAD);
    assert_int_equal(cfg("serial = 0x10000\n"), OPTIONS_BAD);
    assert_int_equal(cfg("start = grub.efi\n"), OPTIONS_BAD);
}

static void test_config_binary_bytes_are_refused(void **state)
{
    (void)state;
    const char nul_file[] = "edu = on\ncaps\0 = on\n";
    assert_int_equal(options_parse_config(&opt, nul_file, sizeof nul_file - 1, &err), OPTIONS_BAD);
    assert_int_equal(err.line, 2);
    assert_error_mentions("NUL byte");
    assert_int_equal(cfg("edu = on\nstart = \\EFI\\\xC3\xA9.efi\n"), OPTIONS_BAD);
    assert_int_equal(err.line, 2);
    assert_error_mentions("not printable ASCII");
    assert_int_equal(cfg("edu = o\x1bn\n"), OPTIONS_BAD);
}

static void test_config_overlong_line_is_refused(void **state)
{
    (void)state;
    char file[400];
    memset(file, '#', 300);
    strcpy(file + 300, "\ncaps = on\n");
    assert_int_equal(cfg(file), OPTIONS_BAD);
    assert_int_equal(err.line, 1);
    assert_error_mentions("longer than 255");
    /* 255 characters (plus CRLF) is accepted. */
    memset(file, '#', 255);
    strcpy(file + 255, "\r\ncaps = on\n");
    assert_int_equal(cfg(file), OPTIONS_OK);
    assert_true(opt.caps);
}

static void test_config_huge_file_is_refused_without_reading_it(void **state)
{
    (void)state;
    /* The size check comes first: a 1-byte buffer with a huge length is never read. */
    char one = 'x';
    assert_int_equal(options_parse_config(&opt, &one, (size_t)1 << 40, &err), OPTIONS_BAD);
    assert_error_mentions("larger than the 16384-byte limit");
    /* A file of exactly the limit, comments only, is fine. */
    char *big = malloc(OPTIONS_CONFIG_MAX);
    for (size_t i = 0; i < OPTIONS_CONFIG_MAX; i++)
        big[i] = (i % 100 == 99) ? '\n' : '#';
    assert_int_equal(options_parse_config(&opt, big, OPTIONS_CONFIG_MAX, &err), OPTIONS_OK);
    free(big);
}

static void test_config_exact_buffer_without_newline_is_not_overread(void **state)
{
    (void)state;
    const char *src = "cpus = 12";
    char *exact = malloc(strlen(src));
    memcpy(exact, src, strlen(src));
    assert_int_equal(options_parse_config(&opt, exact, strlen(src), &err), OPTIONS_OK);
    assert_int_equal(opt.cpus, 12);
    free(exact);
}

/* Deterministic pseudo-random inputs: every result is one of the three outcomes, and an error
 * is always a single bounded line (ASan/UBSan watch for out-of-bounds reads). */
static void test_random_inputs_always_give_a_defined_outcome(void **state)
{
    (void)state;
    static const char alphabet[] = "-=\"# \t\r\n\\/abcdeflnoprstuvxyz0123456789\x01\x80\xff";
    uint32_t x = 12345;
    for (int round = 0; round < 3000; round++) {
        size_t len = (size_t)(x % 300);
        char *buf = malloc(len ? len : 1);
        for (size_t i = 0; i < len; i++) {
            x = x * 1103515245u + 12345u;
            buf[i] = alphabet[(x >> 16) % (sizeof alphabet - 1)];
        }
        x = x * 1103515245u + 12345u;
        options_defaults(&opt);
        enum options_result r1 = options_parse_config(&opt, buf, len, &err);
        assert_true(r1 == OPTIONS_OK || r1 == OPTIONS_BAD);
        assert_true(strlen(err.text) < OPTIONS_ERROR_MAX);
        assert_true(strlen(opt.start) < OPTIONS_PATH_MAX);
        enum options_result r2 = options_parse_cmdline(&opt, buf, len, true, &err);
        assert_true(r2 == OPTIONS_OK || r2 == OPTIONS_BAD);
        assert_null(strchr(err.text, '\n'));
        enum options_result r3 = options_parse_load_options(&opt, buf, len, &err);
        assert_true(r3 == OPTIONS_OK || r3 == OPTIONS_BAD || r3 == OPTIONS_IGNORED);
        free(buf);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_defaults_are_documented_values, setup),
        cmocka_unit_test_setup(test_print_shows_every_setting, setup),
        cmocka_unit_test_setup(test_cmdline_flags_set_their_settings, setup),
        cmocka_unit_test_setup(test_cmdline_first_word_is_image_path_only_without_dash, setup),
        cmocka_unit_test_setup(test_cmdline_values_separate_or_with_equals, setup),
        cmocka_unit_test_setup(test_cmdline_last_setting_wins, setup),
        cmocka_unit_test_setup(test_cmdline_quoted_path_keeps_spaces, setup),
        cmocka_unit_test_setup(test_cmdline_start_none_clears_a_start_from_the_file, setup),
        cmocka_unit_test_setup(test_cmdline_help_forms, setup),
        cmocka_unit_test_setup(test_cmdline_tabs_crlf_and_runs_of_blanks_separate_words, setup),
        cmocka_unit_test_setup(test_cmdline_empty_and_blank_change_nothing, setup),
        cmocka_unit_test_setup(test_cmdline_stops_at_nul_and_never_reads_past_len, setup),
        cmocka_unit_test_setup(test_cmdline_unknown_option_is_refused, setup),
        cmocka_unit_test_setup(test_cmdline_bad_numbers_are_refused, setup),
        cmocka_unit_test_setup(test_cmdline_serial_ports, setup),
        cmocka_unit_test_setup(test_cmdline_missing_value_is_refused, setup),
        cmocka_unit_test_setup(test_cmdline_bad_start_paths_are_refused, setup),
        cmocka_unit_test_setup(test_cmdline_overlong_path_is_refused_and_error_is_one_short_line,
                               setup),
        cmocka_unit_test_setup(test_cmdline_huge_input_is_refused, setup),
        cmocka_unit_test_setup(test_cmdline_unprintable_bytes_in_error_are_masked, setup),
        cmocka_unit_test_setup(test_load_options_ucs2_with_image_path, setup),
        cmocka_unit_test_setup(test_load_options_without_nul_and_odd_size, setup),
        cmocka_unit_test_setup(test_load_options_empty_or_null_are_ok, setup),
        cmocka_unit_test_setup(test_load_options_binary_data_is_ignored_with_a_note, setup),
        cmocka_unit_test_setup(test_load_options_too_long_is_refused, setup),
        cmocka_unit_test_setup(test_ucs2_to_ascii_truncates_and_reports_length, setup),
        cmocka_unit_test_setup(test_config_keys_set_their_settings, setup),
        cmocka_unit_test_setup(test_config_then_cmdline_command_line_wins, setup),
        cmocka_unit_test_setup(test_config_comments_blanks_crlf_tabs_and_case, setup),
        cmocka_unit_test_setup(test_config_quoted_value, setup),
        cmocka_unit_test_setup(test_config_empty_file_and_bom, setup),
        cmocka_unit_test_setup(test_config_errors_name_the_line, setup),
        cmocka_unit_test_setup(test_config_binary_bytes_are_refused, setup),
        cmocka_unit_test_setup(test_config_overlong_line_is_refused, setup),
        cmocka_unit_test_setup(test_config_huge_file_is_refused_without_reading_it, setup),
        cmocka_unit_test_setup(test_config_exact_buffer_without_newline_is_not_overread, setup),
        cmocka_unit_test_setup(test_random_inputs_always_give_a_defined_outcome, setup),
    };
    return cmocka_run_group_tests_name("options", tests, NULL, NULL);
}
