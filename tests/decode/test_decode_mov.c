/* decode/mov: x86_mov_access_of and its replay helpers against x86_emulate.
 *
 * decode/mov.h claims that an access reduced once per instruction gives exactly what
 * x86_emulate gives for the same instruction: the address (SDM Vol. 1, 3.7.5; Vol. 3A, 3.4.4:
 * in 64-bit mode only FS and GS add a base), the size and kind of the one memory access, the
 * stored value, every register after a load (SDM Vol. 1, 3.4.1.1 partial-register rules) and
 * RIP after the instruction. The differential tests below build MOV-family encodings (SDM
 * Vol. 2A, chapter 2: prefixes, REX, ModRM, SIB, displacement, immediate), decode them with
 * x86_decode, and compare both on random registers, RIP, segment bases and memory values.
 * Every MOV-family opcode must be seen at every access size it has, as a load or a store, and
 * a minimum number of cases must be compared, so the tests cannot pass by comparing nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "decode/emulate.h"
#include "decode/mov.h"
#include "tests/support/rng.h"

#define BUF_LEN 15

/* ---- The MOV-family opcodes (SDM Vol. 2B, MOV, MOVZX, MOVSX/MOVSXD) --------------------- */

enum { IMM_NONE, IMM_BYTE, IMM_OPSIZE };

struct mov_opcode {
    const char *name;
    uint8_t bytes[2];
    uint8_t nbytes;
    bool moffs;        /* A0-A3: an address-size offset instead of ModRM */
    bool byte_reg;     /* the register operand is a byte register (AH..BH without REX) */
    bool reg_operand;  /* the form has a register operand (C6/C7 have an immediate) */
    uint8_t imm;       /* IMM_* */
    bool store;        /* memory is the destination */
    uint8_t load_mask; /* access sizes (bit = size) it must be seen at as a load */
    uint8_t store_mask;
};

#define SZ(n) (uint8_t)(1u << (n))

static const struct mov_opcode OPCODES[] = {
    {"88", {0x88}, 1, false, true, true, IMM_NONE, true, 0, SZ(1)},
    {"89", {0x89}, 1, false, false, true, IMM_NONE, true, 0, SZ(2) | SZ(4) | SZ(8)},
    {"8A", {0x8A}, 1, false, true, true, IMM_NONE, false, SZ(1), 0},
    {"8B", {0x8B}, 1, false, false, true, IMM_NONE, false, SZ(2) | SZ(4) | SZ(8), 0},
    {"C6/0", {0xC6}, 1, false, false, false, IMM_BYTE, true, 0, SZ(1)},
    {"C7/0", {0xC7}, 1, false, false, false, IMM_OPSIZE, true, 0, SZ(2) | SZ(4) | SZ(8)},
    {"A0", {0xA0}, 1, true, false, false, IMM_NONE, false, SZ(1), 0},
    {"A1", {0xA1}, 1, true, false, false, IMM_NONE, false, SZ(2) | SZ(4) | SZ(8), 0},
    {"A2", {0xA2}, 1, true, false, false, IMM_NONE, true, 0, SZ(1)},
    {"A3", {0xA3}, 1, true, false, false, IMM_NONE, true, 0, SZ(2) | SZ(4) | SZ(8)},
    {"0F B6", {0x0F, 0xB6}, 2, false, false, true, IMM_NONE, false, SZ(1), 0},
    {"0F B7", {0x0F, 0xB7}, 2, false, false, true, IMM_NONE, false, SZ(2), 0},
    {"0F BE", {0x0F, 0xBE}, 2, false, false, true, IMM_NONE, false, SZ(1), 0},
    {"0F BF", {0x0F, 0xBF}, 2, false, false, true, IMM_NONE, false, SZ(2), 0},
    /* MOVSXD reads 32 bits at every operand size in this decoder (decode.c, as Zydis). */
    {"63", {0x63}, 1, false, false, true, IMM_NONE, false, SZ(4), 0},
};
#define N_OPCODES (sizeof OPCODES / sizeof OPCODES[0])

static const uint8_t SEG_PREFIXES[] = {0x26, 0x2E, 0x36, 0x3E, 0x64, 0x65};

/* One prefix combination: operand size, address size, one segment override (0: none), REX
 * (0: none; else 0x40-0x4F, placed right before the opcode where it takes effect). */
struct prefixes {
    bool p66, p67;
    uint8_t seg;
    uint8_t rex;
};

