/* The APs, through EFI_MP_SERVICES_PROTOCOL (UEFI PI Spec, Vol. 2, 13.4; declared in
 * lib/efi_mp.h). Each AP runs vmx_cpu_launch in its own MP procedure and comes
 * back from it as a guest. AP procedures never print: UEFI services are BSP-only. */
#include "boot/platform.h"
#include "lib/efi_mp.h"
#include "lib/log.h"
#include "vmx/arch.h"
#include "vmx/hypercall_abi.h"

static EFI_GUID mp_guid = MP_SERVICES_GUID;

static uint32_t bsp_apic_id(void)
{
    uint32_t r[4];
    cpuid_count(1, 0, r);
    return r[1] >> 24;
}

bool boot_mp_init(void)
{
    struct mp_services *mp = 0;
    boot.ncpus = 1;
    boot.apic_id[0] = bsp_apic_id();
    if (EFI_ERROR(boot.st->BootServices->LocateProtocol(&mp_guid, 0, (void **)&mp)) || !mp) {
        log_printf("boot: no MP Services protocol: the BSP only\n");
        return true;
    }
    boot.mp = mp;
    UINTN count = 0, enabled = 0;
    if (EFI_ERROR(mp->get_number_of_processors(mp, &count, &enabled)) || count == 0)
        return false;
    if (count > VMX_MAX_CPUS) {
        log_printf("boot: %llu CPUs, only the first %u will be virtualized\n",
                   (unsigned long long)count, VMX_MAX_CPUS);
        count = VMX_MAX_CPUS;
    }
    /* MP Services numbers the BSP 0 as long as nobody switched it (PI Vol. 2, 13.4). */
    unsigned n = 1;
    for (UINTN i = 0; i < count; i++) {
        struct mp_processor_info info = {0};
        if (EFI_ERROR(mp->get_processor_info(mp, i, &info)))
            continue;
        if (info.status_flag & 1) {
            boot.apic_id[0] = (uint32_t)info.processor_id;
            continue;
        }
        if (!(info.status_flag & 2))
            continue; /* disabled */
        boot.apic_id[n] = (uint32_t)info.processor_id;
        boot.mp_number[n] = i;
        n++;
    }
    boot.ncpus = n;
    return true;
}

static VOID EFIAPI ap_launch(VOID *arg)
{
    struct vcpu *v = arg;
    v->launch_rc = vmx_cpu_launch(v, false);
}

int boot_mp_launch_ap(struct vcpu *v)
{
    struct mp_services *mp = boot.mp;
    if (!mp)
        return -100;
    v->launch_rc = -101;
    EFI_STATUS s =
        mp->startup_this_ap(mp, ap_launch, boot.mp_number[v->index], 0, 5000000 /* 5 s */, v, 0);
    if (EFI_ERROR(s))
        return -102;
    return v->launch_rc;
}

static VOID EFIAPI ap_signature(VOID *arg)
{
    struct vcpu *v = arg;
    cpuid_count(TV_CPUID_LEAF_SIGNATURE, 0, v->sig);
}

static bool sig_ok(const uint32_t sig[4])
{
    return sig[1] == TV_CPUID_SIG_EBX && sig[2] == TV_CPUID_SIG_ECX && sig[3] == TV_CPUID_SIG_EDX;
}

void boot_mp_report_signatures(void)
{
    struct mp_services *mp = boot.mp;
    unsigned ok = 0;
    for (unsigned i = 0; i < boot.ncpus && i < VMX_MAX_CPUS; i++) {
        struct vcpu *v = vmx.cpus[i];
        if (!v)
            continue;
        v->sig[1] = v->sig[2] = v->sig[3] = 0;
        if (i == 0)
            ap_signature(v);
        else if (mp)
            mp->startup_this_ap(mp, ap_signature, boot.mp_number[i], 0, 1000000, v, 0);
        if (sig_ok(v->sig))
            ok++;
        else
            log_printf("boot: CPU %u does not report the Trapvisor signature\n", i);
    }
    boot_info("boot: %u CPU(s) report the Trapvisor signature\n", ok);
}
