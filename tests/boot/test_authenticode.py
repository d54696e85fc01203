"""Authenticode in pure Python: PE digest, SignedData, WIN_CERTIFICATE table, checksum."""

from __future__ import annotations

import hashlib
import struct
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from ocisign.boot.artifacts import SigningIdentity, generate_ephemeral_identity
from ocisign.boot.authenticode import (
    OID_SPC_INDIRECT_DATA,
    PeFormatError,
    _oid,
    authenticode_digest,
    certificates,
    parse_pe,
    pe_checksum,
    sign_pe,
    signatures,
)
from tests.boot.conftest import (
    SHIM,
    SYSTEMD_BOOT,
    UKI_STUB,
    der,
    der_children,
    independent_checksum,
    make_pe,
    spc_digest,
)


@pytest.fixture(scope="module")
def identity() -> SigningIdentity:
    return generate_ephemeral_identity()


def linear_digest(data: bytes) -> bytes:
    """osslsigncode's way: hash the file linearly, skipping checksum, security entry, table."""
    (pe,) = struct.unpack_from("<I", data, 0x3C)
    (magic,) = struct.unpack_from("<H", data, pe + 24)
    checksum = pe + 24 + 64
    security = pe + 24 + (112 if magic == 0x20B else 96) + 32
    offset, size = struct.unpack_from("<II", data, security)
    end = offset if size else len(data)
    return hashlib.sha256(
        data[:checksum] + data[checksum + 4 : security] + data[security + 8 : end]
    ).digest()


@pytest.mark.parametrize(
    ("pe32plus", "trailing"),
    [(True, b"TRAILER"), (True, b""), (False, b"x" * 13), (False, b"")],
)
def test_sign_appends_one_aligned_win_certificate(
    identity: SigningIdentity, pe32plus: bool, trailing: bytes
) -> None:
    original = make_pe(pe32plus=pe32plus, trailing=trailing)
    signed = sign_pe(original, identity.key, identity.certs)
    layout = parse_pe(signed)
    # the table starts 8-byte aligned right after the (zero-padded) image and ends the file
    pad = -len(original) % 8
    assert layout.cert_table_offset == len(original) + pad
    assert layout.cert_table_offset % 8 == 0
    assert layout.cert_table_offset + layout.cert_table_size == len(signed)
    assert len(signed) % 8 == 0
    assert signed[len(original) : len(original) + pad] == b"\0" * pad
    [entry] = certificates(signed)
    assert (entry.revision, entry.cert_type) == (0x0200, 0x0002)
    (length,) = struct.unpack_from("<I", signed, entry.offset)
    assert length == 8 + len(der(entry.data)[2])
    # everything else in the image is untouched
    changed = [i for i in range(len(original)) if original[i] != signed[i]]
    checksum_at = layout.checksum_offset
    allowed = set(range(checksum_at, checksum_at + 4))
    allowed |= set(range(layout.security_dir_offset, layout.security_dir_offset + 8))
    assert set(changed) <= allowed


@pytest.mark.parametrize("pe32plus", [True, False])
def test_checksum_matches_an_independent_computation(
    identity: SigningIdentity, pe32plus: bool
) -> None:
    signed = sign_pe(make_pe(pe32plus=pe32plus), identity.key, identity.certs)
    layout = parse_pe(signed)
    (stored,) = struct.unpack_from("<I", signed, layout.checksum_offset)
    assert stored == independent_checksum(signed)
    assert stored == pe_checksum(signed, layout.checksum_offset)


def test_signed_data_is_authenticode_and_verifies(identity: SigningIdentity) -> None:
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    signed = sign_pe(make_pe(), identity.key, identity.certs, signing_time=when)
    [blob] = signatures(signed)
    content_info = der_children(der(blob)[1])
    assert content_info[0][2] == _oid("1.2.840.113549.1.7.2")
    version, digest_algs, encap, certs, signer_infos = der_children(der(content_info[1][1])[1])
    assert version[1] == b"\x01"
    assert _oid("2.16.840.1.101.3.4.2.1") in digest_algs[1]
    encap_type, encap_content = der_children(encap[1])
    assert encap_type[2] == _oid(OID_SPC_INDIRECT_DATA)
    indirect = der(encap_content[1])
    # the image digest is the Authenticode digest, equal to a linear hash of the signed file
    assert spc_digest(blob) == linear_digest(signed) == authenticode_digest(signed)
    # the embedded certificate is the signer's
    assert certs[0] == 0xA0
    assert der(certs[1])[2] == identity.certs[0].public_bytes(serialization.Encoding.DER)
    [signer_info] = der_children(signer_infos[1])
    fields = der_children(signer_info[1])
    attrs, signature = fields[3], fields[5]
    assert attrs[0] == 0xA0
    attributes = {
        der_children(a[1])[0][2]: der_children(a[1])[1][1] for a in der_children(attrs[1])
    }
    # messageDigest covers the content octets of SpcIndirectDataContent (Authenticode rule)
    message_digest = der(attributes[_oid("1.2.840.113549.1.9.4")])[1]
    assert message_digest == hashlib.sha256(indirect[1]).digest()
    assert attributes[_oid("1.2.840.113549.1.9.3")] == _oid(OID_SPC_INDIRECT_DATA)
    assert der(attributes[_oid("1.2.840.113549.1.9.5")])[1] == b"260102030405Z"
    # the RSA PKCS#1 v1.5 signature is over the attributes re-tagged as a SET
    signed_attrs = b"\x31" + attrs[2][1:]
    public = identity.certs[0].public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    public.verify(signature[1], signed_attrs, padding.PKCS1v15(), hashes.SHA256())