#define N_PREFIX_COMBOS (2 * 2 * 7 * 17)

static struct prefixes prefix_combo(unsigned i)
{
    struct prefixes p;
    p.p66 = i & 1;
    p.p67 = (i >> 1) & 1;
    i >>= 2;
    p.seg = (i % 7) == 0 ? 0 : SEG_PREFIXES[i % 7 - 1];
    i /= 7;
    p.rex = (i % 17) == 0 ? 0 : (uint8_t)(0x40 + i % 17 - 1);
    return p;
}

/* ---- Random values that reach the wraps --------------------------------------------------- */

static uint64_t rng_state;

static uint64_t rnd(void)
{
    return xorshift64(&rng_state);
}

/* Register values, RIP and segment bases: often close to 2^32 or 2^64, where a 32-bit or 64-bit
 * address wraps, or to the sign boundaries. */
static uint64_t interesting64(void)
{
    const uint64_t k = rnd() % 64;
    switch (rnd() % 10) {
    case 0:
        return 0xFFFFFFFFull - k;
    case 1:
        return 0x100000000ull + k;
    case 2:
        return ~0ull - k;
    case 3:
        return k;
    case 4:
        return 0x7FFFFFFFull + k - 32;
    case 5:
        return 0x8000000000000000ull + k - 32;
    case 6:
        return rnd() & 0xFFFFFFFFull;
    default:
        return rnd();
    }
}

/* An n-byte field (displacement, immediate, moffs): zero, +-1, the sign boundaries or random. */
static uint64_t interesting_field(unsigned n)
{
    const uint64_t mask = n >= 8 ? ~0ull : (1ull << (8 * n)) - 1;
    const uint64_t sign = 1ull << (8 * n - 1);
    switch (rnd() % 8) {
    case 0:
        return 0;
    case 1:
        return 1;
    case 2:
        return mask; /* -1 */
    case 3:
        return sign - 1;
    case 4:
        return sign; /* most negative */
    case 5:
        return interesting64() & mask;
    default:
        return rnd() & mask;
    }
}

static unsigned put_le(uint8_t *buf, unsigned pos, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n && pos < BUF_LEN; i++)
        buf[pos++] = (uint8_t)(v >> (8 * i));
    return pos;
}

/* ---- Building one encoding ---------------------------------------------------------------- */

struct encoding {
    uint8_t buf[BUF_LEN];
    const struct mov_opcode *op;
    struct prefixes pfx;
    unsigned modrm, sib; /* sib only when ModRM.rm = 100 */
    unsigned len;        /* the instruction's length, counted while encoding */
};

/* Legacy prefixes in a random order, then REX, opcode, ModRM [SIB] [disp] [imm] or moffs,
 * then random padding to 15 bytes. */
static void encode(struct encoding *e, const struct mov_opcode *op, struct prefixes pfx,
                   unsigned modrm, unsigned sib)
{
    uint8_t legacy[3];
    unsigned nl = 0, pos = 0;
    e->op = op;
    e->pfx = pfx;
    e->modrm = modrm;
    e->sib = sib;
    if (pfx.p66)
        legacy[nl++] = 0x66;
    if (pfx.p67)
        legacy[nl++] = 0x67;
    if (pfx.seg)
        legacy[nl++] = pfx.seg;
    for (unsigned i = nl; i > 1; i--) { /* Fisher-Yates */
        unsigned j = (unsigned)(rnd() % i);
        uint8_t t = legacy[i - 1];
        legacy[i - 1] = legacy[j];
        legacy[j] = t;
    }
    for (unsigned i = 0; i < BUF_LEN; i++)
        e->buf[i] = (uint8_t)rnd();
    for (unsigned i = 0; i < nl; i++)
        e->buf[pos++] = legacy[i];
    if (pfx.rex)
        e->buf[pos++] = pfx.rex;
    for (unsigned i = 0; i < op->nbytes; i++)
        e->buf[pos++] = op->bytes[i];
    if (op->moffs) {
        e->len = put_le(e->buf, pos, interesting_field(pfx.p67 ? 4 : 8), pfx.p67 ? 4 : 8);
        return;
    }
    e->buf[pos++] = (uint8_t)modrm;
    const unsigned mod = modrm >> 6, rm = modrm & 7;
    unsigned disp = mod == 1 ? 1 : mod == 2 ? 4 : 0;
    if (rm == 4) {
        e->buf[pos++] = (uint8_t)sib;
        if (mod == 0 && (sib & 7) == 5)
            disp = 4;
    } else if (mod == 0 && rm == 5) {
        disp = 4;
    }
    if (disp)
        pos = put_le(e->buf, pos, interesting_field(disp), disp);
    unsigned imm = op->imm == IMM_BYTE                                  ? 1
                   : op->imm == IMM_OPSIZE && pfx.p66 && !(pfx.rex & 8) ? 2
                   : op->imm == IMM_OPSIZE                              ? 4
                                                                        : 0;
    e->len = imm ? put_le(e->buf, pos, interesting_field(imm), imm) : pos;
}

