/* A small guest-physical memory with one 4-level mapping chain, for the host replays and
 * callgrind drivers of the MMIO path (tests/perf/mmio_replay.c, tests/walk/perf_fetch.c):
 * PML4 at 0x1000, PDPT 0x2000, PD 0x3000, PT 0x4000, data pages from 0x5000. Each including
 * file gets its own copy. */
#ifndef TRAPVISOR_TESTS_SUPPORT_REPLAY_GUEST_H
#define TRAPVISOR_TESTS_SUPPORT_REPLAY_GUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define REPLAY_GUEST_PAGES 8
static uint8_t replay_guest[REPLAY_GUEST_PAGES * 4096] __attribute__((aligned(4096)));

static inline bool replay_gpa_read(void *ctx, uint64_t gpa, void *buf, size_t len)
{
    (void)ctx;
    if (gpa + len > sizeof replay_guest || gpa + len < gpa)
        return false;
    memcpy(buf, replay_guest + gpa, len);
    return true;
}

static inline bool replay_gpa_write(void *ctx, uint64_t gpa, const void *buf, size_t len)
{
    (void)ctx;
    if (gpa + len > sizeof replay_guest || gpa + len < gpa)
        return false;
    memcpy(replay_guest + gpa, buf, len);
    return true;
}

static inline void replay_put64(uint64_t gpa, uint64_t v)
{
    memcpy(replay_guest + gpa, &v, 8);
}

/* Maps the 4 KiB page at `la` to `gpa` through the fixed chain, every entry with `flags`
 * (e.g. 0x7 = P, RW, US; 0x27 adds A). */
static inline void replay_map(uint64_t la, uint64_t gpa, uint64_t flags)
{
    replay_put64(0x1000 + ((la >> 39) & 511) * 8, 0x2000 | flags);
    replay_put64(0x2000 + ((la >> 30) & 511) * 8, 0x3000 | flags);
    replay_put64(0x3000 + ((la >> 21) & 511) * 8, 0x4000 | flags);
    replay_put64(0x4000 + ((la >> 12) & 511) * 8, gpa | flags);
}

#endif
