"""Authenticode signing of PE/COFF (EFI) files, in pure Python.

What this module does, following Microsoft's "Windows Authenticode Portable Executable
Signature Format":

* :func:`parse_pe` finds the checksum field, the security data directory (entry 4), the
  headers, the sections and the attribute certificate table.
* :func:`authenticode_digest` hashes the image the way the spec says: the headers without
  the checksum and the security directory entry, the sections in file order, then any
  remaining data up to the certificate table (which is never hashed).
* :func:`build_signed_data` makes the PKCS#7 SignedData over an SpcIndirectDataContent
  (SHA-256, RSA PKCS#1 v1.5 or ECDSA), with the signed attributes contentType,
  signingTime, SpcSpOpusInfo and messageDigest. The DER is written by hand.
* :func:`sign_pe` appends that signature as a new WIN_CERTIFICATE (revision 0x0200, type
  PKCS_SIGNED_DATA, 8-byte aligned) after any existing ones, as pesign and sbsign do, so
  Microsoft's signatures on shim are kept. It updates the data directory and recomputes
  the PE checksum.

Everything works on ``bytes`` in memory; nothing here touches the file system.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from ocisign.errors import ArtifactError
from ocisign.util.der import integer as _int
from ocisign.util.der import oid as _oid
from ocisign.util.der import tlv as _tlv

if TYPE_CHECKING:
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

WIN_CERT_REVISION_2_0 = 0x0200
WIN_CERT_TYPE_PKCS_SIGNED_DATA = 0x0002
_SECURITY_DIRECTORY = 4

# object identifiers used in the SignedData
OID_SHA256 = "2.16.840.1.101.3.4.2.1"
OID_RSA_ENCRYPTION = "1.2.840.113549.1.1.1"
OID_ECDSA_SHA256 = "1.2.840.10045.4.3.2"
OID_SIGNED_DATA = "1.2.840.113549.1.7.2"
OID_CONTENT_TYPE = "1.2.840.113549.1.9.3"
OID_MESSAGE_DIGEST = "1.2.840.113549.1.9.4"
OID_SIGNING_TIME = "1.2.840.113549.1.9.5"
OID_SPC_INDIRECT_DATA = "1.3.6.1.4.1.311.2.1.4"
OID_SPC_SP_OPUS_INFO = "1.3.6.1.4.1.311.2.1.12"
OID_SPC_PE_IMAGE_DATA = "1.3.6.1.4.1.311.2.1.15"


class PeFormatError(ArtifactError):
    """The file is not a PE/COFF image this module can sign."""


@dataclass(frozen=True)
class PeLayout:
    """Where the parts of a PE file are that Authenticode cares about (file offsets)."""

    checksum_offset: int
    security_dir_offset: int
    size_of_headers: int
    sections: tuple[tuple[int, int], ...]  # (PointerToRawData, SizeOfRawData), file order
    cert_table_offset: int  # 0 when the image is unsigned
    cert_table_size: int


@dataclass(frozen=True)
class WinCertificate:
    """One entry of the attribute certificate table."""

    offset: int
    revision: int
    cert_type: int
    data: bytes  # bCertificate: for PKCS_SIGNED_DATA, a DER PKCS#7 ContentInfo


def parse_pe(data: bytes) -> PeLayout:
    """Parse the parts of a PE/COFF image needed to hash and sign it.

    Refused (PeFormatError naming the field): a truncated header, a SizeOfOptionalHeader
    too small for the optional header it announces, a SizeOfHeaders that ends before the
    section table (the table would not be hashed), and sections that overlap the headers
    or each other (bytes hashed twice, or the hash not covering what is loaded).
    """
    try:
        return _parse_pe(data)
    except struct.error:  # a read past the end that a check below missed
        raise PeFormatError("truncated PE headers") from None


def _parse_pe(data: bytes) -> PeLayout:
    if len(data) < 0x40 or data[:2] != b"MZ":
        raise PeFormatError("not a PE file (no MZ header)")
    (pe_offset,) = struct.unpack_from("<I", data, 0x3C)
    if pe_offset + 24 > len(data) or data[pe_offset : pe_offset + 4] != b"PE\0\0":
        raise PeFormatError("not a PE file (no PE signature)")
    nsections, opt_size = struct.unpack_from("<H12xH", data, pe_offset + 6)
    opt = pe_offset + 24
    if opt + opt_size > len(data) or opt_size < 2:
        raise PeFormatError("truncated PE optional header")
    (magic,) = struct.unpack_from("<H", data, opt)
    if magic == 0x10B:
        dirs = opt + 96
    elif magic == 0x20B:
        dirs = opt + 112
    else:
        raise PeFormatError(f"unknown PE optional header magic 0x{magic:04x}")
    if dirs > opt + opt_size:
        raise PeFormatError(
            f"SizeOfOptionalHeader {opt_size} is too small: the "
            f"{'PE32' if magic == 0x10B else 'PE32+'} optional header needs {dirs - opt} bytes "
            "before its data directories"
        )
    (ndirs,) = struct.unpack_from("<I", data, dirs - 4)
    if ndirs <= _SECURITY_DIRECTORY or dirs + 8 * ndirs > opt + opt_size:
        raise PeFormatError("the PE optional header has no security data directory")
    security = dirs + 8 * _SECURITY_DIRECTORY
    cert_offset, cert_size = struct.unpack_from("<II", data, security)
    (size_of_headers,) = struct.unpack_from("<I", data, opt + 60)
    table = opt + opt_size
    table_end = table + 40 * nsections
    if table_end > len(data) or size_of_headers > len(data):
        raise PeFormatError("truncated PE section table")
    if size_of_headers < table_end:
        raise PeFormatError(
            f"SizeOfHeaders 0x{size_of_headers:x} ends before the end of the section table "
            f"(0x{table_end:x}), so the section table would not be signed"
        )
    sections = []
    for i in range(nsections):
        entry = table + 40 * i
        size, pointer = struct.unpack_from("<II", data, entry + 16)
        if size:
            if pointer + size > len(data):
                raise PeFormatError("a PE section extends beyond the end of the file")
            name = data[entry : entry + 8].rstrip(b"\0").decode("ascii", "replace")
            sections.append((pointer, size, name or f"#{i + 1}"))
    sections.sort()
    previous_end, previous = size_of_headers, "the headers (SizeOfHeaders)"
    for pointer, size, name in sections:
        if pointer < previous_end:
            raise PeFormatError(
                f"PE section {name!r} at 0x{pointer:x} overlaps {previous}, which end at "
                f"0x{previous_end:x}"
            )
        previous_end, previous = pointer + size, f"section {name!r}"
    if cert_size and (cert_offset < size_of_headers or cert_offset + cert_size > len(data)):
        raise PeFormatError("the PE certificate table lies outside the file")
    return PeLayout(
        checksum_offset=opt + 64,
        security_dir_offset=security,
        size_of_headers=size_of_headers,
        sections=tuple((pointer, size) for pointer, size, _ in sections),
        cert_table_offset=cert_offset if cert_size else 0,
        cert_table_size=cert_size,
    )


def authenticode_digest(data: bytes, layout: PeLayout | None = None) -> bytes:
    """The SHA-256 Authenticode digest of a PE image (the certificate table excluded)."""
    layout = layout or parse_pe(data)
    view = memoryview(data)
    h = hashlib.sha256()
    h.update(view[: layout.checksum_offset])
    h.update(view[layout.checksum_offset + 4 : layout.security_dir_offset])
    h.update(view[layout.security_dir_offset + 8 : layout.size_of_headers])
    hashed = layout.size_of_headers
    for pointer, size in layout.sections:
        h.update(view[pointer : pointer + size])
        hashed += size
    end = len(data) - layout.cert_table_size
    if hashed < end:  # data after the last section (debug info, padding), as the spec says
        h.update(view[hashed:end])
    return h.digest()


def pe_checksum(data: bytes, checksum_offset: int) -> int:
    """The PE image checksum (the checksum field counts as zero).

    The classic algorithm adds the file's 16-bit little-endian words with end-around carry
    and adds the file length. Since 2**16 == 1 (mod 0xFFFF), that folded sum is the file
    read as one little-endian integer, mod 0xFFFF (0xFFFF instead of 0 unless all zero);
    Python's big integers make that one fast C-level operation.
    """
    buf = bytearray(data)
    buf[checksum_offset : checksum_offset + 4] = b"\0\0\0\0"
    folded = int.from_bytes(buf, "little") % 0xFFFF
    if folded == 0 and buf.count(0) != len(buf):
        folded = 0xFFFF
    return (folded + len(data)) & 0xFFFFFFFF


def certificates(data: bytes, layout: PeLayout | None = None) -> list[WinCertificate]:
    """The entries of the attribute certificate table, in file order."""
    layout = layout or parse_pe(data)
    entries = []
    offset = layout.cert_table_offset
    end = offset + layout.cert_table_size
    while offset + 8 <= end:
        length, revision, cert_type = struct.unpack_from("<IHH", data, offset)
        if length < 8 or offset + length > end:
            raise PeFormatError("malformed WIN_CERTIFICATE entry in the PE certificate table")
        entries.append(
            WinCertificate(offset, revision, cert_type, data[offset + 8 : offset + length])
        )
        offset += _align8(length)
    return entries


def signatures(data: bytes) -> list[bytes]:
    """The PKCS#7 SignedData blobs embedded in a PE image, in file order."""
    return [
        entry.data
        for entry in certificates(data)
        if entry.cert_type == WIN_CERT_TYPE_PKCS_SIGNED_DATA
    ]