/* Whether the encoding names RSP (SPL, SP, ESP) as base, index or register operand, worked out
 * from the bytes (SDM Vol. 2A, 2.2.1.2 and Tables 2-3, 3-1), independently of the decoder. */
static bool encoding_uses_rsp(const struct encoding *e)
{
    const unsigned rex = e->pfx.rex;
    const unsigned reg = ((e->modrm >> 3) & 7) | ((rex & 4) ? 8 : 0);
    const unsigned rm = e->modrm & 7;
    if (e->op->moffs)
        return false; /* accumulator and an absolute offset */
    /* Byte register 4 is AH without any REX, SPL with one. */
    if (e->op->reg_operand && reg == 4 && !(e->op->byte_reg && !rex))
        return true;
    if (rm != 4)
        return false; /* base rm | REX.B: 4 only through a SIB */
    /* SIB index 100 without REX.X is "no index" (with it, R12): the index is never RSP. Base
     * 101 with mod 00 is "no base"; with REX.B, 100 is R12. */
    return (e->sib & 7) == 4 && !(rex & 1);
}

/* ---- The emulator's view: one recorded memory access -------------------------------------- */

struct recorder {
    unsigned reads, writes;
    uint64_t la;
    unsigned size;
    uint64_t written;   /* a write's bytes, zero-extended */
    uint64_t read_from; /* what a read returns (its low `size` bytes) */
    bool oversize;      /* an access wider than 8 bytes */
};

static enum x86_emu_status rec_read(void *ctx, uint64_t la, void *buf, unsigned size,
                                    struct x86_exception *exc)
{
    struct recorder *r = ctx;
    (void)exc;
    r->reads++;
    r->la = la;
    r->size = size;
    if (size > 8) {
        r->oversize = true;
        size = 8;
    }
    memcpy(buf, &r->read_from, size);
    return X86_EMU_OK;
}

static enum x86_emu_status rec_write(void *ctx, uint64_t la, const void *buf, unsigned size,
                                     struct x86_exception *exc)
{
    struct recorder *r = ctx;
    (void)exc;
    r->writes++;
    r->la = la;
    r->size = size;
    if (size > 8) {
        r->oversize = true;
        size = 8;
    }
    r->written = 0;
    memcpy(&r->written, buf, size);
    return X86_EMU_OK;
}

/* ---- The comparison ------------------------------------------------------------------------ */

struct tally {
    unsigned long decoded, accepted, compared, mismatches;
    uint8_t load_seen[N_OPCODES], store_seen[N_OPCODES];
    unsigned long high8_load, high8_store, rip_rel, rip_rel_67, no_index_sib, no_base_sib;
    unsigned long fs_gs, addr32, neg_disp8, neg_disp32, c7_imm_sign_extended, rsp_used;
};

static void print_bytes(const uint8_t *buf, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        printf("%02x ", buf[i]);
}

static void mismatch(struct tally *t, const uint8_t *buf, unsigned len, const char *what,
                     uint64_t got, uint64_t want)
{
    if (t->mismatches++ < 20) {
        printf("mismatch: ");
        print_bytes(buf, len);
        printf(": %s: got %#llx, want %#llx\n", what, (unsigned long long)got,
               (unsigned long long)want);
    }
}

#define CHECK_EQ(what, mov, emu)                                                                   \
    do {                                                                                           \
        uint64_t m_ = (mov), e_ = (emu);                                                           \
        if (m_ != e_) {                                                                            \
            mismatch(t, buf, insn->len, what, m_, e_);                                             \
            return;                                                                                \
        }                                                                                          \
    } while (0)

/* Runs one accepted instruction both ways on random state and compares everything ("got" is
 * decode/mov's answer, "want" x86_emulate's). */
