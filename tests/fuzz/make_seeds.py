#!/usr/bin/env python3
"""Seed inputs for tests/fuzz/fuzz_decode: instructions from the nasm corpus, each behind a
24-byte header naming its mode.  usage: make_seeds.py OUTDIR WORKDIR"""
import os
import subprocess
import sys

out, work = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
here = os.path.dirname(os.path.abspath(__file__))
lines = subprocess.run([sys.executable, os.path.join(here, "..", "decode", "gen_nasm_corpus.py"),
                        work], check=True, capture_output=True, text=True).stdout.splitlines()
# header[0] % 6: 0 real (16-bit), 2 32-bit protected, 4 64-bit mode
mode_byte = {"16": 0, "32": 2, "64": 4}
for n, line in enumerate(lines[::40]):
    mode, *hexes = line.split()
    header = bytes([mode_byte[mode], n & 0xFE, 0x10, 3, 0] + [n % 251] * 19)
    with open(os.path.join(out, "seed%04d" % n), "wb") as f:
        f.write(header + bytes(int(h, 16) for h in hexes))
