/* boot/: state of the running copy shared between its files. */
#ifndef TRAPVISOR_BOOT_PLATFORM_H
#define TRAPVISOR_BOOT_PLATFORM_H

#include <efi.h>
#include <stdbool.h>
#include <stdint.h>

#include "boot/boot.h"
#include "ept/ept.h"
#include "lib/log.h"
#include "pci/place.h"
#include "vmx/vmx.h"

#define BOOT_MAX_RAM 128

struct boot_state {
    EFI_HANDLE image;
    EFI_SYSTEM_TABLE *st;
    struct boot_region region;
    uint64_t heap_next, heap_end;
    /* Memory map. */
    struct pci_range ram[BOOT_MAX_RAM];
    unsigned n_ram;
    uint64_t ram_bytes;
    uint64_t phys_top; /* end of the highest memory-map entry */
    /* CPUs (MP Services numbering; 0 is the BSP). */
    unsigned ncpus;
    uint32_t apic_id[VMX_MAX_CPUS];
    void *mp;                      /* EFI_MP_SERVICES_PROTOCOL, NULL with one CPU and no protocol */
    UINTN mp_number[VMX_MAX_CPUS]; /* MP Services processor number of each vcpu index */
    /* Options. */
    bool opt_caps, opt_dry_run, opt_help, opt_no_edu, opt_no_stats;
    uint32_t opt_cpus;   /* 0 = all */
    uint16_t opt_serial; /* COM base port, 0 = none */
    bool from_shell;     /* the load options are a command line (the UEFI shell started us) */
    /* The guest-physical map. */
    struct ept ept;
    uint64_t ept_limit;
};

extern struct boot_state boot __attribute__((visibility("hidden")));

/* An informational line: printed at normal verbosity and up, and always for --dry-run
 * (refusals, failures and the final "running on" line use log_printf directly). */
#define boot_info(...)                                                                             \
    do {                                                                                           \
        if (log_level >= LOG_NORMAL || boot.opt_dry_run)                                           \
            log_printf(__VA_ARGS__);                                                               \
    } while (0)

void *boot_alloc(uint64_t bytes, uint64_t align);
bool boot_is_guest_ram(uint64_t gpa, uint64_t len);
/* The MMIO sites of CPU `index` (boot/mmio.c), from the region's heap, into v->mmio_sites;
 * false when it is full. After boot_install_hooks, before the CPU's first exit. */
bool boot_mmio_cpu_init(struct vcpu *v, unsigned index);

/* The statistics slot (struct tv_stats_cpu.mmio_device[]) of the virtual device that owns an
 * EPT region (its struct pci_function), or -1 for other owners (ECAM). */
#define BOOT_STATS_SLOT_EDU   0
#define BOOT_STATS_SLOT_STATS 1
int boot_device_stats_slot(const void *owner);
void boot_cpu_online(struct vcpu *v);

/* boot/host.c */
bool boot_build_host(void);
int boot_build_ept(void);
void boot_hide_region(void);

/* boot/mp.c */
bool boot_mp_init(void);
int boot_mp_launch_ap(struct vcpu *v);
void boot_mp_report_signatures(void);

/* boot/devices.c */
bool boot_place_devices(char *why, unsigned whylen);
void boot_install_hooks(void);
void boot_program_devices(void);
void boot_print_devices(void);

/* boot/plan.c */
bool boot_options_load(EFI_HANDLE image, EFI_SYSTEM_TABLE *st);
void boot_print_options(void);
void boot_loader_path(CHAR16 *out, unsigned n);
void boot_print_caps(void);
void boot_print_plan(void);

#endif