static void compare_once(struct tally *t, const uint8_t *buf, const struct x86_insn *insn,
                         const struct x86_mov_access *a, uint64_t rip, unsigned op_index)
{
    struct x86_regs regs;
    uint64_t gpr[16];
    for (unsigned i = 0; i < 16; i++)
        regs.gpr[i] = gpr[i] = interesting64();
    regs.rip = rip;
    regs.rflags = 0x2 | (rnd() & 0x8D5);
    const uint64_t rflags = regs.rflags;

    struct recorder rec = {.read_from = rnd()};
    struct x86_emu_env env = {
        .mode = X86_MODE_64, .ctx = &rec, .read = rec_read, .write = rec_write};
    for (unsigned s = 0; s < X86_SEG_COUNT; s++)
        env.seg_base[s] = interesting64();
    struct x86_exception exc;
    const enum x86_emu_status st = x86_emulate(insn, &regs, &env, 1, &exc);
    t->compared++;

    CHECK_EQ("emulate status", X86_EMU_OK, st);
    CHECK_EQ("accesses", 1, rec.reads + rec.writes);
    CHECK_EQ("oversize access", 0, rec.oversize);
    CHECK_EQ("store", a->store, rec.writes);
    CHECK_EQ("size", a->size, rec.size);
    uint64_t la = x86_mov_offset(a, gpr);
    if (a->seg == X86_SEG_FS || a->seg == X86_SEG_GS)
        la += env.seg_base[a->seg];
    CHECK_EQ("address", la, rec.la);
    CHECK_EQ("rip", rip + a->len, regs.rip);
    CHECK_EQ("rflags", rflags, regs.rflags);
    if (a->store) {
        CHECK_EQ("stored value", x86_mov_store_value(a, gpr), rec.written);
        for (unsigned i = 0; i < 16; i++)
            CHECK_EQ("register after store", gpr[i], regs.gpr[i]);
        t->store_seen[op_index] |= SZ(a->size);
        t->high8_store += a->shift == 8;
    } else {
        const uint64_t value = rec.read_from & x86_size_mask(a->size);
        x86_mov_load(a, gpr, value);
        for (unsigned i = 0; i < 16; i++)
            CHECK_EQ(i == a->reg ? "destination register" : "other register", gpr[i], regs.gpr[i]);
        t->load_seen[op_index] |= SZ(a->size);
        t->high8_load += a->shift == 8;
    }
}

/* Decodes a buffer and, when it is an accepted MOV-family access, compares it `runs` times.
 * Returns whether it was accepted. */
static bool differential(struct tally *t, const uint8_t *buf, unsigned op_index, unsigned runs)
{
    struct x86_insn insn;
    struct x86_mov_access a;
    if (x86_decode(buf, BUF_LEN, X86_MODE_64, &insn) != X86_DECODE_OK)
        return false;
    t->decoded++;
    const uint64_t rip = interesting64();
    if (!x86_mov_access_of(&insn, rip, &a))
        return false;
    t->accepted++;
    const struct x86_mem *m = &insn.mem;
    t->rip_rel += m->rip_rel;
    t->rip_rel_67 += m->rip_rel && insn.address_size == 4;
    t->fs_gs += a.seg == X86_SEG_FS || a.seg == X86_SEG_GS;
    t->addr32 += insn.address_size == 4;
    if (!m->absolute && !m->rip_rel && m->index == X86_REG_NONE && m->base != X86_REG_NONE &&
        (m->base & 7) == 4)
        t->no_index_sib++;
    if (!m->absolute && !m->rip_rel && m->base == X86_REG_NONE)
        t->no_base_sib++;
    if (m->disp < 0 && m->disp >= -128)
        t->neg_disp8++;
    if (m->disp < -128 && !m->absolute)
        t->neg_disp32++;
    if (insn.op == X86_OP_MOV && insn.src == X86_SRC_IMM && a.size == 8 && (a.imm >> 63))
        t->c7_imm_sign_extended++;
    /* The replay may differ from one RIP to the next only in RIP-relative displacement. */
    for (unsigned i = 0; i < runs; i++) {
        const uint64_t r = i == 0 ? rip : interesting64();
        if (i > 0 && !x86_mov_access_of(&insn, r, &a)) {
            mismatch(t, buf, insn.len, "refused at another rip", 0, 1);
            return true;
        }
        compare_once(t, buf, &insn, &a, r, op_index);
    }
    return true;
}

