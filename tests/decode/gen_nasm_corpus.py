#!/usr/bin/env python3
"""The assembler half of the decoder corpus: every instruction form issue 2 lists, times
operand sizes, addressing forms, prefixes and the three modes, assembled by nasm.

For each mode it writes `bits N` source, assembles it with `nasm -f bin -l LIST`, splits the
listing into one instruction per source line (a long instruction continues on lines with
the same number), and prints `<mode> <hex bytes>` lines. It then prints prefix variants of
a sample of those instructions (segment overrides, repeated and reordered prefixes, REX
placement) as raw bytes, which an assembler cannot spell.

usage: gen_nasm_corpus.py WORKDIR > corpus.txt"""
import os
import re
import subprocess
import sys

ALU = ["add", "or", "adc", "sbb", "and", "sub", "xor", "cmp"]
LOCKABLE_BIN = ["add", "or", "adc", "sbb", "and", "sub", "xor"]

MEM = {
    16: ["[bx+si]", "[bx+di+4]", "[bp+si-2]", "[bp+di+0x1234]", "[si]", "[di+0x7f]",
         "[bp+2]", "[0x1234]", "[bx]", "[eax]", "[esp+4]", "[eax+ecx*4+8]", "cs:[bx]",
         "es:[bp]", "[ebp-0x100]", "fs:[si+0x80]"],
    32: ["[eax]", "[ebx+8]", "[esp]", "[ebp-4]", "[0x12345678]", "[eax+ecx*4]",
         "[esi+edi*8+0x100]", "[bx+si]", "[bp+di+4]", "es:[eax]", "ss:[ebx]", "fs:[ecx]",
         "[esp+eax*2-0x80]", "[ebp+0x12345678]", "[ecx*8+0x10]", "gs:[edx+0x7f]"],
    64: ["[rax]", "[rbx+8]", "[rsp]", "[rbp]", "[rbp+0x12345678]", "[r12]", "[r13]",
         "[r8+r9*4+0x10]", "[rax+rcx*8]", "[rel $+0x1000]", "[abs 0x1234]", "[eax]",
         "[eax+ebx*2+4]", "[esp+8]", "fs:[rax]", "gs:[rbx+0x10]", "[rsi-0x80]",
         "[r15+r14*2-4]", "[r12+r13]", "[rsp+r12*8+0x40]", "[rel $-0x20]"],
}

REGS = {
    16: {1: ["al", "cl", "dl", "bl", "ah", "ch", "dh", "bh"], 2: ["ax", "cx", "si", "di"],
         4: ["eax", "edx", "esi", "ebp"]},
    32: {1: ["al", "cl", "dl", "bl", "ah", "ch", "dh", "bh"], 2: ["ax", "cx", "si", "di"],
         4: ["eax", "edx", "esi", "ebp"]},
    64: {1: ["al", "cl", "bl", "sil", "dil", "spl", "r8b", "r15b"],
         2: ["ax", "cx", "si", "r9w", "r15w"], 4: ["eax", "edx", "edi", "r10d", "r13d"],
         8: ["rax", "rcx", "rsp", "r11", "r15", "rdi"]},
}
SPEC = {1: "byte", 2: "word", 4: "dword", 8: "qword"}
IMM = {1: ["0x12", "0xff", "-1"], 2: ["0x1234", "5", "-3"],
       4: ["0x12345678", "7", "-0x80"], 8: ["0x12345678", "9", "-2"]}


