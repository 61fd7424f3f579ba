@echo -off
# tests/bochs/delivery.sh: an exception frame pushed into edu's BAR; Trapvisor must stop the CPU.
fs0:
echo "bochs-check: launch"
\EFI\trapvisor\trapvisor.efi --quiet
echo "bochs-check: delivery-into-bar"
\EFI\trapvisor\tvtest.efi --delivery-into-bar
echo "bochs-check: delivery-returned"
reset -s