def sign_pe(data: bytes, key: PrivateKeyTypes, certs: list[x509.Certificate],
            signing_time: datetime | None = None) -> bytes:
    """Return ``data`` with one more Authenticode signature (``certs[0]`` is the signer's)."""
    layout = parse_pe(data)
    if layout.cert_table_size:
        if layout.cert_table_offset + layout.cert_table_size != len(data):
            raise PeFormatError(
                "the PE certificate table is not at the end of the file; cannot append a signature"
            )
        certificates(data, layout)  # refuse a malformed table before appending to it
        image = bytearray(data[: layout.cert_table_offset])
        table = bytearray(data[layout.cert_table_offset :])
        table += b"\0" * (_align8(len(table)) - len(table))
    else:
        image = bytearray(data)
        table = bytearray()
        # the certificate table starts 8-byte aligned; the padding is part of the hashed image
        image += b"\0" * (_align8(len(image)) - len(image))
    digest = authenticode_digest(
        bytes(image), replace(layout, cert_table_offset=0, cert_table_size=0)
    )
    blob = build_signed_data(digest, key, certs, signing_time)
    table += struct.pack(
        "<IHH", 8 + len(blob), WIN_CERT_REVISION_2_0, WIN_CERT_TYPE_PKCS_SIGNED_DATA
    )
    table += blob + b"\0" * (_align8(len(blob)) - len(blob))
    struct.pack_into("<II", image, layout.security_dir_offset, len(image), len(table))
    out = image + table
    struct.pack_into(
        "<I", out, layout.checksum_offset, pe_checksum(bytes(out), layout.checksum_offset)
    )
    return bytes(out)


