/* decode/decode: the tricky encodings. Every buffer handed to the decoder is a heap copy of
 * exactly the bytes under test, so AddressSanitizer catches any read past its end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "decode/decode.h"
#include "tools/x86dec/x86dec_input.h"

/* Parses "66 8b 00" into a malloc'ed buffer of exactly that many bytes. */
static uint8_t *hex_bytes(const char *hex, size_t *n)
{
    uint8_t tmp[64];
    size_t k = 0;
    while (*hex) {
        if (*hex == ' ') {
            hex++;
            continue;
        }
        unsigned v;
        assert_int_equal(sscanf(hex, "%2x", &v), 1);
        tmp[k++] = (uint8_t)v;
        hex += 2;
    }
    uint8_t *b = malloc(k ? k : 1);
    memcpy(b, tmp, k);
    *n = k;
    return b;
}

static enum x86_decode_status dec(enum x86_mode mode, const char *hex, struct x86_insn *insn)
{
    size_t n;
    uint8_t *b = hex_bytes(hex, &n);
    enum x86_decode_status st = x86_decode(b, n, mode, insn);
    free(b);
    return st;
}

#define OK(mode, hex, insn) assert_int_equal(dec(mode, hex, insn), X86_DECODE_OK)

static void segment_override_last_one_wins_outside_64bit(void **state)
{
    (void)state;
    struct x86_insn i;
    OK(X86_MODE_32, "2e 3e 8b 00", &i);
    assert_int_equal(i.mem.seg, X86_SEG_DS);
    OK(X86_MODE_32, "3e 2e 8b 00", &i);
    assert_int_equal(i.mem.seg, X86_SEG_CS);
    OK(X86_MODE_32, "8b 45 04", &i); /* [ebp+4] defaults to SS */
    assert_int_equal(i.mem.seg, X86_SEG_SS);
    OK(X86_MODE_32, "26 8b 45 04", &i);
    assert_int_equal(i.mem.seg, X86_SEG_ES);
}

static void segment_override_in_64bit_only_fs_gs_count(void **state)
{
    (void)state;
    struct x86_insn i;
    OK(X86_MODE_64, "64 2e 8b 00", &i); /* CS after FS: ignored */
    assert_int_equal(i.mem.seg, X86_SEG_FS);
    assert_int_equal(i.len, 4);
    OK(X86_MODE_64, "2e 8b 00", &i);
    assert_int_equal(i.mem.seg, X86_SEG_DS);
    OK(X86_MODE_64, "65 64 8b 00", &i);
    assert_int_equal(i.mem.seg, X86_SEG_FS);
    OK(X86_MODE_64, "64 65 8b 00", &i);
    assert_int_equal(i.mem.seg, X86_SEG_GS);
}

static void operand_size_prefix_and_rex_w(void **state)
{
    (void)state;
    struct x86_insn i;
    OK(X86_MODE_64, "66 8b 00", &i);
    assert_int_equal(i.operand_size, 2);
    OK(X86_MODE_64, "66 48 8b 00", &i); /* REX.W wins over 66 */
    assert_int_equal(i.operand_size, 8);
    OK(X86_MODE_16, "8b 00", &i);
    assert_int_equal(i.operand_size, 2);
    OK(X86_MODE_16, "66 8b 00", &i);
    assert_int_equal(i.operand_size, 4);
    OK(X86_MODE_32, "66 66 89 00", &i);
    assert_int_equal(i.operand_size, 2);
    assert_int_equal(i.access, X86_ACCESS_WRITE);
}

static void rex_counts_only_right_before_the_opcode(void **state)
{
    (void)state;
    struct x86_insn i;
    OK(X86_MODE_64, "48 66 8b 00", &i); /* REX then 66: REX ignored */
    assert_int_equal(i.operand_size, 2);
    assert_int_equal(i.rex, 0);
    OK(X86_MODE_64, "48 2e 8b 00", &i);
    assert_int_equal(i.operand_size, 4);
    OK(X86_MODE_64, "41 48 8b 00", &i); /* two REX: the last counts (W, not B) */
    assert_int_equal(i.operand_size, 8);
    assert_int_equal(i.mem.base, 0);
    /* Outside 64-bit mode 40-4F are INC/DEC, not prefixes. */
    assert_int_equal(dec(X86_MODE_32, "48 8b 00", &i), X86_DECODE_UNSUPPORTED);
}

