#!/usr/bin/env python3
"""mkinitramfs.py OUT.gz SPEC: write a gzip'd cpio (newc) initramfs described by SPEC.

Builds the archive directly, so device nodes and ownership need no root and the result is
the same bytes for the same inputs (mtime 0). SPEC lines, '#' comments allowed:

    dir   DEST MODE
    file  DEST SRC MODE
    nod   DEST MODE c|b MAJOR MINOR
    slink DEST TARGET

DEST is the path inside the archive (no leading '/'); MODE is octal. Format: the "new ASCII"
cpio header of the kernel's Documentation/driver-api/early-userspace/buffer-format.rst.
"""
import gzip
import stat
import sys


def header(ino, mode, nlink, size, rdevmajor, rdevminor, name):
    fields = [ino, mode, 0, 0, nlink, 0, size, 0, 0, rdevmajor, rdevminor, len(name) + 1, 0]
    return b"070701" + b"".join(b"%08X" % f for f in fields)


def pad4(n):
    return b"\0" * ((4 - n % 4) % 4)


def entry(ino, mode, data, name, nlink=1, rdev=(0, 0)):
    nm = name.encode()
    hdr = header(ino, mode, nlink, len(data), rdev[0], rdev[1], nm)
    out = hdr + nm + b"\0"
    out += pad4(len(out))
    out += data + pad4(len(data))
    return out


def build(spec_lines):
    out = bytearray()
    ino = 1
    for lineno, raw in enumerate(spec_lines, 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        f = line.split()
        kind, dest = f[0], f[1].lstrip("/")
        if kind == "dir" and len(f) == 3:
            out += entry(ino, stat.S_IFDIR | int(f[2], 8), b"", dest, nlink=2)
        elif kind == "file" and len(f) == 4:
            with open(f[2], "rb") as fh:
                data = fh.read()
            out += entry(ino, stat.S_IFREG | int(f[3], 8), data, dest)
        elif kind == "nod" and len(f) == 6 and f[3] in ("c", "b"):
            typ = stat.S_IFCHR if f[3] == "c" else stat.S_IFBLK
            out += entry(ino, typ | int(f[2], 8), b"", dest, rdev=(int(f[4]), int(f[5])))
        elif kind == "slink" and len(f) == 3:
            out += entry(ino, stat.S_IFLNK | 0o777, f[2].encode(), dest)
        else:
            sys.exit("mkinitramfs: line %d: cannot parse %r" % (lineno, raw.rstrip()))
        ino += 1
    out += entry(ino, 0, b"", "TRAILER!!!")
    return bytes(out)


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: mkinitramfs.py OUT.gz SPEC")
    with open(sys.argv[2]) as fh:
        archive = build(fh.readlines())
    with open(sys.argv[1], "wb") as fh:
        fh.write(gzip.compress(archive, compresslevel=6, mtime=0))


if __name__ == "__main__":
    main()
