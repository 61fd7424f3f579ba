/* EFI_MP_SERVICES_PROTOCOL (UEFI Platform Initialization Spec, Vol. 2, 13.4), which gnu-efi's
 * headers do not declare. Shared by trapvisor.efi (boot/mp.c) and the guest-side UEFI tools.
 * Include after <efi.h>. Every member the firmware calls back is EFIAPI. */
#ifndef TRAPVISOR_LIB_EFI_MP_H
#define TRAPVISOR_LIB_EFI_MP_H

#define MP_SERVICES_GUID                                                                           \
    {                                                                                              \
        0x3fdda605, 0xa76e, 0x4f46,                                                                \
        {                                                                                          \
            0xad, 0x29, 0x12, 0xf4, 0x53, 0x1b, 0x3d, 0x08                                         \
        }                                                                                          \
    }

struct mp_processor_info {
    UINT64 processor_id; /* the APIC ID */
    UINT32 status_flag;  /* bit 0 BSP, bit 1 enabled, bit 2 healthy */
    UINT32 package, core, thread;
    UINT32 extended[6]; /* EFI_CPU_PHYSICAL_LOCATION2 (newer PI versions) */
};

typedef VOID(EFIAPI *mp_procedure)(VOID *arg);

struct mp_services {
    EFI_STATUS(EFIAPI *get_number_of_processors)
    (struct mp_services *self, UINTN *count, UINTN *enabled);
    EFI_STATUS(EFIAPI *get_processor_info)
    (struct mp_services *self, UINTN n, struct mp_processor_info *info);
    EFI_STATUS(EFIAPI *startup_all_aps)
    (struct mp_services *self, mp_procedure proc, BOOLEAN single_thread, EFI_EVENT wait,
     UINTN timeout_us, VOID *arg, UINTN **failed);
    EFI_STATUS(EFIAPI *startup_this_ap)
    (struct mp_services *self, mp_procedure proc, UINTN n, EFI_EVENT wait, UINTN timeout_us,
     VOID *arg, BOOLEAN *finished);
    EFI_STATUS(EFIAPI *switch_bsp)(struct mp_services *self, UINTN n, BOOLEAN enable_old);
    EFI_STATUS(EFIAPI *enable_disable_ap)
    (struct mp_services *self, UINTN n, BOOLEAN enable, UINT32 *health);
    EFI_STATUS(EFIAPI *who_am_i)(struct mp_services *self, UINTN *n);
};

#endif
