/* The guest-physical map: 4-level EPT tables (SDM Vol. 3C, 29.3 "The Extended Page Table
 * Mechanism (EPT)"), built as an identity map with the largest pages that fit, with
 * Trapvisor's own memory hidden, virtual BAR pages trapped, and hypervisor pages mapped
 * read-only for "backed" BARs.
 *
 * Pure C over a caller-provided page pool (struct ept_page_alloc): host tests back it with a
 * malloc'd arena; the hypervisor with its reserved region. Nothing here touches an MSR or
 * executes a VMX instruction (INVEPT is in ept/invept.h).
 *
 * Rules for the caller (the hypervisor):
 *  - Map-changing calls (ept_build, ept_hide_range, ept_trap_range, ept_map_readonly,
 *    ept_restore_range, ept_move_trap, ept_destroy) must be serialized (one lock).
 *    ept_lookup_region and ept_walk may run concurrently with them on other CPUs.
 *  - After a call that changed the map (ept->changed set), INVEPT on every CPU (single-context
 *    with ept_eptp(), or all-context) before any CPU resumes a guest that could use a stale
 *    translation, and before the next map-changing call (table pages freed by a merge go back
 *    to the pool and may be reused by that next call). Then clear ept->changed.
 *  - Entries are written with single 64-bit stores, a new table is filled before it is linked,
 *    and splits preserve the translation, so a CPU walking the tables during a change sees
 *    either the old or the new mapping of each page, never a malformed entry.
 *  - Runtime operations are all-or-nothing: the tables they need are taken from the pool
 *    before anything changes; if the pool runs dry they return EPT_ERR_NOMEM unchanged. */
#ifndef TRAPVISOR_EPT_EPT_H
#define TRAPVISOR_EPT_EPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ept/mtrr.h"
#include "ept/region.h"
#include "ept/status.h"

/* ---- the page-table pool ------------------------------------------------------------- */

/* Pages are 4 KiB, 4 KiB aligned. alloc_page returns NULL when empty (contents need not be
 * zero: ept/ fills every page it takes). phys_to_virt turns a table's physical address (as
 * stored in an entry) back into a pointer ept/ can use. */
struct ept_page_alloc {
    void *ctx;
    void *(*alloc_page)(void *ctx, uint64_t *phys);
    void (*free_page)(void *ctx, void *virt, uint64_t phys);
    void *(*phys_to_virt)(void *ctx, uint64_t phys);
};

/* ---- architectural encodings ------------------------------------------------------------ */

/* IA32_VMX_EPT_VPID_CAP (MSR 0x48C) bits (SDM Vol. 3D, Appendix A.10). */
#define MSR_IA32_VMX_EPT_VPID_CAP 0x48Cu
#define EPT_CAP_EXEC_ONLY         (1ull << 0)
#define EPT_CAP_PWL4              (1ull << 6)
#define EPT_CAP_PWL5              (1ull << 7)
#define EPT_CAP_UC                (1ull << 8)
#define EPT_CAP_WB                (1ull << 14)
#define EPT_CAP_2M                (1ull << 16)
#define EPT_CAP_1G                (1ull << 17)
#define EPT_CAP_INVEPT            (1ull << 20)
#define EPT_CAP_AD                (1ull << 21)
#define EPT_CAP_ADV_EXIT_INFO     (1ull << 22)
#define EPT_CAP_INVEPT_SINGLE     (1ull << 25)
#define EPT_CAP_INVEPT_ALL        (1ull << 26)

/* EPT paging-structure entry bits (SDM Vol. 3C, 29.3.2, Tables 29-2..29-7 "Format of an EPT
 * PML4/PDPTE/PDE/PTE"). */
#define EPT_PERM_R           (1ull << 0)
#define EPT_PERM_W           (1ull << 1)
#define EPT_PERM_X           (1ull << 2)
#define EPT_PERM_RWX         (EPT_PERM_R | EPT_PERM_W | EPT_PERM_X)
#define EPT_PERM_MASK        EPT_PERM_RWX
#define EPT_ENTRY_MT_SHIFT   3 /* bits 5:3, leaves only */
#define EPT_ENTRY_MT_MASK    (7ull << 3)
#define EPT_ENTRY_IGNORE_PAT (1ull << 6) /* leaves only; ept/ never sets it */
#define EPT_ENTRY_LARGE      (1ull << 7) /* PDPTE: 1 GiB leaf; PDE: 2 MiB leaf */
#define EPT_ENTRY_ACCESSED   (1ull << 8)
#define EPT_ENTRY_DIRTY      (1ull << 9)
#define EPT_ENTRY_ADDR_MASK  0x000FFFFFFFFFF000ull

