#!/usr/bin/env bash
# tests/bochs/run.sh: Trapvisor in Bochs + OVMF, judged from the serial log.
#
# Usage:  tests/bochs/run.sh IMG CPUS [REFERENCE]
#
# IMG holds trapvisor.efi, tvtest.efi and edutest.efi under \EFI\trapvisor\ and
# tests/bochs/startup.nsh as \startup.nsh. One boot runs, in order: --caps, --dry-run, the
# launch, tvtest, edutest, edutest --strict, a second launch (must refuse: already running),
# then powers off. Passes when:
#   caps       "caps:" lines came out and nothing was launched
#   dry-run    the plan (CPUs, memory, region, slot and BAR addresses) and "dry run" line
#   launch     "trapvisor: running on N of N CPUs" with N = CPUS, every CPU reports the
#              signature
#   tvtest     every tvtest check ok (>= 30 of them); with --long-mode-upper-halves, the
#              long-mode round trip with bits 63:32 of the CR0 source registers set, ok
#   edutest    every check ok and the normalized transcript equals REFERENCE (default:
#              tests/qemu/edutest-reference-pc.txt, QEMU's i440fx run: no MCFG, like Bochs)
#   strict     the same transcript plus the three strict-* checks, all ok
#   exitbench  exitbench.efi --all-cpus under Trapvisor: every operation on every CPU, its MMIO
#              exits on their paths (filled once, then the light replay), the
#              exits accounted (hv_median > 0 for cpuid, vmcall, pio-cfc, mmio-*), the
#              statistics BAR and RAM read without an exit (hv_median 0), the CSV written;
#              then --alternate-cr3 --sites 4 --ops (three operations) --csv on this CPU
#   x2apic     after tvtest --x2apic switched the BSP to x2APIC mode, edutest (MSI included)
#              gives the same normalized transcript
#   relaunch   "already running under Trapvisor"
#   shell      the shell still runs commands afterwards; no guest was stopped and the
#              hypervisor took no exception
# Logs: build/bochs/check-<CPUS>cpu.serial.txt (and .bochs.log).
set -euo pipefail
cd "$(dirname "$0")/../.."

img=${1:?usage: $0 IMG CPUS [REFERENCE]}
cpus=${2:?cpus}
ref=${3:-tests/qemu/edutest-reference-pc.txt}
timeout_s=${TRAPVISOR_BOCHS_TIMEOUT:-400}
tag="${cpus}cpu"
out=build/bochs
serial=$out/check-$tag.serial.txt
mkdir -p "$out"

fail=0
bad() {
    echo "bochs-check($tag): FAIL: $*" >&2
    fail=1
}

start=$(date +%s)
set +e
tools/rig/bochs.sh --image "$img" --serial "$serial" --cpus "$cpus" --timeout "$timeout_s" \
    --log "$out/check-$tag.bochs.log" --until 'bochs-check: shell-alive' \
    --fail 'vmx: CPU [0-9]+ stopped|host exception|hypervisor stopped'
rc=$?
set -e
secs=$(($(date +%s) - start))
[ $rc -eq 0 ] || bad "Bochs run status $rc (see $serial)"

clean=$out/check-$tag.clean.txt
LC_ALL=C tr -d '\r' <"$serial" | LC_ALL=C sed -e 's/\x1b\[[0-9;=?]*[A-Za-z]//g' >"$clean"

# section NAME: the lines between "bochs-check: NAME" and the next marker.
section() {
    awk -v want="bochs-check: $1" '
        /^bochs-check: / { on = ($0 == want); next }
        on' "$clean"
}

s=$(section caps)
echo "$s" | grep -q '^caps: ' || bad "--caps printed no capability lines"
echo "$s" | grep -q 'is a guest' && bad "--caps launched"

s=$(section dry-run)
for re in '^plan: [0-9]+ CPU' '^plan: .*RAM' '^plan: hypervisor region' \
    '^pci: edu at 00:[0-9a-f]{2}\.0 BAR0 0x' 'dry run, nothing launched'; do
    echo "$s" | grep -Eq "$re" || bad "--dry-run: no line matching '$re'"
