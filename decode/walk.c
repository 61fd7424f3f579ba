/* Guest page walk (decode/walk.h). SDM Vol. 3A, chapter 4 "Paging":
 *   4.3  32-bit paging (Tables 4-4..4-6: PDE for 4 MiB pages, PDE, PTE)
 *   4.4  PAE paging (Table 4-8 PDPTE; 4-9..4-11 PDE 2 MiB, PDE, PTE)
 *   4.5  4-level and 5-level paging (Tables 4-14..4-20), canonical addresses (4.5.1)
 *   4.6  access rights; 4.7 page-fault error code; 4.8 accessed and dirty flags. */
#include "decode/walk.h"

/* Paging-structure entry bits common to all modes. */
#define PTE_P  (1ull << 0)
#define PTE_RW (1ull << 1)
#define PTE_US (1ull << 2)
#define PTE_A  (1ull << 5)
#define PTE_D  (1ull << 6)
#define PTE_PS (1ull << 7)
#define PTE_XD (1ull << 63)

#define MAX_LEVELS 5

enum paging_mode paging_mode_of(uint64_t cr0, uint64_t cr4, uint64_t efer)
{
    if (!(cr0 & CR0_PG))
        return PAGING_NONE;
    if (!(cr4 & CR4_PAE))
        return PAGING_32BIT;
    if (!(efer & EFER_LME))
        return PAGING_PAE;
    return (cr4 & CR4_LA57) ? PAGING_5LEVEL : PAGING_4LEVEL;
}

/* The entries a translation used, so A/D can be set once it is known to succeed. */
struct walk_path {
    unsigned count;
    uint64_t gpa[MAX_LEVELS];
    uint64_t entry[MAX_LEVELS];
    bool has_ad[MAX_LEVELS]; /* PAE PDPTEs have no accessed flag */
    bool all_accessed;       /* every entry with has_ad already has A set (else: unknown) */
};

static bool read_entry(const struct guest_mem *mem, uint64_t gpa, unsigned size, uint64_t *val)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    /* Paging entries are little-endian like the host: read them straight into the value
     * (no byte loop; this runs for every level of every walk on the exit path). */
    uint64_t v = 0;
    if (!mem->read_gpa(mem->ctx, gpa, &v, size))
        return false;
#else
    uint8_t b[8];
    if (!mem->read_gpa(mem->ctx, gpa, b, size))
        return false;
    uint64_t v = 0;
    for (unsigned i = 0; i < size; i++)
        v |= (uint64_t)b[i] << (8 * i);
#endif
    *val = v;
    return true;
}

static unsigned effective_maxphyaddr(const struct guest_paging *pg)
{
    unsigned m = pg->maxphyaddr;
    if (m == 0 || m > 52)
        return 52;
    return m < 32 ? 32 : m;
}

/* Bits M..hi (inclusive) as a mask: the "reserved above MAXPHYADDR" bits. */
static uint64_t bits_from_to(unsigned lo, unsigned hi)
{
    if (lo > hi)
        return 0;
    uint64_t upto = hi >= 63 ? ~0ull : (1ull << (hi + 1)) - 1;
    return upto & ~((1ull << lo) - 1);
}

static bool user_access(const struct guest_paging *pg, unsigned flags)
{
    return pg->cpl == 3 && !(flags & WALK_IMPLICIT_SUPERVISOR);
}

/* The error-code bits describing the access itself (SDM Vol. 3A, 4.7). I/D is reported only
 * when SMEP is on, or with PAE/4-level/5-level paging and NXE on. */
static uint32_t access_error_bits(const struct guest_paging *pg, enum walk_access access,
                                  unsigned flags)
{
    uint32_t e = 0;
    if (access == WALK_WRITE)
        e |= PF_ERR_W;
    if (user_access(pg, flags))
        e |= PF_ERR_U;
    if (access == WALK_FETCH &&
        ((pg->cr4 & CR4_SMEP) || ((pg->cr4 & CR4_PAE) && (pg->efer & EFER_NXE))))
        e |= PF_ERR_I;
    return e;
}

