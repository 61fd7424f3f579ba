/* decode/memo: insn_memo_decode answers exactly as x86_decode (status and every field) for
 * buffers that repeat (hits), that differ in any byte (misses), that collide in a slot, that
 * change mode, and that do not decode (never kept). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "decode/memo.h"
#include "tests/support/rng.h"

static uint64_t rng_state = 0x243F6A8885A308D3ull;
static uint64_t rng(void)
{
    return xorshift64(&rng_state);
}

/* Common device-access encodings plus random bytes, so decodes succeed and fail. */
static void make_buffer(uint8_t b[15], unsigned kind)
{
    static const uint8_t forms[][4] = {
        {0x8b, 0x43, 0x10}, {0x89, 0x0c, 0x25}, {0xc7, 0x05}, {0x44, 0x8b, 0x04, 0x24},
        {0x0f, 0xb6, 0x47}, {0x66, 0x89, 0x07}, {0xa1},       {0xf0, 0x01, 0x03}};
    for (unsigned i = 0; i < 15; i++)
        b[i] = (uint8_t)rng();
    if (kind % 3 != 2)
        memcpy(b, forms[rng() % 8], 4);
}

static void check_against_decode(struct insn_memo *memo, uint64_t key, const uint8_t b[15],
                                 enum x86_mode mode, unsigned *hits_ok)
{
    struct x86_insn want;
    memset(&want, 0, sizeof want);
    enum x86_decode_status want_st = x86_decode(b, 15, mode, &want);
    const struct insn_memo_entry *slot = insn_memo_slot(memo, key);
    bool was_hit = slot->valid && memcmp(&slot->bytes_lo, b, 8) == 0 &&
                   memcmp(&slot->bytes_hi, b + 7, 8) == 0 && slot->mode == (uint8_t)mode;
    const struct x86_insn *got = NULL;
    enum x86_decode_status st = insn_memo_decode(memo, key, b, mode, &got);
    assert_int_equal(st, want_st);
    if (st == X86_DECODE_OK) {
        assert_non_null(got);
        assert_memory_equal(got, &want, sizeof want);
        *hits_ok += was_hit;
    }
}

static void memo_answers_as_x86_decode_for_repeated_changed_and_colliding_buffers(void **state)
{
    (void)state;
    static struct insn_memo memo;
    memset(&memo, 0, sizeof memo);
    uint8_t pool[32][15];
    for (unsigned i = 0; i < 32; i++)
        make_buffer(pool[i], i);
    unsigned hits = 0;
    for (unsigned n = 0; n < 200000; n++) {
        uint64_t r = rng();
        uint8_t b[15];
        memcpy(b, pool[r % 32], 15);
        if ((r >> 8) % 16 == 0)
            b[(r >> 12) % 15] ^= (uint8_t)(1u << ((r >> 16) % 8)); /* one bit differs */
        /* The key is the buffer's "RIP" (32 buffers on 8 slots: collisions), sometimes any. */
        uint64_t key = (r >> 20) % 8 == 0 ? (r >> 24) % 64 : r % 32;
        enum x86_mode mode = (r >> 30) % 8 == 0 ? X86_MODE_32 : X86_MODE_64;
        check_against_decode(&memo, key, b, mode, &hits);
    }
    assert_true(hits > 10000); /* the memo did answer, and correctly */
}

static void memo_keeps_no_failed_decode(void **state)
{
    (void)state;
    static struct insn_memo memo;
    memset(&memo, 0, sizeof memo);
    uint8_t ok[15] = {0x8b, 0x43, 0x10}, bad[15] = {0x0f, 0x0b}; /* UD2: not a device access */
    const struct x86_insn *got;
    assert_int_equal(insn_memo_decode(&memo, 1, ok, X86_MODE_64, &got), X86_DECODE_OK);
    assert_int_not_equal(insn_memo_decode(&memo, 1, bad, X86_MODE_64, &got), X86_DECODE_OK);
    assert_false(insn_memo_slot(&memo, 1)->valid);
    assert_int_not_equal(insn_memo_decode(&memo, 1, bad, X86_MODE_64, &got), X86_DECODE_OK);
    assert_int_equal(insn_memo_decode(&memo, 1, ok, X86_MODE_64, &got), X86_DECODE_OK);
    assert_int_equal(got->len, 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(memo_answers_as_x86_decode_for_repeated_changed_and_colliding_buffers),
        cmocka_unit_test(memo_keeps_no_failed_decode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
