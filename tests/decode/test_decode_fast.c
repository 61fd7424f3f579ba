/* decode/decode: x86_decode()'s MOV fast path against the general decoder alone.
 *
 * Differential: for each mode, a set of prefix sequences (none, each legacy prefix, REX forms,
 * combinations, misplaced and repeated prefixes, LOCK/REP), every opcode byte of the one-byte
 * map and of the 0F map, every ModRM byte, every SIB byte for the SIB forms, random
 * displacement/immediate bytes: x86_decode() must give exactly what x86_decode_general() gives
 * (status and every field). Buffers of every length 1..15 are exact-size heap copies, so
 * AddressSanitizer catches a read past the end.
 *
 * Linked with tests/decode/decode_probe.c (decode.c with X86_DECODE_FAST_PROBE), whose counter
 * of declined instructions shows which forms took the fast path. */
#define X86_DECODE_FAST_PROBE 1

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "decode/decode.h"
#include "tests/support/rng.h"

static const char *const mode_names[] = {"16", "32", "64"};

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rng(void)
{
    return xorshift64(&rng_state);
}

static void print_bytes(const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        fprintf(stderr, "%02x ", b[i]);
}

/* Field by field (padding does not count). Returns the name of the first differing field. */
static const char *insn_diff(const struct x86_insn *a, const struct x86_insn *b)
{
#define FIELD(f)                                                                                   \
    if (a->f != b->f)                                                                              \
        return #f;
    FIELD(len)
    FIELD(mode)
    FIELD(op)
    FIELD(alu)
    FIELD(access)
    FIELD(access_size)
    FIELD(operand_size)
    FIELD(address_size)
    FIELD(src)
    FIELD(mem_is_dst)
    FIELD(reg)
    FIELD(reg_high8)
    FIELD(rm_reg)
    FIELD(rm_high8)
    FIELD(imm)
    FIELD(mem.seg)
    FIELD(mem.base)
    FIELD(mem.index)
    FIELD(mem.scale)
    FIELD(mem.rip_rel)
    FIELD(mem.absolute)
    FIELD(mem.disp)
    FIELD(rep)
    FIELD(lock)
    FIELD(sse_zero_upper)
    FIELD(align)
    FIELD(prefix_count)
    FIELD(rex)
#undef FIELD
    return NULL;
}

static unsigned long compared, fast_taken;

/* x86_decode() and x86_decode_general() on the same bytes (an exact-size heap copy of the first
 * len bytes of b) must agree on the status and on every field. */
static uint8_t *exact[X86_MAX_INSN_LEN + 1]; /* exact[n]: a heap buffer of n bytes */

static void compare_one(const uint8_t *b, size_t len, enum x86_mode mode)
{
    if (!exact[len]) {
        exact[len] = malloc(len);
        assert_non_null(exact[len]);
    }
    uint8_t *copy = exact[len];
    memcpy(copy, b, len);
    struct x86_insn fast, general;
    memset(&fast, 0xA5, sizeof fast);
    memset(&general, 0x5A, sizeof general);
    const unsigned long declined = x86_decode_fast_declined;
    enum x86_decode_status sf = x86_decode(copy, len, mode, &fast);
    const bool took_fast = x86_decode_fast_declined == declined && len >= X86_MAX_INSN_LEN;
    enum x86_decode_status sg = x86_decode_general(copy, len, mode, &general);
    compared++;
    fast_taken += took_fast;
    const char *field = sf == sg ? insn_diff(&fast, &general) : "status";
    if (field) {
        fprintf(stderr, "mode %s len %zu bytes: ", mode_names[mode], len);
        print_bytes(b, len);
        fprintf(stderr, "\n  differs in %s (status fast=%s general=%s, fast path %s)\n", field,
                x86_decode_status_name(sf), x86_decode_status_name(sg),
                took_fast ? "taken" : "declined");
        fail();
    }
}

/* Prefix sequences: what a driver emits, and what the fast path must leave to the general
 * decoder (LOCK, REP, repeats, REX before a legacy prefix, two REX, ...). */
