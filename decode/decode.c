/* The x86 instruction decoder (see decode.h). Driven by the tables in decode/opcodes.c.
 *
 * Bytes are consumed through NEED(): a byte at index >= 15 makes the instruction too long
 * (#GP(0), SDM Vol. 2A 2.3.11: INVALID), a byte at index >= len is TRUNCATED, so nothing
 * past the buffer is ever read. */
#include "decode/decode.h"

/* Prefix classes (SDM Vol. 2A, 2.1.1 "Instruction Prefixes"). */
enum {
    PFX_NONE = 0,
    PFX_SEG_ES,
    PFX_SEG_CS,
    PFX_SEG_SS,
    PFX_SEG_DS,
    PFX_SEG_FS,
    PFX_SEG_GS,
    PFX_OPSIZE,
    PFX_ADSIZE,
    PFX_LOCK,
    PFX_REP, /* F2 or F3 */
    PFX_REX, /* 40-4F, only in 64-bit mode */
};

static const uint8_t prefix_class[256] = {
    [0x26] = PFX_SEG_ES, [0x2E] = PFX_SEG_CS, [0x36] = PFX_SEG_SS, [0x3E] = PFX_SEG_DS,
    [0x64] = PFX_SEG_FS, [0x65] = PFX_SEG_GS, [0x66] = PFX_OPSIZE, [0x67] = PFX_ADSIZE,
    [0xF0] = PFX_LOCK,   [0xF2] = PFX_REP,    [0xF3] = PFX_REP,    [0x40] = PFX_REX,
    [0x41] = PFX_REX,    [0x42] = PFX_REX,    [0x43] = PFX_REX,    [0x44] = PFX_REX,
    [0x45] = PFX_REX,    [0x46] = PFX_REX,    [0x47] = PFX_REX,    [0x48] = PFX_REX,
    [0x49] = PFX_REX,    [0x4A] = PFX_REX,    [0x4B] = PFX_REX,    [0x4C] = PFX_REX,
    [0x4D] = PFX_REX,    [0x4E] = PFX_REX,    [0x4F] = PFX_REX,
};

#define REX_W 0x8
#define REX_R 0x4
#define REX_X 0x2
#define REX_B 0x1

/* 16-bit addressing (SDM Vol. 2A, Table 2-1): base and index per ModRM.rm. */
static const uint8_t modrm16_base[8] = {3, 3, 5, 5, 6, 7, 5, 3};
static const uint8_t modrm16_index[8] = {
    6, 7, 6, 7, X86_REG_NONE, X86_REG_NONE, X86_REG_NONE, X86_REG_NONE};

/* Bytes [0, n) must be available: one compare on the fast path (limit = min(len, 15)). */
#define NEED(n)                                                                                    \
    do {                                                                                           \
        if ((n) > limit)                                                                           \
            return (n) > X86_MAX_INSN_LEN ? X86_DECODE_INVALID : X86_DECODE_TRUNCATED;             \
    } while (0)

/* Little-endian read of 1, 2, 4 or 8 bytes at p (bounds already checked). */
static inline uint64_t read_le(const uint8_t *p, unsigned n)
{
    switch (n) {
    case 1:
        return p[0];
    case 2:
        return (uint64_t)p[0] | (uint64_t)p[1] << 8;
    case 4:
        return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24;
    default:
        return read_le(p, 4) | read_le(p + 4, 4) << 32;
    }
}

static inline int64_t sign_extend(uint64_t v, unsigned bytes)
{
    unsigned shift = 64 - 8 * bytes;
    return (int64_t)(v << shift) >> shift;
}

enum x86_decode_status x86_decode_general(const uint8_t *buf, size_t len, enum x86_mode mode,
                                          struct x86_insn *insn)
{
    size_t pos = 0;
    uint8_t rex = 0, rep = 0, seg = X86_SEG_COUNT, mand = 0;
    bool opsize = false, adsize = false, lock = false;
    const bool m64 = mode == X86_MODE_64;
    const size_t limit = len < X86_MAX_INSN_LEN ? len : X86_MAX_INSN_LEN;

    *insn = (struct x86_insn){0};
    insn->mode = (uint8_t)mode;

    /* Legacy prefixes in any order, the last of a group winning; a REX counts only when it
     * is the last byte before the opcode (SDM Vol. 2A, 2.2.1: otherwise it is ignored). */
    for (;;) {
        NEED(pos + 1);
        uint8_t b = buf[pos];
        uint8_t cls = prefix_class[b];
        if (cls == PFX_NONE || (cls == PFX_REX && !m64))
            break;
        pos++;
        if (cls == PFX_REX) {
            rex = b;
            continue;
        }
        rex = 0;
        switch (cls) {
        case PFX_OPSIZE:
            opsize = true;
            break;
        case PFX_ADSIZE:
            adsize = true;
            break;
        case PFX_LOCK:
            lock = true;
            break;
        case PFX_REP:
            rep = b;
            mand = b;
            break;
        default: /* segment override */
            /* In 64-bit mode CS/DS/ES/SS overrides are ignored (SDM Vol. 1, 3.3.7.1), so
             * they neither select a segment nor cancel an earlier FS/GS. */
            if (!m64 || cls == PFX_SEG_FS || cls == PFX_SEG_GS)
                seg = (uint8_t)(cls - PFX_SEG_ES);
            break;
        }
    }
    insn->prefix_count = (uint8_t)pos;
    insn->rex = rex;
    insn->lock = lock;

    /* Opcode. */
    uint8_t opc = buf[pos++];
    const struct x86_opcode *e = &x86_opcode_map1[opc];
    if (e->kind == X86_OPK_ESCAPE) {
        NEED(pos + 1);
        opc = buf[pos++];
        e = &x86_opcode_map2[opc];
    }
    uint32_t flags = e->flags;
    if (e->kind == X86_OPK_UNSUPPORTED) {
        /* Every lockable instruction but CMPXCHG8B/16B (0F C7 /1) and the group-1 alias 82
         * is in our table, so LOCK on anything else is #UD (SDM Vol. 2A, LOCK). */
        if (lock && !(opc == 0xC7 && e != &x86_opcode_map1[opc]) && opc != 0x82)
            return X86_DECODE_INVALID;
        return X86_DECODE_UNSUPPORTED;
    }
    if (e->kind == X86_OPK_INVALID)
        return X86_DECODE_INVALID;
    if ((flags & X86_D_ONLY64) && !m64)
        return lock ? X86_DECODE_INVALID : X86_DECODE_UNSUPPORTED; /* ARPL: not lockable */

