/* Trapvisor's guest-visible ABI: the CPUID leaves and the VMCALL hypercalls.
 *
 * This header is the public contract shared by the hypervisor (vmx/) and guest tools
 * (tools/exitbench, tools/edutest, tools/linux). It contains no hypervisor internals.
 * Documented for users in docs/hypercalls.md.
 */
#ifndef TRAPVISOR_HYPERCALL_ABI_H
#define TRAPVISOR_HYPERCALL_ABI_H

/* CPUID leaf 0x40000000 (the range Intel reserves for hypervisors, SDM Vol. 2A, CPUID:
 * "Invalid"/reserved leaves 40000000H-4FFFFFFFH): EAX = highest hypervisor leaf,
 * EBX:ECX:EDX = "TrapvisorHVM". CPUID.1:ECX[31] (the "hypervisor present" bit) is set. */
#define TV_CPUID_LEAF_SIGNATURE 0x40000000u
#define TV_CPUID_SIG_EBX        0x70617254u /* "Trap" */
#define TV_CPUID_SIG_ECX        0x6f736976u /* "viso" */
#define TV_CPUID_SIG_EDX        0x4d564872u /* "rHVM" */

/* VMCALL calling convention (CPL 0 only; CPL > 0 gets #UD):
 *   in:  RAX = function, RBX, RCX, RDX = arguments
 *   out: RAX = status (TV_HC_OK or a TV_HC_E* code), RBX/RCX/RDX = results as listed.
 * Bad arguments give an error status, never a fault. */
#define TV_HC_VERSION        0u /* out: RBX = TV_ABI_VERSION, RCX = number of CPUs virtualized */
#define TV_HC_STATS_SNAPSHOT 1u /* in: RBX = guest-physical buffer, RCX = its size in bytes;
                                   out: RBX = bytes the snapshot needs (written when RCX >= it) */
#define TV_HC_STATS_RESET    2u /* zero every exit counter on every CPU */
#define TV_HC_HIDDEN_PROBE   3u /* in: RBX = offset into the hidden region;
                                   out: RBX = guest-physical base of the hidden region,
                                   RCX = its size, RDX = the 8 bytes at that offset as the
                                   hypervisor sees them (lets a test confirm that guest
                                   writes there changed nothing) */

/* Used once by trapvisor.efi itself after launch (the launching code runs from the region
 * as a guest until then): hides the hypervisor's memory from every guest. Idempotent; any
 * later call returns TV_HC_OK and changes nothing. */
#define TV_HC_SEAL 16u

#define TV_ABI_VERSION 0x00010000u /* major << 16 | minor */

#define TV_HC_OK        0u
#define TV_HC_EINVAL    1u /* an argument is out of range */
#define TV_HC_ENOSYS    2u /* unknown function */
#define TV_HC_EFAULT    3u /* a buffer is not wholly inside guest RAM */
#define TV_HC_ETOOSMALL 4u /* the buffer is too small; RBX says how large it must be */

#endif
