@echo -off
# tests/bochs: one boot proves the issue's Bochs checks. Markers ("bochs-check: ...") split
# the serial log for tests/bochs/run.sh; the run ends with `reset -s`.
fs0:
echo "bochs-check: caps"
\EFI\trapvisor\trapvisor.efi --caps
echo "bochs-check: dry-run"
\EFI\trapvisor\trapvisor.efi --dry-run
echo "bochs-check: launch"
\EFI\trapvisor\trapvisor.efi
echo "bochs-check: tvtest"
\EFI\trapvisor\tvtest.efi
echo "bochs-check: tvtest-upper-halves"
\EFI\trapvisor\tvtest.efi --long-mode-upper-halves
echo "bochs-check: edutest"
\EFI\trapvisor\edutest.efi
echo "bochs-check: edutest-strict"
\EFI\trapvisor\edutest.efi --strict
echo "bochs-check: exitbench"
\EFI\trapvisor\exitbench.efi -n 20 --warmup 5 --all-cpus
echo "bochs-check: exitbench-options"
\EFI\trapvisor\exitbench.efi -n 8 --warmup 2 --alternate-cr3 --sites 4 --ops cpuid,mmio-read-edu,mmio-write-edu --csv \trapvisor\options.csv
echo "bochs-check: relaunch"
\EFI\trapvisor\trapvisor.efi
echo "bochs-check: x2apic"
\EFI\trapvisor\tvtest.efi --x2apic
\EFI\trapvisor\edutest.efi
echo "bochs-check: shell-alive"
reset -s