    uint8_t modrm = 0;
    if (flags & X86_D_MODRM) {
        NEED(pos + 1);
        modrm = buf[pos++];
    }
    const unsigned mod = modrm >> 6, reg = (modrm >> 3) & 7, rm = modrm & 7;

    if (e->kind == X86_OPK_GROUP) {
        e = &x86_opcode_groups[e->arg][reg];
        flags |= e->flags;
    } else if (e->kind == X86_OPK_SSE) {
        /* The mandatory prefix: the last F2/F3 if any, else 66 (SDM Vol. 2A, 2.1.2). */
        unsigned col = mand == 0xF3 ? 2 : mand == 0xF2 ? 3 : opsize ? 1 : 0;
        e = &x86_opcode_sse[e->arg][col];
        flags |= e->flags;
        opsize = false; /* consumed as the mandatory prefix; REX.W still selects MOVQ */
    }
    if (e->kind == X86_OPK_INVALID)
        return X86_DECODE_INVALID;
    /* The unsupported members of our groups (MUL, CALL, XBEGIN, ...) and the SSE moves are
     * not lockable: LOCK makes them #UD. */
    if (e->kind == X86_OPK_UNSUPPORTED) {
        if (lock || ((e->flags & X86_D_REGONLY) && mod != 3))
            return X86_DECODE_INVALID;
        return X86_DECODE_UNSUPPORTED;
    }

    /* Encodings that are #UD once the whole instruction is known: the CPU (and Zydis) takes
     * a truncated fetch first, so the verdict waits until every byte is there. */
    bool undefined = false;
    /* NP forms (MOVNTI): a 66/F2/F3 prefix makes them #UD. */
    if (e->op == X86_OP_MOVNTI && (opsize || mand))
        undefined = true;

    const bool is_mem =
        (flags & (X86_D_MODRM | X86_D_MOFFS | X86_D_STRING)) != X86_D_MODRM || mod != 3;
    if (!is_mem && (flags & X86_D_MEMONLY))
        undefined = true;

    /* LOCK: only on a lockable form whose destination is memory (SDM Vol. 2A, LOCK). */
    if (lock && (!(flags & X86_D_LOCK) || !is_mem || (flags & X86_D_STRING)))
        undefined = true;

    insn->op = e->op;
    insn->alu = e->alu;

    /* Operand and address size (SDM Vol. 1, 3.6; Vol. 2A, 2.2.1.2 for REX.W over 66). */
    unsigned osz, asz;
    if (flags & X86_D_BYTE)
        osz = 1;
    else if (m64)
        osz = (rex & REX_W) ? 8 : opsize ? 2 : 4;
    else
        osz = ((mode == X86_MODE_16) != opsize) ? 2 : 4;
    if (m64)
        asz = adsize ? 4 : 8;
    else
        asz = ((mode == X86_MODE_16) != adsize) ? 2 : 4;
    insn->address_size = (uint8_t)asz;

    unsigned acc = osz;
    if (flags & X86_D_SRC8)
        acc = 1;
    else if (flags & X86_D_SRC16)
        acc = 2;
    else if (flags & X86_D_SRC32) /* MOVSXD reads 32 bits at every operand size (as Zydis) */
        acc = 4;
    else if (flags & X86_D_SSE16)
        acc = osz = 16;
    else if (flags & X86_D_SSE8)
        acc = osz = 8;
    else if ((flags & X86_D_SSEW) || e->op == X86_OP_MOVNTI) /* 32 or 64 bits only */
        acc = osz = (rex & REX_W) ? 8 : 4;
    insn->operand_size = (uint8_t)osz;
    insn->sse_zero_upper = e->op == X86_OP_SSE_LOAD && acc < 16;
    insn->align = (flags & X86_D_ALIGN16) ? 16 : 0;

    /* Register operand (ModRM.reg + REX.R). Byte registers 4..7 are AH..BH without any REX
     * and SPL..DIL with one (SDM Vol. 2A, 2.2.1.2, Table 3-1). */
    const bool byte_rm = (flags & X86_D_BYTE) || (flags & X86_D_SRC8);
    insn->reg = (uint8_t)(reg | ((rex & REX_R) ? 8 : 0));
    if ((flags & X86_D_BYTE) && !rex && reg >= 4) {
        insn->reg = (uint8_t)(reg - 4);
        insn->reg_high8 = true;
    }
    if (flags & X86_D_ACC)
        insn->reg = 0;
    insn->src = (flags & X86_D_SRCIMM)   ? X86_SRC_IMM
                : (flags & X86_D_SRCREG) ? X86_SRC_REG
                : (flags & X86_D_ACC)    ? X86_SRC_REG
                                         : X86_SRC_NONE;
    insn->mem_is_dst = !(flags & X86_D_REGDST);

    /* Memory operand. */
    struct x86_mem *m = &insn->mem;
    m->base = m->index = X86_REG_NONE;
    m->scale = 1;
    uint8_t defseg = X86_SEG_DS;
    if (flags & X86_D_STRING) {
        m->base = 6; /* rSI for the source; the destination is always ES:rDI */
        insn->rep = rep;
    } else if (flags & X86_D_MOFFS) {
        NEED(pos + asz);
        m->absolute = true;
        m->disp = (int64_t)read_le(buf + pos, asz);
        pos += asz;
    } else if (mod == 3) {
        insn->rm_reg = (uint8_t)(rm | ((rex & REX_B) ? 8 : 0));
        if (byte_rm && !rex && rm >= 4) {
            insn->rm_reg = (uint8_t)(rm - 4);
            insn->rm_high8 = true;
        }
    } else if (asz == 2) {
        /* 16-bit addressing, SDM Vol. 2A Table 2-1. BP-based forms default to SS. */
        unsigned dsz = mod == 1 ? 1 : mod == 2 ? 2 : 0;
        if (mod == 0 && rm == 6) {
            dsz = 2;
        } else {
            m->base = modrm16_base[rm];
            m->index = modrm16_index[rm];
            if (m->base == 5)
                defseg = X86_SEG_SS;
        }
        NEED(pos + dsz);
        if (dsz)
            m->disp = sign_extend(read_le(buf + pos, dsz), dsz);
        pos += dsz;
    } else {
        /* 32/64-bit addressing, SDM Vol. 2A Tables 2-2 and 2-3. */
        unsigned dsz = mod == 1 ? 1 : mod == 2 ? 4 : 0;
        unsigned base = rm;
        if (rm == 4) {
            NEED(pos + 1);
            uint8_t sib = buf[pos++];
            unsigned idx = ((sib >> 3) & 7) | ((rex & REX_X) ? 8 : 0);
            base = sib & 7;
            if (idx != 4)
                m->index = (uint8_t)idx;
            m->scale = (uint8_t)(1u << (sib >> 6));
            if (base == 5 && mod == 0) {
                dsz = 4;
                base = X86_REG_NONE;
            }
        } else if (rm == 5 && mod == 0) {
            dsz = 4;
            base = X86_REG_NONE;
            m->rip_rel = m64; /* 2.2.1.6: RIP-relative in 64-bit mode, also with 67 */
        }
        if (base != X86_REG_NONE) {
            /* ESP/EBP bases default to SS; with REX.B (R12/R13) they do not. */
            if (base == 4 || base == 5)
                defseg = (rex & REX_B) ? X86_SEG_DS : X86_SEG_SS;
            base |= (rex & REX_B) ? 8 : 0;
        }
        m->base = (uint8_t)base;
        NEED(pos + dsz);
        if (dsz)
            m->disp = sign_extend(read_le(buf + pos, dsz), dsz);
        pos += dsz;
    }
    m->seg = seg != X86_SEG_COUNT ? seg : defseg;

