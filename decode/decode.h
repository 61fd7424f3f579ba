/* The x86 instruction decoder for MMIO exits.
 *
 * Decodes one instruction from a byte buffer in 16-, 32- or 64-bit mode into what an
 * emulator needs: its length, the operation, the memory access it makes (kind and width),
 * the register / immediate operand and the memory operand's addressing form. Only the
 * instruction families a device access can use are decoded (see docs/decoder.md);
 * anything else is X86_DECODE_UNSUPPORTED, bytes the CPU would reject (#UD, or #GP for
 * more than 15 bytes) are X86_DECODE_INVALID, and a buffer that ends inside the
 * instruction is X86_DECODE_TRUNCATED. The decoder never reads past the length it is given.
 *
 * Prefix and encoding rules: SDM Vol. 2A, chapter 2 ("Instruction Format"), 2.2.1 (REX),
 * Tables 2-1/2-2 (16-bit ModRM), 2-2/2-3 (32/64-bit ModRM, SIB), 2.2.1.6 (RIP-relative).
 *
 * Pure C: no allocation, no libc; runs in VMX root and in host tests. */
#ifndef TRAPVISOR_DECODE_DECODE_H
#define TRAPVISOR_DECODE_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "decode/alu.h"

/* Longest legal instruction (SDM Vol. 2A, 2.3.11): a 16th byte is #GP(0). */
#define X86_MAX_INSN_LEN 15

/* Decoding mode: the default operand/address size of the code segment (16 for real,
 * virtual-8086 and 16-bit protected/compatibility mode; 32; 64 for IA-32e 64-bit mode). */
enum x86_mode {
    X86_MODE_16,
    X86_MODE_32,
    X86_MODE_64,
};

enum x86_decode_status {
    X86_DECODE_OK,
    X86_DECODE_UNSUPPORTED, /* a valid (or possibly valid) instruction outside our set */
    X86_DECODE_INVALID,     /* the CPU would raise #UD (or #GP(0): longer than 15 bytes) */
    X86_DECODE_TRUNCATED,   /* the buffer ends before the instruction does */
};

/* What the instruction does to its memory operand(s). */
enum x86_access {
    X86_ACCESS_NONE,  /* register-only form: no memory operand */
    X86_ACCESS_READ,  /* reads it (MOV load, CMP, TEST, BT, LODS, SCAS) */
    X86_ACCESS_WRITE, /* writes it without reading (MOV store, STOS) */
    X86_ACCESS_RMW,   /* reads and writes the same location (ADD m,r; XCHG; CMPXCHG) */
    X86_ACCESS_BOTH,  /* two memory operands (MOVS, CMPS) */
};

/* The operation, as the emulator applies it. */
enum x86_op {
    X86_OP_MOV,      /* MOV: 88-8B, C6/C7 /0, A0-A3 */
    X86_OP_MOVZX,    /* 0F B6/B7 */
    X86_OP_MOVSX,    /* 0F BE/BF; MOVSXD 63 (64-bit mode only) */
    X86_OP_ALU,      /* `alu` says which: ADD..CMP, TEST, NOT, NEG, INC, DEC */
    X86_OP_BT,       /* `alu` is ALU_BT/BTS/BTR/BTC */
    X86_OP_XCHG,     /* 86/87 */
    X86_OP_CMPXCHG,  /* 0F B0/B1 */
    X86_OP_XADD,     /* 0F C0/C1 */
    X86_OP_MOVS,     /* A4/A5 */
    X86_OP_CMPS,     /* A6/A7 */
    X86_OP_STOS,     /* AA/AB */
    X86_OP_LODS,     /* AC/AD */
    X86_OP_SCAS,     /* AE/AF */
    X86_OP_MOVNTI,   /* 0F C3: a plain store of a general register */
    X86_OP_SSE_LOAD, /* memory -> xmm (MOVD/MOVQ/MOVDQA/MOVDQU/MOVAPS/MOVUPS) */
    X86_OP_SSE_STORE /* xmm -> memory */
};

/* Where the non-memory operand comes from. */
enum x86_src {
    X86_SRC_NONE, /* unary (NOT, NEG, INC, DEC) or string form */
    X86_SRC_REG,  /* the ModRM.reg register (`reg`), or the accumulator for moffs */
    X86_SRC_IMM,  /* `imm` */
};

