fs0:
\EFI\trapvisor\vmxprobe.efi --no-edu --cpus 2 --start "\EFI\my dir\next.efi"
reset -s
