fs0:
\EFI\trapvisor\vmxprobe.efi
reset -s
