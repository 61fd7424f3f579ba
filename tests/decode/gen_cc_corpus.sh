#!/usr/bin/env bash
# The compiler half of the decoder corpus: tests/decode/device_access.c compiled by gcc and
# clang at -O0/-O1/-O2/-Os for 64-, 32- and 16-bit code, disassembled with objdump, keeping
# the instructions that have a memory operand and whose mnemonic is in the decoder's set.
# Prints `<mode> <hex bytes>` lines.   usage: gen_cc_corpus.sh WORKDIR
set -euo pipefail
work=$1
src=$(dirname "$0")/device_access.c
mkdir -p "$work"
# AT&T mnemonics (objdump) of the supported families, with or without a size suffix.
keep='^(lock )?(rep[nez]* )?(mov|movz|movs|movsx|movzx|movslq|movabs|add|or|adc|sbb|and|sub|xor|cmp|test|not|neg|inc|dec|xchg|cmpxchg|xadd|bt|bts|btr|btc|movnti|movd|movq|movdqa|movdqu|movaps|movups|stos|lods|scas|cmps)[bwlq]?[bwlq]?([bwlq]l)?$'
for cc in gcc clang; do
    command -v "$cc" >/dev/null || continue
    for opt in -O0 -O1 -O2 -Os; do
        for m in 64 32 16; do
            obj="$work/device_access.$cc$opt.m$m.o"
            "$cc" -m$m $opt -fno-pic -fno-stack-protector -ffreestanding -w -c "$src" \
                -o "$obj" 2>/dev/null || continue
            # objdump of -m16 objects: decode as 8086 (16-bit default sizes).
            dmode=; [ "$m" = 16 ] && dmode="-Mi8086"
            objdump -d --insn-width=15 $dmode "$obj" | awk -v mode="$m" -v keep="$keep" -F'\t' '
                NF >= 3 && $1 ~ /^ *[0-9a-f]+:$/ {
                    bytes = $2; gsub(/ +$/, "", bytes)
                    split($3, parts, " ")
                    mn = parts[1]
                    if ((mn == "lock" || mn ~ /^rep/) && parts[2] != "") mn = mn " " parts[2]
                    if (mn ~ /^rep/ && parts[3] != "" && parts[2] !~ /^(stos|lods|scas|cmps|movs)/) mn = mn
                    if (mn !~ keep) next
                    if ($3 !~ /\(/ && $3 !~ /%[a-z]s:/ && mn !~ /(stos|lods|scas|cmps|movs[bwlq]$)/) next
                    print mode, bytes
                }'
        done
    done
done
