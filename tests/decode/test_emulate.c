/* decode/emulate: applying decoded instructions to registers and a model of guest memory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "decode/emulate.h"

/* Guest linear memory [MEM_BASE, MEM_BASE + MEM_SIZE); accesses touching [fault_lo, fault_hi)
 * raise #PF; every access is counted. */
#define MEM_BASE 0x10000u
#define MEM_SIZE 0x20000u

struct guest {
    uint8_t mem[MEM_SIZE];
    uint64_t fault_lo, fault_hi;
    unsigned reads, writes;
    uint8_t xmm[16][16];
    uint64_t region_end; /* rep_next: the next element must lie below this */
};

static enum x86_emu_status g_read(void *ctx, uint64_t la, void *buf, unsigned size,
                                  struct x86_exception *exc)
{
    struct guest *g = ctx;
    if ((la < g->fault_hi && la + size > g->fault_lo) || la < MEM_BASE ||
        la + size > MEM_BASE + MEM_SIZE) {
        *exc = (struct x86_exception){.vector = X86_VEC_PF, .error_code = 0, .address = la};
        return X86_EMU_EXCEPTION;
    }
    memcpy(buf, g->mem + (la - MEM_BASE), size);
    g->reads++;
    return X86_EMU_OK;
}

static enum x86_emu_status g_write(void *ctx, uint64_t la, const void *buf, unsigned size,
                                   struct x86_exception *exc)
{
    struct guest *g = ctx;
    if ((la < g->fault_hi && la + size > g->fault_lo) || la < MEM_BASE ||
        la + size > MEM_BASE + MEM_SIZE) {
        *exc = (struct x86_exception){.vector = X86_VEC_PF, .error_code = 2, .address = la};
        return X86_EMU_EXCEPTION;
    }
    memcpy(g->mem + (la - MEM_BASE), buf, size);
    g->writes++;
    return X86_EMU_OK;
}

static void g_xmm_read(void *ctx, unsigned reg, uint8_t out[16])
{
    memcpy(out, ((struct guest *)ctx)->xmm[reg], 16);
}

static void g_xmm_write(void *ctx, unsigned reg, const uint8_t in[16])
{
    memcpy(((struct guest *)ctx)->xmm[reg], in, 16);
}

static bool g_rep_next(void *ctx, uint64_t src, uint64_t dst, unsigned size)
{
    struct guest *g = ctx;
    (void)src;
    return dst == X86_EMU_NO_ADDR || dst + size <= g->region_end;
}

static struct guest *G;
static struct x86_emu_env ENV;

static int setup(void **state)
{
    (void)state;
    G = calloc(1, sizeof *G);
    G->region_end = UINT64_MAX;
    ENV = (struct x86_emu_env){.mode = X86_MODE_64,
                               .ctx = G,
                               .read = g_read,
                               .write = g_write,
                               .xmm_read = g_xmm_read,
                               .xmm_write = g_xmm_write,
                               .rep_next = g_rep_next};
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free(G);
    return 0;
}

static void decode_hex(enum x86_mode mode, const char *hex, struct x86_insn *insn)
{
    uint8_t b[16];
    size_t n = 0;
    unsigned v;
    int used;
    while (sscanf(hex, " %2x%n", &v, &used) == 1) {
        b[n++] = (uint8_t)v;
        hex += used;
    }
    assert_int_equal(x86_decode(b, n, mode, insn), X86_DECODE_OK);
}

/* Decodes and runs one instruction in env mode; returns the status. */
static enum x86_emu_status run(const char *hex, struct x86_regs *r, unsigned max_iter,
                               struct x86_exception *exc)
{
    struct x86_insn insn;
    decode_hex(ENV.mode, hex, &insn);
    return x86_emulate(&insn, r, &ENV, max_iter, exc);
}

static void put32(uint64_t la, uint32_t v)
{
    memcpy(G->mem + (la - MEM_BASE), &v, 4);
}
static uint32_t get32(uint64_t la)
{
    uint32_t v;
    memcpy(&v, G->mem + (la - MEM_BASE), 4);
    return v;
}
static uint8_t get8(uint64_t la)
{
    return G->mem[la - MEM_BASE];
}

#define A 0x11000u /* a data address */

