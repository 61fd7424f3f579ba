/* Test support: a guest-physical memory in a host buffer and a builder for the page tables
 * of every paging mode, so walk and fetch tests can set up exactly the mapping they need
 * and then flip single bits in single entries. */
#ifndef TRAPVISOR_TESTS_WALK_GUEST_TABLES_H
#define TRAPVISOR_TESTS_WALK_GUEST_TABLES_H

#include <stdbool.h>
#include <stdint.h>

#include "decode/walk.h"

#define GUEST_RAM_SIZE (16u << 20) /* guest-physical 0 .. 16 MiB is RAM; above is not */

struct guest_ram {
    uint8_t *bytes;
    uint64_t next_table;           /* bump allocator for paging structures */
    unsigned writes;               /* calls to write_gpa that succeeded */
    uint64_t refuse_lo, refuse_hi; /* [lo, hi): reads and writes refused (e.g. "MMIO") */
};

/* Fresh zeroed RAM (tables from 1 MiB up); returns the guest_mem that reads it. With
 * `writable` false, write_gpa is NULL (no A/D updates). */
struct guest_mem guest_ram_init(struct guest_ram *ram, bool writable);
void guest_ram_free(struct guest_ram *ram);

uint64_t guest_ram_table(struct guest_ram *ram); /* a zeroed 4 KiB table */
uint64_t guest_ram_rd64(const struct guest_ram *ram, uint64_t gpa);
void guest_ram_wr64(struct guest_ram *ram, uint64_t gpa, uint64_t v);
uint32_t guest_ram_rd32(const struct guest_ram *ram, uint64_t gpa);
void guest_ram_wr32(struct guest_ram *ram, uint64_t gpa, uint32_t v);

/* Entry bits for building tables. */
#define E_P   (1ull << 0)
#define E_RW  (1ull << 1)
#define E_US  (1ull << 2)
#define E_A   (1ull << 5)
#define E_D   (1ull << 6)
#define E_PS  (1ull << 7)
#define E_XD  (1ull << 63)
#define E_ALL (E_P | E_RW | E_US)

/* Level numbers: 1 PTE, 2 PDE, 3 PDPTE, 4 PML4E, 5 PML5E. */

/* The root for `mode` (CR3 value): a PML5/PML4 table, the PAE PDPT or the 32-bit page
 * directory. */
uint64_t guest_tables_root(struct guest_ram *ram);

/* Maps linear `la` to `gpa` with a page of `page_size` (4K, 2M/4M, 1G). Upper entries get
 * P|RW|US (PAE PDPTEs: P only); the leaf gets `leaf_flags` (PS added for large pages). */
void guest_map(struct guest_ram *ram, enum paging_mode mode, uint64_t cr3, uint64_t la,
               uint64_t gpa, uint64_t page_size, uint64_t leaf_flags);

/* Guest-physical address of the entry at `level` that translates `la` (the tables must
 * exist down to that level). */
uint64_t guest_entry_gpa(const struct guest_ram *ram, enum paging_mode mode, uint64_t cr3,
                         uint64_t la, unsigned level);

/* Read-modify-write one entry: entry = (entry & ~clear) | set. */
void guest_entry_change(struct guest_ram *ram, enum paging_mode mode, uint64_t cr3, uint64_t la,
                        unsigned level, uint64_t set, uint64_t clear);
uint64_t guest_entry(const struct guest_ram *ram, enum paging_mode mode, uint64_t cr3, uint64_t la,
                     unsigned level);

#endif
