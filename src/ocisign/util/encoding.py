"""Strict standard base64 decoding with an ocisign error that names the field."""

from __future__ import annotations

import base64
import binascii

from ocisign.errors import OcisignError


def decode_std(value: object, what: str, error: type[OcisignError]) -> bytes:
    """Decode padded standard base64 or raise ``error`` saying which ``what`` was wrong."""
    if not isinstance(value, str):
        raise error(f"{what} is not a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise error(f"{what} is not valid standard base64") from None