static void partial_register_writes(void **state)
{
    (void)state;
    struct x86_exception exc;
    struct x86_regs r = {0};
    r.gpr[3] = A; /* rbx */
    put32(A, 0x89ABCDEF);
    r.gpr[0] = 0x1122334455667788ull;
    assert_int_equal(run("8a 03", &r, 1, &exc), X86_EMU_OK); /* mov al, [rbx] */
    assert_int_equal(r.gpr[0], 0x11223344556677EFull);
    assert_int_equal(run("8a 23", &r, 1, &exc), X86_EMU_OK); /* mov ah, [rbx] */
    assert_int_equal(r.gpr[0], 0x112233445566EFEFull);
    assert_int_equal(run("66 8b 03", &r, 1, &exc), X86_EMU_OK); /* mov ax, [rbx] */
    assert_int_equal(r.gpr[0], 0x112233445566CDEFull);
    assert_int_equal(run("8b 03", &r, 1, &exc), X86_EMU_OK); /* mov eax: zero-extends */
    assert_int_equal(r.gpr[0], 0x89ABCDEFull);
    r.gpr[6] = ~0ull;
    assert_int_equal(run("40 8a 33", &r, 1, &exc), X86_EMU_OK); /* mov sil, [rbx] */
    assert_int_equal(r.gpr[6], 0xFFFFFFFFFFFFFFEFull);
    assert_int_equal(run("0f be 0b", &r, 1, &exc), X86_EMU_OK); /* movsx ecx, byte */
    assert_int_equal(r.gpr[1], 0xFFFFFFEFull);
    assert_int_equal(run("48 0f bf 0b", &r, 1, &exc), X86_EMU_OK); /* movsx rcx, word */
    assert_int_equal(r.gpr[1], 0xFFFFFFFFFFFFCDEFull);
    assert_int_equal(run("48 63 0b", &r, 1, &exc), X86_EMU_OK); /* movsxd rcx, dword */
    assert_int_equal(r.gpr[1], 0xFFFFFFFF89ABCDEFull);
    r.gpr[1] = ~0ull;
    assert_int_equal(run("66 0f b6 0b", &r, 1, &exc), X86_EMU_OK); /* movzx cx, byte */
    assert_int_equal(r.gpr[1], 0xFFFFFFFFFFFF00EFull);
    r.gpr[2] = 0xAABB;
    assert_int_equal(run("88 33", &r, 1, &exc), X86_EMU_OK); /* mov [rbx], dh */
    assert_int_equal(get8(A), 0xAA);
    assert_int_equal(r.rip, 28); /* RIP advanced by every length */
}

static void alu_memory_destination_and_register_destination(void **state)
{
    (void)state;
    struct x86_exception exc;
    struct x86_regs r = {0};
    r.gpr[3] = A;
    put32(A, 0xFFFFFFFF);
    r.gpr[0] = 1;
    assert_int_equal(run("01 03", &r, 1, &exc), X86_EMU_OK); /* add [rbx], eax */
    assert_int_equal(get32(A), 0);
    assert_true(r.rflags & RFLAGS_CF);
    assert_true(r.rflags & RFLAGS_ZF);
    unsigned writes = G->writes;
    put32(A, 5);
    assert_int_equal(run("83 3b 05", &r, 1, &exc), X86_EMU_OK); /* cmp dword [rbx], 5 */
    assert_int_equal(G->writes, writes);                        /* CMP never writes */
    assert_true(r.rflags & RFLAGS_ZF);
    assert_false(r.rflags & RFLAGS_CF);
    r.gpr[1] = 0xFFFFFFFF00000010ull;
    assert_int_equal(run("2b 0b", &r, 1, &exc), X86_EMU_OK); /* sub ecx, [rbx] */
    assert_int_equal(r.gpr[1], 0xB);
    assert_int_equal(run("f7 1b", &r, 1, &exc), X86_EMU_OK); /* neg dword [rbx] */
    assert_int_equal(get32(A), 0xFFFFFFFB);
    assert_int_equal(run("ff 03", &r, 1, &exc), X86_EMU_OK); /* inc dword [rbx] */
    assert_int_equal(get32(A), 0xFFFFFFFC);
    assert_int_equal(run("f6 03 04", &r, 1, &exc), X86_EMU_OK); /* test byte [rbx], 4 */
    assert_false(r.rflags & RFLAGS_ZF);
}

