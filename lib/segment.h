/* Segment access-rights bits in the VMCS format (SDM Vol. 3C, 25.4.1, Table 25-2), for the
 * hypervisor (vmx/) and the decoder (decode/) alike. */
#ifndef TRAPVISOR_LIB_SEGMENT_H
#define TRAPVISOR_LIB_SEGMENT_H

#define SEG_AR_L (1u << 13) /* 64-bit code segment */
#define SEG_AR_D (1u << 14) /* default operation size 32 bits (D/B) */

#endif
