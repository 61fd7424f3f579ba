/* The opcode table that drives decode/decode.c.
 *
 * Opcode maps: SDM Vol. 2D, Appendix A (Table A-2 one-byte map, A-3 two-byte map, A-6
 * ModRM.reg groups). Every slot not named here is X86_OPK_UNSUPPORTED. LOCK validity: SDM
 * Vol. 2A, "LOCK" (ADD ADC AND BTC BTR BTS CMPXCHG DEC INC NEG NOT OR SBB SUB XOR XADD XCHG,
 * memory destination only; anything else #UD). */
#include "decode/decode.h"

#define D_M X86_D_MODRM

/* An instruction entry. */
#define INSN(op_, alu_, access_, flags_)                                                           \
    {                                                                                              \
        .kind = X86_OPK_INSN, .op = (op_), .alu = (alu_), .access = (access_), .flags = (flags_)   \
    }
#define GROUP(g_, flags_)                                                                          \
    {                                                                                              \
        .kind = X86_OPK_GROUP, .arg = (g_), .flags = (flags_) | D_M                                \
    }
#define SSE(s_)                                                                                    \
    {                                                                                              \
        .kind = X86_OPK_SSE, .arg = (s_), .flags = D_M                                             \
    }
#define INVALID                                                                                    \
    {                                                                                              \
        .kind = X86_OPK_INVALID                                                                    \
    }
#define UNSUP                                                                                      \
    {                                                                                              \
        .kind = X86_OPK_UNSUPPORTED                                                                \
    }

/* ALU r/m,reg (x0 byte, x1 full) and reg,r/m (x2, x3) for one of ADD..CMP. CMP never writes
 * its destination, so it reads memory and is not lockable. */
#define ALU_RM_REG(base_, alu_, access_, lock_)                                                    \
    [(base_) + 0] = INSN(X86_OP_ALU, alu_, access_, D_M | X86_D_BYTE | X86_D_SRCREG | (lock_)),    \
               [(base_) + 1] = INSN(X86_OP_ALU, alu_, access_, D_M | X86_D_SRCREG | (lock_)),      \
               [(base_) + 2] = INSN(X86_OP_ALU, alu_, X86_ACCESS_READ,                             \
                                    D_M | X86_D_BYTE | X86_D_SRCREG | X86_D_REGDST),               \
               [(base_) + 3] =                                                                     \
                   INSN(X86_OP_ALU, alu_, X86_ACCESS_READ, D_M | X86_D_SRCREG | X86_D_REGDST)

#define RMW X86_ACCESS_RMW
#define RD  X86_ACCESS_READ
#define WR  X86_ACCESS_WRITE
#define LK  X86_D_LOCK

