# boot/: the UEFI entry of trapvisor.efi. The application itself is linked in vmx/build.mk
# (included after every folder it links from). BOOT_SRCS is expanded there.
BOOT_SRCS = boot/main.c boot/reloc.c boot/tv_main.c boot/host.c boot/mp.c boot/devices.c \
            boot/plan.c boot/chainload.c boot/mmio.c \
            tools/edutest/acpi_mcfg.c $(wildcard boot/options.c)

# --- make usb: the image users write to a USB stick ----------------------------------------
# \EFI\BOOT\BOOTX64.EFI is Trapvisor (it launches, then starts `start =` from the config or
# hands back to the next boot entry); \EFI\trapvisor\ holds the guest tools and the config.
USB_IMG := $(BUILD)/trapvisor-usb.img
USB_FILES = $(BUILD)/trapvisor.efi=EFI/BOOT/BOOTX64.EFI \
            $(BUILD)/edutest.efi=EFI/trapvisor/edutest.efi \
            $(if $(wildcard tools/exitbench/build.mk),$(BUILD)/exitbench.efi=EFI/trapvisor/exitbench.efi) \
            boot/trapvisor.cfg=EFI/trapvisor/trapvisor.cfg
USB_DEPS = $(BUILD)/trapvisor.efi $(BUILD)/edutest.efi boot/trapvisor.cfg tools/image/mkimg.sh \
           $(if $(wildcard tools/exitbench/build.mk),$(BUILD)/exitbench.efi)

$(USB_IMG): $(USB_DEPS)
	tools/image/mkimg.sh $@ $(USB_FILES)
	@echo "usb: $@ (dd it to a USB stick; docs/hypervisor.md)"

# --- make run: the demo ---------------------------------------------------------------------
# The USB image plus a startup.nsh: firmware boots BOOTX64.EFI (Trapvisor launches on every
# CPU and hands back to the next boot entry, the UEFI shell), the shell runs edutest against
# Trapvisor's edu, prints one verdict line and powers off. RIG=bochs (default: Bochs 3.0 +
# OVMF, 2 CPUs, serial live on the terminal) or RIG=kvm (QEMU/KVM with nested VMX, needs
# /dev/kvm on an Intel host).
RUN_IMG := $(BUILD)/run.img
RIG ?= bochs
RUN_CPUS ?= 2

$(RUN_IMG): $(USB_DEPS) boot/run.nsh
	tools/image/mkimg.sh $@ $(USB_FILES) boot/run.nsh=startup.nsh

.PHONY: usb run
usb: $(USB_IMG)

run:
	@tools/deps.sh || { [ "$$(id -u)" -ne 0 ] && echo "run: continuing without the missing packages (not root)"; }
	@$(MAKE) --no-print-directory $(RUN_IMG)
	@log=$(BUILD)/run-serial.txt; \
	 if [ "$(RIG)" = kvm ]; then \
	   [ -w /dev/kvm ] || { echo "run: VERDICT FAIL: RIG=kvm needs /dev/kvm"; exit 1; }; \
	   cp /usr/share/OVMF/OVMF_VARS_4M.fd $(BUILD)/run-vars.fd; \
	   timeout 300 qemu-system-x86_64 -machine q35,accel=kvm -cpu host,+vmx -smp $(RUN_CPUS) \
	     -m 512 -nographic -nic none \
	     -drive if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd \
	     -drive if=pflash,format=raw,file=$(BUILD)/run-vars.fd \
	     -drive file=$(RUN_IMG),format=raw,snapshot=on | tee $$log; \
	 else \
	   tools/rig/bochs.sh --image $(RUN_IMG) --serial $$log --cpus $(RUN_CPUS) --timeout 600 \
	     --live --until 'run: VERDICT' --fail 'vmx: CPU [0-9]+ stopped|hypervisor stopped' \
	     || true; \
	 fi; \
	 v=$$(tr -d '\r' <$$log | grep -ao 'run: VERDICT.*' | tail -n 1); \
	 cpus=$$(tr -d '\r' <$$log | grep -ao 'trapvisor: running on [0-9]* of [0-9]* CPUs' | tail -n 1); \
	 if echo "$$v" | grep -q PASS && [ -n "$$cpus" ]; then \
	   echo "run: PASS: $${cpus#trapvisor: }, edutest passed against Trapvisor's edu (log $$log)"; \
	 else \
	   echo "run: FAIL: $${v:-no verdict} $${cpus:-Trapvisor did not launch} (log $$log)"; exit 1; \
	 fi

# Host unit tests of boot/'s pure code.
$(eval $(call host_test,test_boot_reloc,boot/test_boot_reloc.c boot/reloc.c))
