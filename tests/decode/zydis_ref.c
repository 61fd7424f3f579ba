/* The Zydis side of the decoder differential: reads x86dec input lines and prints, for each,
 * the line x86dec must print, computed from Zydis's full decode:
 *   len   = Zydis's instruction length
 *   access= from the actions of the memory operands (visible and hidden; address-generation
 *           operands such as LEA's are not accesses): two memory operands -> both; reads and
 *           (conditionally) writes -> rmw; else read / write; none -> none
 *   size  = the memory operand's size in bytes (0 when none)
 * Instructions outside the decoder's set (issue 2's list) -> error=unsupported; Zydis's
 * NO_MORE_DATA -> error=truncated; any other decode failure -> error=invalid. */
#include <stdio.h>
#include <stdlib.h>

#include <Zydis/Zydis.h>

#include "tools/x86dec/x86dec_input.h"

static bool has_mmx_operand(const ZydisDecodedOperand *ops, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        if (ops[i].type == ZYDIS_OPERAND_TYPE_REGISTER &&
            ZydisRegisterGetClass(ops[i].reg.value) == ZYDIS_REGCLASS_MMX)
            return true;
    return false;
}

/* Issue 2's instruction list, by mnemonic and opcode (the same mnemonic has other encodings
 * that are not in the list: MOV to segment/control registers, INC r32 in 40-47, ...). */
static bool in_supported_set(const ZydisDecodedInstruction *in, const ZydisDecodedOperand *ops)
{
    if (in->encoding != ZYDIS_INSTRUCTION_ENCODING_LEGACY)
        return false;
    const bool map1 = in->opcode_map == ZYDIS_OPCODE_MAP_DEFAULT;
    const bool map2 = in->opcode_map == ZYDIS_OPCODE_MAP_0F;
    const unsigned o = in->opcode, reg = in->raw.modrm.reg;
    switch (in->mnemonic) {
    case ZYDIS_MNEMONIC_MOV:
        return map1 && ((o >= 0x88 && o <= 0x8B) || ((o == 0xC6 || o == 0xC7) && reg == 0) ||
                        (o >= 0xA0 && o <= 0xA3));
    case ZYDIS_MNEMONIC_MOVZX:
        return map2 && (o == 0xB6 || o == 0xB7);
    case ZYDIS_MNEMONIC_MOVSX:
        return map2 && (o == 0xBE || o == 0xBF);
    case ZYDIS_MNEMONIC_MOVSXD:
        return map1 && o == 0x63;
    case ZYDIS_MNEMONIC_ADD:
    case ZYDIS_MNEMONIC_OR:
    case ZYDIS_MNEMONIC_ADC:
    case ZYDIS_MNEMONIC_SBB:
    case ZYDIS_MNEMONIC_AND:
    case ZYDIS_MNEMONIC_SUB:
    case ZYDIS_MNEMONIC_XOR:
    case ZYDIS_MNEMONIC_CMP:
        return map1 && ((o < 0x40 && (o & 7) < 4) || o == 0x80 || o == 0x81 || o == 0x83);
    case ZYDIS_MNEMONIC_TEST:
        return map1 && (o == 0x84 || o == 0x85 || ((o == 0xF6 || o == 0xF7) && reg == 0));
    case ZYDIS_MNEMONIC_NOT:
    case ZYDIS_MNEMONIC_NEG:
        return map1 && (o == 0xF6 || o == 0xF7);
    case ZYDIS_MNEMONIC_INC:
    case ZYDIS_MNEMONIC_DEC:
        return map1 && (o == 0xFE || o == 0xFF);
    case ZYDIS_MNEMONIC_XCHG:
        return map1 && (o == 0x86 || o == 0x87);
    case ZYDIS_MNEMONIC_CMPXCHG:
        return map2 && (o == 0xB0 || o == 0xB1);
    case ZYDIS_MNEMONIC_XADD:
        return map2 && (o == 0xC0 || o == 0xC1);
    case ZYDIS_MNEMONIC_BT:
    case ZYDIS_MNEMONIC_BTS:
    case ZYDIS_MNEMONIC_BTR:
    case ZYDIS_MNEMONIC_BTC:
        return map2;
    case ZYDIS_MNEMONIC_MOVSB:
    case ZYDIS_MNEMONIC_MOVSW:
    case ZYDIS_MNEMONIC_MOVSQ:
    case ZYDIS_MNEMONIC_CMPSB:
    case ZYDIS_MNEMONIC_CMPSW:
    case ZYDIS_MNEMONIC_CMPSD:
    case ZYDIS_MNEMONIC_CMPSQ:
    case ZYDIS_MNEMONIC_STOSB:
    case ZYDIS_MNEMONIC_STOSW:
    case ZYDIS_MNEMONIC_STOSD:
    case ZYDIS_MNEMONIC_STOSQ:
    case ZYDIS_MNEMONIC_LODSB:
    case ZYDIS_MNEMONIC_LODSW:
    case ZYDIS_MNEMONIC_LODSD:
    case ZYDIS_MNEMONIC_LODSQ:
    case ZYDIS_MNEMONIC_SCASB:
    case ZYDIS_MNEMONIC_SCASW:
    case ZYDIS_MNEMONIC_SCASD:
    case ZYDIS_MNEMONIC_SCASQ:
        return map1;
    case ZYDIS_MNEMONIC_MOVSD: /* MOVSD string (A5) vs SSE2 MOVSD (F2 0F 10/11) */
        return map1 && o == 0xA5;
    case ZYDIS_MNEMONIC_MOVNTI:
        return map2 && o == 0xC3;
    case ZYDIS_MNEMONIC_MOVD:
    case ZYDIS_MNEMONIC_MOVQ:
        return map2 && (o == 0x6E || o == 0x7E || o == 0xD6) &&
               !has_mmx_operand(ops, in->operand_count);
    case ZYDIS_MNEMONIC_MOVDQA:
    case ZYDIS_MNEMONIC_MOVDQU:
    case ZYDIS_MNEMONIC_MOVAPS:
    case ZYDIS_MNEMONIC_MOVUPS:
        return map2;
    default:
        return false;
    }
}