/* What the bytes alone say, independently of the decoder: x86_mov_uses_rsp, the length, and
 * whether the access adds the FS or GS base (only a 64 or 65 override does in 64-bit mode). */
static void check_against_encoding(struct tally *t, const struct encoding *e)
{
    struct x86_insn insn;
    struct x86_mov_access a;
    if (x86_decode(e->buf, BUF_LEN, X86_MODE_64, &insn) != X86_DECODE_OK ||
        !x86_mov_access_of(&insn, 0, &a))
        return;
    const bool expect = encoding_uses_rsp(e);
    t->rsp_used += expect;
    if (x86_mov_uses_rsp(&a) != expect)
        mismatch(t, e->buf, insn.len, "uses_rsp", x86_mov_uses_rsp(&a), expect);
    if (a.len != e->len)
        mismatch(t, e->buf, BUF_LEN, "length", a.len, e->len);
    const unsigned want_seg = e->pfx.seg == 0x64 ? X86_SEG_FS : e->pfx.seg == 0x65 ? X86_SEG_GS : 0;
    const unsigned seg = a.seg == X86_SEG_FS || a.seg == X86_SEG_GS ? a.seg : 0;
    if (seg != want_seg)
        mismatch(t, e->buf, insn.len, "FS/GS segment", seg, want_seg);
}

static void assert_coverage(const struct tally *t, unsigned long min_compared)
{
    printf("compared %lu (decoded %lu, accepted %lu), mismatches %lu\n", t->compared, t->decoded,
           t->accepted, t->mismatches);
    assert_int_equal(t->mismatches, 0);
    assert_true(t->compared >= min_compared);
    for (unsigned i = 0; i < N_OPCODES; i++) {
        if (t->load_seen[i] != OPCODES[i].load_mask || t->store_seen[i] != OPCODES[i].store_mask)
            printf("opcode %s: loads seen %#x (want %#x), stores seen %#x (want %#x)\n",
                   OPCODES[i].name, t->load_seen[i], OPCODES[i].load_mask, t->store_seen[i],
                   OPCODES[i].store_mask);
        assert_int_equal(t->load_seen[i], OPCODES[i].load_mask);
        assert_int_equal(t->store_seen[i], OPCODES[i].store_mask);
    }
    assert_true(t->high8_load > 0);
    assert_true(t->high8_store > 0);
    assert_true(t->fs_gs > 0);
    assert_true(t->addr32 > 0);
    assert_true(t->neg_disp8 > 0);
    assert_true(t->neg_disp32 > 0);
    assert_true(t->c7_imm_sign_extended > 0);
}

/* ---- 1. The differential -------------------------------------------------------------------- */

/* Every ModRM memory form (mod 00/01/10, every reg and rm) and with rm = 100 every SIB byte
 * (every scale, index incl. 100 = none, base incl. 101 with mod 00 = disp32 only), for every
 * ModRM opcode, each with a random prefix combination, compared on two register sets. */
static void mov_matches_emulate_for_every_modrm_and_sib(void **state)
{
    (void)state;
    static struct tally t;
    memset(&t, 0, sizeof t);
    rng_state = 0x6D6F762D6D6F6472ull;
    for (unsigned o = 0; o < N_OPCODES; o++) {
        if (OPCODES[o].moffs)
            continue;
        for (unsigned modrm = 0; modrm < 0xC0; modrm++) {
            const unsigned nsib = (modrm & 7) == 4 ? 256 : 1;
            for (unsigned sib = 0; sib < nsib; sib++) {
                for (unsigned k = 0; k < 4; k++) {
                    struct encoding e;
                    encode(&e, &OPCODES[o], prefix_combo((unsigned)(rnd() % N_PREFIX_COMBOS)),
                           modrm, sib);
                    /* Every memory form is a MOV-family access, except C6/C7 with
                     * ModRM.reg other than 0 (#UD, SDM Vol. 2B, MOV). */
                    const bool want = OPCODES[o].imm == IMM_NONE || ((modrm >> 3) & 7) == 0;
                    if (differential(&t, e.buf, o, 2) != want)
                        mismatch(&t, e.buf, BUF_LEN, "accepted", !want, want);
                    check_against_encoding(&t, &e);
                }
            }
        }
    }
    /* moffs opcodes have no ModRM: every prefix combination, several offsets. */
    for (unsigned o = 0; o < N_OPCODES; o++) {
        if (!OPCODES[o].moffs)
            continue;
        for (unsigned p = 0; p < N_PREFIX_COMBOS; p++)
            for (unsigned k = 0; k < 8; k++) {
                struct encoding e;
                encode(&e, &OPCODES[o], prefix_combo(p), 0, 0);
                differential(&t, e.buf, o, 2);
                check_against_encoding(&t, &e);
            }
    }
    assert_true(t.rip_rel > 0 && t.rip_rel_67 > 0);
    assert_true(t.no_index_sib > 0 && t.no_base_sib > 0);
    assert_true(t.rsp_used > 0);
    assert_coverage(&t, 450000);
}