/* EPTP fields (SDM Vol. 3C, 25.6.11, "Extended-Page-Table Pointer (EPTP)"). */
#define EPTP_MT_MASK   7ull
#define EPTP_PWL_SHIFT 3 /* page-walk length - 1, bits 5:3 */
#define EPTP_AD_ENABLE (1ull << 6)

/* Levels, as ept_walk reports them: 4 = PML4, 3 = PDPT (1 GiB), 2 = PD (2 MiB), 1 = PT. */
#define EPT_LEVELS   4
#define EPT_PAGE_4K  0x1000ull
#define EPT_PAGE_2M  0x200000ull
#define EPT_PAGE_1G  0x40000000ull
#define EPT_GPA_BITS 48 /* reach of a 4-level walk */

/* The EPTP for a PML4 table at pml4_phys: memory type WB when the CPU supports it, else UC;
 * page-walk length 4; A/D flags when asked for and supported. Returns 0 if the capability
 * MSR offers no 4-level walk or neither WB nor UC (no usable EPTP). */
uint64_t ept_eptp_encode(uint64_t pml4_phys, uint64_t ept_vpid_cap, bool want_ad);

/* ---- the map ------------------------------------------------------------------------ */

/* Memory-type value in struct ept_range meaning "whatever the MTRRs say for each page". */
#define EPT_MT_FROM_MTRR 0xFFu

/* One range of the identity map: RAM, MMIO, reserved... Ranges must be 4 KiB aligned and
 * must not overlap; adjacent ranges with the same attributes are merged. Addresses not
 * covered by any range are not present (a guest access exits). */
struct ept_range {
    uint64_t base;
    uint64_t size;
    uint8_t perm;     /* EPT_PERM_* (W without R is rejected: SDM 29.3.3.1 misconfiguration) */
    uint8_t mem_type; /* enum mem_type, or EPT_MT_FROM_MTRR */
};

#define EPT_MAX_RANGES 256u
/* Upper bound of new tables one runtime operation may need (a range with unaligned edges
 * inside 1 GiB pages needs at most 6). */
#define EPT_OP_MAX_NEW_TABLES 64u

struct ept_config {
    uint64_t ept_vpid_cap;         /* IA32_VMX_EPT_VPID_CAP */
    unsigned maxphyaddr;           /* CPUID.80000008H:EAX[7:0] */
    bool want_ad;                  /* enable accessed/dirty flags if supported */
    bool no_1g;                    /* do not use 1 GiB pages even if supported */
    const struct mtrr_state *mtrr; /* copied; NULL means "all UC" (MTRRs disabled) */
};

struct ept {
    struct ept_page_alloc alloc;
    uint64_t *pml4;
    uint64_t pml4_phys;
    uint64_t eptp;
    uint64_t cap;
    uint64_t gpa_limit; /* first address beyond the map's reach (MAXPHYADDR, 48 bits) */
    bool page_2m, page_1g;
    bool changed;    /* set by any call that changed an entry; the caller clears it */
    uint32_t tables; /* table pages currently in use, PML4 included */
    struct mtrr_state mtrr;
    uint32_t range_count;
    struct ept_range ranges[EPT_MAX_RANGES];
    struct ept_region_table regions;
    /* Pages taken from the pool before a runtime operation changes anything. */
    uint32_t reserve_count;
    struct {
        void *virt;
        uint64_t phys;
    } reserve[EPT_OP_MAX_NEW_TABLES];
};

/* Prepares an empty map (a zeroed PML4 from the pool). EPT_ERR_INVAL if the capabilities
 * lack a 4-level walk or a WB/UC EPTP type or maxphyaddr is out of 32..52; EPT_ERR_NOMEM. */
int ept_init(struct ept *ept, const struct ept_page_alloc *alloc, const struct ept_config *cfg);

/* Records the identity ranges and builds the map over them with the largest pages that fit
 * (1 GiB when supported, else 2 MiB, 4 KiB only around holes and type boundaries).
 * Replaces any earlier build and clears the region table. A refused argument changes
 * nothing; EPT_ERR_NOMEM leaves the map empty (every table returned to the pool). */
int ept_build(struct ept *ept, const struct ept_range *ranges, size_t count);

/* Returns every table page to the pool. */
void ept_destroy(struct ept *ept);

/* Makes [gpa, gpa + size) not present and records it as the HIDDEN region (Trapvisor's own
 * memory). Idempotent. EPT_ERR_OVERLAP if it intersects a trapped or backed region. */
int ept_hide_range(struct ept *ept, uint64_t gpa, uint64_t size);

/* Makes [gpa, gpa + size) not present (4 KiB pages at unaligned edges) and records it as a
 * TRAPPED region with owner and tag. Idempotent for the same owner and tag.
 * EPT_ERR_HIDDEN if it intersects a hidden region; EPT_ERR_OVERLAP for another region. */
