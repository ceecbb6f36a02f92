#!/usr/bin/env python3
"""seedconv.py recorder DUMP OUT | core CORE OUT

Makes fuzz seeds small enough to mutate quickly:
  recorder  a flight recorder's bytes (gdb's dump) as fuzz_recorder's patch
            list: a fault address and signal choice, then (u32 offset,
            u16 length, bytes) for every run of non-zero bytes.
  core      an ELF core with only the bytes its notes and headers need: the
            PT_LOAD segments keep their headers but hold at most their
            first 256 bytes (the rest reads as not dumped); offsets are
            rewritten so the file stays consistent.
"""
import struct
import sys


def recorder(src, out):
    data = open(src, "rb").read()
    parts = [struct.pack("<QB", 0, 1)]  # fault address 0, SIGSEGV
    i, n = 0, len(data)
    while i < n:
        if data[i] == 0:
            i += 1
            continue
        j = i
        zeros = 0
        while j < n and zeros < 16:  # a run ends at 16 zero bytes
            zeros = zeros + 1 if data[j] == 0 else 0
            j += 1
        end = j - zeros
        while i < end:
            chunk = data[i:min(end, i + 0xFFFF)]
            parts.append(struct.pack("<IH", i, len(chunk)) + chunk)
            i += len(chunk)
        i = j
    open(out, "wb").write(b"".join(parts))


def core(src, out):
    data = open(src, "rb").read()
    (phoff,) = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    phdrs = [list(struct.unpack_from("<IIQQQQQQ", data, phoff + k * phentsize)) for k in range(phnum)]
    body = bytearray(data[: phoff + phnum * phentsize])
    for ph in phdrs:
        p_type, _, p_offset, _, _, p_filesz = ph[:6]
        keep = p_filesz if p_type != 1 else min(p_filesz, 256)  # PT_LOAD: a little
        while len(body) % 8:
            body.append(0)
        ph[2] = len(body)
        ph[5] = keep
        body += data[p_offset:p_offset + keep]
    for k, ph in enumerate(phdrs):
        struct.pack_into("<IIQQQQQQ", body, phoff + k * phentsize, *ph)
    open(out, "wb").write(bytes(body))


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] not in ("recorder", "core"):
        sys.exit(__doc__)
    {"recorder": recorder, "core": core}[sys.argv[1]](sys.argv[2], sys.argv[3])
