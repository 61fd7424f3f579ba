/* Applying a decoded instruction to the guest (see emulate.h). ALU and bit results and their
 * flags come from decode/alu (alu_exec); this file does operand fetch, write-back, register
 * rules, string iteration and RIP. */
#include "decode/emulate.h"

/* Register and address helpers. Register access by operand size follows the partial-register
 * rules (SDM Vol. 1, 3.4.1.1); the linear address is that of the instruction's (non-string)
 * memory operand for the current registers (RIP-relative uses regs->rip + insn->len). */
static uint64_t x86_sign_extend(uint64_t v, unsigned size)
{
    unsigned shift = 64 - 8 * size;
    return size >= 8 ? v : (uint64_t)((int64_t)(v << shift) >> shift);
}

static uint64_t x86_reg_read(const struct x86_regs *regs, unsigned reg, bool high8, unsigned size)
{
    uint64_t v = regs->gpr[reg & 15];
    if (high8)
        return (v >> 8) & 0xFF;
    return v & x86_size_mask(size);
}

static void x86_reg_write(struct x86_regs *regs, unsigned reg, bool high8, unsigned size,
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
 * Vol. 2B, MOV / MOVZX / MOVSX). */
static void x86_load_result(const struct x86_insn *insn, struct x86_regs *regs, uint64_t value)
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
static uint64_t x86_seg_linear(const struct x86_emu_env *env, unsigned seg, uint64_t offset)
{
    if (env->mode == X86_MODE_64)
        return (seg == X86_SEG_FS || seg == X86_SEG_GS) ? env->seg_base[seg] + offset : offset;
    return (env->seg_base[seg % X86_SEG_COUNT] + offset) & 0xFFFFFFFFull;
}

/* The operand's effective address plus `adjust` (BT's bit-offset displacement), wrapped to
 * the address size. */
static uint64_t x86_effective_address(const struct x86_insn *insn, const struct x86_regs *regs,
                                      int64_t adjust)
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

#define REG_RAX 0
#define REG_RCX 1
#define REG_RSI 6
#define REG_RDI 7

/* Values travel through the callbacks as their little-endian bytes: on an x86 host that is the
 * integer's own memory, so no byte loops (this runs on every MMIO exit). */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "operand bytes are the integer's bytes");

static enum x86_emu_status mem_read(const struct x86_emu_env *env, uint64_t la, unsigned size,
                                    uint64_t *value, struct x86_exception *exc)
{
    uint64_t v = 0;
    enum x86_emu_status st = env->read(env->ctx, la, &v, size < 8 ? size : 8, exc);
    if (st != X86_EMU_OK)
        return st;
    *value = v;
    return X86_EMU_OK;
}

static enum x86_emu_status mem_write(const struct x86_emu_env *env, uint64_t la, unsigned size,
                                     uint64_t value, struct x86_exception *exc)
{
    return env->write(env->ctx, la, &value, size < 8 ? size : 8, exc);
}

static void advance_rip(const struct x86_insn *insn, struct x86_regs *regs,
                        const struct x86_emu_env *env)
{
    regs->rip += insn->len;
    if (env->mode != X86_MODE_64)
        regs->rip &= 0xFFFFFFFFull;
}

#define TRY(expr)                                                                                  \
    do {                                                                                           \
        enum x86_emu_status st_ = (expr);                                                          \
        if (st_ != X86_EMU_OK)                                                                     \
            return st_;                                                                            \
    } while (0)

static uint64_t src_value(const struct x86_insn *insn, const struct x86_regs *regs)
{
    if (insn->src == X86_SRC_IMM)
        return insn->imm & x86_size_mask(insn->operand_size);
    if (insn->src == X86_SRC_REG)
        return x86_reg_read(regs, insn->reg, insn->reg_high8, insn->operand_size);
    return 0;
}

/* String forms (SDM Vol. 2B, MOVS/CMPS/STOS/LODS/SCAS and REP/REPE/REPNE): source
 * seg:[rSI] (seg overridable, default DS), destination ES:[rDI]; rSI/rDI/rCX at the address
 * size, stepping by the element size, backwards when DF is set. */
