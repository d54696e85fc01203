"""``sign --timestamp-url``: a real RFC 3161 TSA (``openssl ts -reply``) on loopback."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest

from ocisign.envelopes.notary import parse_envelope
from ocisign.notary.revocation import Options
from ocisign.notary.timestamp import build_request, request_response, verify
from tests.fixtures.pki import Pki, PkiFactory, Revoked, make_crl
from tests.tsa.conftest import fresh_layout, signer_env

MEDIA = {"jws": "application/jose+json", "cose": "application/cose"}


def envelope_of(layout: Path, fmt: str) -> bytes:
    index = json.loads((layout / "index.json").read_bytes())
    manifest_digest = index["manifests"][-1]["digest"].split(":")[1]
    manifest = json.loads((layout / "blobs/sha256" / manifest_digest).read_bytes())
    layer = manifest["layers"][0]["digest"].split(":")[1]
    return (layout / "blobs/sha256" / layer).read_bytes()


@pytest.mark.parametrize("fmt", ["jws", "cose"])
def test_sign_with_timestamp(tmp_path: Path, pki: Pki, fmt: str) -> None:
    env = signer_env(tmp_path, pki)
    layout = fresh_layout(tmp_path)
    root = pki.write("tsa-root.pem", pki.tsa_root.pem())
    env.ok("sign", "--oci-layout", f"{layout}:v1", "--signature-format", fmt,
           "--timestamp-url", pki.tsa_url, "--timestamp-root-cert", str(root))
    parsed = parse_envelope(MEDIA[fmt], envelope_of(layout, fmt))
    assert parsed.timestamp_token
    info = verify(parsed.timestamp_token, parsed.signature, [pki.tsa_root.cert])
    assert parsed.signing_time is not None
    assert abs((info.gen_time - parsed.signing_time).total_seconds()) < 120
    assert [c.subject for c in info.tsa_chain] == [pki.tsa_leaf.cert.subject,
                                                   pki.tsa_root.cert.subject]
    assert pki.files.hits["/tsa"] == 1
    # the TSA chain's revocation was asked at sign time
    assert b"Received request" in (pki.ocsp_tsa.folder / "ocsp.log").read_bytes()


@pytest.mark.parametrize("fault", ["nonce", "imprint"])
def test_sign_refuses_bad_tsa_answer(tmp_path: Path, pki: Pki, fault: str) -> None:
    env = signer_env(tmp_path, pki)
    layout = fresh_layout(tmp_path)
    pki.tsa.fault = fault
    root = pki.write("tsa-root.pem", pki.tsa_root.pem())
    result = env.run("sign", "--oci-layout", f"{layout}:v1", "--timestamp-url", pki.tsa_url,
                     "--timestamp-root-cert", str(root))
    assert result.returncode != 0
    assert "timestamp: invalid timestamp response" in result.stderr
    assert {"nonce": "nonce does not match", "imprint": "messageImprint does not match"}[fault] \
        in result.stderr
    assert "Traceback" not in result.stderr
    assert len(json.loads((layout / "index.json").read_bytes())["manifests"]) == 1  # no push


def test_sign_refuses_wrong_root(tmp_path: Path, pki: Pki) -> None:
    env = signer_env(tmp_path, pki)
    layout = fresh_layout(tmp_path)
    other = pki.write("root.pem", pki.root.pem())  # a root, but not the TSA's
    result = env.run("sign", "--oci-layout", f"{layout}:v1", "--timestamp-url", pki.tsa_url,
                     "--timestamp-root-cert", str(other))
    assert result.returncode != 0 and "timestamp: invalid timestamp response" in result.stderr


def test_sign_refuses_revoked_tsa(tmp_path: Path, pki_factory: PkiFactory) -> None:
    """notation 1.3 checks the TSA chain's revocation at signing time."""
    pki = pki_factory.build()
    revoked = Revoked(pki.tsa_leaf.cert.serial_number, pki.tsa_leaf.cert.not_valid_before_utc)
    pki_factory.start(pki.ocsp_tsa, [], [(pki.tsa_leaf, revoked)])
    env = signer_env(tmp_path, pki)
    layout = fresh_layout(tmp_path)
    root = pki.write("tsa-root.pem", pki.tsa_root.pem())
    result = env.run("sign", "--oci-layout", f"{layout}:v1", "--timestamp-url", pki.tsa_url,
                     "--timestamp-root-cert", str(root))
    assert result.returncode != 0
    assert ('timestamping certificate with subject "CN=Test TSA,O=ocisign tests,ST=WA,C=US" '
            "is revoked") in result.stderr
    # via the CRL too (no OCSP answer: the fallback), and "unknown" when the CRL is stale
    pki.ocsp_tsa.stop()
    pki.serve_crl("tsa-root", make_crl(pki.tsa_root, [revoked]))
    result = env.run("sign", "--oci-layout", f"{layout}:v1", "--timestamp-url", pki.tsa_url,
                     "--timestamp-root-cert", str(root))
    assert result.returncode != 0 and "is revoked" in result.stderr
    assert pki.files.hits["/tsa-root.crl"] == 1
    # an expired CRL is served now, but the cached one (notation's cache) is still effective
    pki.serve_crl("tsa-root", make_crl(pki.tsa_root, next_update=-timedelta(minutes=1)))
    result = env.run("sign", "--oci-layout", f"{layout}:v1", "--timestamp-url", pki.tsa_url,
                     "--timestamp-root-cert", str(root))
    assert result.returncode != 0 and "is revoked" in result.stderr
    assert pki.files.hits["/tsa-root.crl"] == 1
    cached = list((tmp_path / "cache" / "crl").iterdir())
    assert [p.name for p in cached] == [hashlib.sha256(pki.crl_url("tsa-root").encode())
                                        .hexdigest()]
    assert cached[0].stat().st_mode & 0o077 == 0
    shutil.rmtree(tmp_path / "cache")
    result = env.run("sign", "--oci-layout", f"{layout}:v1", "--timestamp-url", pki.tsa_url,
                     "--timestamp-root-cert", str(root))
    assert result.returncode != 0 and "revocation status is unknown" in result.stderr



