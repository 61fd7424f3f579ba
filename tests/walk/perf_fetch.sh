#!/bin/sh
# Instructions per call of fetch_insn_fast and fetch_insn (inclusive), from callgrind over
# build/tools/perf_fetch: 1000 rounds of each, one 4-level 4 KiB fetch in 64-bit code.
set -e
build=${1:-build}
rounds=1000
out=$(mktemp)
trap 'rm -f "$out"' EXIT
valgrind --tool=callgrind --callgrind-out-file="$out" "$build/tools/perf_fetch" $rounds >/dev/null 2>&1
callgrind_annotate --inclusive=yes "$out" 2>/dev/null |
    awk -v n=$rounds '/fetch_insn_fast|fetch_insn[^_]|fetch_insn$|walk_translate/ {
        gsub(",", "", $1); split($0, a, " ");
        for (i = 2; i <= NF; i++) if ($i ~ /fetch_insn|walk_translate/) { name = $i; break }
        printf "perf-fetch: %-40s %8.1f instructions per call\n", name, $1 / n }'
