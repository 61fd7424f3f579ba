#!/usr/bin/env bash
# bench-kvm.sh (`make bench-kvm`): both sides of the KVM comparison on this machine.
#   (a) exitbench.efi in a QEMU/KVM guest (-cpu host) with -device edu and no Trapvisor:
#       QEMU's userspace edu, every MMIO access a KVM exit to QEMU;
#   (b) if nested VMX is on (/sys/module/kvm_intel/parameters/nested is Y or 1): Trapvisor
#       nested under KVM (-cpu host,+vmx), then exitbench under it;
# then bench-compare.sh with (a) as KVM and (b) as Trapvisor, the section saying that (b) is
# nested, not bare metal. Without nested VMX only (a) runs; its CSV is then the KVM side for a
# `make bench-compare` with the USB stick's CSV (docs/exit-comparison.md).
#
# Usage:  tools/exitcompare/bench-kvm.sh --exitcompare BIN --md FILE --out DIR
#             --exitbench EFI --trapvisor EFI [-n N] [--warmup W] [--machine TEXT] [--cpus LIST]
#
#   --cpus LIST   run QEMU under `taskset -c LIST` (pinning; e.g. 2-3, away from CPU 0)
#
# Exit status: 0 measured (and written when both sides ran); 1 this machine cannot run it (no
# /dev/kvm, not an Intel CPU): one line says why, nothing is started; 2 a run or the comparison
# failed. Environment (for tests): BENCH_KVM_DEV (/dev/kvm), BENCH_KVM_CPUINFO (/proc/cpuinfo),
# BENCH_KVM_NESTED (/sys/module/kvm_intel/parameters/nested).
set -euo pipefail
cd "$(dirname "$0")/../.."

die() { echo "bench-kvm: $*" >&2; exit 2; }

exitcompare="" md="" out="" exitbench="" trapvisor="" n=10000 warmup=1000 machine="" cpus=""
while [ $# -gt 0 ]; do
    case $1 in
    --exitcompare) exitcompare=${2:-}; shift 2 || die "--exitcompare needs a path" ;;
    --md) md=${2:-}; shift 2 || die "--md needs a file" ;;
    --out) out=${2:-}; shift 2 || die "--out needs a folder" ;;
    --exitbench) exitbench=${2:-}; shift 2 || die "--exitbench needs a file" ;;
    --trapvisor) trapvisor=${2:-}; shift 2 || die "--trapvisor needs a file" ;;
    -n) n=${2:-}; shift 2 || die "-n needs a number" ;;
    --warmup) warmup=${2:-}; shift 2 || die "--warmup needs a number" ;;
    --machine) machine=${2:-}; shift 2 || die "--machine needs text" ;;
    --cpus) cpus=${2:-}; shift 2 || die "--cpus needs a CPU list" ;;
    -h | --help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1' (--help)" ;;
    esac
done

# What this machine lacks, first: one line and status 1, before anything is built or booted.
kvm_dev=${BENCH_KVM_DEV:-/dev/kvm}
cpuinfo=${BENCH_KVM_CPUINFO:-/proc/cpuinfo}
if [ ! -e "$kvm_dev" ]; then
    echo "bench-kvm: no $kvm_dev on this machine: KVM is not available, nothing measured (needs an Intel CPU with VT-x and the kvm_intel module; docs/exit-comparison.md)" >&2
    exit 1
fi
if ! grep -q '^vendor_id.*GenuineIntel' "$cpuinfo" 2>/dev/null; then
    echo "bench-kvm: not an Intel CPU ($(sed -n 's/^vendor_id[[:space:]]*: //p' "$cpuinfo" 2>/dev/null | head -n 1)): Trapvisor needs VT-x, nothing measured" >&2
    exit 1
fi
if [ ! -r "$kvm_dev" ] || [ ! -w "$kvm_dev" ]; then
    echo "bench-kvm: $kvm_dev is not readable and writable for $(id -un) (add the user to group kvm): nothing measured" >&2
    exit 1
fi

for f in "$exitcompare" "$exitbench" "$trapvisor"; do [ -f "$f" ] || die "no such file: $f"; done
[ -n "$md" ] && [ -n "$out" ] || die "need --md and --out"
pin=()
[ -z "$cpus" ] || pin=(taskset -c "$cpus")
export EXITBENCH_KVM_DEV=$kvm_dev

echo "bench-kvm: (a) exitbench in a KVM guest with QEMU's edu, no Trapvisor (-n $n)"
"${pin[@]}" tools/exitcompare/exitbench-qemu.sh --accel kvm --out "$out/kvm" \
    --exitbench "$exitbench" -n "$n" --warmup "$warmup" || die "(a) failed"
cat "$out/kvm/ops.txt"

nested_file=${BENCH_KVM_NESTED:-/sys/module/kvm_intel/parameters/nested}
nested=$(cat "$nested_file" 2>/dev/null || echo absent)
case $nested in
Y | y | 1) ;;
*)
    echo "bench-kvm: nested VMX is off ($nested_file: $nested): Trapvisor's side not measured."
    echo "bench-kvm: boot the USB stick on this machine, run exitbench.efi -n $n --warmup $warmup, copy"
    echo "bench-kvm: \\trapvisor\\exitbench.csv off it, then: make bench-compare TRAPVISOR=<that csv>" \
        "KVM=$out/kvm/exitbench.csv MACHINE=\"...\""
    exit 0
    ;;
esac

echo "bench-kvm: (b) Trapvisor nested under KVM, then exitbench (-n $n)"
export EXITBENCH_NESTED_PARAM=$nested_file
"${pin[@]}" tools/exitcompare/exitbench-qemu.sh --accel kvm --trapvisor "$trapvisor" \
    --out "$out/nested" --exitbench "$exitbench" -n "$n" --warmup "$warmup" || die "(b) failed"
cat "$out/nested/ops.txt"

note="**Trapvisor's side ran nested under KVM** (\`make bench-kvm\`: Trapvisor in a KVM guest
with \`-cpu host,+vmx\`), not on bare metal: each of its VM exits is first taken by KVM, so its
figures are far above the bare-metal ones. Issue 5's real-hardware targets are for bare metal
(the USB stick; docs/exit-comparison.md); these verdicts only show the pipeline and the nested
cost."
args=(--exitcompare "$exitcompare" --md "$md" --trapvisor "$out/nested/serial.log"
    --kvm "$out/kvm/serial.log" --note "$note" --command "make bench-kvm (-n $n --warmup $warmup)")
[ -z "$machine" ] || args+=(--machine "$machine")
tools/exitcompare/bench-compare.sh "${args[@]}"
