/* libFuzzer target over fetch + decode + emulate (issue 2).
 *
 * Input: a 24-byte header, then instruction bytes.
 *   header[0]      CPU mode (real, 16/32-bit protected, compatibility, 64-bit) and paging
 *   header[1..2]   RIP's offset in the code page (near its end, so fetches cross pages)
 *   header[3]      REP iteration bound; header[4] which data addresses fault
 *   header[5..23]  seed for the register file and the segment bases
 * The instruction bytes are decoded twice: straight from the fuzzer's buffer (exactly its
 * length, so AddressSanitizer sees any read past it) and after a fetch through the guest
 * page walk from a small guest memory (identity-mapped 2 MiB page in IA-32e mode), where a
 * short input leaves the next page unmapped. A decoded instruction is then applied against
 * a data buffer whose accesses may fault. Invariants are checked with abort(). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "decode/emulate.h"
#include "decode/fetch.h"

#define GMEM_SIZE 0x10000u /* guest-physical RAM [0, 64 KiB) */
#define CODE_PAGE 0x8000u
#define DATA_SIZE 0x1000u
#define PML4_ADDR 0x1000u
#define PDPT_ADDR 0x2000u
#define PD_ADDR   0x3000u

struct fuzz_ctx {
    uint8_t gmem[GMEM_SIZE];
    size_t gmem_valid; /* bytes past the code that exist: the rest of RAM reads fail */
    uint8_t data[DATA_SIZE];
    uint8_t fault_mask;
};

static bool gpa_read(void *ctx, uint64_t gpa, void *buf, size_t len)
{
    struct fuzz_ctx *c = ctx;
    if (gpa >= c->gmem_valid || len > c->gmem_valid - gpa)
        return false;
    memcpy(buf, c->gmem + gpa, len);
    return true;
}

static enum x86_emu_status data_access(struct fuzz_ctx *c, uint64_t la, unsigned size,
                                       struct x86_exception *exc, bool write)
{
    if (size == 0 || size > 16)
        abort(); /* the emulator must never ask for an impossible width */
    if (((la >> 8) & 0xFF & c->fault_mask) == 0x5A) {
        *exc = (struct x86_exception){
            .vector = X86_VEC_PF, .error_code = write ? 2 : 0, .address = la};
        return X86_EMU_EXCEPTION;
    }
    return X86_EMU_OK;
}

static enum x86_emu_status d_read(void *ctx, uint64_t la, void *buf, unsigned size,
                                  struct x86_exception *exc)
{
    struct fuzz_ctx *c = ctx;
    enum x86_emu_status st = data_access(c, la, size, exc, false);
    if (st == X86_EMU_OK)
        for (unsigned i = 0; i < size; i++)
            ((uint8_t *)buf)[i] = c->data[(la + i) % DATA_SIZE];
    return st;
}

static enum x86_emu_status d_write(void *ctx, uint64_t la, const void *buf, unsigned size,
                                   struct x86_exception *exc)
{
    struct fuzz_ctx *c = ctx;
    enum x86_emu_status st = data_access(c, la, size, exc, true);
    if (st == X86_EMU_OK)
        for (unsigned i = 0; i < size; i++)
            c->data[(la + i) % DATA_SIZE] = ((const uint8_t *)buf)[i];
    return st;
}

static uint8_t xmm[16][16];
static void x_read(void *ctx, unsigned reg, uint8_t out[16])
{
    (void)ctx;
    if (reg > 15)
        abort();
    memcpy(out, xmm[reg], 16);
}
static void x_write(void *ctx, unsigned reg, const uint8_t in[16])
{
    (void)ctx;
    if (reg > 15)
        abort();
    memcpy(xmm[reg], in, 16);
}

static bool rep_next(void *ctx, uint64_t src, uint64_t dst, unsigned size)
{
    (void)ctx;
    (void)size;
    return ((src ^ dst) & 0x800) == 0;
}

static enum x86_mode decode_mode_of(enum cpu_mode m)
{
    switch (m) {
    case CPU_MODE_LONG64:
        return X86_MODE_64;
    case CPU_MODE_PROT32:
    case CPU_MODE_COMPAT32:
        return X86_MODE_32;
    default:
        return X86_MODE_16;
    }
}

