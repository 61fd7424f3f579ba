/* Finding the PCI Express ECAM windows: RSDP -> XSDT (or RSDT) -> MCFG.
 *
 * ACPI 6.x section 5.2.5 (RSDP), 5.2.7 (RSDT), 5.2.8 (XSDT); the MCFG layout is in the PCI
 * Firmware Specification 3.x, section 4.1.2 (a 36-byte header, 8 reserved bytes, then 16-byte
 * allocation entries: base address, segment group, start bus, end bus).
 *
 * Pure code over memory reached through a callback that turns a physical address and a length
 * into a pointer (identity in UEFI; a table of fake buffers in host tests). Firmware tables are
 * input: every length and count is checked before use, so broken tables give "no MCFG", never
 * an out-of-bounds read. */
#ifndef TRAPVISOR_TOOLS_EDUTEST_ACPI_MCFG_H
#define TRAPVISOR_TOOLS_EDUTEST_ACPI_MCFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Returns a pointer to len readable bytes at physical address pa, or NULL if there are none. */
typedef const void *(*acpi_map_fn)(void *ctx, uint64_t pa, size_t len);

struct ecam_window {
    uint64_t base; /* physical address of bus start_bus, device 0, function 0 */
    uint16_t segment;
    uint8_t start_bus;
    uint8_t end_bus;
};

#define ACPI_MAX_TABLES 256 /* XSDT/RSDT entries looked at, at most */

/* Walks from the RSDP at rsdp_pa to the MCFG and copies up to max windows into out.
 * Returns the number of windows copied (0: no RSDP, no MCFG, or a malformed table). Entries
 * with end_bus < start_bus are skipped. */
size_t acpi_find_ecam(acpi_map_fn map, void *ctx, uint64_t rsdp_pa, struct ecam_window *out,
                      size_t max);

/* The sum of len bytes modulo 256 (ACPI tables sum to 0). */
uint8_t acpi_checksum(const void *p, size_t len);

#endif