    /* Immediate. */
    unsigned isz = 0;
    if (flags & X86_D_IMM8)
        isz = 1;
    else if (flags & X86_D_IMMSZ)
        isz = osz == 8 ? 4 : osz;
    if (isz) {
        NEED(pos + isz);
        insn->imm = (uint64_t)sign_extend(read_le(buf + pos, isz), isz);
        pos += isz;
    }

    if (undefined)
        return X86_DECODE_INVALID;
    if (is_mem) {
        insn->access = e->access;
        insn->access_size = (uint8_t)acc;
    } else {
        insn->access = X86_ACCESS_NONE;
        insn->access_size = 0;
    }
    insn->len = (uint8_t)pos;
    return X86_DECODE_OK;
}

/* --- The fast path: plain MOV loads and stores --------------------------------------------
 *
 * Nearly every device access is a MOV (Linux readl/writel: 8B/89 with or without 66/REX, 8A/88
 * for bytes, C7/C6 /0 with an immediate, MOVZX/MOVSX 0F B6/B7/BE/BF, rarely A0-A3 moffs). The
 * fast path decodes exactly those forms, with a memory operand, from a buffer of at least 15
 * bytes, with at most one each of 66, 67 and a segment override (in any order) followed by at
 * most one REX (64-bit mode), and 32/64-bit addressing (moffs at any address size). It fills
 * every field exactly as x86_decode_general() does (tests/decode/test_decode_fast.c compares
 * the two over every opcode, ModRM, SIB, prefix sequence and buffer length) and declines
 * everything else -- LOCK, REP/REPNE, repeated prefixes, a prefix after REX, register forms,
 * 16-bit addressing, short buffers -- which the general decoder then decides.
 *
 * It needs no bounds checks: with at most three legacy prefixes and one REX, the longest form
 * it takes (C7 /0 with SIB, disp32 and imm32) is 4 + 11 = 15 bytes, the architectural limit
 * (SDM Vol. 2A, 2.3.11), and every read below stays inside the first 15 bytes.
 *
 * It is table-driven and writes struct x86_insn as six 64-bit words (38 host instructions
 * for `8b 43 10` instead of 270, docs/decoder.md): the words are assembled from precomputed
 * per-form, per-ModRM and per-SIB values. The layout this assumes is checked here. */
#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the decoder's fast path assumes a little-endian target (x86)"
#endif
_Static_assert(sizeof(struct x86_insn) == 48, "x86_insn is six 64-bit words");
_Static_assert(offsetof(struct x86_insn, len) == 0 && offsetof(struct x86_insn, mode) == 1 &&
                   offsetof(struct x86_insn, op) == 2 && offsetof(struct x86_insn, alu) == 3 &&
                   offsetof(struct x86_insn, access) == 4 &&
                   offsetof(struct x86_insn, access_size) == 5 &&
                   offsetof(struct x86_insn, operand_size) == 6 &&
                   offsetof(struct x86_insn, address_size) == 7,
               "word 0: len .. address_size");
_Static_assert(offsetof(struct x86_insn, src) == 8 && offsetof(struct x86_insn, mem_is_dst) == 9 &&
                   offsetof(struct x86_insn, reg) == 10 &&
                   offsetof(struct x86_insn, reg_high8) == 11 &&
                   offsetof(struct x86_insn, rm_reg) == 12 &&
                   offsetof(struct x86_insn, rm_high8) == 13 &&
                   offsetof(struct x86_insn, imm) == 16,
               "word 1: src .. rm_high8; word 2: imm");
_Static_assert(offsetof(struct x86_insn, mem) == 24 && offsetof(struct x86_mem, seg) == 0 &&
                   offsetof(struct x86_mem, base) == 1 && offsetof(struct x86_mem, index) == 2 &&
                   offsetof(struct x86_mem, scale) == 3 && offsetof(struct x86_mem, rip_rel) == 4 &&
                   offsetof(struct x86_mem, absolute) == 5 && offsetof(struct x86_mem, disp) == 8,
               "word 3: mem.seg .. mem.absolute; word 4: mem.disp");
_Static_assert(offsetof(struct x86_insn, rep) == 40 && offsetof(struct x86_insn, lock) == 41 &&
                   offsetof(struct x86_insn, sse_zero_upper) == 42 &&
                   offsetof(struct x86_insn, align) == 43 &&
                   offsetof(struct x86_insn, prefix_count) == 44 &&
                   offsetof(struct x86_insn, rex) == 45,
               "word 5: rep .. rex");
_Static_assert(sizeof(bool) == 1, "bool fields are one byte holding 0 or 1");