def test_second_signature_is_appended_and_first_kept(identity: SigningIdentity) -> None:
    other = generate_ephemeral_identity()
    once = sign_pe(make_pe(trailing=b"abc"), identity.key, identity.certs)
    twice = sign_pe(once, other.key, other.certs)
    first, second = signatures(twice)
    assert first == signatures(once)[0]
    assert spc_digest(first) == spc_digest(second) == authenticode_digest(twice)
    assert twice[: parse_pe(once).cert_table_offset] != once[: parse_pe(once).cert_table_offset]
    layout = parse_pe(twice)
    assert layout.cert_table_offset == parse_pe(once).cert_table_offset
    assert [e.offset % 8 for e in certificates(twice)] == [0, 0]
    (stored,) = struct.unpack_from("<I", twice, layout.checksum_offset)
    assert stored == independent_checksum(twice)


def test_digest_skips_exactly_checksum_security_entry_and_table() -> None:
    image = bytearray(make_pe())
    layout = parse_pe(bytes(image))
    base = authenticode_digest(bytes(image))
    for offset in (layout.checksum_offset, layout.security_dir_offset + 4):
        changed = bytearray(image)
        changed[offset] ^= 0xFF
        assert authenticode_digest(bytes(changed), layout) == base
    for offset in (0x10, layout.security_dir_offset - 1, layout.security_dir_offset + 8, 0x250):
        changed = bytearray(image)
        changed[offset] ^= 0xFF
        assert authenticode_digest(bytes(changed)) != base


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "no MZ header"),
        (b"#!/bin/sh\n" * 10, "no MZ header"),
        (b"MZ" + b"\0" * 100, "no PE signature"),
        (make_pe()[:0x160], "truncated PE section table"),
    ],
)
def test_not_a_pe_file_is_refused(identity: SigningIdentity, data: bytes, message: str) -> None:
    with pytest.raises(PeFormatError, match=message):
        sign_pe(data, identity.key, identity.certs)


def test_certificate_table_not_at_end_is_refused(identity: SigningIdentity) -> None:
    signed = sign_pe(make_pe(), identity.key, identity.certs)
    with pytest.raises(PeFormatError, match="not at the end"):
        sign_pe(signed + b"\0" * 8, identity.key, identity.certs)


def test_real_samples_digest_matches_microsofts_signatures(efi_samples: Path) -> None:
    shim = (efi_samples / SHIM).read_bytes()
    blobs = signatures(shim)
    assert len(blobs) == 2
    # Microsoft's two signatures are over the same digest our code computes
    assert [spc_digest(b) for b in blobs] == [authenticode_digest(shim)] * 2
    for rel in (SHIM, SYSTEMD_BOOT, UKI_STUB):
        data = (efi_samples / rel).read_bytes()
        layout = parse_pe(data)
        assert pe_checksum(data, layout.checksum_offset) == independent_checksum(data)


def _folded_word_sum(data: bytes, checksum_offset: int) -> int:
    buf = bytearray(data)
    buf[checksum_offset : checksum_offset + 4] = bytes(4)
    buf += b"\0" * (len(buf) % 2)
    total = 0
    for (word,) in struct.iter_unpack("<H", bytes(buf)):
        total += word
        total = (total & 0xFFFF) + (total >> 16)
    return total + len(data)


@pytest.mark.parametrize(
    "data",
    [
        bytes(range(256)) * 3 + b"\x01",  # odd length
        b"\xff\xff" * 64,  # word sum is a multiple of 0xFFFF: folds to 0xFFFF, not 0
        b"\0" * 64,
        hashlib.sha512(b"x").digest() * 1001,
    ],
)
def test_checksum_edge_cases(data: bytes) -> None:
    assert pe_checksum(data, 8) == _folded_word_sum(data, 8)