def forms(mode):
    sizes = [1, 2, 4] + ([8] if mode == 64 else [])
    mems = MEM[mode]
    out = []
    k = 0

    def m():
        nonlocal k
        k += 1
        return mems[k % len(mems)]

    def reg(sz, i):
        r = REGS[mode][sz]
        return r[i % len(r)]

    # Every template runs over every addressing form once per size (or a rotating sample).
    for sz in sizes:
        s = SPEC[sz]
        for i in range(len(mems)):
            r = reg(sz, i)
            out += ["mov %s, %s" % (m(), r), "mov %s, %s" % (r, m()),
                    "mov %s %s, %s" % (s, m(), IMM[sz][i % 3])]
            for op in ALU:
                out += ["%s %s, %s" % (op, m(), r), "%s %s, %s" % (op, r, m()),
                        "%s %s %s, %s" % (op, s, m(), IMM[sz][i % 3])]
            out += ["test %s, %s" % (m(), r), "test %s %s, %s" % (s, m(), IMM[sz][i % 3])]
            for op in ["not", "neg", "inc", "dec"]:
                out.append("%s %s %s" % (op, s, m()))
            out += ["xchg %s, %s" % (m(), r), "cmpxchg %s, %s" % (m(), r),
                    "xadd %s, %s" % (m(), r)]
            if i % 3 == 0:
                for op in LOCKABLE_BIN:
                    out.append("lock %s %s, %s" % (op, m(), r))
                    out.append("lock %s %s %s, %s" % (op, s, m(), IMM[sz][i % 3]))
                for op in ["not", "neg", "inc", "dec"]:
                    out.append("lock %s %s %s" % (op, s, m()))
                out += ["lock xchg %s, %s" % (m(), r), "lock cmpxchg %s, %s" % (m(), r),
                        "lock xadd %s, %s" % (m(), r)]
            if sz >= 2:
                for op in ["bt", "bts", "btr", "btc"]:
                    out.append("%s %s, %s" % (op, m(), r))
                    out.append("%s %s %s, %d" % (op, s, m(), (i * 7) % 70))
                    if op != "bt" and i % 4 == 0:
                        out.append("lock %s %s, %s" % (op, m(), r))
                out += ["movzx %s, byte %s" % (r, m()), "movsx %s, byte %s" % (r, m())]
                if sz >= 4:
                    out += ["movzx %s, word %s" % (r, m()), "movsx %s, word %s" % (r, m())]
                    out.append("movnti %s, %s" % (m(), r))
                if sz == 8:
                    out.append("movsxd %s, dword %s" % (r, m()))
        # Register-only forms of the same opcodes: no memory access.
        r0, r1 = reg(sz, 0), reg(sz, 1)
        out += ["mov %s, %s" % (r0, r1), "add %s, %s" % (r0, r1), "xchg %s, %s" % (r0, r1),
                "cmp %s, %s" % (r1, r0), "test %s, %s" % (r0, r1), "neg %s" % r0]
    if mode == 64:
        # AH..BH exist only without REX: memory forms that need none.
        for hb in ["ah", "ch", "dh", "bh"]:
            for mm in ["[rax]", "[rbx+8]", "[rsp+rcx*2]", "[rel $+0x40]", "[eax]"]:
                out += ["mov %s, %s" % (mm, hb), "mov %s, %s" % (hb, mm),
                        "add %s, %s" % (mm, hb), "cmp %s, %s" % (hb, mm),
                        "xchg %s, %s" % (mm, hb), "xadd %s, %s" % (mm, hb),
                        "lock cmpxchg %s, %s" % (mm, hb), "test %s, %s" % (mm, hb)]
    # moffs (A0-A3) in each address size.
    moffs = {16: ["0x1234"], 32: ["0x12345678"], 64: ["qword 0x1122334455667788"]}
    for sz in sizes:
        acc = {1: "al", 2: "ax", 4: "eax", 8: "rax"}[sz]
        for off in moffs[mode]:
            out += ["mov %s, [%s]" % (acc, off), "mov [%s], %s" % (off, acc)]
        if mode == 16:
            out += ["a32 mov %s, [0x12345678]" % acc, "a32 mov [0x12345678], %s" % acc]
        if mode == 32:
            out += ["a16 mov %s, [0x1234]" % acc, "fs mov [0x12345678], %s" % acc]
        if mode == 64:
            out += ["a32 mov %s, [0x12345678]" % acc, "a32 mov [0x12345678], %s" % acc,
                    "gs mov %s, [qword 0x8877665544332211]" % acc]
    # String forms: every width, REP/REPE/REPNE, segment and address-size overrides.
    asz = {16: ["", "a32 "], 32: ["", "a16 "], 64: ["", "a32 "]}[mode]
    for w in "bwd" + ("q" if mode == 64 else ""):
        for a in asz:
            for base in ["movs", "stos", "lods"]:
                out += ["%s%s%s" % (a, base, w), "%srep %s%s" % (a, base, w)]
            for base in ["cmps", "scas"]:
                out += ["%s%s%s" % (a, base, w), "%srepe %s%s" % (a, base, w),
                        "%srepne %s%s" % (a, base, w)]
            out += ["%sfs movs%s" % (a, w), "%ses lods%s" % (a, w), "%sgs rep cmps%s" % (a, w)]
    # SSE moves.
    xr = ["xmm0", "xmm1", "xmm7"] + (["xmm8", "xmm15"] if mode == 64 else [])
    for i in range(len(mems)):
        x = xr[i % len(xr)]
        out += ["movd %s, %s" % (x, m()), "movd %s, %s" % (m(), x),
                "movq %s, %s" % (x, m()), "movq %s, %s" % (m(), x),
                "movdqa %s, %s" % (x, m()), "movdqa %s, %s" % (m(), x),
                "movdqu %s, %s" % (x, m()), "movdqu %s, %s" % (m(), x),
                "movaps %s, %s" % (x, m()), "movaps %s, %s" % (m(), x),
                "movups %s, %s" % (x, m()), "movups %s, %s" % (m(), x)]
    out += ["movdqa xmm1, xmm2", "movaps xmm3, xmm0", "movd xmm0, eax", "movd eax, xmm1"]
    if mode == 64:
        out += ["movq xmm0, rax", "movq rcx, xmm2"]
    return out


