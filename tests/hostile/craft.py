#!/usr/bin/env python3
"""Hostile inputs made from real ones, for tests/hostile/inputs.sh.

  craft.py trace-node IN OUT NODE      every resolve's thread node set to NODE
  craft.py trace-tsc-back IN OUT       the last event's counter before the first's
  craft.py trace-bad-utf8 IN OUT       byte 0xff in every event name and string record
  craft.py core-big-load IN OUT        first PT_LOAD: writable, offset 0, 2^40 bytes in the file
  craft.py core-phnum0 IN OUT          e_phnum = 0
  craft.py core-phoff IN OUT           e_phoff past the end of the file
  craft.py core-tiny OUT               a minimal x86-64 core (one note, one 4 KiB segment)
  craft.py gguf-long-key-array OUT N   one kv with a long key and an N-element u8 array
"""
import struct
import sys

EV_RESOLVE = 6
REC_EVENT, REC_STRING = 1, 2


def records(b):
    """(offset of payload, type, length) of each record after the 64-byte header."""
    at = 64
    while at + 8 <= len(b):
        typ, length = struct.unpack_from("<II", b, at)
        if at + 8 + length > len(b):
            break
        yield at + 8, typ, length
        at += 8 + ((length + 7) & ~7)


def trace_edit(src, dst, edit):
    b = bytearray(open(src, "rb").read())
    events = [(p, t, n) for p, t, n in records(b) if t == REC_EVENT]
    strings = [(p, t, n) for p, t, n in records(b) if t == REC_STRING]
    edit(b, events, strings)
    open(dst, "wb").write(b)


def phdrs(b):
    phoff, = struct.unpack_from("<Q", b, 32)
    phentsize, phnum = struct.unpack_from("<HH", b, 54)
    return phoff, phentsize, phnum


def main():
    cmd = sys.argv[1]
    if cmd == "trace-node":
        node = int(sys.argv[4])

        def edit(b, events, _):
            for p, _, _ in events:
                if struct.unpack_from("<H", b, p + 16)[0] == EV_RESOLVE:
                    struct.pack_into("<h", b, p + 34, node)
        trace_edit(sys.argv[2], sys.argv[3], edit)
    elif cmd == "trace-tsc-back":
        def edit(b, events, _):
            first = struct.unpack_from("<Q", b, events[0][0] + 8)[0]
            struct.pack_into("<Q", b, events[-1][0] + 8, max(first - 10**9, 1))
        trace_edit(sys.argv[2], sys.argv[3], edit)
    elif cmd == "trace-bad-utf8":
        def edit(b, events, strings):
            for p, _, _ in events:
                if b[p + 72]:
                    b[p + 72] = 0xFF
            for p, _, n in strings:
                if n > 8:
                    b[p + 8] = 0xFF
        trace_edit(sys.argv[2], sys.argv[3], edit)
    elif cmd in ("core-big-load", "core-phnum0", "core-phoff"):
        b = bytearray(open(sys.argv[2], "rb").read())
        phoff, ent, n = phdrs(b)
        if cmd == "core-phnum0":
            struct.pack_into("<H", b, 56, 0)
        elif cmd == "core-phoff":
            struct.pack_into("<Q", b, 32, len(b) + 4096)
        else:
            for i in range(n):
                at = phoff + i * ent
                if struct.unpack_from("<I", b, at)[0] == 1:  # PT_LOAD
                    struct.pack_into("<I", b, at + 4, 6)        # p_flags RW
                    struct.pack_into("<Q", b, at + 8, 0)        # p_offset
                    struct.pack_into("<Q", b, at + 32, 1 << 40)  # p_filesz
                    break
        open(sys.argv[3], "wb").write(b)
    elif cmd == "core-tiny":
        # ELF header, two program headers (PT_NOTE, PT_LOAD), one NT_PRSTATUS.
        prstatus = bytearray(336)
        struct.pack_into("<h", prstatus, 12, 11)      # pr_cursig = SIGSEGV
        struct.pack_into("<i", prstatus, 32, 4242)    # pr_pid
        note = struct.pack("<III", 5, len(prstatus), 1) + b"CORE\0\0\0\0" + bytes(prstatus)
        ehsize, phent = 64, 56
        note_off = ehsize + 2 * phent
        load_off = (note_off + len(note) + 4095) & ~4095
        eh = bytearray(64)
        eh[0:4] = b"\x7fELF"
        eh[4], eh[5], eh[6] = 2, 1, 1
        struct.pack_into("<HHIQQQIHHHHHH", eh, 16, 4, 62, 1, 0, ehsize, 0, 0, ehsize, phent, 2, 0, 0, 0)
        ph_note = struct.pack("<IIQQQQQQ", 4, 0, note_off, 0, 0, len(note), 0, 4)
        ph_load = struct.pack("<IIQQQQQQ", 1, 6, load_off, 0x10000, 0, 4096, 4096, 4096)
        body = bytes(eh) + ph_note + ph_load + note
        body += bytes(load_off - len(body)) + bytes(4096)
        open(sys.argv[2], "wb").write(body)
    elif cmd == "gguf-long-key-array":
        n = int(sys.argv[3])
        key = b"k" * 4096
        out = struct.pack("<IIqq", 0x46554747, 3, 0, 1)
        out += struct.pack("<Q", len(key)) + key + struct.pack("<IIQ", 9, 0, n) + bytes(n)
        open(sys.argv[2], "wb").write(out)
    else:
        sys.exit("craft.py: unknown command " + cmd)


if __name__ == "__main__":
    main()
