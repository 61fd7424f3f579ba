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

#define TV_STATS_MAGIC 0x5354415453565400ull /* "\0TVSTATS" little-endian */
/* The version names the layout of struct tv_stats: a reader built for one version reads only
 * that one (in-tree readers index cpu[] with their own sizeof, not hdr.cpu_stride). Version 2
 * appended the MMIO path counters to struct tv_stats_cpu (every offset of version 1 is kept). */
#define TV_STATS_VERSION  2u
#define TV_STATS_MAX_CPUS 32u
#define TV_STATS_REASONS  80u /* basic exit reasons 0..79 (SDM Vol. 3D, Appendix C) */
#define TV_STATS_DEVICES  4u  /* MMIO exits are also counted per virtual device */
#define TV_STATS_BUCKETS                                                                           \
    32u /* log2 histogram: bucket i holds times t with 2^i <= t < 2^(i+1)                          \
           (bucket 0 also holds t = 0); the last bucket holds the rest */
#define TV_STATS_NAME_LEN 16u
#define TV_STATS_MMIO_PATHS                                                                        \
    8u /* slots of tv_stats_cpu.mmio_path[]: the paths of enum tv_mmio_path, the rest reserved */

#define TV_STATS_PCI_VENDOR 0x1234u
#define TV_STATS_PCI_DEVICE 0x7476u /* "tv" */
#define TV_STATS_CTRL_RESET 1u

/* Flags in tv_stats_header.flags. */
#define TV_STATS_F_ACCOUNTING 1u /* accounting compiled in (else every counter stays 0) */

/* The path boot/mmio.c took for an EPT violation (basic exit reason 48; docs/hypervisor.md, "The
 * MMIO path"), the index into tv_stats_cpu.mmio_path[]. Counted in C on every path but LIGHT,
 * the hot path, which is not touched (not one instruction): its count is derived, see
 * tv_stats_mmio_light(). */
enum tv_mmio_path {
    TV_MMIO_PATH_LIGHT = 0,   /* the light hook replayed a remembered site (never counted) */
    TV_MMIO_PATH_FULL = 1,    /* the light hook declined, the full hook replayed the site */
    TV_MMIO_PATH_FILL = 2,    /* a site was filled (fetch, decode, route) and replayed */
    TV_MMIO_PATH_GENERAL = 3, /* the general path (any instruction, x86_emulate) */
    TV_MMIO_PATH_RETRY = 4,   /* no region's address, a restored translation: flushed, retried */
    TV_MMIO_PATH_REFUSED = 5, /* an event delivery reached a trapped region: the CPU stopped */
    TV_MMIO_PATH_COUNT = 6,
};

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
    /* Version 2 (appended: the fields above keep their offsets). EPT-violation exits of this
     * CPU by the path that handled them (enum tv_mmio_path); mmio_path[TV_MMIO_PATH_LIGHT] and
     * the reserved slots stay 0. Reset with the other counters. */
    uint64_t mmio_path[TV_STATS_MMIO_PATHS];
    /* The latest exit that took a counted path: `seq` just before that exit was recorded, and
     * the path. Not reset (keyed by `seq`, which a reset keeps); see tv_stats_last_mmio_path. */
    uint64_t mmio_path_seq;
    uint64_t mmio_path_last;
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

/* EPT-violation exits that took the light path (TV_MMIO_PATH_LIGHT), from the same CPU's
 * reason[48].count and its counted paths (both totals, or both differences of two readings).
 * A refused exit stops its CPU before the exit is recorded, so it is not in reason[48] and not
 * subtracted. 0 if the counted paths exceed the exits: a reader of the live pages caught
 * another CPU between counting its path and recording its exit (docs/stats.md). */
static inline uint64_t tv_stats_mmio_light(uint64_t ept_violations,
                                           const uint64_t mmio_path[TV_STATS_MMIO_PATHS])
{
    uint64_t counted = mmio_path[TV_MMIO_PATH_FULL] + mmio_path[TV_MMIO_PATH_FILL] +
                       mmio_path[TV_MMIO_PATH_GENERAL] + mmio_path[TV_MMIO_PATH_RETRY];
    return counted <= ept_violations ? ept_violations - counted : 0;
}

/* The path of a CPU's latest recorded exit, from its seq, last_reason, mmio_path_seq and
 * mmio_path_last read together (seq unchanged around them): -1 when that exit was not an EPT
 * violation (or nothing was recorded since a reset), else its enum tv_mmio_path: a counted path
 * tags its exit with the seq it will get, so an EPT violation without that tag was light. */
static inline int tv_stats_last_mmio_path(uint64_t seq, uint64_t last_reason,
                                          uint64_t mmio_path_seq, uint64_t mmio_path_last)
{
    if (last_reason != 48 || seq == 0)
        return -1;
    if (mmio_path_seq == seq - 1 && mmio_path_last < TV_MMIO_PATH_COUNT)
        return (int)mmio_path_last;
    return TV_MMIO_PATH_LIGHT;
}

/* Offset of the control register inside the statistics BAR: the first page after the
 * statistics themselves. */
#define TV_STATS_PAGES       ((sizeof(struct tv_stats) + 4095) / 4096)
#define TV_STATS_CTRL_OFFSET (TV_STATS_PAGES * 4096)

#endif
