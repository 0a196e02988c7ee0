#!/usr/bin/env python3
"""Writes the fuzzer's seed corpus (tests/fuzz/corpus): well-formed frames of every kind, as
src/remote/protocol.hpp describes them, plus a few broken ones. Each file starts with the
piece-size byte the fuzzer reads first (frame_fuzzer.cpp)."""
import os
import struct

MAGIC, VERSION = 0x54554643, 3
KINDS = dict(hello=1, init=2, init_ok=3, init_failed=4, call=5, reply=6, exit=7, shm=8)


def frame(kind, payload):
    return struct.pack("<IHHII", MAGIC, VERSION, KINDS[kind], len(payload), 0) + payload


def blob(b):
    return struct.pack("<I", len(b)) + b


def ref(module, offset):
    return blob(module) + struct.pack("<Q", offset)


def call(id_, args, fn=None):
    body = struct.pack("<Q", id_) + ref(b"/usr/bin/worker", 0x1234)
    body += struct.pack("<B", 1) + ref(b"", 0x99) if fn else struct.pack("<B", 0)
    body += struct.pack("<I", len(args))
    for a in args:
        body += blob(a)
    return body


def reply(id_, items, span=None):
    body = struct.pack("<QI", id_, len(items))
    for ok, b in items:
        body += struct.pack("<B", ok | (2 if span else 0))
        if span:
            body += struct.pack("<QQ", *span)
        body += blob(b)
    if span:
        body += struct.pack("<II", 4242, 4243)
    return body


seeds = {
    "hello": frame("hello", struct.pack("<I", 4242)),
    "call_one_arg": frame("call", call(1, [b"\x02\x00\x00\x00\x03\x00\x00\x00"])),
    "call_with_fn": frame("call", call(2, [b"abc", b""], fn=True)),
    "call_attached_arg": frame("call", call(3, []) [:-4] + struct.pack("<I", 1)
                               + struct.pack("<IQ", 0xFFFFFFFF, 100)),
    "reply_ok": frame("reply", reply(1, [(1, b"\x2a\x00\x00\x00")])),
    "reply_traced": frame("reply", reply(8, [(1, b"\x2a\x00\x00\x00")], span=(1000, 2000))),
    "reply_error": frame("reply", reply(2, [(0, b"\x01" + b"\x00" * 7 + b"x" * 8)])),
    "init_failed": frame("init_failed", b"\x00" * 24),
    "init_ok_exit": frame("init_ok", b"") + frame("exit", b""),
    "shm": frame("shm", struct.pack("<IIQ", KINDS["reply"], 0, 64)),
    "truncated": frame("call", call(4, [b"xyz"]))[:-2],
    "lying_length": struct.pack("<IHHII", MAGIC, VERSION, KINDS["reply"], 1 << 29, 0) + b"\x00" * 32,
    "two_frames": frame("reply", reply(5, [(1, b"")])) + frame("call", call(6, [b"q"])),
    # A result whose container count says 2^40 elements, with 8 bytes behind it.
    "lying_container": frame("reply", reply(7, [(1, struct.pack("<Q", 1 << 40) + b"\x01" * 8)])),
    # MPI's result with a borrowed run: a 1000-byte string's count, its bytes to come apart.
    "reply_assembled": frame("reply", struct.pack("<QIB", 9, 1, 1)
                             + struct.pack("<IIQQ", 0xFFFFFFFD, 1, 8, 1000)
                             + blob(struct.pack("<Q", 1000))),
}

here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
os.makedirs(here, exist_ok=True)
for name, data in seeds.items():
    for piece in (255, 6):
        with open(os.path.join(here, f"{name}_{piece + 1}"), "wb") as f:
            f.write(bytes([piece]) + data)
