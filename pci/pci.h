/* The virtual PCI bus: configuration space of the functions Trapvisor emulates, the
 * 0xCF8/0xCFC and ECAM access paths (with everything else forwarded to the real bus), BAR
 * decoding and moves, and MMIO dispatch to device ops.
 *
 * Configuration space follows QEMU's rules (hw/pci/pci.c): every byte has a write mask
 * (wmask) and a write-1-to-clear mask (w1cmask); a write stores (old & ~wmask) | (v & wmask)
 * and then clears the w1c bits written as 1; everything else is read-only.
 *
 * Locking. One spinlock per bus (cfg_lock) covers the CF8 latch, every configuration access
 * (port and ECAM paths alike, virtual and forwarded) and BAR map changes. The latch is GLOBAL,
 * one per bus, as in real chipsets (the host bridge has one CONFIG_ADDRESS register, PCI 3.0
 * 3.2.2.3.2): guest code that writes 0xCF8 on one CPU and reads 0xCFC on another keeps
 * working, and guests already serialize their own CF8/CFC pairs (Linux: pci_config_lock).
 * What the lock guarantees: every CF8 write and CFC access is atomic, and a forwarded access
 * (the backend writing the real 0xCF8 then touching the real 0xCFC) is one indivisible pair,
 * so the guest's latch and the hypervisor's own accesses never interleave on real hardware.
 * The MMIO path takes no bus lock: it reads the published BAR windows under a sequence
 * counter (retry while a writer is mid-update). Lock order: cfg_lock -> device lock ->
 * function irq_lock; a device never takes cfg_lock.
 *
 * Pure C, freestanding, no allocation: the bus and functions live in caller storage. */
#ifndef TRAPVISOR_PCI_PCI_H
#define TRAPVISOR_PCI_PCI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/device.h"
#include "lib/spinlock.h"
#include "pci/pci_regs.h"

#define PCI_BUS_MAX_FUNCTIONS 4
#define PCI_CFG_SIZE          256

/* bus:dev.fn packed as in the CF8 address and ECAM offset: bus << 8 | dev << 3 | fn. */
#define PCI_BDF(b, d, f) ((uint16_t)(((b) << 8) | ((d) << 3) | (f)))
#define PCI_BDF_BUS(bdf) ((uint8_t)((bdf) >> 8))
#define PCI_BDF_DEV(bdf) ((uint8_t)(((bdf) >> 3) & 0x1F))
#define PCI_BDF_FN(bdf)  ((uint8_t)((bdf)&0x7))

/* A BAR's place in the guest-physical (or port) space. mapped: the function decodes it now
 * (COMMAND enable bit set, address valid, not mid-sizing). */
struct pci_bar_window {
    uint64_t base;
    uint64_t size;
    bool mapped;
    bool io;     /* port I/O space rather than memory */
    bool backed; /* from the device's BAR declaration */
};

struct pci_function {
    uint8_t cfg[PCI_CFG_SIZE];
    uint8_t wmask[PCI_CFG_SIZE];
    uint8_t w1cmask[PCI_CFG_SIZE];
    uint8_t init_cfg[PCI_CFG_SIZE]; /* power-on values, for pci_function_reset */
    uint16_t bdf;
    uint8_t msi_cap; /* offset of the MSI capability, 0 when none */
    struct device *dev;
    struct pci_bus *bus;
    /* Published decode state of each BAR slot, read lock-free by the MMIO path. */
    struct pci_bar_window win[PCI_NUM_SLOTS];
    /* INTx: the device's requested level and what the platform was last told. */
    struct spinlock irq_lock;
    int intx_level;
    int intx_out;
};

/* Real configuration space, for functions that are not virtual. In the hypervisor these use
 * the real 0xCF8/0xCFC (or the real ECAM); they are always called with cfg_lock held, so a
 * real CF8 write and its CFC access are never interleaved with another CPU's. offset may be
 * up to 4095 (ECAM path). port_in/port_out reach real ports for accesses that are not
 * configuration accesses (0xCF8 with a width other than 4, e.g. the reset register at 0xCF9). */
struct pci_backend {
    uint32_t (*cfg_read)(void *ctx, uint16_t bdf, uint16_t offset, unsigned size);
    void (*cfg_write)(void *ctx, uint16_t bdf, uint16_t offset, unsigned size, uint32_t value);
    uint32_t (*port_in)(void *ctx, uint16_t port, unsigned size);
    void (*port_out)(void *ctx, uint16_t port, unsigned size, uint32_t value);
};

