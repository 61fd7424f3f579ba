/* Applying a decoded instruction: performs its memory accesses through callbacks and updates
 * the guest's registers and RFLAGS exactly as the CPU would.
 *
 * Register rules (SDM Vol. 1, 3.4.1.1): 8- and 16-bit destinations keep the other bits,
 * 32-bit destinations zero-extend to 64, AH..BH (no REX) are bits 15:8 of RAX..RBX.
 * Nothing is written to a register, RFLAGS or memory after an access faults: an instruction
 * that returns X86_EMU_EXCEPTION leaves the state of the last completed REP iteration (or
 * the state before the instruction), and RIP on the instruction, as the CPU does for a fault.
 *
 * Pure C: no allocation, no libc, no floating point (XMM data moves as bytes through the
 * xmm callbacks). Runs in VMX root and in host tests. */
#ifndef TRAPVISOR_DECODE_EMULATE_H
#define TRAPVISOR_DECODE_EMULATE_H

#include <stdbool.h>
#include <stdint.h>

#include "decode/decode.h"

/* General registers by x86 register number: rax=0 rcx=1 rdx=2 rbx=3 rsp=4 rbp=5 rsi=6 rdi=7,
 * r8..r15. */
struct x86_regs {
    uint64_t gpr[16];
    uint64_t rip;
    uint64_t rflags;
};

enum x86_emu_status {
    X86_EMU_OK,          /* done: RIP is past the instruction */
    X86_EMU_CONTINUE,    /* REP form stopped early (iteration bound or region end): RIP is
                            still on the instruction, RCX/RSI/RDI say where to resume */
    X86_EMU_EXCEPTION,   /* inject *exc; state as described above */
    X86_EMU_UNSUPPORTED, /* the decoded form cannot be applied (a register-only form) */
};

/* Exception vectors (SDM Vol. 3A, 6.3.1 Table 6-1). */
#define X86_VEC_GP 13
#define X86_VEC_PF 14

struct x86_exception {
    uint8_t vector;      /* X86_VEC_PF or X86_VEC_GP */
    uint32_t error_code; /* #PF error code; 0 for #GP(0) */
    uint64_t address;    /* #PF: the faulting linear address (CR2) */
};

/* Memory callbacks: access `size` bytes (1..16) at linear address `la`. Return X86_EMU_OK, or
 * X86_EMU_EXCEPTION after filling *exc (#PF with error code and address, #GP(0)). */
typedef enum x86_emu_status (*x86_mem_read_fn)(void *ctx, uint64_t la, void *buf, unsigned size,
                                               struct x86_exception *exc);
typedef enum x86_emu_status (*x86_mem_write_fn)(void *ctx, uint64_t la, const void *buf,
                                                unsigned size, struct x86_exception *exc);
/* XMM register `reg` (0..15) as 16 little-endian bytes. */
typedef void (*x86_xmm_read_fn)(void *ctx, unsigned reg, uint8_t out[16]);
typedef void (*x86_xmm_write_fn)(void *ctx, unsigned reg, const uint8_t in[16]);
/* REP: may the next iteration run in this exit? `src_la`/`dst_la` are the linear addresses
 * it would access (X86_EMU_NO_ADDR when the form has no such operand); typically "both are
 * still inside the device region the exit was for". NULL: every iteration may run. */
typedef bool (*x86_rep_next_fn)(void *ctx, uint64_t src_la, uint64_t dst_la, unsigned size);

#define X86_EMU_NO_ADDR UINT64_MAX

struct x86_emu_env {
    enum x86_mode mode;               /* the CPU mode the instruction was decoded in */
    uint64_t seg_base[X86_SEG_COUNT]; /* segment bases (only FS/GS count in 64-bit mode) */
    void *ctx;
    x86_mem_read_fn read;
    x86_mem_write_fn write;
    x86_xmm_read_fn xmm_read;
    x86_xmm_write_fn xmm_write;
    x86_rep_next_fn rep_next;
};

/* Applies `insn` (decoded in env->mode) to `regs`. REP string forms run at most
 * `max_iterations` iterations (at least one) and stop earlier when env->rep_next says no;
 * they are restartable: calling again with the same instruction resumes exactly. */