LINE = re.compile(r"^\s*(\d+)\s+([0-9A-F]{8})?\s*([0-9A-F]+)(-?)\s")


def assemble(mode, lines, workdir):
    src = os.path.join(workdir, "corpus%d.asm" % mode)
    lst = os.path.join(workdir, "corpus%d.lst" % mode)
    with open(src, "w") as f:
        f.write("bits %d\n" % mode)
        for ln in lines:
            f.write(ln + "\n")
    subprocess.run(["nasm", "-w-prefix-seg", "-f", "bin", "-l", lst, src, "-o", os.devnull], check=True)
    by_line = {}
    order = []
    with open(lst) as f:
        for raw in f:
            mt = LINE.match(raw + " ")
            if not mt:
                continue
            n = int(mt.group(1))
            if n not in by_line:
                by_line[n] = ""
                order.append(n)
            by_line[n] += mt.group(3)
    out = []
    for n in order:
        h = by_line[n]
        if h:
            out.append(bytes.fromhex(h))
    return out


def prefix_variants(mode, insns):
    """Raw prefix combinations on a sample of assembled instructions."""
    out = []
    pfx = [[0x2E], [0x3E, 0x26], [0x64], [0x65, 0x2E], [0x66, 0x66], [0x67], [0xF3],
           [0xF2], [0x26, 0x36, 0x64], [0x64, 0x3E]]
    for i, b in enumerate(insns[::7]):
        # Keep REX (64-bit) immediately before the opcode: insert before the REX/legacy run.
        p = pfx[i % len(pfx)]
        out.append(bytes(p) + b)
        if mode == 64 and i % 5 == 0:
            # A REX followed by a legacy prefix is ignored (SDM Vol. 2A, 2.2.1).
            out.append(bytes([0x48, 0x2E]) + b)
    return out


def main():
    workdir = sys.argv[1]
    os.makedirs(workdir, exist_ok=True)
    for mode in (16, 32, 64):
        insns = assemble(mode, forms(mode), workdir)
        for b in insns + prefix_variants(mode, insns):
            if len(b) <= 15:
                print(mode, " ".join("%02x" % x for x in b))


if __name__ == "__main__":
    main()