/* Told whenever a BAR's window changes (mapped state or base): the owner of the
 * guest-physical map restores `old` (if old->mapped) and traps `now` (if now->mapped), then
 * flushes translations. Called with cfg_lock held: it must not access config space. Sizing
 * writes (all ones) make a BAR unmapped, never mapped at the sizing pattern. */
typedef void (*pci_map_changed_fn)(void *ctx, struct pci_function *fn, int bar,
                                   const struct pci_bar_window *old,
                                   const struct pci_bar_window *now);

struct pci_bus {
    struct pci_function *fns[PCI_BUS_MAX_FUNCTIONS];
    size_t n_fns;
    const struct pci_backend *backend;
    void *backend_ctx;
    pci_map_changed_fn map_changed;
    void *map_ctx;
    struct spinlock cfg_lock;
    uint32_t cf8_latch;
    uint8_t ecam_start_bus; /* bus number at offset 0 of the ECAM window (MCFG) */
    uint64_t map_seq; /* even: stable; odd: a writer is updating win[] (64 bits: never wraps) */
    bool mem_overlap; /* two mapped memory windows intersect (published with map_seq) */
};

void pci_bus_init(struct pci_bus *bus, const struct pci_backend *backend, void *backend_ctx,
                  pci_map_changed_fn map_changed, void *map_ctx);

/* Builds fn's configuration space from dev->ops (identity, header type 0, BARs as QEMU's
 * pci_register_bar, interrupt pin, MSI capability at 0x40 like QEMU's msi_init), links
 * fn <-> dev and puts it on the bus at bdf. False (bus unchanged) when the bus is full, bdf
 * is taken, or a BAR declaration is invalid (size not a power of two or too small, a 64-bit
 * BAR in slot 5, a ROM outside slot 6). */
bool pci_bus_add(struct pci_bus *bus, struct pci_function *fn, struct device *dev, uint16_t bdf);

struct pci_function *pci_bus_find(struct pci_bus *bus, uint16_t bdf);

/* Power-on state: configuration space as pci_bus_add built it (BARs unassigned, COMMAND 0,
 * MSI off), INTx deasserted, mapped BARs reported unmapped; then the device's reset op. */
void pci_function_reset(struct pci_function *fn);

/* Configuration access to a virtual function. size 1, 2 or 4, naturally aligned inside the
 * dword, offset < 4096. Offsets 256..4095 (extended space; these are conventional functions)
 * read all ones and ignore writes. False when bdf is not a virtual function or the access is
 * malformed (then *value is all ones and nothing changes). */
bool pci_cfg_read(struct pci_bus *bus, uint16_t bdf, uint16_t offset, unsigned size,
                  uint32_t *value);
bool pci_cfg_write(struct pci_bus *bus, uint16_t bdf, uint16_t offset, unsigned size,
                   uint32_t value);

/* The port path, for an I/O exit on 0xCF8..0xCFF. 0xCF8 with size 4 is the latch (a read
 * returns it); 0xCF8..0xCFB with other sizes go to backend port_in/port_out. 0xCFC..0xCFF
 * with size 1, 2 or 4 and (port & 3) + size <= 4: a configuration access to the latched
 * bus/dev/fn at register (latch & 0xFC) + (port & 3) if the enable bit (31) is set, to the
 * virtual function if there is one and otherwise to the backend; with the enable bit clear,
 * or a width that leaves the dword, reads are all ones and writes are dropped. Returns false
 * when the port is not one of 0xCF8..0xCFF (nothing done). */
bool pci_cfg_port_read(struct pci_bus *bus, uint16_t port, unsigned size, uint32_t *value);
bool pci_cfg_port_write(struct pci_bus *bus, uint16_t port, unsigned size, uint32_t value);

/* The ECAM path (PCIe Base Spec 7.2.2): offset_in_window = (bus - ecam_start_bus) << 20 |
 * dev << 15 | fn << 12 | register. size 1, 2 or 4, naturally aligned (inside the dword);
 * others are rejected: read all ones, write dropped, false returned. Non-virtual functions
 * go to the backend. */
bool pci_ecam_read(struct pci_bus *bus, uint64_t offset_in_window, unsigned size, uint32_t *value);
bool pci_ecam_write(struct pci_bus *bus, uint64_t offset_in_window, unsigned size, uint32_t value);

/* MMIO dispatch over the mapped memory BARs (lock-free, no allocation). */
bool pci_mmio_find(struct pci_bus *bus, uint64_t gpa, struct pci_function **fn, int *bar,
                   uint64_t *offset);