static void byte_registers_high8_without_rex_and_spl_with_it(void **state)
{
    (void)state;
    struct x86_insn i;
    OK(X86_MODE_64, "88 20", &i); /* mov [rax], ah */
    assert_true(i.reg_high8);
    assert_int_equal(i.reg, 0);
    OK(X86_MODE_64, "40 88 20", &i); /* mov [rax], spl */
    assert_false(i.reg_high8);
    assert_int_equal(i.reg, 4);
    OK(X86_MODE_64, "44 88 38", &i); /* mov [rax], r15b */
    assert_int_equal(i.reg, 15);
    OK(X86_MODE_32, "8a 3b", &i); /* mov bh, [ebx] */
    assert_true(i.reg_high8);
    assert_int_equal(i.reg, 3);
    OK(X86_MODE_64, "0f b6 fc", &i); /* movzx edi, ah: register form */
    assert_int_equal(i.access, X86_ACCESS_NONE);
    assert_true(i.rm_high8);
    assert_int_equal(i.rm_reg, 0);
}

static void rip_relative_also_with_address_size_prefix(void **state)
{
    (void)state;
    struct x86_insn i;
    OK(X86_MODE_64, "8b 05 10 00 00 00", &i);
    assert_true(i.mem.rip_rel);
    assert_int_equal(i.address_size, 8);
    assert_int_equal(i.mem.disp, 0x10);
    OK(X86_MODE_64, "67 8b 05 f0 ff ff ff", &i);
    assert_true(i.mem.rip_rel);
    assert_int_equal(i.address_size, 4);
    assert_int_equal(i.mem.disp, -16);
    assert_int_equal(i.len, 7);
    OK(X86_MODE_32, "8b 05 10 00 00 00", &i); /* absolute disp32 outside 64-bit mode */
    assert_false(i.mem.rip_rel);
    assert_int_equal(i.mem.base, X86_REG_NONE);
    OK(X86_MODE_64, "c7 05 00 01 00 00 78 56 34 12", &i); /* disp then imm */
    assert_int_equal(i.len, 10);
    assert_int_equal(i.imm, 0x12345678);
}

static void sixteen_bit_addressing_forms(void **state)
{
    (void)state;
    struct x86_insn i;
    OK(X86_MODE_16, "8b 00", &i); /* [bx+si] */
    assert_int_equal(i.mem.base, 3);
    assert_int_equal(i.mem.index, 6);
    assert_int_equal(i.mem.seg, X86_SEG_DS);
    OK(X86_MODE_16, "8b 46 02", &i); /* [bp+2] -> SS */
    assert_int_equal(i.mem.base, 5);
    assert_int_equal(i.mem.seg, X86_SEG_SS);
    assert_int_equal(i.mem.disp, 2);
    OK(X86_MODE_16, "8b 06 34 12", &i); /* [0x1234] */
    assert_int_equal(i.mem.base, X86_REG_NONE);
    assert_int_equal(i.mem.disp, 0x1234);
    assert_int_equal(i.len, 4);
    OK(X86_MODE_16, "8b 83 fe ff", &i); /* [bp+di-2] */
    assert_int_equal(i.mem.disp, -2);
    assert_int_equal(i.mem.index, 7);
    OK(X86_MODE_16, "67 8b 04 24", &i); /* 32-bit addressing in 16-bit mode: [esp] */
    assert_int_equal(i.address_size, 4);
    assert_int_equal(i.mem.base, 4);
    assert_int_equal(i.mem.seg, X86_SEG_SS);
    OK(X86_MODE_32, "67 8b 00", &i); /* 16-bit addressing in 32-bit mode */
    assert_int_equal(i.address_size, 2);
    assert_int_equal(i.len, 3);
}

