/* decode/fetch: CPU mode from CR0/EFER/RFLAGS/CS, and instruction fetch in every mode,
 * across page boundaries, at the CS limit, at the 32-bit wrap and at the canonical edge. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "decode/fetch.h"
#include "tests/walk/guest_tables.h"

static struct guest_ram ram;
static struct guest_mem mem;

static int fresh_ram(void **state)
{
    (void)state;
    mem = guest_ram_init(&ram, true);
    /* Recognisable bytes: the byte at guest-physical a is (a * 7 + 1) & 0xFF. */
    for (uint64_t a = 0; a < GUEST_RAM_SIZE; a++)
        ram.bytes[a] = (uint8_t)(a * 7 + 1);
    return 0;
}

static int free_ram(void **state)
{
    (void)state;
    guest_ram_free(&ram);
    return 0;
}

static uint8_t byte_at(uint64_t gpa)
{
    return (uint8_t)(gpa * 7 + 1);
}

/* VMCS-format access rights: present, code, accessed; plus L/D as asked. */
#define AR_CODE 0x9Bu

static void cpu_mode_follows_cr0_efer_rflags_cs(void **state)
{
    (void)state;
    assert_int_equal(cpu_mode_of(0, 0, 0, AR_CODE), CPU_MODE_REAL);
    assert_int_equal(cpu_mode_of(0, 0, 0, AR_CODE | SEG_AR_D), CPU_MODE_REAL);
    assert_int_equal(cpu_mode_of(CR0_PE, 0, RFLAGS_VM_BIT, AR_CODE), CPU_MODE_VM86);
    assert_int_equal(cpu_mode_of(CR0_PE, 0, 0, AR_CODE), CPU_MODE_PROT16);
    assert_int_equal(cpu_mode_of(CR0_PE, 0, 0, AR_CODE | SEG_AR_D), CPU_MODE_PROT32);
    const uint64_t cr0 = CR0_PE | CR0_PG, efer = EFER_LME | EFER_LMA;
    assert_int_equal(cpu_mode_of(cr0, efer, 0, AR_CODE), CPU_MODE_COMPAT16);
    assert_int_equal(cpu_mode_of(cr0, efer, 0, AR_CODE | SEG_AR_D), CPU_MODE_COMPAT32);
    assert_int_equal(cpu_mode_of(cr0, efer, 0, AR_CODE | SEG_AR_L), CPU_MODE_LONG64);
    assert_int_equal(cpu_mode_of(cr0, efer, 0, 0xA09B), CPU_MODE_LONG64); /* OVMF's CS */
    /* LME without LMA (paging still off) is not IA-32e mode yet. */
    assert_int_equal(cpu_mode_of(CR0_PE, EFER_LME, 0, AR_CODE | SEG_AR_L), CPU_MODE_PROT16);
}

static void default_sizes_per_mode(void **state)
{
    (void)state;
    static const struct {
        enum cpu_mode mode;
        unsigned op, addr;
    } want[] = {
        {CPU_MODE_REAL, 16, 16},   {CPU_MODE_VM86, 16, 16},     {CPU_MODE_PROT16, 16, 16},
        {CPU_MODE_PROT32, 32, 32}, {CPU_MODE_COMPAT16, 16, 16}, {CPU_MODE_COMPAT32, 32, 32},
        {CPU_MODE_LONG64, 32, 64},
    };
    for (unsigned i = 0; i < sizeof want / sizeof want[0]; i++) {
        assert_int_equal(cpu_mode_operand_bits(want[i].mode), want[i].op);
        assert_int_equal(cpu_mode_address_bits(want[i].mode), want[i].addr);
    }
}

static void expect_bytes_from(const struct fetch_result *r, unsigned from, unsigned n, uint64_t gpa)
{
    for (unsigned i = 0; i < n; i++)
        if (r->bytes[from + i] != byte_at(gpa + i))
            fail_msg("byte %u: %#x, want %#x (gpa %#llx)", from + i, r->bytes[from + i],
                     byte_at(gpa + i), (unsigned long long)(gpa + i));
}