static enum walk_status fault_pf(struct walk_result *out, uint64_t la, uint32_t error_code)
{
    out->status = WALK_PF;
    out->error_code = error_code;
    out->fault_addr = la;
    return WALK_PF;
}

static enum walk_status fault_gp_or_ss(struct walk_result *out, uint64_t la, unsigned flags)
{
    out->status = (flags & WALK_STACK) ? WALK_SS : WALK_GP;
    out->error_code = 0;
    out->fault_addr = la;
    return out->status;
}

static enum walk_status bad_gpa(struct walk_result *out, uint64_t gpa)
{
    out->status = WALK_BAD_GPA;
    out->bad_gpa = gpa;
    return WALK_BAD_GPA;
}

/* Access rights once the walk found a present, well-formed mapping (SDM Vol. 3A, 4.6.1).
 * Returns true when the access is allowed. */
static bool access_allowed(const struct guest_paging *pg, enum walk_access access, unsigned flags,
                           bool writable, bool user_page, bool executable)
{
    if (user_access(pg, flags)) {
        if (!user_page)
            return false;
        if (access == WALK_WRITE && !writable)
            return false;
        if (access == WALK_FETCH && !executable)
            return false;
        return true;
    }
    if (access == WALK_FETCH) {
        if (user_page && (pg->cr4 & CR4_SMEP))
            return false;
        return executable;
    }
    /* Supervisor data access. SMAP: no user-mode addresses, except that RFLAGS.AC = 1
     * lifts it for explicit accesses (CPL < 3, not implicit); implicit supervisor accesses
     * never get past it (SDM Vol. 3A, 4.6.1 "Data reads/writes"; STAC in Vol. 2B). */
    const bool explicit_access = pg->cpl < 3 && !(flags & WALK_IMPLICIT_SUPERVISOR);
    if (user_page && (pg->cr4 & CR4_SMAP) && !(explicit_access && (pg->rflags & RFLAGS_AC_BIT)))
        return false;
    if (access == WALK_WRITE && (pg->cr0 & CR0_WP) && !writable)
        return false;
    return true;
}

/* Sets A in every entry used and D in the leaf for a write (SDM Vol. 3A, 4.8). Only byte 0
 * of an entry holds A (bit 5) and D (bit 6). */
static bool set_accessed_dirty(const struct guest_mem *mem, const struct walk_path *path,
                               bool write, uint64_t *failed_gpa)
{
    if (!mem->write_gpa)
        return true;
    /* The common case: the CPU or an earlier walk set every A already; only a write may
     * still need the leaf's D. */
    if (path->all_accessed && path->count && (!write || (path->entry[path->count - 1] & PTE_D)))
        return true;
    for (unsigned i = 0; i < path->count; i++) {
        if (!path->has_ad[i])
            continue;
        uint64_t want = PTE_A;
        if (write && i == path->count - 1)
            want |= PTE_D;
        if ((path->entry[i] & want) == want)
            continue;
        uint8_t b0 = (uint8_t)((path->entry[i] | want) & 0xFF);
        if (!mem->write_gpa(mem->ctx, path->gpa[i], &b0, 1)) {
            *failed_gpa = path->gpa[i];
            return false;
        }
    }
    return true;
}

/* The common tail: check rights, set A/D, fill the result. */
static enum walk_status finish(const struct guest_paging *pg, const struct guest_mem *mem,
                               uint64_t la, enum walk_access access, unsigned flags,
                               const struct walk_path *path, uint64_t gpa, uint64_t page_size,
                               bool writable, bool user_page, bool executable,
                               struct walk_result *out)
{
    if (!access_allowed(pg, access, flags, writable, user_page, executable))
        return fault_pf(out, la, PF_ERR_P | access_error_bits(pg, access, flags));
    uint64_t failed;
    if (!set_accessed_dirty(mem, path, access == WALK_WRITE, &failed))
        return bad_gpa(out, failed);
    out->status = WALK_OK;
    out->gpa = gpa;
    out->page_size = page_size;
    out->writable = writable;
    out->user = user_page;
    out->executable = executable;
    return WALK_OK;
}

