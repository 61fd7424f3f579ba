#!/usr/bin/env bash
# linux-image.sh: the ESP image that boots Linux from the UEFI shell (issue 6).
#
# Usage: tools/rig/linux-image.sh OUT.img --kernel VMLINUZ --initrd INITRD.gz --rig qemu|bochs
#                                 [--cpus N] [--trapvisor EFI] [--ops N] [--append "ARGS"]
#   --rig qemu|bochs   how /init ends the run (isa-debug-exit, or "Shutdown" to port 0x8900);
#                      bochs also writes an MP table for --cpus CPUs first (tools/rig/mptable.py)
#   --cpus N           CPUs in the MP table (bochs only; default 2)
#   --trapvisor EFI    start this hypervisor from \EFI\trapvisor\trapvisor.efi before the
#                      kernel (the hook for running Linux on Trapvisor; default: none). Also
#                      taken from the environment variable LINUX_TRAPVISOR_EFI.
#   --ops N            MMIO operations per CPU in edutest's concurrency check (default 10000)
#   --append "ARGS"    more kernel command-line arguments
#
# The ESP holds \vmlinuz, \initrd.gz and \startup.nsh, which the UEFI shell runs unattended:
#   [mm commands writing the MP table]                     (bochs)
#   [\EFI\trapvisor\trapvisor.efi]                         (with --trapvisor)
#   \vmlinuz initrd=\initrd.gz console=ttyS0,115200 quiet edurig=RIG eduops=N eduintx=0|1
# (eduintx=1 on qemu: /init reloads the driver with msi=0 and runs edutest --intx)
# The image is made by tools/image/mkimg.sh.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)

die() {
    echo "linux-image: $*" >&2
    exit 2
}

[ $# -ge 1 ] || die "usage: $0 OUT.img --kernel K --initrd I --rig qemu|bochs [...]"
OUT=$1
shift
KERNEL="" INITRD="" RIG="" CPUS=2 TRAPVISOR=${LINUX_TRAPVISOR_EFI:-} OPS=10000 APPEND=""
while [ $# -gt 0 ]; do
    [ $# -ge 2 ] || die "$1 needs a value"
    case "$1" in
    --kernel) KERNEL=$2 ;;
    --initrd) INITRD=$2 ;;
    --rig) RIG=$2 ;;
    --cpus) CPUS=$2 ;;
    --trapvisor) TRAPVISOR=$2 ;;
    --ops) OPS=$2 ;;
    --append) APPEND=$2 ;;
    *) die "unknown option $1" ;;
    esac
    shift 2
done
[ -f "$KERNEL" ] || die "no kernel: '$KERNEL'"
[ -f "$INITRD" ] || die "no initrd: '$INITRD'"
case "$RIG" in qemu | bochs) ;; *) die "--rig must be qemu or bochs" ;; esac
[[ $OPS =~ ^[0-9]+$ ]] || die "--ops must be a number"
[ -z "$TRAPVISOR" ] || [ -f "$TRAPVISOR" ] || die "no such hypervisor image: $TRAPVISOR"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/linux-image.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
nsh=$tmp/startup.nsh
{
    echo "@echo -off"
    echo "fs0:"
    if [ "$RIG" = bochs ]; then
        echo "echo linux: writing the MP table for $CPUS CPUs"
        python3 "$HERE/mptable.py" --cpus "$CPUS"
    fi
    if [ -n "$TRAPVISOR" ]; then
        echo "\\EFI\\trapvisor\\trapvisor.efi"
    fi
    echo "echo linux: starting the kernel"
    # The INTx pass needs the legacy line routed: QEMU's ACPI does, the Bochs MP table not.
    intx=0
    [ "$RIG" = qemu ] && intx=1
    echo "\\vmlinuz initrd=\\initrd.gz console=ttyS0,115200 quiet edurig=$RIG eduops=$OPS eduintx=$intx $APPEND"
} >"$nsh"
# The shell reads startup.nsh as text with CRLF or LF; CRLF is the safe choice.
sed -i 's/$/\r/' "$nsh"

files=("$KERNEL=vmlinuz" "$INITRD=initrd.gz" "$nsh=startup.nsh")
[ -z "$TRAPVISOR" ] || files+=("$TRAPVISOR=EFI/trapvisor/trapvisor.efi")
MKIMG_SIZE_MB=${MKIMG_SIZE_MB:-64} "$ROOT/tools/image/mkimg.sh" "$OUT" "${files[@]}"