static void real_mode_fetches_at_cs_base_and_stops_at_limit(void **state)
{
    (void)state;
    struct guest_paging pg = {0};
    struct fetch_cs cs = {.base = 0xF0000, .limit = 0xFFFF, .ar = AR_CODE};
    struct fetch_result r;
    assert_int_equal(fetch_insn(&pg, &mem, &cs, 0x1234, &r), FETCH_OK);
    assert_int_equal(r.mode, CPU_MODE_REAL);
    assert_int_equal(r.len, FETCH_MAX_BYTES);
    expect_bytes_from(&r, 0, 15, 0xF1234);
    /* IP 0xFFF8: eight bytes up to the limit, then #GP(0). */
    assert_int_equal(fetch_insn(&pg, &mem, &cs, 0xFFF8, &r), FETCH_TRUNCATED);
    assert_int_equal(r.len, 8);
    expect_bytes_from(&r, 0, 8, 0xFFFF8);
    assert_int_equal(r.fault, FETCH_FAULT_GP);
    assert_int_equal(r.walk.status, WALK_GP);
    assert_int_equal(r.walk.error_code, 0);
    /* Starting past the limit: nothing. */
    assert_int_equal(fetch_insn(&pg, &mem, &cs, 0x10000, &r), FETCH_TRUNCATED);
    assert_int_equal(r.len, 0);
    assert_int_equal(r.fault, FETCH_FAULT_GP);
    /* Virtual-8086 mode reads the same way. */
    pg.cr0 = CR0_PE;
    pg.rflags = RFLAGS_VM_BIT;
    pg.cpl = 3;
    assert_int_equal(fetch_insn(&pg, &mem, &cs, 0x10, &r), FETCH_OK);
    assert_int_equal(r.mode, CPU_MODE_VM86);
    expect_bytes_from(&r, 0, 15, 0xF0010);
}

static void protected_16_and_32_bit_fetch_through_32bit_paging(void **state)
{
    (void)state;
    const uint64_t cr3 = guest_tables_root(&ram);
    guest_map(&ram, PAGING_32BIT, cr3, 0x80001000, 0x5000, 4096, E_ALL);
    struct guest_paging pg = {.cr0 = CR0_PE | CR0_PG | CR0_WP, .cr3 = cr3, .cr4 = CR4_PSE};
    struct fetch_cs cs = {.base = 0x80000000, .limit = 0xFFFFFFFF, .ar = AR_CODE | SEG_AR_D};
    struct fetch_result r;
    assert_int_equal(fetch_insn(&pg, &mem, &cs, 0x1100, &r), FETCH_OK);
    assert_int_equal(r.mode, CPU_MODE_PROT32);
    expect_bytes_from(&r, 0, 15, 0x5100);
    cs.ar = AR_CODE;
    cs.limit = 0x1104; /* bytes at offsets up to and including the limit */
    assert_int_equal(fetch_insn(&pg, &mem, &cs, 0x1100, &r), FETCH_TRUNCATED);
    assert_int_equal(r.mode, CPU_MODE_PROT16);
    assert_int_equal(r.len, 5);
    assert_int_equal(r.fault, FETCH_FAULT_GP);
    expect_bytes_from(&r, 0, 5, 0x5100);
}

static void eip_wraps_at_32_bits_outside_64_bit_mode(void **state)
{
    (void)state;
    struct guest_paging pg = {.cr0 = CR0_PE};
    struct fetch_cs cs = {.base = 0x2000, .limit = 0xFFFFFFFF, .ar = AR_CODE | SEG_AR_D};
    struct fetch_result r;
    /* Offsets FFFFFFFE, FFFFFFFF, 0, 1...: linear 0x1FFE, 0x1FFF, then 0x2000 onwards. */
    assert_int_equal(fetch_insn(&pg, &mem, &cs, 0xFFFFFFFEull, &r), FETCH_OK);
    expect_bytes_from(&r, 0, 15, 0x1FFE);
    /* A RIP with high bits set is still a 32-bit EIP here. */
    assert_int_equal(fetch_insn(&pg, &mem, &cs, 0x123400000010ull, &r), FETCH_OK);
    expect_bytes_from(&r, 0, 15, 0x2010);
    /* The linear address wraps at 4 GiB too: base + offset beyond it comes back to 0. */
    cs.base = 0xFFFFF000;
    assert_int_equal(fetch_insn(&pg, &mem, &cs, 0x1008, &r), FETCH_OK);
    expect_bytes_from(&r, 0, 15, 0x8);
}

static struct guest_paging long_mode_regs(uint64_t cr3)
{
    return (struct guest_paging){.cr0 = CR0_PE | CR0_PG | CR0_WP,
                                 .cr3 = cr3,
                                 .cr4 = CR4_PAE,
                                 .efer = EFER_LME | EFER_LMA | EFER_NXE,
                                 .maxphyaddr = 40};
}