const struct x86_opcode x86_opcode_map1[256] = {
    ALU_RM_REG(0x00, ALU_ADD, RMW, LK),
    ALU_RM_REG(0x08, ALU_OR, RMW, LK),
    ALU_RM_REG(0x10, ALU_ADC, RMW, LK),
    ALU_RM_REG(0x18, ALU_SBB, RMW, LK),
    ALU_RM_REG(0x20, ALU_AND, RMW, LK),
    ALU_RM_REG(0x28, ALU_SUB, RMW, LK),
    ALU_RM_REG(0x30, ALU_XOR, RMW, LK),
    ALU_RM_REG(0x38, ALU_CMP, RD, 0),
    [0x0F] = {.kind = X86_OPK_ESCAPE},
    /* MOVSXD in 64-bit mode; ARPL elsewhere (unsupported). */
    [0x63] =
        INSN(X86_OP_MOVSX, 0, RD, D_M | X86_D_SRCREG | X86_D_REGDST | X86_D_SRC32 | X86_D_ONLY64),
    [0x80] = GROUP(X86_GRP_1, X86_D_BYTE | X86_D_IMMSZ),
    [0x81] = GROUP(X86_GRP_1, X86_D_IMMSZ),
    [0x83] = GROUP(X86_GRP_1, X86_D_IMM8),
    [0x84] = INSN(X86_OP_ALU, ALU_TEST, RD, D_M | X86_D_BYTE | X86_D_SRCREG),
    [0x85] = INSN(X86_OP_ALU, ALU_TEST, RD, D_M | X86_D_SRCREG),
    [0x86] = INSN(X86_OP_XCHG, 0, RMW, D_M | X86_D_BYTE | X86_D_SRCREG | LK),
    [0x87] = INSN(X86_OP_XCHG, 0, RMW, D_M | X86_D_SRCREG | LK),
    [0x88] = INSN(X86_OP_MOV, 0, WR, D_M | X86_D_BYTE | X86_D_SRCREG),
    [0x89] = INSN(X86_OP_MOV, 0, WR, D_M | X86_D_SRCREG),
    [0x8A] = INSN(X86_OP_MOV, 0, RD, D_M | X86_D_BYTE | X86_D_SRCREG | X86_D_REGDST),
    [0x8B] = INSN(X86_OP_MOV, 0, RD, D_M | X86_D_SRCREG | X86_D_REGDST),
    [0xA0] = INSN(X86_OP_MOV, 0, RD, X86_D_MOFFS | X86_D_BYTE | X86_D_ACC | X86_D_REGDST),
    [0xA1] = INSN(X86_OP_MOV, 0, RD, X86_D_MOFFS | X86_D_ACC | X86_D_REGDST),
    [0xA2] = INSN(X86_OP_MOV, 0, WR, X86_D_MOFFS | X86_D_BYTE | X86_D_ACC),
    [0xA3] = INSN(X86_OP_MOV, 0, WR, X86_D_MOFFS | X86_D_ACC),
    [0xA4] = INSN(X86_OP_MOVS, 0, X86_ACCESS_BOTH, X86_D_STRING | X86_D_BYTE),
    [0xA5] = INSN(X86_OP_MOVS, 0, X86_ACCESS_BOTH, X86_D_STRING),
    [0xA6] = INSN(X86_OP_CMPS, 0, X86_ACCESS_BOTH, X86_D_STRING | X86_D_BYTE),
    [0xA7] = INSN(X86_OP_CMPS, 0, X86_ACCESS_BOTH, X86_D_STRING),
    [0xAA] = INSN(X86_OP_STOS, 0, WR, X86_D_STRING | X86_D_BYTE),
    [0xAB] = INSN(X86_OP_STOS, 0, WR, X86_D_STRING),
    [0xAC] = INSN(X86_OP_LODS, 0, RD, X86_D_STRING | X86_D_BYTE),
    [0xAD] = INSN(X86_OP_LODS, 0, RD, X86_D_STRING),
    [0xAE] = INSN(X86_OP_SCAS, 0, RD, X86_D_STRING | X86_D_BYTE),
    [0xAF] = INSN(X86_OP_SCAS, 0, RD, X86_D_STRING),
    [0xC6] = GROUP(X86_GRP_11, X86_D_BYTE),
    [0xC7] = GROUP(X86_GRP_11, 0),
    [0xF6] = GROUP(X86_GRP_3, X86_D_BYTE),
    [0xF7] = GROUP(X86_GRP_3, 0),
    [0xFE] = GROUP(X86_GRP_4, X86_D_BYTE),
    [0xFF] = GROUP(X86_GRP_5, 0),
};