/* Every prefix combination (none/66 x none/67 x no or one of the six segment overrides x no
 * REX or REX 40-4F) for every opcode, with random memory forms. */
static void mov_matches_emulate_for_every_prefix_combination(void **state)
{
    (void)state;
    static struct tally t;
    memset(&t, 0, sizeof t);
    rng_state = 0x7072656669786573ull;
    for (unsigned o = 0; o < N_OPCODES; o++) {
        for (unsigned p = 0; p < N_PREFIX_COMBOS; p++) {
            for (unsigned k = 0; k < 24; k++) {
                unsigned modrm = (unsigned)(rnd() % 0xC0);
                if (OPCODES[o].imm != IMM_NONE)
                    modrm &= 0xC7; /* C6/C7 /0 */
                struct encoding e;
                encode(&e, &OPCODES[o], prefix_combo(p), modrm, (unsigned)(rnd() & 0xFF));
                if (!differential(&t, e.buf, o, 1)) {
                    printf("refused: ");
                    print_bytes(e.buf, BUF_LEN);
                    printf("\n");
                    fail_msg("a MOV-family memory form was not accepted");
                }
                check_against_encoding(&t, &e);
            }
        }
    }
    assert_true(t.rsp_used > 0);
    assert_coverage(&t, 150000);
}

/* Random prefix sequences: up to five prefixes from 66 67 F2 F3 F0, the segment overrides and
 * REX (repeated, in any order, REX not always last: then it is ignored), before a MOV-family
 * opcode and random bytes. Whatever decodes and is accepted must match. */
static void mov_matches_emulate_for_random_prefix_sequences(void **state)
{
    (void)state;
    static const uint8_t pool[] = {0x66, 0x67, 0xF2, 0xF3, 0xF0, 0x26, 0x2E, 0x36,
                                   0x3E, 0x64, 0x65, 0x40, 0x41, 0x44, 0x48, 0x4F};
    static struct tally t;
    memset(&t, 0, sizeof t);
    rng_state = 0x72616E646F6D7066ull;
    for (unsigned n = 0; n < 200000; n++) {
        const unsigned o = (unsigned)(rnd() % N_OPCODES);
        uint8_t buf[BUF_LEN];
        unsigned pos = 0;
        for (unsigned i = 0; i < BUF_LEN; i++)
            buf[i] = (uint8_t)rnd();
        for (unsigned np = (unsigned)(rnd() % 6); np > 0; np--)
            buf[pos++] = pool[rnd() % sizeof pool];
        for (unsigned i = 0; i < OPCODES[o].nbytes; i++)
            buf[pos++] = OPCODES[o].bytes[i];
        differential(&t, buf, o, 1);
    }
    printf("compared %lu (decoded %lu, accepted %lu), mismatches %lu\n", t.compared, t.decoded,
           t.accepted, t.mismatches);
    assert_int_equal(t.mismatches, 0);
    assert_true(t.compared >= 100000);
}

/* ---- 2. What must be refused ---------------------------------------------------------------- */

static size_t parse_hex(const char *hex, uint8_t *buf)
{
    size_t n = 0;
    unsigned v;
    int used;
    memset(buf, 0, BUF_LEN);
    while (n < BUF_LEN && sscanf(hex, " %2x%n", &v, &used) == 1) {
        buf[n++] = (uint8_t)v;
        hex += used;
    }
    return n;
}

