/* tools/edutest/acpi_mcfg: RSDP -> XSDT/RSDT -> MCFG over a fake physical memory, including
 * broken tables that must give "no ECAM" rather than an out-of-bounds read. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tools/edutest/acpi_mcfg.h"

/* A fake physical address space: 64 KiB starting at physical address 0x10000. */
#define MEM_BASE 0x10000u
#define MEM_SIZE 0x10000u
static uint8_t mem[MEM_SIZE];

static const void *fake_map(void *ctx, uint64_t pa, size_t len)
{
    (void)ctx;
    if (pa < MEM_BASE || pa - MEM_BASE > MEM_SIZE || len > MEM_SIZE - (pa - MEM_BASE))
        return NULL;
    return mem + (pa - MEM_BASE);
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
    put32(p, (uint32_t)v);
    put32(p + 4, (uint32_t)(v >> 32));
}

static uint8_t *at(uint32_t pa)
{
    return mem + (pa - MEM_BASE);
}

/* Writes a table header with the given signature and length and fixes its checksum after
 * the caller filled the body (call fix_checksum). */
static void table_header(uint32_t pa, const char *sig, uint32_t len)
{
    memcpy(at(pa), sig, 4);
    put32(at(pa) + 4, len);
    at(pa)[8] = 1;
}

static void fix_checksum(uint8_t *p, size_t len, size_t sum_off)
{
    p[sum_off] = 0;
    p[sum_off] = (uint8_t)(0x100 - acpi_checksum(p, len));
}

#define RSDP_PA 0x10000u
#define XSDT_PA 0x11000u
#define RSDT_PA 0x11800u
#define FACP_PA 0x12000u
#define MCFG_PA 0x13000u

/* An RSDP (revision 2, or 0 for ACPI 1.0 with only the RSDT), a root table listing a FACP
 * and an MCFG with the given windows. */
static void build(int revision, size_t windows)
{
    memset(mem, 0, sizeof(mem));
    uint8_t *r = at(RSDP_PA);
    memcpy(r, "RSD PTR ", 8);
    r[15] = (uint8_t)revision;
    put32(r + 16, RSDT_PA);
    put32(r + 20, 36);
    put64(r + 24, revision >= 2 ? XSDT_PA : 0);
    fix_checksum(r, 20, 8);
    fix_checksum(r, 36, 32);

    table_header(FACP_PA, "FACP", 116);
    fix_checksum(at(FACP_PA), 116, 9);

    uint32_t mlen = 44 + 16 * (uint32_t)windows;
    table_header(MCFG_PA, "MCFG", mlen);
    for (size_t i = 0; i < windows; i++) {
        uint8_t *e = at(MCFG_PA) + 44 + 16 * i;
        put64(e, 0xb0000000ull + 0x10000000ull * i);
        e[8] = (uint8_t)i; /* segment */
        e[10] = 0;
        e[11] = 0xff;
    }
    fix_checksum(at(MCFG_PA), mlen, 9);

    table_header(XSDT_PA, "XSDT", 36 + 16);
    put64(at(XSDT_PA) + 36, FACP_PA);
    put64(at(XSDT_PA) + 44, MCFG_PA);
    fix_checksum(at(XSDT_PA), 52, 9);

    table_header(RSDT_PA, "RSDT", 36 + 8);
    put32(at(RSDT_PA) + 36, FACP_PA);
    put32(at(RSDT_PA) + 40, MCFG_PA);
    fix_checksum(at(RSDT_PA), 44, 9);
}

static void xsdt_leads_to_the_mcfg_window(void **state)
{
    (void)state;
    build(2, 1);
    struct ecam_window w[4];
    assert_int_equal(acpi_find_ecam(fake_map, NULL, RSDP_PA, w, 4), 1);
    assert_int_equal(w[0].base, 0xb0000000u);
    assert_int_equal(w[0].segment, 0);
    assert_int_equal(w[0].start_bus, 0);
    assert_int_equal(w[0].end_bus, 0xff);
}

