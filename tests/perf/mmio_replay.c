/* Host replay of one MMIO exit's software path (fetch with a 4-level guest walk, decode,
 * emulate with the access going to a fake device register), for
 *   valgrind --tool=callgrind build/perf/mmio_replay
 * whose per-function instruction counts track the path length Bochs measures. Prints the
 * loaded value so a broken path shows (exit status 1 when it is wrong). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode/decode.h"
#include "decode/emulate.h"
#include "decode/fetch.h"
#include "tests/support/replay_guest.h"
#include "decode/memo.h"
#include "decode/walk.h"

#define CODE_LA   0x400000ull
#define DEV_LA    (CODE_LA + 0x1000) /* shares the page tables with the code page */
#define DEV_GPA   0xfe000000ull
#define DEV_VALUE 0x12345678u

static enum x86_emu_status dev_read(void *ctx, uint64_t la, void *buf, unsigned size,
                                    struct x86_exception *exc)
{
    (void)ctx, (void)exc;
    uint32_t v = la == DEV_LA + 8 ? DEV_VALUE : 0;
    memcpy(buf, &v, size < 4 ? size : 4);
    return X86_EMU_OK;
}

static enum x86_emu_status dev_write(void *ctx, uint64_t la, const void *buf, unsigned size,
                                     struct x86_exception *exc)
{
    (void)ctx, (void)la, (void)buf, (void)size, (void)exc;
    return X86_EMU_OK;
}

/* One exit through the general path: fetch_insn, x86_decode, x86_emulate with callbacks. */
__attribute__((noinline)) static uint64_t replay_general(const struct guest_paging *pg,
                                                         const struct guest_mem *mem,
                                                         const struct fetch_cs *cs)
{
    struct fetch_result f;
    fetch_insn(pg, mem, cs, CODE_LA, &f);
    struct x86_insn insn;
    if (x86_decode(f.bytes, f.len, X86_MODE_64, &insn) != X86_DECODE_OK)
        return 0;
    struct x86_regs regs = {0};
    regs.gpr[0] = DEV_LA;
    regs.rip = CODE_LA;
    struct x86_emu_env env = {.mode = X86_MODE_64, .read = dev_read, .write = dev_write};
    struct x86_exception exc;
    if (x86_emulate(&insn, &regs, &env, 4096, &exc) != X86_EMU_OK)
        return 0;
    return regs.gpr[0];
}

/* The same exit through the fast path's steps: fetch_insn_fast, the decode memo, the operand's
 * linear address, the device read, x86_load_result. */
__attribute__((noinline)) static uint64_t replay_fast(const struct guest_paging *pg,
                                                      const struct guest_mem *mem,
                                                      const struct fetch_cs *cs,
                                                      struct insn_memo *memo)
{
    uint8_t bytes[FETCH_MAX_BYTES];
    if (!fetch_insn_fast(pg, mem, cs, CODE_LA, bytes))
        return 0;
    const struct x86_insn *insn;
    if (insn_memo_decode(memo, CODE_LA, bytes, X86_MODE_64, &insn) != X86_DECODE_OK)
        return 0;
    struct x86_regs regs = {0};
    regs.gpr[0] = DEV_LA;
    regs.rip = CODE_LA;
    struct x86_emu_env env = {.mode = X86_MODE_64};
    uint64_t la = x86_mem_linear(insn, &regs, &env), value = 0;
    struct x86_exception exc;
    if (dev_read(0, la, &value, insn->access_size, &exc) != X86_EMU_OK)
        return 0;
    x86_load_result(insn, &regs, value);
    return regs.gpr[0];
}

int main(int argc, char **argv)
{
    unsigned rounds = argc > 1 ? (unsigned)atoi(argv[1]) : 1000;
    static const uint8_t code[] = {0x8b, 0x40, 0x08, 0x90, 0x90, 0x90, 0x90, 0x90,
                                   0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90}; /* mov eax,[rax+8] */
    replay_map(CODE_LA, 0x5000, 0x7);
    replay_map(DEV_LA, 0x6000, 0x7);
    memcpy(replay_guest + 0x5000, code, sizeof code);
    struct guest_paging pg = {.cr0 = 0x80050033,
                              .cr3 = 0x1000,
                              .cr4 = 0x20,
                              .efer = 0xd00,
                              .rflags = 2,
                              .cpl = 0,
                              .maxphyaddr = 39};
    struct guest_mem mem = {.read_gpa = replay_gpa_read, .write_gpa = replay_gpa_write};
    struct fetch_cs cs = {.base = 0, .limit = 0xffffffff, .ar = 0xa09b};
    uint64_t sum = 0;
    for (unsigned i = 0; i < rounds; i++)
        sum += replay_general(&pg, &mem, &cs);
    /* The fast path's steps (boot/mmio.c mmio_mov_fast): the direct view, the memo. */
    mem.direct = true;
    mem.direct_va = (uintptr_t)replay_guest;
    mem.direct_limit = sizeof replay_guest;
    static struct insn_memo memo;
    uint64_t fast_sum = 0;
    for (unsigned i = 0; i < rounds; i++)
        fast_sum += replay_fast(&pg, &mem, &cs, &memo);
    if (fast_sum != sum) {
        printf("mmio_replay: the fast path loaded 0x%llx, the general path 0x%llx\n",
               (unsigned long long)(fast_sum / rounds), (unsigned long long)(sum / rounds));
        return 1;
    }
    printf("mmio_replay: %u rounds, value 0x%llx\n", rounds, (unsigned long long)(sum / rounds));
    return sum / rounds == DEV_VALUE ? 0 : 1;
}
