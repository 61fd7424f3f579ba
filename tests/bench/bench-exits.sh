#!/usr/bin/env bash
# Boots exitbench.efi under Trapvisor in Bochs 3.0 + OVMF (1 CPU): as built, built without
# the exit accounting (ACCOUNTING=0) and built without the MMIO fast path's per-CPU caches
# (MMIO_CACHES=0), and writes the table into the exitbench section of docs/benchmarks.md
# (between <!-- exitbench:begin --> and <!-- exitbench:end -->). Each boot runs exitbench four times
# (tests/bench/startup.nsh): as is, then with --alternate-cr3 (the page-table root changes
# between samples, as between processes) for CPUID and the MMIO operations, then the MMIO
# operations through 16 and through 48 copies of their instruction (--sites).
#
#   tests/bench/bench-exits.sh IMG IMG_NOACCT IMG_NOCACHE OUTDIR BENCHMARKS_MD
set -euo pipefail
img=$1 img_noacct=$2 img_nocache=$3 out=$4 md=$5
mkdir -p "$out"

run_lines() { # SERIAL MARKER: the op= lines after "bench: MARKER", up to the next marker
    tr -d '\r' <"$1" | awk -v want="bench: $2" '/^bench: /{on = ($0 == want); next} on' |
        grep -a '^exitbench: op=' || true
}

boot() { # IMG SERIAL
    tools/rig/bochs.sh --image "$1" --serial "$2" --cpus 1 --timeout 600 \
        --until 'bench: done' \
        --fail 'vmx: CPU [0-9]+ stopped|hypervisor stopped|X64 Exception|not started' >"$2.run" 2>&1 || {
        echo "bench-exits: the Bochs run failed; its output and the serial log's tail:"
        tail -n 20 "$2.run"
        tr -d '\r' <"$2" | tail -n 30
        exit 1
    }
    # Each run's lines, from its marker (tests/bench/startup.nsh) to the next.
    run_lines "$2" exitbench >"$2.ops"
    run_lines "$2" alternate-cr3 >"$2.cr3.ops"
    run_lines "$2" "sites 16" >"$2.sites16.ops"
    run_lines "$2" "sites 48" >"$2.sites48.ops"
    for f in "$2.ops" "$2.cr3.ops" "$2.sites16.ops" "$2.sites48.ops"; do
        [ -s "$f" ] || { echo "bench-exits: no exitbench lines for $f in $2"; exit 1; }
    done
}

boot "$img" "$out/exits-serial.txt"
boot "$img_noacct" "$out/exits-noacct-serial.txt"
boot "$img_nocache" "$out/exits-nocache-serial.txt"

field() { # FILE OP KEY
    sed -n "s/^exitbench: op=$2 .*\b$3=\([0-9]*\).*/\1/p" "$1" | head -n 1
}

with=$out/exits-serial.txt.ops without=$out/exits-noacct-serial.txt.ops
nocache=$out/exits-nocache-serial.txt.ops
roots=$out/exits-serial.txt.cr3.ops roots_nocache=$out/exits-nocache-serial.txt.cr3.ops
both() { # FILE OP: "median / hv_median", or "-" where the operation did not run
    local m
    m=$(field "$1" "$2" median)
    if [ -n "$m" ]; then echo "$m / $(field "$1" "$2" hv_median)"; else echo "-"; fi
}
spread() { # FILE OP: "min - max / hv_median" (the two roots' samples differ), or "-"
    local m
    m=$(field "$1" "$2" min)
    if [ -n "$m" ]; then echo "$m - $(field "$1" "$2" max) / $(field "$1" "$2" hv_median)"; else echo "-"; fi
}
ops="cpuid vmcall pio-cfc mmio-read-edu mmio-write-edu ram-read stats-read"
table="| operation | round trip (median) | min / p99 / max | in VMX root (hv_median) | round trip without accounting | round trip / in VMX root without MMIO caches | page-table roots alternating: round trip min - max / in VMX root | the same without MMIO caches |
|---|---|---|---|---|---|---|---|"
for op in $ops; do
    m=$(field "$with" "$op" median)
    [ -n "$m" ] || continue
    table+="