static void xchg_cmpxchg_xadd(void **state)
{
    (void)state;
    struct x86_exception exc;
    struct x86_regs r = {0};
    r.gpr[3] = A;
    put32(A, 100);
    r.gpr[1] = 7;
    assert_int_equal(run("87 0b", &r, 1, &exc), X86_EMU_OK); /* xchg [rbx], ecx */
    assert_int_equal(get32(A), 7);
    assert_int_equal(r.gpr[1], 100);
    /* cmpxchg [rbx], ecx: equal -> stores ecx, ZF=1 */
    r.gpr[0] = 0xFFFFFFFF00000007ull;
    assert_int_equal(run("f0 0f b1 0b", &r, 1, &exc), X86_EMU_OK);
    assert_int_equal(get32(A), 100);
    assert_true(r.rflags & RFLAGS_ZF);
    assert_int_equal(r.gpr[0], 0xFFFFFFFF00000007ull); /* accumulator untouched */
    /* not equal: the destination is written back with its own value, EAX takes it */
    unsigned writes = G->writes;
    assert_int_equal(run("0f b1 0b", &r, 1, &exc), X86_EMU_OK);
    assert_int_equal(G->writes, writes + 1);
    assert_int_equal(get32(A), 100);
    assert_false(r.rflags & RFLAGS_ZF);
    assert_int_equal(r.gpr[0], 100); /* 32-bit write zero-extends */
    /* xadd [rbx], ecx */
    r.gpr[1] = 5;
    assert_int_equal(run("0f c1 0b", &r, 1, &exc), X86_EMU_OK);
    assert_int_equal(get32(A), 105);
    assert_int_equal(r.gpr[1], 100);
}

static void bt_register_offset_reaches_past_the_operand(void **state)
{
    (void)state;
    struct x86_exception exc;
    struct x86_regs r = {0};
    r.gpr[3] = A;
    memset(G->mem + (A - 0x100 - MEM_BASE), 0, 0x200);
    put32(A + 12, 1u << 4);
    r.gpr[1] = 100; /* dword at +12, bit 4 */
    assert_int_equal(run("0f a3 0b", &r, 1, &exc), X86_EMU_OK);
    assert_true(r.rflags & RFLAGS_CF);
    put32(A - 4, 0x80000000u);
    r.gpr[1] = (uint32_t)-1; /* dword at -4, bit 31 */
    assert_int_equal(run("0f a3 0b", &r, 1, &exc), X86_EMU_OK);
    assert_true(r.rflags & RFLAGS_CF);
    r.gpr[1] = 35; /* bts word [rbx], cx: word at +4, bit 3 */
    assert_int_equal(run("66 0f ab 0b", &r, 1, &exc), X86_EMU_OK);
    assert_int_equal(get32(A + 4), 8);
    assert_false(r.rflags & RFLAGS_CF);
    r.gpr[1] = (uint64_t)-65; /* btr qword [rbx], rcx: qword at -16, bit 63 */
    memset(G->mem + (A - 16 - MEM_BASE), 0xFF, 8);
    assert_int_equal(run("48 0f b3 0b", &r, 1, &exc), X86_EMU_OK);
    assert_int_equal(get8(A - 9), 0x7F);
    assert_true(r.rflags & RFLAGS_CF);
    /* immediate offsets are taken modulo the width: bt dword [rbx], 36 -> bit 4 of +0 */
    put32(A, 0x10);
    assert_int_equal(run("0f ba 23 24", &r, 1, &exc), X86_EMU_OK);
    assert_true(r.rflags & RFLAGS_CF);
}