static void compatibility_mode_uses_cs_base_and_limit(void **state)
{
    (void)state;
    const uint64_t cr3 = guest_tables_root(&ram);
    guest_map(&ram, PAGING_4LEVEL, cr3, 0x00400000, 0x7000, 4096, E_ALL);
    struct guest_paging pg = long_mode_regs(cr3);
    struct fetch_cs cs = {.base = 0x00400000, .limit = 0x0FFF, .ar = AR_CODE | SEG_AR_D};
    struct fetch_result r;
    assert_int_equal(fetch_insn(&pg, &mem, &cs, 0x20, &r), FETCH_OK);
    assert_int_equal(r.mode, CPU_MODE_COMPAT32);
    expect_bytes_from(&r, 0, 15, 0x7020);
    assert_int_equal(fetch_insn(&pg, &mem, &cs, 0xFFA, &r), FETCH_TRUNCATED);
    assert_int_equal(r.len, 6);
    assert_int_equal(r.fault, FETCH_FAULT_GP);
    /* CS base + EIP is a 32-bit linear address here, even under 4-level paging. */
    guest_map(&ram, PAGING_4LEVEL, cr3, 0, 0x6000, 4096, E_ALL);
    cs.base = 0xFFFFF000;
    cs.limit = 0xFFFFFFFF;
    assert_int_equal(fetch_insn(&pg, &mem, &cs, 0x1010, &r), FETCH_OK);
    expect_bytes_from(&r, 0, 15, 0x6010);
}

static void long_mode_ignores_cs_base_and_limit(void **state)
{
    (void)state;
    const uint64_t cr3 = guest_tables_root(&ram);
    const uint64_t rip = 0xFFFFFFFF80001230ull;
    guest_map(&ram, PAGING_4LEVEL, cr3, rip, 0x9000, 4096, E_P | E_RW);
    struct guest_paging pg = long_mode_regs(cr3);
    struct fetch_cs cs = {.base = 0x12345000, .limit = 0, .ar = 0xA09B};
    struct fetch_result r;
    assert_int_equal(fetch_insn(&pg, &mem, &cs, rip, &r), FETCH_OK);
    assert_int_equal(r.mode, CPU_MODE_LONG64);
    expect_bytes_from(&r, 0, 15, 0x9230);
    /* User mode cannot fetch from this supervisor page: #PF P|U|I at the RIP. */
    pg.cpl = 3;
    assert_int_equal(fetch_insn(&pg, &mem, &cs, rip, &r), FETCH_TRUNCATED);
    assert_int_equal(r.len, 0);
    assert_int_equal(r.fault, FETCH_FAULT_PF);
    assert_int_equal(r.walk.error_code, PF_ERR_P | PF_ERR_U | PF_ERR_I);
    assert_int_equal(r.walk.fault_addr, rip);
}

static void fetch_across_page_boundary_translates_each_page(void **state)
{
    (void)state;
    const uint64_t cr3 = guest_tables_root(&ram);
    const uint64_t page = 0x0000700000000000ull;
    /* The second linear page maps to a physically lower, unrelated frame. */
    guest_map(&ram, PAGING_4LEVEL, cr3, page, 0x9000, 4096, E_ALL);
    guest_map(&ram, PAGING_4LEVEL, cr3, page + 4096, 0x3000, 4096, E_ALL);
    struct guest_paging pg = long_mode_regs(cr3);
    struct fetch_cs cs = {.ar = 0xA09B};
    struct fetch_result r;
    assert_int_equal(fetch_insn(&pg, &mem, &cs, page + 4093, &r), FETCH_OK);
    expect_bytes_from(&r, 0, 3, 0x9FFD);
    expect_bytes_from(&r, 3, 12, 0x3000);
    /* Second page not present: three bytes, then the #PF for the second page. */
    guest_entry_change(&ram, PAGING_4LEVEL, cr3, page + 4096, 1, 0, E_P);
    assert_int_equal(fetch_insn(&pg, &mem, &cs, page + 4093, &r), FETCH_TRUNCATED);
    assert_int_equal(r.len, 3);
    expect_bytes_from(&r, 0, 3, 0x9FFD);
    assert_int_equal(r.fault, FETCH_FAULT_PF);
    assert_int_equal(r.walk.error_code, PF_ERR_I); /* not present, supervisor, fetch */
    assert_int_equal(r.walk.fault_addr, page + 4096);
    /* Second page NX: a protection fault instead. */
    guest_entry_change(&ram, PAGING_4LEVEL, cr3, page + 4096, 1, E_P | E_XD, 0);
    assert_int_equal(fetch_insn(&pg, &mem, &cs, page + 4090, &r), FETCH_TRUNCATED);
    assert_int_equal(r.len, 6);
    assert_int_equal(r.walk.error_code, PF_ERR_P | PF_ERR_I);
}

