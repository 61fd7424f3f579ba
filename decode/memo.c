/* The decoded-instruction memo (decode/memo.h). */
#include "decode/memo.h"

_Static_assert(X86_MAX_INSN_LEN == 15, "two overlapping 8-byte words cover the buffer");

enum x86_decode_status insn_memo_fill(struct insn_memo *memo, uint64_t key,
                                      const uint8_t bytes[X86_MAX_INSN_LEN], enum x86_mode mode,
                                      const struct x86_insn **out)
{
    struct insn_memo_entry *e = insn_memo_slot(memo, key);
    /* Decode into the slot; it holds an instruction only when the decode succeeded. */
    e->valid = false;
    __builtin_memset(&e->insn, 0, sizeof e->insn);
    enum x86_decode_status st = x86_decode(bytes, X86_MAX_INSN_LEN, mode, &e->insn);
    if (st != X86_DECODE_OK)
        return st;
    __builtin_memcpy(&e->bytes_lo, bytes, 8);
    __builtin_memcpy(&e->bytes_hi, bytes + 7, 8);
    e->mode = (uint8_t)mode;
    e->valid = true;
    *out = &e->insn;
    return X86_DECODE_OK;
}