static void string_forms_with_rep_and_direction(void **state)
{
    (void)state;
    struct x86_exception exc;
    struct x86_regs r = {0};
    for (int i = 0; i < 8; i++)
        G->mem[A - MEM_BASE + i] = (uint8_t)(0x40 + i);
    r.gpr[6] = A;         /* rsi */
    r.gpr[7] = A + 0x100; /* rdi */
    r.gpr[1] = 5;
    assert_int_equal(run("f3 a4", &r, 100, &exc), X86_EMU_OK); /* rep movsb */
    assert_memory_equal(G->mem + (A + 0x100 - MEM_BASE), "\x40\x41\x42\x43\x44", 5);
    assert_int_equal(r.gpr[1], 0);
    assert_int_equal(r.gpr[6], A + 5);
    assert_int_equal(r.gpr[7], A + 0x105);
    /* DF=1: backwards, dwords */
    r.rflags = RFLAGS_DF;
    r.gpr[0] = 0xCAFEBABE;
    r.gpr[7] = A + 0x208;
    r.gpr[1] = 3;
    assert_int_equal(run("f3 ab", &r, 100, &exc), X86_EMU_OK); /* rep stosd */
    assert_int_equal(get32(A + 0x200), 0xCAFEBABE);
    assert_int_equal(r.gpr[7], A + 0x1FC);
    /* rep with RCX = 0: no access, RIP still advances */
    unsigned n = G->reads + G->writes;
    uint64_t rip = r.rip;
    assert_int_equal(run("f3 a5", &r, 100, &exc), X86_EMU_OK);
    assert_int_equal(G->reads + G->writes, n);
    assert_int_equal(r.rip, rip + 2);
    /* lodsw without REP */
    r.rflags = 0;
    r.gpr[6] = A;
    r.gpr[0] = ~0ull;
    assert_int_equal(run("66 ad", &r, 100, &exc), X86_EMU_OK);
    assert_int_equal(r.gpr[0], 0xFFFFFFFFFFFF4140ull);
    assert_int_equal(r.gpr[6], A + 2);
}

static void repe_cmps_and_repne_scas_terminate_on_zf(void **state)
{
    (void)state;
    struct x86_exception exc;
    struct x86_regs r = {0};
    memcpy(G->mem + (A - MEM_BASE), "abcdXf", 6);
    memcpy(G->mem + (A + 0x100 - MEM_BASE), "abcdef", 6);
    r.gpr[6] = A;
    r.gpr[7] = A + 0x100;
    r.gpr[1] = 6;
    assert_int_equal(run("f3 a6", &r, 100, &exc), X86_EMU_OK); /* repe cmpsb */
    assert_int_equal(r.gpr[1], 1);                             /* stopped after 'X' */
    assert_int_equal(r.gpr[6], A + 5);
    assert_false(r.rflags & RFLAGS_ZF);
    r.gpr[7] = A + 0x100;
    r.gpr[1] = 6;
    r.gpr[0] = 'd';
    assert_int_equal(run("f2 ae", &r, 100, &exc), X86_EMU_OK); /* repne scasb */
    assert_int_equal(r.gpr[1], 2);
    assert_int_equal(r.gpr[7], A + 0x104);
    assert_true(r.rflags & RFLAGS_ZF);
}

static void address_size_wraps_rsi_rdi_rcx(void **state)
{
    (void)state;
    struct x86_exception exc;
    struct x86_regs r = {0};
    ENV.mode = X86_MODE_16;
    ENV.seg_base[X86_SEG_DS] = 0x10011; /* DS:FFFF is 0x20010, DS:0000 is 0x10011 */
    ENV.seg_base[X86_SEG_ES] = 0x21000;
    G->mem[0x20010 - MEM_BASE] = 0x11;
    G->mem[0x10011 - MEM_BASE] = 0x22;
    r.gpr[6] = 0xABCD0000FFFFull; /* upper bits of RSI must survive */
    r.gpr[7] = 0;
    r.gpr[1] = 0x12340002; /* CX = 2; ECX upper half must survive */
    assert_int_equal(run("f3 a4", &r, 100, &exc), X86_EMU_OK);
    assert_int_equal(get8(0x21000), 0x11);
    assert_int_equal(get8(0x21001), 0x22); /* SI wrapped to 0 */
    assert_int_equal(r.gpr[6], 0xABCD00000001ull);
    assert_int_equal(r.gpr[1], 0x12340000);
    /* 32-bit address size in 64-bit mode: ESI wraps and the write zero-extends */
    ENV.mode = X86_MODE_64;
    r.gpr[6] = 0xFFFF0000FFFFFFFFull;
    r.gpr[0] = 0;
    ENV.seg_base[X86_SEG_DS] = 0;
    struct x86_insn insn;
    decode_hex(X86_MODE_64, "67 ac", &insn); /* lodsb [esi] */
    G->fault_lo = 0;
    assert_int_equal(x86_emulate(&insn, &r, &ENV, 1, &exc), X86_EMU_EXCEPTION); /* la 0xFFFFFFFF */
    assert_int_equal(exc.address, 0xFFFFFFFFull);
    r.gpr[6] = A;
    assert_int_equal(x86_emulate(&insn, &r, &ENV, 1, &exc), X86_EMU_OK);
    assert_int_equal(r.gpr[6], A + 1);
    memset(ENV.seg_base, 0, sizeof ENV.seg_base);
}

