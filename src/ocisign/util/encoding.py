"""Encodings several formats share: Go-compatible JSON, strict standard base64."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from ocisign.errors import OcisignError

_GO_ESCAPES = (
    ("<", "\\u003c"),
    (">", "\\u003e"),
    ("&", "\\u0026"),
    ("\u2028", "\\u2028"),
    ("\u2029", "\\u2029"),
)


def go_json(value: Any, *, sort_keys: bool = False) -> bytes:
    """Compact JSON as Go's ``encoding/json`` writes it (``<``, ``>``, ``&`` escaped, UTF-8).

    Keys keep the order of the dicts given unless ``sort_keys`` (Go maps come out sorted).
    """
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=sort_keys)
    for char, escaped in _GO_ESCAPES:
        text = text.replace(char, escaped)
    return text.encode()


def decode_std(value: object, what: str, error: type[OcisignError]) -> bytes:
    """Decode padded standard base64 or raise ``error`` saying which ``what`` was wrong."""
    if not isinstance(value, str):
        raise error(f"{what} is not a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise error(f"{what} is not valid standard base64") from None