static uint64_t mix(uint64_t *s)
{
    *s += 0x9E3779B97F4A7C15ull;
    uint64_t z = *s;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void check_insn(const struct x86_insn *i, size_t avail)
{
    if (i->len == 0 || i->len > X86_MAX_INSN_LEN || i->len > avail)
        abort();
    switch (i->access_size) {
    case 0:
    case 1:
    case 2:
    case 4:
    case 8:
    case 16:
        break;
    default:
        abort();
    }
    if ((i->access == X86_ACCESS_NONE) != (i->access_size == 0))
        abort();
}

static void apply(const struct x86_insn *insn, enum x86_mode mode, uint64_t seed, unsigned max_iter,
                  struct fuzz_ctx *c)
{
    struct x86_regs r;
    for (unsigned k = 0; k < 16; k++)
        r.gpr[k] = mix(&seed);
    r.rip = mix(&seed);
    r.rflags = 0x2 | (mix(&seed) & (RFLAGS_ARITH | RFLAGS_DF));
    struct x86_emu_env env = {.mode = mode,
                              .ctx = c,
                              .read = d_read,
                              .write = d_write,
                              .xmm_read = x_read,
                              .xmm_write = x_write,
                              .rep_next = rep_next};
    for (unsigned s = 0; s < X86_SEG_COUNT; s++)
        env.seg_base[s] = mix(&seed) & 0xFFFFF;
    /* Small counts keep REP loops short; the address sizes still wrap. */
    r.gpr[1] &= 0x3F;
    struct x86_regs before = r;
    struct x86_exception exc;
    enum x86_emu_status st = x86_emulate(insn, &r, &env, max_iter, &exc);
    switch (st) {
    case X86_EMU_OK:
        if (mode != X86_MODE_64 && r.rip > 0xFFFFFFFFull)
            abort();
        break;
    case X86_EMU_CONTINUE:
        if (r.rip != before.rip || insn->rep == 0)
            abort();
        break;
    case X86_EMU_EXCEPTION:
        if (r.rip != before.rip || (exc.vector != X86_VEC_PF && exc.vector != X86_VEC_GP))
            abort();
        break;
    case X86_EMU_UNSUPPORTED:
        if (insn->access != X86_ACCESS_NONE || memcmp(&r, &before, sizeof r) != 0)
            abort();
        break;
    default:
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct fuzz_ctx c;
    if (size < 24)
        return 0;
    const uint8_t *h = data, *code = data + 24;
    const size_t ncode = size - 24;
    uint64_t seed = 0;
    for (unsigned k = 5; k < 24; k++)
        seed = seed * 131 + h[k];

    /* 1. Decode straight from the input, in all three modes. */
    for (unsigned m = 0; m < 3; m++) {
        struct x86_insn insn;
        enum x86_decode_status ds = x86_decode(code, ncode, (enum x86_mode)m, &insn);
        if (ds == X86_DECODE_OK) {
            check_insn(&insn, ncode);
            if (m == (unsigned)(h[0] % 3))
                apply(&insn, (enum x86_mode)m, seed, 1 + h[3] % 8, &c);
        } else if (ds != X86_DECODE_UNSUPPORTED && ds != X86_DECODE_INVALID &&
                   ds != X86_DECODE_TRUNCATED) {
            abort();
        }
    }

    /* 2. Fetch through the guest page walk, then decode and apply. */
    memset(c.gmem, 0, PD_ADDR + 0x1000);
    const uint64_t pml4e = PDPT_ADDR | 0x7, pdpte = PD_ADDR | 0x7, pde = 0x0 | 0x87;
    memcpy(c.gmem + PML4_ADDR, &pml4e, 8);
    memcpy(c.gmem + PDPT_ADDR, &pdpte, 8);
    memcpy(c.gmem + PD_ADDR, &pde, 8);
    unsigned off = (unsigned)(h[1] | (h[2] << 8)) % 0x1000;
    if (h[1] & 1)
        off = 0x1000 - 1 - (h[2] % 15); /* end of the page: the fetch crosses into the next */
    size_t n = ncode < 0x1000 ? ncode : 0x1000;
    memcpy(c.gmem + CODE_PAGE + off, code, n);
    c.gmem_valid = CODE_PAGE + off + n;
    c.fault_mask = h[4];

    struct guest_paging pg = {.maxphyaddr = 39};
    uint32_t cs_ar = 0x9B;
    switch (h[0] % 6) {
    case 0: /* real mode */
        break;
    case 1: /* 16-bit protected, paging off */
        pg.cr0 = CR0_PE;
        break;
    case 2: /* 32-bit protected, paging off */
        pg.cr0 = CR0_PE;
        cs_ar |= SEG_AR_D;
        break;
    case 3: /* compatibility mode, 32-bit */
    case 4: /* 64-bit mode */
    case 5: /* compatibility mode, 16-bit */
        pg.cr0 = CR0_PE | CR0_PG;
        pg.cr4 = CR4_PAE;
        pg.efer = EFER_LME | EFER_LMA;
        pg.cr3 = PML4_ADDR;
        cs_ar |= (h[0] % 6 == 4) ? SEG_AR_L : (h[0] % 6 == 3) ? SEG_AR_D : 0;
        break;
    }
    struct guest_mem mem = {.read_gpa = gpa_read, .ctx = &c};
    struct fetch_cs cs = {.base = (h[0] % 6 == 4) ? 0 : CODE_PAGE, .limit = 0xFFFFF, .ar = cs_ar};
    uint64_t rip = (h[0] % 6 == 4) ? CODE_PAGE + off : off;
    struct fetch_result fr;
    fetch_insn(&pg, &mem, &cs, rip, &fr);
    if (fr.len > FETCH_MAX_BYTES)
        abort();
    struct x86_insn insn;
    enum x86_mode mode = decode_mode_of(fr.mode);
    if (x86_decode(fr.bytes, fr.len, mode, &insn) == X86_DECODE_OK) {
        check_insn(&insn, fr.len);
        apply(&insn, mode, seed ^ 0x55, 1 + h[3] % 8, &c);
    }
    return 0;
}
