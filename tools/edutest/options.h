/* edutest's command line: the loaded image's LoadOptions, as the UEFI shell passes them
 * (UCS-2, the program name first, tokens separated by spaces or tabs). Pure code: no UEFI
 * types, so host tests can drive it. */
#ifndef TRAPVISOR_TOOLS_EDUTEST_OPTIONS_H
#define TRAPVISOR_TOOLS_EDUTEST_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct edutest_options {
    bool strict; /* --strict: also run checks only a safe device model passes */
    bool serial; /* --serial: copy every line to COM1 as well as the UEFI console */
    bool help;   /* --help: print usage and exit */
    /* The first token starting with "--" that is not an option (ASCII, NUL-terminated,
     * truncated to fit); empty when every option was known. */
    char unknown[32];
};

/* Parses nchars UCS-2 characters (a NUL ends the string early). Tokens not starting with
 * "--" (the program name, a boot option's stray data) are ignored. Returns false if an
 * unknown "--" option was present (named in opts->unknown). A NULL string parses as empty. */
bool edutest_parse_options(const uint16_t *s, size_t nchars, struct edutest_options *opts);

#endif
