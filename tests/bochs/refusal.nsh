@echo -off
# QEMU (TCG, no VMX): trapvisor.efi must refuse with one line and the shell must go on.
fs0:
\EFI\trapvisor\trapvisor.efi
echo "refusal-check: shell-alive"
reset -s
