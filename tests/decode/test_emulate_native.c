/* decode/emulate against the host CPU: every ALU, bit, XCHG, CMPXCHG, XADD and MOV form with a
 * memory operand, at every operand size, with register and immediate sources (and LOCK where
 * it is valid), is executed natively on a buffer with random register, memory and flag values
 * and emulated on a copy; memory, every register and the flags the SDM defines for the form
 * must come out the same. The native side runs the same instruction bytes from an executable
 * page between a prologue that loads the registers and RFLAGS from a state block and an
 * epilogue that stores them back. */
#define _DEFAULT_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <cmocka.h>

#include "decode/emulate.h"
#include "tests/support/rng.h"

#define CASES        120000
#define STRING_CASES 20000
#define BUF_SIZE     1024
#define BUF_MID      512

struct state {
    uint64_t gpr[16];
    uint64_t rflags;
};

static uint8_t *code;
static uint8_t native_buf[BUF_SIZE] __attribute__((aligned(64)));
static uint8_t emu_buf[BUF_SIZE] __attribute__((aligned(64)));

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void)
{
    /* xorshift64* */
    return xorshift64star(&rng_state);
}

/* --- the native harness ------------------------------------------------------------------- */

static size_t emit(size_t at, const uint8_t *b, size_t n)
{
    memcpy(code + at, b, n);
    return at + n;
}

/* mov reg, [r11 + disp32] (load) or mov [r11 + disp32], reg (store) */
static size_t emit_r11_mov(size_t at, unsigned reg, int32_t disp, bool store)
{
    uint8_t b[7] = {(uint8_t)(0x49 | ((reg & 8) ? 4 : 0)), store ? 0x89 : 0x8B,
                    (uint8_t)(0x83 | ((reg & 7) << 3))};
    memcpy(b + 3, &disp, 4);
    return emit(at, b, 7);
}

static void build_harness(const uint8_t *insn, size_t len)
{
    static const uint8_t prologue[] = {
        0x53, 0x55, 0x41, 0x54, 0x41, 0x55, 0x41,
        0x56, 0x41, 0x57, 0x49, 0x89, 0xFB}; /* push...; mov r11,rdi */
    static const uint8_t epilogue[] = {0x41, 0x5F, 0x41, 0x5E, 0x41, 0x5D,
                                       0x41, 0x5C, 0x5D, 0x5B, 0xC3};
    size_t at = emit(0, prologue, sizeof prologue);
    const int32_t fl = (int32_t)offsetof(struct state, rflags);
    uint8_t pushf[7] = {0x41, 0xFF, 0xB3}; /* push qword [r11 + disp32] */
    memcpy(pushf + 3, &fl, 4);
    at = emit(at, pushf, 7);
    at = emit(at, (const uint8_t[]){0x9D}, 1); /* popfq */
    for (unsigned r = 0; r < 16; r++)
        if (r != 4 && r != 11)
            at = emit_r11_mov(at, r, (int32_t)(8 * r), false);
    at = emit(at, insn, len);
    at = emit(at, (const uint8_t[]){0x9C}, 1); /* pushfq */
    uint8_t popm[7] = {0x41, 0x8F, 0x83};      /* pop qword [r11 + disp32] */
    memcpy(popm + 3, &fl, 4);
    at = emit(at, popm, 7);
    at = emit(at, (const uint8_t[]){0xFC}, 1); /* cld: the C ABI wants DF clear */
    for (unsigned r = 0; r < 16; r++)
        if (r != 4 && r != 11)
            at = emit_r11_mov(at, r, (int32_t)(8 * r), true);
    emit(at, epilogue, sizeof epilogue);
}

/* --- the emulator side --------------------------------------------------------------------- */

static enum x86_emu_status buf_read(void *ctx, uint64_t la, void *out, unsigned size,
                                    struct x86_exception *exc)
{
    (void)ctx;
    uint64_t off = la - (uint64_t)(uintptr_t)native_buf;
    if (off > BUF_SIZE - size) {
        *exc = (struct x86_exception){.vector = X86_VEC_PF, .address = la};
        return X86_EMU_EXCEPTION;
    }
    memcpy(out, emu_buf + off, size);
    return X86_EMU_OK;
}

static enum x86_emu_status buf_write(void *ctx, uint64_t la, const void *in, unsigned size,
                                     struct x86_exception *exc)
{
    (void)ctx;
    uint64_t off = la - (uint64_t)(uintptr_t)native_buf;
    if (off > BUF_SIZE - size) {
        *exc = (struct x86_exception){.vector = X86_VEC_PF, .address = la};
        return X86_EMU_EXCEPTION;
    }
    memcpy(emu_buf + off, in, size);
    return X86_EMU_OK;
}

