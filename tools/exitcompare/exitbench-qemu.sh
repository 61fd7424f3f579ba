#!/usr/bin/env bash
# exitbench-qemu.sh: exitbench.efi in QEMU + OVMF with QEMU's edu device, with or without
# Trapvisor, and its results (serial log, op lines, the CSV read back from the ESP).
#
# Usage:  tools/exitcompare/exitbench-qemu.sh --accel tcg|kvm --out DIR [options]
#
#   --accel tcg|kvm      tcg: QEMU's emulator (any machine; what `make check` runs);
#                        kvm: a KVM guest with -cpu host (Intel with /dev/kvm; `make bench-kvm`)
#   --out DIR            results: DIR/exitbench.img (the image booted, written by the guest),
#                        DIR/serial.log, DIR/ops.txt (the `exitbench: op=` lines, CR removed),
#                        DIR/exitbench.csv (\trapvisor\exitbench.csv copied off the ESP)
#   --trapvisor EFI      launch this trapvisor.efi first (`--quiet`), then exitbench: Trapvisor
#                        nested under KVM. Needs --accel kvm and nested VMX (-cpu host,+vmx)
#   --exitbench EFI      the exitbench.efi to run (default build/exitbench.efi)
#   -n N, --warmup W     exitbench's sample and warm-up counts (default 1000 and 100)
#   --timeout S          hard limit for the QEMU run (default 180)
#
# The QEMU command line is tools/rig/qemu.sh's (RIGS.md "QEMU + OVMF": q35, -m 256, -smp 2,
# OVMF, -device edu, isa-debug-exit), with --accel and --writable, so the TCG check and the KVM
# benchmark boot the same machine. The guest's startup.nsh runs exitbench and powers off with
# `reset -s`; if exitbench returns an error it writes 1 to port 0xf4 (QEMU exit 3).
#
# Exit status: 0 ok (exitbench ran, op lines and the CSV are in DIR); 1 this machine cannot
# run it (no /dev/kvm, nested VMX off, ...: one line says why) or a usage error; 3 the run
# failed (the serial log's tail is printed).
# Environment (tests point these at stand-ins): EXITBENCH_KVM_DEV (/dev/kvm),
# EXITBENCH_NESTED_PARAM (/sys/module/kvm_intel/parameters/nested); QEMU as tools/rig/qemu.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."

die() { echo "exitbench-qemu: $*" >&2; exit 1; }
failrun() {
    echo "exitbench-qemu: FAIL: $*" >&2
    if [ -f "$out/serial.log" ]; then
        echo "exitbench-qemu: last lines of $out/serial.log:" >&2
        tr -d '\r' <"$out/serial.log" | sed 's/\x1b\[[0-9;=?]*[A-Za-z]//g' | tail -n 25 >&2
    fi
    exit 3
}

accel="" out="" trapvisor="" exitbench=build/exitbench.efi n=1000 warmup=100 timeout_s=180
while [ $# -gt 0 ]; do
    case $1 in
    --accel) accel=${2:-}; shift 2 || die "--accel needs tcg or kvm" ;;
    --out) out=${2:-}; shift 2 || die "--out needs a folder" ;;
    --trapvisor) trapvisor=${2:-}; shift 2 || die "--trapvisor needs a file" ;;
    --exitbench) exitbench=${2:-}; shift 2 || die "--exitbench needs a file" ;;
    -n) n=${2:-}; shift 2 || die "-n needs a number" ;;
    --warmup) warmup=${2:-}; shift 2 || die "--warmup needs a number" ;;
    --timeout) timeout_s=${2:-}; shift 2 || die "--timeout needs seconds" ;;
    -h | --help) sed -n '2,27p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1' (--help)" ;;
    esac
done
case $accel in tcg | kvm) ;; *) die "--accel must be tcg or kvm" ;; esac
[ -n "$out" ] || die "--out DIR is required"
[[ $n =~ ^[1-9][0-9]*$ ]] || die "-n must be a positive number, not '$n'"
[[ $warmup =~ ^[0-9]+$ ]] || die "--warmup must be a number, not '$warmup'"
[ -f "$exitbench" ] || die "no such file: $exitbench (make build/exitbench.efi)"