@pytest.mark.parametrize(("args", "message"), [
    (["--timestamp-url", "http://127.0.0.1:1/tsa"],
     "missing [timestamp-root-cert]"),
    (["--timestamp-root-cert", "x.pem"], "missing [timestamp-url]"),
    (["--timestamp-url", "", "--timestamp-root-cert", "x.pem"],
     "timestamping: tsa url cannot be empty"),
])
def test_timestamp_flag_rules(tmp_path: Path, pki: Pki, args: list[str], message: str) -> None:
    env = signer_env(tmp_path, pki)
    layout = fresh_layout(tmp_path)
    result = env.run("sign", "--oci-layout", f"{layout}:v1", *args)
    assert result.returncode != 0 and message in result.stderr
    assert "Traceback" not in result.stderr


def test_timestamp_root_must_be_one_self_signed(tmp_path: Path, pki: Pki) -> None:
    env = signer_env(tmp_path, pki)
    layout = fresh_layout(tmp_path)
    leaf = pki.write("tsa-leaf.pem", pki.tsa_leaf.pem())
    both = pki.write("both.pem", pki.tsa_root.pem() + pki.root.pem())
    for path, message in ((leaf, "is not a root certificate"),
                          (both, "found more than one certificates")):
        result = env.run("sign", "--oci-layout", f"{layout}:v1", "--timestamp-url",
                         pki.tsa_url, "--timestamp-root-cert", str(path))
        assert result.returncode != 0 and message in result.stderr, result.stderr