static void print_ref(ZydisDecoder *dec, const uint8_t *bytes, size_t n)
{
    ZydisDecodedInstruction in;
    ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
    ZyanStatus st = ZydisDecoderDecodeFull(dec, bytes, n, &in, ops);
    if (st == ZYDIS_STATUS_NO_MORE_DATA) {
        printf("error=truncated\n");
        return;
    }
    if (!ZYAN_SUCCESS(st)) {
        printf("error=invalid\n");
        return;
    }
    if (!in_supported_set(&in, ops)) {
        printf("error=unsupported\n");
        return;
    }
    unsigned nmem = 0, actions = 0, size = 0;
    for (unsigned i = 0; i < in.operand_count; i++) {
        if (ops[i].type != ZYDIS_OPERAND_TYPE_MEMORY || ops[i].mem.type != ZYDIS_MEMOP_TYPE_MEM)
            continue;
        nmem++;
        actions |= ops[i].actions;
        size = ops[i].size / 8;
    }
    const char *access;
    bool rd = actions & ZYDIS_OPERAND_ACTION_MASK_READ;
    bool wr = actions & ZYDIS_OPERAND_ACTION_MASK_WRITE;
    if (nmem == 0)
        access = "none";
    else if (nmem >= 2)
        access = "both";
    else if (rd && wr)
        access = "rmw";
    else if (wr)
        access = "write";
    else
        access = "read";
    printf("len=%u access=%s size=%u\n", in.length, access, nmem ? size : 0);
}

int main(void)
{
    ZydisDecoder dec[3];
    ZydisDecoderInit(&dec[0], ZYDIS_MACHINE_MODE_LEGACY_16, ZYDIS_STACK_WIDTH_16);
    ZydisDecoderInit(&dec[1], ZYDIS_MACHINE_MODE_LEGACY_32, ZYDIS_STACK_WIDTH_32);
    ZydisDecoderInit(&dec[2], ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, stdin) >= 0) {
        unsigned bits;
        uint8_t bytes[X86DEC_MAX_BYTES];
        size_t n;
        if (!x86dec_parse_line(line, &bits, bytes, &n)) {
            printf("error=invalid\n");
            continue;
        }
        print_ref(&dec[bits == 16 ? 0 : bits == 32 ? 1 : 2], bytes, n);
    }
    free(line);
    return 0;
}