static void sib_forms(void **state)
{
    (void)state;
    struct x86_insn i;
    OK(X86_MODE_64, "8b 04 25 00 10 00 00", &i); /* [disp32], no base, no index */
    assert_int_equal(i.mem.base, X86_REG_NONE);
    assert_int_equal(i.mem.index, X86_REG_NONE);
    assert_int_equal(i.mem.disp, 0x1000);
    OK(X86_MODE_64, "42 8b 04 20", &i); /* [rax+r12]: REX.X makes index 4 real */
    assert_int_equal(i.mem.index, 12);
    OK(X86_MODE_64, "41 8b 45 00", &i); /* [r13+0] defaults to DS, rbp to SS */
    assert_int_equal(i.mem.base, 13);
    assert_int_equal(i.mem.seg, X86_SEG_DS);
    OK(X86_MODE_64, "8b 44 8d 80", &i); /* [rbp+rcx*4-128] */
    assert_int_equal(i.mem.scale, 4);
    assert_int_equal(i.mem.disp, -128);
    assert_int_equal(i.mem.seg, X86_SEG_SS);
}

static void moffs_in_each_mode(void **state)
{
    (void)state;
    struct x86_insn i;
    OK(X86_MODE_16, "a1 34 12", &i);
    assert_int_equal(i.len, 3);
    assert_int_equal(i.access_size, 2);
    assert_true(i.mem.absolute);
    OK(X86_MODE_16, "67 a0 78 56 34 12", &i);
    assert_int_equal(i.len, 6);
    assert_int_equal(i.access_size, 1);
    OK(X86_MODE_32, "a3 78 56 34 12", &i);
    assert_int_equal(i.access, X86_ACCESS_WRITE);
    assert_int_equal(i.len, 5);
    OK(X86_MODE_64, "48 a1 88 77 66 55 44 33 22 11", &i);
    assert_int_equal(i.len, 10);
    assert_int_equal(i.access_size, 8);
    assert_int_equal((uint64_t)i.mem.disp, 0x1122334455667788ull);
    OK(X86_MODE_64, "67 a1 78 56 34 12", &i);
    assert_int_equal(i.len, 6);
    assert_int_equal(i.mem.disp, 0x12345678);
}

static void lock_only_on_lockable_memory_destinations(void **state)
{
    (void)state;
    struct x86_insn i;
    OK(X86_MODE_64, "f0 01 00", &i);
    assert_true(i.lock);
    OK(X86_MODE_64, "f0 87 00", &i);
    OK(X86_MODE_64, "f0 0f b1 0a", &i);
    OK(X86_MODE_64, "f0 0f ab 00", &i);
    OK(X86_MODE_64, "f0 80 30 01", &i);
    assert_int_equal(dec(X86_MODE_64, "f0 01 c0", &i), X86_DECODE_INVALID);    /* reg dst */
    assert_int_equal(dec(X86_MODE_64, "f0 03 00", &i), X86_DECODE_INVALID);    /* reg dst */
    assert_int_equal(dec(X86_MODE_64, "f0 39 00", &i), X86_DECODE_INVALID);    /* CMP */
    assert_int_equal(dec(X86_MODE_64, "f0 8b 00", &i), X86_DECODE_INVALID);    /* MOV */
    assert_int_equal(dec(X86_MODE_64, "f0 85 00", &i), X86_DECODE_INVALID);    /* TEST */
    assert_int_equal(dec(X86_MODE_64, "f0 0f a3 00", &i), X86_DECODE_INVALID); /* BT */
    assert_int_equal(dec(X86_MODE_64, "f0 a5", &i), X86_DECODE_INVALID);       /* MOVS */
    assert_int_equal(dec(X86_MODE_64, "f0 0f 28 00", &i), X86_DECODE_INVALID); /* MOVAPS */
    assert_int_equal(dec(X86_MODE_64, "f0 90", &i), X86_DECODE_INVALID);       /* NOP */
}