/* Segment registers in the encoding order of Sreg (SDM Vol. 2A, 3.1.1.1). */
enum x86_seg {
    X86_SEG_ES,
    X86_SEG_CS,
    X86_SEG_SS,
    X86_SEG_DS,
    X86_SEG_FS,
    X86_SEG_GS,
    X86_SEG_COUNT
};

#define X86_REG_NONE 0xFF

/* The memory operand: segment:[base + index*scale + disp] at `addr_size`, or for string
 * forms the implicit [seg:rSI] (source) and ES:[rDI] (destination). */
struct x86_mem {
    uint8_t seg;   /* enum x86_seg, after overrides and defaults */
    uint8_t base;  /* register number 0..15, or X86_REG_NONE */
    uint8_t index; /* register number 0..15, or X86_REG_NONE */
    uint8_t scale; /* 1, 2, 4 or 8 */
    bool rip_rel;  /* base is the next instruction's RIP (64-bit mode, mod=00 rm=101) */
    bool absolute; /* moffs (A0-A3): disp is the whole offset */
    int64_t disp;  /* sign-extended displacement (zero-extended offset for moffs) */
};

struct x86_insn {
    uint8_t len;          /* instruction length in bytes, 1..15 */
    uint8_t mode;         /* enum x86_mode it was decoded in */
    uint8_t op;           /* enum x86_op */
    uint8_t alu;          /* enum alu_op for X86_OP_ALU / X86_OP_BT */
    uint8_t access;       /* enum x86_access */
    uint8_t access_size;  /* bytes of each memory access (element size for strings), 0 if none */
    uint8_t operand_size; /* bytes: 1, 2, 4, 8 (16 for full-width SSE moves) */
    uint8_t address_size; /* bytes: 2, 4 or 8 */
    uint8_t src;          /* enum x86_src */
    bool mem_is_dst;      /* the memory operand is the destination (else a register is) */
    uint8_t reg;          /* ModRM.reg register (GPR 0..15, or XMM 0..15 for SSE) */
    bool reg_high8;       /* `reg` names AH/CH/DH/BH: byte register 4..7 without REX; the
                             register number is then reg (0..3) and bits 15:8 are meant */
    uint8_t rm_reg;       /* register-only forms (access NONE): the ModRM.rm register */
    bool rm_high8;        /* ... and whether it is AH..BH */
    uint64_t imm;         /* immediate, sign-extended to 64 bits as the CPU extends it */
    struct x86_mem mem;
    uint8_t rep;          /* 0, 0xF3 (REP/REPE) or 0xF2 (REPNE) for string forms */
    bool lock;            /* F0 present (valid: lockable form with a memory destination) */
    bool sse_zero_upper;  /* SSE load of 4 or 8 bytes that zeroes the rest of the xmm */
    uint8_t align;        /* required alignment of the memory operand (16: MOVAPS/MOVDQA, whose
                             misaligned access is #GP(0)), or 0 */
    uint8_t prefix_count; /* legacy + REX prefix bytes */
    uint8_t rex;          /* the REX byte in effect (0 when none) */
};

/* Decodes the instruction at buf[0..len) in `mode` into *insn. On a status other than OK,
 * *insn holds whatever was decoded so far and must not be used. Plain MOV loads and stores
 * (the usual device access) take a fast path when len >= 15; everything else, and anything
 * unusual about them, goes to x86_decode_general(). The result is the same either way. */
enum x86_decode_status x86_decode(const uint8_t *buf, size_t len, enum x86_mode mode,
                                  struct x86_insn *insn);

/* The general, table-driven decoder alone (what x86_decode() does when the fast path declines).
 * Tests compare the fast path with it. */
enum x86_decode_status x86_decode_general(const uint8_t *buf, size_t len, enum x86_mode mode,
                                          struct x86_insn *insn);

#ifdef X86_DECODE_FAST_PROBE
/* Test builds only (tests/decode/decode_probe.c compiles decode.c with X86_DECODE_FAST_PROBE):
 * how many times x86_decode()'s fast path declined (handed the instruction to the general
 * decoder), so a test sees which forms take the fast path. */
extern unsigned long x86_decode_fast_declined;
#endif

