#!/usr/bin/env bash
# tests/bochs/delivery.sh IMG: an event delivery that reaches device memory (tvtest.efi
# --delivery-into-bar: INT3 with RSP in edu's BAR0, tests/bochs/delivery.nsh), under Trapvisor in
# Bochs + OVMF with 1 CPU. Trapvisor does not emulate the delivery (boot/mmio.c,
# mmio_exit_during_delivery): passes when it logs that the delivery of vector 3 reached a trapped
# region at the frame's first push (BAR0 + 0x1ff8) and stops the CPU, and the guest never went on.
set -euo pipefail
cd "$(dirname "$0")/../.."
img=${1:?usage: $0 IMG}
out=build/bochs
serial=$out/delivery.serial.txt
mkdir -p "$out"
set +e
tools/rig/bochs.sh --image "$img" --serial "$serial" --cpus 1 --timeout "${TRAPVISOR_BOCHS_TIMEOUT:-300}" \
    --log "$out/delivery.bochs.log" --until 'vmx: CPU [0-9]+ stopped|bochs-check: delivery-returned' \
    --fail 'host exception|hypervisor stopped'
rc=$?
set -e
clean=$(LC_ALL=C tr -d '\r' <"$serial" | LC_ALL=C sed -e 's/\x1b\[[0-9;=?]*[A-Za-z]//g')
fail=0
bad() {
    echo "bochs-delivery: FAIL: $*" >&2
    fail=1
}
[ $rc -eq 0 ] || bad "Bochs run status $rc"
rsp=$(echo "$clean" | sed -n 's/^tvtest: delivery-into-bar: int3 with rsp 0x\([0-9a-f]*\)$/\1/p' | head -n 1)
[ -n "$rsp" ] || bad "tvtest did not reach the INT3"
if [ -n "$rsp" ]; then
    push=$(printf '%x' $((0x$rsp - 8)))
    echo "$clean" | grep -q "^ept: event delivery (vector 3) reached a trapped region at 0x$push: not emulated$" ||
        bad "no 'ept: event delivery (vector 3) reached a trapped region at 0x$push' line"
fi
echo "$clean" | grep -q '^vmx: CPU 0 EPT violation not handled' || bad "no 'vmx: CPU 0 EPT violation not handled'"
echo "$clean" | grep -q '^vmx: CPU 0 stopped' || bad "CPU 0 was not stopped"
echo "$clean" | grep -q 'delivery-into-bar \.\.\. FAIL\|bochs-check: delivery-returned' && bad "the guest went on"
if [ $fail -ne 0 ]; then
    echo "bochs-delivery: serial log ($serial), last lines:" >&2
    echo "$clean" | tail -n 25 >&2
    exit 1
fi
echo "bochs-delivery: ok (the delivery of vector 3 to 0x$push was refused and CPU 0 stopped)"