enum x86_emu_status x86_emulate(const struct x86_insn *insn, struct x86_regs *regs,
                                const struct x86_emu_env *env, unsigned max_iterations,
                                struct x86_exception *exc);

/* Register and address helpers, inline: the MMIO fast path (boot/mmio.c) runs them on every
 * exit. Register access by operand size follows the partial-register rules above; the linear
 * address is that of the instruction's (non-string) memory operand for the current registers
 * (RIP-relative uses regs->rip + insn->len). */
static inline uint64_t x86_size_mask(unsigned size)
{
    return size >= 8 ? ~0ull : (1ull << (8 * size)) - 1;
}

static inline uint64_t x86_sign_extend(uint64_t v, unsigned size)
{
    unsigned shift = 64 - 8 * size;
    return size >= 8 ? v : (uint64_t)((int64_t)(v << shift) >> shift);
}

static inline uint64_t x86_reg_read(const struct x86_regs *regs, unsigned reg, bool high8,
                                    unsigned size)
{
    uint64_t v = regs->gpr[reg & 15];
    if (high8)
        return (v >> 8) & 0xFF;
    return v & x86_size_mask(size);
}

static inline void x86_reg_write(struct x86_regs *regs, unsigned reg, bool high8, unsigned size,
                                 uint64_t value)
{
    uint64_t *r = &regs->gpr[reg & 15];
    if (high8)
        *r = (*r & ~0xFF00ull) | ((value & 0xFF) << 8);
    else if (size == 4)
        *r = value & 0xFFFFFFFFull; /* 32-bit results zero-extend (SDM Vol. 1, 3.4.1.1) */
    else if (size >= 8)
        *r = value;
    else
        *r = (*r & ~x86_size_mask(size)) | (value & x86_size_mask(size));
}

/* A MOV, MOVZX or MOVSX load's destination register takes `value`, the `access_size` bytes read
 * from memory (zero-extended), with the extension and partial-register rules of the form (SDM
 * Vol. 2B, MOV / MOVZX / MOVSX). x86_emulate uses it; so does a caller that did the access
 * itself. */
static inline void x86_load_result(const struct x86_insn *insn, struct x86_regs *regs,
                                   uint64_t value)
{
    switch (insn->op) {
    case X86_OP_MOVZX:
        x86_reg_write(regs, insn->reg, false, insn->operand_size, value);
        break;
    case X86_OP_MOVSX:
        x86_reg_write(regs, insn->reg, false, insn->operand_size,
                      x86_sign_extend(value, insn->access_size));
        break;
    default: /* MOV */
        x86_reg_write(regs, insn->reg, insn->reg_high8, insn->operand_size, value);
        break;
    }
}

/* Linear address of seg:offset (SDM Vol. 3A, 3.4.4: in 64-bit mode only FS and GS have a
 * base; elsewhere linear addresses are 32 bits). Segment limits are not checked. */
static inline uint64_t x86_seg_linear(const struct x86_emu_env *env, unsigned seg, uint64_t offset)
{
    if (env->mode == X86_MODE_64)
        return (seg == X86_SEG_FS || seg == X86_SEG_GS) ? env->seg_base[seg] + offset : offset;
    return (env->seg_base[seg % X86_SEG_COUNT] + offset) & 0xFFFFFFFFull;
}

/* The operand's effective address plus `adjust` (BT's bit-offset displacement), wrapped to
 * the address size. */
static inline uint64_t x86_effective_address(const struct x86_insn *insn,
                                             const struct x86_regs *regs, int64_t adjust)
{
    const struct x86_mem *m = &insn->mem;
    uint64_t ea = (uint64_t)m->disp + (uint64_t)adjust;
    if (m->rip_rel)
        ea += regs->rip + insn->len;
    if (m->base != X86_REG_NONE)
        ea += regs->gpr[m->base & 15];
    if (m->index != X86_REG_NONE)
        ea += regs->gpr[m->index & 15] * m->scale;
    return ea & x86_size_mask(insn->address_size);
}

static inline uint64_t x86_mem_linear(const struct x86_insn *insn, const struct x86_regs *regs,
                                      const struct x86_emu_env *env)
{
    return x86_seg_linear(env, insn->mem.seg, x86_effective_address(insn, regs, 0));
}

#endif