/* The forms the fast path takes. */
enum fast_form {
    FF_NONE,
    FF_STORE8,       /* 88 /r: MOV r/m8, r8 */
    FF_STORE,        /* 89 /r: MOV r/m, r */
    FF_LOAD8,        /* 8A /r: MOV r8, r/m8 */
    FF_LOAD,         /* 8B /r: MOV r, r/m */
    FF_IMM8,         /* C6 /0: MOV r/m8, imm8 */
    FF_IMM,          /* C7 /0: MOV r/m, imm */
    FF_MOFFS_LOAD8,  /* A0: MOV AL, moffs */
    FF_MOFFS_LOAD,   /* A1: MOV rAX, moffs */
    FF_MOFFS_STORE8, /* A2: MOV moffs, AL */
    FF_MOFFS_STORE,  /* A3: MOV moffs, rAX */
    FF_MOVZX8,       /* 0F B6 */
    FF_MOVZX16,      /* 0F B7 */
    FF_MOVSX8,       /* 0F BE */
    FF_MOVSX16,      /* 0F BF */
    FF_ESCAPE,       /* 0F: one of the four above, or not a fast form */
    FF_COUNT
};

static const uint8_t fast_form_of[256] = {
    [0x88] = FF_STORE8,      [0x89] = FF_STORE,      [0x8A] = FF_LOAD8,
    [0x8B] = FF_LOAD,        [0xC6] = FF_IMM8,       [0xC7] = FF_IMM,
    [0xA0] = FF_MOFFS_LOAD8, [0xA1] = FF_MOFFS_LOAD, [0xA2] = FF_MOFFS_STORE8,
    [0xA3] = FF_MOFFS_STORE, [0x0F] = FF_ESCAPE,
};

#define FF_IS_BYTE(f)                                                                              \
    ((f) == FF_STORE8 || (f) == FF_LOAD8 || (f) == FF_IMM8 || (f) == FF_MOFFS_LOAD8 ||             \
     (f) == FF_MOFFS_STORE8)
#define FF_IS_LOAD(f)                                                                              \
    ((f) == FF_LOAD8 || (f) == FF_LOAD || (f) == FF_MOFFS_LOAD8 || (f) == FF_MOFFS_LOAD ||         \
     ((f) >= FF_MOVZX8 && (f) <= FF_MOVSX16))
#define FF_IS_IMM(f)   ((f) == FF_IMM8 || (f) == FF_IMM)
#define FF_IS_MOFFS(f) ((f) >= FF_MOFFS_LOAD8 && (f) <= FF_MOFFS_STORE)
#define FF_OP(f)                                                                                   \
    ((f) == FF_MOVZX8 || (f) == FF_MOVZX16   ? X86_OP_MOVZX                                        \
     : (f) == FF_MOVSX8 || (f) == FF_MOVSX16 ? X86_OP_MOVSX                                        \
                                             : X86_OP_MOV)

/* Size state: bit 0 = 66, bit 1 = REX.W, bit 2 = 67. Operand and address size as the general
 * decoder computes them (SDM Vol. 1, 3.6; Vol. 2A, 2.2.1.2: REX.W wins over 66). */
#define SS_OPSIZE 1u
#define SS_REXW   2u
#define SS_ADSIZE 4u
#define FAST_OSZ(m, f, ss)                                                                         \
    (FF_IS_BYTE(f)                                ? 1                                              \
     : (m) == X86_MODE_64                         ? (((ss)&SS_REXW)     ? 8                        \
                                                     : ((ss)&SS_OPSIZE) ? 2                        \
                                                                        : 4)                       \
     : ((m) == X86_MODE_16) != !!((ss)&SS_OPSIZE) ? 2                                              \
                                                  : 4)
#define FAST_ASZ(m, ss)                                                                            \
    ((m) == X86_MODE_64                           ? (((ss)&SS_ADSIZE) ? 4 : 8)                     \
     : ((m) == X86_MODE_16) != !!((ss)&SS_ADSIZE) ? 2                                              \
                                                  : 4)
#define FAST_ACC(m, f, ss)                                                                         \
    ((f) == FF_MOVZX8 || (f) == FF_MOVSX8     ? 1                                                  \
     : (f) == FF_MOVZX16 || (f) == FF_MOVSX16 ? 2                                                  \
                                              : FAST_OSZ(m, f, ss))
/* Word 0 without the length: mode, op, alu (0), access, access_size, operand_size,
 * address_size. */
#define FAST_W0(m, f, ss)                                                                          \
    ((uint64_t)(m) << 8 | (uint64_t)FF_OP(f) << 16 |                                               \
     (uint64_t)(FF_IS_LOAD(f) ? X86_ACCESS_READ : X86_ACCESS_WRITE) << 32 |                        \
     (uint64_t)FAST_ACC(m, f, ss) << 40 | (uint64_t)FAST_OSZ(m, f, ss) << 48 |                     \
     (uint64_t)FAST_ASZ(m, ss) << 56)
#define FAST_W0_SS(m, f)                                                                           \
    {                                                                                              \
        FAST_W0(m, f, 0), FAST_W0(m, f, 1), FAST_W0(m, f, 2), FAST_W0(m, f, 3), FAST_W0(m, f, 4),  \
            FAST_W0(m, f, 5), FAST_W0(m, f, 6), FAST_W0(m, f, 7)                                   \
    }
#define FAST_W0_MODE(m)                                                                            \
    {                                                                                              \
        FAST_W0_SS(m, 0), FAST_W0_SS(m, 1), FAST_W0_SS(m, 2), FAST_W0_SS(m, 3), FAST_W0_SS(m, 4),  \
            FAST_W0_SS(m, 5), FAST_W0_SS(m, 6), FAST_W0_SS(m, 7), FAST_W0_SS(m, 8),                \
            FAST_W0_SS(m, 9), FAST_W0_SS(m, 10), FAST_W0_SS(m, 11), FAST_W0_SS(m, 12),             \
            FAST_W0_SS(m, 13), FAST_W0_SS(m, 14), FAST_W0_SS(m, 15)                                \
    }
_Static_assert(FF_COUNT == 16, "FAST_W0_MODE lists every form");
static const uint64_t fast_w0[3][FF_COUNT][8] = {
    [X86_MODE_16] = FAST_W0_MODE(X86_MODE_16),
    [X86_MODE_32] = FAST_W0_MODE(X86_MODE_32),
    [X86_MODE_64] = FAST_W0_MODE(X86_MODE_64),
};

/* Word 1 without REX: src, mem_is_dst, reg, reg_high8 by form and ModRM.reg. Byte registers
 * 4..7 are AH..BH without any REX (SDM Vol. 2A, 2.2.1.2, Table 3-1). */
#define FAST_W1(f, r)                                                                              \
    ((uint64_t)(FF_IS_IMM(f) ? X86_SRC_IMM : X86_SRC_REG) | (uint64_t)!FF_IS_LOAD(f) << 8 |        \
     (FF_IS_BYTE(f) && (r) >= 4 ? (uint64_t)((r)-4) << 16 | (uint64_t)1 << 24                      \
                                : (uint64_t)(r) << 16))