/* 32-bit paging (SDM Vol. 3A, 4.3). Entries are 4 bytes; no execute-disable. */
static enum walk_status walk_32bit(const struct guest_paging *pg, const struct guest_mem *mem,
                                   uint64_t la, enum walk_access access, unsigned flags,
                                   struct walk_result *out)
{
    const uint32_t err = access_error_bits(pg, access, flags);
    struct walk_path path = {0};
    uint64_t pde_gpa = (pg->cr3 & 0xFFFFF000u) + ((la >> 22) & 0x3FF) * 4;
    uint64_t pde;
    if (!read_entry(mem, pde_gpa, 4, &pde))
        return bad_gpa(out, pde_gpa);
    if (!(pde & PTE_P))
        return fault_pf(out, la, err);
    path.gpa[0] = pde_gpa;
    path.entry[0] = pde;
    path.has_ad[0] = true;
    path.count = 1;

    if ((pde & PTE_PS) && (pg->cr4 & CR4_PSE)) {
        /* 4 MiB page (Table 4-4): bits 20:13 hold physical bits 39:32 (PSE-36), limited
         * to MAXPHYADDR (at most 40 here); bit 21 and the bits above are reserved. */
        unsigned m = effective_maxphyaddr(pg);
        if (m > 40)
            m = 40;
        const uint64_t high = (pde >> 13) & 0xFF;
        if ((pde & (1ull << 21)) || (high >> (m - 32)) != 0)
            return fault_pf(out, la, PF_ERR_P | PF_ERR_RSVD | err);
        const uint64_t base = (pde & 0xFFC00000u) | (high << 32);
        return finish(pg, mem, la, access, flags, &path, base | (la & 0x3FFFFF), 1ull << 22,
                      pde & PTE_RW, pde & PTE_US, true, out);
    }

    uint64_t pte_gpa = (pde & 0xFFFFF000u) + ((la >> 12) & 0x3FF) * 4;
    uint64_t pte;
    if (!read_entry(mem, pte_gpa, 4, &pte))
        return bad_gpa(out, pte_gpa);
    if (!(pte & PTE_P))
        return fault_pf(out, la, err);
    path.gpa[1] = pte_gpa;
    path.entry[1] = pte;
    path.has_ad[1] = true;
    path.count = 2;
    return finish(pg, mem, la, access, flags, &path, (pte & 0xFFFFF000u) | (la & 0xFFF), 4096,
                  (pde & pte & PTE_RW) != 0, (pde & pte & PTE_US) != 0, true, out);
}

/* PAE, 4-level and 5-level paging (SDM Vol. 3A, 4.4 and 4.5). Entries are 8 bytes. */
static enum walk_status walk_64bit_entries(const struct guest_paging *pg,
                                           const struct guest_mem *mem, enum paging_mode mode,
                                           uint64_t la, enum walk_access access, unsigned flags,
                                           struct walk_result *out)
{
    const uint32_t err = access_error_bits(pg, access, flags);
    const uint32_t rsvd_err = PF_ERR_P | PF_ERR_RSVD | err;
    const unsigned m = effective_maxphyaddr(pg);
    const bool nxe = (pg->efer & EFER_NXE) != 0;
    const uint64_t addr_mask = bits_from_to(12, m - 1);
    /* Reserved above MAXPHYADDR: PAE reserves bits 62:M, IA-32e paging bits 51:M (52-62 are
     * ignored or protection keys). Bit 63 (XD) is reserved when NXE = 0. */
    uint64_t rsvd_common = mode == PAGING_PAE ? bits_from_to(m, 62) : bits_from_to(m, 51);
    if (!nxe)
        rsvd_common |= PTE_XD;

