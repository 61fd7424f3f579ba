/* The decoded-instruction memo (decode/memo.h). */
#include "decode/memo.h"

_Static_assert(X86_MAX_INSN_LEN == 15, "two overlapping 8-byte words cover the buffer");

static inline uint64_t load64(const uint8_t *p)
{
    uint64_t v;
    __builtin_memcpy(&v, p, sizeof v);
    return v;
}

enum x86_decode_status insn_memo_decode(struct insn_memo *memo, uint64_t key,
                                        const uint8_t bytes[X86_MAX_INSN_LEN], enum x86_mode mode,
                                        const struct x86_insn **out)
{
    const uint64_t lo = load64(bytes), hi = load64(bytes + 7);
    struct insn_memo_entry *e = &memo->slot[(key ^ (key >> 5)) & (INSN_MEMO_SLOTS - 1)];
    if (e->valid && e->bytes_lo == lo && e->bytes_hi == hi && e->mode == (uint8_t)mode) {
        *out = &e->insn;
        return X86_DECODE_OK;
    }
    /* Decode into the slot; it holds an instruction only when the decode succeeded. */
    e->valid = false;
    __builtin_memset(&e->insn, 0, sizeof e->insn);
    enum x86_decode_status st = x86_decode(bytes, X86_MAX_INSN_LEN, mode, &e->insn);
    if (st != X86_DECODE_OK)
        return st;
    e->bytes_lo = lo;
    e->bytes_hi = hi;
    e->mode = (uint8_t)mode;
    e->valid = true;
    *out = &e->insn;
    return X86_DECODE_OK;
}
