# tests/linux: Linux as a guest (issue 6). `make check-linux` builds the kernel image, the
# edu driver, edutest and the initramfs (tools/linux/build.mk) and boots them on each rig in
# LINUX_RIGS (default "qemu bochs"; LINUX_RIGS=qemu for QEMU alone). The Bochs 3.0 run has 2 CPUs, on
# Trapvisor ($(BUILD)/trapvisor.efi started from the shell before the kernel; every check
# must pass); LINUX_TRAPVISOR= (empty) runs Bochs without Trapvisor (boot and CPUs only).
LINUX_RIGS ?= qemu bochs
LINUX_TRAPVISOR ?= $(if $(filter bochs,$(LINUX_RIGS)),$(BUILD)/trapvisor.efi)

.PHONY: check-linux check-linux-tools
check-linux: $(LINUX_KERNEL) $(LINUX_INITRD) check-linux-tools $(LINUX_TRAPVISOR)
	BUILD=$(BUILD) LINUX_RIGS="$(LINUX_RIGS)" LINUX_TRAPVISOR_EFI="$(LINUX_TRAPVISOR)" \
	    tests/linux/check-linux.sh

# The rig tools' own tests (no emulator): the MP table and the initramfs writer.
check-linux-tools:
	python3 tests/linux/test_linux_tools.py

CHECK_TARGETS += check-linux