def build_signed_data(digest: bytes, key: PrivateKeyTypes, certs: list[x509.Certificate],
                      signing_time: datetime | None = None) -> bytes:
    """A DER PKCS#7 ContentInfo(SignedData) over an Authenticode PE image digest (SHA-256)."""
    if not certs:
        raise ArtifactError("no signing certificate given")
    sha256_alg = _seq(_oid(OID_SHA256), _NULL)
    pe_image_data = _seq(
        _tlv(0x03, b"\0"),  # flags: empty BIT STRING
        _tlv(0xA0, _tlv(0xA2, _tlv(0x80, "<<<Obsolete>>>".encode("utf-16-be")))),
    )
    indirect = _seq(
        _seq(_oid(OID_SPC_PE_IMAGE_DATA), pe_image_data),
        _seq(sha256_alg, _tlv(0x04, digest)),
    )
    # Authenticode's messageDigest covers the content octets of SpcIndirectDataContent only
    content_octets = indirect[_header_length(indirect) :]
    when = (signing_time or datetime.now(UTC)).astimezone(UTC)
    attributes = [
        _seq(_oid(OID_CONTENT_TYPE), _set(_oid(OID_SPC_INDIRECT_DATA))),
        _seq(_oid(OID_SIGNING_TIME), _set(_tlv(0x17, when.strftime("%y%m%d%H%M%SZ").encode()))),
        _seq(_oid(OID_SPC_SP_OPUS_INFO), _set(_seq())),
        _seq(_oid(OID_MESSAGE_DIGEST), _set(_tlv(0x04, hashlib.sha256(content_octets).digest()))),
    ]
    signed_attrs = _set(*attributes)
    if isinstance(key, rsa.RSAPrivateKey):
        signature = key.sign(signed_attrs, padding.PKCS1v15(), hashes.SHA256())
        signature_alg = _seq(_oid(OID_RSA_ENCRYPTION), _NULL)
    elif isinstance(key, ec.EllipticCurvePrivateKey):
        signature = key.sign(signed_attrs, ec.ECDSA(hashes.SHA256()))
        signature_alg = _seq(_oid(OID_ECDSA_SHA256))
    else:
        raise ArtifactError("Authenticode signing needs an RSA or EC private key")
    signer = certs[0]
    signer_info = _seq(
        _int(1),
        _seq(signer.issuer.public_bytes(), _int(signer.serial_number)),
        sha256_alg,
        _tlv(0xA0, signed_attrs[_header_length(signed_attrs) :]),
        signature_alg,
        _tlv(0x04, signature),
    )
    signed_data = _seq(
        _int(1),
        _set(sha256_alg),
        _seq(_oid(OID_SPC_INDIRECT_DATA), _tlv(0xA0, indirect)),
        _tlv(0xA0, b"".join(c.public_bytes(serialization.Encoding.DER) for c in certs)),
        _set(signer_info),
    )
    return _seq(_oid(OID_SIGNED_DATA), _tlv(0xA0, signed_data))


def _align8(n: int) -> int:
    return (n + 7) & ~7


# --- minimal DER writer -------------------------------------------------------------

_NULL = b"\x05\x00"


def _header_length(der: bytes) -> int:
    return 2 if der[1] < 0x80 else 2 + (der[1] & 0x7F)


def _seq(*items: bytes) -> bytes:
    return _tlv(0x30, b"".join(items))


def _set(*items: bytes) -> bytes:
    return _tlv(0x31, b"".join(sorted(items)))  # DER orders SET OF by encoding
