/* Guest page walk: linear address -> guest-physical address, as the guest's own CPU would
 * translate it, with the fault the CPU would raise when it would not.
 *
 * Paging modes (SDM Vol. 3A, 4.1.1 "Four Paging Modes", Table 4-1), chosen from the
 * registers exactly as the CPU does:
 *   CR0.PG = 0                                   no paging (linear = physical, 32 bits)
 *   CR0.PG = 1, CR4.PAE = 0                      32-bit paging (4 KiB, 4 MiB with CR4.PSE,
 *                                                PSE-36 physical bits 39:32)
 *   CR0.PG = 1, CR4.PAE = 1, EFER.LME = 0        PAE paging (4 KiB, 2 MiB; 4 PDPTEs)
 *   CR0.PG = 1, CR4.PAE = 1, EFER.LME = 1        4-level paging (4 KiB, 2 MiB, 1 GiB),
 *                                                5-level with CR4.LA57
 *
 * Access rights follow SDM Vol. 3A, 4.6 (U/S and R/W combined over all levels, CR0.WP,
 * CR4.SMEP, CR4.SMAP with RFLAGS.AC, EFER.NXE/XD). Fault error codes follow 4.7. Protection
 * keys (CR4.PKE/PKS), CET shadow stacks, HLAT and SGX are not modelled.
 *
 * Accessed/dirty flags (SDM Vol. 3A, 4.8): when `write_gpa` is given, a successful
 * translation sets A in every paging-structure entry it used and, for a write, D in the
 * entry that maps the page, as the CPU would for the access being emulated. A failed
 * translation sets nothing. Only byte 0 of an entry is written (A is bit 5, D bit 6), so a
 * concurrent update of the address bits by another CPU cannot be lost; the A/D update itself
 * is not atomic. When `write_gpa` is NULL, A/D bits are left alone.
 *
 * Pure C: no allocation, no libc; runs in VMX root and in host tests. */
#ifndef TRAPVISOR_DECODE_WALK_H
#define TRAPVISOR_DECODE_WALK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Control-register and EFER bits the walk reads (SDM Vol. 3A, 2.5 and 2.2.1). */
#define CR0_PE        (1ull << 0)
#define CR0_WP        (1ull << 16)
#define CR0_PG        (1ull << 31)
#define CR4_PSE       (1ull << 4)
#define CR4_PAE       (1ull << 5)
#define CR4_LA57      (1ull << 12)
#define CR4_SMEP      (1ull << 20)
#define CR4_SMAP      (1ull << 21)
#define EFER_LME      (1ull << 8)
#define EFER_LMA      (1ull << 10)
#define EFER_NXE      (1ull << 11)
#define RFLAGS_AC_BIT (1ull << 18)

/* #PF error code bits (SDM Vol. 3A, 4.7, Figure 4-12). */
#define PF_ERR_P    (1u << 0) /* 0: not present; 1: protection (or reserved-bit) fault */
#define PF_ERR_W    (1u << 1) /* the access was a write */
#define PF_ERR_U    (1u << 2) /* the access was a user-mode access */
#define PF_ERR_RSVD (1u << 3) /* a reserved bit was set in a paging-structure entry */
#define PF_ERR_I    (1u << 4) /* instruction fetch (only when SMEP, or PAE/4-level with NXE) */

/* Reads `len` bytes of guest-physical memory at `gpa` into `buf`. Returns false when that
 * guest-physical range is not readable RAM (MMIO, hidden, beyond memory). */
typedef bool guest_read_fn(void *ctx, uint64_t gpa, void *buf, size_t len);
/* Writes `len` bytes to guest-physical memory; false when not writable RAM. */
typedef bool guest_write_fn(void *ctx, uint64_t gpa, const void *buf, size_t len);

/* The guest's physical memory, as the walk sees it.
 *
 * Optionally also a direct view, for fast paths (fetch_insn_fast): when `direct` is true, a
 * read of [gpa, gpa + len) with gpa + len <= direct_limit (no wrap) that does not overlap
 * [hole_base, hole_base + hole_size) may be done as a plain load from direct_va + gpa, and
 * gives exactly what read_gpa would give for it. (In the hypervisor: direct_va 0, the
 * identity map; direct_limit the EPT-mapped limit; the hole the hypervisor's hidden region.)
 * The general code (walk_*, fetch_insn) never uses the view: all-zero fields = no view, so
 * existing users are unchanged. A fast path may decline more than the view strictly needs
 * (e.g. a read ending just below a zero-sized hole at hole_base != 0), never less. */
struct guest_mem {
    guest_read_fn *read_gpa;   /* required */
    guest_write_fn *write_gpa; /* optional: NULL leaves accessed/dirty bits alone */
    void *ctx;
    bool direct;           /* the fields below describe a direct view */
    uintptr_t direct_va;   /* host virtual address of guest-physical 0 */
    uint64_t direct_limit; /* reads must end at or below this guest-physical address
                              (0: nothing can be read through the view) */
    uint64_t hole_base;    /* guest-physical range the view must not be used for */
    uint64_t hole_size;    /* 0: no hole */
};

