#!/usr/bin/env bash
# exitplot turns an exitbench CSV into a PNG and an SVG per operation plus an overview, honours
# --cpu, and refuses malformed input with the line number.
set -euo pipefail
dir=${1:?work dir}
rm -rf "$dir" && mkdir -p "$dir"
plot=tools/exitplot/exitplot
fail() { echo "test_exitplot: FAIL: $*"; exit 1; }

csv=$dir/ok.csv
{
    echo "op,cpu,iteration,ticks"
    for i in $(seq 0 499); do
        echo "cpuid,0,$i,$((40 + i % 7))"
        echo "mmio-read-edu,0,$i,$((90 + (i * 37) % 50))"
        echo "mmio-read-edu,1,$i,$((1000 + i))"
    done
} > "$csv"
$plot "$csv" "$dir/all" > "$dir/out.txt"
for f in cpuid mmio-read-edu all-cdf; do
    [ "$(head -c 8 "$dir/all/$f.png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] ||
        fail "$f.png is not a PNG"
    grep -q '<svg' "$dir/all/$f.svg" || fail "$f.svg is not an SVG"
done
grep -q 'n=1000' "$dir/all/mmio-read-edu.svg" || fail "all CPUs: expected n=1000 in the title"
$plot "$csv" "$dir/cpu1" --cpu 1 > /dev/null
grep -q 'n=500, cpu 1' "$dir/cpu1/mmio-read-edu.svg" || fail "--cpu 1: expected n=500"

printf 'op,cpu,iteration,ticks\ncpuid,0,0,12\ncpuid,0,x,zz\n' > "$dir/bad.csv"
if $plot "$dir/bad.csv" "$dir/bad" 2> "$dir/err.txt"; then fail "malformed CSV accepted"; fi
grep -q 'line 3 is malformed' "$dir/err.txt" || fail "no line number in: $(cat "$dir/err.txt")"
printf 'something,else\n' > "$dir/nohdr.csv"
if $plot "$dir/nohdr.csv" "$dir/bad" 2> /dev/null; then fail "CSV without header accepted"; fi
echo "test_exitplot: 6 passed, 0 failed"
