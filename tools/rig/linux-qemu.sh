#!/usr/bin/env bash
# linux-qemu.sh: boot a Linux image (tools/rig/linux-image.sh --rig qemu) in QEMU TCG + OVMF
# with QEMU's own edu device, and keep the serial output.
#
# Usage: tools/rig/linux-qemu.sh --image IMG --serial OUT [--cpus N] [--timeout S] [--live]
#   --cpus N      processors (default 2)
#   --timeout S   seconds before QEMU is killed (default 240); exit status 124
#   --live        copy the serial output to stdout while the run goes on
#
# The machine (shared/RIGS.md, "QEMU + OVMF"): q35, TCG, 256 MiB, OVMF 4M from a private
# copy of the variable store, the image as a snapshot drive, `-device edu`, isa-debug-exit at
# 0xf4 (how /init ends the run), and `-net none` (otherwise OVMF tries network boot first,
# for minutes). Exit status: QEMU's ((code << 1) | 1 when /init wrote CODE to 0xf4), or 124.
set -euo pipefail

die() {
    echo "linux-qemu: $*" >&2
    exit 2
}
IMAGE="" SERIAL="" CPUS=2 TIMEOUT=240 LIVE=0
while [ $# -gt 0 ]; do
    case "$1" in
    --live) LIVE=1; shift; continue ;;
    esac
    [ $# -ge 2 ] || die "$1 needs a value"
    case "$1" in
    --image) IMAGE=$2 ;;
    --serial) SERIAL=$2 ;;
    --cpus) CPUS=$2 ;;
    --timeout) TIMEOUT=$2 ;;
    *) die "unknown option $1" ;;
    esac
    shift 2
done
[ -f "$IMAGE" ] || die "no image: '$IMAGE'"
[ -n "$SERIAL" ] || die "--serial OUT is required"
CODE=/usr/share/OVMF/OVMF_CODE_4M.fd
VARS=/usr/share/OVMF/OVMF_VARS_4M.fd
[ -f "$CODE" ] && [ -f "$VARS" ] || die "OVMF not found (Debian package ovmf)"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/linux-qemu.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cp "$VARS" "$tmp/vars.fd"
mkdir -p "$(dirname "$SERIAL")"
: >"$SERIAL"

run() {
    timeout "$TIMEOUT" qemu-system-x86_64 -machine q35,accel=tcg -m 256 -smp "$CPUS" \
        -display none -monitor none -serial "file:$SERIAL" -net none \
        -drive if=pflash,format=raw,readonly=on,file="$CODE" \
        -drive if=pflash,format=raw,file="$tmp/vars.fd" \
        -drive file="$IMAGE",format=raw,snapshot=on \
        -device edu -device isa-debug-exit,iobase=0xf4,iosize=0x04 </dev/null
}
if [ "$LIVE" = 1 ]; then
    tail -n +1 -f "$SERIAL" &
    tailpid=$!
    set +e
    run
    rc=$?
    set -e
    sleep 0.2
    kill "$tailpid" 2>/dev/null || true
    exit $rc
fi
run
