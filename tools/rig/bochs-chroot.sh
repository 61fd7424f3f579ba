#!/usr/bin/env bash
# Build (once) the Debian 13 (trixie) chroot that holds Bochs 3.0 for the Trapvisor rig.
#
# Usage: tools/rig/bochs-chroot.sh [DIR]
#   DIR defaults to $TRAPVISOR_BOCHS_CHROOT, else /var/cache/trapvisor/bochs3 (outside build/,
#   so `make clean` keeps it). Prints DIR on the last line of stdout.
#
# Why a chroot: Debian 12's Bochs 2.7 cannot keep an AP virtualized across INIT-SIPI-SIPI;
# Debian 13's Bochs 3.0 can, but needs trixie's glibc (shared/RIGS.md).
#
# Idempotent: a finished chroot carries a stamp file and is reused as is. Safe when
# interrupted: the chroot is built in DIR.tmp.<pid> and renamed to DIR only when complete;
# leftovers of an interrupted build are removed on the next run. Concurrent calls take turns
# through a lock on DIR.lock. Needs root.
set -euo pipefail

DIR="${1:-${TRAPVISOR_BOCHS_CHROOT:-/var/cache/trapvisor/bochs3}}"
STAMP=.trapvisor-bochs3-ready
case "$DIR" in
/?*) ;;
*) echo "bochs-chroot: the chroot folder must be an absolute path other than /, got '$DIR'" >&2; exit 1 ;;
esac
DIR=${DIR%/}
PKGS="bochs bochs-term bochsbios vgabios"

say() { echo "bochs-chroot: $*" >&2; }

if [ -f "$DIR/$STAMP" ]; then
    say "using cached chroot $DIR ($(cat "$DIR/$STAMP"))"
    echo "$DIR"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    say "needs root (debootstrap, chroot); not building $DIR"
    exit 2
fi

if ! command -v debootstrap >/dev/null; then
    say "installing debootstrap"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >&2
fi

# The mirror comes from this machine's own apt sources, never a hard-coded host.
MIRROR=""
if [ -r /etc/apt/sources.list.d/debian.sources ]; then
    MIRROR=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources)
fi
if [ -z "$MIRROR" ] && [ -r /etc/apt/sources.list ]; then
    MIRROR=$(awk '$1=="deb"{for(i=2;i<=NF;i++) if ($i ~ /^[a-z]+:\/\//) {print $i; exit}}' \
        /etc/apt/sources.list)
fi
if [ -z "$MIRROR" ]; then
    say "no Debian mirror found in /etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list"
    exit 1
fi

PARENT=$(dirname "$DIR")
mkdir -p "$PARENT"

# One build at a time (two rig runs may start together on a fresh machine, e.g. under
# make -j2): the second waits here and then finds the finished chroot.
exec 8>"$DIR.lock"
if ! flock -n 8; then
    say "another build of $DIR is running; waiting for it"
    flock 8
fi
if [ -f "$DIR/$STAMP" ]; then
    say "using chroot $DIR, just built by another run"
    echo "$DIR"
    exit 0
fi

# Remove what an interrupted earlier build left behind (its mounts first, if any).
for old in "$DIR".tmp.*; do
    [ -d "$old" ] || continue
    say "removing leftover of an interrupted build: $old"
    for m in dev/pts proc sys; do
        mountpoint -q "$old/$m" 2>/dev/null && umount -l "$old/$m" || true
    done
    rm -rf --one-file-system "$old"
done
# DIR only ever appears by renaming a finished build, so a DIR without the stamp is not ours:
# never delete it.
if [ -e "$DIR" ]; then
    say "$DIR exists but is not a finished Trapvisor chroot (no $STAMP); remove it or pick another folder"
    exit 1
fi

TMP="$DIR.tmp.$$"
cleanup() {
    for m in dev/pts proc sys; do
        mountpoint -q "$TMP/$m" 2>/dev/null && umount -l "$TMP/$m" || true
    done
    [ -d "$TMP" ] && rm -rf --one-file-system "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say "debootstrap --variant=minbase trixie $TMP $MIRROR"
debootstrap --variant=minbase trixie "$TMP" "$MIRROR" >&2

say "installing $PKGS in the chroot"
mount -t proc proc "$TMP/proc"
chroot "$TMP" /usr/bin/env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
chroot "$TMP" /usr/bin/env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends $PKGS >&2
chroot "$TMP" apt-get clean
umount "$TMP/proc"

version=$(chroot "$TMP" dpkg-query -W -f='${Version}' bochs)
echo "bochs $version, trixie from $MIRROR, built $(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$TMP/$STAMP"
mv "$TMP" "$DIR"
trap - EXIT
say "ready: $DIR (bochs $version, $(du -sh --one-file-system "$DIR" | cut -f1))"
echo "$DIR"
