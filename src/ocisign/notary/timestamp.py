"""RFC 3161 timestamp tokens: parse and verify a TimeStampToken against TSA roots.

A token is DER CMS SignedData (RFC 5652) whose content is a TSTInfo. This module reads
just the fields verification needs with a small DER walker, then checks, like
notation-go's ``verifyTimestamp`` (via tspclient-go):

1. the content type is id-ct-TSTInfo and the messageImprint is the hash of the raw
   primitive signature bytes;
2. the SignerInfo's messageDigest equals the hash of the TSTInfo, and its signature over
   the signed attributes verifies with the TSA certificate's key (RSA PKCS#1 v1.5 or
   ECDSA, SHA-256/384/512);
3. the TSA certificate chains, through the token's certificates, to a root of the
   ``tsa`` trust store, every link valid at genTime;
4. the TSA certificate's EKU is critical and only ``timeStamping``;
5. the signed signing-certificate attribute (ESSCertIDv2, RFC 5816, or ESSCertID, RFC
   2634), which RFC 3161 requires, names that certificate: its first certHash is the hash
   of the certificate that verified the signature.

The TSA chain's revocation is checked by the caller (:mod:`ocisign.notary.revocation`).

:func:`request_response` is the signing side (notation-core-go ``internal/timestamp``): an
RFC 3161 request over the primitive signature (hash of the key spec, a nonce, certReq)
POSTed to the TSA, the response's status and nonce checked, then the token by
:func:`verify` (imprint, signature, chain to the given root, EKU timeStamping).
``rfc3161-client`` builds the SHA-256/512 requests; it builds no SHA-384 request (encoded
here), and it parses strict DER only: it refuses the tokens of OpenSSL's TSA and of the
TSAs in notation's vectors (their certificate SETs are not in DER order, which Go and
OpenSSL accept), so responses and tokens are read by the walker below.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID

from ocisign.config.truststore import read_certificates
from ocisign.errors import SignatureError, VerificationError
from ocisign.keys.codesigning import is_self_signed
from ocisign.notary import revocation
from ocisign.util import der

OID_SIGNED_DATA = "1.2.840.113549.1.7.2"
OID_TST_INFO = "1.2.840.113549.1.9.16.1.4"
OID_CONTENT_TYPE = "1.2.840.113549.1.9.3"
OID_MESSAGE_DIGEST = "1.2.840.113549.1.9.4"
OID_SIGNING_CERT = "1.2.840.113549.1.9.16.2.12"  # ESSCertID: SHA-1 certHash
OID_SIGNING_CERT_V2 = "1.2.840.113549.1.9.16.2.47"  # ESSCertIDv2: hash default SHA-256
_HASHES = {
    "2.16.840.1.101.3.4.2.1": "sha256",
    "2.16.840.1.101.3.4.2.2": "sha384",
    "2.16.840.1.101.3.4.2.3": "sha512",
}
_RSA_OIDS = {
    "1.2.840.113549.1.1.1",  # rsaEncryption
    "1.2.840.113549.1.1.11",  # sha256WithRSAEncryption
    "1.2.840.113549.1.1.12",  # sha384WithRSAEncryption
    "1.2.840.113549.1.1.13",  # sha512WithRSAEncryption
}
_ECDSA_OIDS = {"1.2.840.10045.4.3.2", "1.2.840.10045.4.3.3", "1.2.840.10045.4.3.4"}


@dataclass(frozen=True)
class _Node:
    """One DER TLV: its tag byte, full encoding and content octets."""

    tag: int
    raw: bytes
    content: bytes

    def children(self) -> list[_Node]:
        out, pos = [], 0
        while pos < len(self.content):
            node, pos = _read(self.content, pos)
            out.append(node)
        return out


def _bad(msg: str) -> VerificationError:
    return VerificationError(f"failed to parse timestamp countersignature with error: {msg}")


def _read(data: bytes, pos: int) -> tuple[_Node, int]:
    if pos + 2 > len(data):
        raise _bad("truncated DER")
    tag = data[pos]
    if tag & 0x1F == 0x1F:
        raise _bad("multi-byte DER tags are not supported")
    length, head = data[pos + 1], pos + 2
    if length & 0x80:
        count = length & 0x7F
        if count == 0 or count > 4 or head + count > len(data):
            raise _bad("bad DER length")
        length = int.from_bytes(data[head : head + count], "big")
        head += count
    end = head + length
    if end > len(data):
        raise _bad("truncated DER")
    return _Node(tag, data[pos:end], data[head:end]), end


def _parse(data: bytes) -> _Node:
    node, end = _read(data, 0)
    if end != len(data):
        raise _bad("trailing data after DER value")
    return node


def _oid(node: _Node) -> str:
    if node.tag != 0x06 or not node.content:
        raise _bad("expected an OBJECT IDENTIFIER")
    first = node.content[0]
    parts = [min(first // 40, 2), first - 40 * min(first // 40, 2)]
    value = 0
    for byte in node.content[1:]:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            parts.append(value)
            value = 0
    return ".".join(str(p) for p in parts)


def _gentime(node: _Node) -> datetime:
    if node.tag != 0x18:
        raise _bad("expected genTime (GeneralizedTime)")
    text = node.content.decode("ascii").rstrip("Z")
    main, _, frac = text.partition(".")
    value = datetime.strptime(main, "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    return value + timedelta(microseconds=int((frac + "000000")[:6])) if frac else value


@dataclass(frozen=True)
class TimestampInfo:
    """What a verified token says: genTime and its accuracy window."""

    gen_time: datetime
    accuracy: timedelta
    tsa_chain: list[x509.Certificate]
    nonce: int | None = None

    @property
    def earliest(self) -> datetime:
        return self.gen_time - self.accuracy

    @property
    def latest(self) -> datetime:
        return self.gen_time + self.accuracy


def _accuracy(node: _Node) -> timedelta:
    acc = timedelta()
    for part in node.children():
        number = int.from_bytes(part.content, "big")
        if part.tag == 0x02:
            acc += timedelta(seconds=number)
        elif part.tag == 0x80:
            acc += timedelta(milliseconds=number)
        elif part.tag == 0x81:
            acc += timedelta(microseconds=number)
    return acc


def _hash(oid: str, data: bytes) -> bytes:
    name = _HASHES.get(oid)
    if name is None:
        raise VerificationError(f"unsupported hash algorithm {oid} in the timestamp token")
    return hashlib.new(name, data).digest()


def _verify_signature(
    cert: x509.Certificate, sig_oid: str, digest_oid: str, sig: bytes, data: bytes
) -> None:
    algo = {"sha256": hashes.SHA256(), "sha384": hashes.SHA384(), "sha512": hashes.SHA512()}[
        _HASHES[digest_oid]
    ]
    key = cert.public_key()
    try:
        if sig_oid in _RSA_OIDS and isinstance(key, rsa.RSAPublicKey):
            key.verify(sig, data, padding.PKCS1v15(), algo)
        elif sig_oid in _ECDSA_OIDS and isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(sig, data, ec.ECDSA(algo))
        else:
            raise VerificationError(
                f"unsupported timestamp signature algorithm {sig_oid} for the TSA key"
            )
    except InvalidSignature:
        raise VerificationError(
            "failed to verify the timestamp countersignature with error: "
            "the TSA signature does not verify"
        ) from None


def _tsa_chain(
    signer: x509.Certificate,
    pool: list[x509.Certificate],
    roots: list[x509.Certificate],
    at: datetime,
) -> list[x509.Certificate]:
    root_der = {r.public_bytes(Encoding.DER) for r in roots}
    chain = [signer]
    for _ in range(10):
        current = chain[-1]
        if not current.not_valid_before_utc <= at <= current.not_valid_after_utc:
            raise VerificationError(
                "failed to verify the timestamp countersignature with error: certificate "
                f'"{current.subject.rfc4514_string()}" is not valid at the timestamp {at}'
            )
        if current.public_bytes(Encoding.DER) in root_der:
            return chain
        for candidate in roots + [c for c in pool if c not in chain]:
            try:
                current.verify_directly_issued_by(candidate)
            except (ValueError, TypeError, InvalidSignature):
                continue
            chain.append(candidate)
            break
        else:
            raise VerificationError(
                "failed to verify the timestamp countersignature with error: the TSA "
                "certificate does not chain to a certificate of the tsa trust store"
            )
    raise VerificationError("the TSA certificate chain is too long")


def _check_tsa_leaf(cert: x509.Certificate) -> None:
    try:
        ext = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    except x509.ExtensionNotFound:
        ext = None
    if ext is None or not ext.critical or list(ext.value) != [ExtendedKeyUsageOID.TIME_STAMPING]:
        raise VerificationError(
            "failed to validate the timestamping certificate chain with error: the TSA "
            "certificate's extended key usage must be critical and only timeStamping"
        )


def verify(
    token: bytes, signature: bytes, roots: list[x509.Certificate],
    intermediates: Sequence[x509.Certificate] = (),
) -> TimestampInfo:
    """Verify an RFC 3161 token over ``signature`` against ``roots`` (VerificationError);
    ``intermediates`` are certificates (the TSA's own included) that the token may lack."""
    try:
        return _verify(token, signature, roots, list(intermediates))
    except (IndexError, StopIteration, ValueError, TypeError, RecursionError) as exc:
        raise _bad(str(exc) or "malformed token") from None  # e.g. a malformed signer id


def _verify(
    token: bytes, signature: bytes, roots: list[x509.Certificate],
    intermediates: list[x509.Certificate],
) -> TimestampInfo:
    if not roots:
        raise VerificationError("no trusted TSA certificate found in trust store")
    try:
        top = _parse(token).children()
        if len(top) < 2 or _oid(top[0]) != OID_SIGNED_DATA or top[1].tag != 0xA0:
            raise _bad("not a CMS SignedData")
        sd = top[1].children()[0].children()
        encap = sd[2].children()
        if _oid(encap[0]) != OID_TST_INFO:
            raise _bad("the content type is not TSTInfo")
        tst_der = encap[1].children()[0].content
        certs = [
            x509.load_der_x509_certificate(c.raw)
            for n in sd[3:]
            if n.tag == 0xA0
            for c in n.children()
        ]
        signer_infos = sd[-1].children()
        if sd[-1].tag != 0x31 or not signer_infos:
            raise _bad("no SignerInfo")
        si = signer_infos[0].children()
        tst = _parse(tst_der).children()
    except (IndexError, ValueError, UnicodeDecodeError) as exc:
        raise _bad(str(exc) or "malformed token") from None
    try:
        # messageImprint = hash of the raw signature bytes
        imprint = tst[2].children()
        hash_oid = _oid(imprint[0].children()[0])
        if _hash(hash_oid, signature) != imprint[1].content:
            raise VerificationError(
                "failed to get timestamp from timestamp countersignature with error: the "
                "messageImprint does not match the signature"
            )
        gen_time = _gentime(tst[4])
        accuracy = next((_accuracy(n) for n in tst[5:] if n.tag == 0x30), timedelta())
        nonce = next((int.from_bytes(n.content, "big", signed=True) for n in tst[5:]
                      if n.tag == 0x02), None)
        # SignerInfo: version, sid, digestAlgorithm, [0] signedAttrs, sigAlg, signature
        sid, digest_oid = si[1], _oid(si[2].children()[0])
        attrs = next((n for n in si[3:] if n.tag == 0xA0), None)
        sig_alg = next(n for n in si[3:] if n.tag == 0x30)
        sig_value = next(n for n in si[3:] if n.tag == 0x04).content
        if attrs is None:
            raise _bad("the SignerInfo has no signed attributes")
        values = {_oid(a.children()[0]): a.children()[1].children()[0] for a in attrs.children()}
        if OID_MESSAGE_DIGEST not in values or values[OID_MESSAGE_DIGEST].content != _hash(
            digest_oid, tst_der
        ):
            raise VerificationError(
                "failed to verify the timestamp countersignature with error: the messageDigest "
                "does not match the TSTInfo"
            )
        if OID_CONTENT_TYPE in values and _oid(values[OID_CONTENT_TYPE]) != OID_TST_INFO:
            raise _bad("the signed content type is not TSTInfo")
    except (IndexError, StopIteration, ValueError, UnicodeDecodeError) as exc:
        raise _bad(str(exc) or "malformed token") from None
    certs += [c for c in intermediates if c not in certs]
    signer = _find_signer(sid, certs)
    _verify_signature(
        signer, _oid(sig_alg.children()[0]), digest_oid, sig_value, b"\x31" + attrs.raw[1:]
    )
    _check_signing_certificate(values, signer)
    chain = _tsa_chain(signer, certs, roots, gen_time)
    _check_tsa_leaf(signer)
    return TimestampInfo(gen_time, accuracy, chain, nonce)


def _check_signing_certificate(values: dict[str, _Node], signer: x509.Certificate) -> None:
    """The signed ESSCertIDv2 (or ESSCertID) names ``signer``: its first certHash matches."""
    try:
        if OID_SIGNING_CERT_V2 in values:
            first = values[OID_SIGNING_CERT_V2].children()[0].children()[0].children()
            name = "sha256"
            if first[0].tag == 0x30:  # hashAlgorithm present (DEFAULT sha256 when absent)
                name = _HASHES.get(_oid(first[0].children()[0]), "")
                first = first[1:]
            expected = first[0].content
        elif OID_SIGNING_CERT in values:
            name = "sha1"
            expected = values[OID_SIGNING_CERT].children()[0].children()[0].children()[0].content
        else:
            raise VerificationError(
                "failed to verify the timestamp countersignature with error: the token has no "
                "signing-certificate attribute (RFC 3161 requires ESSCertID or ESSCertIDv2)")
    except (IndexError, ValueError) as exc:
        raise _bad(str(exc) or "malformed signing-certificate attribute") from None
    if not name:
        raise _bad("the signing-certificate attribute uses an unsupported hash")
    if hashlib.new(name, signer.public_bytes(Encoding.DER)).digest() != expected:
        raise VerificationError(
            "failed to verify the timestamp countersignature with error: the signing-"
            "certificate attribute does not name the certificate that signed the token")


def _find_signer(sid: _Node, certs: list[x509.Certificate]) -> x509.Certificate:
    if sid.tag == 0x30:  # IssuerAndSerialNumber
        issuer, serial = sid.children()
        number = int.from_bytes(serial.content, "big", signed=True)
        for cert in certs:
            if cert.serial_number == number and cert.issuer.public_bytes() == issuer.raw:
                return cert
    elif sid.tag == 0x80:  # subjectKeyIdentifier
        for cert in certs:
            try:
                ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
            except x509.ExtensionNotFound:
                continue
            if ski.value.digest == sid.content:
                return cert
    raise VerificationError(
        "failed to verify the timestamp countersignature with error: the TSA signing "
        "certificate is not in the token"
    )


TSA_TIMEOUT = 15.0  # notation sign's timestamping timeout
MAX_RESPONSE = 1024 * 1024
_SHA_OIDS = {v: k for k, v in _HASHES.items()}


def build_request(data: bytes, hash_name: str) -> tuple[bytes, int]:
    """A DER TimeStampReq (v1, imprint of ``data``, a 64-bit nonce, certReq) and its nonce."""
    if hash_name in ("sha256", "sha512"):
        from rfc3161_client import HashAlgorithm, TimestampRequestBuilder

        algorithm = HashAlgorithm.SHA256 if hash_name == "sha256" else HashAlgorithm.SHA512
        request = TimestampRequestBuilder(data, algorithm, nonce=True, cert_req=True).build()
        assert request.nonce is not None
        return request.as_bytes(), request.nonce
    nonce = int.from_bytes(os.urandom(8), "big")
    algorithm_id = der.tlv(0x30, der.oid(_SHA_OIDS[hash_name]) + b"\x05\x00")
    imprint = der.tlv(0x30, algorithm_id + der.tlv(0x04, hashlib.new(hash_name, data).digest()))
    body = der.integer(1) + imprint + der.integer(nonce) + b"\x01\x01\xff"
    return der.tlv(0x30, body), nonce


def load_root(path: str) -> x509.Certificate:
    """``--timestamp-root-cert``: exactly one self-signed certificate, PEM or DER."""
    try:
        certs = read_certificates(Path(path))
    except (OSError, ValueError) as exc:
        raise SignatureError(f"failed to read {path!r}: {exc}") from None
    expect = "Expecting single x509 root certificate in PEM or DER format from the file"
    if not certs:
        raise SignatureError(f'cannot find any certificate from "{path}". {expect}')
    if len(certs) > 1:
        raise SignatureError(f'found more than one certificates from "{path}". {expect}')
    if not is_self_signed(certs[0]):
        raise SignatureError(f'certificate from "{path}" is not a root certificate. {expect}')
    return certs[0]


def _tsa_error(detail: str) -> SignatureError:
    return SignatureError(
        f"timestamp: {detail}",
        hint="check --timestamp-url and that --timestamp-root-cert is the TSA's root",
    )


def response_token(response: bytes) -> bytes:
    """The TimeStampToken of a granted DER TimeStampResp (VerificationError)."""
    try:
        parts = _parse(response).children()
        status = int.from_bytes(parts[0].children()[0].content, "big")
    except IndexError:
        raise _bad("malformed timestamp response") from None
    if status not in (0, 1) or len(parts) < 2:  # granted, grantedWithMods
        raise VerificationError(f"the TSA refused the request (PKIStatus {status})")
    return parts[1].raw


def request_response(
    url: str,
    signature: bytes,
    hash_name: str,
    root: x509.Certificate,
    options: revocation.Options,
    timeout: float = TSA_TIMEOUT,
) -> tuple[bytes, bytes]:
    """Timestamp ``signature`` at ``url``: ``(response, token)``, the TSA's DER
    TimeStampResp (what a Sigstore bundle stores) and its checked TimeStampToken
    (SignatureError)."""
    query, nonce = build_request(signature, hash_name)
    try:
        body = revocation.fetch(url, timeout, MAX_RESPONSE, "timestamping", query,
                                "application/timestamp-query")
    except revocation.FetchError as exc:
        raise _tsa_error(f"failed to get a timestamp from {url}: {exc}") from None
    try:
        token = response_token(body)
    except VerificationError as exc:
        raise _tsa_error(f"invalid timestamp response from {url}: {exc.message}") from None
    try:
        info = verify(token, signature, [root])
    except VerificationError as exc:
        raise _tsa_error(f"invalid timestamp response from {url}: {exc.message}") from None
    if info.nonce != nonce:
        raise _tsa_error(f"invalid timestamp response from {url}: the nonce does not match "
                         "the request")
    try:
        results = revocation.check_chain(info.tsa_chain, options)
    except revocation.ChainError as exc:
        raise _tsa_error("failed to validate the revocation status of timestamping "
                         f"certificate chain with error: {exc}") from None
    problem = revocation.describe(results, "timestamping", topmost_unknown=True)
    if problem:
        raise _tsa_error(problem)
    return body, token


Authority = tuple[list[x509.Certificate], datetime | None, datetime | None]
"""A timestamp authority as a Sigstore trusted root names one: its certificates (leaf,
intermediates, root: the self-signed ones are trusted) and its validity window."""


def verify_any(responses: Sequence[bytes], signature: bytes,
               authorities: Sequence[Authority]) -> TimestampInfo:
    """The first of ``responses`` (DER TimeStampResp) that verifies over ``signature`` with
    one of ``authorities``, genTime inside its window, as sigstore-go's
    ``VerifySignedTimestampWithThreshold(1)`` (VerificationError naming the first failure)."""
    if not responses:
        raise VerificationError("the bundle has no RFC 3161 timestamp",
                                hint="sign with --timestamp-url, or drop --use-signed-timestamps")
    errors = []
    for response in responses:
        try:
            token = response_token(response)
        except VerificationError as exc:
            errors.append(exc.message)
            continue
        for certs, start, end in authorities:
            roots = [c for c in certs if is_self_signed(c)]
            try:
                info = verify(token, signature, roots, [c for c in certs if c not in roots])
            except VerificationError as exc:
                errors.append(exc.message)
                continue
            if (start and info.gen_time < start) or (end and info.gen_time > end):
                errors.append(f"the timestamp {info.gen_time} is outside the timestamp "
                              "authority's validity period")
                continue
            return info
    raise VerificationError(
        f"no RFC 3161 timestamp verifies with the trusted timestamp authorities: {errors[0]}"
        if errors else "no trusted timestamp authority is configured",
        hint="check --trusted-root / --timestamp-certificate-chain: they must hold the chain "
             "of the TSA that stamped the bundle")