static enum x86_emu_status emulate_string(const struct x86_insn *insn, struct x86_regs *regs,
                                          const struct x86_emu_env *env, unsigned max_iterations,
                                          struct x86_exception *exc)
{
    const unsigned asz = insn->address_size, size = insn->access_size;
    const uint64_t amask = x86_size_mask(asz);
    const uint64_t step = (regs->rflags & RFLAGS_DF) ? (uint64_t)0 - size : size;
    const unsigned op = insn->op;
    const bool uses_src = op == X86_OP_MOVS || op == X86_OP_CMPS || op == X86_OP_LODS;
    const bool uses_dst = op != X86_OP_LODS;
    /* F2 on MOVS/STOS/LODS repeats like F3; only CMPS/SCAS look at ZF. */
    const bool rep = insn->rep != 0;
    const bool compares = op == X86_OP_CMPS || op == X86_OP_SCAS;

    if (max_iterations == 0)
        max_iterations = 1;
    if (rep && (regs->gpr[REG_RCX] & amask) == 0) {
        advance_rip(insn, regs, env);
        return X86_EMU_OK;
    }
    for (unsigned done = 0;; done++) {
        uint64_t si = regs->gpr[REG_RSI] & amask, di = regs->gpr[REG_RDI] & amask;
        uint64_t src_la = uses_src ? x86_seg_linear(env, insn->mem.seg, si) : X86_EMU_NO_ADDR;
        uint64_t dst_la = uses_dst ? x86_seg_linear(env, X86_SEG_ES, di) : X86_EMU_NO_ADDR;
        if (done > 0) {
            if (done >= max_iterations)
                return X86_EMU_CONTINUE;
            if (env->rep_next && !env->rep_next(env->ctx, src_la, dst_la, size))
                return X86_EMU_CONTINUE;
        }

        uint64_t a = 0, b = 0, flags = regs->rflags;
        switch (op) {
        case X86_OP_MOVS:
            TRY(mem_read(env, src_la, size, &a, exc));
            TRY(mem_write(env, dst_la, size, a, exc));
            break;
        case X86_OP_STOS:
            TRY(mem_write(env, dst_la, size, x86_reg_read(regs, REG_RAX, false, size), exc));
            break;
        case X86_OP_LODS:
            TRY(mem_read(env, src_la, size, &a, exc));
            x86_reg_write(regs, REG_RAX, false, size, a);
            break;
        case X86_OP_CMPS:
            TRY(mem_read(env, src_la, size, &a, exc));
            TRY(mem_read(env, dst_la, size, &b, exc));
            alu_exec(ALU_CMP, size, a, b, &flags);
            break;
        default: /* SCAS */
            TRY(mem_read(env, dst_la, size, &b, exc));
            alu_exec(ALU_CMP, size, x86_reg_read(regs, REG_RAX, false, size), b, &flags);
            break;
        }
        regs->rflags = flags;
        if (uses_src)
            x86_reg_write(regs, REG_RSI, false, asz, si + step);
        if (uses_dst)
            x86_reg_write(regs, REG_RDI, false, asz, di + step);
        if (!rep)
            break;
        uint64_t count = ((regs->gpr[REG_RCX] & amask) - 1) & amask;
        x86_reg_write(regs, REG_RCX, false, asz, count);
        if (count == 0)
            break;
        if (compares) {
            bool zf = (regs->rflags & RFLAGS_ZF) != 0;
            if ((insn->rep == 0xF3 && !zf) || (insn->rep == 0xF2 && zf))
                break;
        }
    }
    advance_rip(insn, regs, env);
    return X86_EMU_OK;
}

enum x86_emu_status x86_emulate(const struct x86_insn *insn, struct x86_regs *regs,
                                const struct x86_emu_env *env, unsigned max_iterations,
                                struct x86_exception *exc)
{
    if (insn->access == X86_ACCESS_NONE)
        return X86_EMU_UNSUPPORTED;
    switch (insn->op) {
    case X86_OP_MOVS:
    case X86_OP_CMPS:
    case X86_OP_STOS:
    case X86_OP_LODS:
    case X86_OP_SCAS:
        return emulate_string(insn, regs, env, max_iterations, exc);
    default:
        break;
    }

    const unsigned osz = insn->operand_size, size = insn->access_size;
    int64_t adjust = 0;
    uint64_t bit = 0;
    if (insn->op == X86_OP_BT) {
        /* SDM Vol. 2A, BT: a register bit offset is signed and may reach outside the operand:
         * the operand moves by (offset >> log2(bits)) operand-size units; an immediate is
         * taken modulo the operand width. */
        const unsigned bits = 8 * osz;
        const unsigned shift = osz == 2 ? 4 : osz == 4 ? 5 : 6;
        if (insn->src == X86_SRC_REG) {
            int64_t off =
                (int64_t)x86_sign_extend(x86_reg_read(regs, insn->reg, insn->reg_high8, osz), osz);
            adjust = (off >> shift) * (int64_t)osz;
            bit = (uint64_t)off & (bits - 1);
        } else {
            bit = insn->imm & (bits - 1);
        }
    }
    const uint64_t la =
        x86_seg_linear(env, insn->mem.seg, x86_effective_address(insn, regs, adjust));
    uint64_t m = 0, flags = regs->rflags, res;