/* --- the forms ----------------------------------------------------------------------------- */

enum src_kind { SRC_REG, SRC_IMM8, SRC_IMMSZ, SRC_NONE };

struct form {
    uint8_t op[2]; /* opcode bytes (op[0] == 0x0F for two-byte) */
    uint8_t oplen;
    int8_t ext;              /* ModRM.reg for group forms, -1 when ModRM.reg is a register */
    uint8_t src;             /* enum src_kind */
    bool byte;               /* 8-bit form (no 66/REX.W) */
    bool lockable;           /* may take LOCK */
    bool bt_reg;             /* BT family with a register bit offset */
    bool no_byte_sizes_only; /* BT forms: 16/32/64 only */
    const char *name;
};

static struct form forms[256];
static unsigned nforms;

static void add(uint8_t o0, uint8_t o1, uint8_t oplen, int ext, enum src_kind src, bool byte,
                bool lockable, const char *name)
{
    forms[nforms++] = (struct form){.op = {o0, o1},
                                    .oplen = oplen,
                                    .ext = (int8_t)ext,
                                    .src = (uint8_t)src,
                                    .byte = byte,
                                    .lockable = lockable,
                                    .name = name};
}

static void build_forms(void)
{
    static const char *const alu[8] = {"add", "or", "adc", "sbb", "and", "sub", "xor", "cmp"};
    for (unsigned k = 0; k < 8; k++) {
        bool lk = k != 7;
        add((uint8_t)(8 * k + 0), 0, 1, -1, SRC_REG, true, lk, alu[k]);  /* op m8, r8 */
        add((uint8_t)(8 * k + 1), 0, 1, -1, SRC_REG, false, lk, alu[k]); /* op m, r */
        add((uint8_t)(8 * k + 2), 0, 1, -1, SRC_REG, true, false, alu[k]);
        add((uint8_t)(8 * k + 3), 0, 1, -1, SRC_REG, false, false, alu[k]);
        add(0x80, 0, 1, (int)k, SRC_IMM8, true, lk, alu[k]);
        add(0x81, 0, 1, (int)k, SRC_IMMSZ, false, lk, alu[k]);
        add(0x83, 0, 1, (int)k, SRC_IMM8, false, lk, alu[k]);
    }
    add(0x84, 0, 1, -1, SRC_REG, true, false, "test");
    add(0x85, 0, 1, -1, SRC_REG, false, false, "test");
    add(0xF6, 0, 1, 0, SRC_IMM8, true, false, "test");
    add(0xF7, 0, 1, 0, SRC_IMMSZ, false, false, "test");
    add(0xF6, 0, 1, 2, SRC_NONE, true, true, "not");
    add(0xF7, 0, 1, 2, SRC_NONE, false, true, "not");
    add(0xF6, 0, 1, 3, SRC_NONE, true, true, "neg");
    add(0xF7, 0, 1, 3, SRC_NONE, false, true, "neg");
    add(0xFE, 0, 1, 0, SRC_NONE, true, true, "inc");
    add(0xFF, 0, 1, 0, SRC_NONE, false, true, "inc");
    add(0xFE, 0, 1, 1, SRC_NONE, true, true, "dec");
    add(0xFF, 0, 1, 1, SRC_NONE, false, true, "dec");
    add(0x86, 0, 1, -1, SRC_REG, true, true, "xchg");
    add(0x87, 0, 1, -1, SRC_REG, false, true, "xchg");
    add(0x0F, 0xB0, 2, -1, SRC_REG, true, true, "cmpxchg");
    add(0x0F, 0xB1, 2, -1, SRC_REG, false, true, "cmpxchg");
    add(0x0F, 0xC0, 2, -1, SRC_REG, true, true, "xadd");
    add(0x0F, 0xC1, 2, -1, SRC_REG, false, true, "xadd");
    static const uint8_t btop[4] = {0xA3, 0xAB, 0xB3, 0xBB};
    static const char *const btn[4] = {"bt", "bts", "btr", "btc"};
    for (unsigned k = 0; k < 4; k++) {
        add(0x0F, btop[k], 2, -1, SRC_REG, false, k != 0, btn[k]);
        forms[nforms - 1].bt_reg = true;
        forms[nforms - 1].no_byte_sizes_only = true;
        add(0x0F, 0xBA, 2, (int)(4 + k), SRC_IMM8, false, k != 0, btn[k]);
        forms[nforms - 1].no_byte_sizes_only = true;
    }
    add(0x88, 0, 1, -1, SRC_REG, true, false, "mov");
    add(0x89, 0, 1, -1, SRC_REG, false, false, "mov");
    add(0x8A, 0, 1, -1, SRC_REG, true, false, "mov");
    add(0x8B, 0, 1, -1, SRC_REG, false, false, "mov");
    add(0xC6, 0, 1, 0, SRC_IMM8, true, false, "mov");
    add(0xC7, 0, 1, 0, SRC_IMMSZ, false, false, "mov");
    add(0x0F, 0xB6, 2, -1, SRC_REG, false, false, "movzx8");
    add(0x0F, 0xB7, 2, -1, SRC_REG, false, false, "movzx16");
    add(0x0F, 0xBE, 2, -1, SRC_REG, false, false, "movsx8");
    add(0x0F, 0xBF, 2, -1, SRC_REG, false, false, "movsx16");
    add(0x63, 0, 1, -1, SRC_REG, false, false, "movsxd");
    add(0x0F, 0xC3, 2, -1, SRC_REG, false, false, "movnti");
}

