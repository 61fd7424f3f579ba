# tools/image: mkimg.sh, the GPT + EFI System Partition image builder (no root, no loop
# mounts). Usage is in the script's header; `make usb` and the rigs call it.
.PHONY: check-mkimg
check-mkimg:
	@tools/image/test-mkimg.sh
CHECK_TARGETS += check-mkimg
