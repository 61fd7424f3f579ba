#!/usr/bin/env bash
# A stand-in for qemu-system-x86_64 that check-bench-kvm hands to tools/rig/qemu.sh (QEMU=...)
# on machines without KVM: the same command line with accel=kvm turned into accel=tcg and
# `-cpu host[,+vmx]` dropped (TCG has no host CPU model and no VMX), so make bench-kvm's own
# steps -- images, startup scripts, result folders, the comparison and its refusals -- run
# here. It measures nothing real; nothing it produces is a figure.
args=()
while [ $# -gt 0 ]; do
    case $1 in
    -cpu) shift 2; continue ;;
    *accel=kvm*) args+=("${1/accel=kvm/accel=tcg}") ;;
    *) args+=("$1") ;;
    esac
    shift
done
exec qemu-system-x86_64 "${args[@]}"
