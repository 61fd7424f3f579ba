/* decode/alu: differential test against the host CPU.
 *
 * Every op at every size runs both through alu_exec and as the real instruction (inline asm,
 * flags loaded with POPF and read back with PUSHF) on edge values and on random operands and
 * incoming flags; result and the alu_defined_flags(op) bits must agree, and alu_exec must
 * leave every other RFLAGS bit as it was. Defined flags agree across Intel and AMD. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "decode/alu.h"
#include "tests/support/rng.h"

/* The inline asm below pushes; host code may keep data in the 128-byte red zone under RSP,
 * so step over it first (System V ABI, 3.2.2). Flags loaded: bit 1 (always 1) plus the
 * arithmetic flags under test; IF/DF/TF/AC are never changed. */
#define FLAGS_IN(f) (0x2u | ((f)&RFLAGS_ARITH))
#define ASM_PRE     "lea -128(%%rsp), %%rsp\n\tpush %[f]\n\tpopfq\n\t"
#define ASM_POST    "\n\tpushfq\n\tpop %[f]\n\tlea 128(%%rsp), %%rsp"

/* Two-operand forms: `op src, dst` (AT&T). */
#define NATIVE_BIN(name, insn, type)                                                               \
    static uint64_t name(uint64_t d, uint64_t s, uint64_t *fl)                                     \
    {                                                                                              \
        type a = (type)d, b = (type)s;                                                             \
        uint64_t f = FLAGS_IN(*fl);                                                                \
        __asm__ volatile(ASM_PRE insn " %[b], %[a]" ASM_POST                                       \
                         : [a] "+q"(a), [f] "+r"(f)                                                \
                         : [b] "q"(b)                                                              \
                         : "cc", "memory");                                                        \
        *fl = f;                                                                                   \
        return a;                                                                                  \
    }
/* One-operand forms: `op dst`. */
#define NATIVE_UN(name, insn, type)                                                                \
    static uint64_t name(uint64_t d, uint64_t s, uint64_t *fl)                                     \
    {                                                                                              \
        (void)s;                                                                                   \
        type a = (type)d;                                                                          \
        uint64_t f = FLAGS_IN(*fl);                                                                \
        __asm__ volatile(ASM_PRE insn " %[a]" ASM_POST                                             \
                         : [a] "+q"(a), [f] "+r"(f)                                                \
                         :                                                                         \
                         : "cc", "memory");                                                        \
        *fl = f;                                                                                   \
        return a;                                                                                  \
    }

