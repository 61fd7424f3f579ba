#!/usr/bin/env bash
# The decoder differential against Zydis (issue 2): builds the corpus at test time (nasm
# forms, compiler output, random encodings), runs build/tools/x86dec and the Zydis reference
# over it, and compares line by line.
#   nasm and compiler corpora: every line must be identical.
#   random encodings: identical too, except where we answer `unsupported` for bytes Zydis
#   calls invalid or truncated (we do not claim to know every x86 instruction), or `invalid`
#   for a LOCK prefix on an instruction outside our set that Zydis finds truncated.
# Then zydis_detail compares every instruction both decode operand by operand (memory operand,
# register, immediate, operand size, LOCK), which is what emulation acts on.
# usage: run_differential.sh X86DEC ZYDIS_REF ZYDIS_DETAIL WORKDIR [RANDOM_COUNT]
set -euo pipefail
x86dec=$1 zref=$2 zdetail=$3 work=$4 nrandom=${5:-30000}
here=$(dirname "$0")
mkdir -p "$work"
python3 "$here/gen_nasm_corpus.py" "$work/nasm" > "$work/nasm.txt"
bash "$here/gen_cc_corpus.sh" "$work/cc" > "$work/cc.txt"
python3 "$here/gen_random.py" "$nrandom" 1 > "$work/random.txt"

fail=0
for kind in nasm cc random; do
    "$x86dec" < "$work/$kind.txt" > "$work/$kind.ours"
    "$zref" < "$work/$kind.txt" > "$work/$kind.zydis"
    n=$(wc -l < "$work/$kind.txt")
    if [ "$n" -ne "$(wc -l < "$work/$kind.ours")" ]; then
        echo "decode-diff: $kind: x86dec printed a different number of lines than it read"
        fail=1
        continue
    fi
    paste -d'|' "$work/$kind.txt" "$work/$kind.ours" "$work/$kind.zydis" |
        awk -F'|' -v kind="$kind" '
            $2 == $3 { next }
            kind == "random" && $2 == "error=unsupported" &&
                ($3 == "error=invalid" || $3 == "error=truncated") { tolerated++; next }
            kind == "random" && $2 == "error=invalid" && $3 == "error=truncated" { tolerated++; next }
            { print; bad++ }
            END { print tolerated + 0 > "/dev/stderr" }' > "$work/$kind.mismatch" \
        2> "$work/$kind.tolerated"
    bad=$(wc -l < "$work/$kind.mismatch")
    ok=$(grep -vc '^error=' "$work/$kind.ours" || true)
    echo "decode-diff: $kind: $n instructions ($ok decoded), $bad mismatches," \
        "$(cat "$work/$kind.tolerated") tolerated (we say unsupported/invalid, Zydis invalid/truncated)"
    if [ "$bad" -ne 0 ]; then
        echo "  input | x86dec | zydis"
        head -20 "$work/$kind.mismatch" | sed 's/^/  /'
        fail=1
    fi
done
if ! cat "$work/nasm.txt" "$work/cc.txt" "$work/random.txt" | "$zdetail" > "$work/detail.txt"; then
    grep '^detail:' "$work/detail.txt" | head -20
    fail=1
fi
tail -1 "$work/detail.txt"
total=$(cat "$work/nasm.txt" "$work/cc.txt" | wc -l)
echo "decode-diff: nasm+compiler corpus: $total instructions"
if [ "$total" -lt 5000 ]; then
    echo "decode-diff: corpus too small"
    fail=1
fi
exit $fail
