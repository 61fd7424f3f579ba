#!/bin/sh
# Instructions per call of fetch_insn, fetch_insn_fast and fetch_insn_cached (inclusive), from
# callgrind over build/tools/perf_fetch: 1000 rounds of each, one 4-level 4 KiB fetch in 64-bit code.
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
# The exit path's shape: fetch_insn_cached_hit inlined into a caller that builds guest_paging
# from register values (run_hit_inline; the count includes that caller's own work).
callgrind_annotate --inclusive=yes "$out" 2>/dev/null |
    sed -n 's/^ *\([0-9,]*\) ( *[0-9.]*%)  tests\/walk\/perf_fetch\.c:run_hit_inline[a-z0-9.]* \[.*/\1/p' |
    tr -d , | while read -r ir; do
        echo "perf-fetch: fetch_insn_cached_hit inlined, with its caller $((ir / rounds)) host instructions per call (callgrind)"
    done
callgrind_annotate --inclusive=yes "$out" 2>/dev/null |
    sed -n 's/^ *\([0-9,]*\) ( *[0-9.]*%)  tests\/walk\/perf_fetch\.c:run_bound_inline[a-z0-9.]* \[.*/\1/p' |
    tr -d , | while read -r ir; do
        echo "perf-fetch: fetch_insn_bound_hit inlined, with its caller $((ir / rounds)) host instructions per call (callgrind)"
    done
