#!/usr/bin/env bash
# qemu.sh: boot a disk image in QEMU (TCG) + OVMF with QEMU's edu device, unattended.
#
# Usage:  tools/rig/qemu.sh [options] IMG [-- extra qemu args...]
#
#   -m, --machine q35|pc   machine type (default q35; pc is i440fx, no MCFG/ECAM)
#   -l, --log FILE         serial log (default: IMG with .serial.log); COM1 and OVMF's console
#   -t, --timeout SECONDS  hard limit (default 60): QEMU gets SIGTERM then, SIGKILL 5 s later
#   -q, --quiet            do not print the log tail on failure
#       --no-edu           leave out -device edu (how tools behave without the device)
#       --wait-startup     let the UEFI shell count down 5 s before startup.nsh (default:
#                          a space is typed on COM1 as soon as the countdown appears)
#       --accel tcg|kvm    accelerator (default tcg); kvm needs a readable, writable /dev/kvm
#                          (else exit 1 with one line) and usually `-- -cpu host`
#       --writable         boot IMG itself, not a snapshot: what the guest writes to the ESP
#                          (exitbench's CSV) stays in IMG; give it a copy you may change
#   -- ARGS                everything after -- goes to qemu-system-x86_64 unchanged
#
# The command is RIGS.md's "QEMU + OVMF" one: q35 (or pc), accel=tcg (or kvm), -m 256, -smp 2,
# no graphics, no network (-nic none, so OVMF does not try network boot), OVMF_CODE_4M
# read-only, a private copy of OVMF_VARS_4M, the image with snapshot=on (never modified;
# --writable drops it),
# -device edu, and isa-debug-exit at port 0xf4. Display and monitor are off (as -nographic,
# but COM1 goes to the log file, not the terminal).
#
# Exit status:
#   0    the guest shut down (UEFI shell `reset -s`, ResetSystem(EfiResetShutdown))
#   1    usage error or missing file
#   2    QEMU failed (its own error: status 1 or even, or killed by a signal); a guest
#        writing 0 to port 0xf4 also gives 1, so guests signal failure with values >= 1
#   124  timeout: QEMU was killed; the log tail is printed to stderr
#   N    the guest wrote V >= 1 to port 0xf4: QEMU exits with (V << 1) | 1 (3, 5, ...),
#        passed on unchanged
# Environment: OVMF_CODE, OVMF_VARS (firmware paths), QEMU (the binary), QEMU_KVM_DEV (the
# device --accel kvm needs, /dev/kvm; tests point it and QEMU at stand-ins).
set -euo pipefail

usage() {
    sed -n '2,35p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 1
}

machine=q35
log=""
timeout_s=60
quiet=0
edu=(-device edu)
press_key=1
accel=tcg
snapshot=",snapshot=on"
img=""
while [ $# -gt 0 ]; do
    case $1 in
    -m | --machine) machine=${2:?}; shift 2 ;;
    -l | --log) log=${2:?}; shift 2 ;;
    -t | --timeout) timeout_s=${2:?}; shift 2 ;;
    -q | --quiet) quiet=1; shift ;;
    --no-edu) edu=(); shift ;;
    --wait-startup) press_key=0; shift ;;
    --accel) accel=${2:?}; shift 2 ;;
    --writable) snapshot=""; shift ;;
    -h | --help) usage ;;
    --) shift; break ;;
    -*) echo "qemu: unknown option $1" >&2; usage ;;
    *) [ -z "$img" ] || usage; img=$1; shift ;;
    esac
done
[ -n "$img" ] || usage
case $machine in q35 | pc) ;; *) echo "qemu: machine must be q35 or pc, not $machine" >&2; exit 1 ;; esac
[[ $timeout_s =~ ^[0-9]+$ ]] || { echo "qemu: timeout must be whole seconds" >&2; exit 1; }
case $accel in tcg | kvm) ;; *) echo "qemu: accel must be tcg or kvm, not $accel" >&2; exit 1 ;; esac
kvm_dev=${QEMU_KVM_DEV:-/dev/kvm}
if [ "$accel" = kvm ] && { [ ! -r "$kvm_dev" ] || [ ! -w "$kvm_dev" ]; }; then
    echo "qemu: --accel kvm needs $kvm_dev (readable and writable); this machine has none" >&2
    exit 1