def test_already_signed_needs_a_timestamp(tmp_path: Path, pki: Pki) -> None:
    """A signature of ours without a token does not satisfy --timestamp-url."""
    env = signer_env(tmp_path, pki)
    layout = fresh_layout(tmp_path)
    root = pki.write("tsa-root.pem", pki.tsa_root.pem())
    flags = ["--timestamp-url", pki.tsa_url, "--timestamp-root-cert", str(root)]
    ref = f"{layout}:v1"
    assert env.ok("sign", "--oci-layout", ref).stdout.startswith("Successfully signed")
    assert env.ok("sign", "--oci-layout", ref, *flags).stdout.startswith("Successfully signed")
    assert env.ok("sign", "--oci-layout", ref, *flags).stdout.startswith("Already signed")
    assert pki.files.hits["/tsa"] == 1


@pytest.mark.parametrize("hash_name", ["sha256", "sha384", "sha512"])
def test_request_per_hash(tmp_path: Path, pki: Pki, hash_name: str) -> None:
    """Requests as openssl reads them (rfc3161-client's for SHA-256/512, ours for SHA-384),
    answered by the real TSA and accepted by request_response's checks."""
    query, nonce = build_request(b"signature bytes", hash_name)
    (tmp_path / "q.tsq").write_bytes(query)
    text = subprocess.run(["openssl", "ts", "-query", "-in", str(tmp_path / "q.tsq"), "-text"],
                          capture_output=True, text=True, check=True).stdout
    assert f"Hash Algorithm: {hash_name}" in text and "Certificate required: yes" in text
    assert f"Nonce: 0x{nonce:X}" in text.replace("Nonce: 0x0", "Nonce: 0x")
    response, token = request_response(pki.tsa_url, b"signature bytes", hash_name,
                                       pki.tsa_root.cert, Options(cache_dir=tmp_path / "crl"))
    assert response.endswith(token)
    assert verify(token, b"signature bytes", [pki.tsa_root.cert]).nonce is not None
    (tmp_path / "t.der").write_bytes(token)
    text = subprocess.run(["openssl", "ts", "-reply", "-in", str(tmp_path / "t.der"),
                           "-token_in", "-text"], capture_output=True, text=True,
                          check=True).stdout
    assert f"Hash Algorithm: {hash_name}" in text


def test_token_signed_by_a_twin_certificate_is_refused(tmp_path: Path, pki: Pki) -> None:
    """A certificate with the TSA's key but other fields, swapped into the token (the
    unsigned certificate set and signer id), still verifies the signature: only the signed
    ESSCertIDv2 attribute tells them apart, and it names the real TSA certificate."""
    from cryptography.hazmat.primitives.serialization import Encoding

    from ocisign.errors import VerificationError
    from ocisign.notary.timestamp import _parse
    from ocisign.util import der
    from tests.fixtures.pki import issue

    _, token = request_response(pki.tsa_url, b"sig", "sha256", pki.tsa_root.cert,
                                Options(cache_dir=tmp_path / "crl"))
    assert verify(token, b"sig", [pki.tsa_root.cert]).nonce is not None
    twin = issue("another TSA", pki.tsa_root, purpose="timeStamping", key=pki.tsa_leaf.key)

    def swap(raw: bytes, old: bytes, new: bytes) -> bytes:
        node = _parse(raw)
        if node.raw == old:
            return new
        if old not in node.raw or not node.tag & 0x20:
            return node.raw
        return der.tlv(node.tag, b"".join(swap(c.raw, old, new) for c in node.children()))

    signed_data = _parse(token).children()[1].children()[0].children()
    sid = signed_data[-1].children()[0].children()[1]
    issuer = sid.children()[0].raw
    forged = swap(token, pki.tsa_leaf.cert.public_bytes(Encoding.DER),
                  twin.cert.public_bytes(Encoding.DER))
    forged = swap(forged, sid.raw, der.tlv(0x30, issuer + der.integer(twin.cert.serial_number)))
    assert forged != token
    with pytest.raises(VerificationError, match="signing-certificate attribute does not name"):
        verify(forged, b"sig", [pki.tsa_root.cert])
