/* Options, --caps, --dry-run and the loader to start after launch. */
#include "boot/platform.h"
#include "lib/log.h"
#include "vmx/arch.h"

void boot_options_load(EFI_HANDLE image, EFI_SYSTEM_TABLE *st)
{
    (void)image;
    (void)st;
}

void boot_loader_path(CHAR16 *out, unsigned n)
{
    if (n)
        out[0] = 0;
}

void boot_print_caps(void)
{
    log_printf("vmx: IA32_VMX_BASIC 0x%llx\n", (unsigned long long)rdmsr(MSR_IA32_VMX_BASIC));
}

void boot_print_plan(void)
{
    log_printf("boot: %u CPU(s), %llu MiB RAM in %u ranges, physical top 0x%llx\n", boot.ncpus,
               (unsigned long long)(boot.ram_bytes >> 20), boot.n_ram,
               (unsigned long long)boot.phys_top);
    log_printf("boot: hypervisor region 0x%llx-0x%llx (%llu KiB, image %llu KiB)\n",
               (unsigned long long)boot.region.base,
               (unsigned long long)(boot.region.base + boot.region.size - 1),
               (unsigned long long)(boot.region.size >> 10),
               (unsigned long long)(boot.region.image_size >> 10));
}
