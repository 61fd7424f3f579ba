#!/usr/bin/env bash
# tests/bochs/qemu-refusal.sh IMG: QEMU (TCG) + OVMF has no VT-x (CPUID.1:ECX.VMX = 0).
# trapvisor.efi must print exactly one "trapvisor: not started: ..." line naming why, launch
# nothing, and the UEFI shell must run the next command. Run twice: QEMU's default CPU
# (AuthenticAMD: "not an Intel CPU") and an Intel-vendor CPU without VMX ("no VT-x").
set -euo pipefail
cd "$(dirname "$0")/../.."
img=${1:?usage: $0 IMG}
mkdir -p build/bochs
fail=0
run() { # NAME EXPECTED-REGEX [qemu args...]
    local name=$1 want=$2
    shift 2
    local log=build/bochs/refusal-$name.log
    local rc=0
    tools/rig/qemu.sh -m pc -t 120 -q -l "$log" "$img" -- "$@" || rc=$?
    local clean
    clean=$(tr -d '\r' <"$log" | sed -e 's/\x1b\[[0-9;=?]*[A-Za-z]//g')
    local n
    n=$(echo "$clean" | grep -c '^trapvisor: not started: ' || true)
    if [ "$rc" -ne 0 ] || [ "$n" -ne 1 ] || ! echo "$clean" | grep -Eq "^trapvisor: not started: $want" ||
        echo "$clean" | grep -q 'is a guest' || ! echo "$clean" | grep -q '^refusal-check: shell-alive'; then
        echo "qemu-refusal($name): FAIL (qemu status $rc; see $log)" >&2
        echo "$clean" | grep -a 'trapvisor:' >&2 || true
        fail=1
    else
        echo "qemu-refusal($name): ok: $(echo "$clean" | grep '^trapvisor: not started: ')"
    fi
}
run amd 'not an Intel CPU'
run intel-novmx 'no VT-x' -cpu qemu64,vendor=GenuineIntel,-vmx
exit $fail
