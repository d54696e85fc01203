"""cosign-compatible blob signatures and Sigstore bundles (`blob sign --sigstore-key`,
`blob verify --sigstore-pubkey`), against sigstore-go's and cosign's bundle vectors."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from ocisign.envelopes import bundle as b
from ocisign.errors import VerificationError
from ocisign.keys.pem import load_public_key
from ocisign.signers.local import LocalSigner
from ocisign.sigstore.blob import verify_blob
from tests.blob.conftest import BLOB_DATA, BlobHost

VECTORS = BLOB_DATA / "sigstore"
VECTOR_BLOB = (VECTORS / "public-key-validity.txt").read_bytes()


def test_sigstore_go_key_bundle_vector() -> None:
    """public-key-validity: v0.3, publicKey hint, RFC 3161 stamp, no tlogEntries key."""
    data = (VECTORS / "public-key-validity.sigstore.json").read_bytes()
    assert "tlogEntries" not in json.loads(data)["verificationMaterial"]
    key = load_public_key(VECTORS / "public-key-validity.pem")
    bundle = b.parse_bundle(data)
    assert bundle.verification_material.public_key is not None
    assert bundle.verification_material.public_key.hint == b.key_hint(key)  # cosign's hint
    assert verify_blob(VECTOR_BLOB, key, bundle=data) == "bundle"
    with pytest.raises(VerificationError, match="does not match the artifact"):
        verify_blob(b"test contenT", key, bundle=data)
    other = ec.generate_private_key(ec.SECP256R1()).public_key()
    with pytest.raises(VerificationError, match="does not verify with the given public key"):
        verify_blob(VECTOR_BLOB, other, bundle=data)


def test_certificate_bundle_is_refused_where_a_key_is_expected() -> None:
    """cosign's oci-attestation vector carries a Fulcio certificate; even its own key is
    not accepted through --sigstore-pubkey (GHSA-fx35-mq7g-6g98: no key where a cert is)."""
    bundle = b.parse_bundle((VECTORS / "oci-attestation.sigstore.json").read_bytes())
    from cryptography import x509

    assert bundle.verification_material.certificate is not None
    cert = x509.load_der_x509_certificate(bundle.verification_material.certificate.raw_bytes)
    with pytest.raises(VerificationError, match="expected key signature, not certificate"):
        b.verify_dsse_bundle(bundle, cert.public_key())


def test_v01_dsse_bundle_with_old_hint_parses() -> None:
    bundle = b.parse_bundle((VECTORS / "bundle-publish.json").read_bytes())
    assert bundle.media_type.endswith("version=0.1")
    assert bundle.dsse_envelope is not None
    assert bundle.dsse_envelope.payload_type == b.INTOTO


@pytest.mark.parametrize("doc", [
    {"mediaType": "application/vnd.dev.sigstore.bundle.v0.9+json"},
    {"mediaType": "application/json", "verificationMaterial": {}},
])
def test_unknown_bundle_media_type(doc: dict[str, object]) -> None:
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    with pytest.raises(VerificationError, match="unsupported bundle media type"):
        verify_blob(b"x", key, bundle=json.dumps(doc).encode())


@pytest.mark.parametrize(("key", "algorithm"), [
    (ec.generate_private_key(ec.SECP256R1()), "SHA2_256"),
    (ec.generate_private_key(ec.SECP384R1()), "SHA2_384"),
    (rsa.generate_private_key(65537, 2048), "SHA2_256"),
    (ed25519.Ed25519PrivateKey.generate(), "SHA2_256"),
])
def test_message_bundle_round_trip(key: object, algorithm: str) -> None:
    signer = LocalSigner(key)
    blob = b"release tarball bytes"
    signature, data = b.message_bundle(signer, blob)
    doc = json.loads(data)
    assert doc["mediaType"] == "application/vnd.dev.sigstore.bundle.v0.3+json"
    assert doc["verificationMaterial"] == {"publicKey": {"hint": b.key_hint(signer.public_key())}}
    assert doc["messageSignature"]["messageDigest"]["algorithm"] == algorithm
    assert base64.b64decode(doc["messageSignature"]["signature"]) == signature
    public = signer.public_key()
    assert verify_blob(blob, public, bundle=data) == "bundle"
    assert verify_blob(blob, public, signature=base64.b64encode(signature)) == "signature"
    with pytest.raises(VerificationError):
        verify_blob(blob + b"!", public, bundle=data)
    with pytest.raises(VerificationError):
        verify_blob(blob + b"!", public, signature=base64.b64encode(signature))


def test_dsse_round_trip_and_pae() -> None:
    assert b.pae("t", b"body") == b"DSSEv1 1 t 4 body"
    signer = LocalSigner(ec.generate_private_key(ec.SECP256R1()))
    digest = "sha256:" + hashlib.sha256(b"m").hexdigest()
    payload = b.intoto_statement(digest)
    bundle = b.parse_bundle(b.dsse_bundle(signer, payload))
    kind, body = b.verify_dsse_bundle(bundle, signer.public_key())
    assert b.intoto_subject_digests(kind, body) == [digest]
    assert json.loads(body)["predicateType"] == "https://sigstore.dev/cosign/sign/v1"
    doubled = json.loads(b.dsse_bundle(signer, payload))
    doubled["dsseEnvelope"]["signatures"] *= 2
    with pytest.raises(VerificationError, match="exactly one is required"):
        b.verify_dsse_bundle(b.parse_bundle(json.dumps(doubled).encode()), signer.public_key())
    other = ec.generate_private_key(ec.SECP256R1()).public_key()
    with pytest.raises(VerificationError):
        b.verify_dsse_bundle(bundle, other)


def test_legacy_bundle_key_in_cert_is_never_trusted() -> None:
    """A legacy bundle whose `cert` holds the attacker's key and whose signature is the
    attacker's fails with the user's key; cosign main's own legacy output (the signer's key
    PEM in `cert`) passes, because only the user's key decides."""
    user = LocalSigner(ec.generate_private_key(ec.SECP256R1()))
    attacker = ec.generate_private_key(ec.SECP256R1())
    blob = b"firmware"
    pem = attacker.public_key().public_bytes(serialization.Encoding.PEM,
                                             serialization.PublicFormat.SubjectPublicKeyInfo)
    forged = {"base64Signature": base64.b64encode(LocalSigner(attacker).sign(
        blob, b.Scheme.SIGSTORE)).decode(), "cert": base64.b64encode(pem).decode()}
    with pytest.raises(VerificationError, match="does not verify"):
        verify_blob(blob, user.public_key(), bundle=json.dumps(forged).encode())
    mine = {"base64Signature": base64.b64encode(user.sign(blob, b.Scheme.SIGSTORE)).decode(),
            "cert": base64.b64encode(pem).decode()}
    assert verify_blob(blob, user.public_key(), bundle=json.dumps(mine).encode()) == "signature"


