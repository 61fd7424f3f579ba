/* PCI configuration-space register offsets and bits (PCI Local Bus Spec 3.0, 6.2 and 6.8.1;
 * the same names Linux and QEMU use in pci_regs.h). */
#ifndef TRAPVISOR_PCI_PCI_REGS_H
#define TRAPVISOR_PCI_PCI_REGS_H

#define PCI_VENDOR_ID           0x00
#define PCI_DEVICE_ID           0x02
#define PCI_COMMAND             0x04
#define PCI_STATUS              0x06
#define PCI_REVISION_ID         0x08
#define PCI_CLASS_PROG          0x09
#define PCI_CACHE_LINE_SIZE     0x0C
#define PCI_LATENCY_TIMER       0x0D
#define PCI_HEADER_TYPE         0x0E
#define PCI_BASE_ADDRESS_0      0x10
#define PCI_SUBSYSTEM_VENDOR_ID 0x2C
#define PCI_SUBSYSTEM_ID        0x2E
#define PCI_ROM_ADDRESS         0x30
#define PCI_CAPABILITY_LIST     0x34
#define PCI_INTERRUPT_LINE      0x3C
#define PCI_INTERRUPT_PIN       0x3D
#define PCI_CONFIG_HEADER_SIZE  0x40

#define PCI_COMMAND_IO           0x0001
#define PCI_COMMAND_MEMORY       0x0002
#define PCI_COMMAND_MASTER       0x0004
#define PCI_COMMAND_SERR         0x0100
#define PCI_COMMAND_INTX_DISABLE 0x0400

#define PCI_STATUS_INTERRUPT        0x0008
#define PCI_STATUS_CAP_LIST         0x0010
#define PCI_STATUS_PARITY           0x0100 /* master data parity error */
#define PCI_STATUS_SIG_TARGET_ABORT 0x0800
#define PCI_STATUS_REC_TARGET_ABORT 0x1000
#define PCI_STATUS_REC_MASTER_ABORT 0x2000
#define PCI_STATUS_SIG_SYSTEM_ERROR 0x4000
#define PCI_STATUS_DETECTED_PARITY  0x8000

#define PCI_HEADER_TYPE_NORMAL 0x00

#define PCI_BASE_ADDRESS_SPACE_IO     0x01
#define PCI_BASE_ADDRESS_MEM_TYPE_64  0x04
#define PCI_BASE_ADDRESS_MEM_PREFETCH 0x08
#define PCI_ROM_ADDRESS_ENABLE        0x01

/* MSI capability (PCI 3.0, 6.8.1). */
#define PCI_CAP_ID_MSI          0x05
#define PCI_CAP_LIST_ID         0
#define PCI_CAP_LIST_NEXT       1
#define PCI_MSI_FLAGS           2
#define PCI_MSI_FLAGS_ENABLE    0x0001
#define PCI_MSI_FLAGS_QMASK     0x000E /* multiple message capable (log2) */
#define PCI_MSI_FLAGS_QSIZE     0x0070 /* multiple message enable (log2) */
#define PCI_MSI_FLAGS_64BIT     0x0080
#define PCI_MSI_ADDRESS_LO      4
#define PCI_MSI_ADDRESS_HI      8 /* 64-bit capability only */
#define PCI_MSI_DATA_32         8
#define PCI_MSI_DATA_64         12
#define PCI_MSI_ADDRESS_LO_MASK 0xFFFFFFFCu

/* 0xCF8 CONFIG_ADDRESS (PCI 3.0, 3.2.2.3.2): bit 31 enable, 23:16 bus, 15:11 device,
 * 10:8 function, 7:2 register. */
#define PCI_CF8_ENABLE 0x80000000u
#define PCI_PORT_CF8   0xCF8
#define PCI_PORT_CFC   0xCFC

#endif
