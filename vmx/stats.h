/* Per-CPU VM-exit accounting (issue 5): fills the guest-visible struct tv_stats
 * (vmx/stats_abi.h). The exit stub reads the TSC at exit and just before VMRESUME; the
 * stub then records the exit itself (stats_record_fast's instructions) after its last TSC
 * read; stats_record_exit() is the reference in C that the record is tested against.
 *
 * Each CPU updates only its own block, under its own lock word: uncontended except while
 * another CPU resets the counters, so a reset never tears a record and counts stay exact.
 * Pure C: host-tested. */
#ifndef TRAPVISOR_VMX_STATS_H
#define TRAPVISOR_VMX_STATS_H

#include <stdbool.h>
#include <stdint.h>

#include "vmx/stats_abi.h"

/* Build with -DTRAPVISOR_ACCOUNTING=0 to remove the accounting from the exit path. */
#ifndef TRAPVISOR_ACCOUNTING
#define TRAPVISOR_ACCOUNTING 1
#endif

/* Hypervisor-private state beside the guest-visible statistics (kept out of the pages the
 * guest can map). */
struct stats_state {
    struct tv_stats *pub;                 /* the guest-visible pages */
    volatile int lock[TV_STATS_MAX_CPUS]; /* one lock word per CPU block */
};

/* Initializes the header and every CPU block; `pub` must be TV_STATS_PAGES pages. */
void stats_init(struct stats_state *st, struct tv_stats *pub);

/* Registers a CPU (index < TV_STATS_MAX_CPUS) with its APIC ID; false if out of range. */
bool stats_cpu_online(struct stats_state *st, unsigned cpu, uint32_t apic_id);

/* Names a virtual device's MMIO counter slot (index < TV_STATS_DEVICES). */
bool stats_name_device(struct stats_state *st, unsigned device, const char *name);

/* Records one exit of `cpu`: basic reason (out-of-range reasons are counted in the last
 * reason slot), root-mode ticks, and for an MMIO exit the device slot (or -1). */
void stats_record_exit(struct stats_state *st, unsigned cpu, unsigned reason, uint64_t ticks,
                       int device);

/* Counts one EPT-violation exit of the CPU whose block is `c` (vcpu->stats_cpu) as handled by
 * `path`, under that CPU's lock word `lock` (vcpu->stats_lock), so a reset from another CPU
 * never loses or tears it; also tags the exit (mmio_path_seq/mmio_path_last) for
 * tv_stats_last_mmio_path. Call it at most once per exit, in the exit's handler (before the
 * stub records the exit), on every path but TV_MMIO_PATH_LIGHT. False, nothing written, for
 * TV_MMIO_PATH_LIGHT (its count is derived: counting it would count it twice), a path out of
 * range, or a NULL block or lock. With TRAPVISOR_ACCOUNTING=0 it does nothing (and returns
 * true for a valid path). */
bool stats_count_mmio_path(struct tv_stats_cpu *c, volatile int *lock, enum tv_mmio_path path);

/* Zeroes every counter of every CPU and bumps hdr.generation. */
void stats_reset(struct stats_state *st);

/* The histogram bucket of a time: floor(log2(ticks)), 0 for 0 and 1, capped at the last. */
unsigned stats_bucket(uint64_t ticks);

/* Copies the statistics into `dst` (`size` bytes); returns the bytes needed. Copies nothing
 * if `size` is too small. Each CPU block is copied under its lock, so it is consistent. */
uint64_t stats_snapshot(struct stats_state *st, void *dst, uint64_t size);

/* What the exit stub's record (vmx/stats_record.inc) reads: the exit being recorded and where
 * its CPU's counters are. struct vcpu holds the same four fields at the same relative offsets
 * (vmx/exit.c checks it), so the stub records straight from the vcpu. */
struct stats_record_ctx {
    uint32_t reason;          /* exit reason as VMREAD gave it; the basic reason is bits 15:0 */
    int32_t device;           /* MMIO device slot of this exit, or -1; reset to -1 once used */
    struct tv_stats_cpu *cpu; /* this CPU's block (never NULL: see stats_record_ctx_init) */
    volatile int *lock;       /* this CPU's lock word */
};

/* Points `ctx` at CPU `cpu`'s block and lock, or at a private sink block when `st` is NULL or
 * `cpu` is out of range (the record then writes where no reader looks); reason 0, device -1. */
void stats_record_ctx_init(struct stats_state *st, unsigned cpu, struct stats_record_ctx *ctx);

/* The exit stub's record as a callable function (vmx/stats_record.asm, the same instructions
 * as the stub's inline copy): one exit of `ticks` into ctx->cpu under ctx->lock, exactly what
 * stats_record_exit() records for (reason & 0xFFFF, ticks, device). The SysV ABI. */
void stats_record_fast(struct stats_record_ctx *ctx, uint64_t ticks);

/* Measures the accounting's own cost on this CPU: TSC ticks of one `record` call (minimum
 * over `rounds`, after subtracting the cost of the TSC reads), stores it in
 * hdr.overhead_ticks, and clears the samples it made. Call before any real exit is counted. */
uint64_t stats_measure_overhead(struct stats_state *st, unsigned cpu, unsigned rounds,
                                void (*record)(struct stats_record_ctx *, uint64_t));

#endif
