/* Placement of virtual functions on the real machine: a free device number on bus 0 and
 * naturally aligned BAR addresses that collide with nothing the machine already uses.
 * The launcher (boot/) collects what the real bus holds and calls pci_place once, then adds
 * the functions with pci_bus_add and programs the returned addresses into the BARs (and sets
 * COMMAND.memory) the way firmware would. Pure, no allocation. */
#ifndef TRAPVISOR_PCI_PLACE_H
#define TRAPVISOR_PCI_PLACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devices/device.h"

/* [base, base + size). size 0 = empty. Ranges may reach the top of the 64-bit space. */
struct pci_range {
    uint64_t base;
    uint64_t size;
};

struct pci_place_input {
    uint32_t taken_slots;        /* bit d set: device number d on real bus 0 answers */
    const struct pci_range *ram; /* RAM (and anything the memory map calls memory) */
    size_t n_ram;
    const struct pci_range *busy; /* BARs assigned on every bus, bridge windows, LAPIC,
                                     IOAPIC, ECAM, firmware flash: anything else in use */
    size_t n_busy;
    const struct pci_range *windows; /* the host bridge's MMIO window(s) */
    size_t n_windows;
};

/* One virtual function to place: its BAR layout in, its slot and BAR bases out. */
struct pci_place_fn {
    const struct device_ops *ops; /* in: BAR declarations */
    uint8_t slot;                 /* out: device number on bus 0 */
    uint64_t base[PCI_NUM_SLOTS]; /* out: 0 for unused slots */
};

enum pci_place_result {
    PCI_PLACE_OK = 0,
    PCI_PLACE_NO_SLOT,     /* every device number 1..31 on bus 0 is taken */
    PCI_PLACE_NO_SPACE,    /* some BAR fits in no window */
    PCI_PLACE_BAD_REQUEST, /* invalid BAR declaration, an I/O BAR (no I/O window modelled),
                              or a NULL argument */
};

/* Places n functions (slots distinct, BARs disjoint from each other and from ram/busy).
 * Memory BARs only; 32-bit BARs and ROMs end at or below 4 GiB; 64-bit BARs anywhere in a
 * window. Device 0 is never used (the host bridge's place). Largest BARs first, lowest
 * fitting address in the first window that has room. On failure nothing in fns is
 * meaningful. */
enum pci_place_result pci_place(const struct pci_place_input *in, struct pci_place_fn *fns,
                                size_t n);

const char *pci_place_strerror(enum pci_place_result r);

#endif
