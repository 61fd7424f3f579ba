/* libFuzzer: x86_decode() (with its MOV fast path) against x86_decode_general() on arbitrary
 * bytes. Input: byte 0 selects the mode (mod 3), the rest is the instruction window, decoded
 * from an exact-size heap copy (AddressSanitizer catches any read past it). Any difference in
 * status or in a field aborts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "decode/decode.h"

static int insn_equal(const struct x86_insn *a, const struct x86_insn *b)
{
    return a->len == b->len && a->mode == b->mode && a->op == b->op && a->alu == b->alu &&
           a->access == b->access && a->access_size == b->access_size &&
           a->operand_size == b->operand_size && a->address_size == b->address_size &&
           a->src == b->src && a->mem_is_dst == b->mem_is_dst && a->reg == b->reg &&
           a->reg_high8 == b->reg_high8 && a->rm_reg == b->rm_reg && a->rm_high8 == b->rm_high8 &&
           a->imm == b->imm && a->mem.seg == b->mem.seg && a->mem.base == b->mem.base &&
           a->mem.index == b->mem.index && a->mem.scale == b->mem.scale &&
           a->mem.rip_rel == b->mem.rip_rel && a->mem.absolute == b->mem.absolute &&
           a->mem.disp == b->mem.disp && a->rep == b->rep && a->lock == b->lock &&
           a->sse_zero_upper == b->sse_zero_upper && a->align == b->align &&
           a->prefix_count == b->prefix_count && a->rex == b->rex;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    const enum x86_mode mode = (enum x86_mode)(data[0] % 3);
    const size_t len = size - 1 > 32 ? 32 : size - 1;
    uint8_t *copy = malloc(len);
    if (!copy)
        return 0;
    memcpy(copy, data + 1, len);
    struct x86_insn fast, general;
    memset(&fast, 0, sizeof fast);
    memset(&general, 0, sizeof general);
    enum x86_decode_status sf = x86_decode(copy, len, mode, &fast);
    enum x86_decode_status sg = x86_decode_general(copy, len, mode, &general);
    free(copy);
    if (sf != sg || !insn_equal(&fast, &general))
        abort();
    return 0;
}
