/* RSDP -> XSDT/RSDT -> MCFG walk; see acpi_mcfg.h. */
#include "tools/edutest/acpi_mcfg.h"

#define SDT_HEADER_LEN   36u /* ACPI 6.x table 5.4: signature .. creator revision */
#define MCFG_ENTRIES_OFF 44u /* header + 8 reserved bytes */
#define MCFG_ENTRY_LEN   16u
#define RSDP_V1_LEN      20u
#define RSDP_V2_LEN      36u

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
    return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

static bool sig_is(const uint8_t *p, const char *sig, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] != (uint8_t)sig[i])
            return false;
    }
    return true;
}

uint8_t acpi_checksum(const void *p, size_t len)
{
    const uint8_t *b = p;
    uint8_t sum = 0;
    for (size_t i = 0; i < len; i++)
        sum = (uint8_t)(sum + b[i]);
    return sum;
}

/* Maps a whole system description table (header first, then its full length); NULL if it is
 * unreadable, shorter than its header, or fails its checksum. */
static const uint8_t *map_table(acpi_map_fn map, void *ctx, uint64_t pa, uint32_t *len_out)
{
    if (pa == 0)
        return NULL;
    const uint8_t *hdr = map(ctx, pa, SDT_HEADER_LEN);
    if (hdr == NULL)
        return NULL;
    uint32_t len = get32(hdr + 4);
    if (len < SDT_HEADER_LEN || len > (1u << 20))
        return NULL;
    const uint8_t *t = map(ctx, pa, len);
    if (t == NULL || acpi_checksum(t, len) != 0)
        return NULL;
    *len_out = len;
    return t;
}

static size_t parse_mcfg(const uint8_t *t, uint32_t len, struct ecam_window *out, size_t max)
{
    size_t n = 0;
    for (uint32_t off = MCFG_ENTRIES_OFF; off + MCFG_ENTRY_LEN <= len && n < max;
         off += MCFG_ENTRY_LEN) {
        const uint8_t *e = t + off;
        struct ecam_window w = {
            .base = get64(e),
            .segment = (uint16_t)(e[8] | e[9] << 8),
            .start_bus = e[10],
            .end_bus = e[11],
        };
        if (w.end_bus < w.start_bus || w.base == 0)
            continue;
        out[n++] = w;
    }
    return n;
}

size_t acpi_find_ecam(acpi_map_fn map, void *ctx, uint64_t rsdp_pa, struct ecam_window *out,
                      size_t max)
{
    if (rsdp_pa == 0)
        return 0;
    const uint8_t *rsdp = map(ctx, rsdp_pa, RSDP_V1_LEN);
    if (rsdp == NULL || !sig_is(rsdp, "RSD PTR ", 8) || acpi_checksum(rsdp, RSDP_V1_LEN) != 0)
        return 0;

    /* Revision >= 2: the 36-byte RSDP with the XSDT address (ACPI 6.x table 5.3). */
    uint64_t root_pa = get32(rsdp + 16);
    unsigned entry_size = 4;
    const char *root_sig = "RSDT";
    if (rsdp[15] >= 2) {
        const uint8_t *r2 = map(ctx, rsdp_pa, RSDP_V2_LEN);
        if (r2 != NULL && acpi_checksum(r2, RSDP_V2_LEN) == 0 && get64(r2 + 24) != 0) {
            root_pa = get64(r2 + 24);
            entry_size = 8;
            root_sig = "XSDT";
        }
    }

    uint32_t root_len;
    const uint8_t *root = map_table(map, ctx, root_pa, &root_len);
    if (root == NULL || !sig_is(root, root_sig, 4))
        return 0;

    size_t entries = (root_len - SDT_HEADER_LEN) / entry_size;
    if (entries > ACPI_MAX_TABLES)
        entries = ACPI_MAX_TABLES;
    for (size_t i = 0; i < entries; i++) {
        const uint8_t *e = root + SDT_HEADER_LEN + i * entry_size;
        uint64_t pa = entry_size == 8 ? get64(e) : get32(e);
        uint32_t len;
        const uint8_t *t = map_table(map, ctx, pa, &len);
        if (t != NULL && sig_is(t, "MCFG", 4))
            return parse_mcfg(t, len, out, max);
    }
    return 0;
}