#define FAST_W1_REG(f)                                                                             \
    {                                                                                              \
        FAST_W1(f, 0), FAST_W1(f, 1), FAST_W1(f, 2), FAST_W1(f, 3), FAST_W1(f, 4), FAST_W1(f, 5),  \
            FAST_W1(f, 6), FAST_W1(f, 7)                                                           \
    }
static const uint64_t fast_w1[FF_COUNT][8] = {
    FAST_W1_REG(0),  FAST_W1_REG(1),  FAST_W1_REG(2),  FAST_W1_REG(3),
    FAST_W1_REG(4),  FAST_W1_REG(5),  FAST_W1_REG(6),  FAST_W1_REG(7),
    FAST_W1_REG(8),  FAST_W1_REG(9),  FAST_W1_REG(10), FAST_W1_REG(11),
    FAST_W1_REG(12), FAST_W1_REG(13), FAST_W1_REG(14), FAST_W1_REG(15),
};

/* Word 3 (the memory operand without its displacement). */
#define FAST_MEMW(seg, base, index, scale, rip)                                                    \
    ((uint64_t)(seg) | (uint64_t)(base) << 8 | (uint64_t)(index) << 16 | (uint64_t)(scale) << 24 | \
     (uint64_t)(rip) << 32)

/* 32/64-bit ModRM without REX (SDM Vol. 2A, Table 2-2): the memory word, and in `kind` what
 * follows the ModRM byte as bits (a SIB for rm = 100, a displacement of 1 or 4 bytes; none:
 * [base] alone), so the dispatch on it is a few bit tests. */
enum { MK_SIB = 1, MK_DISP8 = 2, MK_DISP32 = 4, MK_REG = 8 };
#define MR_MOD(x) ((x) >> 6)
#define MR_RM(x)  ((x)&7)
#define MR_MEM(x)                                                                                  \
    (MR_MOD(x) == 0 && MR_RM(x) == 5                                                               \
         ? FAST_MEMW(X86_SEG_DS, X86_REG_NONE, X86_REG_NONE, 1, 1)                                 \
         : FAST_MEMW(MR_RM(x) == 5 ? X86_SEG_SS : X86_SEG_DS, MR_RM(x), X86_REG_NONE, 1, 0)),
#define MR_KIND(x)                                                                                 \
    (MR_MOD(x) == 3 ? MK_REG                                                                       \
                    : (MR_RM(x) == 4 ? MK_SIB : 0) | (MR_MOD(x) == 1   ? MK_DISP8                  \
                                                      : MR_MOD(x) == 2 ? MK_DISP32                 \
                                                      : MR_RM(x) == 5  ? MK_DISP32                 \
                                                                       : 0)),
#define X4(E, x)   E(x) E((x) + 1) E((x) + 2) E((x) + 3)
#define X16(E, x)  X4(E, x) X4(E, (x) + 4) X4(E, (x) + 8) X4(E, (x) + 12)
#define X64(E, x)  X16(E, x) X16(E, (x) + 16) X16(E, (x) + 32) X16(E, (x) + 48)
#define X256(E, x) X64(E, x) X64(E, (x) + 64) X64(E, (x) + 128) X64(E, (x) + 192)
static const uint64_t fast_modrm_mem[256] = {X256(MR_MEM, 0)};
static const uint8_t fast_modrm_kind[256] = {X256(MR_KIND, 0)};

/* SIB without REX (SDM Vol. 2A, Table 2-3), for ModRM.mod = 0 ([0]) and 1 or 2 ([1]): the
 * memory word; bit 63 says "no base, disp32" (base 101 with mod 0). ESP/EBP bases default to
 * SS. */
#define SIB_BASE(s)      ((s)&7)
#define SIB_INDEX(s)     (((s) >> 3) & 7)
#define SIB_NOBASE(s, z) ((z) && SIB_BASE(s) == 5)
#define SIB_ENTRY(s, z)                                                                            \
    (FAST_MEMW(!SIB_NOBASE(s, z) && (SIB_BASE(s) == 4 || SIB_BASE(s) == 5) ? X86_SEG_SS            \
                                                                           : X86_SEG_DS,           \
               SIB_NOBASE(s, z) ? X86_REG_NONE : SIB_BASE(s),                                      \
               SIB_INDEX(s) == 4 ? X86_REG_NONE : SIB_INDEX(s), 1u << ((s) >> 6), 0) |             \
     (uint64_t)SIB_NOBASE(s, z) << 63),
#define SIB_MOD0(s)  SIB_ENTRY(s, 1)
#define SIB_MOD12(s) SIB_ENTRY(s, 0)
static const uint64_t fast_sib[2][256] = {{X256(SIB_MOD0, 0)}, {X256(SIB_MOD12, 0)}};

/* fast_prefix[b]: a legacy prefix the fast path takes (FP_*; segment overrides carry the
 * segment + 1 in bits 4..6), 0 for any other byte. */
enum { FP_OPSIZE = 1, FP_ADSIZE = 2, FP_SEG = 4 };
#define FP_SEGMENT(s) (FP_SEG | ((s) + 1) << 4)
static const uint8_t fast_prefix[256] = {
    [0x26] = FP_SEGMENT(X86_SEG_ES),
    [0x2E] = FP_SEGMENT(X86_SEG_CS),
    [0x36] = FP_SEGMENT(X86_SEG_SS),
    [0x3E] = FP_SEGMENT(X86_SEG_DS),
    [0x64] = FP_SEGMENT(X86_SEG_FS),
    [0x65] = FP_SEGMENT(X86_SEG_GS),
    [0x66] = FP_OPSIZE,
    [0x67] = FP_ADSIZE,
};

static inline void fast_store(struct x86_insn *insn, unsigned word, uint64_t v)
{
    __builtin_memcpy((uint8_t *)insn + 8 * word, &v, 8);
}

/* When the fast path declines, the general decoder decides: a tail call, so the fast path
 * needs no saved registers. Its length is 15, which is all it reads of a longer buffer (its
 * limit is min(len, 15)). Test builds (X86_DECODE_FAST_PROBE) count the declines, so a test can
 * see that a form took the fast path. */