struct prefixes {
    uint8_t n;
    uint8_t b[5];
};
static const struct prefixes prefix_sets[] = {
    {0, {0}},
    {1, {0x66}},
    {1, {0x67}},
    {1, {0x26}},
    {1, {0x2E}},
    {1, {0x36}},
    {1, {0x3E}},
    {1, {0x64}},
    {1, {0x65}},
    {1, {0xF0}},
    {1, {0xF2}},
    {1, {0xF3}},
    {1, {0x40}},
    {1, {0x41}},
    {1, {0x42}},
    {1, {0x44}},
    {1, {0x48}},
    {1, {0x4F}},
    {2, {0x66, 0x48}},
    {2, {0x66, 0x41}},
    {2, {0x67, 0x66}},
    {3, {0x65, 0x66, 0x4C}},
    {3, {0x2E, 0x66, 0x4B}},
    {4, {0x64, 0x67, 0x66, 0x4D}},
    {2, {0x48, 0x66}}, /* REX before a legacy prefix: ignored */
    {2, {0x41, 0x48}}, /* two REX: the last counts */
    {2, {0x66, 0x66}},
    {2, {0x64, 0x65}},
    {2, {0x3E, 0x64}},
    {2, {0xF0, 0x66}},
    {2, {0x66, 0xF3}},
    {2, {0xF2, 0x48}},
    {5, {0x26, 0x36, 0x66, 0x67, 0x48}},
};
#define N_PREFIX_SETS (sizeof prefix_sets / sizeof prefix_sets[0])

/* Builds prefixes + opcode (one or two bytes) + ModRM + random bytes into b[15]; returns the
 * index of the byte after the ModRM. */
static size_t build(uint8_t b[X86_MAX_INSN_LEN], const struct prefixes *p, bool escape,
                    unsigned opcode, unsigned modrm)
{
    size_t k = 0;
    for (unsigned i = 0; i < p->n; i++)
        b[k++] = p->b[i];
    if (escape)
        b[k++] = 0x0F;
    b[k++] = (uint8_t)opcode;
    b[k++] = (uint8_t)modrm;
    const size_t after = k;
    while (k < X86_MAX_INSN_LEN)
        b[k++] = (uint8_t)rng();
    return after;
}

/* Every mode x prefix set x opcode (one-byte and 0F map) x ModRM, with random following bytes,
 * as the whole 15-byte window the MMIO path decodes from. */
static void fast_path_equals_general_for_every_opcode_and_modrm(void **state)
{
    (void)state;
    uint8_t b[X86_MAX_INSN_LEN];
    for (unsigned mode = 0; mode < 3; mode++)
        for (unsigned p = 0; p < N_PREFIX_SETS; p++)
            for (unsigned map = 0; map < 2; map++)
                for (unsigned opcode = 0; opcode < 256; opcode++)
                    for (unsigned modrm = 0; modrm < 256; modrm++) {
                        build(b, &prefix_sets[p], map == 1, opcode, modrm);
                        compare_one(b, X86_MAX_INSN_LEN, (enum x86_mode)mode);
                    }
    fprintf(stderr, "  %lu compared, %lu took the fast path\n", compared, fast_taken);
    assert_true(fast_taken > 300000); /* the fast path was exercised, not only declined */
}

/* The forms with a SIB byte (ModRM.rm = 100, mod 0..2): every SIB with every prefix set, for the
 * fast opcodes and a few neighbours, in every mode. */
static void fast_path_equals_general_for_every_sib(void **state)
{
    (void)state;
    static const uint8_t opcodes[] = {0x88, 0x89, 0x8A, 0x8B, 0xC6, 0xC7, 0x87, 0x8D, 0x01};
    static const uint8_t opcodes_0f[] = {0xB6, 0xB7, 0xBE, 0xBF, 0xB1, 0xC3};
    uint8_t b[X86_MAX_INSN_LEN];
    compared = fast_taken = 0;
    for (unsigned mode = 0; mode < 3; mode++)
        for (unsigned p = 0; p < N_PREFIX_SETS; p++)
            for (unsigned i = 0; i < sizeof opcodes + sizeof opcodes_0f; i++) {
                const bool escape = i >= sizeof opcodes;
                const unsigned opcode = escape ? opcodes_0f[i - sizeof opcodes] : opcodes[i];
                for (unsigned mod = 0; mod < 3; mod++)
                    for (unsigned sib = 0; sib < 256; sib++) {
                        const unsigned reg = (unsigned)rng() & 7;
                        /* reg 0 half the time, so C6/C7 /0 are covered. */
                        const unsigned modrm = mod << 6 | ((sib & 1) ? reg : 0) << 3 | 4;
                        const size_t at = build(b, &prefix_sets[p], escape, opcode, modrm);
                        b[at] = (uint8_t)sib;
                        compare_one(b, X86_MAX_INSN_LEN, (enum x86_mode)mode);
                    }
            }
    fprintf(stderr, "  %lu compared, %lu took the fast path\n", compared, fast_taken);
    assert_true(fast_taken > compared / 8); /* the fast path was exercised, not only declined */
}

