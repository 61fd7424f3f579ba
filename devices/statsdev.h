/* The statistics function (issue 5): a virtual PCI function whose BAR0 shows Trapvisor's
 * exit statistics (struct tv_stats, vmx/stats_abi.h) to the guest.
 *
 * BAR0 is 1 MiB and "backed": the hypervisor maps the live statistics pages read-only at its
 * start, so a guest reads them without an exit. Writes always trap and reach this model: a
 * 32-bit write of TV_STATS_CTRL_RESET at TV_STATS_CTRL_OFFSET resets every counter; other
 * writes are ignored. Reads that do reach the model (the control page and beyond, or any read
 * when the platform does not back the BAR) return the statistics bytes, 0 for the control
 * register, all ones past it.
 *
 * The model knows only the guest ABI: the pages and a reset callback come from the platform.
 * Pure C, freestanding. */
#ifndef TRAPVISOR_DEVICES_STATSDEV_H
#define TRAPVISOR_DEVICES_STATSDEV_H

#include <stdint.h>

#include "devices/device.h"
#include "vmx/stats_abi.h"

#define STATSDEV_BAR0_SIZE 0x100000u

struct statsdev {
    struct device dev;             /* first: handlers cast struct device * back */
    const volatile uint8_t *pages; /* the live struct tv_stats */
    void (*reset_stats)(void *ctx);
    void *reset_ctx;
    uint64_t resets; /* resets requested through the control register */
};

extern const struct device_ops statsdev_ops;

void statsdev_init(struct statsdev *sd, const struct tv_stats *pages,
                   void (*reset_stats)(void *ctx), void *reset_ctx);

#endif