| \`$op\` | $m | $(field "$with" "$op" min) / $(field "$with" "$op" p99) / $(field "$with" "$op" max) | $(field "$with" "$op" hv_median) | $(field "$without" "$op" median) | $(both "$nocache" "$op") | $(spread "$roots" "$op") | $(spread "$roots_nocache" "$op") |"
done

sites_table="| operation | instruction copies | round trip median / p99 / max | in VMX root (hv_median) | without MMIO caches: round trip / in VMX root |
|---|---|---|---|---|"
for n in 16 48; do
    for op in mmio-read-edu mmio-write-edu; do
        f=$out/exits-serial.txt.sites$n.ops nc=$out/exits-nocache-serial.txt.sites$n.ops
        sites_table+="
| \`$op\` | $n | $(field "$f" "$op" median) / $(field "$f" "$op" p99) / $(field "$f" "$op" max) | $(field "$f" "$op" hv_median) | $(both "$nc" "$op") |"
    done
done

cpuid=$(field "$with" cpuid median)
mmio=$(field "$with" mmio-read-edu median)
mmio_hv=$(field "$with" mmio-read-edu hv_median)
cpuid_hv=$(field "$with" cpuid hv_median)
verdict() { if [ "$1" -le "$2" ]; then echo "met"; else echo "not met"; fi; }
targets="- \`mmio-read-edu\` median <= 2x \`cpuid\` median: $mmio vs $((2 * cpuid)): $(verdict "$mmio" $((2 * cpuid)))
- \`mmio-read-edu\` hv_median <= 200: $mmio_hv: $(verdict "$mmio_hv" 200)
- \`cpuid\` hv_median <= 60: $cpuid_hv: $(verdict "$cpuid_hv" 60)"

rev=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
section="Exit round trips timed by \`exitbench.efi -n 500 --warmup 50\` in the guest, under
Trapvisor in **Bochs 3.0 + OVMF, 1 CPU** (\`tools/rig/bochs.sh\`, cpu model corei7_skylake_x,
ips 50M). Bochs's guest TSC counts instructions, so these are **path lengths in
instructions**, identical from run to run (min = median when nothing else happens); they are
not times. \"In VMX root\" is Trapvisor's own accounting of the same exits: from the stub's
first RDTSC (after two register saves) to its last (before the accounting record and
VMRESUME); docs/stats.md lists the instructions inside and outside. Bochs brings its clock up
to date only where a trace of straight-line code ends, so every interval-ending RDTSC (the
stub's, exitbench's) follows a taken branch and counts the instructions just before it
(lib/tsc.h). \"Without accounting\" is the round trip with a hypervisor built with
\`make ACCOUNTING=0\`. exitbench repeats one instruction per operation, so the MMIO figures are
those of a remembered MMIO site (docs/hypervisor.md, \"The MMIO path\"); \"without MMIO caches\"
is a hypervisor built with \`make MMIO_CACHES=0\`, where every MMIO exit walks the guest page tables,
decodes and routes: what an exit at an instruction not seen before costs. The last two columns
come from a second run, \`exitbench.efi --alternate-cr3\`: between samples the guest loads CR3
with the firmware's page-table root or a copy of its top-level table (the same translations),
as a guest OS switches between processes' roots while running the same kernel code. Their
round trips differ by root, so those columns give the minimum and the maximum: an MMIO site
remembers the root it was filled under (the minimum) and answers under another root whose
top-level entry for the code is the same after reading that entry (the maximum); \"in VMX
root\" there is the median, which is the first root's.

$table

The MMIO operations through many instructions (\`exitbench.efi --sites N\`, docs/exitbench.md):
each sample runs one of N copies of the operation's instruction, placed at pseudo-random
addresses in four pages, in turn, as a driver reaches its registers from many places. A CPU
keeps 128 MMIO sites in 32 sets of 4 (docs/hypervisor.md), so the copies all stay
remembered, some in a later way of their set (a few instructions more: the spread between
median and max). With 64 sites in 16 sets (until 0ce4263), of 48 copies those beyond four in a
set refilled each other: a p99 of 1,154 for the read.
A sample there holds the call of the copy instead of exitbench's own dispatch (\`run_op\`), so
its round trip compares with the other rows of this table, not with the table above; the
figures in VMX root compare with both. Before MMIO sites were kept in sets (16 direct-mapped
per CPU), 16 copies already made the median read a refill: 1,119 round trip, 1,029 in VMX root.

$sites_table

Targets (issue 5):
$targets

- Command: \`make bench-exits\` (part of \`make bench\`), commit $rev, $(date -u +%Y-%m-%d).
- Host running Bochs: $(lscpu | sed -n 's/^Model name: *//p' | head -n 1), $(nproc) cores.
- Real hardware and QEMU/KVM: not measured here (no VT-x on these machines); the procedure is
  \`exitbench.efi\` from the USB image's \`\\EFI\\trapvisor\\\` (docs/hypervisor.md), and the same
  binary in a KVM guest with \`-device edu\` for QEMU's userspace edu."

python3 - "$md" "$section" <<'PY'
import sys
path, section = sys.argv[1], sys.argv[2]
text = open(path).read()
b, e = "<!-- exitbench:begin -->", "<!-- exitbench:end -->"
i, j = text.index(b) + len(b), text.index(e)
open(path, "w").write(text[:i] + "\n" + section + "\n" + text[j:])
PY
echo "bench-exits: written to $md"
echo "$table"
echo "$targets"
