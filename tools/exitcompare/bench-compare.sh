#!/usr/bin/env bash
# bench-compare.sh: exitcompare's table and verdicts, with the two inputs' names, the machine
# and the date, into the real-hardware section of docs/benchmarks.md (between
# <!-- realhw:begin --> and <!-- realhw:end -->; the section is created after the exitbench
# section if the markers are missing). `make bench-compare` and `make bench-kvm` call it.
#
# Usage:  tools/exitcompare/bench-compare.sh --exitcompare BIN --md FILE
#             --trapvisor LOG_OR_CSV --kvm LOG_OR_CSV [--machine TEXT] [--cpu N] [--note TEXT]
#
#   --machine TEXT   the machine both sides ran on (default: this machine's CPU model, said to
#                    be the machine running this command)
#   --cpu N          exitcompare --cpu N (default: the lowest CPU in each input)
#   --note TEXT      one more paragraph for the section (make bench-kvm: "nested, not bare metal")
#   --command TEXT   the command to name in the section (default: the make bench-compare line)
#
# Exit status: 0 written; 2 exitcompare refused the inputs (its line is printed, FILE is not
# touched) or bad usage.
set -euo pipefail

die() { echo "bench-compare: $*" >&2; exit 2; }

exitcompare="" md="" tv="" kvm="" machine="" cpu="" note="" command=""
while [ $# -gt 0 ]; do
    case $1 in
    --exitcompare) exitcompare=${2:-}; shift 2 || die "--exitcompare needs a path" ;;
    --md) md=${2:-}; shift 2 || die "--md needs a file" ;;
    --trapvisor) tv=${2:-}; shift 2 || die "--trapvisor needs a file" ;;
    --kvm) kvm=${2:-}; shift 2 || die "--kvm needs a file" ;;
    --machine) machine=${2:-}; shift 2 || die "--machine needs text" ;;
    --cpu) cpu=${2:-}; shift 2 || die "--cpu needs a number" ;;
    --note) note=${2:-}; shift 2 || die "--note needs text" ;;
    --command) command=${2:-}; shift 2 || die "--command needs text" ;;
    -h | --help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1' (--help)" ;;
    esac
done
[ -x "$exitcompare" ] || die "no exitcompare at '$exitcompare'"
[ -f "$md" ] || die "no such file: $md"
[ -n "$tv" ] && [ -n "$kvm" ] || die "need --trapvisor and --kvm"

args=()
[ -n "$cpu" ] && args+=(--cpu "$cpu")
result=$("$exitcompare" "${args[@]}" "$tv" "$kvm") || {
    echo "bench-compare: nothing written to $md" >&2
    exit 2
}

if [ -z "$command" ]; then
    command="make bench-compare TRAPVISOR=$tv KVM=$kvm"
    [ -z "$machine" ] || command+=" MACHINE=\"$machine\""
    [ -z "$cpu" ] || command+=" CPU=$cpu"
fi
if [ -z "$machine" ]; then
    model=$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -n 1)
    machine="${model:-unknown CPU}, $(nproc) CPUs (the machine that ran this command;"
    machine+=" MACHINE=\"...\" names the measured one)"
fi
rev=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
day=$(date -u +%Y-%m-%d)

# exitcompare prints "- Trapvisor: ...", "- KVM: ...", the table, then the two target lines.
inputs=$(grep '^- ' <<<"$result")
table=$(grep '^|' <<<"$result")
targets=$(grep '^target: ' <<<"$result" | sed 's/^/- /')
[ "$(wc -l <<<"$targets")" -eq 2 ] || die "exitcompare printed no verdicts"

section="exitbench.efi on one machine, **$machine**, under Trapvisor and in a QEMU/KVM guest with
QEMU's \`-device edu\` (no Trapvisor); measured figures, $day. Medians in TSC ticks: both sides
read the same TSC, so the ratios compare times (docs/exit-comparison.md).${note:+

$note}

Inputs:
$inputs

$table

Targets (issue 5, real hardware; ratios rounded towards missing the target):
$targets

- Command: \`$command\`, commit $rev, $day."

python3 - "$md" "$section" <<'PY'
import sys
path, section = sys.argv[1], sys.argv[2]
text = open(path).read()
b, e = "<!-- realhw:begin -->", "<!-- realhw:end -->"
if b not in text or e not in text:
    # The section does not exist yet: create it after the exitbench section (or at the end).
    block = "\n## Real hardware and KVM (exitcompare)\n" + b + "\n" + e + "\n"
    anchor = "<!-- exitbench:end -->"
    if anchor in text:
        k = text.index(anchor) + len(anchor)
        k = text.index("\n", k) + 1 if "\n" in text[k:] else len(text)
        text = text[:k] + block + text[k:]
    else:
        text = text.rstrip("\n") + "\n" + block
i, j = text.index(b) + len(b), text.index(e)
if j < i:
    sys.exit("bench-compare: the realhw markers are out of order in " + path)
open(path, "w").write(text[:i] + "\n" + section + "\n" + text[j:])
PY
echo "bench-compare: written to $md"
echo "$result"