def test_cli_sign_and_verify(host: BlobHost) -> None:
    (host.work / "pass.txt").write_text("hunter2")
    done = host.run("key", "generate-pair", "--passphrase-file", "pass.txt")
    assert done.returncode == 0, done.stderr
    signed = host.run("blob", "sign", "--sigstore-key", "cosign.key",
                      "--sigstore-passphrase-file", "pass.txt", "--bundle", "blob.sigstore.json",
                      "--output-signature", "blob.sig", "blobFile.txt")
    assert signed.returncode == 0, signed.stderr
    assert (host.work / "blob.sigstore.json").stat().st_mode & 0o777 == 0o600
    assert not (host.work / "blob.sig").read_bytes().endswith(b"\n")
    for args in (("--bundle", "blob.sigstore.json"), ("-s", "blob.sig")):
        done = host.run("blob", "verify", "--sigstore-pubkey", "cosign.pub", *args,
                        "blobFile.txt")
        assert done.returncode == 0, done.stderr
        assert done.stderr == "Verified OK\n"
    (host.work / "blobFile.txt").write_text("tampered")
    done = host.run("blob", "verify", "--sigstore-pubkey", "cosign.pub", "--bundle",
                    "blob.sigstore.json", "blobFile.txt")
    assert done.returncode == 1 and "does not match the artifact" in done.stderr
    pem = str(VECTORS / "public-key-validity.pem")
    done = host.run("blob", "verify", "--sigstore-pubkey", pem, "--bundle",
                    str(VECTORS / "oci-attestation.sigstore.json"), "blobFile.txt")
    assert done.returncode == 1 and "expected key signature, not certificate" in done.stderr
    assert "Traceback" not in done.stderr


def test_cli_flag_mixups(host: BlobHost) -> None:
    pem = str(VECTORS / "public-key-validity.pem")
    for args, message in [
        (("verify", "--sigstore-pubkey", pem, "blobFile.txt"), "exactly one of --bundle"),
        (("verify", "--bundle", "x.json", "blobFile.txt"), "--bundle needs --sigstore-pubkey"),
        (("sign", "--bundle", "x.json", "blobFile.txt"), "needs --sigstore-key"),
    ]:
        done = host.run("blob", *args)
        assert done.returncode == 1 and message in done.stderr, (args, done.stderr)
