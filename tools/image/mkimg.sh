#!/usr/bin/env bash
# mkimg.sh: build a GPT disk image with one EFI System Partition, without root or loop mounts.
#
# Usage:  tools/image/mkimg.sh OUT.img SRC=DEST [SRC=DEST ...]
#
#   OUT.img   the disk image to write (replaced if it exists)
#   SRC=DEST  copy the host file SRC to the ESP path DEST, e.g.
#             build/trapvisor.efi=EFI/BOOT/BOOTX64.EFI  or  tests/qemu/startup.nsh=startup.nsh
#             Parent folders of DEST are created. DEST is relative to the ESP root ('/' or '\'
#             separators both accepted). SRC may not contain '='.
#
# Environment:
#   MKIMG_SIZE_MB  total disk size in MiB (default 64; at least 34 so FAT32 fits)
#
# The result is what users `dd` to a USB stick, what Bochs boots as an ATA disk and what QEMU
# boots as a drive. Steps (RIGS.md, "The disk image"): sgdisk makes the GPT with one partition
# of type ef00 from 1 MiB to the end; mkfs.vfat -C makes the FAT file system in a separate
# partition file; mmd/mcopy fill it; dd conv=notrunc writes it at the partition's offset;
# sgdisk --verify must report no problems. Exit status 0 on success, non-zero with a
# "mkimg: ..." message otherwise. This CLI is stable: the Bochs rig and `make usb` use it.
set -euo pipefail

die() {
    echo "mkimg: $*" >&2
    exit 1
}

[ $# -ge 1 ] || die "usage: $0 OUT.img SRC=DEST [SRC=DEST ...]"
out=$1
shift

for tool in sgdisk mkfs.vfat mmd mcopy dd; do
    command -v "$tool" >/dev/null 2>&1 || PATH=$PATH:/usr/sbin:/sbin
    command -v "$tool" >/dev/null 2>&1 || die "missing tool: $tool (Debian: gdisk dosfstools mtools)"
done

size_mb=${MKIMG_SIZE_MB:-64}
[[ $size_mb =~ ^[0-9]+$ ]] || die "MKIMG_SIZE_MB must be a number of MiB, got '$size_mb'"
[ "$size_mb" -ge 34 ] || die "MKIMG_SIZE_MB must be at least 34 (FAT32 needs ~32 MiB), got $size_mb"

# Check every argument before touching anything.
for arg in "$@"; do
    [[ $arg == *=* ]] || die "argument '$arg' is not SRC=DEST"
    src=${arg%%=*}
    dest=${arg#*=}
    [ -n "$src" ] && [ -n "$dest" ] || die "argument '$arg' has an empty SRC or DEST"
    [ -f "$src" ] || die "no such file: $src"
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/mkimg.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
disk=$tmp/disk.img
part=$tmp/esp.img

# GPT: 1 MiB alignment; the partition runs from sector 2048 to the last usable sector.
truncate -s "${size_mb}M" "$disk"
sgdisk --clear --new=1:2048:0 --typecode=1:ef00 --change-name=1:"EFI System Partition" \
    "$disk" >"$tmp/sgdisk.log" 2>&1 || { cat "$tmp/sgdisk.log" >&2; die "sgdisk failed"; }

# Partition geometry as sgdisk laid it out (512-byte logical sectors).
info=$(sgdisk --info=1 "$disk")
first=$(awk '/^First sector:/ {print $3}' <<<"$info")
last=$(awk '/^Last sector:/ {print $3}' <<<"$info")
[ -n "$first" ] && [ -n "$last" ] || die "cannot read the partition's sectors from sgdisk"
sectors=$((last - first + 1))

# FAT32 (UEFI spec 2.x section 13.3: the ESP is FAT32 on hard disks); mkfs.vfat -C wants KiB.
mkfs.vfat -C -F 32 -n ESP "$part" $((sectors / 2)) >"$tmp/mkfs.log" 2>&1 ||
    { cat "$tmp/mkfs.log" >&2; die "mkfs.vfat failed"; }

export MTOOLS_SKIP_CHECK=1
for arg in "$@"; do
    src=${arg%%=*}
    dest=${arg#*=}
    dest=${dest//\\//}
    dest=${dest#/}
    dir=$(dirname "$dest")
    if [ "$dir" != "." ]; then
        path=""
        IFS=/ read -ra parts <<<"$dir"
        for p in "${parts[@]}"; do
            path=${path:+$path/}$p
            mmd -D s -i "$part" "::/$path" 2>/dev/null || true
        done
    fi
    mcopy -o -i "$part" "$src" "::/$dest" || die "mcopy $src -> $dest failed"
done

dd if="$part" of="$disk" bs=512 seek="$first" conv=notrunc status=none || die "dd failed"

verify=$(sgdisk --verify "$disk" 2>&1) || { echo "$verify" >&2; die "sgdisk --verify failed"; }
grep -q "No problems found" <<<"$verify" || { echo "$verify" >&2; die "sgdisk --verify reports problems"; }

mkdir -p "$(dirname "$out")"
mv -f "$disk" "$out"
