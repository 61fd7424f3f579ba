/* Arithmetic and bit operations with their RFLAGS effects (decode/alu.h).
 *
 * Flags per SDM Vol. 2, each instruction's "Flags Affected":
 *   ADD ADC SUB SBB CMP NEG   OF SF ZF AF CF PF from the result (NEG: CF = (dst != 0))
 *   AND OR XOR TEST           OF = CF = 0; SF ZF PF from the result; AF undefined
 *   INC DEC                   OF SF ZF AF PF from the result; CF unaffected
 *   NOT                       none
 *   BT BTS BTR BTC            CF = the selected bit; ZF unaffected; OF SF AF PF undefined
 * Undefined flags are left as they were (alu.h). Bad input has a defined outcome: an
 * operand size other than 1, 2, 4, 8 or an unknown op returns `dst` and changes no flag.
 * BT* at size 1 (no such encoding exists) selects bit (src mod 8), like the 16-bit form with
 * an offset below 8. */
#include "decode/alu.h"

#include <stdbool.h>

static uint64_t size_mask(unsigned size)
{
    return size == 8 ? ~0ull : (1ull << (size * 8)) - 1;
}

/* PF: set when the low byte of the result has an even number of 1 bits (SDM Vol. 1,
 * 3.4.3.1). */
static bool parity_even(uint64_t r)
{
    unsigned b = (unsigned)(r & 0xFF);
    b ^= b >> 4;
    b ^= b >> 2;
    b ^= b >> 1;
    return (b & 1) == 0;
}

/* SF, ZF and PF from a result already truncated to the operand size. */
static uint64_t szp_flags(uint64_t r, uint64_t sign)
{
    uint64_t f = 0;
    if (r & sign)
        f |= RFLAGS_SF;
    if (r == 0)
        f |= RFLAGS_ZF;
    if (parity_even(r))
        f |= RFLAGS_PF;
    return f;
}

/* a + b + carry_in at the operand size: result and all six arithmetic flags. */
static uint64_t add_flags(uint64_t a, uint64_t b, unsigned carry_in, uint64_t mask, uint64_t sign,
                          uint64_t *f)
{
    uint64_t r = (a + b + carry_in) & mask;
    *f = szp_flags(r, sign);
    /* Carry out of the top bit: without carry-in the sum wrapped iff it is below a; with
     * carry-in, iff it is at most a. */
    if (carry_in ? r <= a : r < a)
        *f |= RFLAGS_CF;
    if ((a ^ b ^ r) & 0x10)
        *f |= RFLAGS_AF;
    if ((a ^ r) & (b ^ r) & sign)
        *f |= RFLAGS_OF;
    return r;
}

/* a - b - borrow_in at the operand size: result and all six arithmetic flags. */
static uint64_t sub_flags(uint64_t a, uint64_t b, unsigned borrow_in, uint64_t mask, uint64_t sign,
                          uint64_t *f)
{
    uint64_t r = (a - b - borrow_in) & mask;
    *f = szp_flags(r, sign);
    if (borrow_in ? a <= b : a < b)
        *f |= RFLAGS_CF;
    if ((a ^ b ^ r) & 0x10)
        *f |= RFLAGS_AF;
    if ((a ^ b) & (a ^ r) & sign)
        *f |= RFLAGS_OF;
    return r;
}

uint64_t alu_defined_flags(enum alu_op op)
{
    switch (op) {
    case ALU_ADD:
    case ALU_ADC:
    case ALU_SUB:
    case ALU_SBB:
    case ALU_CMP:
    case ALU_NEG:
        return RFLAGS_ARITH;
    case ALU_OR:
    case ALU_AND:
    case ALU_XOR:
    case ALU_TEST:
        return RFLAGS_CF | RFLAGS_OF | RFLAGS_SF | RFLAGS_ZF | RFLAGS_PF;
    case ALU_INC:
    case ALU_DEC:
        return RFLAGS_ARITH & ~RFLAGS_CF;
    case ALU_BT:
    case ALU_BTS:
    case ALU_BTR:
    case ALU_BTC:
        return RFLAGS_CF;
    case ALU_NOT:
    case ALU_OP_COUNT:
        break;
    }
    return 0;
}

int alu_writes_result(enum alu_op op)
{
    switch (op) {
    case ALU_CMP:
    case ALU_TEST:
    case ALU_BT:
    case ALU_OP_COUNT:
        return 0;
    default:
        return 1;
    }
}

uint64_t alu_exec(enum alu_op op, unsigned size, uint64_t dst, uint64_t src, uint64_t *rflags)
{
    if (size != 1 && size != 2 && size != 4 && size != 8)
        return dst;
    const uint64_t mask = size_mask(size);
    const uint64_t sign = 1ull << (size * 8 - 1);
    const unsigned cf_in = (*rflags & RFLAGS_CF) ? 1 : 0;
    uint64_t a = dst & mask, b = src & mask, r, f = 0;

    switch (op) {
    case ALU_ADD:
        r = add_flags(a, b, 0, mask, sign, &f);
        break;
    case ALU_ADC:
        r = add_flags(a, b, cf_in, mask, sign, &f);
        break;
    case ALU_SUB:
    case ALU_CMP:
        r = sub_flags(a, b, 0, mask, sign, &f);
        break;
    case ALU_SBB:
        r = sub_flags(a, b, cf_in, mask, sign, &f);
        break;
    case ALU_NEG:
        r = sub_flags(0, a, 0, mask, sign, &f); /* CF = (a != 0) falls out of the borrow */
        break;
    case ALU_OR:
        r = a | b;
        f = szp_flags(r, sign);
        break;
    case ALU_AND:
    case ALU_TEST:
        r = a & b;
        f = szp_flags(r, sign);
        break;
    case ALU_XOR:
        r = a ^ b;
        f = szp_flags(r, sign);
        break;
    case ALU_INC:
        r = add_flags(a, 1, 0, mask, sign, &f);
        break;
    case ALU_DEC:
        r = sub_flags(a, 1, 0, mask, sign, &f);
        break;
    case ALU_NOT:
        r = ~a & mask;
        break;
    case ALU_BT:
    case ALU_BTS:
    case ALU_BTR:
    case ALU_BTC: {
        const uint64_t bit = 1ull << (src & (size * 8 - 1));
        f = (a & bit) ? RFLAGS_CF : 0;
        r = op == ALU_BTS ? (a | bit) : op == ALU_BTR ? (a & ~bit) : op == ALU_BTC ? (a ^ bit) : a;
        break;
    }
    default:
        return dst;
    }

    const uint64_t defined = alu_defined_flags(op);
    *rflags = (*rflags & ~defined) | (f & defined);
    return alu_writes_result(op) ? r : dst;
}