static void truncation_at_every_byte(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"64", "64 48 81 84 88 78 56 34 12 78 56 34 12"},
        {"64", "f0 66 0f b1 8c 24 00 01 00 00"},
        {"16", "66 67 c7 84 08 00 01 00 00 78 56 34 12"},
        {"16", "c7 87 00 01 34 12"},
        {"64", "48 a1 88 77 66 55 44 33 22 11"},
        {"32", "f3 a5"},
        {"64", "66 41 0f ba 6c 24 08 05"},
        {"64", "f3 44 0f 7f 3d 00 10 00 00"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        enum x86_mode mode = cases[c][0][0] == '6'   ? X86_MODE_64
                             : cases[c][0][0] == '3' ? X86_MODE_32
                                                     : X86_MODE_16;
        size_t n;
        uint8_t *full = hex_bytes(cases[c][1], &n);
        struct x86_insn i;
        for (size_t k = 0; k < n; k++) {
            uint8_t *b = malloc(k ? k : 1);
            memcpy(b, full, k);
            assert_int_equal(x86_decode(b, k, mode, &i), X86_DECODE_TRUNCATED);
            free(b);
        }
        assert_int_equal(x86_decode(full, n, mode, &i), X86_DECODE_OK);
        assert_int_equal(i.len, n);
        free(full);
    }
}

static void more_than_15_bytes_is_invalid(void **state)
{
    (void)state;
    struct x86_insn i;
    /* 13 prefixes + 8b 00 = 15 bytes: fine. */
    OK(X86_MODE_32, "66 66 66 66 66 66 66 66 66 66 66 66 66 8b 00", &i);
    assert_int_equal(i.len, 15);
    /* 14 prefixes + 8b 00 = 16 bytes. */
    assert_int_equal(dec(X86_MODE_32, "66 66 66 66 66 66 66 66 66 66 66 66 66 66 8b 00", &i),
                     X86_DECODE_INVALID);
    /* 15 prefixes and nothing more: the 16th byte would be needed. */
    assert_int_equal(dec(X86_MODE_32, "66 66 66 66 66 66 66 66 66 66 66 66 66 66 66", &i),
                     X86_DECODE_INVALID);
    /* A 16-byte instruction ending in its immediate. */
    assert_int_equal(dec(X86_MODE_64, "66 66 66 66 48 81 84 88 78 56 34 12 78 56 34 12", &i),
                     X86_DECODE_INVALID);
}

static void truncation_is_reported_before_undefined_encodings(void **state)
{
    (void)state;
    struct x86_insn i;
    /* LOCK on a register destination is #UD, but only once the whole instruction is there:
     * the CPU takes the fetch fault for the missing bytes first. */
    assert_int_equal(dec(X86_MODE_64, "f0 81 c0 78 56", &i), X86_DECODE_TRUNCATED);
    assert_int_equal(dec(X86_MODE_64, "f0 81 c0 78 56 34 12", &i), X86_DECODE_INVALID);
    assert_int_equal(dec(X86_MODE_64, "0f c3 c0", &i), X86_DECODE_INVALID);
    assert_int_equal(dec(X86_MODE_64, "66 0f c3 80 00 00", &i), X86_DECODE_TRUNCATED);
}

static void x86dec_input_lines_parse_or_are_rejected(void **state)
{
    (void)state;
    unsigned bits;
    uint8_t b[X86DEC_MAX_BYTES];
    size_t n;
    assert_true(x86dec_parse_line("64 48 8b 04 25 00 10 00 00\n", &bits, b, &n));
    assert_int_equal(bits, 64);
    assert_int_equal(n, 8);
    assert_int_equal(b[1], 0x8b);
    assert_true(x86dec_parse_line("\t16  f 0a\r\n", &bits, b, &n));
    assert_int_equal(n, 2);
    assert_int_equal(b[0], 0x0f);
    assert_true(x86dec_parse_line("32", &bits, b, &n) == false);
    assert_true(x86dec_parse_line("32 ", &bits, b, &n)); /* no bytes: decodes as truncated */
    assert_int_equal(n, 0);
    assert_false(x86dec_parse_line("65 8b 00", &bits, b, &n));
    assert_false(x86dec_parse_line("64 8b zz", &bits, b, &n));
    assert_false(x86dec_parse_line("64 8b 123", &bits, b, &n));
    char longline[200] = "64";
    for (int k = 0; k < 33; k++)
        strcat(longline, " 90");
    assert_false(x86dec_parse_line(longline, &bits, b, &n));
}