static void fetch_stops_at_the_canonical_edge(void **state)
{
    (void)state;
    const uint64_t cr3 = guest_tables_root(&ram);
    const uint64_t last = 0x00007FFFFFFFF000ull;
    guest_map(&ram, PAGING_4LEVEL, cr3, last, 0x4000, 4096, E_ALL);
    struct guest_paging pg = long_mode_regs(cr3);
    struct fetch_cs cs = {.ar = 0xA09B};
    struct fetch_result r;
    assert_int_equal(fetch_insn(&pg, &mem, &cs, last + 0xFF8, &r), FETCH_TRUNCATED);
    assert_int_equal(r.len, 8);
    expect_bytes_from(&r, 0, 8, 0x4FF8);
    assert_int_equal(r.fault, FETCH_FAULT_GP);
    assert_int_equal(r.walk.fault_addr, 0x0000800000000000ull);
}

static void code_outside_guest_ram_is_bad_gpa(void **state)
{
    (void)state;
    struct guest_paging pg = {.cr0 = CR0_PE};
    struct fetch_cs cs = {.base = 0, .limit = 0xFFFFFFFF, .ar = AR_CODE | SEG_AR_D};
    struct fetch_result r;
    /* The last five bytes of RAM, then the end of RAM. */
    assert_int_equal(fetch_insn(&pg, &mem, &cs, GUEST_RAM_SIZE - 5, &r), FETCH_TRUNCATED);
    assert_int_equal(r.len, 5);
    assert_int_equal(r.fault, FETCH_FAULT_BAD_GPA);
    expect_bytes_from(&r, 0, 5, GUEST_RAM_SIZE - 5);
    assert_int_equal(r.walk.bad_gpa, GUEST_RAM_SIZE);
    /* The same through 4-level paging, the second page mapped beyond RAM. */
    const uint64_t cr3 = guest_tables_root(&ram);
    guest_map(&ram, PAGING_4LEVEL, cr3, 0x10000, 0xFFF000, 4096, E_ALL);
    guest_map(&ram, PAGING_4LEVEL, cr3, 0x11000, 0x1000000, 4096, E_ALL); /* beyond RAM */
    pg = long_mode_regs(cr3);
    cs.ar = 0xA09B;
    assert_int_equal(fetch_insn(&pg, &mem, &cs, 0x10FFC, &r), FETCH_TRUNCATED);
    assert_int_equal(r.len, 4);
    assert_int_equal(r.fault, FETCH_FAULT_BAD_GPA);
    assert_int_equal(r.walk.bad_gpa, 0x1000000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cpu_mode_follows_cr0_efer_rflags_cs),
        cmocka_unit_test(default_sizes_per_mode),
        cmocka_unit_test_setup_teardown(real_mode_fetches_at_cs_base_and_stops_at_limit, fresh_ram,
                                        free_ram),
        cmocka_unit_test_setup_teardown(protected_16_and_32_bit_fetch_through_32bit_paging,
                                        fresh_ram, free_ram),
        cmocka_unit_test_setup_teardown(eip_wraps_at_32_bits_outside_64_bit_mode, fresh_ram,
                                        free_ram),
        cmocka_unit_test_setup_teardown(compatibility_mode_uses_cs_base_and_limit, fresh_ram,
                                        free_ram),
        cmocka_unit_test_setup_teardown(long_mode_ignores_cs_base_and_limit, fresh_ram, free_ram),
        cmocka_unit_test_setup_teardown(fetch_across_page_boundary_translates_each_page, fresh_ram,
                                        free_ram),
        cmocka_unit_test_setup_teardown(fetch_stops_at_the_canonical_edge, fresh_ram, free_ram),
        cmocka_unit_test_setup_teardown(code_outside_guest_ram_is_bad_gpa, fresh_ram, free_ram),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
