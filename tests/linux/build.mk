# tests/linux: Linux as a guest (issue 6). `make check-linux` builds the kernel image, the
# edu driver, edutest and the initramfs (tools/linux/build.mk) and boots them on each rig in
# LINUX_RIGS (default qemu; "qemu bochs" adds the Bochs 3.0 run, see check-linux.sh).
LINUX_RIGS ?= qemu

.PHONY: check-linux check-linux-tools
check-linux: $(LINUX_KERNEL) $(LINUX_INITRD) check-linux-tools
	BUILD=$(BUILD) LINUX_RIGS="$(LINUX_RIGS)" tests/linux/check-linux.sh

# The rig tools' own tests (no emulator): the MP table and the initramfs writer.
check-linux-tools:
	python3 tests/linux/test_linux_tools.py

CHECK_TARGETS += check-linux