/* Every buffer length 1..15 (exact-size heap copies) for the fast forms and random bytes: the
 * same answers, truncation included, and never a read past the end (AddressSanitizer). */
static void fast_path_equals_general_at_every_buffer_length(void **state)
{
    (void)state;
    static const uint8_t opcodes[] = {0x88, 0x89, 0x8A, 0x8B, 0xC6, 0xC7, 0xA0,
                                      0xA1, 0xA2, 0xA3, 0x0F, 0x90, 0xF0};
    uint8_t b[X86_MAX_INSN_LEN];
    for (unsigned mode = 0; mode < 3; mode++)
        for (unsigned p = 0; p < N_PREFIX_SETS; p++)
            for (unsigned i = 0; i < sizeof opcodes; i++)
                for (unsigned round = 0; round < 64; round++) {
                    build(b, &prefix_sets[p], false, opcodes[i], (unsigned)rng() & 0xFF);
                    if (opcodes[i] == 0x0F) /* 0F B6/B7/BE/BF and neighbours */
                        b[prefix_sets[p].n + 1] = (uint8_t)(0xB4 + (rng() & 0xB));
                    for (size_t len = 1; len <= X86_MAX_INSN_LEN; len++)
                        compare_one(b, len, (enum x86_mode)mode);
                }
    /* Entirely random windows too. */
    for (unsigned round = 0; round < 200000; round++) {
        for (size_t k = 0; k < X86_MAX_INSN_LEN; k++)
            b[k] = (uint8_t)rng();
        compare_one(b, X86_MAX_INSN_LEN, (enum x86_mode)(round % 3));
    }
}

/* Decodes hex in a 15-byte window padded with NOPs (as the MMIO path fetches it); returns
 * whether the fast path took it, and checks the answer against the general decoder. */
static bool takes_fast_path(enum x86_mode mode, const char *hex)
{
    uint8_t b[X86_MAX_INSN_LEN];
    memset(b, 0x90, sizeof b);
    size_t n = 0;
    unsigned v;
    int used;
    while (n < sizeof b && sscanf(hex, " %2x%n", &v, &used) == 1) {
        b[n++] = (uint8_t)v;
        hex += used;
    }
    const unsigned long declined = x86_decode_fast_declined;
    struct x86_insn fast, general;
    memset(&fast, 0, sizeof fast);
    memset(&general, 0, sizeof general);
    enum x86_decode_status sf = x86_decode(b, sizeof b, mode, &fast);
    const bool taken = x86_decode_fast_declined == declined;
    assert_int_equal(sf, x86_decode_general(b, sizeof b, mode, &general));
    assert_null(insn_diff(&fast, &general));
    if (taken) {
        assert_int_equal(sf, X86_DECODE_OK);
        assert_int_equal(fast.len, n);
    }
    return taken;
}

