/* The exit-statistics layout Trapvisor exposes to guests (issue 5).
 *
 * The same bytes reach a guest two ways: TV_HC_STATS_SNAPSHOT copies them into a guest buffer,
 * and the statistics PCI function (TV_STATS_PCI_VENDOR:TV_STATS_PCI_DEVICE) maps the live pages
 * read-only at its BAR0, so a guest reads them without any exit. A write of TV_STATS_CTRL_RESET
 * to the 32-bit register at BAR0 + TV_STATS_CTRL_OFFSET (the page after the statistics, which
 * is trapped) zeroes every counter. Documented for users in docs/stats.md.
 *
 * Times are TSC ticks spent in VMX root mode for one exit: from the exit stub's first
 * instruction to the VMRESUME (taken in the stub). In Bochs the TSC counts instructions. */
#ifndef TRAPVISOR_STATS_ABI_H
#define TRAPVISOR_STATS_ABI_H

#include <stdint.h>

#define TV_STATS_MAGIC    0x5354415453565400ull /* "\0TVSTATS" little-endian */
#define TV_STATS_VERSION  1u
#define TV_STATS_MAX_CPUS 32u
#define TV_STATS_REASONS  80u /* basic exit reasons 0..79 (SDM Vol. 3D, Appendix C) */
#define TV_STATS_DEVICES  4u  /* MMIO exits are also counted per virtual device */
#define TV_STATS_BUCKETS                                                                           \
    32u /* log2 histogram: bucket i holds times t with 2^i <= t < 2^(i+1)                          \
           (bucket 0 also holds t = 0); the last bucket holds the rest */
#define TV_STATS_NAME_LEN 16u

#define TV_STATS_PCI_VENDOR 0x1234u
#define TV_STATS_PCI_DEVICE 0x7476u /* "tv" */
#define TV_STATS_CTRL_RESET 1u

/* Flags in tv_stats_header.flags. */
#define TV_STATS_F_ACCOUNTING 1u /* accounting compiled in (else every counter stays 0) */

struct tv_exit_stat {
    uint64_t count;
    uint64_t total; /* sum of ticks */
    uint64_t min;   /* UINT64_MAX while count == 0 */
    uint64_t max;
    uint64_t hist[TV_STATS_BUCKETS];
};

struct tv_stats_cpu {
    uint32_t apic_id;     /* initial APIC ID (CPUID.1:EBX[31:24], or CPUID.0BH:EDX in x2APIC) */
    uint32_t online;      /* 1 once this CPU runs as a guest */
    uint64_t last_reason; /* basic exit reason of this CPU's latest exit */
    uint64_t last_ticks;  /* its root-mode time: lets a guest time single exits exactly */
    uint64_t seq;         /* increments at every exit of this CPU */
    struct tv_exit_stat reason[TV_STATS_REASONS];
    struct tv_exit_stat mmio_device[TV_STATS_DEVICES];
};

struct tv_stats_header {
    uint64_t magic;
    uint32_t version;
    uint32_t header_size; /* offset of cpu[0] */
    uint32_t cpu_stride;  /* sizeof(struct tv_stats_cpu) */
    uint32_t ncpus;       /* entries of cpu[] in use */
    uint32_t nreasons;
    uint32_t nbuckets;
    uint32_t ndevices;
    uint32_t flags;
    uint64_t overhead_ticks; /* measured cost of the accounting itself, per exit */
    uint64_t generation;     /* increments at every reset */
    char device_name[TV_STATS_DEVICES][TV_STATS_NAME_LEN]; /* e.g. "edu"; "" = unused */
};

struct tv_stats {
    struct tv_stats_header hdr;
    struct tv_stats_cpu cpu[TV_STATS_MAX_CPUS];
};

/* Offset of the control register inside the statistics BAR: the first page after the
 * statistics themselves. */
#define TV_STATS_PAGES       ((sizeof(struct tv_stats) + 4095) / 4096)
#define TV_STATS_CTRL_OFFSET (TV_STATS_PAGES * 4096)

#endif
