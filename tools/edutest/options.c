/* edutest's option parser; see options.h. */
#include "tools/edutest/options.h"

static bool is_space(uint16_t c)
{
    return c == ' ' || c == '\t';
}

/* True if the token s[0..len) equals the ASCII word w. */
static bool token_is(const uint16_t *s, size_t len, const char *w)
{
    size_t i = 0;
    for (; i < len; i++) {
        if (w[i] == '\0' || s[i] != (uint16_t)(unsigned char)w[i])
            return false;
    }
    return w[i] == '\0';
}

bool edutest_parse_options(const uint16_t *s, size_t nchars, struct edutest_options *opts)
{
    opts->strict = false;
    opts->serial = false;
    opts->help = false;
    opts->unknown[0] = '\0';
    if (s == NULL)
        return true;

    size_t n = 0;
    while (n < nchars && s[n] != 0)
        n++;

    bool ok = true;
    size_t i = 0;
    while (i < n) {
        while (i < n && is_space(s[i]))
            i++;
        size_t start = i;
        while (i < n && !is_space(s[i]))
            i++;
        size_t len = i - start;
        const uint16_t *tok = s + start;
        if (len < 2 || tok[0] != '-' || tok[1] != '-')
            continue;
        if (token_is(tok, len, "--strict")) {
            opts->strict = true;
        } else if (token_is(tok, len, "--serial")) {
            opts->serial = true;
        } else if (token_is(tok, len, "--help")) {
            opts->help = true;
        } else if (ok) {
            ok = false;
            size_t k = 0;
            for (; k < len && k + 1 < sizeof(opts->unknown); k++)
                opts->unknown[k] = (tok[k] >= 0x20 && tok[k] < 0x7f) ? (char)tok[k] : '?';
            opts->unknown[k] = '\0';
        }
    }
    return ok;
}