enum pci_mmio_result {
    PCI_MMIO_OK = 0,
    PCI_MMIO_UNCLAIMED, /* no mapped BAR contains gpa: read all ones, write dropped */
    PCI_MMIO_STRADDLE,  /* starts inside a BAR, ends past it: refused whole (read all ones,
                           write dropped); the device never sees a partial access */
    PCI_MMIO_BAD_SIZE,  /* size not 1, 2, 4 or 8: refused the same way */
};

/* size 1, 2, 4 or 8. The read value is zero-extended from `size` bytes. */
enum pci_mmio_result pci_mmio_read(struct pci_bus *bus, uint64_t gpa, unsigned size,
                                   uint64_t *value);
enum pci_mmio_result pci_mmio_write(struct pci_bus *bus, uint64_t gpa, unsigned size,
                                    uint64_t value);

/* A BAR's route remembered while the bus's memory map stays the same, for a caller that already
 * knows which BAR an access reaches (the MMIO fast path keeps one with each instruction it has
 * seen, boot/mmio.c). pci_bar_route_take fills it when fn is on `bus` and its slot `bar` is a
 * mapped memory BAR while no two mapped memory windows of the bus overlap (so the search could
 * find no other BAR there), all read at one even map_seq; anything else is refused and *route
 * is left alone. pci_bar_route_offset then answers for an access of `size` bytes at gpa with one
 * compare of map_seq instead of reading the window: every map change (a window mapped,
 * unmapped or moved) moves map_seq, and nothing else does, so an unchanged map_seq means an
 * unchanged window, and an access inside it is routed exactly as pci_mmio_read/write route it
 * (same device, BAR and offset; tests/pci/test_pci_bars.c holds it to the search). A route
 * taken before any map change never answers again (map_seq has 64 bits: no guest can make it
 * wrap): take a new one. */
struct pci_bar_route {
    struct device *dev;
    uint64_t base; /* the window when taken */
    uint64_t size;
    uint64_t map_seq; /* even: the map it belongs to */
    int bar;
};

bool pci_bar_route_take(struct pci_bus *bus, struct pci_function *fn, int bar,
                        struct pci_bar_route *route);

/* Whether the map is still the one the route was taken in (pci_bar_route_offset can answer). */
static inline bool pci_bar_route_current(struct pci_bus *bus, const struct pci_bar_route *route)
{
    return __atomic_load_n(&bus->map_seq, __ATOMIC_ACQUIRE) == route->map_seq;
}

/* The offset of gpa..gpa+size in the remembered window, when the map is still the one the route
 * was taken in and the access lies inside the window. size must be 1, 2, 4 or 8 (the caller's
 * decoded access; not checked here, on the path of every replayed MMIO exit). Inline: the MMIO
 * fast path runs it on every exit. */
static inline bool pci_bar_route_offset(struct pci_bus *bus, const struct pci_bar_route *route,
                                        uint64_t gpa, unsigned size, uint64_t *offset)
{
    /* route->size >= 8 >= size (pci_bar_route_take), so the last start cannot wrap. */
    const uint64_t off = gpa - route->base;
    if (!pci_bar_route_current(bus, route) || off > route->size - size)
        return false;
    *offset = off;
    return true;
}

/* The same for port I/O to mapped I/O BARs (size 1, 2 or 4; an I/O exit on a port that is
 * neither a config port nor in an I/O BAR gets PCI_MMIO_UNCLAIMED). */
enum pci_mmio_result pci_pio_read(struct pci_bus *bus, uint16_t port, unsigned size,
                                  uint32_t *value);
enum pci_mmio_result pci_pio_write(struct pci_bus *bus, uint16_t port, unsigned size,
                                   uint32_t value);

/* For device models (called under the device's own lock; they take only the function's
 * irq_lock). MSI per QEMU's msi.c: enabled = capability present and control bit 0 set;
 * a notify writes data | vector to the programmed address through platform msi_send, and
 * is dropped while COMMAND.bus-master is clear (an MSI is a memory write the function
 * issues, PCI 3.0 6.8). INTx: `level` is the device's request; the line the platform sees is
 * level && !COMMAND.interrupt-disable, and STATUS.interrupt (bit 3) shows `level`. */
bool pci_msi_enabled(const struct pci_function *fn);
void pci_msi_notify(struct pci_function *fn, unsigned vector);
void pci_intx_set(struct pci_function *fn, int level);
bool pci_bus_master_enabled(const struct pci_function *fn);

#endif