static void unsupported_is_distinct_from_invalid(void **state)
{
    (void)state;
    struct x86_insn i;
    assert_int_equal(dec(X86_MODE_64, "90", &i), X86_DECODE_UNSUPPORTED);          /* NOP */
    assert_int_equal(dec(X86_MODE_64, "8d 00", &i), X86_DECODE_UNSUPPORTED);       /* LEA */
    assert_int_equal(dec(X86_MODE_64, "f7 20", &i), X86_DECODE_UNSUPPORTED);       /* MUL */
    assert_int_equal(dec(X86_MODE_64, "ff 10", &i), X86_DECODE_UNSUPPORTED);       /* CALL */
    assert_int_equal(dec(X86_MODE_32, "63 00", &i), X86_DECODE_UNSUPPORTED);       /* ARPL */
    assert_int_equal(dec(X86_MODE_64, "66 0f 28 00", &i), X86_DECODE_UNSUPPORTED); /* MOVAPD */
    assert_int_equal(dec(X86_MODE_64, "0f 6f 00", &i), X86_DECODE_UNSUPPORTED);    /* MMX MOVQ */
    assert_int_equal(dec(X86_MODE_64, "c7 f8 00 00 00 00", &i), X86_DECODE_UNSUPPORTED);
    assert_int_equal(dec(X86_MODE_64, "fe 10", &i), X86_DECODE_INVALID);       /* FE /2 */
    assert_int_equal(dec(X86_MODE_64, "ff 38", &i), X86_DECODE_INVALID);       /* FF /7 */
    assert_int_equal(dec(X86_MODE_64, "0f ba 00 01", &i), X86_DECODE_INVALID); /* BA /0 */
    assert_int_equal(dec(X86_MODE_64, "c6 08 00", &i), X86_DECODE_INVALID);    /* C6 /1 */
    assert_int_equal(dec(X86_MODE_64, "c7 38 00 00 00 00", &i), X86_DECODE_INVALID);
    assert_int_equal(dec(X86_MODE_64, "0f c3 c0", &i), X86_DECODE_INVALID);    /* MOVNTI reg */
    assert_int_equal(dec(X86_MODE_64, "66 0f c3 00", &i), X86_DECODE_INVALID); /* NP form */
    assert_int_equal(dec(X86_MODE_64, "f3 0f 28 00", &i), X86_DECODE_INVALID);
    assert_int_equal(dec(X86_MODE_64, "", &i), X86_DECODE_TRUNCATED);
}

static void immediates_are_sign_extended_like_the_cpu(void **state)
{
    (void)state;
    struct x86_insn i;
    OK(X86_MODE_64, "48 83 00 ff", &i);
    assert_int_equal(i.imm, UINT64_MAX);
    assert_int_equal(i.src, X86_SRC_IMM);
    OK(X86_MODE_64, "48 c7 00 00 00 00 80", &i);
    assert_int_equal(i.imm, 0xFFFFFFFF80000000ull);
    OK(X86_MODE_64, "66 c7 00 34 12", &i);
    assert_int_equal(i.imm, 0x1234);
    assert_int_equal(i.len, 5);
    OK(X86_MODE_16, "81 06 00 10 34 12", &i); /* add word [0x1000], 0x1234 */
    assert_int_equal(i.len, 6);
    assert_int_equal(i.alu, ALU_ADD);
    OK(X86_MODE_32, "f6 00 80", &i); /* test byte [eax], 0x80 */
    assert_int_equal(i.alu, ALU_TEST);
    assert_int_equal(i.access, X86_ACCESS_READ);
    assert_int_equal(i.len, 3);
}

