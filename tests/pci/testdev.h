/* A configurable device for the pci/ tests: BAR layout chosen per test, every access recorded,
 * and a fake real bus (backend) that answers a value computed from bdf and register. */
#ifndef TRAPVISOR_TESTS_PCI_TESTDEV_H
#define TRAPVISOR_TESTS_PCI_TESTDEV_H

#include "pci/pci.h"

struct testdev_access {
    int is_write;
    int bar;
    uint64_t offset;
    unsigned size;
    uint64_t value;
};

struct testdev {
    struct device dev;
    struct device_ops ops;
    struct testdev_access log[64];
    unsigned n_log;
    unsigned cfg_writes;
    uint16_t last_cfg_offset;
    unsigned last_cfg_size;
    uint32_t last_cfg_value;
    unsigned resets;
};

/* vendor 0x1b36 device 0x0005 (any non-edu identity), INTA#, no BARs, no MSI until set. */
void testdev_init(struct testdev *td);

/* The value the fake backend answers for a real configuration read. */
uint32_t fakebus_value(uint16_t bdf, uint16_t offset, unsigned size);

struct fakebus {
    unsigned reads, writes, port_ins, port_outs;
    uint16_t last_bdf, last_offset;
    unsigned last_size;
    uint32_t last_value;
    uint16_t last_port;
    int busy;        /* set while a forwarded access is "on the real bus" */
    int interleaved; /* a second access started while one was in flight */
};

extern const struct pci_backend fakebus_backend;

/* Records map_changed reports. */
struct map_event {
    int bar;
    struct pci_bar_window old, now;
};

struct map_log {
    struct map_event ev[32];
    unsigned n;
};

void map_log_record(void *ctx, struct pci_function *fn, int bar, const struct pci_bar_window *old,
                    const struct pci_bar_window *now);

#endif
