"""A minimal DER writer: a TLV, an INTEGER, an OBJECT IDENTIFIER."""

from __future__ import annotations


def tlv(tag: int, content: bytes) -> bytes:
    """One DER value: ``tag``, the definite length, ``content``."""
    n = len(content)
    if n < 0x80:
        length = bytes([n])
    else:
        raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(raw)]) + raw
    return bytes([tag]) + length + content


def integer(value: int) -> bytes:
    """A DER INTEGER (two's complement, minimal)."""
    raw = value.to_bytes(value.bit_length() // 8 + 1, "big", signed=True)
    return tlv(0x02, raw)


def oid(dotted: str) -> bytes:
    """A DER OBJECT IDENTIFIER from its dotted form."""
    parts = [int(p) for p in dotted.split(".")]
    out = bytearray()
    for n in [40 * parts[0] + parts[1], *parts[2:]]:
        chunk = [n & 0x7F]
        n >>= 7
        while n:
            chunk.append(0x80 | (n & 0x7F))
            n >>= 7
        out += bytes(reversed(chunk))
    return tlv(0x06, bytes(out))
