# tests/bochs: Trapvisor in Bochs + OVMF (the rig with VT-x). tvtest.efi is the guest-side
# checker for what edutest does not cover; run.sh boots batched images and judges the serial
# log (check-bochs, part of `make check`).
$(eval $(call efi_app,tvtest,tests/bochs/tvtest.c lib/fmt.c lib/string.c))
ALL_TARGETS += $(BUILD)/tvtest.efi