const char *x86_decode_status_name(enum x86_decode_status status);
const char *x86_access_name(enum x86_access access);

/* --- The opcode table (decode/opcodes.c), read by decode/decode.c ------------------------ */

/* What an opcode-table entry is. */
enum x86_opk {
    X86_OPK_UNSUPPORTED, /* valid or not, outside our set (the default of every slot) */
    X86_OPK_INVALID,     /* #UD for every encoding that reaches this slot */
    X86_OPK_INSN,        /* decodable: op/alu/flags/access say how */
    X86_OPK_GROUP,       /* ModRM.reg selects x86_opcode_groups[arg][reg] */
    X86_OPK_SSE,         /* the mandatory prefix selects x86_opcode_sse[arg][none/66/F3/F2] */
    X86_OPK_ESCAPE,      /* 0F: the two-byte map */
};

/* Entry attributes. */
#define X86_D_MODRM   (1u << 0)  /* a ModRM byte follows the opcode */
#define X86_D_BYTE    (1u << 1)  /* 8-bit operand size */
#define X86_D_IMM8    (1u << 2)  /* imm8, sign-extended to the operand size */
#define X86_D_IMMSZ   (1u << 3)  /* immediate of the operand size (imm32 sign-extended at 64) */
#define X86_D_MOFFS   (1u << 4)  /* an address-size offset follows instead of ModRM */
#define X86_D_LOCK    (1u << 5)  /* LOCK allowed (with a memory destination) */
#define X86_D_MEMONLY (1u << 6)  /* ModRM.mod = 11 is #UD */
#define X86_D_STRING  (1u << 7)  /* string form: [rSI]/[rDI], REP prefixes */
#define X86_D_REGDST  (1u << 8)  /* the register (or xmm) is the destination */
#define X86_D_SRC8    (1u << 9)  /* the memory operand is 8 bits (MOVZX/MOVSX) */
#define X86_D_SRC16   (1u << 10) /* ... 16 bits */
#define X86_D_SRC32   (1u << 11) /* ... 32 bits at 64-bit operand size (MOVSXD) */
#define X86_D_ONLY64  (1u << 12) /* exists only in 64-bit mode (else another instruction) */
#define X86_D_ALIGN16 (1u << 13) /* 16-byte aligned memory operand or #GP(0) */
#define X86_D_SSE16   (1u << 14) /* 128-bit SSE access */
#define X86_D_SSEW    (1u << 15) /* 4 bytes, 8 with REX.W (MOVD/MOVQ) */
#define X86_D_SSE8    (1u << 16) /* 8 bytes (MOVQ) */
#define X86_D_SRCIMM  (1u << 17) /* the source is the immediate */
#define X86_D_SRCREG  (1u << 18) /* the source (or destination, with REGDST) is ModRM.reg */
#define X86_D_ACC     (1u << 19) /* the register operand is the accumulator (moffs) */
#define X86_D_REGONLY (1u << 20) /* unsupported slot whose memory form is #UD */

struct x86_opcode {
    uint8_t kind;   /* enum x86_opk */
    uint8_t op;     /* enum x86_op */
    uint8_t alu;    /* enum alu_op */
    uint8_t access; /* enum x86_access for the memory form */
    uint8_t arg;    /* group or SSE table index */
    uint32_t flags; /* X86_D_* */
};

enum { X86_GRP_1, X86_GRP_3, X86_GRP_4, X86_GRP_5, X86_GRP_8, X86_GRP_11, X86_GRP_COUNT };
enum {
    X86_SSE_0F10,
    X86_SSE_0F11,
    X86_SSE_0F28,
    X86_SSE_0F29,
    X86_SSE_0F6E,
    X86_SSE_0F6F,
    X86_SSE_0F7E,
    X86_SSE_0F7F,
    X86_SSE_0FD6,
    X86_SSE_COUNT
};

extern const struct x86_opcode x86_opcode_map1[256]; /* one-byte opcodes */
extern const struct x86_opcode x86_opcode_map2[256]; /* 0F xx */
extern const struct x86_opcode x86_opcode_groups[X86_GRP_COUNT][8];
extern const struct x86_opcode x86_opcode_sse[X86_SSE_COUNT][4];

#endif
