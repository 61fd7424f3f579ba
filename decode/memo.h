/* A per-CPU memo of decoded instructions for the MMIO fast path.
 *
 * Decoding is a pure function of the instruction bytes and the mode (decode/decode.h): the
 * same 15 fetched bytes in the same mode always decode to the same struct x86_insn. Drivers
 * access device registers from a few instructions executed again and again (a status poll, a
 * doorbell write), so the MMIO path keeps the last decoded instruction per slot and reuses it
 * when the bytes it just fetched are the ones it decoded before. The slot is chosen by the
 * caller (the MMIO path uses RIP), but only the bytes and the mode decide a hit, so a wrong or
 * colliding slot costs a decode, never a wrong answer. Only successful decodes are kept.
 *
 * One memo belongs to one CPU (no locking). Pure C: no allocation, no libc. */
#ifndef TRAPVISOR_DECODE_MEMO_H
#define TRAPVISOR_DECODE_MEMO_H

#include <stdbool.h>
#include <stdint.h>

#include "decode/decode.h"

#define INSN_MEMO_SLOTS 8u /* a power of two */

struct insn_memo_entry {
    uint64_t bytes_lo; /* bytes 0-7 of the instruction buffer */
    uint64_t bytes_hi; /* bytes 7-14 (overlapping: 15 bytes in two words) */
    uint8_t mode;      /* enum x86_mode */
    bool valid;
    struct x86_insn insn;
};

struct insn_memo {
    struct insn_memo_entry slot[INSN_MEMO_SLOTS];
};

/* The slot `key` picks (the MMIO path's key is RIP: the low bits and bits 5 and up mixed, so
 * instructions a few bytes apart and a few cache lines apart land in different slots). */
static inline struct insn_memo_entry *insn_memo_slot(struct insn_memo *memo, uint64_t key)
{
    return &memo->slot[(key ^ (key >> 5)) & (INSN_MEMO_SLOTS - 1)];
}

/* Decodes into the slot of `key` (x86_decode(bytes, X86_MAX_INSN_LEN, mode, ...)) and keeps
 * the result when it is X86_DECODE_OK; insn_memo_decode's miss path. */
enum x86_decode_status insn_memo_fill(struct insn_memo *memo, uint64_t key,
                                      const uint8_t bytes[X86_MAX_INSN_LEN], enum x86_mode mode,
                                      const struct x86_insn **out);

/* x86_decode(bytes, X86_MAX_INSN_LEN, mode, ...) through the memo: the same status, and on
 * X86_DECODE_OK *out points to an instruction equal to what x86_decode gives (valid until the
 * next call with this memo). `key` picks the slot. A zeroed memo is empty. The hit is inline:
 * it runs on every MMIO exit. */
static inline enum x86_decode_status insn_memo_decode(struct insn_memo *memo, uint64_t key,
                                                      const uint8_t bytes[X86_MAX_INSN_LEN],
                                                      enum x86_mode mode,
                                                      const struct x86_insn **out)
{
    uint64_t lo, hi;
    __builtin_memcpy(&lo, bytes, 8);
    __builtin_memcpy(&hi, bytes + 7, 8);
    const struct insn_memo_entry *e = insn_memo_slot(memo, key);
    if (e->valid & (e->bytes_lo == lo) & (e->bytes_hi == hi) & (e->mode == (uint8_t)mode)) {
        *out = &e->insn;
        return X86_DECODE_OK;
    }
    return insn_memo_fill(memo, key, bytes, mode, out);
}

#endif
