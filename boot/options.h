/* Trapvisor's settings: the load options (command line) and the config file on the ESP.
 *
 * Pure code (no UEFI, no allocation): boot/ reads the bytes, these functions parse them.
 * Order: options_defaults(), then options_parse_config() on \EFI\trapvisor\trapvisor.cfg if
 * it exists, then options_parse_load_options() on EFI_LOADED_IMAGE.LoadOptions, so that the
 * command line wins over the file. Every key is documented in docs/options.md.
 *
 * Every input is bounded and every byte sequence has a defined outcome:
 * - OPTIONS_OK: settings applied.
 * - OPTIONS_IGNORED: the load options are not text (a boot entry's binary optional data);
 *   nothing applied, `err` holds a one-line note. Launch goes on with the other settings.
 * - OPTIONS_BAD: an unknown option or key, a bad value, a malformed or overlong line, an
 *   oversized input. `err` holds one line naming the source (and the line number for the
 *   file). Trapvisor does not launch (the boot goes on without it), because a mistyped
 *   option must not silently do something else. Settings parsed before the error may have
 *   been applied; callers must not use `o` after OPTIONS_BAD. */
#ifndef TRAPVISOR_BOOT_OPTIONS_H
#define TRAPVISOR_BOOT_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/fmt.h"

#define OPTIONS_CONFIG_PATH "\\EFI\\trapvisor\\trapvisor.cfg"
#define OPTIONS_PATH_MAX    256   /* --start path, with its NUL */
#define OPTIONS_ERROR_MAX   128   /* error text, with its NUL */
#define OPTIONS_CMDLINE_MAX 1024  /* characters of load options */
#define OPTIONS_CONFIG_MAX  16384 /* bytes of config file */
#define OPTIONS_LINE_MAX    256   /* characters of one config line */
#define OPTIONS_CPUS_MAX    1024  /* largest --cpus number */
#define OPTIONS_SERIAL_COM1 0x3F8
#define OPTIONS_SERIAL_OFF  0 /* serial_port value for --serial off */

enum options_verbosity {
    OPTIONS_QUIET = 0,   /* lib/log.h LOG_QUIET */
    OPTIONS_NORMAL = 1,  /* LOG_NORMAL */
    OPTIONS_VERBOSE = 2, /* LOG_VERBOSE */
};

struct options {
    bool edu;                         /* the edu device (1234:11e8); default on */
    bool stats;                       /* the exit-statistics device; default on */
    enum options_verbosity verbosity; /* default OPTIONS_NORMAL */
    bool caps;                        /* print the VT-x capabilities and exit */
    bool dry_run;                     /* print the plan and exit */
    bool help;                        /* print the usage and exit */
    char start[OPTIONS_PATH_MAX];     /* loader to start after launch; "" = boot manager */
    uint16_t serial_port;             /* COM base port; OPTIONS_SERIAL_OFF = no serial */
    uint32_t cpus;                    /* CPUs to virtualize; 0 = all */
};

enum options_result {
    OPTIONS_OK = 0,
    OPTIONS_IGNORED = 1,
    OPTIONS_BAD = 2,
};

/* `text` is a complete line that already names its source, e.g.
 * "trapvisor.cfg line 4: unknown key 'eddu'" or "command line: unknown option '--x'":
 * print it as "options: %s" without adding the path or line number again. */
struct options_error {
    unsigned line; /* config line number (1-based), 0 for the command line */
    char text[OPTIONS_ERROR_MAX];
};

/* The defaults: edu and stats on, normal verbosity, serial on COM1, all CPUs, no --start. */
void options_defaults(struct options *o);

/* Parses a config file's bytes (not NUL-terminated; a NUL byte is an error). `key = value`
 * lines, `#` comments, CRLF or LF, a UTF-8 byte-order mark is skipped. */
enum options_result options_parse_config(struct options *o, const char *text, size_t len,
                                         struct options_error *err);

/* Parses an ASCII command line of `len` characters (stops early at a NUL). When
 * `skip_image_path` is set and the first word does not start with '-', it is the image's
 * own path (the UEFI shell passes it) and is skipped. */
enum options_result options_parse_cmdline(struct options *o, const char *cmdline, size_t len,
                                          bool skip_image_path, struct options_error *err);

/* EFI_LOADED_IMAGE.LoadOptions: `size` bytes of UCS-2 text (NUL-terminated or not), converted
 * to ASCII and parsed as a command line with the image path skipped. Returns OPTIONS_IGNORED
 * when the bytes are not printable ASCII in UCS-2 (binary optional data of a boot entry). */
enum options_result options_parse_load_options(struct options *o, const void *data, size_t size,
                                               struct options_error *err);

/* Converts UCS-2 (little-endian bytes, `size` bytes; an odd last byte is ignored) to ASCII up
 * to the first NUL. Writes at most out_size-1 characters and a NUL. Returns the number of
 * characters the text has (which may exceed out_size-1), or (size_t)-1 when a character is not
 * printable ASCII, tab, CR or LF. */
size_t options_ucs2_to_ascii(const void *data, size_t size, char *out, size_t out_size);

/* Prints the settings, one `options: key = value` line each (for --dry-run and --verbose). */
void options_print(const struct options *o, fmt_putc_fn putc, void *ctx);

/* Prints the usage text (for --help). */
void options_print_usage(fmt_putc_fn putc, void *ctx);

#endif