    struct walk_path path = {0};
    /* R/W and U/S must be 1 at every level, XD 0 at every level (SDM Vol. 3A, 4.6.1): one
     * AND and one OR over the entries instead of three booleans per level. */
    uint64_t all_and = ~0ull, all_or = 0;
    uint64_t table; /* guest-physical address of the table for `level` */
    int level;

    if (mode == PAGING_PAE) {
        /* The four PDPTEs (Table 4-8): from the VMCS when given, else from CR3[31:5]. */
        const unsigned idx = (unsigned)((la >> 30) & 3);
        uint64_t pdpte;
        if (pg->pae_pdptes_valid) {
            pdpte = pg->pae_pdptes[idx];
        } else {
            const uint64_t gpa = (pg->cr3 & 0xFFFFFFE0u) + idx * 8;
            if (!read_entry(mem, gpa, 8, &pdpte))
                return bad_gpa(out, gpa);
        }
        if (!(pdpte & PTE_P))
            return fault_pf(out, la, err);
        /* Reserved: 2:1, 8:5 and 63:M. The CPU checks them when it loads the PDPTEs (MOV to
         * CR3/CR0/CR4) and raises #GP there; a walk never sees such a PDPTE. */
        if (pdpte & (0x6ull | 0x1E0ull | bits_from_to(m, 63)))
            return fault_gp_or_ss(out, la, 0);
        table = pdpte & addr_mask;
        level = 2;
    } else {
        level = mode == PAGING_5LEVEL ? 5 : 4;
        table = pg->cr3 & addr_mask;
    }

    for (;; level--) {
        const unsigned shift = 12 + 9 * (unsigned)(level - 1);
        const uint64_t gpa = table + ((la >> shift) & 0x1FF) * 8;
        uint64_t e;
        if (!read_entry(mem, gpa, 8, &e))
            return bad_gpa(out, gpa);
        if (!(e & PTE_P))
            return fault_pf(out, la, err);

        const bool ps = level <= 3 && (e & PTE_PS);
        uint64_t rsvd = rsvd_common;
        if (level >= 4)
            rsvd |= PTE_PS; /* PS is reserved in PML5Es and PML4Es */
        if (level == 3 && (e & PTE_PS)) {
            if (pg->no_1g_pages)
                rsvd |= PTE_PS;
            else
                rsvd |= bits_from_to(13, 29); /* 1 GiB page: 29:13 reserved, 12 is PAT */
        }
        if (level == 2 && ps)
            rsvd |= bits_from_to(13, 20); /* 2 MiB page: 20:13 reserved, 12 is PAT */
        if (e & rsvd)
            return fault_pf(out, la, rsvd_err);

        path.gpa[path.count] = gpa;
        path.entry[path.count] = e;
        path.has_ad[path.count] = true;
        path.count++;
        all_and &= e;
        all_or |= e;

        if (level == 1 || ps) {
            path.all_accessed = (all_and & PTE_A) != 0;
            const uint64_t page_size = 1ull << shift;
            const uint64_t base = e & addr_mask & ~(page_size - 1);
            return finish(pg, mem, la, access, flags, &path, base | (la & (page_size - 1)),
                          page_size, (all_and & PTE_RW) != 0, (all_and & PTE_US) != 0,
                          !(nxe && (all_or & PTE_XD)), out);
        }
        table = e & addr_mask;
    }
}

