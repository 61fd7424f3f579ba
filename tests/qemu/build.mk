# tests/qemu: edutest.efi in QEMU (TCG) + OVMF against QEMU's own edu device.
#
#   make check-qemu-edutest        q35 and pc runs in parallel (every check ok, >= 25 checks,
#                                  normalized transcript == reference), then a run without
#                                  edu (edutest must fail cleanly)
#   make update-edutest-reference  rerun q35 and pc and rewrite the references
#
# References: tests/qemu/edutest-reference.txt (q35: ECAM through MCFG) and
# tests/qemu/edutest-reference-pc.txt (i440fx: 0xCF8/0xCFC only, like Bochs + OVMF).
QEMU_EDUTEST_IMG := $(BUILD)/qemu/edutest.img
QEMU_EDUTEST_REF_Q35 := tests/qemu/edutest-reference.txt
QEMU_EDUTEST_REF_PC := tests/qemu/edutest-reference-pc.txt

$(QEMU_EDUTEST_IMG): $(BUILD)/edutest.efi tests/qemu/startup.nsh tools/image/mkimg.sh
	@mkdir -p $(@D)
	tools/image/mkimg.sh $@ $(BUILD)/edutest.efi=EFI/trapvisor/edutest.efi \
	    tests/qemu/startup.nsh=startup.nsh

.PHONY: check-qemu-edutest update-edutest-reference check-edutest-normalize
check-qemu-edutest: $(QEMU_EDUTEST_IMG) check-edutest-normalize
	@tools/deps.sh
	@s=$$(date +%s); \
	 tests/qemu/run-edutest.sh check q35 $(QEMU_EDUTEST_IMG) $(QEMU_EDUTEST_REF_Q35) & q=$$!; \
	 tests/qemu/run-edutest.sh check pc $(QEMU_EDUTEST_IMG) $(QEMU_EDUTEST_REF_PC) & p=$$!; \
	 fail=0; wait $$q || fail=1; wait $$p || fail=1; \
	 tests/qemu/run-edutest.sh noedu q35 $(QEMU_EDUTEST_IMG) || fail=1; \
	 echo "check-qemu-edutest: $$(( $$(date +%s) - s ))s"; exit $$fail

update-edutest-reference: $(QEMU_EDUTEST_IMG)
	@tests/qemu/run-edutest.sh update q35 $(QEMU_EDUTEST_IMG) $(QEMU_EDUTEST_REF_Q35) & q=$$!; \
	 tests/qemu/run-edutest.sh update pc $(QEMU_EDUTEST_IMG) $(QEMU_EDUTEST_REF_PC) & p=$$!; \
	 fail=0; wait $$q || fail=1; wait $$p || fail=1; exit $$fail

# The normalizer on a recorded log: firmware noise dropped, machine details masked.
check-edutest-normalize:
	@tools/rig/edutest-normalize.sh tests/qemu/normalize-sample.log | \
	    diff -u tests/qemu/normalize-sample.expected - && echo "edutest-normalize: ok"

CHECK_TARGETS += check-qemu-edutest

# exitbench.efi on QEMU's edu without Trapvisor (what a KVM guest shows, minus KVM): the
# operations that exist there in the exact line format with hv_median=0, vmcall and stats-read
# skipped with a reason, the CSV read back from the ESP (tests/qemu/check-exitbench.sh).
QEMU_EXITBENCH_OUT := $(BUILD)/qemu/exitbench
.PHONY: check-qemu-exitbench
check-qemu-exitbench: $(BUILD)/exitbench.efi $(EXITCOMPARE)
	@tools/deps.sh
	@tests/qemu/check-exitbench.sh $(EXITCOMPARE) $(QEMU_EXITBENCH_OUT) $(BUILD)/exitbench.efi
CHECK_TARGETS += check-qemu-exitbench
