# tools/exitbench: the guest-side VM-exit latency benchmark (build/exitbench.efi).
EXITBENCH_SRCS := tools/exitbench/exitbench.c tools/exitbench/samples.c lib/fmt.c lib/string.c
$(eval $(call efi_app,exitbench,$(EXITBENCH_SRCS)))
ALL_TARGETS += $(BUILD)/exitbench.efi
