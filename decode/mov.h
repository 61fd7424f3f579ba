/* A MOV, MOVZX or MOVSX with one memory operand, decoded in 64-bit mode at one RIP, reduced to
 * what replaying it needs: everything that does not depend on the registers or the memory
 * value is worked out once (x86_mov_access_of), so an exit from the same instruction costs a
 * few ALU operations (x86_mov_offset, x86_mov_store_value, x86_mov_load). The MMIO fast path
 * keeps one with each instruction it has seen (boot/mmio.c, "MMIO sites").
 *
 * The results are exactly x86_emulate's for the same instruction (tests/decode/test_decode_mov.c
 * compares them over every MOV-family form): the address (SDM Vol. 1, 3.7.5 "Specifying an
 * Offset"; Vol. 3A, 3.4.4: in 64-bit mode only FS and GS add a base), the stored value, and the
 * destination register after a load with the extension and partial-register rules of MOV,
 * MOVZX, MOVSX and MOVSXD (SDM Vol. 2B; Vol. 1, 3.4.1.1: a 32-bit result zero-extends, an 8- or
 * 16-bit one leaves the rest of the register).
 *
 * Pure C: no allocation, no libc; runs in VMX root and in host tests. */
#ifndef TRAPVISOR_DECODE_MOV_H
#define TRAPVISOR_DECODE_MOV_H

#include <stdbool.h>
#include <stdint.h>

#include "decode/decode.h"

/* `base` / `index` when the address has none. */
#define X86_MOV_NO_REG 0xFF

struct x86_mov_access {
    uint64_t disp;       /* displacement; RIP-relative: the whole offset (RIP known) */
    uint64_t imm;        /* store of an immediate: the value, `size` bytes */
    uint64_t keep_mask;  /* load: bits of the destination register the load leaves */
    uint64_t value_mask; /* load: bits it writes (after the shift) */
    uint64_t addr_mask;  /* offset wrap: 2^64 - 1, or 2^32 - 1 with an address-size prefix */
    uint8_t base;        /* GPR, or X86_MOV_NO_REG */
    uint8_t index;       /* GPR, or X86_MOV_NO_REG */
    uint8_t scale_shift; /* index * 2^scale_shift */
    uint8_t seg;         /* enum x86_seg; only X86_SEG_FS and X86_SEG_GS add a base */
    uint8_t size;        /* bytes accessed: 1, 2, 4 or 8 */
    uint8_t store;       /* 1: register or immediate to memory; 0: memory to register */
    uint8_t store_imm;   /* store: the source is `imm` */
    uint8_t reg;         /* the register operand (GPR 0..15) */
    uint8_t shift;       /* 8 for AH, CH, DH, BH; else 0 */
    uint8_t sign_shift;  /* load: 64 - 8 * size for MOVSX/MOVSXD (sign-extends), else 0 */
    uint8_t len;         /* instruction length */
    uint8_t load_whole;  /* load: the register takes the value as read (a 32- or 64-bit MOV or
                            MOVZX destination: nothing kept, nothing extended) */
};

/* Reduces a decoded instruction at `rip` to *out. False (out unspecified) when it is not a
 * 64-bit-mode MOV, MOVZX or MOVSX that only reads or only writes one general-purpose-register
 * sized memory operand (SSE forms, LOCK, register-only forms and anything else are left to
 * x86_emulate). */
bool x86_mov_access_of(const struct x86_insn *insn, uint64_t rip, struct x86_mov_access *out);

/* True when the access names RSP (as base, index or register operand): a caller that keeps
 * RSP elsewhere (the hypervisor loads it from the VMCS on demand) must have it in gpr[4]. */
static inline bool x86_mov_uses_rsp(const struct x86_mov_access *a)
{
    return a->base == 4 || a->index == 4 || (a->reg == 4 && a->shift == 0);
}

/* The operand's offset in its segment (the linear address, unless seg is FS or GS: then add
 * that segment's base). gpr[] are the 16 general-purpose registers. */
__attribute__((always_inline)) static inline uint64_t x86_mov_offset(const struct x86_mov_access *a,
                                                                     const uint64_t gpr[16])
{
    uint64_t ea = a->disp;
    if (a->base != X86_MOV_NO_REG)
        ea += gpr[a->base & 15];
    if (a->index != X86_MOV_NO_REG)
        ea += gpr[a->index & 15] << a->scale_shift;
    return ea & a->addr_mask;
}

/* A store's value: `size` bytes of the source register (bits 15:8 for AH..BH) or the
 * immediate. */
__attribute__((always_inline)) static inline uint64_t
x86_mov_store_value(const struct x86_mov_access *a, const uint64_t gpr[16])
{
    if (a->store_imm)
        return a->imm;
    return (gpr[a->reg & 15] >> a->shift) & (~0ull >> (64 - 8 * a->size));
}

/* A load: the destination register after `value` (the `size` bytes read, zero-extended: no bit
 * above them set). */
__attribute__((always_inline)) static inline void x86_mov_load_into(const struct x86_mov_access *a,
                                                                    uint64_t *r, uint64_t value)
{
    if (a->load_whole) { /* value has `size` bytes, zero-extended: what the register gets */
        *r = value;
        return;
    }
    const uint64_t ext = (uint64_t)((int64_t)(value << a->sign_shift) >> a->sign_shift);
    *r = (*r & a->keep_mask) | ((ext << a->shift) & a->value_mask);
}

/* The same, into gpr[a->reg] (x86_mov_load_into takes the register itself, for a caller that
 * has it already). */
__attribute__((always_inline)) static inline void x86_mov_load(const struct x86_mov_access *a,
                                                               uint64_t gpr[16], uint64_t value)
{
    x86_mov_load_into(a, &gpr[a->reg & 15], value);
}

#endif
