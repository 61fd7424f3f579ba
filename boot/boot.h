/* boot/: shared between the loaded image (boot/main.c) and the running copy (tv_main). */
#ifndef TRAPVISOR_BOOT_BOOT_H
#define TRAPVISOR_BOOT_BOOT_H

#include <efi.h>
#include <stdbool.h>
#include <stdint.h>

/* Bytes reserved after the image copy: per-CPU stacks, VMXON/VMCS pages and MMIO sites (104 KiB
 * a CPU), bitmaps, host page tables and EPT tables (up to 2 MiB each for 512 GiB with 2 MiB
 * pages), the statistics (about 0.8 MiB): about 8.2 MiB for 32 CPUs and 512 GiB, with room. */
#define BOOT_HEAP_BYTES (10u * 1024u * 1024u)

struct boot_region {
    uint64_t base, size; /* the whole reserved region */
    uint64_t image_size; /* the copy of the image at its start */
    int64_t delta;       /* copy - original */
    bool launched;       /* at least the BSP is a guest: the region must stay */
    CHAR16 loader[256];  /* what to start after launch ("" = return to the boot manager) */
    /* Without a loader: the status to return. From the shell EFI_SUCCESS; from a boot entry
     * an error, so that the boot manager goes on to the next boot entry (a boot option that
     * returns EFI_SUCCESS stops BootOrder processing in EDK II's boot manager). */
    EFI_STATUS hand_back;
};

typedef EFI_STATUS tv_main_fn(EFI_HANDLE image, EFI_SYSTEM_TABLE *st, struct boot_region *r);
tv_main_fn tv_main;

/* Starts `path` (on the device trapvisor.efi came from); used from the original image. */
EFI_STATUS boot_chainload(EFI_HANDLE image, EFI_SYSTEM_TABLE *st, const CHAR16 *path);

#endif
