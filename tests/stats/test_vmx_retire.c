/* vmx/exit.h: what retiring an emulated instruction does to the guest's interruptibility
 * state and whether it raises the single-step trap (the decisions behind
 * vmx_retire_instruction; the VMREAD/VMWRITE around them run only in VMX root). Kept beside
 * the exit accounting's tests: both belong to the exit path. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "vmx/exit.h"

static void retire_ends_sti_and_mov_ss_blocking_only(void **state)
{
    (void)state;
    /* SDM Vol. 3C, Table 25-3: bit 0 STI, bit 1 MOV SS, bit 2 SMI, bit 3 NMI, bit 4 enclave. */
    assert_int_equal(vmx_interruptibility_after_retire(0), 0);
    assert_int_equal(vmx_interruptibility_after_retire(1), 0);
    assert_int_equal(vmx_interruptibility_after_retire(2), 0);
    assert_int_equal(vmx_interruptibility_after_retire(3), 0);
    assert_int_equal(vmx_interruptibility_after_retire(4), 4);
    assert_int_equal(vmx_interruptibility_after_retire(8 | 1), 8);
    assert_int_equal(vmx_interruptibility_after_retire(0x1F), 0x1C);
}

static void retire_single_steps_exactly_when_tf_without_btf(void **state)
{
    (void)state;
    const uint64_t tf = 1ull << 8, btf = 1ull << 1;
    assert_false(vmx_retire_single_steps(0x202, true, 0)); /* IF only */
    assert_false(vmx_retire_single_steps(0x202, true, btf));
    assert_true(vmx_retire_single_steps(0x202 | tf, true, 0));
    assert_false(vmx_retire_single_steps(0x202 | tf, true, btf)); /* branches only */
    assert_true(vmx_retire_single_steps(0x202 | tf, true, ~btf)); /* other DEBUGCTL bits */
    /* DEBUGCTL not saved at exit: the VMCS value is not the guest's, BTF counts as clear. */
    assert_true(vmx_retire_single_steps(0x202 | tf, false, btf));
    assert_false(vmx_retire_single_steps(~tf, true, 0)); /* every other flag */
}

/* SDM Vol. 3C, 28.2.3: qualification bit 12 of an EPT violation says the IRET that exited had
 * unblocked NMIs; the IRET did not complete, so blocking by NMI (interruptibility bit 3) is set
 * again, and only that bit changes. */
static void ept_violation_after_iret_blocks_nmi_again(void **state)
{
    (void)state;
    const uint64_t bit12 = 1u << 12;
    for (uint64_t intr = 0; intr < 32; intr++)
        assert_int_equal(vmx_interruptibility_after_ept_violation(intr, bit12, 0), intr | 8);
    /* The other qualification bits (access kind, GLA valid, ...) do not matter. */
    assert_int_equal(vmx_interruptibility_after_ept_violation(0, bit12 | 0x1BF, 0), 8);
    assert_int_equal(vmx_interruptibility_after_ept_violation(1, ~0ull, 0x7FFFFFFFu), 9);
}

static void ept_violation_without_bit12_keeps_interruptibility(void **state)
{
    (void)state;
    for (uint64_t intr = 0; intr < 32; intr++) {
        assert_int_equal(vmx_interruptibility_after_ept_violation(intr, 0, 0), intr);
        assert_int_equal(vmx_interruptibility_after_ept_violation(intr, ~(1ull << 12), 0), intr);
        assert_int_equal(
            vmx_interruptibility_after_ept_violation(intr, 0x181, 0x80000202u /* NMI */), intr);
    }
}

/* During event delivery bit 12 is not the IRET's, and re-injecting an NMI with blocking by NMI
 * set would fail the VM entry (SDM Vol. 3C, 27.3.1.5): no change then. */
static void ept_violation_during_event_delivery_leaves_nmi_blocking_alone(void **state)
{
    (void)state;
    const uint32_t nmi = 0x80000000u | (2u << 8) | 2;
    const uint32_t pf = 0x80000000u | (3u << 8) | (1u << 11) | 14;
    for (uint64_t intr = 0; intr < 32; intr++) {
        assert_int_equal(vmx_interruptibility_after_ept_violation(intr, 1u << 12, nmi), intr);
        assert_int_equal(vmx_interruptibility_after_ept_violation(intr, 1u << 12, pf), intr);
    }
}

/* The EPT route sets the bit before the hook, and the hook's retire then ends STI and MOV-SS
 * blocking only: the NMI blocking survives. */
static void nmi_blocking_set_for_ept_violation_survives_retire(void **state)
{
    (void)state;
    for (uint64_t intr = 0; intr < 32; intr++)
        assert_int_equal(vmx_interruptibility_after_retire(
                             vmx_interruptibility_after_ept_violation(intr, 1u << 12, 0)),
                         (intr & ~3ull) | 8);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(retire_ends_sti_and_mov_ss_blocking_only),
        cmocka_unit_test(retire_single_steps_exactly_when_tf_without_btf),
        cmocka_unit_test(ept_violation_after_iret_blocks_nmi_again),
        cmocka_unit_test(ept_violation_without_bit12_keeps_interruptibility),
        cmocka_unit_test(ept_violation_during_event_delivery_leaves_nmi_blocking_alone),
        cmocka_unit_test(nmi_blocking_set_for_ept_violation_survives_retire),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
