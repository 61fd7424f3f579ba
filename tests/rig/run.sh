#!/usr/bin/env bash
# The Bochs rig's self-test (make check-rig): tools/rig/bochs.sh's argument and error handling,
# then vmxprobe.efi booted in Bochs + OVMF with 2 CPUs and with 1 (only 1 on the Bochs 2.7
# fallback). It must see every CPU, run to its last line, read the VMX capability MSRs that
# tests/rig/vmxprobe-skylake-x-bochs3.expected (Bochs 3.0) or -bochs27.expected (the 2.7
# fallback) records for Bochs's corei7_skylake_x model (the values tests/caps is built on),
# and print the --caps report (vmx/caps.c) that tests/rig/caps-skylake-x-bochs3.expected holds.
#
# Usage: tests/rig/run.sh IMAGE OUTDIR
set -uo pipefail
IMG=$1
OUT=$2
RIG=tools/rig/bochs.sh
mkdir -p "$OUT"
pass=0 fail=0
ok() { echo "rig: ok   $*"; pass=$((pass + 1)); }
bad() { echo "rig: FAIL $*"; fail=$((fail + 1)); }
expect_rc() { # NAME WANT CMD...
    local name=$1 want=$2 rc
    shift 2
    "$@" >"$OUT/$name.out" 2>&1
    rc=$?
    if [ "$rc" = "$want" ]; then ok "$name (exit $rc)"; else bad "$name: exit $rc, want $want"; sed 's/^/    /' "$OUT/$name.out"; fi
}

expect_rc usage_without_image 2 "$RIG" --serial "$OUT/x.txt"
expect_rc usage_bad_cpus 2 "$RIG" --image "$IMG" --serial "$OUT/x.txt" --cpus zero
expect_rc usage_unknown_option 2 "$RIG" --image "$IMG" --serial "$OUT/x.txt" --frobnicate
expect_rc usage_bad_regex 2 "$RIG" --image "$IMG" --serial "$OUT/x.txt" --expect 'a('
expect_rc setup_missing_image 3 "$RIG" --image "$OUT/no-such.img" --serial "$OUT/x.txt"

cpus=2 expected=tests/rig/vmxprobe-skylake-x-bochs3.expected
if [ "$(id -u)" -ne 0 ]; then
    cpus=1 expected=tests/rig/vmxprobe-skylake-x-bochs27.expected # Bochs 2.7 fallback
fi
# A short timeout must end the run with 124 and a serial tail, whatever the guest does.
expect_rc timeout_kills_bochs 124 "$RIG" --image "$IMG" --serial "$OUT/timeout.txt" --timeout 3 --expect 'never printed'

"$RIG" --image "$IMG" --serial "$OUT/serial.txt" --log "$OUT/bochs.log" --cpus "$cpus" --timeout 240 \
    --expect "vmxprobe: cpus $cpus enabled $cpus" --until 'vmxprobe: done' --fail 'X64 Exception|!!!!' \
    2>&1 | tee "$OUT/boot.out"
rc=${PIPESTATUS[0]}
if [ "$rc" = 0 ]; then ok "vmxprobe boots with $cpus CPU(s) and runs to its end"; else bad "vmxprobe boot: exit $rc"; fi

if [ "$cpus" = 2 ]; then
    # One CPU as well (count=1, no quantum): stop as soon as MP Services has answered.
    if "$RIG" --image "$IMG" --serial "$OUT/serial1.txt" --cpus 1 --timeout 240 \
        --until 'vmxprobe: cpus 1 enabled 1' --fail 'X64 Exception|!!!!|vmxprobe: cpus [02-9]' \
        >"$OUT/boot1.out" 2>&1; then
        ok "vmxprobe boots with 1 CPU and sees exactly one"
    else
        bad "vmxprobe with 1 CPU:"
        sed 's/^/    /' "$OUT/boot1.out"
    fi
fi

tr -d '\r' <"$OUT/serial.txt" | grep '^vmxprobe: msr' >"$OUT/msrs.txt"
if diff -u "$expected" "$OUT/msrs.txt" >"$OUT/msrs.diff"; then
    ok "VMX capability MSRs equal $expected"
else
    bad "VMX capability MSRs differ from $expected:"
    sed 's/^/    /' "$OUT/msrs.diff"
fi
# boot/options.c on real firmware: the shell's UCS-2 load options (image path first, quotes
# kept) over trapvisor.cfg (stats off, cpus 1, log verbose; the command line sets cpus 2).
want_opts='options: edu = off|options: stats = off|options: log = verbose|options: start = \\EFI\\my dir\\next.efi|options: cpus = 2'
got_opts=$(tr -d '\r' <"$OUT/serial.txt" | grep -cxE "$want_opts")
if [ "$got_opts" = 5 ]; then
    ok "load options from the shell and trapvisor.cfg give the expected settings"
else
    bad "settings from load options + trapvisor.cfg: $got_opts of 5 expected lines:"
    tr -d '\r' <"$OUT/serial.txt" | grep -E '^(options:|vmxprobe: (load|config|options))' | sed 's/^/    /'
fi

# vmx/caps.c on the emulated CPU: it read every MSR without a fault and reached its verdict.
if tr -d '\r' <"$OUT/serial.txt" | grep -qx 'caps: Verdict: Trapvisor can run here'; then
    ok "the --caps report runs on the emulated CPU and finds everything Trapvisor needs"
else
    bad "no 'caps: Verdict: Trapvisor can run here' line from vmxprobe"
fi
tr -d '\r' <"$OUT/serial.txt" | grep '^caps: ' >"$OUT/caps.txt" || true
# On Bochs 3.0 the whole report is compared (if vmx/caps.c's output changes on purpose,
# refresh the file from build/rig/caps.txt after checking the difference).
if [ "$cpus" = 2 ]; then
    if diff -u tests/rig/caps-skylake-x-bochs3.expected "$OUT/caps.txt" >"$OUT/caps.diff"; then
        ok "the --caps report equals tests/rig/caps-skylake-x-bochs3.expected"
    else
        bad "the --caps report differs from tests/rig/caps-skylake-x-bochs3.expected:"
        head -n 40 "$OUT/caps.diff" | sed 's/^/    /'
    fi
fi

# Each of this test's runs names its run folder; every one must be gone now (other engineers'
# or CI's concurrent runs have folders of their own, which are none of this test's business).
for leftover in $(sed -n 's/^bochs: run folder //p' "$OUT"/*.out | sort -u); do
    [ -e "$leftover" ] && bad "run folder left behind: $leftover"
done
grep -q "trapvisor/bochs3/proc" /proc/mounts && echo "rig: note: /proc is mounted in the chroot (another run?)"

echo "rig: $pass passed, $fail failed"
[ "$fail" = 0 ]
