#!/usr/bin/env python3
"""Tests of the Linux rig's own tools: tools/rig/mptable.py (MP 1.4 table) and
tools/linux/mkinitramfs.py (cpio newc writer). No emulator needed."""
import gzip
import importlib.util
import os
import struct
import subprocess
import sys
import tempfile
import unittest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def load(path, name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(ROOT, path))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


mptable = load("tools/rig/mptable.py", "mptable")
mkinitramfs = load("tools/linux/mkinitramfs.py", "mkinitramfs")


def parse_mp(blob, base):
    """Independent parse of the blob as Linux's mpparse.c reads it."""
    sig, phys, length, rev, csum, feat1 = struct.unpack_from("<4sIBBBB", blob, 0)
    assert sig == b"_MP_"
    off = phys - base
    hdr = struct.unpack_from("<4sHBB8s12sIHHIHBB", blob, off)
    return {"mpf": blob[:16], "phys": phys, "length": length, "rev": rev, "feat1": feat1,
            "table": blob[off:off + hdr[1]], "count": hdr[8], "lapic": hdr[9], "spec": hdr[2]}


def entries(table, count):
    out, off = [], 44
    for _ in range(count):
        kind = table[off]
        size = 20 if kind == 0 else 8
        out.append(table[off:off + size])
        off += size
    return out, off


class MpTableTest(unittest.TestCase):
    def test_floating_pointer_and_table_checksums_are_zero(self):
        for ncpu in (1, 2, 4):
            blob = mptable.build_table(ncpu, 0x9FC00)
            mp = parse_mp(blob, 0x9FC00)
            self.assertEqual(sum(mp["mpf"]) & 0xFF, 0)
            self.assertEqual(sum(mp["table"]) & 0xFF, 0)
            self.assertEqual(mp["length"], 1)  # in 16-byte paragraphs
            self.assertEqual(mp["rev"], 4)
            self.assertEqual(mp["spec"], 4)
            self.assertEqual(mp["feat1"], 0)  # 0: a configuration table follows

    def test_config_table_follows_the_pointer_and_lengths_agree(self):
        blob = mptable.build_table(2, 0xF0000)
        mp = parse_mp(blob, 0xF0000)
        self.assertEqual(mp["phys"], 0xF0010)
        ents, end = entries(mp["table"], mp["count"])
        self.assertEqual(end, len(mp["table"]))
        self.assertEqual(mp["lapic"], 0xFEE00000)

    def test_processors_first_cpu0_is_bsp_and_ioapic_id_follows(self):
        blob = mptable.build_table(3, 0x9FC00)
        mp = parse_mp(blob, 0x9FC00)
        ents, _ = entries(mp["table"], mp["count"])
        cpus = [e for e in ents if e[0] == 0]
        self.assertEqual([e[1] for e in cpus], [0, 1, 2])
        self.assertEqual([e[3] for e in cpus], [3, 1, 1])  # enabled; BSP only on CPU 0
        kinds = [e[0] for e in ents]
        self.assertEqual(kinds, sorted(kinds))  # the spec's entry order
        ioapic = [e for e in ents if e[0] == 2]
        self.assertEqual(len(ioapic), 1)
        self.assertEqual(ioapic[0][1], 3)
        self.assertEqual(struct.unpack_from("<I", ioapic[0], 4)[0], 0xFEC00000)

    def test_isa_routing_irq0_to_pin2_and_no_cascade(self):
        mp = parse_mp(mptable.build_table(2, 0x9FC00), 0x9FC00)
        ents, _ = entries(mp["table"], mp["count"])
        route = {e[5]: e[7] for e in ents if e[0] == 3}
        self.assertEqual(route[0], 2)
        self.assertNotIn(2, route)
        self.assertEqual(route[9], 9)
        self.assertEqual(len(route), 15)

    def test_nsh_commands_rebuild_the_blob(self):
        out = subprocess.run([sys.executable, os.path.join(ROOT, "tools/rig/mptable.py"),
                              "--cpus", "2"], check=True, capture_output=True, text=True).stdout
        mem = {}
        for line in out.splitlines():
            f = line.split()
            self.assertEqual(f[0], "mm")
            self.assertEqual(f[3:], ["-w", "8", "-MEM", "-n"])
            mem[int(f[1], 16)] = int(f[2], 16)
        addrs = sorted(mem)
        self.assertEqual(addrs[0], 0x9FC00)
        blob = b"".join(struct.pack("<Q", mem[a]) for a in addrs)
        self.assertEqual(blob, mptable.build_table(2, 0x9FC00))

    def test_bad_arguments_are_refused(self):
        for args in (["--cpus", "0"], ["--cpus", "16"], ["--base", "0x9FC08"],
                     ["--base", "0x100000"]):
            r = subprocess.run([sys.executable, os.path.join(ROOT, "tools/rig/mptable.py")] + args,
                               capture_output=True)
            self.assertEqual(r.returncode, 2, args)


def parse_cpio(data):
    """Independent newc reader: list of (name, mode, rdevmajor, rdevminor, body)."""
    out, off = [], 0
    while True:
        assert data[off:off + 6] == b"070701"
        f = [int(data[off + 6 + 8 * i:off + 14 + 8 * i], 16) for i in range(13)]
        namesize, size = f[11], f[6]
        name = data[off + 110:off + 110 + namesize - 1].decode()
        off = (off + 110 + namesize + 3) & ~3
        body = data[off:off + size]
        off = (off + size + 3) & ~3
        if name == "TRAILER!!!":
            return out
        out.append((name, f[1], f[9], f[10], body))


class InitramfsTest(unittest.TestCase):
    def build(self, spec):
        with tempfile.TemporaryDirectory() as d:
            src = os.path.join(d, "payload")
            with open(src, "wb") as fh:
                fh.write(b"hello\x00world")  # 11 bytes: exercises the 4-byte padding
            spec_path = os.path.join(d, "spec")
            with open(spec_path, "w") as fh:
                fh.write(spec.replace("@SRC@", src))
            out = os.path.join(d, "out.gz")
            r = subprocess.run([sys.executable, os.path.join(ROOT, "tools/linux/mkinitramfs.py"),
                                out, spec_path], capture_output=True)
            if r.returncode != 0:
                return None
            with open(out, "rb") as fh:
                return gzip.decompress(fh.read())

    def test_entries_round_trip_with_modes_nodes_and_links(self):
        data = self.build("# comment\ndir bin 755\nfile bin/x @SRC@ 700\n"
                          "nod dev/console 600 c 5 1\nslink bin/sh busybox\n")
        ents = parse_cpio(data)
        self.assertEqual([e[0] for e in ents], ["bin", "bin/x", "dev/console", "bin/sh"])
        self.assertEqual(ents[0][1], 0o40755)
        self.assertEqual(ents[1][1], 0o100700)
        self.assertEqual(ents[1][4], b"hello\x00world")
        self.assertEqual(ents[2][1:4], (0o20600, 5, 1))
        self.assertEqual(ents[3][1], 0o120777)
        self.assertEqual(ents[3][4], b"busybox")

    def test_same_inputs_give_the_same_bytes(self):
        spec = "dir bin 755\nfile bin/x @SRC@ 755\n"
        self.assertEqual(self.build(spec), self.build(spec))

    def test_malformed_spec_line_is_an_error(self):
        self.assertIsNone(self.build("dir bin\n"))
        self.assertIsNone(self.build("nod dev/x 600 q 1 2\n"))
        self.assertIsNone(self.build("frobnicate x\n"))


if __name__ == "__main__":
    unittest.main(verbosity=1)
