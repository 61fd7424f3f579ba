#!/usr/bin/env bash
# Host instructions per x86_decode() call (callgrind), for the MOV forms the MMIO fast path
# is for. usage: perf_decode.sh PERF_DECODE_BINARY [ROUNDS]
set -euo pipefail
bin=$1 rounds=${2:-1000}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
run() {
    local mode=$1
    shift
    valgrind --tool=callgrind --toggle-collect=x86_decode \
        --callgrind-out-file="$out/cg" "$bin" "$mode" "$rounds" "$@" > /dev/null 2>&1
    local ir
    ir=$(awk '/^summary:/{print $2}' "$out/cg")
    printf 'perf-decode: %-2s %-36s %4d insns/call\n' "$mode" "$*" $(( (ir + rounds / 2) / rounds ))
}
run 64 8b 43 10                         # mov eax, [rbx+0x10]
run 64 89 0c 25 78 56 34 12             # mov [0x12345678], ecx
run 64 c7 05 00 01 00 00 ef be ad de    # mov dword [rip+0x100], 0xdeadbeef
run 64 44 8b 04 24                      # mov r8d, [rsp]
run 64 48 89 43 08                      # mov [rbx+8], rax
run 64 66 89 43 08                      # mov [rbx+8], ax
run 64 0f b6 43 08                      # movzx eax, byte [rbx+8]
run 64 a1 00 00 00 fe 00 00 00 00       # mov eax, [moffs64]
run 32 8b 43 10                         # mov eax, [ebx+0x10]
run 16 8b 47 10                         # mov ax, [bx+0x10]
