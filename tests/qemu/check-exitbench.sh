#!/usr/bin/env bash
# check-exitbench.sh: exitbench.efi in QEMU (TCG) + OVMF with QEMU's edu and no Trapvisor --
# what a user gets in a KVM guest, minus KVM -- and what it must show there (issue 5: "without
# Trapvisor it measures the same operations where they exist"):
#   - one line in the exact format for each of cpuid, pio-cfc, mmio-read-edu, mmio-write-edu
#     and ram-read, n as asked, min <= median <= p99 <= max, hv_median=0 (no Trapvisor
#     accounting), and no other op= line;
#   - vmcall and stats-read not measured, each with one "exitbench: <op> skipped: <why>" line;
#   - the CSV written on the ESP (read back from the image with mtools): the header, N samples
#     per measured operation on cpu 0 and none for the others, and exitcompare's summary of
#     those samples equal to exitbench's own lines (the CSV and the log agree).
#
# Usage:  tests/qemu/check-exitbench.sh EXITCOMPARE OUTDIR [EXITBENCH_EFI]
# Environment: EXITBENCH_CHECK_N (200), EXITBENCH_QEMU_TIMEOUT (180 s).
set -euo pipefail
cd "$(dirname "$0")/../.."

exitcompare=${1:?usage: $0 EXITCOMPARE OUTDIR}
out=${2:?usage: $0 EXITCOMPARE OUTDIR}
exitbench=${3:-build/exitbench.efi}
n=${EXITBENCH_CHECK_N:-200}
timeout_s=${EXITBENCH_QEMU_TIMEOUT:-180}
measured="cpuid pio-cfc mmio-read-edu mmio-write-edu ram-read"
skipped="vmcall stats-read"

clean_log() { tr -d '\r' <"$out/serial.log" | sed 's/\x1b\[[0-9;=?]*[A-Za-z]//g'; }
fail() {
    echo "check-qemu-exitbench: FAIL: $*" >&2
    if [ -f "$out/serial.log" ]; then
        echo "check-qemu-exitbench: last lines of $out/serial.log:" >&2
        clean_log | tail -n 25 >&2
    fi
    exit 1
}

start=$(date +%s)
tools/exitcompare/exitbench-qemu.sh --accel tcg --out "$out" --exitbench "$exitbench" -n "$n" --warmup 20 \
    --timeout "$timeout_s" || exit 1
log=$out/clean.log
clean_log >"$log"

grep -Eq '^exitbench: hypervisor (none|other)( |$)' "$log" ||
    fail "no 'exitbench: hypervisor none|other' line: $(grep -a '^exitbench: hypervisor' "$log" || echo none)"

for op in $measured; do
    lines=$(grep -c "^exitbench: op=$op " "$log" || true)
    [ "$lines" -eq 1 ] || fail "$lines op=$op lines, want 1"
    line=$(grep "^exitbench: op=$op " "$log")
    [[ $line =~ ^exitbench:\ op=$op\ n=$n\ min=([0-9]+)\ median=([0-9]+)\ p99=([0-9]+)\ max=([0-9]+)\ hv_median=0$ ]] ||
        fail "not in the exact format with n=$n and hv_median=0: '$line'"
    min=${BASH_REMATCH[1]} med=${BASH_REMATCH[2]} p99=${BASH_REMATCH[3]} max=${BASH_REMATCH[4]}
    [ "$min" -le "$med" ] && [ "$med" -le "$p99" ] && [ "$p99" -le "$max" ] ||
        fail "$op: not min <= median <= p99 <= max: '$line'"
done
total=$(grep -c '^exitbench: op=' "$log" || true)
[ "$total" -eq 5 ] || fail "$total op= lines, want 5 ($measured)"

for op in $skipped; do
    ! grep -q "^exitbench: op=$op " "$log" || fail "$op was measured without Trapvisor"
    lines=$(grep -Ec "^exitbench: $op skipped: .+" "$log" || true)
    [ "$lines" -eq 1 ] || fail "$lines 'exitbench: $op skipped: <why>' lines, want 1"
done
grep -q '^exitbench: samples in \\trapvisor\\exitbench.csv$' "$log" ||
    fail "no 'exitbench: samples in \\trapvisor\\exitbench.csv' line"

csv=$out/exitbench.csv
[ "$(head -n 1 "$csv" | tr -d '\r')" = "op,cpu,iteration,ticks" ] ||
    fail "the CSV's first line is '$(head -n 1 "$csv")', not op,cpu,iteration,ticks"
for op in $measured; do
    rows=$(grep -c "^$op,0,[0-9]*,[0-9]*$" "$csv" || true)
    [ "$rows" -eq "$n" ] || fail "the CSV has $rows samples of $op on cpu 0, want $n"
done
for op in $skipped; do
    ! grep -q "^$op," "$csv" || fail "the CSV has samples of $op"
done
rows=$(($(wc -l <"$csv") - 1))
[ "$rows" -eq $((5 * n)) ] || fail "the CSV has $rows samples, want $((5 * n))"

# The CSV's samples, summarized by exitcompare the way exitbench does, give exitbench's lines.
"$exitcompare" --summary "$csv" >"$out/csv-summary.txt" || fail "exitcompare --summary failed"
diff -u "$out/ops.txt" "$out/csv-summary.txt" >&2 ||
    fail "the CSV's figures differ from exitbench's lines (above: - log, + CSV)"

echo "check-qemu-exitbench: ok: 5 operations measured in the exact format with hv_median=0," \
    "vmcall and stats-read skipped with a reason, CSV of $rows samples agrees ($(($(date +%s) - start))s)"
