@echo -off
# make bench-exits: launch Trapvisor, then time every exit kind from the guest.
fs0:
echo "bench: launch"
\EFI\trapvisor\trapvisor.efi --quiet
echo "bench: exitbench"
\EFI\trapvisor\exitbench.efi -n 500 --warmup 50
echo "bench: alternate-cr3"
\EFI\trapvisor\exitbench.efi -n 500 --warmup 50 --alternate-cr3 --ops cpuid,mmio-read-edu,mmio-write-edu --csv \trapvisor\exitbench-cr3.csv
echo "bench: sites 16"
\EFI\trapvisor\exitbench.efi -n 500 --warmup 50 --sites 16 --ops mmio-read-edu,mmio-write-edu --csv \trapvisor\exitbench-sites16.csv
echo "bench: sites 48"
\EFI\trapvisor\exitbench.efi -n 500 --warmup 50 --sites 48 --ops mmio-read-edu,mmio-write-edu --csv \trapvisor\exitbench-sites48.csv
echo "bench: done"
reset -s
