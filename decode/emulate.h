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

/* The bits of a `size`-byte value (1, 2, 4 or 8). */
static inline uint64_t x86_size_mask(unsigned size)
{
    return size >= 8 ? ~0ull : (1ull << (8 * size)) - 1;
}

#endif
