/* Arithmetic and bit operations with the RFLAGS effects the CPU gives them.
 *
 * Used by decode/emulate to apply ALU and bit forms whose memory operand is on a device.
 * Pure C; differential-tested against the host CPU. */
#ifndef TRAPVISOR_DECODE_ALU_H
#define TRAPVISOR_DECODE_ALU_H

#include <stdint.h>

/* RFLAGS bits (SDM Vol. 1, 3.4.3 "EFLAGS Register"). */
#define RFLAGS_CF (1ull << 0)
#define RFLAGS_PF (1ull << 2)
#define RFLAGS_AF (1ull << 4)
#define RFLAGS_ZF (1ull << 6)
#define RFLAGS_SF (1ull << 7)
#define RFLAGS_TF (1ull << 8)
#define RFLAGS_IF (1ull << 9)
#define RFLAGS_DF (1ull << 10)
#define RFLAGS_OF (1ull << 11)
#define RFLAGS_ARITH (RFLAGS_CF | RFLAGS_PF | RFLAGS_AF | RFLAGS_ZF | RFLAGS_SF | RFLAGS_OF)

/* The first eight are in the order of the ModRM.reg field of opcodes 80-83
 * (SDM Vol. 2, Table A-6, group 1), so `(enum alu_op)modrm_reg` selects them. */
enum alu_op {
    ALU_ADD,
    ALU_OR,
    ALU_ADC,
    ALU_SBB,
    ALU_AND,
    ALU_SUB,
    ALU_XOR,
    ALU_CMP,
    ALU_TEST, /* AND without writing the result */
    ALU_NOT,  /* src ignored; flags unaffected */
    ALU_NEG,  /* 0 - dst; src ignored */
    ALU_INC,  /* dst + 1; CF unaffected; src ignored */
    ALU_DEC,  /* dst - 1; CF unaffected; src ignored */
    ALU_BT,   /* CF = bit src of dst; src is the bit offset already reduced mod width */
    ALU_BTS,  /* ... and set it */
    ALU_BTR,  /* ... and clear it */
    ALU_BTC,  /* ... and complement it */
    ALU_OP_COUNT
};

/* Computes `dst op src` at operand size `size` bytes (1, 2, 4 or 8): returns the result
 * truncated to `size` (for CMP, TEST and BT: `dst` unchanged, since nothing is written) and
 * updates the flags the SDM defines for the operation in *rflags, leaving every other bit as
 * it was (including flags the SDM calls undefined for that operation). ADC and SBB read CF
 * from *rflags. */
uint64_t alu_exec(enum alu_op op, unsigned size, uint64_t dst, uint64_t src, uint64_t *rflags);

/* The RFLAGS bits the SDM defines as an output of `op` (SDM Vol. 2, each instruction's
 * "Flags Affected"); the differential test compares only these with the host CPU. */
uint64_t alu_defined_flags(enum alu_op op);

/* True when `op` writes its result back to the destination (false for CMP, TEST, BT). */
int alu_writes_result(enum alu_op op);

#endif