/* The same MOV-family bytes decoded in 32- and 16-bit mode: accepted only in 64-bit mode. */
static void mov_access_refused_outside_64bit_mode(void **state)
{
    (void)state;
    rng_state = 0x3332313662697473ull;
    unsigned long decoded[2] = {0, 0};
    for (unsigned n = 0; n < 40000; n++) {
        const unsigned o = (unsigned)(rnd() % N_OPCODES);
        struct prefixes p = prefix_combo((unsigned)(rnd() % N_PREFIX_COMBOS));
        p.rex = 0; /* INC/DEC outside 64-bit mode */
        struct encoding e;
        unsigned modrm = (unsigned)(rnd() % 0xC0);
        if (OPCODES[o].imm != IMM_NONE)
            modrm &= 0xC7;
        encode(&e, &OPCODES[o], p, modrm, (unsigned)(rnd() & 0xFF));
        const enum x86_mode modes[2] = {X86_MODE_32, X86_MODE_16};
        for (unsigned m = 0; m < 2; m++) {
            struct x86_insn insn;
            struct x86_mov_access a;
            if (x86_decode(e.buf, BUF_LEN, modes[m], &insn) != X86_DECODE_OK)
                continue;
            decoded[m]++;
            if (x86_mov_access_of(&insn, 0x1000, &a)) {
                printf("accepted in %s-bit mode: ", m ? "16" : "32");
                print_bytes(e.buf, insn.len);
                printf("\n");
                fail();
            }
        }
    }
    printf("refused: %lu decoded in 32-bit mode, %lu in 16-bit mode\n", decoded[0], decoded[1]);
    assert_true(decoded[0] >= 30000 && decoded[1] >= 30000);
}

/* Instructions that decode but are not a single plain MOV-family read or write. */
static void mov_access_refused_for_other_forms(void **state)
{
    (void)state;
    static const char *const refused[] = {
        /* read-modify-write */
        "01 03",
        "83 03 01",
        "80 33 01",
        "87 03",
        "86 23",
        "48 87 03",
        "0f b1 0b",
        "0f c1 0b",
        "f6 13",
        "ff 03",
        "0f ab 03",
        /* LOCK on a read-modify-write */
        "f0 01 03",
        "f0 87 03",
        "f0 0f b1 0b",
        /* string forms, with and without REP */
        "a4",
        "a5",
        "48 a5",
        "aa",
        "ab",
        "f3 a4",
        "f3 ab",
        "ac",
        "ad",
        "a6",
        "ae",
        /* SSE moves */
        "0f 10 03",
        "0f 11 03",
        "66 0f 6f 03",
        "66 0f 7f 03",
        "f3 0f 6f 03",
        "0f 28 03",
        "0f 29 03",
        "66 0f 6e 03",
        "66 48 0f 6e 03",
        "66 0f 7e 03",
        "66 0f d6 03",
        "f3 0f 7e 03",
        /* register-only MOV-family forms */
        "8b c0",
        "89 c0",
        "88 e0",
        "8a c4",
        "48 8b c1",
        "0f b6 c0",
        "0f bf c1",
        "48 63 c0",
        "c6 c0 01",
        "c7 c0 01 00 00 00",
        /* other operations with a memory operand */
        "85 03",
        "3b 03",
        "39 03",
        "84 23",
        "f6 03 01",
        "0f a3 03",
        "80 3b 05",
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        uint8_t buf[BUF_LEN];
        const size_t n = parse_hex(refused[i], buf);
        struct x86_insn insn;
        struct x86_mov_access a;
        if (x86_decode(buf, n, X86_MODE_64, &insn) != X86_DECODE_OK)
            fail_msg("%s: does not decode (the refusal would prove nothing)", refused[i]);
        if (x86_mov_access_of(&insn, 0x1000, &a))
            fail_msg("%s: accepted", refused[i]);
    }
    /* LOCK and REP on MOV are #UD or ignored by the decoder; if it ever let them through on a
     * MOV, x86_mov_access_of must still refuse. */
    static const char *const mov[] = {"89 03", "8b 03", "c7 03 01 00 00 00", "0f b6 03",
                                      "a1 "
                                      "00 00 00 00 00 00 00 00"};
    for (size_t i = 0; i < sizeof mov / sizeof mov[0]; i++) {
        uint8_t buf[BUF_LEN];
        const size_t n = parse_hex(mov[i], buf);
        struct x86_insn insn;
        struct x86_mov_access a;
        assert_int_equal(x86_decode(buf, n, X86_MODE_64, &insn), X86_DECODE_OK);
        assert_true(x86_mov_access_of(&insn, 0x1000, &a));
        struct x86_insn locked = insn;
        locked.lock = true;
        if (x86_mov_access_of(&locked, 0x1000, &a))
            fail_msg("%s with lock set: accepted", mov[i]);
        struct x86_insn rep = insn;
        rep.rep = 0xF3;
        if (x86_mov_access_of(&rep, 0x1000, &a))
            fail_msg("%s with rep set: accepted", mov[i]);
    }
    /* LOCK on a MOV does not reach x86_mov_access_of as a valid instruction. */
    static const char *const lock_mov[] = {"f0 89 03", "f0 8b 03", "f0 c6 03 01"};
    for (size_t i = 0; i < sizeof lock_mov / sizeof lock_mov[0]; i++) {
        uint8_t buf[BUF_LEN];
        const size_t n = parse_hex(lock_mov[i], buf);
        struct x86_insn insn;
        struct x86_mov_access a;
        if (x86_decode(buf, n, X86_MODE_64, &insn) == X86_DECODE_OK &&
            x86_mov_access_of(&insn, 0x1000, &a))
            fail_msg("%s: accepted", lock_mov[i]);
    }
}

