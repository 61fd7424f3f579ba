#!/usr/bin/env python3
"""Random encodings around the decoder's opcode set, for the Zydis differential.

Each line is `<mode> <hex bytes>`: random legacy prefixes (including repeats and conflicting
ones), an optional REX in 64-bit mode (sometimes followed by a legacy prefix, which cancels
it), an opcode from the supported set (plus neighbours that are not in it), then random
ModRM/SIB/displacement/immediate bytes. Some lines are cut short to exercise truncation.
Deterministic for a given seed.  usage: gen_random.py COUNT [SEED]"""
import random
import sys

ONE = ([b for b in range(0x40) if (b & 7) < 4] +
       [0x63, 0x80, 0x81, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8A, 0x8B,
        0xA0, 0xA1, 0xA2, 0xA3, 0xA4, 0xA5, 0xA6, 0xA7, 0xAA, 0xAB, 0xAC, 0xAD, 0xAE, 0xAF,
        0xC6, 0xC7, 0xF6, 0xF7, 0xFE, 0xFF])
TWO = [0x10, 0x11, 0x28, 0x29, 0x6E, 0x6F, 0x7E, 0x7F, 0xD6, 0xA3, 0xAB, 0xB3, 0xBB, 0xBA,
       0xB0, 0xB1, 0xC0, 0xC1, 0xB6, 0xB7, 0xBE, 0xBF, 0xC3]
PREFIXES = [0x66, 0x67, 0xF0, 0xF2, 0xF3, 0x26, 0x2E, 0x36, 0x3E, 0x64, 0x65]


def one(rng):
    mode = rng.choice([16, 32, 64])
    out = []
    for _ in range(rng.choice([0, 0, 0, 1, 1, 2, 3])):
        out.append(rng.choice(PREFIXES))
    if mode == 64 and rng.random() < 0.5:
        out.append(0x40 | rng.randrange(16))
        if rng.random() < 0.1:
            out.append(rng.choice(PREFIXES))
    if rng.random() < 0.45:
        out += [0x0F, rng.choice(TWO)]
    else:
        out.append(rng.choice(ONE))
    # Mostly memory forms; register forms sometimes.
    modrm = rng.randrange(256)
    if rng.random() < 0.85 and modrm >= 0xC0:
        modrm &= 0xBF
    out.append(modrm)
    out += [rng.randrange(256) for _ in range(14)]
    if rng.random() < 0.03:
        out = out[:rng.randrange(1, len(out))]
    return mode, out


# Lines that are not of the input form: x86dec must answer each with one error line.
MALFORMED = ["", "64", "65 8b 00", "64 8b zz", "64 8b 00 123", "x64 8b 00", "16,8b,00",
             "64 " + " ".join(["90"] * 40), "\t32\t8b  00  ", "64 8b 0"]


def main():
    count = int(sys.argv[1])
    rng = random.Random(int(sys.argv[2]) if len(sys.argv) > 2 else 1)
    for k in range(count):
        mode, b = one(rng)
        print(mode, " ".join("%02x" % x for x in b))
        if k % 1000 == 0:
            print(MALFORMED[(k // 1000) % len(MALFORMED)])


if __name__ == "__main__":
    main()
