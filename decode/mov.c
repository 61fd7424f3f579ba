/* MOV-family accesses reduced for replay (decode/mov.h). */
#include "decode/mov.h"

#include "decode/emulate.h"

static unsigned mov_scale_shift(unsigned scale)
{
    return scale == 8 ? 3 : scale == 4 ? 2 : scale == 2 ? 1 : 0;
}

/* Where a load lands in the destination register (SDM Vol. 1, 3.4.1.1): a 32-bit destination
 * is zero-extended to 64 bits, a 64-bit one replaced, an 8- or 16-bit one merged (AH..BH at bits
 * 15:8). */
static void mov_load_masks(const struct x86_insn *insn, struct x86_mov_access *out)
{
    const unsigned dest = insn->operand_size;
    if (dest == 4 || dest == 8) {
        out->keep_mask = 0;
        out->value_mask = x86_size_mask(dest);
    } else {
        out->value_mask = x86_size_mask(dest) << out->shift;
        out->keep_mask = ~out->value_mask;
    }
}

bool x86_mov_access_of(const struct x86_insn *insn, uint64_t rip, struct x86_mov_access *out)
{
    if (insn->mode != X86_MODE_64 || insn->lock || insn->rep)
        return false;
    const bool store = insn->access == X86_ACCESS_WRITE;
    if (insn->op == X86_OP_MOV) {
        if (!store && insn->access != X86_ACCESS_READ)
            return false;
        if (store && insn->src != X86_SRC_REG && insn->src != X86_SRC_IMM)
            return false;
    } else if ((insn->op != X86_OP_MOVZX && insn->op != X86_OP_MOVSX) ||
               insn->access != X86_ACCESS_READ) {
        return false;
    }
    const unsigned size = insn->access_size;
    if (size != 1 && size != 2 && size != 4 && size != 8)
        return false;
    if (!store && insn->operand_size != 1 && insn->operand_size != 2 && insn->operand_size != 4 &&
        insn->operand_size != 8)
        return false;
    if (insn->reg > 15 || (insn->reg_high8 && insn->reg > 3))
        return false;
    const struct x86_mem *m = &insn->mem;
    if ((m->base != X86_REG_NONE && m->base > 15) || (m->index != X86_REG_NONE && m->index > 15))
        return false;
    if (m->scale != 1 && m->scale != 2 && m->scale != 4 && m->scale != 8)
        return false;
    if (m->rip_rel && m->base != X86_REG_NONE)
        return false;
    if (insn->address_size != 4 && insn->address_size != 8)
        return false;

    out->disp = (uint64_t)m->disp + (m->rip_rel ? rip + insn->len : 0);
    out->base = m->base == X86_REG_NONE ? X86_MOV_NO_REG : m->base;
    out->index = m->index == X86_REG_NONE ? X86_MOV_NO_REG : m->index;
    out->scale_shift = (uint8_t)mov_scale_shift(m->scale);
    out->addr_mask = x86_size_mask(insn->address_size);
    out->seg = m->seg;
    out->size = (uint8_t)size;
    out->store = store;
    out->store_imm = store && insn->src == X86_SRC_IMM;
    out->imm = out->store_imm ? insn->imm & x86_size_mask(size) : 0;
    out->reg = insn->reg;
    out->shift = insn->reg_high8 ? 8 : 0;
    out->sign_shift = insn->op == X86_OP_MOVSX && size < 8 ? (uint8_t)(64 - 8 * size) : 0;
    out->len = insn->len;
    if (store) {
        out->keep_mask = ~0ull;
        out->value_mask = 0;
    } else {
        mov_load_masks(insn, out);
    }
    /* A zero-extended value of `size` bytes lands as it is: nothing kept (32/64-bit destination),
     * no sign extension, no shift, and the destination at least as wide as the value. */
    out->load_whole = !store && out->keep_mask == 0 && out->sign_shift == 0 && out->shift == 0 &&
                      insn->operand_size >= size;
    return true;
}