static void rep_restarts_exactly_at_any_iteration(void **state)
{
    (void)state;
    struct x86_exception exc;
    struct x86_regs r = {0};
    for (int i = 0; i < 64; i++)
        G->mem[A - MEM_BASE + i] = (uint8_t)(i * 3 + 1);
    r.gpr[6] = A;
    r.gpr[7] = A + 0x400;
    r.gpr[1] = 16;
    r.rip = 0x1000;
    unsigned calls = 0;
    enum x86_emu_status st;
    while ((st = run("f3 48 a5", &r, 3, &exc)) == X86_EMU_CONTINUE) { /* rep movsq, 3 a time */
        calls++;
        assert_int_equal(r.rip, 0x1000); /* still on the instruction */
        assert_int_equal(r.gpr[1], 16 - 3 * calls);
        assert_int_equal(r.gpr[6], A + 24 * calls);
        assert_int_equal(r.gpr[7], A + 0x400 + 24 * calls);
    }
    assert_int_equal(st, X86_EMU_OK);
    assert_int_equal(calls, 5);
    assert_int_equal(r.rip, 0x1003);
    assert_memory_equal(G->mem + (A + 0x400 - MEM_BASE), G->mem + (A - MEM_BASE), 128);
    /* the region callback stops at a region end */
    r.gpr[0] = 0x77;
    r.gpr[7] = A + 0x800;
    r.gpr[1] = 10;
    G->region_end = A + 0x804;
    assert_int_equal(run("f3 aa", &r, 100, &exc), X86_EMU_CONTINUE);
    assert_int_equal(r.gpr[1], 6);
    assert_int_equal(r.gpr[7], A + 0x804);
    G->region_end = UINT64_MAX;
}

static void faults_leave_state_untouched(void **state)
{
    (void)state;
    struct x86_exception exc;
    struct x86_regs r = {0}, before;
    r.gpr[3] = A;
    r.gpr[0] = 5;
    r.rip = 0x2000;
    r.rflags = 0x2;
    put32(A, 9);
    G->fault_lo = A;
    G->fault_hi = A + 4;
    before = r;
    assert_int_equal(run("01 03", &r, 1, &exc), X86_EMU_EXCEPTION);
    assert_int_equal(exc.vector, X86_VEC_PF);
    assert_int_equal(exc.address, A);
    assert_memory_equal(&r, &before, sizeof r);
    assert_int_equal(run("8b 03", &r, 1, &exc), X86_EMU_EXCEPTION);
    assert_memory_equal(&r, &before, sizeof r);
    /* write fault on XCHG: the register keeps its value */
    G->fault_lo = G->fault_hi = 0;
    G->fault_lo = A + 0x10;
    G->fault_hi = A + 0x11;
    r.gpr[3] = A + 0x10;
    before = r;
    unsigned reads = G->reads;
    assert_int_equal(run("87 03", &r, 1, &exc), X86_EMU_EXCEPTION);
    assert_memory_equal(&r, &before, sizeof r);
    assert_int_equal(G->reads, reads);
    /* fault in the third iteration of rep stosb: two done, state consistent, RIP stays */
    G->fault_lo = A + 0x102;
    G->fault_hi = A + 0x103;
    r.gpr[7] = A + 0x100;
    r.gpr[1] = 5;
    assert_int_equal(run("f3 aa", &r, 100, &exc), X86_EMU_EXCEPTION);
    assert_int_equal(r.gpr[1], 3);
    assert_int_equal(r.gpr[7], A + 0x102);
    assert_int_equal(r.rip, 0x2000);
    G->fault_lo = G->fault_hi = 0;
}