enum walk_status walk_translate(const struct guest_paging *pg, const struct guest_mem *mem,
                                uint64_t la, enum walk_access access, unsigned flags,
                                struct walk_result *out)
{
    *out = (struct walk_result){0};
    const enum paging_mode mode = paging_mode_of(pg->cr0, pg->cr4, pg->efer);
    switch (mode) {
    case PAGING_NONE:
        la &= 0xFFFFFFFFu;
        out->status = WALK_OK;
        out->gpa = la;
        out->page_size = 1ull << 32;
        out->writable = out->user = out->executable = true;
        return WALK_OK;
    case PAGING_32BIT:
        return walk_32bit(pg, mem, la & 0xFFFFFFFFu, access, flags, out);
    case PAGING_PAE:
        return walk_64bit_entries(pg, mem, mode, la & 0xFFFFFFFFu, access, flags, out);
    case PAGING_4LEVEL:
    case PAGING_5LEVEL: {
        /* Canonical: bits 63:47 (63:56 with LA57) all equal (SDM Vol. 3A, 4.5.1;
         * Vol. 1, 3.3.7.1). Otherwise #GP(0), or #SS(0) for the stack. */
        const unsigned top = mode == PAGING_5LEVEL ? 56 : 47;
        const uint64_t upper = la >> top;
        const uint64_t ones = (1ull << (64 - top)) - 1;
        if (upper != 0 && upper != ones)
            return fault_gp_or_ss(out, la, flags);
        return walk_64bit_entries(pg, mem, mode, la, access, flags, out);
    }
    }
    return fault_gp_or_ss(out, la, flags);
}

/* Linear addresses are 64-bit only with IA-32e paging. */
static uint64_t linear_wrap(const struct guest_paging *pg, uint64_t la)
{
    const enum paging_mode mode = paging_mode_of(pg->cr0, pg->cr4, pg->efer);
    return (mode == PAGING_4LEVEL || mode == PAGING_5LEVEL) ? la : (la & 0xFFFFFFFFu);
}

/* Bytes from `la` to the end of the mapping that walk_translate found for it. */
static uint64_t bytes_left_in_page(uint64_t la, uint64_t page_size)
{
    return page_size - (la & (page_size - 1));
}

enum walk_status walk_read_linear(const struct guest_paging *pg, const struct guest_mem *mem,
                                  uint64_t la, void *buf, size_t len, enum walk_access access,
                                  unsigned flags, size_t *done, struct walk_result *out)
{
    uint8_t *dst = buf;
    size_t got = 0;
    if (access == WALK_WRITE)
        access = WALK_READ;
    *out = (struct walk_result){.status = WALK_OK};
    while (got < len) {
        const uint64_t cur = linear_wrap(pg, la + got);
        if (walk_translate(pg, mem, cur, access, flags, out) != WALK_OK)
            break;
        uint64_t chunk = bytes_left_in_page(cur, out->page_size);
        if (chunk > len - got)
            chunk = len - got;
        if (chunk > 4096 - (out->gpa & 0xFFF))
            chunk = 4096 - (out->gpa & 0xFFF); /* one 4 KiB frame at a time (RAM vs MMIO) */
        if (!mem->read_gpa(mem->ctx, out->gpa, dst + got, (size_t)chunk)) {
            bad_gpa(out, out->gpa);
            break;
        }
        got += (size_t)chunk;
    }
    if (done)
        *done = got;
    return out->status;
}

enum walk_status walk_write_linear(const struct guest_paging *pg, const struct guest_mem *mem,
                                   uint64_t la, const void *buf, size_t len, unsigned flags,
                                   struct walk_result *out)
{
    const uint8_t *src = buf;
    *out = (struct walk_result){.status = WALK_OK};
    if (!mem->write_gpa)
        return bad_gpa(out, 0);
    /* Pass 1 proves every page writable; pass 2 writes. Nothing is written on a fault. */
    for (int pass = 0; pass < 2; pass++) {
        size_t put = 0;
        while (put < len) {
            const uint64_t cur = linear_wrap(pg, la + put);
            if (walk_translate(pg, mem, cur, WALK_WRITE, flags, out) != WALK_OK)
                return out->status;
            uint64_t chunk = bytes_left_in_page(cur, out->page_size);
            if (chunk > len - put)
                chunk = len - put;
            if (pass == 1 && !mem->write_gpa(mem->ctx, out->gpa, src + put, (size_t)chunk))
                return bad_gpa(out, out->gpa);
            put += (size_t)chunk;
        }
    }
    return out->status;
}
