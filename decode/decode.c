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

enum x86_decode_status x86_decode(const uint8_t *buf, size_t len, enum x86_mode mode,
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
