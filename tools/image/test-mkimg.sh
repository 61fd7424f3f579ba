#!/usr/bin/env bash
# test-mkimg.sh: mkimg.sh makes a valid GPT/ESP image holding exactly the files asked for,
# and refuses bad arguments without leaving an image behind. No root, no emulator.
set -euo pipefail
cd "$(dirname "$0")/../.."
PATH=$PATH:/usr/sbin:/sbin

tmp=$(mktemp -d "${TMPDIR:-/tmp}/test-mkimg.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fail() {
    echo "test-mkimg: FAIL: $*" >&2
    exit 1
}
export MTOOLS_SKIP_CHECK=1

head -c 70000 /dev/urandom >"$tmp/big.bin"
printf 'fs0:\r\necho hi\r\n' >"$tmp/startup.nsh"
img=$tmp/out.img
MKIMG_SIZE_MB=40 tools/image/mkimg.sh "$img" "$tmp/big.bin=EFI/BOOT/BOOTX64.EFI" \
    "$tmp/startup.nsh=startup.nsh" "$tmp/big.bin=\\EFI\\trapvisor\\deep\\copy.bin" ||
    fail "mkimg.sh failed on good arguments"

[ "$(stat -c %s "$img")" -eq $((40 * 1024 * 1024)) ] || fail "image is not 40 MiB"
sgdisk --verify "$img" | grep -q "No problems found" || fail "sgdisk --verify reports problems"
info=$(sgdisk --info=1 "$img")
grep -qi "C12A7328-F81F-11D2-BA4B-00A0C93EC93B" <<<"$info" || fail "partition 1 is not an ESP"
grep -q "^First sector: 2048 " <<<"$info" || fail "partition does not start at 1 MiB"
[ "$(sgdisk --print "$img" | grep -c '^ *[0-9]\+ ')" -eq 1 ] || fail "not exactly one partition"

part="$img@@1M"
mtype -i "$part" ::/startup.nsh | cmp -s - "$tmp/startup.nsh" || fail "startup.nsh differs"
mtype -i "$part" ::/EFI/BOOT/BOOTX64.EFI | cmp -s - "$tmp/big.bin" || fail "BOOTX64.EFI differs"
mtype -i "$part" ::/EFI/trapvisor/deep/copy.bin | cmp -s - "$tmp/big.bin" ||
    fail "backslash DEST not copied"
[ "$(mdir -b -/ -i "$part" ::/ | grep -c .)" -eq 7 ] || fail "unexpected files on the ESP"

for bad in "nofile=x" "$tmp/big.bin" "=x" "$tmp/big.bin="; do
    if tools/image/mkimg.sh "$tmp/bad.img" "$bad" 2>/dev/null; then
        fail "accepted bad argument '$bad'"
    fi
    [ ! -e "$tmp/bad.img" ] || fail "left an image behind for '$bad'"
done
if MKIMG_SIZE_MB=8 tools/image/mkimg.sh "$tmp/bad.img" "$tmp/big.bin=x" 2>/dev/null; then
    fail "accepted an 8 MiB image"
fi
if tools/image/mkimg.sh 2>/dev/null; then
    fail "accepted no arguments"
fi
echo "test-mkimg: ok"
