/* The virtual PCI bus; see pci.h for the model and the locking rules. */
#include "pci/pci.h"

#include "lib/string.h"

/* --- little-endian accessors (configuration space is little-endian, PCI 3.0 6.1) --------- */

static uint32_t get_le(const uint8_t *p, unsigned size)
{
    uint32_t v = 0;
    for (unsigned i = 0; i < size; i++)
        v |= (uint32_t)p[i] << (8 * i);
    return v;
}

static void put_le(uint8_t *p, unsigned size, uint32_t v)
{
    for (unsigned i = 0; i < size; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t ones(unsigned size)
{
    return size >= 4 ? 0xFFFFFFFFu : (1u << (8 * size)) - 1;
}

static bool ranges_overlap(unsigned a, unsigned alen, unsigned b, unsigned blen)
{
    return a < b + blen && b < a + alen;
}

static bool is_pow2(uint64_t v)
{
    return v && !(v & (v - 1));
}

static unsigned slot_offset(int slot)
{
    return slot == PCI_ROM_SLOT ? PCI_ROM_ADDRESS : PCI_BASE_ADDRESS_0 + 4u * (unsigned)slot;
}

static uint16_t fn_command(const struct pci_function *fn)
{
    return (uint16_t)get_le(fn->cfg + PCI_COMMAND, 2);
}

/* --- bus setup ----------------------------------------------------------------------------- */

void pci_bus_init(struct pci_bus *bus, const struct pci_backend *backend, void *backend_ctx,
                  pci_map_changed_fn map_changed, void *map_ctx)
{
    memset(bus, 0, sizeof *bus);
    bus->backend = backend;
    bus->backend_ctx = backend_ctx;
    bus->map_changed = map_changed;
    bus->map_ctx = map_ctx;
}

struct pci_function *pci_bus_find(struct pci_bus *bus, uint16_t bdf)
{
    for (size_t i = 0; i < bus->n_fns; i++)
        if (bus->fns[i]->bdf == bdf)
            return bus->fns[i];
    return NULL;
}

/* A BAR declaration QEMU's pci_register_bar would accept, plus the PCI minimum sizes
 * (PCI 3.0 6.2.5.1: memory BARs claim at least 16 bytes, I/O at least 4, and an I/O BAR at
 * most 256; 6.2.5.2: the expansion ROM at least 2 KiB). */
static bool bar_decl_valid(const struct pci_bar_decl *bars, int slot)
{
    const struct pci_bar_decl *b = &bars[slot];
    if (b->kind == PCI_BAR_NONE)
        return b->size == 0;
    if (!is_pow2(b->size))
        return false;
    switch (b->kind) {
    case PCI_BAR_MEM32:
        return slot < PCI_NUM_BARS && b->size >= 16 && b->size <= 0x80000000ull;
    case PCI_BAR_MEM64:
        return slot < PCI_NUM_BARS - 1 && b->size >= 16 && b->size <= (1ull << 51) &&
               bars[slot + 1].kind == PCI_BAR_NONE;
    case PCI_BAR_IO:
        return slot < PCI_NUM_BARS && b->size >= 4 && b->size <= 256 && !b->prefetchable;
    case PCI_BAR_ROM:
        return slot == PCI_ROM_SLOT && b->size >= 2048 && b->size <= 0x80000000ull;
    default:
        return false;
    }
}

static void register_bar(struct pci_function *fn, int slot, const struct pci_bar_decl *b)
{
    unsigned off = slot_offset(slot);
    uint64_t wmask = ~(b->size - 1);
    uint32_t type = 0;

    if (b->kind == PCI_BAR_IO)
        type = PCI_BASE_ADDRESS_SPACE_IO;
    if (b->kind == PCI_BAR_MEM64)
        type |= PCI_BASE_ADDRESS_MEM_TYPE_64;
    if (b->prefetchable && (b->kind == PCI_BAR_MEM32 || b->kind == PCI_BAR_MEM64))
        type |= PCI_BASE_ADDRESS_MEM_PREFETCH;
    if (b->kind == PCI_BAR_ROM)
        wmask |= PCI_ROM_ADDRESS_ENABLE;

    /* Type bits are read-only because the size is at least 16 (4 for I/O): wmask ~(size-1)
     * never covers them. */
    put_le(fn->cfg + off, 4, type);
    put_le(fn->wmask + off, 4, (uint32_t)wmask);
    if (b->kind == PCI_BAR_MEM64) {
        put_le(fn->cfg + off + 4, 4, 0);
        put_le(fn->wmask + off + 4, 4, (uint32_t)(wmask >> 32));
    }

    fn->win[slot].size = b->size;
    fn->win[slot].io = b->kind == PCI_BAR_IO;
    fn->win[slot].backed = b->backed;
}

/* The MSI capability as QEMU's msi_init(dev, 0, nr, msi64, false) builds it: placed at the
 * first free offset after the header (0x40), message control read-only except the enable bit
 * and multiple-message-enable; address (dword aligned) and data writable. PCI 3.0 6.8.1. */
static void add_msi_capability(struct pci_function *fn, uint8_t vectors, bool is64)
{
    const unsigned cap = PCI_CONFIG_HEADER_SIZE;
    unsigned log2v = 0;
    while ((1u << log2v) < vectors)
        log2v++;
    unsigned cap_size = is64 ? PCI_MSI_DATA_64 + 2 : PCI_MSI_DATA_32 + 2;

    memset(fn->wmask + cap, 0, cap_size);
    memset(fn->w1cmask + cap, 0, cap_size);
    fn->cfg[cap + PCI_CAP_LIST_ID] = PCI_CAP_ID_MSI;
    fn->cfg[cap + PCI_CAP_LIST_NEXT] = fn->cfg[PCI_CAPABILITY_LIST];
    fn->cfg[PCI_CAPABILITY_LIST] = (uint8_t)cap;
    put_le(fn->cfg + PCI_STATUS, 2, get_le(fn->cfg + PCI_STATUS, 2) | PCI_STATUS_CAP_LIST);

    uint16_t flags = (uint16_t)(log2v << 1);
    if (is64)
        flags |= PCI_MSI_FLAGS_64BIT;
    put_le(fn->cfg + cap + PCI_MSI_FLAGS, 2, flags);
    put_le(fn->wmask + cap + PCI_MSI_FLAGS, 2, PCI_MSI_FLAGS_QSIZE | PCI_MSI_FLAGS_ENABLE);
    put_le(fn->wmask + cap + PCI_MSI_ADDRESS_LO, 4, PCI_MSI_ADDRESS_LO_MASK);
    if (is64) {
        put_le(fn->wmask + cap + PCI_MSI_ADDRESS_HI, 4, 0xFFFFFFFFu);
        put_le(fn->wmask + cap + PCI_MSI_DATA_64, 2, 0xFFFF);
    } else {
        put_le(fn->wmask + cap + PCI_MSI_DATA_32, 2, 0xFFFF);
    }
    fn->msi_cap = (uint8_t)cap;
}

bool pci_bus_add(struct pci_bus *bus, struct pci_function *fn, struct device *dev, uint16_t bdf)
{
    if (!bus || !fn || !dev || !dev->ops || !dev->ops->read || !dev->ops->write)
        return false;
    const struct device_ops *ops = dev->ops;
    if (bus->n_fns >= PCI_BUS_MAX_FUNCTIONS || pci_bus_find(bus, bdf))
        return false;
    for (int s = 0; s < PCI_NUM_SLOTS; s++)
        if (!bar_decl_valid(ops->bars, s))
            return false;
    if (ops->msi_vectors && (!is_pow2(ops->msi_vectors) || ops->msi_vectors > 32))
        return false;
    if (ops->id.interrupt_pin > 4)
        return false;

    memset(fn, 0, sizeof *fn);
    fn->bdf = bdf;
    fn->dev = dev;
    fn->bus = bus;
    dev->fn = fn;

    /* Header type 0 (PCI 3.0 6.2.1): identity read-only. */
    put_le(fn->cfg + PCI_VENDOR_ID, 2, ops->id.vendor_id);
    put_le(fn->cfg + PCI_DEVICE_ID, 2, ops->id.device_id);
    fn->cfg[PCI_REVISION_ID] = ops->id.revision;
    put_le(fn->cfg + PCI_CLASS_PROG, 3, ops->id.class_code);
    fn->cfg[PCI_HEADER_TYPE] = PCI_HEADER_TYPE_NORMAL;
    put_le(fn->cfg + PCI_SUBSYSTEM_VENDOR_ID, 2, ops->id.subsystem_vendor_id);
    put_le(fn->cfg + PCI_SUBSYSTEM_ID, 2, ops->id.subsystem_id);
    fn->cfg[PCI_INTERRUPT_PIN] = ops->id.interrupt_pin;

    /* Writable bits as QEMU's pci_init_wmask / pci_init_w1cmask: cache line size, interrupt
     * line, COMMAND I/O, memory, bus master, SERR#, INTx disable; the device-specific area
     * after the header is plain read/write except where a capability sits. STATUS error
     * bits are write-1-to-clear (PCI 3.0 6.2.3). */
    fn->wmask[PCI_CACHE_LINE_SIZE] = 0xFF;
    fn->wmask[PCI_INTERRUPT_LINE] = 0xFF;
    put_le(fn->wmask + PCI_COMMAND, 2,
           PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_SERR |
               PCI_COMMAND_INTX_DISABLE);
    memset(fn->wmask + PCI_CONFIG_HEADER_SIZE, 0xFF, PCI_CFG_SIZE - PCI_CONFIG_HEADER_SIZE);
    put_le(fn->w1cmask + PCI_STATUS, 2,
           PCI_STATUS_PARITY | PCI_STATUS_SIG_TARGET_ABORT | PCI_STATUS_REC_TARGET_ABORT |
               PCI_STATUS_REC_MASTER_ABORT | PCI_STATUS_SIG_SYSTEM_ERROR |
               PCI_STATUS_DETECTED_PARITY);

    for (int s = 0; s < PCI_NUM_SLOTS; s++)
        if (ops->bars[s].kind != PCI_BAR_NONE)
            register_bar(fn, s, &ops->bars[s]);
    if (ops->msi_vectors)
        add_msi_capability(fn, ops->msi_vectors, ops->msi_64bit);

    memcpy(fn->init_cfg, fn->cfg, PCI_CFG_SIZE);
    bus->fns[bus->n_fns++] = fn;
    return true;
}

/* --- BAR decoding and map changes ---------------------------------------------------------- */

/* The highest guest-physical address EPT can map: MAXPHYADDR is at most 52 (SDM Vol. 3C,
 * 29.3.2, EPT paging-structure entries hold bits 51:12). */
#define PCI_MEM_LIMIT (1ull << 52)

/* Where slot `slot` decodes now. Unmapped: decode disabled in COMMAND (or ROM enable clear),
 * address 0 (unassigned), the sizing pattern (every writable address bit of the low dword
 * set: a 32-bit BAR's last naturally aligned block, which is also QEMU's "last_addr >=
 * UINT32_MAX" rule), an I/O range past port 0xFFFF, or a memory range beyond PCI_MEM_LIMIT. */
static struct pci_bar_window bar_window(const struct pci_function *fn, int slot)
{
    struct pci_bar_window w = fn->win[slot];
    enum pci_bar_kind kind = fn->dev->ops->bars[slot].kind;
    unsigned off = slot_offset(slot);
    uint16_t cmd = fn_command(fn);
    uint32_t lo = get_le(fn->cfg + off, 4);
    uint32_t wm = get_le(fn->wmask + off, 4);
    uint64_t base = lo & wm;
    bool enabled = false;
    bool sizing = (lo & wm) == wm;

    switch (kind) {
    case PCI_BAR_IO:
        enabled = cmd & PCI_COMMAND_IO;
        break;
    case PCI_BAR_MEM32:
        enabled = cmd & PCI_COMMAND_MEMORY;
        break;
    case PCI_BAR_MEM64: {
        uint32_t hi = get_le(fn->cfg + off + 4, 4);
        uint32_t wmhi = get_le(fn->wmask + off + 4, 4);
        base |= (uint64_t)hi << 32;
        /* A BAR of 4 GiB or more has no writable low address bits: its sizing pattern is in
         * the high dword. */
        sizing = wm ? sizing : (hi & wmhi) == wmhi;
        enabled = cmd & PCI_COMMAND_MEMORY;
        break;
    }
    case PCI_BAR_ROM:
        base &= ~(uint64_t)PCI_ROM_ADDRESS_ENABLE;
        sizing = (lo & wm & ~1u) == (wm & ~1u);
        enabled = (cmd & PCI_COMMAND_MEMORY) && (lo & PCI_ROM_ADDRESS_ENABLE);
        break;
    default:
        break;
    }

    w.base = base;
    w.mapped = enabled && !sizing && base != 0;
    if (w.mapped && w.io && base + w.size > 0x10000)
        w.mapped = false;
    if (w.mapped && !w.io && (base + w.size < base || base + w.size > PCI_MEM_LIMIT))
        w.mapped = false;
    return w;
}

static void map_seq_begin(struct pci_bus *bus)
{
    __atomic_store_n(&bus->map_seq, bus->map_seq + 1, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_RELEASE);
}

static void map_seq_end(struct pci_bus *bus)
{
    __atomic_store_n(&bus->map_seq, bus->map_seq + 1, __ATOMIC_RELEASE);
}

/* Whether two mapped memory windows on the bus intersect (a guest may program overlapping
 * BARs; PCI leaves the decode undefined, the search answers the first function in bus order).
 * cfg_lock held, inside map_seq. */
static bool any_mem_overlap(const struct pci_bus *bus)
{
    for (size_t i = 0; i < bus->n_fns; i++)
        for (int s = 0; s < PCI_NUM_SLOTS; s++) {
            const struct pci_bar_window *a = &bus->fns[i]->win[s];
            if (!a->mapped || a->io)
                continue;
            for (size_t j = i; j < bus->n_fns; j++)
                for (int t = j == i ? s + 1 : 0; t < PCI_NUM_SLOTS; t++) {
                    const struct pci_bar_window *b = &bus->fns[j]->win[t];
                    if (b->mapped && !b->io && a->base < b->base + b->size &&
                        b->base < a->base + a->size)
                        return true;
                }
        }
    return false;
}

/* Re-decodes every BAR of fn and reports the ones whose mapped state or base changed.
 * cfg_lock held. */
static void update_windows(struct pci_function *fn)
{
    struct pci_bus *bus = fn->bus;
    for (int s = 0; s < PCI_NUM_SLOTS; s++) {
        if (fn->win[s].size == 0)
            continue;
        struct pci_bar_window old = fn->win[s];
        struct pci_bar_window now = bar_window(fn, s);
        bool changed = old.mapped != now.mapped || (now.mapped && old.base != now.base);
        if (!changed) {
            fn->win[s].base = now.base; /* unmapped either way: keep the register's view */
            continue;
        }
        map_seq_begin(bus);
        fn->win[s] = now;
        bus->mem_overlap = any_mem_overlap(bus);
        map_seq_end(bus);
        if (bus->map_changed)
            bus->map_changed(bus->map_ctx, fn, s, &old, &now);
    }
}

/* --- interrupts ---------------------------------------------------------------------------- */

bool pci_bus_master_enabled(const struct pci_function *fn)
{
    return fn_command(fn) & PCI_COMMAND_MASTER;
}

bool pci_msi_enabled(const struct pci_function *fn)
{
    return fn->msi_cap && (get_le(fn->cfg + fn->msi_cap + PCI_MSI_FLAGS, 2) & PCI_MSI_FLAGS_ENABLE);
}

void pci_msi_notify(struct pci_function *fn, unsigned vector)
{
    if (!pci_msi_enabled(fn) || !pci_bus_master_enabled(fn))
        return;
    const uint8_t *cap = fn->cfg + fn->msi_cap;
    uint16_t flags = (uint16_t)get_le(cap + PCI_MSI_FLAGS, 2);
    bool is64 = flags & PCI_MSI_FLAGS_64BIT;
    unsigned nr = 1u << ((flags & PCI_MSI_FLAGS_QSIZE) >> 4);
    if (vector >= nr)
        return;
    uint64_t address = get_le(cap + PCI_MSI_ADDRESS_LO, 4);
    if (is64)
        address |= (uint64_t)get_le(cap + PCI_MSI_ADDRESS_HI, 4) << 32;
    uint32_t data = get_le(cap + (is64 ? PCI_MSI_DATA_64 : PCI_MSI_DATA_32), 2);
    /* Multiple messages: the function modifies the low log2(nr) bits of data (6.8.1.6). */
    data = (data & ~(nr - 1)) | vector;
    const struct device *dev = fn->dev;
    if (dev->platform && dev->platform->msi_send)
        dev->platform->msi_send(dev->platform_ctx, address, data);
}

/* irq_lock held. */
static void intx_update_locked(struct pci_function *fn)
{
    int out = fn->intx_level && fn->cfg[PCI_INTERRUPT_PIN] &&
              !(fn_command(fn) & PCI_COMMAND_INTX_DISABLE);
    if (fn->intx_level)
        fn->cfg[PCI_STATUS] |= PCI_STATUS_INTERRUPT;
    else
        fn->cfg[PCI_STATUS] &= (uint8_t)~PCI_STATUS_INTERRUPT;
    if (out != fn->intx_out) {
        fn->intx_out = out;
        const struct device *dev = fn->dev;
        if (dev->platform && dev->platform->intx_set)
            dev->platform->intx_set(dev->platform_ctx, out);
    }
}

void pci_intx_set(struct pci_function *fn, int level)
{
    spin_lock(&fn->irq_lock);
    fn->intx_level = level ? 1 : 0;
    intx_update_locked(fn);
    spin_unlock(&fn->irq_lock);
}

/* --- configuration access to a virtual function (cfg_lock held) --------------------------- */

static bool cfg_access_valid(uint16_t offset, unsigned size)
{
    return (size == 1 || size == 2 || size == 4) && (offset & 3u) + size <= 4 && offset < 4096;
}

static unsigned msi_cap_size(const struct pci_function *fn)
{
    bool is64 = fn->cfg[fn->msi_cap + PCI_MSI_FLAGS] & PCI_MSI_FLAGS_64BIT;
    return is64 ? PCI_MSI_DATA_64 + 2 : PCI_MSI_DATA_32 + 2;
}

static uint32_t fn_cfg_read(const struct pci_function *fn, uint16_t offset, unsigned size)
{
    if (offset >= PCI_CFG_SIZE)
        return ones(size);
    return get_le(fn->cfg + offset, size);
}

static void fn_cfg_write(struct pci_function *fn, uint16_t offset, unsigned size, uint32_t value)
{
    if (offset >= PCI_CFG_SIZE)
        return;
    spin_lock(&fn->irq_lock);
    uint32_t v = value;
    for (unsigned i = 0; i < size; i++, v >>= 8) {
        unsigned a = offset + i;
        uint8_t wm = fn->wmask[a], w1c = fn->w1cmask[a];
        fn->cfg[a] = (uint8_t)((fn->cfg[a] & ~wm) | (v & wm));
        fn->cfg[a] &= (uint8_t) ~(v & w1c);
    }
    if (fn->msi_cap && ranges_overlap(offset, size, fn->msi_cap, msi_cap_size(fn)) &&
        pci_msi_enabled(fn)) {
        /* As QEMU's msi_write_config, on any write to the capability while MSI is enabled:
         * the function must not use INTx (PCI 3.0 6.8.3.3), so a pending level is dropped;
         * and multiple-message-enable is clamped to what the function is capable of (with
         * MSI disabled the field keeps whatever was written, as in QEMU). */
        fn->intx_level = 0;
        uint8_t *f = fn->cfg + fn->msi_cap + PCI_MSI_FLAGS;
        unsigned cap_log = (f[0] & PCI_MSI_FLAGS_QMASK) >> 1;
        unsigned en_log = (f[0] & PCI_MSI_FLAGS_QSIZE) >> 4;
        if (en_log > cap_log)
            f[0] = (uint8_t)((f[0] & ~PCI_MSI_FLAGS_QSIZE) | (cap_log << 4));
    }
    /* COMMAND.INTx-disable or an MSI enable may have changed the line; STATUS.interrupt is
     * read-only and must survive the byte merge above. */
    intx_update_locked(fn);
    spin_unlock(&fn->irq_lock);

    if (ranges_overlap(offset, size, PCI_COMMAND, 2) ||
        ranges_overlap(offset, size, PCI_BASE_ADDRESS_0, 24) ||
        ranges_overlap(offset, size, PCI_ROM_ADDRESS, 4))
        update_windows(fn);

    if (fn->dev->ops->cfg_write)
        fn->dev->ops->cfg_write(fn->dev, offset, size, value);
}

bool pci_cfg_read(struct pci_bus *bus, uint16_t bdf, uint16_t offset, unsigned size,
                  uint32_t *value)
{
    *value = ones(size);
    if (!cfg_access_valid(offset, size))
        return false;
    spin_lock(&bus->cfg_lock);
    struct pci_function *fn = pci_bus_find(bus, bdf);
    if (fn)
        *value = fn_cfg_read(fn, offset, size);
    spin_unlock(&bus->cfg_lock);
    return fn != NULL;
}

bool pci_cfg_write(struct pci_bus *bus, uint16_t bdf, uint16_t offset, unsigned size,
                   uint32_t value)
{
    if (!cfg_access_valid(offset, size))
        return false;
    spin_lock(&bus->cfg_lock);
    struct pci_function *fn = pci_bus_find(bus, bdf);
    if (fn)
        fn_cfg_write(fn, offset, size, value);
    spin_unlock(&bus->cfg_lock);
    return fn != NULL;
}

/* A configuration access to any bus/dev/fn: virtual, or forwarded to the real bus.
 * cfg_lock held (so a forwarded CF8 write + CFC access is one indivisible pair). */
static uint32_t any_cfg_read(struct pci_bus *bus, uint16_t bdf, uint16_t offset, unsigned size)
{
    struct pci_function *fn = pci_bus_find(bus, bdf);
    if (fn)
        return fn_cfg_read(fn, offset, size);
    if (bus->backend && bus->backend->cfg_read)
        return bus->backend->cfg_read(bus->backend_ctx, bdf, offset, size) & ones(size);
    return ones(size);
}

static void any_cfg_write(struct pci_bus *bus, uint16_t bdf, uint16_t offset, unsigned size,
                          uint32_t value)
{
    struct pci_function *fn = pci_bus_find(bus, bdf);
    if (fn)
        fn_cfg_write(fn, offset, size, value);
    else if (bus->backend && bus->backend->cfg_write)
        bus->backend->cfg_write(bus->backend_ctx, bdf, offset, size, value & ones(size));
}

void pci_function_reset(struct pci_function *fn)
{
    struct pci_bus *bus = fn->bus;
    spin_lock(&bus->cfg_lock);
    spin_lock(&fn->irq_lock);
    memcpy(fn->cfg, fn->init_cfg, PCI_CFG_SIZE);
    fn->intx_level = 0;
    intx_update_locked(fn);
    spin_unlock(&fn->irq_lock);
    update_windows(fn);
    if (fn->dev->ops->reset)
        fn->dev->ops->reset(fn->dev);
    spin_unlock(&bus->cfg_lock);
}

/* --- the 0xCF8/0xCFC port path -------------------------------------------------------------- */

/* The register a CFC access reaches: latch bits 7:2 plus the port's byte offset; bits 27:24
 * carry register bits 11:8 on AMD chipsets with extended CF8 configuration enabled (ignored
 * for virtual functions, which have no extended space). */
static uint16_t cf8_register(uint32_t latch, uint16_t port)
{
    return (uint16_t)((((latch >> 24) & 0xF) << 8) | (latch & 0xFC) | (port & 3u));
}

static uint16_t cf8_bdf(uint32_t latch)
{
    return (uint16_t)((latch >> 8) & 0xFFFF);
}

static bool is_cfg_port(uint16_t port)
{
    return port >= PCI_PORT_CF8 && port <= PCI_PORT_CFC + 3;
}

bool pci_cfg_port_read(struct pci_bus *bus, uint16_t port, unsigned size, uint32_t *value)
{
    if (!is_cfg_port(port))
        return false;
    *value = ones(size);
    if (size != 1 && size != 2 && size != 4)
        return true;
    if ((port & 3u) + size > 4)
        return true; /* leaves the dword (or crosses from 0xCFB into the data port) */

    spin_lock(&bus->cfg_lock);
    if (port < PCI_PORT_CFC) {
        if (port == PCI_PORT_CF8 && size == 4)
            *value = bus->cf8_latch;
        else if (bus->backend && bus->backend->port_in)
            *value = bus->backend->port_in(bus->backend_ctx, port, size) & ones(size);
    } else if (bus->cf8_latch & PCI_CF8_ENABLE) {
        *value =
            any_cfg_read(bus, cf8_bdf(bus->cf8_latch), cf8_register(bus->cf8_latch, port), size);
    }
    spin_unlock(&bus->cfg_lock);
    return true;
}

bool pci_cfg_port_write(struct pci_bus *bus, uint16_t port, unsigned size, uint32_t value)
{
    if (!is_cfg_port(port))
        return false;
    if (size != 1 && size != 2 && size != 4)
        return true;
    if ((port & 3u) + size > 4)
        return true;
    value &= ones(size);

    spin_lock(&bus->cfg_lock);
    if (port < PCI_PORT_CFC) {
        if (port == PCI_PORT_CF8 && size == 4)
            bus->cf8_latch = value;
        else if (bus->backend && bus->backend->port_out)
            bus->backend->port_out(bus->backend_ctx, port, size, value);
    } else if (bus->cf8_latch & PCI_CF8_ENABLE) {
        any_cfg_write(bus, cf8_bdf(bus->cf8_latch), cf8_register(bus->cf8_latch, port), size,
                      value);
    }
    spin_unlock(&bus->cfg_lock);
    return true;
}

/* --- the ECAM path -------------------------------------------------------------------------- */

static bool ecam_decode(const struct pci_bus *bus, uint64_t off, unsigned size, uint16_t *bdf,
                        uint16_t *reg)
{
    if (size != 1 && size != 2 && size != 4)
        return false;
    if (off & (size - 1))
        return false;
    uint64_t busno = (off >> 20) + bus->ecam_start_bus;
    if (busno > 255)
        return false;
    *bdf = (uint16_t)((busno << 8) | ((off >> 12) & 0xFF));
    *reg = (uint16_t)(off & 0xFFF);
    return true;
}

bool pci_ecam_read(struct pci_bus *bus, uint64_t offset_in_window, unsigned size, uint32_t *value)
{
    uint16_t bdf, reg;
    *value = ones(size);
    if (!ecam_decode(bus, offset_in_window, size, &bdf, &reg))
        return false;
    spin_lock(&bus->cfg_lock);
    *value = any_cfg_read(bus, bdf, reg, size);
    spin_unlock(&bus->cfg_lock);
    return true;
}

bool pci_ecam_write(struct pci_bus *bus, uint64_t offset_in_window, unsigned size, uint32_t value)
{
    uint16_t bdf, reg;
    if (!ecam_decode(bus, offset_in_window, size, &bdf, &reg))
        return false;
    spin_lock(&bus->cfg_lock);
    any_cfg_write(bus, bdf, reg, size, value & ones(size));
    spin_unlock(&bus->cfg_lock);
    return true;
}

/* --- MMIO dispatch -------------------------------------------------------------------------- */

/* Lock-free: retries while a configuration write is republishing a window. Functions are only
 * added before guests run, so fns[] and n_fns are stable here. */
static bool bar_lookup(struct pci_bus *bus, bool io, uint64_t gpa, struct pci_function **fn_out,
                       int *bar_out, uint64_t *offset_out, uint64_t *size_out)
{
    for (;;) {
        uint64_t seq = __atomic_load_n(&bus->map_seq, __ATOMIC_ACQUIRE);
        if (seq & 1) {
            __builtin_ia32_pause();
            continue;
        }
        bool found = false;
        for (size_t i = 0; i < bus->n_fns && !found; i++) {
            struct pci_function *fn = bus->fns[i];
            for (int s = 0; s < PCI_NUM_SLOTS; s++) {
                const struct pci_bar_window *w = &fn->win[s];
                if (!w->mapped || w->io != io || gpa < w->base || gpa - w->base >= w->size)
                    continue;
                *fn_out = fn;
                *bar_out = s;
                *offset_out = gpa - w->base;
                *size_out = w->size;
                found = true;
                break;
            }
        }
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if (__atomic_load_n(&bus->map_seq, __ATOMIC_RELAXED) == seq)
            return found;
    }
}

bool pci_mmio_find(struct pci_bus *bus, uint64_t gpa, struct pci_function **fn, int *bar,
                   uint64_t *offset)
{
    uint64_t size;
    return bar_lookup(bus, false, gpa, fn, bar, offset, &size);
}

bool pci_bar_route_take(struct pci_bus *bus, struct pci_function *fn, int bar,
                        struct pci_bar_route *route)
{
    /* A function of another bus: this bus's map_seq does not follow its windows. */
    if (!fn || fn->bus != bus || bar < 0 || bar >= PCI_NUM_SLOTS)
        return false;
    uint64_t seq = __atomic_load_n(&bus->map_seq, __ATOMIC_ACQUIRE);
    const struct pci_bar_window *w = &fn->win[bar];
    struct pci_bar_route r = {
        .dev = fn->dev, .base = w->base, .size = w->size, .map_seq = seq, .bar = bar};
    /* A memory BAR has at least 16 bytes (PCI Local Bus 3.0, 6.2.5.1); 8 is what
     * pci_bar_route_offset needs (an access has at most 8). */
    bool holds = !(seq & 1) && w->mapped && !w->io && !bus->mem_overlap && w->size >= 8;
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    if (!holds || __atomic_load_n(&bus->map_seq, __ATOMIC_RELAXED) != seq)
        return false;
    *route = r;
    return true;
}

static uint64_t ones64(unsigned size)
{
    return size >= 8 ? ~0ull : (1ull << (8 * size)) - 1;
}

static enum pci_mmio_result bar_route(struct pci_bus *bus, bool io, uint64_t addr, unsigned size,
                                      struct pci_function **fn, int *bar, uint64_t *offset)
{
    uint64_t bar_size;
    if (size != 1 && size != 2 && size != 4 && (io || size != 8))
        return PCI_MMIO_BAD_SIZE;
    if (!bar_lookup(bus, io, addr, fn, bar, offset, &bar_size))
        return PCI_MMIO_UNCLAIMED;
    if (*offset + size > bar_size)
        return PCI_MMIO_STRADDLE;
    return PCI_MMIO_OK;
}

static enum pci_mmio_result bar_read(struct pci_bus *bus, bool io, uint64_t addr, unsigned size,
                                     uint64_t *value)
{
    struct pci_function *fn;
    int bar;
    uint64_t offset;
    enum pci_mmio_result r = bar_route(bus, io, addr, size, &fn, &bar, &offset);
    *value = r == PCI_MMIO_BAD_SIZE ? ~0ull : ones64(size);
    if (r != PCI_MMIO_OK)
        return r;
    uint64_t v = ~0ull;
    fn->dev->ops->read(fn->dev, bar, offset, size, &v);
    *value = v & ones64(size);
    return PCI_MMIO_OK;
}

static enum pci_mmio_result bar_write(struct pci_bus *bus, bool io, uint64_t addr, unsigned size,
                                      uint64_t value)
{
    struct pci_function *fn;
    int bar;
    uint64_t offset;
    enum pci_mmio_result r = bar_route(bus, io, addr, size, &fn, &bar, &offset);
    if (r != PCI_MMIO_OK)
        return r;
    fn->dev->ops->write(fn->dev, bar, offset, size, value & ones64(size));
    return PCI_MMIO_OK;
}

enum pci_mmio_result pci_mmio_read(struct pci_bus *bus, uint64_t gpa, unsigned size,
                                   uint64_t *value)
{
    return bar_read(bus, false, gpa, size, value);
}

enum pci_mmio_result pci_mmio_write(struct pci_bus *bus, uint64_t gpa, unsigned size,
                                    uint64_t value)
{
    return bar_write(bus, false, gpa, size, value);
}

enum pci_mmio_result pci_pio_read(struct pci_bus *bus, uint16_t port, unsigned size,
                                  uint32_t *value)
{
    uint64_t v;
    enum pci_mmio_result r = bar_read(bus, true, port, size, &v);
    *value = (uint32_t)v;
    return r;
}

enum pci_mmio_result pci_pio_write(struct pci_bus *bus, uint16_t port, unsigned size,
                                   uint32_t value)
{
    return bar_write(bus, true, port, size, value);
}
