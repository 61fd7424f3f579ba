#!/usr/bin/env python3
"""mptable.py: an Intel MultiProcessor Specification 1.4 table, as UEFI-shell `mm` commands.

OVMF in Bochs publishes neither ACPI nor an MP table, so Linux would see one CPU. Written
into low memory from the shell before the kernel starts, this table gives Linux the CPUs,
the ISA bus, the I/O APIC and the ISA interrupt routing (shared/RIGS.md, "Linux as a guest").

Usage: mptable.py [--cpus N] [--base ADDR] [--format nsh|hex]
  --cpus N     processors, local APIC IDs 0..N-1, CPU 0 the bootstrap processor (default 2)
  --base ADDR  physical address of the floating pointer, 16-byte aligned, inside an area
               Linux scans: the last KiB of base memory (default 0x9FC00), 0xF0000-0xFFFFF
  --format     nsh: one `mm ADDR VALUE -w 8 -MEM -n` line per 8 bytes (default);
               hex: the table bytes as hex, for tests

Layout (MP spec 1.4, chapter 4): the 16-byte floating pointer structure ("_MP_", physical
address of the configuration table, length 1, revision 4, checksum, feature bytes 0 = a
configuration table is present), then the configuration table at BASE+16: header ("PCMP",
base length, revision 4, checksum, OEM and product IDs, entry count, local APIC address
0xFEE00000) and entries in the order the spec requires: processors (type 0, 20 bytes),
bus (1), I/O APIC (2), I/O interrupt assignments (3), local interrupt assignments (4), each
8 bytes. The I/O APIC gets ID N (after the CPUs) at 0xFEC00000; ISA IRQ 0 goes to pin 2 (as
on PC chipsets with an I/O APIC), IRQ 2 (the cascade) is left out, IRQ n to pin n otherwise;
LINT0 of the bootstrap processor is ExtINT (the 8259), LINT1 of every processor NMI.
"""
import argparse
import struct
import sys

LAPIC_ADDR = 0xFEE00000
IOAPIC_ADDR = 0xFEC00000
# Processor signature and feature flags of the processor entries (family 6 like Bochs's
# corei7_skylake_x; Linux only needs FPU/APIC-present bits here, it reads CPUID itself).
CPU_SIGNATURE = 0x00050654
CPU_FEATURES = 0x0000_0201  # FPU (bit 0), APIC on chip (bit 9)


def checksum_byte(data):
    """The byte that makes the sum of all bytes 0 mod 256."""
    return (-sum(data)) & 0xFF


def config_entries(ncpus):
    entries = []
    for apic_id in range(ncpus):
        flags = 0x01 | (0x02 if apic_id == 0 else 0)  # enabled; bootstrap processor
        entries.append(struct.pack("<BBBBII8x", 0, apic_id, 0x14, flags, CPU_SIGNATURE,
                                   CPU_FEATURES))
    entries.append(struct.pack("<BB6s", 1, 0, b"ISA   "))  # bus 0: ISA
    ioapic_id = ncpus
    entries.append(struct.pack("<BBBBI", 2, ioapic_id, 0x11, 0x01, IOAPIC_ADDR))
    for irq in range(16):
        if irq == 2:
            continue
        pin = 2 if irq == 0 else irq
        # type 3, interrupt type INT (0), flags 0 (conforms to the bus: ISA edge, high)
        entries.append(struct.pack("<BBHBBBB", 3, 0, 0, 0, irq, ioapic_id, pin))
    entries.append(struct.pack("<BBHBBBB", 4, 3, 0, 0, 0, 0x00, 0))  # ExtINT -> BSP LINT0
    entries.append(struct.pack("<BBHBBBB", 4, 1, 0, 0, 0, 0xFF, 1))  # NMI -> all LINT1
    return entries


def build_table(ncpus, base):
    entries = config_entries(ncpus)
    body = b"".join(entries)
    header = bytearray(struct.pack("<4sHBB8s12sIHHIHBB", b"PCMP", 44 + len(body), 4, 0,
                                   b"TRAPVISR", b"LINUXRIG    ", 0, 0, len(entries),
                                   LAPIC_ADDR, 0, 0, 0))
    table = header + body
    table[7] = checksum_byte(table)
    floating = bytearray(struct.pack("<4sIBBB5x", b"_MP_", base + 16, 1, 4, 0))
    floating[10] = checksum_byte(floating)
    blob = bytes(floating) + bytes(table)
    return blob + b"\0" * (-len(blob) % 8)


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cpus", type=int, default=2)
    ap.add_argument("--base", type=lambda s: int(s, 0), default=0x9FC00)
    ap.add_argument("--format", choices=("nsh", "hex"), default="nsh")
    args = ap.parse_args(argv)
    if not 1 <= args.cpus <= 15:  # APIC IDs 0..N-1 plus the I/O APIC's N fit in 4 bits
        ap.error("--cpus must be 1..15")
    if args.base % 16 or not (0x400 <= args.base < 0xA0000 or 0xF0000 <= args.base < 0x100000):
        ap.error("--base must be 16-byte aligned in base memory or 0xF0000-0xFFFFF")
    blob = build_table(args.cpus, args.base)
    if args.format == "hex":
        print(blob.hex())
        return
    for off in range(0, len(blob), 8):
        (qword,) = struct.unpack_from("<Q", blob, off)
        print("mm %X %016X -w 8 -MEM -n" % (args.base + off, qword))


if __name__ == "__main__":
    main(sys.argv[1:])