done
echo "$s" | grep -q 'is a guest' && bad "--dry-run launched"

s=$(section launch)
echo "$s" | grep -q "^trapvisor: running on $cpus of $cpus CPUs" ||
    bad "launch: not every CPU virtualized"
echo "$s" | grep -q "^boot: $cpus CPU(s) report the Trapvisor signature" ||
    bad "launch: not every CPU reports the signature"

s=$(section tvtest)
n=$(echo "$s" | grep -c '^tvtest: .* \.\.\. ok' || true)
echo "$s" | grep -q '^tvtest: .* \.\.\. FAIL' && bad "tvtest: $(echo "$s" | grep -m3 FAIL | tr '\n' ' ')"
echo "$s" | grep -q "^tvtest: $n passed, 0 failed" || bad "tvtest: no clean verdict"
[ "$n" -ge 30 ] || bad "tvtest: only $n checks passed"

# The long-mode round trip again with bits 63:32 of the registers MOV to CR0 takes set: outside
# 64-bit mode the operand is their low half (SDM Vol. 2A), so no #GP.
s=$(section tvtest-upper-halves)
echo "$s" | grep -q '^tvtest: long-mode-round-trip-upper-halves \.\.\. ok' &&
    echo "$s" | grep -q '^tvtest: 1 passed, 0 failed' ||
    bad "tvtest --long-mode-upper-halves: $(echo "$s" | grep -m1 'long-mode-round-trip-upper-halves' || echo 'no verdict')"

norm=$out/check-$tag.edutest.txt
section edutest | tools/rig/edutest-normalize.sh >"$norm"
if ! diff -u "$ref" "$norm" >"$norm.diff"; then
    bad "edutest transcript differs from $ref:"
    cat "$norm.diff" >&2
fi

snorm=$out/check-$tag.edutest-strict.txt
section edutest-strict | tools/rig/edutest-normalize.sh >"$snorm"
[ "$(grep -c '^edutest: strict-.* \.\.\. ok$' "$snorm" || true)" -eq 3 ] ||
    bad "edutest --strict: the three strict checks did not all pass"
# The strict run is the reference plus the three strict-* lines (and a verdict three higher).
refn=$(sed -n 's/^edutest: \([0-9]*\) passed, 0 failed$/\1/p' "$ref")
grep -v '^edutest: strict-' "$snorm" | sed -e 's/^edutest: start strict=on$/edutest: start strict=off/' \
    -e "s/^edutest: $((refn + 3)) passed, 0 failed\$/edutest: $refn passed, 0 failed/" |
    diff -u "$ref" - >"$snorm.diff" || {
    bad "edutest --strict transcript differs from $ref (strict lines aside):"
    cat "$snorm.diff" >&2
}

s=$(section exitbench)
echo "$s" | grep -q '^exitbench: hypervisor trapvisor' || bad "exitbench: Trapvisor not detected"
echo "$s" | grep -q '^exitbench: statistics function found' || bad "exitbench: no statistics function"
for op in cpuid vmcall pio-cfc mmio-read-edu mmio-write-edu ram-read stats-read; do
    lines=$(echo "$s" | grep -E "^exitbench: op=$op n=20 min=[0-9]+ median=[0-9]+ p99=[0-9]+ max=[0-9]+ hv_median=[0-9]+$" || true)
    [ "$(echo "$lines" | grep -c . || true)" -eq "$cpus" ] || bad "exitbench: $op not measured on each of $cpus CPUs"
    hv=$(echo "$lines" | sed -n 's/.*hv_median=//p')
    case $op in
    ram-read | stats-read) echo "$hv" | grep -qv '^0$' && bad "exitbench: $op caused exits (hv_median $hv)" ;;
    *) echo "$hv" | grep -q '^0$' && bad "exitbench: $op exits not accounted (hv_median 0)" ;;
    esac