/* The guest CPU state that decides how a linear address translates. */
struct guest_paging {
    uint64_t cr0, cr3, cr4, efer;
    uint64_t rflags;     /* only AC is read (SMAP) */
    unsigned cpl;        /* current privilege level 0-3 (in VMX: SS.DPL); 3 is user mode */
    unsigned maxphyaddr; /* CPUID.80000008H:EAX[7:0]; 0 is taken as 52 */
    bool no_1g_pages;    /* CPUID.80000001H:EDX[26] = 0: PS in a PDPTE is reserved */
    /* PAE paging loads the four PDPTEs when CR3 is written (SDM Vol. 3A, 4.4.1); under EPT
     * the VMCS holds them (GUEST_PDPTE0-3). When `pae_pdptes_valid`, the walk uses these;
     * otherwise it reads them from guest memory at CR3[31:5]. */
    bool pae_pdptes_valid;
    uint64_t pae_pdptes[4];
};

enum walk_access {
    WALK_READ,
    WALK_WRITE,
    WALK_FETCH,
};

/* Flags for walk_translate's `flags`. */
/* An implicit supervisor access (descriptor tables, TSS...): supervisor rights whatever the
 * CPL, and SMAP applies whatever RFLAGS.AC (AC lifts SMAP only for explicit accesses, SDM
 * Vol. 3A, 4.6.1). */
#define WALK_IMPLICIT_SUPERVISOR (1u << 0)
#define WALK_STACK               (1u << 1) /* an SS-relative access: non-canonical gives #SS, not #GP */

enum walk_status {
    WALK_OK,      /* translated: gpa, page_size and rights are valid */
    WALK_PF,      /* page fault: error_code and fault_addr (the guest's CR2) are valid */
    WALK_GP,      /* #GP(0): non-canonical address, or a PAE PDPTE with reserved bits set
                     (the CPU would have refused it at MOV CR3, SDM Vol. 3A 4.4.1) */
    WALK_SS,      /* #SS(0): non-canonical stack access (WALK_STACK) */
    WALK_BAD_GPA, /* a paging-structure entry (or, for walk_read/write_linear, the data)
                     lies at a guest-physical address read_gpa/write_gpa refused: the
                     hypervisor cannot emulate this access; bad_gpa says where */
};

struct walk_result {
    enum walk_status status;
    uint64_t gpa;        /* WALK_OK: guest-physical address of the linear address */
    uint64_t page_size;  /* WALK_OK: 4 KiB, 2 MiB, 4 MiB or 1 GiB; 4 GiB with paging off.
                            The naturally aligned `page_size` block of linear addresses
                            around the address maps contiguously to guest-physical memory. */
    bool writable;       /* WALK_OK: R/W = 1 at every level (paging off: true) */
    bool user;           /* WALK_OK: U/S = 1 at every level (paging off: true) */
    bool executable;     /* WALK_OK: XD = 0 at every level, or XD not in force */
    uint32_t error_code; /* WALK_PF: the #PF error code; WALK_GP/WALK_SS: 0 */
    uint64_t fault_addr; /* WALK_PF/GP/SS: the faulting linear address */
    uint64_t bad_gpa;    /* WALK_BAD_GPA: the guest-physical address that was refused */
};

/* The paging mode the registers select. */
enum paging_mode {
    PAGING_NONE,
    PAGING_32BIT,
    PAGING_PAE,
    PAGING_4LEVEL,
    PAGING_5LEVEL,
};
enum paging_mode paging_mode_of(uint64_t cr0, uint64_t cr4, uint64_t efer);

/* Translates linear address `la` for an access of kind `access` (flags: WALK_*). Outside
 * 4/5-level paging only the low 32 bits of `la` are used. Returns out->status. */
enum walk_status walk_translate(const struct guest_paging *pg, const struct guest_mem *mem,
                                uint64_t la, enum walk_access access, unsigned flags,
                                struct walk_result *out);

/* Reads `len` bytes at linear address `la` (each page translated separately), as a data
 * read (WALK_READ) or an instruction fetch (WALK_FETCH). On failure, *out describes the
 * first fault, *done (if not NULL) says how many bytes were read before it, and buf holds
 * them. Linear addresses wrap at 32 bits outside 4/5-level paging. */
enum walk_status walk_read_linear(const struct guest_paging *pg, const struct guest_mem *mem,
                                  uint64_t la, void *buf, size_t len, enum walk_access access,
                                  unsigned flags, size_t *done, struct walk_result *out);

/* Writes `len` bytes at linear address `la` as a data write. All pages are translated
 * before anything is written, so a fault leaves guest memory unchanged (as the CPU does
 * for a write that faults on its second page). */
enum walk_status walk_write_linear(const struct guest_paging *pg, const struct guest_mem *mem,
                                   uint64_t la, const void *buf, size_t len, unsigned flags,
                                   struct walk_result *out);

#endif