#define NATIVE_BIN_ALL(op, mn)                                                                     \
    NATIVE_BIN(native_##op##_1, #mn "b", uint8_t)                                                  \
    NATIVE_BIN(native_##op##_2, #mn "w", uint16_t)                                                 \
    NATIVE_BIN(native_##op##_4, #mn "l", uint32_t)                                                 \
    NATIVE_BIN(native_##op##_8, #mn "q", uint64_t)
#define NATIVE_UN_ALL(op, mn)                                                                      \
    NATIVE_UN(native_##op##_1, #mn "b", uint8_t)                                                   \
    NATIVE_UN(native_##op##_2, #mn "w", uint16_t)                                                  \
    NATIVE_UN(native_##op##_4, #mn "l", uint32_t)                                                  \
    NATIVE_UN(native_##op##_8, #mn "q", uint64_t)
/* BT* has no 8-bit form: the 8-bit case runs the 16-bit instruction on the zero-extended
 * byte with the offset reduced mod 8, which is what alu.c documents for size 1. */
#define NATIVE_BT_ALL(op, mn)                                                                      \
    NATIVE_BIN(native_##op##_2, #mn "w", uint16_t)                                                 \
    NATIVE_BIN(native_##op##_4, #mn "l", uint32_t)                                                 \
    NATIVE_BIN(native_##op##_8, #mn "q", uint64_t)                                                 \
    static uint64_t native_##op##_1(uint64_t d, uint64_t s, uint64_t *fl)                          \
    {                                                                                              \
        return native_##op##_2(d & 0xFF, s & 7, fl) & 0xFF;                                        \
    }

NATIVE_BIN_ALL(add, add)
NATIVE_BIN_ALL(or, or)
NATIVE_BIN_ALL(adc, adc)
NATIVE_BIN_ALL(sbb, sbb)
NATIVE_BIN_ALL(and, and)
NATIVE_BIN_ALL(sub, sub)
NATIVE_BIN_ALL(xor, xor)
NATIVE_BIN_ALL(cmp, cmp)
NATIVE_BIN_ALL(test, test)
NATIVE_UN_ALL(not, not )
NATIVE_UN_ALL(neg, neg)
NATIVE_UN_ALL(inc, inc)
NATIVE_UN_ALL(dec, dec)
NATIVE_BT_ALL(bt, bt)
NATIVE_BT_ALL(bts, bts)
NATIVE_BT_ALL(btr, btr)
NATIVE_BT_ALL(btc, btc)

typedef uint64_t native_fn(uint64_t d, uint64_t s, uint64_t *fl);

#define ROW(op)                                                                                    \
    {                                                                                              \
        native_##op##_1, native_##op##_2, native_##op##_4, native_##op##_8                         \
    }
static native_fn *const native[ALU_OP_COUNT][4] = {
    [ALU_ADD] = ROW(add),   [ALU_OR] = ROW(or),    [ALU_ADC] = ROW(adc), [ALU_SBB] = ROW(sbb),
    [ALU_AND] = ROW(and),   [ALU_SUB] = ROW(sub),  [ALU_XOR] = ROW(xor), [ALU_CMP] = ROW(cmp),
    [ALU_TEST] = ROW(test), [ALU_NOT] = ROW(not ), [ALU_NEG] = ROW(neg), [ALU_INC] = ROW(inc),
    [ALU_DEC] = ROW(dec),   [ALU_BT] = ROW(bt),    [ALU_BTS] = ROW(bts), [ALU_BTR] = ROW(btr),
    [ALU_BTC] = ROW(btc),
};

static const char *const op_name[ALU_OP_COUNT] = {
    "ADD", "OR",  "ADC", "SBB", "AND", "SUB", "XOR", "CMP", "TEST",
    "NOT", "NEG", "INC", "DEC", "BT",  "BTS", "BTR", "BTC",
};

static const unsigned sizes[4] = {1, 2, 4, 8};

static uint64_t mask_of(unsigned size)
{
    return size == 8 ? ~0ull : (1ull << (size * 8)) - 1;
}

static int is_bit_op(enum alu_op op)
{
    return op == ALU_BT || op == ALU_BTS || op == ALU_BTR || op == ALU_BTC;
}

/* One case: returns 1 when alu_exec and the CPU agree (prints the case otherwise). */
static int check_case(enum alu_op op, unsigned si, uint64_t dst, uint64_t src, uint64_t flags)
{
    const unsigned size = sizes[si];
    const uint64_t mask = mask_of(size);
    dst &= mask;
    src &= mask;
    if (is_bit_op(op))
        src &= size * 8 - 1; /* alu.h: the offset arrives reduced mod the width */
    /* Incoming RFLAGS for the model: the arithmetic flags under test plus bits that must
     * pass through untouched (IF, DF, bit 1, and a high bit). */
    const uint64_t model_in = (flags & RFLAGS_ARITH) | 0x2 | RFLAGS_IF | RFLAGS_DF | (1ull << 21);
    uint64_t model_fl = model_in;
    uint64_t cpu_fl = flags;
    const uint64_t model_r = alu_exec(op, size, dst, src, &model_fl);
    const uint64_t cpu_r = native[op][si](dst, src, &cpu_fl) & mask;
    const uint64_t def = alu_defined_flags(op);
    const uint64_t want_r = alu_writes_result(op) ? cpu_r : dst;
    int ok = model_r == want_r && (model_fl & def) == (cpu_fl & def) &&
             (model_fl & ~def) == (model_in & ~def);
    if (!ok)
        fprintf(stderr,
                "MISMATCH %s size %u dst=%#llx src=%#llx flags_in=%#llx: model r=%#llx fl=%#llx, "
                "cpu r=%#llx fl=%#llx (defined %#llx)\n",
                op_name[op], size, (unsigned long long)dst, (unsigned long long)src,
                (unsigned long long)flags, (unsigned long long)model_r,
                (unsigned long long)model_fl, (unsigned long long)cpu_r, (unsigned long long)cpu_fl,
                (unsigned long long)def);
    return ok;
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rng_next(void)
{
    /* xorshift64*: a fixed seed keeps the run repeatable. */
    return xorshift64star(&rng_state);
}

/* Random operands biased towards the interesting region: sometimes small, sometimes near a
 * sign boundary, sometimes full width. */
static uint64_t random_operand(unsigned size)
{
    const uint64_t r = rng_next(), sign = 1ull << (size * 8 - 1);
    switch (r & 7) {
    case 0:
        return (r >> 8) & 0xFF;
    case 1:
        return sign + ((r >> 8) & 0xF) - 8;
    case 2:
        return mask_of(size) - ((r >> 8) & 0xF);
    default:
        return r >> 3 ^ rng_next();
    }
}

static void edge_values_agree_with_host_cpu(void **state)
{
    (void)state;
    unsigned cases = 0, bad = 0;
    for (unsigned op = 0; op < ALU_OP_COUNT; op++) {
        for (unsigned si = 0; si < 4; si++) {
            const uint64_t m = mask_of(sizes[si]), sign = 1ull << (sizes[si] * 8 - 1);
            const uint64_t edges[] = {0, 1, 2, 7, 8, 0xF, 0x10, sign - 1, sign, sign + 1, m - 1, m};
            for (unsigned i = 0; i < sizeof edges / sizeof edges[0]; i++)
                for (unsigned j = 0; j < sizeof edges / sizeof edges[0]; j++)
                    for (unsigned cf = 0; cf < 2; cf++) {
                        /* CF in, and all other arithmetic flags in both states. */
                        const uint64_t fl = cf ? RFLAGS_CF : (RFLAGS_ARITH & ~RFLAGS_CF);
                        bad += !check_case((enum alu_op)op, si, edges[i], edges[j], fl);
                        cases++;
                    }
        }
    }
    printf("alu: %u edge cases, %u mismatches\n", cases, bad);
    assert_int_equal(bad, 0);
}

static void random_operands_agree_with_host_cpu(void **state)
{
    (void)state;
    const unsigned per_combo = 2000; /* 17 ops x 4 sizes x 2000 = 136,000 cases */
    unsigned cases = 0, bad = 0;
    for (unsigned op = 0; op < ALU_OP_COUNT; op++)
        for (unsigned si = 0; si < 4; si++)
            for (unsigned n = 0; n < per_combo; n++) {
                const uint64_t d = random_operand(sizes[si]);
                const uint64_t s =
                    is_bit_op((enum alu_op)op) ? rng_next() : random_operand(sizes[si]);
                bad += !check_case((enum alu_op)op, si, d, s, rng_next() & RFLAGS_ARITH);
                cases++;
            }
    printf("alu: %u random cases, %u mismatches\n", cases, bad);
    assert_true(cases >= 100000);
    assert_int_equal(bad, 0);
}

/* Explicit flag facts from the SDM, so a wrong native helper cannot hide a wrong model. */
static void adc_sbb_consume_carry_and_inc_dec_keep_it(void **state)
{
    (void)state;
    uint64_t fl = RFLAGS_CF;
    assert_int_equal(alu_exec(ALU_ADC, 1, 0xFF, 0, &fl), 0);
    assert_true(fl & RFLAGS_CF);
    assert_true(fl & RFLAGS_ZF);
    fl = RFLAGS_CF;
    assert_int_equal(alu_exec(ALU_SBB, 4, 0, 0, &fl), 0xFFFFFFFFu);
    assert_true(fl & RFLAGS_CF);
    assert_true(fl & RFLAGS_SF);
    fl = RFLAGS_CF;
    assert_int_equal(alu_exec(ALU_INC, 2, 0x7FFF, 0, &fl), 0x8000);
    assert_true(fl & RFLAGS_CF); /* unaffected */
    assert_true(fl & RFLAGS_OF);
    fl = 0;
    assert_int_equal(alu_exec(ALU_DEC, 8, 0, 0, &fl), ~0ull);
    assert_false(fl & RFLAGS_CF); /* unaffected, even though it borrowed */
}

static void not_changes_no_flags_and_neg_sets_cf_for_nonzero(void **state)
{
    (void)state;
    uint64_t fl = RFLAGS_ARITH | RFLAGS_DF;
    assert_int_equal(alu_exec(ALU_NOT, 1, 0xF0, 0, &fl), 0x0F);
    assert_int_equal(fl, RFLAGS_ARITH | RFLAGS_DF);
    fl = RFLAGS_CF;
    assert_int_equal(alu_exec(ALU_NEG, 4, 0, 0, &fl), 0);
    assert_false(fl & RFLAGS_CF);
    assert_true(fl & RFLAGS_ZF);
    assert_int_equal(alu_exec(ALU_NEG, 1, 0x80, 0, &fl), 0x80);
    assert_true(fl & RFLAGS_CF);
    assert_true(fl & RFLAGS_OF);
}

static void bit_ops_set_only_cf_and_cmp_test_bt_write_nothing(void **state)
{
    (void)state;
    uint64_t fl = RFLAGS_ZF | RFLAGS_SF;
    assert_int_equal(alu_exec(ALU_BTS, 8, 0, 63, &fl), 1ull << 63);
    assert_false(fl & RFLAGS_CF);
    assert_int_equal(fl, RFLAGS_ZF | RFLAGS_SF); /* ZF unaffected, undefined left alone */
    assert_int_equal(alu_exec(ALU_BTR, 2, 0x8001, 15, &fl), 1);
    assert_true(fl & RFLAGS_CF);
    assert_int_equal(alu_exec(ALU_BTC, 4, 0, 31, &fl), 0x80000000u);
    assert_false(fl & RFLAGS_CF);
    assert_false(alu_writes_result(ALU_CMP));
    assert_false(alu_writes_result(ALU_TEST));
    assert_false(alu_writes_result(ALU_BT));
    assert_true(alu_writes_result(ALU_ADD));
    assert_true(alu_writes_result(ALU_BTS));
    assert_true(alu_writes_result(ALU_NOT));
    assert_int_equal(alu_exec(ALU_CMP, 4, 5, 7, &fl), 5);
    assert_true(fl & RFLAGS_CF);
}

static void bad_size_op_or_bit_offset_has_a_defined_outcome(void **state)
{
    (void)state;
    uint64_t fl = RFLAGS_PF;
    assert_int_equal(alu_exec(ALU_ADD, 3, 0x1234, 1, &fl), 0x1234);
    assert_int_equal(alu_exec(ALU_ADD, 0, 0x1234, 1, &fl), 0x1234);
    assert_int_equal(alu_exec(ALU_SUB, 16, 0x1234, 1, &fl), 0x1234);
    assert_int_equal(alu_exec(ALU_OP_COUNT, 4, 0x1234, 1, &fl), 0x1234);
    assert_int_equal(alu_exec((enum alu_op)99, 4, 0x1234, 1, &fl), 0x1234);
    assert_int_equal(fl, RFLAGS_PF);
    assert_int_equal(alu_defined_flags(ALU_OP_COUNT), 0);
    /* A bit offset that was not reduced is reduced mod the width, never shifted past it. */
    fl = 0;
    assert_int_equal(alu_exec(ALU_BTS, 2, 0, 17, &fl), 2);
    assert_int_equal(alu_exec(ALU_BT, 1, 0x80, 15, &fl), 0x80);
    assert_true(fl & RFLAGS_CF);
    assert_int_equal(alu_exec(ALU_BTC, 4, 0, 0xFFFFFFFFu, &fl), 0x80000000u);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(edge_values_agree_with_host_cpu),
        cmocka_unit_test(random_operands_agree_with_host_cpu),
        cmocka_unit_test(adc_sbb_consume_carry_and_inc_dec_keep_it),
        cmocka_unit_test(not_changes_no_flags_and_neg_sets_cf_for_nonzero),
        cmocka_unit_test(bit_ops_set_only_cf_and_cmp_test_bt_write_nothing),
        cmocka_unit_test(bad_size_op_or_bit_offset_has_a_defined_outcome),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
