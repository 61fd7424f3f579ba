/* Host timing of the guest page walk and instruction fetch (`make bench-walk`): 4-level
 * paging, 4 KiB pages, accessed/dirty already set, guest memory in a host buffer. Prints
 * CPU time per call (process CPU time, so other load on the machine matters less). */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "decode/fetch.h"
#include "tests/walk/guest_tables.h"

static double cpu_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

int main(void)
{
    struct guest_ram ram;
    struct guest_mem mem = guest_ram_init(&ram, true);
    const uint64_t cr3 = guest_tables_root(&ram);
    const uint64_t page_end = 0xFFFFFFFF80001FF8ull; /* 8 bytes before a page boundary */
    guest_map(&ram, PAGING_4LEVEL, cr3, page_end, 0x9000, 4096, E_ALL | E_A | E_D);
    guest_map(&ram, PAGING_4LEVEL, cr3, page_end + 8, 0xA000, 4096, E_ALL | E_A | E_D);
    for (unsigned l = 2; l <= 4; l++)
        guest_entry_change(&ram, PAGING_4LEVEL, cr3, page_end, l, E_A, 0);
    const struct guest_paging pg = {.cr0 = CR0_PE | CR0_PG | CR0_WP,
                                    .cr3 = cr3,
                                    .cr4 = CR4_PAE,
                                    .efer = EFER_LME | EFER_LMA | EFER_NXE,
                                    .maxphyaddr = 40};
    const struct fetch_cs cs = {.ar = 0xA09B};
    struct walk_result r;
    struct fetch_result f;
    const int n = 1000000;
    volatile uint64_t sink = 0;

    double t0 = cpu_ns();
    for (int i = 0; i < n; i++) {
        walk_translate(&pg, &mem, page_end - 0x100 + (i & 7), WALK_READ, 0, &r);
        sink += r.gpa;
    }
    double t1 = cpu_ns();
    for (int i = 0; i < n; i++) {
        fetch_insn(&pg, &mem, &cs, page_end - 0x100, &f);
        sink += f.len;
    }
    double t2 = cpu_ns();
    for (int i = 0; i < n; i++) {
        fetch_insn(&pg, &mem, &cs, page_end, &f);
        sink += f.len;
    }
    double t3 = cpu_ns();
    /* The fast paths over a direct view of the same memory. */
    struct guest_mem view = mem;
    view.direct = true;
    view.direct_va = (uintptr_t)ram.bytes;
    view.direct_limit = GUEST_RAM_SIZE;
    uint8_t out[FETCH_MAX_BYTES];
    for (int i = 0; i < n; i++)
        sink += fetch_insn_fast(&pg, &view, &cs, page_end - 0x100, out);
    double t4 = cpu_ns();
    struct fetch_cache cache;
    fetch_cache_bind(&cache, &view, pg.maxphyaddr, pg.no_1g_pages);
    for (int i = 0; i < n; i++)
        sink += fetch_insn_bound(&cache, &pg, &cs, page_end - 0x100, out);
    double t5 = cpu_ns();
    /* Under a second root (a copy of the PML4, with a PCID): the cache keeps the first root's
     * walk and answers through the other-root check. */
    const uint64_t copy = guest_tables_root(&ram);
    memcpy(ram.bytes + copy, ram.bytes + cr3, 4096);
    struct guest_paging other = pg;
    other.cr3 = copy | 1;
    for (int i = 0; i < n; i++)
        sink += fetch_insn_bound(&cache, &other, &cs, page_end - 0x100, out);
    double t6 = cpu_ns();
    printf("walk: walk_translate 4-level 4K read  %6.1f ns\n", (t1 - t0) / n);
    printf("walk: fetch_insn 15 bytes, one page    %6.1f ns\n", (t2 - t1) / n);
    printf("walk: fetch_insn across a page boundary %5.1f ns\n", (t3 - t2) / n);
    printf("walk: fetch_insn_fast 15 bytes, one page %5.1f ns\n", (t4 - t3) / n);
    printf("walk: fetch_insn_bound, warm           %6.1f ns\n", (t5 - t4) / n);
    printf("walk: fetch_insn_bound, another root   %6.1f ns\n", (t6 - t5) / n);
    guest_ram_free(&ram);
    return sink == 0; /* keeps the loops; never 0 here */
}