#ifdef X86_DECODE_FAST_PROBE
unsigned long x86_decode_fast_declined;
#define FAST_DECLINED() (x86_decode_fast_declined++)
#else
#define FAST_DECLINED() ((void)0)
#endif
#define DECLINE() (FAST_DECLINED(), x86_decode_general(buf, X86_MAX_INSN_LEN, mode, insn))

/* The end of a ModRM form: buf[pos] is the displacement of `dsz` bytes (a constant at every
 * call, as are the mode, `form`, `has_sib` and, without prefixes, everything else), `mem` the
 * memory word from the ModRM/SIB tables, `reg` the ModRM.reg field. */
static inline __attribute__((always_inline)) enum x86_decode_status
fast_modrm_finish(const uint8_t *buf, const enum x86_mode mode, struct x86_insn *insn,
                  const unsigned prefixes, const unsigned form, const uint64_t w0,
                  const unsigned seg, const unsigned rex, unsigned pos, uint64_t mem,
                  const unsigned dsz, const bool has_sib, const unsigned reg, const unsigned sib)
{
    const int64_t disp = dsz == 0   ? 0
                         : dsz == 1 ? (int64_t)(int8_t)buf[pos]
                                    : (int64_t)(int32_t)(uint32_t)read_le(buf + pos, 4);
    pos += dsz;
    if (mode != X86_MODE_64)
        mem &= ~((uint64_t)1 << 32); /* RIP-relative exists only in 64-bit mode */
    uint64_t w1;
    if (rex == 0) {
        w1 = fast_w1[form][reg];
    } else {
        /* REX.R extends the register, REX.B the base (and R12/R13 default to DS), REX.X the
         * index (index 4 then names R12) (SDM Vol. 2A, 2.2.1.2). No AH..BH with a REX. */
        w1 = fast_w1[form][0] | (uint64_t)(reg | (rex & REX_R) << 1) << 16;
        if (__builtin_expect(rex & (REX_B | REX_X), 0)) {
            if ((rex & REX_B) && ((mem >> 8) & 0xFF) != X86_REG_NONE)
                mem = ((mem | 0x800) & ~(uint64_t)0xFF) | X86_SEG_DS;
            if ((rex & REX_X) && has_sib)
                mem = (mem & ~(uint64_t)0xFF0000) | (uint64_t)(((sib >> 3) & 7) | 8) << 16;
        }
    }
    uint64_t imm = 0;
    if (FF_IS_IMM(form)) {
        /* imm8 for C6; imm16/imm32 for C7, imm32 sign-extended at 64 bits. */
        const unsigned osz = (unsigned)(w0 >> 48) & 0xFF, isz = osz == 8 ? 4 : osz;
        imm = isz == 1   ? (uint64_t)(int64_t)(int8_t)buf[pos]
              : isz == 2 ? (uint64_t)(int64_t)(int16_t)(uint16_t)read_le(buf + pos, 2)
                         : (uint64_t)(int64_t)(int32_t)(uint32_t)read_le(buf + pos, 4);
        pos += isz;
    }
    if (seg)
        mem = (mem & ~(uint64_t)0xFF) | (seg - 1);
    fast_store(insn, 0, w0 | pos);
    fast_store(insn, 1, w1);
    fast_store(insn, 2, imm);
    fast_store(insn, 3, mem);
    fast_store(insn, 4, (uint64_t)disp);
    fast_store(insn, 5, (uint64_t)prefixes << 32 | (uint64_t)rex << 40);
    return X86_DECODE_OK;
}

/* The fast path from the opcode on: buf[prefixes] is the (first) opcode byte of `form`, `ss` the
 * size state, `seg` the segment override + 1 (0: none), `rex` the REX byte (0: none). The mode is a
 * constant at every call, so each mode gets its own code. buf holds at least 15 bytes. */
static inline __attribute__((always_inline)) enum x86_decode_status
fast_from_form(const uint8_t *buf, const enum x86_mode mode, struct x86_insn *insn,
               const unsigned prefixes, const unsigned form, const unsigned ss, const unsigned seg,
               const unsigned rex)
{
    /* The opcode is one byte, or two (0F xx) for MOVZX/MOVSX. */
    unsigned pos = prefixes + (form >= FF_MOVZX8 && form <= FF_MOVSX16 ? 2 : 1);
    const uint64_t w0 = fast_w0[mode][form][ss];
    const unsigned asz = (unsigned)(w0 >> 56);

    if (FF_IS_MOFFS(form)) {
        /* The accumulator and an address-size offset, zero-extended (SDM Vol. 2A, MOV). */
        const int64_t disp = (int64_t)read_le(buf + pos, asz);
        pos += asz;
        uint64_t mem = FAST_MEMW(X86_SEG_DS, X86_REG_NONE, X86_REG_NONE, 1, 0) | (uint64_t)1 << 40;
        if (seg)
            mem = (mem & ~(uint64_t)0xFF) | (seg - 1);
        fast_store(insn, 0, w0 | pos);
        fast_store(insn, 1, fast_w1[form][0]);
        fast_store(insn, 2, 0);
        fast_store(insn, 3, mem);
        fast_store(insn, 4, (uint64_t)disp);
        fast_store(insn, 5, (uint64_t)prefixes << 32 | (uint64_t)rex << 40);
        return X86_DECODE_OK;
    }

    const unsigned modrm = buf[pos++], reg = (modrm >> 3) & 7;
    if ((mode != X86_MODE_64 && asz == 2) || (FF_IS_IMM(form) && reg != 0))
        return DECLINE();
    const uint64_t mem = fast_modrm_mem[modrm];
#define FINISH(dsz_, has_sib_, mem_, sib_)                                                         \
    fast_modrm_finish(buf, mode, insn, prefixes, form, w0, seg, rex, pos, mem_, dsz_, has_sib_,    \
                      reg, sib_)
    /* Without SIB first: [reg+disp8], [reg+disp32] / [rip+disp32], [reg]; then SIB forms. */
    const unsigned kind = fast_modrm_kind[modrm];
    if (!(kind & MK_SIB)) {
        if (kind & MK_DISP8)
            return FINISH(1, false, mem, 0);
        if (kind & MK_DISP32)
            return FINISH(4, false, mem, 0);
        if (kind == 0)
            return FINISH(0, false, mem, 0);
        return DECLINE(); /* register form */
    }
    const unsigned sib = buf[pos++];
    if (kind & MK_DISP8)
        return FINISH(1, true, fast_sib[1][sib], sib);
    if (kind & MK_DISP32)
        return FINISH(4, true, fast_sib[1][sib], sib);
    const uint64_t se = fast_sib[0][sib];
    if (se >> 63)
        return FINISH(4, true, se & 0xFFFFFFFFu, sib); /* no base: disp32 */
    return FINISH(0, true, se, sib);
#undef FINISH
}

