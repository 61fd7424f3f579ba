#!/usr/bin/env bash
# Install the Debian packages Trapvisor's build, tests and rigs need.
# As root: installs whatever is missing (apt-get update once, then apt-get install -y).
# Otherwise: names what is missing and fails, so `make run` says what to do.
set -euo pipefail

PACKAGES=(
    build-essential nasm gnu-efi mtools dosfstools gdisk
    libcmocka-dev libzydis-dev clang libfuzzer-14-dev libclang-rt-14-dev
    ovmf qemu-system-x86 qemu-utils
    bochs bochs-term bochsbios vgabios debootstrap
    gnuplot-nox python3 busybox-static cpio xz-utils util-linux
    valgrind
)

missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "deps: missing Debian packages: ${missing[*]}" >&2
    echo "deps: run as root: apt-get install -y ${missing[*]}" >&2
    exit 1
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
