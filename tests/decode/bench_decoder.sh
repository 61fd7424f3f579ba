#!/usr/bin/env bash
# make bench (decoder): times Trapvisor's decoder against Zydis's ZydisDecoderDecodeFull over
# the nasm + compiler corpus with `x86dec --bench`, and writes the figures, the command and
# the machine into docs/benchmarks.md between <!-- decoder:begin --> and <!-- decoder:end -->.
# usage: bench_decoder.sh X86DEC WORKDIR DOC
set -euo pipefail
x86dec=$1 work=$2 doc=$3
here=$(dirname "$0")
mkdir -p "$work"
python3 "$here/gen_nasm_corpus.py" "$work/nasm" > "$work/nasm.txt"
bash "$here/gen_cc_corpus.sh" "$work/cc" > "$work/cc.txt"
cat "$work/nasm.txt" "$work/cc.txt" > "$work/bench.txt"
n=$(wc -l < "$work/bench.txt")
line=$("$x86dec" --bench 20 < "$work/bench.txt")
echo "$line"
tv=$(echo "$line" | sed -n 's/.*trapvisor=\([0-9.]*\).*/\1/p')
zy=$(echo "$line" | sed -n 's/.*zydis=\([0-9.]*\).*/\1/p')
ratio=$(awk -v a="$tv" -v b="$zy" 'BEGIN { printf "%.1f", b / a }')
cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
echo "bench: decoder is ${ratio}x faster than Zydis"
[ -f "$doc" ] || printf '# Benchmarks\n\n## Decoder\n<!-- decoder:begin -->\n<!-- decoder:end -->\n' > "$doc"
section=$(mktemp)
cat > "$section" <<EOT
Decoder speed per instruction, Trapvisor's \`x86_decode\` against Zydis 4.0's
\`ZydisDecoderDecodeFull\`, in one process over the same $n instructions (the nasm and
compiler corpus of \`make check-decode-diff\`, all three modes), best of 5 runs of 20 passes.

| decoder | ns/insn |
|---|---|
| Trapvisor | $tv |
| Zydis (full decode) | $zy |

Trapvisor is **${ratio}x** faster (target: at least 3x).

- Command: \`make bench\` (runs \`build/tools/x86dec --bench 20 < corpus\`)
- Output: \`$line\`
- Machine: $cpu, $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); $(date -u +%Y-%m-%d).
  The machine is shared, so absolute times move with its load; the ratio, measured in one
  process with the two decoders' runs alternating, is the figure that holds.
EOT
python3 - "$doc" "$section" <<'PY'
import sys
doc, sec = sys.argv[1], open(sys.argv[2]).read()
s = open(doc).read()
b, e = "<!-- decoder:begin -->", "<!-- decoder:end -->"
if b not in s or e not in s:
    s = s.rstrip("\n") + "\n\n## Decoder\n" + b + "\n" + e + "\n"
i, j = s.index(b) + len(b), s.index(e)
open(doc, "w").write(s[:i] + "\n" + sec + s[j:])
PY
rm -f "$section"
