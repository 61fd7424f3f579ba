#!/usr/bin/env bash
# tools/linux/deps.sh: what the Linux-guest run needs on the host, and the kernel it boots.
#
#   deps.sh headers      install (as root) the kernel headers matching the kernel below
#   deps.sh kernel DIR   fetch Debian 12's generic kernel image into DIR (cached): DIR/vmlinuz
#   deps.sh version      print the kernel ABI version (e.g. 6.1.0-56-amd64)
#
# The kernel is the one Debian's `linux-image-amd64` metapackage depends on, resolved with
# apt-cache at run time (never hard-coded, never committed). Packages come from the
# machine's own apt sources through apt-get (download / install).
set -euo pipefail

apt_updated=0
apt_update_once() {
    if [ "$apt_updated" -eq 0 ] && [ "$(id -u)" -eq 0 ]; then
        apt-get update -q >/dev/null
        apt_updated=1
    fi
}

# The linux-image-<ver>-amd64 package the metapackage depends on -> "<ver>-amd64".
kernel_version() {
    local dep
    dep=$(apt-cache depends linux-image-amd64 2>/dev/null |
          awk '/Depends: linux-image-[0-9]/{print $2; exit}')
    if [ -z "$dep" ]; then
        apt_update_once
        dep=$(apt-cache depends linux-image-amd64 2>/dev/null |
              awk '/Depends: linux-image-[0-9]/{print $2; exit}')
    fi
    [ -n "$dep" ] || { echo "linux: cannot resolve linux-image-amd64's kernel" >&2; exit 1; }
    echo "${dep#linux-image-}"
}

need_pkgs() {
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -ne 0 ]; then
        echo "linux: missing Debian packages: ${missing[*]} (run as root: apt-get install -y ${missing[*]})" >&2
        exit 1
    fi
    echo "linux: installing ${missing[*]}"
    apt_update_once
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
}

case "${1:-}" in
version)
    kernel_version
    ;;
headers)
    ver=$(kernel_version)
    # Tools the initramfs and image need, too (busybox-static, cpio, mtools, ...).
    need_pkgs "linux-headers-$ver" build-essential busybox-static cpio gzip \
              mtools dosfstools gdisk ovmf qemu-system-x86 python3
    ;;
kernel)
    dir=${2:?usage: deps.sh kernel DIR}
    ver=$(kernel_version)
    mkdir -p "$dir"
    if [ -f "$dir/vmlinuz" ] && [ "$(cat "$dir/version" 2>/dev/null)" = "$ver" ]; then
        exit 0
    fi
    tmp=$(mktemp -d "$dir/fetch.XXXXXX")
    trap 'rm -rf "$tmp"' EXIT
    chown _apt "$tmp" 2>/dev/null || true # apt-get download drops to user _apt when it can
    if ! ( cd "$tmp" && apt-get download -q "linux-image-$ver" >/dev/null ); then
        # A stale package list names a version the mirror no longer has: update, resolve again.
        apt_update_once
        ver=$(kernel_version)
        ( cd "$tmp" && apt-get download -q "linux-image-$ver" >/dev/null )
    fi
    dpkg -x "$tmp"/linux-image-*.deb "$tmp/x"
    cp "$tmp/x/boot/vmlinuz-$ver" "$dir/vmlinuz"
    echo "$ver" > "$dir/version"
    echo "linux: fetched kernel $ver"
    ;;
*)
    sed -n '2,10p' "$0" >&2
    exit 2
    ;;
esac
