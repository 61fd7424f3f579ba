#!/bin/sh
# Host instructions per replayed MMIO exit: callgrind collecting only inside one replay function
# (and everything it calls or inlines) at a time, divided by the rounds; then where the whole
# run spends them, by function.
# usage: perf_mmio.sh MMIO_REPLAY_BINARY [ROUNDS]
set -e
bin=$1
rounds=${2:-1000}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$bin" "$rounds"
# The replay mirrors one version of boot/mmio.c (MMIO_REPLAY_MIRRORS): name the commits that
# changed boot/mmio.c since (a warning: a change may leave the replayed path alone).
top=$(cd "$(dirname "$0")/../.." && pwd)
mirrored=$(sed -n 's/^#define MMIO_REPLAY_MIRRORS "\([0-9a-f]*\)"$/\1/p' "$top/tests/perf/mmio_replay.c")
if [ -n "$mirrored" ] && git -C "$top" rev-parse -q --verify "$mirrored^{commit}" >/dev/null 2>&1; then
    since=$(git -C "$top" log --format=%h "$mirrored..HEAD" -- boot/mmio.c | tr '\n' ' ' | sed 's/ $//')
    if [ -n "$since" ]; then
        echo "perf-mmio: warning: boot/mmio.c changed since the replay's $mirrored ($since): check tests/perf/mmio_replay.c follows it" >&2
    fi
fi
per_exit() { # function name, what it replays
    valgrind --tool=callgrind --toggle-collect="$1" --callgrind-out-file="$out" \
        "$bin" "$rounds" >/dev/null 2>&1
    ir=$(awk '/^summary:/{print $2}' "$out")
    if [ -z "$ir" ] || [ "$ir" -eq 0 ]; then
        echo "perf-mmio: nothing collected inside $1 (renamed by the compiler?)" >&2
        exit 1
    fi
    printf 'perf-mmio: %-24s %5d host instructions per exit (callgrind): %s\n' \
        "$1" $(((ir + rounds / 2) / rounds)) "$2"
}
per_exit replay_general "ept_region_lookup, count, mmio_general: fetch_insn, x86_decode, x86_emulate -> pci_mmio_read, retire"
per_exit replay_new_site "a site used once (MMIO_CACHES=0): ept_region_lookup, fetch_insn_fast, describe, run -> dev->ops->read, count"
per_exit replay_site_hit "a remembered site (light hook): table seq, fetch_bound_code_ia32e_executed, bytes, operand, window, plain word, x86_mov_load, retire"
per_exit replay_site_hit_ops_read "the same site, another register: ... window, mmio_site_load_through_ops (dev->ops->read)"
per_exit replay_general_store "mov [rbx], eax: the general path -> pci_mmio_write"
per_exit replay_site_hit_store "mov [rbx], eax: a remembered site -> mmio_site_store (x86_mov_store_value, dev->ops->write)"
valgrind --tool=callgrind --callgrind-out-file="$out" "$bin" "$rounds" >/dev/null 2>&1
callgrind_annotate "$out" 2>/dev/null | sed -n '/^Ir  *file:function/,$p' | head -n 16