done
echo "$s" | grep -q 'exitbench: samples in' || bad "exitbench: the CSV was not written"
# The statistics' MMIO paths (docs/stats.md): on each CPU the 50 MMIO exits of the two MMIO
# operations (20 samples and 5 warm-up rounds each), every one on a path: at least one site
# filled (exitbench's instructions are new to every CPU) and the rest replayed by the light
# hook; nothing refused, retried or sent to the general path.
paths=$(echo "$s" | grep -E '^exitbench: mmio-paths cpu=[0-9]+ light=[0-9]+ full=[0-9]+ fill=[0-9]+ general=[0-9]+ retry=[0-9]+ refused=[0-9]+$' || true)
[ "$(echo "$paths" | grep -c . || true)" -eq "$cpus" ] || bad "exitbench: no mmio-paths line for each of $cpus CPUs"
echo "$paths" | awk '{ split($0, f, /[ =]/); light = f[6]; full = f[8]; fill = f[10]; gen = f[12]; retry = f[14]; ref = f[16];
    if (light < 1 || fill < 1 || light + full + fill + gen != 50 || gen || retry || ref) { print; exit 1 } }' >/dev/null ||
    bad "exitbench: MMIO paths not 50 exits, filled then replayed: $(echo "$paths" | tr '\n' ';')"

# exitbench --alternate-cr3 --sites 4 on this CPU: both roots named, the copies written, the three
# operations measured with their exits accounted (the copies' and the other root's exits are
# MMIO exits like the inline ones), the others not run.
s=$(section exitbench-options)
echo "$s" | grep -q '^exitbench: page-table roots alternate: cr3 0x[0-9a-f]* and 0x[0-9a-f]*$' ||
    bad "exitbench --alternate-cr3: no second root"
echo "$s" | grep -q '^exitbench: the MMIO operations run through 4 copies of their instruction$' ||
    bad "exitbench --sites 4: no copies"
for op in cpuid mmio-read-edu mmio-write-edu; do
    echo "$s" | grep -Eq "^exitbench: op=$op n=8 min=[0-9]+ median=[0-9]+ p99=[0-9]+ max=[0-9]+ hv_median=[1-9][0-9]*$" ||
        bad "exitbench --alternate-cr3 --sites 4: $op not measured with its exits"
done
echo "$s" | grep -Eq '^exitbench: op=(vmcall|pio-cfc|ram-read|stats-read) ' &&
    bad "exitbench --ops: an operation not asked for ran"
echo "$s" | grep -q 'exitbench: samples in \\trapvisor\\options.csv' || bad "exitbench --csv: not written"

# x2APIC: tvtest --x2apic switches the BSP's local APIC to x2APIC mode, then edutest must give
# the same transcript (its MSI checks now go through Trapvisor's x2APIC delivery path).
s=$(section x2apic)
echo "$s" | grep -qx 'tvtest: x2apic-enabled ... ok' || bad "x2apic: the BSP did not switch to x2APIC mode"
echo "$s" | grep -q '^edutest: msi vector=0x[0-9a-f]* apic-id=[0-9]* apic-mode=x2apic$' ||
    bad "x2apic: edutest did not run its MSI checks in x2APIC mode"
xnorm=$out/check-$tag.edutest-x2apic.txt
echo "$s" | tools/rig/edutest-normalize.sh >"$xnorm"
if ! diff -u "$ref" "$xnorm" >"$xnorm.diff"; then
    bad "edutest in x2APIC mode differs from $ref:"
    cat "$xnorm.diff" >&2
fi

section relaunch | grep -q 'already running under Trapvisor' ||
    bad "a second trapvisor.efi did not refuse"
grep -q '^bochs-check: shell-alive' "$clean" || bad "the shell did not reach the end"

if [ $fail -eq 0 ]; then
    echo "bochs-check($tag): ok: $cpus CPU(s), tvtest $n checks, edutest and --strict equal the reference (xAPIC and x2APIC), exitbench on every CPU (${secs}s)"
fi
exit $fail