# Refusals first, before anything is built or booted.
cpu_args=()
if [ "$accel" = kvm ]; then
    kvm_dev=${EXITBENCH_KVM_DEV:-/dev/kvm} # a test points this elsewhere to see the refusal
    [ -e "$kvm_dev" ] || die "no $kvm_dev on this machine: KVM is not available (needs VT-x and the kvm_intel module)"
    [ -r "$kvm_dev" ] && [ -w "$kvm_dev" ] || die "$kvm_dev is not readable and writable for $(id -un)"
    cpu_args=(-cpu host)
    export QEMU_KVM_DEV=$kvm_dev
fi
if [ -n "$trapvisor" ]; then
    [ "$accel" = kvm ] || die "--trapvisor needs --accel kvm (TCG emulates no VMX)"
    [ -f "$trapvisor" ] || die "no such file: $trapvisor"
    nested_file=${EXITBENCH_NESTED_PARAM:-/sys/module/kvm_intel/parameters/nested}
    nested=$(cat "$nested_file" 2>/dev/null || echo absent)
    case $nested in
    Y | y | 1) ;;
    *) die "nested VMX is off ($nested_file: $nested): Trapvisor cannot run under KVM here" ;;
    esac
    cpu_args=(-cpu "host,+vmx")
fi

mkdir -p "$out"
img=$out/exitbench.img
rm -f "$img" "$out/serial.log" "$out/ops.txt" "$out/exitbench.csv"

# The startup script: exitbench (after Trapvisor if asked), then power off.
nsh=$out/startup.nsh
{
    echo "@echo -off"
    echo "fs0:"
    if [ -n "$trapvisor" ]; then
        echo 'echo "exitbench-qemu: launch"'
        echo '\EFI\trapvisor\trapvisor.efi --quiet'
    fi
    echo 'echo "exitbench-qemu: exitbench"'
    echo "\\EFI\\trapvisor\\exitbench.efi -n $n --warmup $warmup"
    echo 'if %lasterror% == 0 then'
    echo '  echo "exitbench-qemu: done"'
    echo '  reset -s'
    echo 'endif'
    echo 'mm f4 1 -IO -w 1 -n'
    echo 'reset -s'
} >"$nsh"
files=("$exitbench=EFI/trapvisor/exitbench.efi" "$nsh=startup.nsh")
[ -n "$trapvisor" ] && files+=("$trapvisor=EFI/trapvisor/trapvisor.efi")
tools/image/mkimg.sh "$img" "${files[@]}" >"$out/mkimg.log" 2>&1 ||
    { cat "$out/mkimg.log" >&2; die "could not build $img"; }

rc=0
tools/rig/qemu.sh --accel "$accel" --writable -q -t "$timeout_s" -l "$out/serial.log" "$img" \
    -- "${cpu_args[@]}" >"$out/qemu.out" 2>&1 || rc=$?
case $rc in
0) ;;
3) failrun "exitbench returned an error (QEMU exit 3)" ;;
124) failrun "timeout after ${timeout_s}s" ;;
*) cat "$out/qemu.out" >&2; failrun "QEMU exit status $rc" ;;
esac

tr -d '\r' <"$out/serial.log" | sed 's/\x1b\[[0-9;=?]*[A-Za-z]//g' | grep -a '^exitbench: op=' \
    >"$out/ops.txt" || true
[ -s "$out/ops.txt" ] || failrun "no 'exitbench: op=' lines in $out/serial.log"

# The CSV off the ESP: the partition's first sector from the GPT (mkimg.sh puts it at 1 MiB).
first=$(sgdisk --info=1 "$img" 2>/dev/null | awk '/^First sector:/ {print $3}')
[ -n "$first" ] || failrun "cannot read the ESP's offset in $img"
MTOOLS_SKIP_CHECK=1 mcopy -n -i "$img@@$((first * 512))" ::/trapvisor/exitbench.csv \
    "$out/exitbench.csv" 2>"$out/mcopy.log" ||
    { cat "$out/mcopy.log" >&2; failrun "no \\trapvisor\\exitbench.csv on the ESP of $img"; }
echo "exitbench-qemu: $accel${trapvisor:+ + Trapvisor}: $(wc -l <"$out/ops.txt") op lines," \
    "$(($(wc -l <"$out/exitbench.csv") - 1)) CSV samples in $out"