const struct x86_opcode x86_opcode_map2[256] = {
    [0x10] = SSE(X86_SSE_0F10),
    [0x11] = SSE(X86_SSE_0F11),
    [0x28] = SSE(X86_SSE_0F28),
    [0x29] = SSE(X86_SSE_0F29),
    [0x6E] = SSE(X86_SSE_0F6E),
    [0x6F] = SSE(X86_SSE_0F6F),
    [0x7E] = SSE(X86_SSE_0F7E),
    [0x7F] = SSE(X86_SSE_0F7F),
    [0xD6] = SSE(X86_SSE_0FD6),
    [0xA3] = INSN(X86_OP_BT, ALU_BT, RD, D_M | X86_D_SRCREG),
    [0xAB] = INSN(X86_OP_BT, ALU_BTS, RMW, D_M | X86_D_SRCREG | LK),
    [0xB3] = INSN(X86_OP_BT, ALU_BTR, RMW, D_M | X86_D_SRCREG | LK),
    [0xBB] = INSN(X86_OP_BT, ALU_BTC, RMW, D_M | X86_D_SRCREG | LK),
    [0xBA] = GROUP(X86_GRP_8, X86_D_IMM8),
    [0xB0] = INSN(X86_OP_CMPXCHG, 0, RMW, D_M | X86_D_BYTE | X86_D_SRCREG | LK),
    [0xB1] = INSN(X86_OP_CMPXCHG, 0, RMW, D_M | X86_D_SRCREG | LK),
    [0xC0] = INSN(X86_OP_XADD, 0, RMW, D_M | X86_D_BYTE | X86_D_SRCREG | LK),
    [0xC1] = INSN(X86_OP_XADD, 0, RMW, D_M | X86_D_SRCREG | LK),
    [0xB6] = INSN(X86_OP_MOVZX, 0, RD, D_M | X86_D_SRCREG | X86_D_REGDST | X86_D_SRC8),
    [0xB7] = INSN(X86_OP_MOVZX, 0, RD, D_M | X86_D_SRCREG | X86_D_REGDST | X86_D_SRC16),
    [0xBE] = INSN(X86_OP_MOVSX, 0, RD, D_M | X86_D_SRCREG | X86_D_REGDST | X86_D_SRC8),
    [0xBF] = INSN(X86_OP_MOVSX, 0, RD, D_M | X86_D_SRCREG | X86_D_REGDST | X86_D_SRC16),
    /* MOVNTI: NP 0F C3 (66/F2/F3 are checked in decode.c), memory destination only. */
    [0xC3] = INSN(X86_OP_MOVNTI, 0, WR, D_M | X86_D_SRCREG | X86_D_MEMONLY),
    [0x38] = UNSUP,
    [0x3A] = UNSUP,
};

/* Groups: the top-level entry's flags (BYTE, immediates) are OR'ed with the member's. */
const struct x86_opcode x86_opcode_groups[X86_GRP_COUNT][8] =
    {
        /* Group 1 (80, 81, 83): ADD OR ADC SBB AND SUB XOR CMP with an immediate. */
        [X86_GRP_1] =
            {
                INSN(X86_OP_ALU, ALU_ADD, RMW, X86_D_SRCIMM | LK),
                INSN(X86_OP_ALU, ALU_OR, RMW, X86_D_SRCIMM | LK),
                INSN(X86_OP_ALU, ALU_ADC, RMW, X86_D_SRCIMM | LK),
                INSN(X86_OP_ALU, ALU_SBB, RMW, X86_D_SRCIMM | LK),
                INSN(X86_OP_ALU, ALU_AND, RMW, X86_D_SRCIMM | LK),
                INSN(X86_OP_ALU, ALU_SUB, RMW, X86_D_SRCIMM | LK),
                INSN(X86_OP_ALU, ALU_XOR, RMW, X86_D_SRCIMM | LK),
                INSN(X86_OP_ALU, ALU_CMP, RD, X86_D_SRCIMM),
            },
        /* Group 3 (F6, F7): TEST imm, (/1 undocumented TEST alias), NOT, NEG, MUL..IDIV. */
        [X86_GRP_3] =
            {
                INSN(X86_OP_ALU, ALU_TEST, RD, X86_D_SRCIMM | X86_D_IMMSZ),
                UNSUP,
                INSN(X86_OP_ALU, ALU_NOT, RMW, LK),
                INSN(X86_OP_ALU, ALU_NEG, RMW, LK),
                UNSUP,
                UNSUP,
                UNSUP,
                UNSUP,
            },
        /* Group 4 (FE): INC, DEC; the rest #UD. */
        [X86_GRP_4] =
            {
                INSN(X86_OP_ALU, ALU_INC, RMW, LK),
                INSN(X86_OP_ALU, ALU_DEC, RMW, LK),
                INVALID,
                INVALID,
                INVALID,
                INVALID,
                INVALID,
                INVALID,
            },
        /* Group 5 (FF): INC, DEC; CALL/JMP/PUSH unsupported; /7 #UD. */
        [X86_GRP_5] =
            {
                INSN(X86_OP_ALU, ALU_INC, RMW, LK),
                INSN(X86_OP_ALU, ALU_DEC, RMW, LK),
                UNSUP,
                UNSUP,
                UNSUP,
                UNSUP,
                UNSUP,
                INVALID,
            },
        /* Group 8 (0F BA): /4-7 BT BTS BTR BTC with imm8; /0-3 #UD. */
        [X86_GRP_8] =
            {
                INVALID,
                INVALID,
                INVALID,
                INVALID,
                INSN(X86_OP_BT, ALU_BT, RD, X86_D_SRCIMM),
                INSN(X86_OP_BT, ALU_BTS, RMW, X86_D_SRCIMM | LK),
                INSN(X86_OP_BT, ALU_BTR, RMW, X86_D_SRCIMM | LK),
                INSN(X86_OP_BT, ALU_BTC, RMW, X86_D_SRCIMM | LK),
            },
        /* Group 11 (C6, C7): /0 MOV imm; /7 XABORT/XBEGIN (unsupported); the rest #UD. */
        [X86_GRP_11] =
            {
                INSN(X86_OP_MOV, 0, WR, X86_D_SRCIMM | X86_D_IMMSZ),
                INVALID,
                INVALID,
                INVALID,
                INVALID,
                INVALID,
                INVALID,
                {.kind = X86_OPK_UNSUPPORTED, .flags = X86_D_REGONLY}, /* C6 F8 / C7 F8 only */
            },
};

