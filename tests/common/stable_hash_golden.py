#!/usr/bin/env python3
"""Golden values for StableHash and KeyGroupForHash (common/key_group.h).

Key-group routing and persisted keyed state depend on these functions never
changing, so tests/common/key_encoding_test.cc pins them with values computed
here, by a second implementation written from the algorithm's description
rather than by running the C++ code. The script also encodes a few keys by the
format documented in common/key_encoding.h, so the same table pins that
format too.

Usage: python3 tests/common/stable_hash_golden.py
Prints the rows of the C++ table `kGolden`; paste them into the test when
adding inputs. Existing rows must never change.
"""

import math
import struct

MASK64 = (1 << 64) - 1
MUL = 0x9E3779B97F4A7C15
SEED = 0xCBF29CE484222325
FINAL_MUL = 0xBF58476D1CE4E5B9


def stable_hash(data: bytes) -> int:
    """StableHash: words and the tail are read little-endian."""
    h = SEED ^ ((len(data) * MUL) & MASK64)
    words_end = len(data) - len(data) % 8
    for i in range(0, words_end, 8):
        word = int.from_bytes(data[i:i + 8], "little")
        h = ((h ^ word) * MUL) & MASK64
        h ^= h >> 32
    tail = int.from_bytes(data[words_end:], "little")  # 0 when there is no tail
    h = ((h ^ tail) * MUL) & MASK64
    h ^= h >> 29
    h = (h * FINAL_MUL) & MASK64
    h ^= h >> 32
    return h


def key_group_for_hash(h: int, max_parallelism: int) -> int:
    folded = (h ^ (h >> 32)) & 0xFFFFFFFF
    return folded % max_parallelism


# Key encoding version 1 (common/key_encoding.h).
VERSION = 0x01
TAG_NULL, TAG_BOOL, TAG_INT64, TAG_DOUBLE, TAG_STRING = 0x00, 0x01, 0x02, 0x03, 0x04
CANONICAL_NAN = 0x7FF8000000000000


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        low = n & 0x7F
        n >>= 7
        if n:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def encode_key(*values) -> bytes:
    """None is null; bool, int, float and str are the key's value types."""
    out = bytearray([VERSION])
    for v in values:
        if v is None:
            out.append(TAG_NULL)
        elif isinstance(v, bool):
            out += bytes([TAG_BOOL, 1 if v else 0])
        elif isinstance(v, int):
            out.append(TAG_INT64)
            out += (v & MASK64).to_bytes(8, "little")
        elif isinstance(v, float):
            if math.isfinite(v) and v == math.floor(v) and -(2**63) <= v < 2**63:
                out.append(TAG_INT64)
                out += (int(v) & MASK64).to_bytes(8, "little")
            else:
                bits = CANONICAL_NAN if math.isnan(v) else struct.unpack("<Q", struct.pack("<d", v))[0]
                out.append(TAG_DOUBLE)
                out += bits.to_bytes(8, "little")
        elif isinstance(v, str):
            b = v.encode("utf-8")
            out.append(TAG_STRING)
            out += varint(len(b))
            out += b
        else:
            raise TypeError(f"no key type for {v!r}")
    return bytes(out)


def cpp_literal(data: bytes) -> str:
    """A C++ string_view literal; octal escapes always take three digits, so
    the next character can never extend them."""
    parts = []
    for b in data:
        c = chr(b)
        if c in '"\\?':
            parts.append("\\" + c)
        elif 0x20 <= b < 0x7F:
            parts.append(c)
        else:
            parts.append(f"\\{b:03o}")
    return '"' + "".join(parts) + '"sv'


INPUTS = [
    ("empty", b""),
    ("1 byte", b"a"),
    ("2 bytes", b"ab"),
    ("3 bytes", b"abc"),
    ("4 bytes", b"abcd"),
    ("5 bytes", b"abcde"),
    ("6 bytes", b"abcdef"),
    ("7 bytes", b"abcdefg"),
    ("one word", b"abcdefgh"),
    ("word + 1", b"dev-00001"),
    ("two words", b"abcdefghijklmnop"),
    ("two words + 1", b"abcdefghijklmnopq"),
    ("non-ASCII", "été".encode("utf-8") + b"\x00\xff\x80\x7f"),
    ("key \"dev-00001\"", encode_key("dev-00001")),
    ("key 42", encode_key(42)),
    ("key 42.0", encode_key(42.0)),
    ("key -1", encode_key(-1)),
    ("key 2.5", encode_key(2.5)),
    ("key null", encode_key(None)),
    ("key (\"north\", 3, null)", encode_key("north", 3, None)),
]


def main() -> None:
    for name, data in INPUTS:
        h = stable_hash(data)
        kg = key_group_for_hash(h, 128)
        print(f"    {{{cpp_literal(data)}, 0x{h:016x}ULL, {kg}}},  // {name}")


if __name__ == "__main__":
    main()