static void driver_mmio_forms_take_the_fast_path(void **state)
{
    (void)state;
    static const char *const forms64[] = {
        "8b 43 10",                      /* mov eax, [rbx+0x10] (readl) */
        "89 0c 25 78 56 34 12",          /* mov [0x12345678], ecx */
        "c7 05 00 01 00 00 ef be ad de", /* mov dword [rip+0x100], 0xdeadbeef */
        "44 8b 04 24",                   /* mov r8d, [rsp] */
        "48 8b 87 00 10 00 00",          /* mov rax, [rdi+0x1000] (readq) */
        "41 89 84 24 80 00 00 00",       /* mov [r12+0x80], eax */
        "66 89 43 08",                   /* mov [rbx+8], ax (writew) */
        "66 41 89 44 24 08",             /* mov [r12+8], ax */
        "88 43 01",                      /* mov [rbx+1], al (writeb) */
        "8a 43 01",                      /* mov al, [rbx+1] (readb) */
        "88 63 01",                      /* mov [rbx+1], ah */
        "40 88 73 01",                   /* mov [rbx+1], sil */
        "0f b6 43 08",                   /* movzx eax, byte [rbx+8] */
        "0f b7 43 08",                   /* movzx eax, word [rbx+8] */
        "48 0f bf 4b 08",                /* movsx rcx, word [rbx+8] */
        "c6 40 04 7f",                   /* mov byte [rax+4], 0x7f */
        "66 c7 40 04 ff ff",             /* mov word [rax+4], 0xffff */
        "48 c7 00 ff ff ff ff",          /* mov qword [rax], -1 */
        "a1 00 00 00 fe 00 00 00 00",    /* mov eax, [moffs64] */
        "a3 00 10 00 fe 00 00 00 00",    /* mov [moffs64], eax */
        "67 8b 03",                      /* mov eax, [ebx] */
        "65 48 8b 04 25 28 00 00 00",    /* mov rax, gs:[0x28] */
        "4a 8b 04 c5 00 00 00 fe",       /* mov rax, [r8*8+0xfe000000] */
        "43 89 14 8c",                   /* mov [r12+r9*4], edx */
        "8b 05 f0 0f 00 00",             /* mov eax, [rip+0xff0] */
    };
    for (size_t i = 0; i < sizeof forms64 / sizeof forms64[0]; i++)
        if (!takes_fast_path(X86_MODE_64, forms64[i]))
            fail_msg("64-bit %s did not take the fast path", forms64[i]);
    static const char *const forms32[] = {
        "8b 43 10",    "89 0c 25 78 56 34 12", "c7 05 00 00 00 fe ef be ad de",
        "66 89 43 08", "0f b6 43 08",          "a1 00 00 00 fe",
        "64 8b 03",    "8a 64 24 04",
    };
    for (size_t i = 0; i < sizeof forms32 / sizeof forms32[0]; i++)
        if (!takes_fast_path(X86_MODE_32, forms32[i]))
            fail_msg("32-bit %s did not take the fast path", forms32[i]);
    static const char *const forms16[] = {"67 8b 43 10", "66 67 89 0c 25 78 56 34 12", "a1 00 10"};
    for (size_t i = 0; i < sizeof forms16 / sizeof forms16[0]; i++)
        if (!takes_fast_path(X86_MODE_16, forms16[i]))
            fail_msg("16-bit %s did not take the fast path", forms16[i]);
}

static void unusual_forms_go_to_the_general_decoder(void **state)
{
    (void)state;
    static const char *const declined64[] = {
        "f0 89 03",          /* LOCK: #UD on MOV */
        "f3 89 03",          /* REP */
        "f2 8b 03",          /* REPNE */
        "66 66 89 03",       /* a repeated prefix */
        "64 65 8b 00",       /* two segment overrides */
        "48 66 8b 00",       /* REX before a legacy prefix (ignored) */
        "41 48 8b 00",       /* two REX */
        "8b c3",             /* register form */
        "c7 c8 00 00 00 00", /* C7 /1 */
        "c7 f8 00 00 00 00", /* XBEGIN */
        "0f b8 00",          /* not MOVZX/MOVSX */
        "87 03",             /* XCHG */
        "01 03",             /* ADD */
    };
    for (size_t i = 0; i < sizeof declined64 / sizeof declined64[0]; i++)
        if (takes_fast_path(X86_MODE_64, declined64[i]))
            fail_msg("64-bit %s took the fast path", declined64[i]);
    /* 16-bit addressing is the general decoder's. */
    assert_false(takes_fast_path(X86_MODE_16, "8b 47 10"));
    assert_false(takes_fast_path(X86_MODE_32, "67 8b 47 10"));
    /* Outside 64-bit mode 40-4F are INC/DEC. */
    assert_false(takes_fast_path(X86_MODE_32, "48 8b 00"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(driver_mmio_forms_take_the_fast_path),
        cmocka_unit_test(unusual_forms_go_to_the_general_decoder),
        cmocka_unit_test(fast_path_equals_general_for_every_sib),
        cmocka_unit_test(fast_path_equals_general_at_every_buffer_length),
        cmocka_unit_test(fast_path_equals_general_for_every_opcode_and_modrm),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