    switch (insn->op) {
    case X86_OP_MOV:
    case X86_OP_MOVNTI:
        if (insn->mem_is_dst) {
            TRY(mem_write(env, la, size, src_value(insn, regs), exc));
        } else {
            TRY(mem_read(env, la, size, &m, exc));
            x86_load_result(insn, regs, m);
        }
        break;
    case X86_OP_MOVZX:
    case X86_OP_MOVSX:
        TRY(mem_read(env, la, size, &m, exc));
        x86_load_result(insn, regs, m);
        break;
    case X86_OP_ALU:
        TRY(mem_read(env, la, size, &m, exc));
        if (insn->mem_is_dst) {
            res = alu_exec((enum alu_op)insn->alu, osz, m, src_value(insn, regs), &flags);
            if (alu_writes_result((enum alu_op)insn->alu))
                TRY(mem_write(env, la, size, res, exc));
        } else {
            uint64_t d = x86_reg_read(regs, insn->reg, insn->reg_high8, osz);
            res = alu_exec((enum alu_op)insn->alu, osz, d, m, &flags);
            if (alu_writes_result((enum alu_op)insn->alu))
                x86_reg_write(regs, insn->reg, insn->reg_high8, osz, res);
        }
        regs->rflags = flags;
        break;
    case X86_OP_BT:
        TRY(mem_read(env, la, size, &m, exc));
        res = alu_exec((enum alu_op)insn->alu, osz, m, bit, &flags);
        if (alu_writes_result((enum alu_op)insn->alu))
            TRY(mem_write(env, la, size, res, exc));
        regs->rflags = flags;
        break;
    case X86_OP_XCHG:
        TRY(mem_read(env, la, size, &m, exc));
        TRY(mem_write(env, la, size, src_value(insn, regs), exc));
        x86_reg_write(regs, insn->reg, insn->reg_high8, osz, m);
        break;
    case X86_OP_CMPXCHG: {
        /* SDM Vol. 2A, CMPXCHG: the destination is written in both cases (with its own value
         * when the comparison fails), then the accumulator takes it on a mismatch. */
        TRY(mem_read(env, la, size, &m, exc));
        uint64_t acc = x86_reg_read(regs, REG_RAX, false, osz);
        alu_exec(ALU_CMP, osz, acc, m, &flags);
        bool equal = acc == m;
        TRY(mem_write(env, la, size, equal ? src_value(insn, regs) : m, exc));
        if (!equal)
            x86_reg_write(regs, REG_RAX, false, osz, m);
        regs->rflags = flags;
        break;
    }
    case X86_OP_XADD: {
        TRY(mem_read(env, la, size, &m, exc));
        uint64_t src = src_value(insn, regs);
        res = alu_exec(ALU_ADD, osz, m, src, &flags);
        TRY(mem_write(env, la, size, res, exc));
        x86_reg_write(regs, insn->reg, insn->reg_high8, osz, m);
        regs->rflags = flags;
        break;
    }
    case X86_OP_SSE_LOAD:
    case X86_OP_SSE_STORE: {
        uint8_t x[16];
        if (insn->align && (la & (insn->align - 1))) {
            *exc = (struct x86_exception){.vector = X86_VEC_GP};
            return X86_EMU_EXCEPTION;
        }
        if (insn->op == X86_OP_SSE_STORE) {
            env->xmm_read(env->ctx, insn->reg, x);
            TRY(env->write(env->ctx, la, x, size, exc));
        } else {
            if (insn->sse_zero_upper)
                for (unsigned i = 0; i < 16; i++)
                    x[i] = 0;
            else
                env->xmm_read(env->ctx, insn->reg, x);
            TRY(env->read(env->ctx, la, x, size, exc));
            env->xmm_write(env->ctx, insn->reg, x);
        }
        break;
    }
    default:
        return X86_EMU_UNSUPPORTED;
    }
    advance_rip(insn, regs, env);
    return X86_EMU_OK;
}
