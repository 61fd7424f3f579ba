/* The decoder's operands against Zydis's, beyond x86dec's len/access/size: for every corpus
 * line both decode, the memory operand (segment, base, index, scale, displacement,
 * RIP-relative), the register operand (including AH..BH vs SPL..DIL), the immediate, the
 * operand size and LOCK must agree. These are what x86_emulate acts on.
 * Reads x86dec input lines on stdin; prints each disagreement; exits 1 if there is any.
 * Segments: in 64-bit mode only FS/GS are compared (the others have no base there). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <Zydis/Zydis.h>

#include "decode/decode.h"
#include "tools/x86dec/x86dec_input.h"

static ZydisRegister gpr(unsigned size, unsigned reg, bool high8)
{
    if (size == 1) {
        if (high8)
            return (ZydisRegister)(ZYDIS_REGISTER_AH + reg);
        if (reg < 4)
            return (ZydisRegister)(ZYDIS_REGISTER_AL + reg);
        if (reg < 8)
            return (ZydisRegister)(ZYDIS_REGISTER_SPL + reg - 4);
        return (ZydisRegister)(ZYDIS_REGISTER_R8B + reg - 8);
    }
    ZydisRegisterClass c = size == 2   ? ZYDIS_REGCLASS_GPR16
                           : size == 4 ? ZYDIS_REGCLASS_GPR32
                                       : ZYDIS_REGCLASS_GPR64;
    return ZydisRegisterEncode(c, (ZyanU8)reg);
}

static uint64_t mask(unsigned size)
{
    return size >= 8 ? ~0ull : (1ull << (8 * size)) - 1;
}

static unsigned compare(const char *line, unsigned bits, const struct x86_insn *i,
                        const ZydisDecodedInstruction *z, const ZydisDecodedOperand *ops)
{
    unsigned bad = 0;
#define DIFF(what, ...)                                                                            \
    do {                                                                                           \
        printf("detail: %s: " what "\n", line, __VA_ARGS__);                                       \
        bad++;                                                                                     \
    } while (0)
    const bool is_string = i->op >= X86_OP_MOVS && i->op <= X86_OP_SCAS;
    const bool sse = i->op == X86_OP_SSE_LOAD || i->op == X86_OP_SSE_STORE;
    if (i->len != z->length)
        DIFF("length %u vs %u", i->len, z->length);
    if (i->lock != !!(z->attributes & ZYDIS_ATTRIB_HAS_LOCK))
        DIFF("lock %d", i->lock);
    /* MOVNTI is 32-bit even in 16-bit mode, where Zydis reports a 16-bit operand width. */
    if (!sse && i->op != X86_OP_MOVNTI && i->access != X86_ACCESS_NONE &&
        i->operand_size * 8u != z->operand_width)
        DIFF("operand size %u vs %u bits", i->operand_size, z->operand_width);

    const ZydisDecodedOperand *mem = NULL, *reg = NULL, *imm = NULL;
    for (unsigned k = 0; k < z->operand_count_visible; k++) {
        if (ops[k].type == ZYDIS_OPERAND_TYPE_MEMORY && !mem)
            mem = &ops[k];
        else if (ops[k].type == ZYDIS_OPERAND_TYPE_REGISTER && !reg)
            reg = &ops[k];
        else if (ops[k].type == ZYDIS_OPERAND_TYPE_IMMEDIATE && !imm)
            imm = &ops[k];
    }
    if (!is_string && i->access != X86_ACCESS_NONE) {
        if (!mem) {
            DIFF("%s", "Zydis has no memory operand");
            return bad;
        }
        const struct x86_mem *m = &i->mem;
        const unsigned asz = i->address_size;
        ZydisRegister want_base = m->rip_rel ? (asz == 8 ? ZYDIS_REGISTER_RIP : ZYDIS_REGISTER_EIP)
                                  : m->base == X86_REG_NONE ? ZYDIS_REGISTER_NONE
                                                            : gpr(asz, m->base, false);
        ZydisRegister want_index =
            m->index == X86_REG_NONE ? ZYDIS_REGISTER_NONE : gpr(asz, m->index, false);
        /* Zydis 4.0 reports SIB base 101 with mod=00 under 32-bit addressing and REX.B as
         * [r13d] without displacement, though it counts the disp32 in the length; the SDM
         * (Vol. 2A, Table 2-3 note 1) and objdump say: no base, disp32. */
        if (asz == 4 && want_base == ZYDIS_REGISTER_NONE && mem->mem.base == ZYDIS_REGISTER_R13D &&
            !mem->mem.disp.has_displacement)
            return bad;
        if (mem->mem.base != want_base)
            DIFF("base %s vs %s", ZydisRegisterGetString(want_base),
                 ZydisRegisterGetString(mem->mem.base));
        if (mem->mem.index != want_index)
            DIFF("index %s vs %s", ZydisRegisterGetString(want_index),
                 ZydisRegisterGetString(mem->mem.index));
        if (want_index != ZYDIS_REGISTER_NONE && mem->mem.scale != m->scale)
            DIFF("scale %u vs %u", m->scale, mem->mem.scale);
        if (((uint64_t)mem->mem.disp.value ^ (uint64_t)m->disp) & mask(asz))
            DIFF("disp %llx vs %llx", (unsigned long long)m->disp,
                 (unsigned long long)mem->mem.disp.value);
        ZydisRegister want_seg = (ZydisRegister)(ZYDIS_REGISTER_ES + m->seg);
        bool fsgs = m->seg == X86_SEG_FS || m->seg == X86_SEG_GS;
        bool zfsgs = mem->mem.segment == ZYDIS_REGISTER_FS || mem->mem.segment == ZYDIS_REGISTER_GS;
        if (bits == 64 ? (fsgs || zfsgs) && mem->mem.segment != want_seg
                       : mem->mem.segment != want_seg)
            DIFF("segment %s vs %s", ZydisRegisterGetString(want_seg),
                 ZydisRegisterGetString(mem->mem.segment));
    }
    if (i->src == X86_SRC_REG && i->access != X86_ACCESS_NONE && !is_string) {
        ZydisRegister want;
        if (sse)
            want = ZydisRegisterEncode(ZYDIS_REGCLASS_XMM, i->reg);
        else
            want = gpr(i->operand_size, i->reg, i->reg_high8);
        if (!reg || reg->reg.value != want)
            DIFF("register %s vs %s", ZydisRegisterGetString(want),
                 reg ? ZydisRegisterGetString(reg->reg.value) : "none");
    }
    if (i->src == X86_SRC_IMM) {
        uint64_t m = i->op == X86_OP_BT ? 0xFF : mask(i->operand_size);
        if (!imm || ((imm->imm.value.u ^ i->imm) & m))
            DIFF("immediate %llx vs %llx", (unsigned long long)i->imm,
                 imm ? (unsigned long long)imm->imm.value.u : 0ull);
    }
    return bad;
}

