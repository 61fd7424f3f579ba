# tests/bochs: Trapvisor in Bochs + OVMF (the rig with VT-x). tvtest.efi is the guest-side
# checker for what edutest does not cover; run.sh boots batched images and judges the serial
# log (check-bochs, part of `make check`).
$(eval $(call efi_app,tvtest,tests/bochs/tvtest.c lib/fmt.c lib/string.c))
ALL_TARGETS += $(BUILD)/tvtest.efi

BOCHS_CHECK_IMG := $(BUILD)/bochs/check.img
$(BOCHS_CHECK_IMG): $(BUILD)/trapvisor.efi $(BUILD)/tvtest.efi $(BUILD)/edutest.efi \
                    $(BUILD)/exitbench.efi tests/bochs/startup.nsh tools/image/mkimg.sh
	@mkdir -p $(@D)
	tools/image/mkimg.sh $@ $(BUILD)/trapvisor.efi=EFI/trapvisor/trapvisor.efi \
	    $(BUILD)/tvtest.efi=EFI/trapvisor/tvtest.efi \
	    $(BUILD)/edutest.efi=EFI/trapvisor/edutest.efi \
	    $(BUILD)/exitbench.efi=EFI/trapvisor/exitbench.efi tests/bochs/startup.nsh=startup.nsh

# Two boots, one after the other (2 cores for the whole team): 2 CPUs, then 1 CPU.
.PHONY: check-bochs
check-bochs: $(BOCHS_CHECK_IMG)
	@tools/deps.sh
	@s=$$(date +%s); fail=0; \
	 tests/bochs/run.sh $(BOCHS_CHECK_IMG) 2 || fail=1; \
	 tests/bochs/run.sh $(BOCHS_CHECK_IMG) 1 || fail=1; \
	 echo "check-bochs: $$(( $$(date +%s) - s ))s"; exit $$fail

CHECK_TARGETS += check-bochs

# QEMU (TCG) has no VT-x: the clean refusal, and the shell goes on.
QEMU_REFUSAL_IMG := $(BUILD)/bochs/refusal.img
$(QEMU_REFUSAL_IMG): $(BUILD)/trapvisor.efi tests/bochs/refusal.nsh tools/image/mkimg.sh
	@mkdir -p $(@D)
	tools/image/mkimg.sh $@ $(BUILD)/trapvisor.efi=EFI/trapvisor/trapvisor.efi \
	    tests/bochs/refusal.nsh=startup.nsh

.PHONY: check-qemu-refusal
check-qemu-refusal: $(QEMU_REFUSAL_IMG)
	@tools/deps.sh
	@tests/bochs/qemu-refusal.sh $(QEMU_REFUSAL_IMG)

CHECK_TARGETS += check-qemu-refusal

# An exception frame pushed into edu's BAR: Trapvisor refuses the delivery and stops the CPU.
BOCHS_DELIVERY_IMG := $(BUILD)/bochs/delivery.img
$(BOCHS_DELIVERY_IMG): $(BUILD)/trapvisor.efi $(BUILD)/tvtest.efi tests/bochs/delivery.nsh \
                       tools/image/mkimg.sh
	@mkdir -p $(@D)
	tools/image/mkimg.sh $@ $(BUILD)/trapvisor.efi=EFI/trapvisor/trapvisor.efi \
	    $(BUILD)/tvtest.efi=EFI/trapvisor/tvtest.efi tests/bochs/delivery.nsh=startup.nsh

.PHONY: check-bochs-delivery
check-bochs-delivery: $(BOCHS_DELIVERY_IMG)
	@tools/deps.sh
	@tests/bochs/delivery.sh $(BOCHS_DELIVERY_IMG)

CHECK_TARGETS += check-bochs-delivery
