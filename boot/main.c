/* trapvisor.efi: the UEFI entry (DESIGN.md, "Lifetime of one boot").
 *
 * efi_main runs in the image the firmware loaded. It reserves one region that the OS never
 * reclaims (EfiRuntimeServicesCode: executable under OVMF's NX policy, kept by the OS after
 * ExitBootServices), copies the whole loaded image to its start, re-applies the RELATIVE
 * relocations (boot/reloc.h) and calls tv_main in the copy. Everything that must outlive the
 * application (exit handlers, data, function pointers) is therefore in the copy. When
 * tv_main returns, the original image executes the seal hypercall: from then on the region
 * is hidden from every guest (it cannot be hidden earlier, since the launching code itself
 * runs from the copy as a guest). */
#include <efi.h>
#include <efilib.h>

#include "boot/boot.h"
#include "boot/reloc.h"
#include "lib/string.h"
#include "vmx/hypercall_abi.h"

static EFI_GUID loaded_image_guid = EFI_LOADED_IMAGE_PROTOCOL_GUID;

static uint64_t image_base_runtime(void)
{
    uint64_t p;
    __asm__("lea ImageBase(%%rip), %0" : "=r"(p));
    return p;
}

static uint64_t dynamic_runtime(void)
{
    uint64_t p;
    __asm__("lea _DYNAMIC(%%rip), %0" : "=r"(p));
    return p;
}

static void say(EFI_SYSTEM_TABLE *st, CHAR16 *msg)
{
    st->ConOut->OutputString(st->ConOut, msg);
}

EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *st);

EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *st)
{
    EFI_BOOT_SERVICES *bs = st->BootServices;
    EFI_LOADED_IMAGE *li = 0;
    if (EFI_ERROR(bs->HandleProtocol(image, &loaded_image_guid, (void **)&li)) || !li) {
        say(st, L"boot: no loaded-image protocol; Trapvisor not started\r\n");
        return EFI_LOAD_ERROR;
    }
    uint64_t old = (uint64_t)(uintptr_t)li->ImageBase;
    uint64_t image_size = (li->ImageSize + 4095) & ~4095ull;
    if (old != image_base_runtime() || old & 4095) {
        say(st, L"boot: loaded image base mismatch; Trapvisor not started\r\n");
        return EFI_LOAD_ERROR;
    }
    uint64_t pages = (image_size + BOOT_HEAP_BYTES) / 4096;
    EFI_PHYSICAL_ADDRESS pa = 0;
    if (EFI_ERROR(bs->AllocatePages(AllocateAnyPages, EfiRuntimeServicesCode, pages, &pa))) {
        say(st, L"boot: too little memory for the hypervisor region; Trapvisor not started\r\n");
        return EFI_OUT_OF_RESOURCES;
    }
    uint8_t *copy = (uint8_t *)(uintptr_t)pa;
    memset(copy, 0, pages * 4096);
    memcpy(copy, (const void *)(uintptr_t)old, li->ImageSize);
    int64_t delta = (int64_t)(pa - old);
    if (reloc_rebase(copy, image_size, dynamic_runtime() - old, delta) != RELOC_OK) {
        bs->FreePages(pa, pages);
        say(st, L"boot: cannot relocate the hypervisor copy; Trapvisor not started\r\n");
        return EFI_LOAD_ERROR;
    }
    tv_main_fn *entry = (tv_main_fn *)(uintptr_t)((uint64_t)(uintptr_t)tv_main + delta);
    struct boot_region region = {
        .base = pa, .size = pages * 4096, .image_size = image_size, .delta = delta};
    EFI_STATUS status = entry(image, st, &region);
    if (status == EFI_SUCCESS && region.launched) {
        /* Seal: hide the region now that no guest code runs from it. */
        uint64_t a = TV_HC_SEAL, b = 0, c = 0, d = 0;
        __asm__ volatile("vmcall" : "+a"(a), "+b"(b), "+c"(c), "+d"(d) : : "memory");
        /* Runs from this (original) image: the copy is hidden now. */
        if (region.loader[0])
            return boot_chainload(image, st, region.loader);
        return region.hand_back;
    }
    if (!region.launched)
        bs->FreePages(pa, pages);
    return status;
}