static void string_forms(void **state)
{
    (void)state;
    struct x86_insn i;
    OK(X86_MODE_64, "f3 a4", &i);
    assert_int_equal(i.op, X86_OP_MOVS);
    assert_int_equal(i.access, X86_ACCESS_BOTH);
    assert_int_equal(i.access_size, 1);
    assert_int_equal(i.rep, 0xF3);
    OK(X86_MODE_64, "f3 f2 ae", &i); /* the last of F2/F3 wins */
    assert_int_equal(i.rep, 0xF2);
    assert_int_equal(i.access, X86_ACCESS_READ);
    OK(X86_MODE_64, "48 ab", &i);
    assert_int_equal(i.access_size, 8);
    assert_int_equal(i.access, X86_ACCESS_WRITE);
    OK(X86_MODE_32, "2e 66 ad", &i);
    assert_int_equal(i.mem.seg, X86_SEG_CS);
    assert_int_equal(i.access_size, 2);
    OK(X86_MODE_64, "67 a7", &i);
    assert_int_equal(i.address_size, 4);
}

static void sse_moves(void **state)
{
    (void)state;
    struct x86_insn i;
    OK(X86_MODE_64, "66 0f 6f 00", &i); /* movdqa */
    assert_int_equal(i.access_size, 16);
    assert_int_equal(i.align, 16);
    assert_int_equal(i.op, X86_OP_SSE_LOAD);
    OK(X86_MODE_64, "f3 44 0f 6f 00", &i); /* movdqu xmm8 */
    assert_int_equal(i.align, 0);
    assert_int_equal(i.reg, 8);
    OK(X86_MODE_64, "66 48 0f 6e 00", &i); /* movq xmm0, [rax] */
    assert_int_equal(i.access_size, 8);
    assert_true(i.sse_zero_upper);
    OK(X86_MODE_64, "66 0f 7e 08", &i); /* movd [rax], xmm1 */
    assert_int_equal(i.access_size, 4);
    assert_int_equal(i.op, X86_OP_SSE_STORE);
    OK(X86_MODE_64, "66 0f d6 10", &i);
    assert_int_equal(i.access_size, 8);
    assert_int_equal(i.access, X86_ACCESS_WRITE);
    OK(X86_MODE_32, "0f 29 18", &i); /* movaps [eax], xmm3 */
    assert_int_equal(i.align, 16);
    assert_int_equal(i.reg, 3);
    OK(X86_MODE_16, "0f 11 07", &i); /* movups [bx], xmm0 */
    assert_int_equal(i.access_size, 16);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(segment_override_last_one_wins_outside_64bit),
        cmocka_unit_test(segment_override_in_64bit_only_fs_gs_count),
        cmocka_unit_test(operand_size_prefix_and_rex_w),
        cmocka_unit_test(rex_counts_only_right_before_the_opcode),
        cmocka_unit_test(byte_registers_high8_without_rex_and_spl_with_it),
        cmocka_unit_test(rip_relative_also_with_address_size_prefix),
        cmocka_unit_test(sixteen_bit_addressing_forms),
        cmocka_unit_test(sib_forms),
        cmocka_unit_test(moffs_in_each_mode),
        cmocka_unit_test(lock_only_on_lockable_memory_destinations),
        cmocka_unit_test(truncation_at_every_byte),
        cmocka_unit_test(more_than_15_bytes_is_invalid),
        cmocka_unit_test(unsupported_is_distinct_from_invalid),
        cmocka_unit_test(truncation_is_reported_before_undefined_encodings),
        cmocka_unit_test(x86dec_input_lines_parse_or_are_rejected),
        cmocka_unit_test(immediates_are_sign_extended_like_the_cpu),
        cmocka_unit_test(string_forms),
        cmocka_unit_test(sse_moves),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