fi

QEMU=${QEMU:-qemu-system-x86_64}
OVMF_CODE=${OVMF_CODE:-/usr/share/OVMF/OVMF_CODE_4M.fd}
OVMF_VARS=${OVMF_VARS:-/usr/share/OVMF/OVMF_VARS_4M.fd}
for f in "$img" "$OVMF_CODE" "$OVMF_VARS"; do
    [ -f "$f" ] || { echo "qemu: no such file: $f" >&2; exit 1; }
done
command -v "$QEMU" >/dev/null || { echo "qemu: $QEMU not found (Debian: qemu-system-x86)" >&2; exit 1; }
[ -n "$log" ] || log=${img%.img}.serial.log

tmp=$(mktemp -d "${TMPDIR:-/tmp}/qemu-rig.XXXXXX")
helpers=()
cleanup() {
    for p in "${helpers[@]}"; do kill "$p" 2>/dev/null || true; done
    rm -rf "$tmp"
}
trap cleanup EXIT
cp "$OVMF_VARS" "$tmp/vars.fd"
: >"$log"

# COM1 is a pair of FIFOs (QEMU's pipe chardev opens com1.in and com1.out read/write, so
# neither side blocks): everything QEMU sends is appended to the log, and once the UEFI
# shell shows its "Press ESC in 5 seconds to skip startup.nsh" countdown one space is
# typed, which makes it run startup.nsh at once instead of after 5 s.
mkfifo "$tmp/com1.in" "$tmp/com1.out"
cat "$tmp/com1.out" >>"$log" &
helpers+=($!)
if [ $press_key -eq 1 ]; then
    (
        for _ in $(seq $((timeout_s * 10))); do
            if grep -aq 'seconds to skip' "$log" 2>/dev/null; then
                timeout 2 sh -c 'printf " " >"$1"' sh "$tmp/com1.in" || true
                exit 0
            fi
            sleep 0.1
        done
    ) &
    helpers+=($!)
fi

set +e
timeout --kill-after=5 "$timeout_s" "$QEMU" \
    -machine "$machine",accel="$accel" -m 256 -smp 2 -display none -nic none \
    -drive if=pflash,format=raw,readonly=on,file="$OVMF_CODE" \
    -drive if=pflash,format=raw,file="$tmp/vars.fd" \
    -drive file="$img",format=raw"$snapshot" \
    "${edu[@]}" -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
    -chardev pipe,id=com1,path="$tmp/com1" -serial chardev:com1 -monitor none -no-reboot \
    "$@" </dev/null >"$tmp/qemu.out" 2>&1
rc=$?
set -e
# The log is complete once the reader sees EOF. If QEMU never opened the FIFO (it failed at
# once), the reader still blocks in open(): opening and closing a write end releases it.
exec 3<>"$tmp/com1.out"
exec 3>&-
wait "${helpers[0]}" 2>/dev/null || true

if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
    echo "qemu: timeout after ${timeout_s}s, killed; serial log $log" >&2
    rc=124
elif [ $rc -eq 1 ] || [ $rc -gt 128 ] || [ $((rc & 1)) -eq 0 -a $rc -ne 0 ]; then
    echo "qemu: QEMU failed (status $rc):" >&2
    cat "$tmp/qemu.out" >&2
    rc=2
fi
if [ $rc -ne 0 ] && [ $quiet -eq 0 ]; then
    echo "qemu: last lines of $log:" >&2
    tail -n 20 "$log" | tr -d '\r' | sed 's/\x1b\[[0-9;]*[A-Za-z]//g' >&2
fi
exit $rc