/* ---- 3. x86_mov_uses_rsp ----------------------------------------------------------------------
 */

static void mov_uses_rsp_exactly_for_rsp_operands(void **state)
{
    (void)state;
    static const struct {
        const char *hex;
        bool uses;
    } cases[] = {
        {"8a 23", false},                      /* mov ah, [rbx]: AH, not SPL */
        {"88 23", false},                      /* mov [rbx], ah */
        {"40 8a 23", true},                    /* mov spl, [rbx] */
        {"40 88 23", true},                    /* mov [rbx], spl */
        {"8b 23", true},                       /* mov esp, [rbx] */
        {"66 89 23", true},                    /* mov [rbx], sp */
        {"44 8b 23", false},                   /* mov r12d, [rbx] */
        {"8b 04 24", true},                    /* mov eax, [rsp] */
        {"8b 44 24 08", true},                 /* mov eax, [rsp+8] */
        {"41 8b 04 24", false},                /* mov eax, [r12] */
        {"8b 04 64", true},                    /* mov eax, [rsp] (index 100: none) */
        {"8b 04 e3", false},                   /* mov eax, [rbx] (index 100, scale 8) */
        {"42 8b 04 63", false},                /* mov eax, [rbx+r12*2] */
        {"42 8b 04 24", true},                 /* mov eax, [rsp+r12]: base rsp */
        {"8b 04 25 00 10 00 00", false},       /* mov eax, [0x1000]: no base, no index */
        {"88 24 25 00 10 00 00", false},       /* mov [0x1000], ah */
        {"8b 05 00 00 00 00", false},          /* rip-relative */
        {"8b 24 25 00 10 00 00", true},        /* mov esp, [0x1000] */
        {"c6 04 24 01", true},                 /* mov byte [rsp], 1 */
        {"c7 03 01 00 00 00", false},          /* mov dword [rbx], 1 */
        {"0f b6 23", true},                    /* movzx esp, byte [rbx] */
        {"0f be 04 24", true},                 /* movsx eax, byte [rsp] */
        {"48 63 23", true},                    /* movsxd rsp, [rbx] */
        {"a1 00 10 00 00 00 00 00 00", false}, /* mov eax, moffs */
        {"a2 00 10 00 00 00 00 00 00", false}, /* mov moffs, al */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t buf[BUF_LEN];
        const size_t n = parse_hex(cases[i].hex, buf);
        struct x86_insn insn;
        struct x86_mov_access a;
        assert_int_equal(x86_decode(buf, n, X86_MODE_64, &insn), X86_DECODE_OK);
        assert_int_equal(insn.len, n);
        assert_true(x86_mov_access_of(&insn, 0x1000, &a));
        if (x86_mov_uses_rsp(&a) != cases[i].uses)
            fail_msg("%s: uses_rsp %d, want %d", cases[i].hex, x86_mov_uses_rsp(&a), cases[i].uses);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(mov_matches_emulate_for_every_modrm_and_sib),
        cmocka_unit_test(mov_matches_emulate_for_every_prefix_combination),
        cmocka_unit_test(mov_matches_emulate_for_random_prefix_sequences),
        cmocka_unit_test(mov_access_refused_outside_64bit_mode),
        cmocka_unit_test(mov_access_refused_for_other_forms),
        cmocka_unit_test(mov_uses_rsp_exactly_for_rsp_operands),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
