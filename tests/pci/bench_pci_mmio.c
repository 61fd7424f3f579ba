/* Host micro-benchmark of the device side of the MMIO path: pci_mmio_read/write routed to the
 * edu model (lock-free BAR lookup, device lock, register switch), and a CF8+CFC configuration
 * read. Built without sanitizers; prints ns per operation, best of 5 runs. */
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "devices/edu.h"
#include "pci/pci.h"

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

#define N 2000000

int main(void)
{
    static struct pci_bus bus;
    static struct pci_function fn;
    static struct edu edu;
    edu_init(&edu, NULL, NULL);
    pci_bus_init(&bus, NULL, NULL, NULL, NULL);
    if (!pci_bus_add(&bus, &fn, &edu.dev, PCI_BDF(0, 2, 0)))
        return 1;
    pci_cfg_write(&bus, fn.bdf, 0x10, 4, 0xC1000000u);
    pci_cfg_write(&bus, fn.bdf, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);

    double best_rd = 1e99, best_wr = 1e99, best_cfg = 1e99;
    volatile uint64_t sink = 0;
    for (int run = 0; run < 5; run++) {
        double t0 = now_ns();
        for (int i = 0; i < N; i++) {
            uint64_t v;
            pci_mmio_read(&bus, 0xC1000000u + EDU_REG_ID, 4, &v);
            sink += v;
        }
        double t1 = now_ns();
        for (int i = 0; i < N; i++)
            pci_mmio_write(&bus, 0xC1000000u + EDU_REG_LIVENESS, 4, (uint64_t)i);
        double t2 = now_ns();
        for (int i = 0; i < N; i++) {
            uint32_t v;
            pci_cfg_port_write(&bus, 0xCF8, 4, 0x80001000u);
            pci_cfg_port_read(&bus, 0xCFC, 4, &v);
            sink += v;
        }
        double t3 = now_ns();
        if ((t1 - t0) / N < best_rd)
            best_rd = (t1 - t0) / N;
        if ((t2 - t1) / N < best_wr)
            best_wr = (t2 - t1) / N;
        if ((t3 - t2) / N < best_cfg)
            best_cfg = (t3 - t2) / N;
    }
    printf("bench: pci_mmio_read(edu id)=%.1f pci_mmio_write(edu liveness)=%.1f "
           "cf8+cfc config read=%.1f ns/op\n",
           best_rd, best_wr, best_cfg);
    return sink == 42; /* keep the loops */
}