/* The flags the SDM defines as outputs of the decoded instruction; for forms that do not
 * touch flags, all arithmetic flags (they must be unchanged). */
static uint64_t defined_flags(const struct x86_insn *insn)
{
    switch (insn->op) {
    case X86_OP_ALU:
    case X86_OP_BT:
        return alu_defined_flags((enum alu_op)insn->alu);
    case X86_OP_XADD:
        return alu_defined_flags(ALU_ADD);
    case X86_OP_CMPXCHG:
        return alu_defined_flags(ALU_CMP);
    default:
        return RFLAGS_ARITH;
    }
}

/* Registers an instruction may name: not RSP, RDI (the memory base) or R11 (the harness). */
static unsigned pick_reg(bool byte, bool *need_rex)
{
    static const uint8_t ok[] = {0, 1, 2, 3, 5, 6, 8, 9, 10, 12, 13, 14, 15};
    *need_rex = false;
    if (byte && rnd() % 4 == 0)
        return 4 + (unsigned)(rnd() % 4); /* AH, CH, DH, BH: no REX allowed */
    unsigned r = ok[rnd() % sizeof ok];
    if (byte && (r == 5 || r == 6)) /* BPL/SIL need a REX */
        *need_rex = true;
    return r;
}

static unsigned run_case(unsigned idx, char *why, size_t whylen)
{
    const struct form *f = &forms[rnd() % nforms];
    unsigned size;
    if (f->byte)
        size = 1;
    else if (f->no_byte_sizes_only || f->op[1] == 0xB7 || f->op[1] == 0xBF)
        size = 2u << (rnd() % 3);
    else if (f->op[0] == 0x63)
        size = 8;
    else if (f->op[1] == 0xC3)
        size = 4u << (rnd() % 2);
    else
        size = 1u << (1 + rnd() % 3);

    bool rex_needed;
    unsigned reg = f->ext >= 0 ? (unsigned)f->ext : pick_reg(f->byte, &rex_needed);
    if (f->ext >= 0)
        rex_needed = false;
    bool high8 = f->byte && f->ext < 0 && reg >= 4 && reg <= 7 && !rex_needed;
    uint8_t rex = 0;
    if (size == 8)
        rex |= 0x48;
    if (f->ext < 0 && reg >= 8)
        rex |= 0x44;
    if (rex_needed)
        rex |= 0x40;
    if (high8)
        rex = 0;

    uint8_t b[16];
    size_t n = 0;
    bool lock = f->lockable && rnd() % 2;
    if (lock)
        b[n++] = 0xF0;
    if (size == 2)
        b[n++] = 0x66;
    if (rex)
        b[n++] = rex;
    for (unsigned i = 0; i < f->oplen; i++)
        b[n++] = f->op[i];
    int8_t disp = (int8_t)((int)(rnd() % 96) - 48);
    b[n++] = (uint8_t)(0x47 | ((reg & 7) << 3)); /* mod=01 rm=111: [rdi + disp8] */
    b[n++] = (uint8_t)disp;
    unsigned isz = f->src == SRC_IMM8 ? 1 : f->src == SRC_IMMSZ ? (size == 2 ? 2 : 4) : 0;
    for (unsigned i = 0; i < isz; i++)
        b[n++] = (uint8_t)rnd();

    struct x86_insn insn;
    enum x86_decode_status ds = x86_decode(b, n, X86_MODE_64, &insn);
    if (ds != X86_DECODE_OK) {
        snprintf(why, whylen, "case %u (%s): decode status %d", idx, f->name, ds);
        return 1;
    }

    /* Random state. */
    struct state st;
    for (unsigned r = 0; r < 16; r++)
        st.gpr[r] = rnd();
    st.gpr[7] = (uint64_t)(uintptr_t)(native_buf + BUF_MID);
    st.rflags = 0x2 | (rnd() & RFLAGS_ARITH);
    for (unsigned i = 0; i < BUF_SIZE; i++)
        native_buf[i] = (uint8_t)rnd();
    if (f->bt_reg) {
        /* A signed bit offset reaching up to 3 operands either way, upper bits random. */
        int64_t off = (int64_t)(rnd() % (unsigned)(8 * size * 7)) - (int64_t)(8 * size * 3);
        uint64_t m = size == 8 ? ~0ull : (1ull << (8 * size)) - 1;
        st.gpr[reg] = (st.gpr[reg] & ~m) | ((uint64_t)off & m);
    }
    if ((f->op[1] == 0xB0 || f->op[1] == 0xB1) && rnd() % 2) {
        /* CMPXCHG: make the accumulator equal to memory half of the time. */
        uint64_t mv = 0;
        memcpy(&mv, native_buf + BUF_MID + disp, size);
        uint64_t m = size == 8 ? ~0ull : (1ull << (8 * size)) - 1;
        st.gpr[0] = (st.gpr[0] & ~m) | mv;
    }
    memcpy(emu_buf, native_buf, BUF_SIZE);

    struct x86_regs regs = {.rip = 0, .rflags = st.rflags};
    memcpy(regs.gpr, st.gpr, sizeof regs.gpr);

    build_harness(b, n);
    ((void (*)(struct state *))(void *)code)(&st);

    struct x86_emu_env env = {.mode = X86_MODE_64, .read = buf_read, .write = buf_write};
    struct x86_exception exc;
    enum x86_emu_status es = x86_emulate(&insn, &regs, &env, 1, &exc);
    if (es != X86_EMU_OK) {
        snprintf(why, whylen, "case %u (%s): emulate status %d", idx, f->name, es);
        return 1;
    }
    if (regs.rip != n) {
        snprintf(why, whylen, "case %u (%s): rip %llu, length %zu", idx, f->name,
                 (unsigned long long)regs.rip, n);
        return 1;
    }
    if (memcmp(native_buf, emu_buf, BUF_SIZE) != 0) {
        snprintf(why, whylen, "case %u (%s, size %u): memory differs", idx, f->name, size);
        return 1;
    }
    for (unsigned r = 0; r < 16; r++) {
        if (r == 4 || r == 11)
            continue;
        if (regs.gpr[r] != st.gpr[r]) {
            snprintf(why, whylen, "case %u (%s, size %u): r%u native %016llx emulated %016llx", idx,
                     f->name, size, r, (unsigned long long)st.gpr[r],
                     (unsigned long long)regs.gpr[r]);
            return 1;
        }
    }
    uint64_t mask = defined_flags(&insn);
    if ((regs.rflags ^ st.rflags) & mask) {
        snprintf(why, whylen, "case %u (%s, size %u): flags native %03llx emulated %03llx", idx,
                 f->name, size, (unsigned long long)(st.rflags & mask),
                 (unsigned long long)(regs.rflags & mask));
        return 1;
    }
    return 0;
}

