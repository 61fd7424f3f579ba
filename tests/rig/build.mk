# tests/rig/: the Bochs rig's own test (tools/rig/bochs.sh, make check-rig).
#   vmxprobe.efi prints CPUID, the CPU count, the VMX capability MSRs and the --caps report
#   (vmx/caps.c on the real, emulated CPU), then shuts down.
#   It also parses trapvisor.cfg and its load options with boot/options.c and prints the result.
$(eval $(call efi_app,vmxprobe,tests/rig/vmxprobe.c vmx/caps.c boot/options.c lib/fmt.c \
                               lib/string.c))
ALL_TARGETS += $(BUILD)/vmxprobe.efi

RIG_PROBE_IMG := $(BUILD)/rig/vmxprobe.img

# The image builder belongs to tools/image/; until it is in the tree check-rig says so and skips.
RIG_MKIMG := $(wildcard tools/image/mkimg.sh)

$(RIG_PROBE_IMG): $(BUILD)/vmxprobe.efi tests/rig/startup.nsh tests/rig/trapvisor.cfg $(RIG_MKIMG)
	@mkdir -p $(@D)
	MKIMG_SIZE_MB=34 tools/image/mkimg.sh $@ $(BUILD)/vmxprobe.efi=EFI/trapvisor/vmxprobe.efi \
	    tests/rig/trapvisor.cfg=EFI/trapvisor/trapvisor.cfg tests/rig/startup.nsh=startup.nsh

.PHONY: check-rig
ifneq ($(RIG_MKIMG),)
check-rig: $(RIG_PROBE_IMG)
	tests/rig/run.sh $(RIG_PROBE_IMG) $(BUILD)/rig
else
check-rig:
	@echo "rig: SKIPPED: tools/image/mkimg.sh is not in the tree, so no image to boot"
endif

CHECK_TARGETS += check-rig