int ept_trap_range(struct ept *ept, uint64_t gpa, uint64_t size, void *owner, uint32_t tag);

/* Maps [gpa, gpa + size) read-only onto host pages [hpa, hpa + size) (a "backed" BAR: the
 * guest reads them without exits, writes exit) and records it as a BACKED region. The
 * memory type is the MTRR type of the host pages. Errors as ept_trap_range; hpa must also
 * be 4 KiB aligned and below MAXPHYADDR. */
int ept_map_readonly(struct ept *ept, uint64_t gpa, uint64_t hpa, uint64_t size, void *owner,
                     uint32_t tag);

/* Puts [gpa, gpa + size) back to the identity map with the right type and permissions and
 * removes the regions inside it; tables that became uniform are merged back into large
 * pages and returned to the pool. Idempotent. EPT_ERR_OVERLAP if a region straddles an edge
 * of the range (nothing changes). */
int ept_restore_range(struct ept *ept, uint64_t gpa, uint64_t size);

/* A trapped BAR moved: restore the old pages and trap the new ones, keeping owner and tag,
 * all or nothing. EPT_ERR_NOT_FOUND if no trapped region starts at old_gpa. */
int ept_move_trap(struct ept *ept, uint64_t old_gpa, uint64_t new_gpa);

/* The region (trapped / hidden / backed) containing gpa; false if none. Safe to call on the
 * EPT-violation path concurrently with map changes. */
bool ept_lookup_region(const struct ept *ept, uint64_t gpa, struct ept_region *out);

/* ---- inspection ------------------------------------------------------------------- */

struct ept_leaf {
    int level;          /* level of the entry that ended the walk: 1 (4K), 2 (2M), 3 (1G),
                           or the level of the not-present entry */
    bool present;       /* false: the entry at `level` has R = W = X = 0 */
    uint64_t page_size; /* size of the leaf's page (or of the not-present entry's reach) */
    uint8_t perm;       /* EPT_PERM_* of the leaf */
    uint8_t mem_type;   /* enum mem_type of the leaf */
    bool ignore_pat;
    uint64_t hpa;   /* host-physical address gpa translates to */
    uint64_t entry; /* the raw entry */
};

/* Walks the tables for gpa. Returns false (and fills nothing) only for gpa beyond the map's
 * reach; a not-present translation returns true with present = false. */
bool ept_walk(const struct ept *ept, uint64_t gpa, struct ept_leaf *out);

/* One line describing a walk's result for the serial log, e.g.
 * "gpa 0xc1000000 -> hpa 0xc1000000 2M RWX WB" or "gpa 0xc1000000 not present (4K)".
 * Returns the length the whole text would have (like snprintf). Needs lib/fmt. */
int ept_leaf_describe(uint64_t gpa, const struct ept_leaf *leaf, char *buf, size_t size);

/* "UC", "WC", "WT", "WP", "WB", or "??" for a reserved encoding. */
const char *mem_type_name(uint8_t type);

/* ---- EPT-violation exit qualification (SDM Vol. 3C, 28.2.1, Table 28-7) ----------------- */

struct ept_violation {
    bool read;            /* bit 0: data read */
    bool write;           /* bit 1: data write */
    bool fetch;           /* bit 2: instruction fetch */
    bool readable;        /* bit 3: the GPA was readable (AND over the walk) */
    bool writable;        /* bit 4 */
    bool executable;      /* bit 5 (supervisor-mode when mode-based execute is on) */
    bool user_executable; /* bit 6 (only meaningful with mode-based execute control) */
    bool gla_valid;       /* bit 7: the guest-linear-address field is valid */
    bool gla_translation; /* bit 8 (if gla_valid): 1 = access to the translated address,
                             0 = access to a guest paging-structure entry */
    bool user_linear;     /* bit 9 (advanced EPT-violation info): user-mode address */
    bool writable_linear; /* bit 10 (advanced info): linear address was writable */
    bool nx_linear;       /* bit 11 (advanced info): linear address was execute-disable */
    bool nmi_unblocking;  /* bit 12: NMI unblocking due to IRET */
    bool shadow_stack;    /* bit 13: shadow-stack access */
    bool supervisor_ss;   /* bit 14: supervisor shadow-stack page (EPT bit 60) */
    bool paging_verify;   /* bit 15: guest-paging verification */
    bool asynchronous;    /* bit 16: asynchronous to instruction execution */
    uint8_t perm;         /* bits 5:3 as EPT_PERM_* (what the entry allowed) */
};

struct ept_violation ept_decode_violation(uint64_t qualification);

#endif
