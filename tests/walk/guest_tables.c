/* Test support for tests/walk: see guest_tables.h. */
#include "tests/walk/guest_tables.h"

#include <stdlib.h>
#include <string.h>

static bool ram_ok(const struct guest_ram *ram, uint64_t gpa, size_t len)
{
    if (gpa >= GUEST_RAM_SIZE || len > GUEST_RAM_SIZE - gpa)
        return false;
    if (gpa < ram->refuse_hi && gpa + len > ram->refuse_lo)
        return false;
    return true;
}

static bool ram_read(void *ctx, uint64_t gpa, void *buf, size_t len)
{
    struct guest_ram *ram = ctx;
    if (!ram_ok(ram, gpa, len))
        return false;
    memcpy(buf, ram->bytes + gpa, len);
    return true;
}

static bool ram_write(void *ctx, uint64_t gpa, const void *buf, size_t len)
{
    struct guest_ram *ram = ctx;
    if (!ram_ok(ram, gpa, len))
        return false;
    memcpy(ram->bytes + gpa, buf, len);
    ram->writes++;
    return true;
}

struct guest_mem guest_ram_init(struct guest_ram *ram, bool writable)
{
    ram->bytes = calloc(1, GUEST_RAM_SIZE);
    ram->next_table = 1u << 20;
    ram->writes = 0;
    ram->refuse_lo = ram->refuse_hi = 0;
    return (struct guest_mem){
        .read_gpa = ram_read, .write_gpa = writable ? ram_write : NULL, .ctx = ram};
}

void guest_ram_free(struct guest_ram *ram)
{
    free(ram->bytes);
    ram->bytes = NULL;
}

uint64_t guest_ram_table(struct guest_ram *ram)
{
    uint64_t t = ram->next_table;
    ram->next_table += 4096;
    memset(ram->bytes + t, 0, 4096);
    return t;
}

uint64_t guest_ram_rd64(const struct guest_ram *ram, uint64_t gpa)
{
    uint64_t v;
    memcpy(&v, ram->bytes + gpa, 8);
    return v;
}

void guest_ram_wr64(struct guest_ram *ram, uint64_t gpa, uint64_t v)
{
    memcpy(ram->bytes + gpa, &v, 8);
}

uint32_t guest_ram_rd32(const struct guest_ram *ram, uint64_t gpa)
{
    uint32_t v;
    memcpy(&v, ram->bytes + gpa, 4);
    return v;
}

void guest_ram_wr32(struct guest_ram *ram, uint64_t gpa, uint32_t v)
{
    memcpy(ram->bytes + gpa, &v, 4);
}

uint64_t guest_tables_root(struct guest_ram *ram)
{
    return guest_ram_table(ram);
}

static unsigned top_level(enum paging_mode mode)
{
    switch (mode) {
    case PAGING_5LEVEL:
        return 5;
    case PAGING_4LEVEL:
        return 4;
    case PAGING_PAE:
        return 3;
    default:
        return 2;
    }
}

static unsigned entry_size(enum paging_mode mode)
{
    return mode == PAGING_32BIT ? 4 : 8;
}

static uint64_t index_of(enum paging_mode mode, uint64_t la, unsigned level)
{
    if (mode == PAGING_32BIT)
        return (la >> (level == 2 ? 22 : 12)) & 0x3FF;
    if (mode == PAGING_PAE && level == 3)
        return (la >> 30) & 3;
    return (la >> (12 + 9 * (level - 1))) & 0x1FF;
}

static uint64_t rd(const struct guest_ram *ram, enum paging_mode mode, uint64_t gpa)
{
    return entry_size(mode) == 4 ? guest_ram_rd32(ram, gpa) : guest_ram_rd64(ram, gpa);
}

static void wr(struct guest_ram *ram, enum paging_mode mode, uint64_t gpa, uint64_t v)
{
    if (entry_size(mode) == 4)
        guest_ram_wr32(ram, gpa, (uint32_t)v);
    else
        guest_ram_wr64(ram, gpa, v);
}

static uint64_t table_of(enum paging_mode mode, uint64_t entry)
{
    return mode == PAGING_32BIT ? (entry & 0xFFFFF000u) : (entry & 0x000FFFFFFFFFF000ull);
}

uint64_t guest_entry_gpa(const struct guest_ram *ram, enum paging_mode mode, uint64_t cr3,
                         uint64_t la, unsigned level)
{
    uint64_t table = mode == PAGING_PAE ? (cr3 & 0xFFFFFFE0u) : (cr3 & ~0xFFFull);
    for (unsigned l = top_level(mode);; l--) {
        const uint64_t gpa = table + index_of(mode, la, l) * entry_size(mode);
        if (l == level)
            return gpa;
        table = table_of(mode, rd(ram, mode, gpa));
    }
}

void guest_map(struct guest_ram *ram, enum paging_mode mode, uint64_t cr3, uint64_t la,
               uint64_t gpa, uint64_t page_size, uint64_t leaf_flags)
{
    unsigned leaf_level = page_size == 4096 ? 1 : page_size == (1ull << 30) ? 3 : 2;
    uint64_t table = mode == PAGING_PAE ? (cr3 & 0xFFFFFFE0u) : (cr3 & ~0xFFFull);
    for (unsigned l = top_level(mode);; l--) {
        const uint64_t egpa = table + index_of(mode, la, l) * entry_size(mode);
        if (l == leaf_level) {
            uint64_t addr = gpa;
            if (mode == PAGING_32BIT && leaf_level == 2) /* PSE-36: bits 39:32 in 20:13 */
                addr = (gpa & 0xFFC00000u) | (((gpa >> 32) & 0xFF) << 13);
            wr(ram, mode, egpa, addr | leaf_flags | (leaf_level > 1 ? E_PS : 0));
            return;
        }
        uint64_t e = rd(ram, mode, egpa);
        if (!(e & E_P)) {
            e = guest_ram_table(ram) | (mode == PAGING_PAE && l == 3 ? E_P : E_ALL);
            wr(ram, mode, egpa, e);
        }
        table = table_of(mode, e);
    }
}

uint64_t guest_entry(const struct guest_ram *ram, enum paging_mode mode, uint64_t cr3, uint64_t la,
                     unsigned level)
{
    return rd(ram, mode, guest_entry_gpa(ram, mode, cr3, la, level));
}

void guest_entry_change(struct guest_ram *ram, enum paging_mode mode, uint64_t cr3, uint64_t la,
                        unsigned level, uint64_t set, uint64_t clear)
{
    const uint64_t gpa = guest_entry_gpa(ram, mode, cr3, la, level);
    wr(ram, mode, gpa, (rd(ram, mode, gpa) & ~clear) | set);
}