/* String forms: MOVS/STOS/LODS/CMPS/SCAS at every width, without REP, with REP/REPE and
 * REPNE, DF clear or set. The emulator runs them in slices of a random number of iterations
 * (restarting after each X86_EMU_CONTINUE), and must end where the CPU ends. */
static unsigned run_string_case(unsigned idx, char *why, size_t whylen)
{
    static const uint8_t ops[5] = {0xA4, 0xAA, 0xAC, 0xA6, 0xAE};
    static const char *const names[5] = {"movs", "stos", "lods", "cmps", "scas"};
    unsigned k = (unsigned)(rnd() % 5);
    unsigned size = 1u << (rnd() % 4);
    uint8_t b[4];
    size_t n = 0;
    unsigned rep = (unsigned)(rnd() % 3);
    if (rep)
        b[n++] = rep == 1 ? 0xF3 : 0xF2;
    if (size == 2)
        b[n++] = 0x66;
    if (size == 8)
        b[n++] = 0x48;
    b[n++] = (uint8_t)(ops[k] + (size > 1));

    struct x86_insn insn;
    if (x86_decode(b, n, X86_MODE_64, &insn) != X86_DECODE_OK) {
        snprintf(why, whylen, "string case %u (%s): decode failed", idx, names[k]);
        return 1;
    }
    struct state st;
    for (unsigned r = 0; r < 16; r++)
        st.gpr[r] = rnd();
    bool df = rnd() % 2;
    st.rflags = 0x2 | (rnd() & RFLAGS_ARITH) | (df ? RFLAGS_DF : 0);
    st.gpr[1] = rnd() % 24; /* RCX */
    st.gpr[6] = (uint64_t)(uintptr_t)(native_buf + 256 + rnd() % 64);
    st.gpr[7] = (uint64_t)(uintptr_t)(native_buf + 700 + rnd() % 64);
    /* Few distinct byte values so that compares match and differ. */
    for (unsigned i = 0; i < BUF_SIZE; i++)
        native_buf[i] = (uint8_t)(rnd() % 100 < 85 ? 0 : rnd() % 2 + 1);
    st.gpr[0] &= ~0xFFull;
    if (rnd() % 2)
        st.gpr[0] = 0;
    memcpy(emu_buf, native_buf, BUF_SIZE);
    struct x86_regs regs = {.rip = 0, .rflags = st.rflags};
    memcpy(regs.gpr, st.gpr, sizeof regs.gpr);

    build_harness(b, n);
    ((void (*)(struct state *))(void *)code)(&st);

    struct x86_emu_env env = {.mode = X86_MODE_64, .read = buf_read, .write = buf_write};
    struct x86_exception exc;
    enum x86_emu_status es;
    unsigned slices = 0;
    while ((es = x86_emulate(&insn, &regs, &env, 1 + (unsigned)(rnd() % 6), &exc)) ==
           X86_EMU_CONTINUE) {
        if (++slices > 100 || regs.rip != 0)
            break;
    }
    if (es != X86_EMU_OK || regs.rip != n) {
        snprintf(why, whylen, "string case %u (%s): status %d rip %llu", idx, names[k], es,
                 (unsigned long long)regs.rip);
        return 1;
    }
    if (memcmp(native_buf, emu_buf, BUF_SIZE) != 0) {
        snprintf(why, whylen, "string case %u (%s%u rep %u): memory differs", idx, names[k], size,
                 rep);
        return 1;
    }
    for (unsigned r = 0; r < 16; r++) {
        if (r == 4 || r == 11)
            continue;
        if (regs.gpr[r] != st.gpr[r]) {
            snprintf(why, whylen,
                     "string case %u (%s%u rep %u df %d): r%u native %llx emulated %llx", idx,
                     names[k], size, rep, df, r, (unsigned long long)st.gpr[r],
                     (unsigned long long)regs.gpr[r]);
            return 1;
        }
    }
    uint64_t mask = (k >= 3) ? alu_defined_flags(ALU_CMP) | RFLAGS_DF : RFLAGS_ARITH | RFLAGS_DF;
    if ((regs.rflags ^ st.rflags) & mask) {
        snprintf(why, whylen, "string case %u (%s): flags native %03llx emulated %03llx", idx,
                 names[k], (unsigned long long)(st.rflags & mask),
                 (unsigned long long)(regs.rflags & mask));
        return 1;
    }
    return 0;
}

