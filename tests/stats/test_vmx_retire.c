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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(retire_ends_sti_and_mov_ss_blocking_only),
        cmocka_unit_test(retire_single_steps_exactly_when_tf_without_btf),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
