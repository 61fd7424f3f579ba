# tests/exitcompare: exitcompare's parsers and verdicts (cmocka), the tool on real outputs, the
# docs/benchmarks.md writer on a copy, and make bench-kvm's refusal without /dev/kvm.
$(eval $(call host_test,test_exitcompare,tests/exitcompare/test_exitcompare.c tools/exitcompare/compare.c tools/exitbench/samples.c lib/fmt.c))

# The tool on real outputs: the stored Trapvisor Bochs run (trapvisor-bochs-exits.txt) against
# check-qemu-exitbench's QEMU run (its log and its CSV) as the KVM side; bad input refused.
.PHONY: check-exitcompare check-bench-compare check-bench-kvm
check-exitcompare: check-qemu-exitbench $(EXITCOMPARE)
	@tests/exitcompare/check.sh tool $(EXITCOMPARE) $(QEMU_EXITBENCH_OUT)
# make bench-compare's writer on a copy of docs/benchmarks.md (the real one is never touched).
check-bench-compare: check-qemu-exitbench $(EXITCOMPARE)
	@tests/exitcompare/check.sh writer $(EXITCOMPARE) $(QEMU_EXITBENCH_OUT)
# make bench-kvm without /dev/kvm (and on a non-Intel CPU): one line, exit 1, nothing started;
# then its steps with TCG standing in for KVM (nested VMX off, then on).
check-bench-kvm: $(EXITCOMPARE) $(BUILD)/exitbench.efi $(BUILD)/trapvisor.efi
	@tests/exitcompare/check.sh kvm-refusal
	@tests/exitcompare/check.sh kvm-standin $(EXITCOMPARE) $(BUILD)/exitbench.efi $(BUILD)/trapvisor.efi
CHECK_TARGETS += check-exitcompare check-bench-compare check-bench-kvm
