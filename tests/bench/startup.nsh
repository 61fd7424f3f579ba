@echo -off
# make bench-exits: launch Trapvisor, then time every exit kind from the guest.
fs0:
echo "bench: launch"
\EFI\trapvisor\trapvisor.efi --quiet
echo "bench: exitbench"
\EFI\trapvisor\exitbench.efi -n 500 --warmup 50
echo "bench: done"
reset -s