/* Runs cases 0..n-1 in a fresh executable page for the native side; prints the first ten
 * failures and returns how many there were. */
static unsigned run_cases(unsigned n, unsigned (*run)(unsigned idx, char *why, size_t whylen))
{
    code = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(code != MAP_FAILED);
    unsigned failures = 0;
    char why[200];
    for (unsigned i = 0; i < n; i++) {
        if (run(i, why, sizeof why)) {
            if (failures++ < 10)
                print_message("%s\n", why);
        }
    }
    munmap(code, 4096);
    return failures;
}

static void string_forms_match_the_host_cpu_when_restarted_at_random_iterations(void **state)
{
    (void)state;
    unsigned failures = run_cases(STRING_CASES, run_string_case);
    print_message("emulate-native: %u string cases, %u failures\n", STRING_CASES, failures);
    assert_int_equal(failures, 0);
}

static void emulate_matches_the_host_cpu_on_random_operands(void **state)
{
    (void)state;
    build_forms();
    unsigned failures = run_cases(CASES, run_case);
    print_message("emulate-native: %u cases over %u forms, %u failures\n", CASES, nforms, failures);
    assert_int_equal(failures, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(emulate_matches_the_host_cpu_on_random_operands),
        cmocka_unit_test(string_forms_match_the_host_cpu_when_restarted_at_random_iterations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