static void sse_moves_alignment_and_zero_extension(void **state)
{
    (void)state;
    struct x86_exception exc;
    struct x86_regs r = {0};
    for (int i = 0; i < 16; i++) {
        G->xmm[1][i] = (uint8_t)(0xA0 + i);
        G->mem[A - MEM_BASE + i] = (uint8_t)i;
    }
    r.gpr[3] = A;
    assert_int_equal(run("66 0f 6e 0b", &r, 1, &exc), X86_EMU_OK); /* movd xmm1, [rbx] */
    assert_memory_equal(G->xmm[1], "\x00\x01\x02\x03\0\0\0\0\0\0\0\0\0\0\0\0", 16);
    r.gpr[3] = A + 8;
    assert_int_equal(run("66 0f 6f 13", &r, 1, &exc), X86_EMU_EXCEPTION); /* movdqa, misaligned */
    assert_int_equal(exc.vector, X86_VEC_GP);
    assert_int_equal(exc.error_code, 0);
    assert_int_equal(run("f3 0f 6f 13", &r, 1, &exc), X86_EMU_OK); /* movdqu xmm2 */
    assert_memory_equal(G->xmm[2], G->mem + (A + 8 - MEM_BASE), 16);
    r.gpr[3] = A + 0x40;
    assert_int_equal(run("0f 29 13", &r, 1, &exc), X86_EMU_OK); /* movaps [rbx], xmm2 */
    assert_memory_equal(G->mem + (A + 0x40 - MEM_BASE), G->xmm[2], 16);
}

static void rip_wraps_outside_64bit_and_segment_bases_apply(void **state)
{
    (void)state;
    struct x86_exception exc;
    struct x86_regs r = {0};
    ENV.mode = X86_MODE_32;
    ENV.seg_base[X86_SEG_FS] = 0x1000;
    r.rip = 0xFFFFFFFE;
    r.gpr[0] = 0x5A;
    r.gpr[3] = A - 0x1000;
    assert_int_equal(run("64 88 03", &r, 1, &exc), X86_EMU_OK); /* mov fs:[ebx], al */
    assert_int_equal(get8(A), 0x5A);
    assert_int_equal(r.rip, 1);
    /* 64-bit mode: DS base is ignored, GS base applies */
    ENV.mode = X86_MODE_64;
    ENV.seg_base[X86_SEG_DS] = 0x5000;
    ENV.seg_base[X86_SEG_GS] = 0x100;
    r.gpr[0] = 0x6B;
    r.gpr[3] = A;
    assert_int_equal(run("3e 88 03", &r, 1, &exc), X86_EMU_OK);
    assert_int_equal(get8(A), 0x6B);
    r.gpr[3] = A - 0x100;
    r.gpr[0] = 0x7C;
    assert_int_equal(run("65 88 03", &r, 1, &exc), X86_EMU_OK);
    assert_int_equal(get8(A), 0x7C);
    /* RIP-relative: next RIP + disp */
    r.rip = A - 6 - 0x10;
    assert_int_equal(run("8a 05 10 00 00 00", &r, 1, &exc), X86_EMU_OK);
    assert_int_equal(r.gpr[0] & 0xFF, 0x7C);
    memset(ENV.seg_base, 0, sizeof ENV.seg_base);
}

static void register_only_forms_are_not_applied(void **state)
{
    (void)state;
    struct x86_exception exc;
    struct x86_regs r = {0};
    assert_int_equal(run("01 c3", &r, 1, &exc), X86_EMU_UNSUPPORTED);
    assert_int_equal(r.rip, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(partial_register_writes, setup, teardown),
        cmocka_unit_test_setup_teardown(alu_memory_destination_and_register_destination, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(xchg_cmpxchg_xadd, setup, teardown),
        cmocka_unit_test_setup_teardown(bt_register_offset_reaches_past_the_operand, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(string_forms_with_rep_and_direction, setup, teardown),
        cmocka_unit_test_setup_teardown(repe_cmps_and_repne_scas_terminate_on_zf, setup, teardown),
        cmocka_unit_test_setup_teardown(address_size_wraps_rsi_rdi_rcx, setup, teardown),
        cmocka_unit_test_setup_teardown(rep_restarts_exactly_at_any_iteration, setup, teardown),
        cmocka_unit_test_setup_teardown(faults_leave_state_untouched, setup, teardown),
        cmocka_unit_test_setup_teardown(sse_moves_alignment_and_zero_extension, setup, teardown),
        cmocka_unit_test_setup_teardown(rip_wraps_outside_64bit_and_segment_bases_apply, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(register_only_forms_are_not_applied, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
