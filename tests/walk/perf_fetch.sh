#!/bin/sh
# Instructions per call of fetch_insn_fast and fetch_insn (inclusive), from callgrind over
# build/tools/perf_fetch: 1000 rounds of each, one 4-level 4 KiB fetch in 64-bit code.
set -e
build=${1:-build}
rounds=1000
out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$build/tools/perf_fetch" $rounds
valgrind --tool=callgrind --callgrind-out-file="$out" "$build/tools/perf_fetch" $rounds \
    >/dev/null 2>&1
callgrind_annotate --inclusive=yes "$out" 2>/dev/null |
    sed -n 's/^ *\([0-9,]*\) ( *[0-9.]*%)  \(\.\/\)\{0,1\}decode\/fetch\.[ch]:\(fetch_insn[a-z_]*\) \[.*/\1 \3/p' |
    tr -d , | while read -r ir fn; do
        echo "perf-fetch: $fn $((ir / rounds)) host instructions per call (callgrind)"
    done