/* fast_from_form() for the form of the opcode byte at buf[prefixes]; for 0F, the second byte
 * picks MOVZX/MOVSX (each its own copy, the form a constant) or declines. */
static inline __attribute__((always_inline)) enum x86_decode_status
fast_from_opcode(const uint8_t *buf, const enum x86_mode mode, struct x86_insn *insn,
                 const unsigned prefixes, const unsigned form, const unsigned ss,
                 const unsigned seg, const unsigned rex)
{
    if (form != FF_ESCAPE)
        return fast_from_form(buf, mode, insn, prefixes, form, ss, seg, rex);
    switch (buf[prefixes + 1]) {
    case 0xB6:
        return fast_from_form(buf, mode, insn, prefixes, FF_MOVZX8, ss, seg, rex);
    case 0xB7:
        return fast_from_form(buf, mode, insn, prefixes, FF_MOVZX16, ss, seg, rex);
    case 0xBE:
        return fast_from_form(buf, mode, insn, prefixes, FF_MOVSX8, ss, seg, rex);
    case 0xBF:
        return fast_from_form(buf, mode, insn, prefixes, FF_MOVSX16, ss, seg, rex);
    }
    return DECLINE();
}

/* The prefixes of an instruction for the fast path: each class at most once (a repeat, LOCK or
 * REP goes to the general decoder), then at most one REX right before the opcode. Returns the
 * opcode's form (FF_NONE: decline) and sets *prefixes (the opcode's index), *ss, *seg, *rex. */
static inline __attribute__((always_inline)) unsigned
fast_prefixes(const uint8_t *buf, const enum x86_mode mode, unsigned *prefixes, unsigned *ss,
              unsigned *seg_out, unsigned *rex_out)
{
    const bool m64 = mode == X86_MODE_64;
    unsigned pos = 0, seen = 0, seg = 0, rex = 0, fp;
    unsigned b = buf[0];
    while ((fp = fast_prefix[b]) != 0) {
        if (seen & fp & 7)
            return FF_NONE;
        seen |= fp;
        if (fp & FP_SEG)
            seg = fp >> 4;
        b = buf[++pos];
    }
    if (m64 && (b & 0xF0) == 0x40) {
        rex = b;
        b = buf[++pos];
    }
    /* 64-bit mode ignores CS/DS/ES/SS overrides (SDM Vol. 1, 3.3.7.1). */
    if (m64 && seg && seg - 1 < X86_SEG_FS)
        seg = 0;
    *prefixes = pos;
    *ss = (seen & FP_OPSIZE ? SS_OPSIZE : 0) | (seen & FP_ADSIZE ? SS_ADSIZE : 0) |
          (rex & REX_W ? SS_REXW : 0);
    *seg_out = seg;
    *rex_out = rex;
    return fast_form_of[b];
}

/* Every form through the same code (the form a variable), for one mode. */
static inline __attribute__((always_inline)) enum x86_decode_status
fast_any_form(const uint8_t *buf, const enum x86_mode mode, struct x86_insn *insn)
{
    unsigned form = fast_form_of[buf[0]];
    if (form != FF_NONE)
        return fast_from_opcode(buf, mode, insn, 0, form, 0, 0, 0);
    unsigned prefixes, ss, seg, rex;
    form = fast_prefixes(buf, mode, &prefixes, &ss, &seg, &rex);
    if (form == FF_NONE)
        return DECLINE();
    return fast_from_opcode(buf, mode, insn, prefixes, form, ss, seg, rex);
}

/* Out of line, each small enough to need few or no saved registers: in 64-bit mode (the one
 * that matters) one function per form after no prefix, after one REX, and after other
 * prefixes; everything else per mode. */
#define FAST_FN(name, ...)                                                                         \
    static __attribute__((noinline)) enum x86_decode_status name(const uint8_t *buf,               \
                                                                 struct x86_insn *insn)            \
    {                                                                                              \
        __VA_ARGS__;                                                                               \
    }
#define FAST64_FNS(form)                                                                           \
    FAST_FN(fast64_##form, return fast_from_opcode(buf, X86_MODE_64, insn, 0, form, 0, 0, 0))      \
    static __attribute__((noinline)) enum x86_decode_status fast64_rex_##form(                     \
        const uint8_t *buf, struct x86_insn *insn, unsigned rex)                                   \
    {                                                                                              \
        if (rex == 0)                                                                              \
            __builtin_unreachable(); /* the REX byte, 0x40..0x4F */                                \
        return fast_from_opcode(buf, X86_MODE_64, insn, 1, form, (rex & REX_W) ? SS_REXW : 0, 0,   \
                                rex);                                                              \
    }                                                                                              \
    static __attribute__((noinline)) enum x86_decode_status fast64_pfx_##form(                     \
        const uint8_t *buf, struct x86_insn *insn, unsigned prefixes, unsigned ss, unsigned seg,   \
        unsigned rex)                                                                              \
    {                                                                                              \
        return fast_from_opcode(buf, X86_MODE_64, insn, prefixes, form, ss, seg, rex);             \
    }
FAST64_FNS(FF_LOAD)
FAST64_FNS(FF_STORE)
FAST64_FNS(FF_LOAD8)
FAST64_FNS(FF_STORE8)
FAST64_FNS(FF_IMM)
FAST64_FNS(FF_IMM8)
FAST64_FNS(FF_ESCAPE)

/* 64-bit mode after a lone 66 (readw/writew): MOV loads, stores and immediate stores. */
#define FAST64_OPSIZE_FN(form)                                                                     \
    static __attribute__((noinline)) enum x86_decode_status fast64_opsize_##form(                  \
        const uint8_t *buf, struct x86_insn *insn)                                                 \
    {                                                                                              \
        return fast_from_opcode(buf, X86_MODE_64, insn, 1, form, SS_OPSIZE, 0, 0);                 \
    }
FAST64_OPSIZE_FN(FF_LOAD)
FAST64_OPSIZE_FN(FF_STORE)
FAST64_OPSIZE_FN(FF_IMM)
#undef FAST64_OPSIZE_FN