int main(void)
{
    ZydisDecoder dec[3];
    ZydisDecoderInit(&dec[0], ZYDIS_MACHINE_MODE_LEGACY_16, ZYDIS_STACK_WIDTH_16);
    ZydisDecoderInit(&dec[1], ZYDIS_MACHINE_MODE_LEGACY_32, ZYDIS_STACK_WIDTH_32);
    ZydisDecoderInit(&dec[2], ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
    char *line = NULL;
    size_t cap = 0;
    unsigned long compared = 0, windowed = 0, bad = 0;
    while (getline(&line, &cap, stdin) >= 0) {
        unsigned bits;
        uint8_t bytes[X86DEC_MAX_BYTES];
        size_t n;
        if (!x86dec_parse_line(line, &bits, bytes, &n))
            continue;
        for (char *p = line; *p; p++)
            if (*p == '\n')
                *p = '\0';
        enum x86_mode mode = bits == 16 ? X86_MODE_16 : bits == 32 ? X86_MODE_32 : X86_MODE_64;
        struct x86_insn insn;
        if (x86_decode(bytes, n, mode, &insn) != X86_DECODE_OK)
            continue;
        ZydisDecodedInstruction zi;
        ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
        if (!ZYAN_SUCCESS(ZydisDecoderDecodeFull(&dec[bits == 16   ? 0
                                                      : bits == 32 ? 1
                                                                   : 2],
                                                 bytes, n, &zi, ops))) {
            printf("detail: %s: Zydis cannot decode it\n", line);
            bad++;
            continue;
        }
        compared++;
        bad += compare(line, bits, &insn, &zi, ops);
        /* Again from a 15-byte window (the instruction, then NOPs), as the MMIO path fetches
         * it: x86_decode()'s MOV fast path takes only such windows. */
        uint8_t window[X86_MAX_INSN_LEN];
        memset(window, 0x90, sizeof window);
        memcpy(window, bytes, n < sizeof window ? n : sizeof window);
        struct x86_insn winsn;
        if (x86_decode(window, sizeof window, mode, &winsn) != X86_DECODE_OK) {
            printf("detail: %s: not decoded from a 15-byte window\n", line);
            bad++;
            continue;
        }
        windowed++;
        bad += compare(line, bits, &winsn, &zi, ops);
    }
    free(line);
    printf("decode-detail: %lu instructions compared operand by operand (%lu again from a 15-byte "
           "window), %lu differences\n",
           compared, windowed, bad);
    return bad != 0;
}