#define SSE_LOAD(flags_)  INSN(X86_OP_SSE_LOAD, 0, RD, D_M | X86_D_SRCREG | X86_D_REGDST | (flags_))
#define SSE_STORE(flags_) INSN(X86_OP_SSE_STORE, 0, WR, D_M | X86_D_SRCREG | (flags_))

/* Columns: no mandatory prefix, 66, F3, F2 (SDM Vol. 2A, 2.1.2 and each instruction's
 * opcode column; NP = no 66/F2/F3). */
const struct x86_opcode x86_opcode_sse[X86_SSE_COUNT][4] = {
    [X86_SSE_0F10] = {SSE_LOAD(X86_D_SSE16), UNSUP, UNSUP, UNSUP},  /* MOVUPS */
    [X86_SSE_0F11] = {SSE_STORE(X86_D_SSE16), UNSUP, UNSUP, UNSUP}, /* MOVUPS */
    /* MOVAPS; 66: MOVAPD; F3/F2 0F 28/29 are undefined. */
    [X86_SSE_0F28] = {SSE_LOAD(X86_D_SSE16 | X86_D_ALIGN16), UNSUP, INVALID, INVALID},
    [X86_SSE_0F29] = {SSE_STORE(X86_D_SSE16 | X86_D_ALIGN16), UNSUP, INVALID, INVALID},
    /* none: MMX MOVD; 66: MOVD/MOVQ xmm, r/m; F3/F2: undefined. */
    [X86_SSE_0F6E] = {UNSUP, SSE_LOAD(X86_D_SSEW), INVALID, INVALID},
    [X86_SSE_0F6F] =
        {
            UNSUP,
            SSE_LOAD(X86_D_SSE16 | X86_D_ALIGN16), /* 66: MOVDQA */
            SSE_LOAD(X86_D_SSE16),                 /* F3: MOVDQU */
            INVALID,
        },
    [X86_SSE_0F7E] =
        {
            UNSUP,
            SSE_STORE(X86_D_SSEW), /* 66: MOVD/MOVQ r/m, xmm */
            SSE_LOAD(X86_D_SSE8),  /* F3: MOVQ xmm, xmm/m64 */
            INVALID,
        },
    [X86_SSE_0F7F] =
        {
            UNSUP,
            SSE_STORE(X86_D_SSE16 | X86_D_ALIGN16), /* 66: MOVDQA */
            SSE_STORE(X86_D_SSE16),                 /* F3: MOVDQU */
            INVALID,
        },
    /* 66: MOVQ xmm/m64, xmm; F3/F2: MOVQ2DQ/MOVDQ2Q (register operands only). */
    [X86_SSE_0FD6] =
        {
            INVALID,
            SSE_STORE(X86_D_SSE8),
            {.kind = X86_OPK_UNSUPPORTED, .flags = X86_D_REGONLY},
            {.kind = X86_OPK_UNSUPPORTED, .flags = X86_D_REGONLY},
        },
};