static __attribute__((noinline)) enum x86_decode_status fast64_prefixed(const uint8_t *buf,
                                                                        struct x86_insn *insn)
{
    const enum x86_mode mode = X86_MODE_64; /* for DECLINE() */
    unsigned prefixes, ss, seg, rex;
    const unsigned form = fast_prefixes(buf, mode, &prefixes, &ss, &seg, &rex);
    switch (form) {
#define FAST_CASE(f)                                                                               \
    case f:                                                                                        \
        return fast64_pfx_##f(buf, insn, prefixes, ss, seg, rex);
        FAST_CASE(FF_LOAD)
        FAST_CASE(FF_STORE)
        FAST_CASE(FF_LOAD8)
        FAST_CASE(FF_STORE8)
        FAST_CASE(FF_IMM)
        FAST_CASE(FF_IMM8)
        FAST_CASE(FF_ESCAPE)
#undef FAST_CASE
    case FF_NONE:
        return DECLINE();
    }
    return fast_from_opcode(buf, mode, insn, prefixes, form, ss, seg, rex); /* moffs */
}
FAST_FN(fast32, return fast_any_form(buf, X86_MODE_32, insn))
FAST_FN(fast16, return fast_any_form(buf, X86_MODE_16, insn))
#undef FAST_FN
#undef FAST64_FNS

/* 64-bit mode after a REX: the opcode byte picks the function (fast64_rex_by_op). */
typedef enum x86_decode_status fast64_rex_fn(const uint8_t *buf, struct x86_insn *insn,
                                             unsigned rex);
static __attribute__((noinline)) enum x86_decode_status
fast64_rex_other(const uint8_t *buf, struct x86_insn *insn, unsigned rex)
{
    (void)rex;
    return fast64_prefixed(buf, insn);
}
#define FAST64_REX_BY_OP(b)                                                                        \
    (b) == 0x8B   ? fast64_rex_FF_LOAD                                                             \
    : (b) == 0x89 ? fast64_rex_FF_STORE                                                            \
    : (b) == 0x88 ? fast64_rex_FF_STORE8                                                           \
    : (b) == 0x8A ? fast64_rex_FF_LOAD8                                                            \
    : (b) == 0xC6 ? fast64_rex_FF_IMM8                                                             \
    : (b) == 0xC7 ? fast64_rex_FF_IMM                                                              \
    : (b) == 0x0F ? fast64_rex_FF_ESCAPE                                                           \
                  : fast64_rex_other,
static fast64_rex_fn *const fast64_rex_by_op[256] = {X256(FAST64_REX_BY_OP, 0)};
#undef FAST64_REX_BY_OP

static __attribute__((noinline)) enum x86_decode_status fast64_rex(const uint8_t *buf,
                                                                   struct x86_insn *insn)
{
    /* buf[0] is the REX, 0x40..0x4F: never 0 (which means "no REX" further on). */
    return fast64_rex_by_op[buf[1]](buf, insn, buf[0]);
}

/* 64-bit mode after a 66: MOV loads, stores and immediate stores have their own functions. */
static __attribute__((noinline)) enum x86_decode_status fast64_opsize(const uint8_t *buf,
                                                                      struct x86_insn *insn)
{
    const unsigned op = buf[1];
    if (op == 0x8B)
        return fast64_opsize_FF_LOAD(buf, insn);
    if (op == 0x89)
        return fast64_opsize_FF_STORE(buf, insn);
    if (op == 0xC7)
        return fast64_opsize_FF_IMM(buf, insn);
    return fast64_prefixed(buf, insn);
}

/* 64-bit mode: the first byte picks the function -- the form's own after no prefix, the REX
 * and 66 dispatchers, the shared prefix parser for the other prefixes and for moffs, and for
 * anything else the general decoder at once. One load and one indirect jump. */
typedef enum x86_decode_status fast64_fn(const uint8_t *buf, struct x86_insn *insn);
static __attribute__((noinline)) enum x86_decode_status fast64_none(const uint8_t *buf,
                                                                    struct x86_insn *insn)
{
    const enum x86_mode mode = X86_MODE_64; /* for DECLINE() */
    return DECLINE();
}
#define FAST64_BY_BYTE(b)                                                                          \
    (b) == 0x8B          ? fast64_FF_LOAD                                                          \
    : (b) == 0x89        ? fast64_FF_STORE                                                         \
    : (b) == 0x88        ? fast64_FF_STORE8                                                        \
    : (b) == 0x8A        ? fast64_FF_LOAD8                                                         \
    : (b) == 0xC6        ? fast64_FF_IMM8                                                          \
    : (b) == 0xC7        ? fast64_FF_IMM                                                           \
    : (b) == 0x0F        ? fast64_FF_ESCAPE                                                        \
    : ((b)&0xF0) == 0x40 ? fast64_rex                                                              \
    : (b) == 0x66        ? fast64_opsize                                                           \
    : ((b) >= 0xA0 && (b) <= 0xA3) || (b) == 0x26 || (b) == 0x2E || (b) == 0x36 || (b) == 0x3E ||  \
            (b) == 0x64 || (b) == 0x65 || (b) == 0x67                                              \
        ? fast64_prefixed                                                                          \
        : fast64_none,
static fast64_fn *const fast64_by_byte[256] = {X256(FAST64_BY_BYTE, 0)};
#undef FAST64_BY_BYTE

/* The fast path when it applies (a whole 15-byte window, a known mode), else the general
 * decoder; every fast path ends in the general decoder when it declines. */
enum x86_decode_status x86_decode(const uint8_t *buf, size_t len, enum x86_mode mode,
                                  struct x86_insn *insn)
{
    if (__builtin_expect(len >= X86_MAX_INSN_LEN, 1)) {
        if (__builtin_expect(mode == X86_MODE_64, 1))
            return fast64_by_byte[buf[0]](buf, insn);
        if (mode == X86_MODE_32)
            return fast32(buf, insn);
        if (mode == X86_MODE_16)
            return fast16(buf, insn);
    }
    return x86_decode_general(buf, len, mode, insn);
}
#undef DECLINE

const char *x86_decode_status_name(enum x86_decode_status status)
{
    switch (status) {
    case X86_DECODE_OK:
        return "ok";
    case X86_DECODE_UNSUPPORTED:
        return "unsupported";
    case X86_DECODE_INVALID:
        return "invalid";
    case X86_DECODE_TRUNCATED:
        return "truncated";
    }
    return "?";
}

const char *x86_access_name(enum x86_access access)
{
    static const char *const names[] = {"none", "read", "write", "rmw", "both"};
    return (unsigned)access < 5 ? names[access] : "?";
}
