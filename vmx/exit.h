/* Exit handling helpers shared by vmx/ handlers and the parts boot/ plugs in. */
#ifndef TRAPVISOR_VMX_EXIT_H
#define TRAPVISOR_VMX_EXIT_H

#include <stdbool.h>
#include <stdint.h>

#include "vmx/vmx.h"

/* What boot/ plugs into the exit handlers (vmx/ knows no devices, EPT layout or PCI). */
struct vmx_hooks {
    /* EPT violation at `gpa` with exit qualification `qual`; true when handled (RIP advanced
     * or an event injected). */
    bool (*ept_violation)(struct vcpu *v, uint64_t gpa, uint64_t qual);
    /* An intercepted I/O port access (only the PCI configuration ports are intercepted). */
    uint32_t (*io)(uint16_t port, unsigned size, bool write, uint32_t value);
    /* [gpa, gpa+len) is wholly guest RAM (not hidden, not MMIO). */
    bool (*is_guest_ram)(uint64_t gpa, uint64_t len);
    void (*seal)(void); /* TV_HC_SEAL: hide the hypervisor's region */
};
extern struct vmx_hooks vmx_hooks;

void vmx_skip_instruction(struct vcpu *v);
void vmx_inject_exception(struct vcpu *v, unsigned vector, bool has_error, uint32_t error);
void vmx_inject_ud(struct vcpu *v);
void vmx_inject_gp(struct vcpu *v);
unsigned vmx_guest_cpl(void);
void vmx_dump_state(struct vcpu *v, const char *why);
void vmx_host_exception(const uint64_t *frame);

#endif
