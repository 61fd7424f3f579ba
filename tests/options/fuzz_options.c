/* libFuzzer target over boot/options.c: the config parser, the command-line parser and the
 * UCS-2 load-options path get the same bytes. Besides ASan/UBSan's checks, every outcome must
 * be one of the documented results with a bounded one-line error and a bounded path. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "boot/options.h"

static void check(const struct options *o, const struct options_error *e, enum options_result r)
{
    if (r != OPTIONS_OK && r != OPTIONS_BAD && r != OPTIONS_IGNORED)
        abort();
    if (memchr(e->text, '\0', sizeof e->text) == NULL || strchr(e->text, '\n'))
        abort();
    if (memchr(o->start, '\0', sizeof o->start) == NULL)
        abort();
    if (o->verbosity > OPTIONS_VERBOSE || o->cpus > OPTIONS_CPUS_MAX)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct options o;
    struct options_error e;
    /* An exact-size copy, so ASan sees any read past the end. */
    char *buf = malloc(size ? size : 1);
    memcpy(buf, data, size);

    options_defaults(&o);
    check(&o, &e, options_parse_config(&o, buf, size, &e));
    options_defaults(&o);
    check(&o, &e, options_parse_cmdline(&o, buf, size, true, &e));
    options_defaults(&o);
    enum options_result r = options_parse_load_options(&o, buf, size, &e);
    check(&o, &e, r);
    if (r == OPTIONS_IGNORED && o.caps != false)
        abort(); /* ignored load options change nothing */
    free(buf);
    return 0;
}
