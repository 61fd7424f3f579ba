#!/bin/sh
# Instructions per call of fetch_insn, fetch_insn_fast and fetch_insn_bound (inclusive), and of
# the exit path's shapes of the bound cache's hit (the callers in perf_fetch.c, their own work
# included), from callgrind over build/tools/perf_fetch: 1000 rounds of each, one 4-level 4 KiB
# fetch in 64-bit code.
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
# The callers (perf_fetch.c), each with what it stands for.
caller() { # function, description
    callgrind_annotate --inclusive=yes "$out" 2>/dev/null |
        sed -n "s/^ *\([0-9,]*\) ( *[0-9.]*%)  tests\/walk\/perf_fetch\.c:$1[a-z0-9.]* \[.*/\1/p" |
        tr -d , | while read -r ir; do
            echo "perf-fetch: $2 $((ir / rounds)) host instructions per call (callgrind)"
        done
}
caller 'run_bound_inline' "fetch_insn_bound_hit inlined, with its caller,"
caller 'run_bound_inline_other_root' "fetch_insn_bound_hit inlined, under another root,"
caller 'run_bound_code' "fetch_bound_code_executed + 15 bytes (the MMIO sites' hit),"
caller 'run_bound_code_other_root' "fetch_bound_code_executed + 15 bytes, under another root,"
