@echo -off
# make bench-exits: launch Trapvisor, then time every exit kind from the guest.
fs0:
echo "bench: launch"
\EFI\trapvisor\trapvisor.efi --quiet
echo "bench: exitbench"
\EFI\trapvisor\exitbench.efi -n 500 --warmup 50
echo "bench: alternate-cr3"
\EFI\trapvisor\exitbench.efi -n 500 --warmup 50 --alternate-cr3 --ops cpuid,mmio-read-edu,mmio-write-edu --csv \trapvisor\exitbench-cr3.csv
echo "bench: done"
reset -s