static void acpi1_rsdp_uses_the_rsdt(void **state)
{
    (void)state;
    build(0, 2);
    struct ecam_window w[4];
    assert_int_equal(acpi_find_ecam(fake_map, NULL, RSDP_PA, w, 4), 2);
    assert_int_equal(w[1].base, 0xc0000000u);
    assert_int_equal(w[1].segment, 1);
}

static void window_count_is_capped_by_the_caller(void **state)
{
    (void)state;
    build(2, 3);
    struct ecam_window w[2];
    assert_int_equal(acpi_find_ecam(fake_map, NULL, RSDP_PA, w, 2), 2);
}

static void no_rsdp_or_bad_rsdp_gives_no_window(void **state)
{
    (void)state;
    build(2, 1);
    struct ecam_window w[4];
    assert_int_equal(acpi_find_ecam(fake_map, NULL, 0, w, 4), 0);
    assert_int_equal(acpi_find_ecam(fake_map, NULL, 0xdead0000u, w, 4), 0); /* unmapped */
    at(RSDP_PA)[0] = 'X';
    assert_int_equal(acpi_find_ecam(fake_map, NULL, RSDP_PA, w, 4), 0);
    build(2, 1);
    at(RSDP_PA)[9] ^= 1; /* first checksum broken */
    assert_int_equal(acpi_find_ecam(fake_map, NULL, RSDP_PA, w, 4), 0);
}

static void missing_mcfg_gives_no_window(void **state)
{
    (void)state;
    build(2, 1);
    memcpy(at(MCFG_PA), "APIC", 4);
    fix_checksum(at(MCFG_PA), 44 + 16, 9);
    struct ecam_window w[4];
    assert_int_equal(acpi_find_ecam(fake_map, NULL, RSDP_PA, w, 4), 0);
}

static void corrupt_tables_are_skipped_not_overread(void **state)
{
    (void)state;
    struct ecam_window w[4];
    /* An MCFG whose checksum is wrong is not trusted. */
    build(2, 1);
    at(MCFG_PA)[50] ^= 0x40;
    assert_int_equal(acpi_find_ecam(fake_map, NULL, RSDP_PA, w, 4), 0);
    /* An XSDT claiming a length past the end of memory is refused (no read past it). */
    build(2, 1);
    put32(at(XSDT_PA) + 4, 0x100000);
    assert_int_equal(acpi_find_ecam(fake_map, NULL, RSDP_PA, w, 4), 0);
    /* A length shorter than a header is refused. */
    build(2, 1);
    put32(at(XSDT_PA) + 4, 10);
    assert_int_equal(acpi_find_ecam(fake_map, NULL, RSDP_PA, w, 4), 0);
    /* An entry pointing outside memory is skipped; the MCFG after it is still found. */
    build(2, 1);
    put64(at(XSDT_PA) + 36, 0xffffffff00000000ull);
    fix_checksum(at(XSDT_PA), 52, 9);
    assert_int_equal(acpi_find_ecam(fake_map, NULL, RSDP_PA, w, 4), 1);
}

static void mcfg_entries_with_inverted_bus_range_are_skipped(void **state)
{
    (void)state;
    build(2, 2);
    at(MCFG_PA)[44 + 10] = 5; /* first window: start bus 5, end bus 4 */
    at(MCFG_PA)[44 + 11] = 4;
    fix_checksum(at(MCFG_PA), 44 + 32, 9);
    struct ecam_window w[4];
    assert_int_equal(acpi_find_ecam(fake_map, NULL, RSDP_PA, w, 4), 1);
    assert_int_equal(w[0].base, 0xc0000000u);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(xsdt_leads_to_the_mcfg_window),
        cmocka_unit_test(acpi1_rsdp_uses_the_rsdt),
        cmocka_unit_test(window_count_is_capped_by_the_caller),
        cmocka_unit_test(no_rsdp_or_bad_rsdp_gives_no_window),
        cmocka_unit_test(missing_mcfg_gives_no_window),
        cmocka_unit_test(corrupt_tables_are_skipped_not_overread),
        cmocka_unit_test(mcfg_entries_with_inverted_bus_range_are_skipped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
