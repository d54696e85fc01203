"""RFC 3161 timestamps in cosign-compatible Sigstore bundles: `blob sign --sigstore-key
--bundle --timestamp-url` against a real TSA (`openssl ts -reply` on loopback), and
`blob verify --use-signed-timestamps` with `--timestamp-certificate-chain` or a trusted
root, plus sigstore-go's key-based vector and its trusted root."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from ocisign.notary.timestamp import response_token, verify
from tests.blob.conftest import BLOB_DATA
from tests.fixtures.pki import Node, Pki, issue
from tests.sign.conftest import Env

VECTORS = BLOB_DATA / "sigstore"


def _rfc3339(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.123456789Z")  # protojson's nanoseconds


def trusted_root(path: Path, chain: list[Node], start: datetime, end: datetime | None) -> Path:
    """A Sigstore trusted root naming one timestamp authority (leaf first, root last)."""
    window = {"start": _rfc3339(start)} | ({"end": _rfc3339(end)} if end else {})
    path.write_text(json.dumps({
        "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
        "timestampAuthorities": [{
            "subject": {"organization": "ocisign tests", "commonName": "Test TSA"},
            "uri": "http://127.0.0.1/tsa",
            "certChain": {"certificates": [
                {"rawBytes": base64.b64encode(n.cert.public_bytes(Encoding.DER)).decode()}
                for n in chain]},
            "validFor": window}]}))
    return path


class Signed:
    """A key pair and a blob signed into a timestamped bundle by the CLI."""

    def __init__(self, tmp_path: Path, pki: Pki, name: str = "blob") -> None:
        self.env = Env(tmp_path)
        (tmp_path / "docker").mkdir(exist_ok=True)
        if not (tmp_path / "cosign.key").exists():
            (tmp_path / "pass.txt").write_text("hunter2")
            self.env.ok("key", "generate-pair", "--passphrase-file", "pass.txt")
        self.root_pem = pki.write("tsa-root.pem", pki.tsa_root.pem())
        self.blob = tmp_path / f"{name}.txt"
        self.blob.write_bytes(f"release {name}".encode())
        self.bundle = tmp_path / f"{name}.sigstore.json"
        self.env.ok("blob", "sign", "--sigstore-key", "cosign.key", "--sigstore-passphrase-file",
                    "pass.txt", "--bundle", str(self.bundle), "--timestamp-url", pki.tsa_url,
                    "--timestamp-root-cert", str(self.root_pem), str(self.blob))

    def doc(self) -> dict[str, object]:
        return json.loads(self.bundle.read_text())  # type: ignore[no-any-return]

    def verify(self, *extra: str) -> object:
        return self.env.run("blob", "verify", "--sigstore-pubkey", "cosign.pub", "--bundle",
                            str(self.bundle), *extra, str(self.blob))


def _stamps(doc: dict[str, object]) -> list[dict[str, str]]:
    return doc["verificationMaterial"]["timestampVerificationData"][  # type: ignore[index]
        "rfc3161Timestamps"]


def _one_error(result: object) -> str:
    stderr = result.stderr  # type: ignore[attr-defined]
    assert result.returncode == 1, stderr  # type: ignore[attr-defined]
    assert "Traceback" not in stderr
    errors = [line for line in stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, stderr
    return errors[0]


def test_round_trip_through_a_real_tsa(tmp_path: Path, pki: Pki) -> None:
    signed = Signed(tmp_path, pki)
    assert pki.files.hits["/tsa"] == 1
    doc = signed.doc()
    stamps = _stamps(doc)
    assert len(stamps) == 1 and set(stamps[0]) == {"signedTimestamp"}
    response = base64.b64decode(stamps[0]["signedTimestamp"])
    signature = base64.b64decode(doc["messageSignature"]["signature"])  # type: ignore[index]
    # the imprint is SHA-256 over the signature bytes (sigstore-go), and the token verifies
    assert hashlib.sha256(signature).digest() in response
    info = verify(response_token(response), signature, [pki.tsa_root.cert])
    assert info.tsa_chain[0].subject == pki.tsa_leaf.cert.subject
    chain = pki.write("tsa-chain.pem", pki.tsa_root.pem())
    done = signed.verify("--timestamp-certificate-chain", str(chain))
    assert done.returncode == 0 and done.stderr == "Verified OK\n", done.stderr  # type: ignore[attr-defined]
    now = datetime.now(UTC)
    root = trusted_root(tmp_path / "trusted_root.json", [pki.tsa_leaf, pki.tsa_root],
                        now - timedelta(days=1), None)
    done = signed.verify("--use-signed-timestamps", "--trusted-root", str(root))
    assert done.returncode == 0, done.stderr  # type: ignore[attr-defined]
    # the blob still binds: a changed blob fails before any timestamp is looked at
    signed.blob.write_bytes(b"changed")
    assert "does not match the artifact" in _one_error(signed.verify(
        "--use-signed-timestamps", "--trusted-root", str(root)))


def test_tampered_token_fails(tmp_path: Path, pki: Pki) -> None:
    signed = Signed(tmp_path, pki)
    doc = signed.doc()
    response = bytearray(base64.b64decode(_stamps(doc)[0]["signedTimestamp"]))
    response[-1] ^= 0x01  # the last byte of the TSA's signature value
    _stamps(doc)[0]["signedTimestamp"] = base64.b64encode(bytes(response)).decode()
    signed.bundle.write_text(json.dumps(doc))
    chain = pki.write("tsa-chain.pem", pki.tsa_root.pem())
    line = _one_error(signed.verify("--timestamp-certificate-chain", str(chain)))
    assert "no RFC 3161 timestamp verifies" in line and "does not verify" in line, line
    # without --use-signed-timestamps timestamps are not checked, as cosign with a key
    assert signed.verify().returncode == 0  # type: ignore[attr-defined]


def test_timestamp_of_another_signature_fails(tmp_path: Path, pki: Pki) -> None:
    first, second = Signed(tmp_path, pki, "one"), Signed(tmp_path, pki, "two")
    doc = second.doc()
    _stamps(doc)[0] = _stamps(first.doc())[0]  # a valid token, over the other signature
    second.bundle.write_text(json.dumps(doc))
    chain = pki.write("tsa-chain.pem", pki.tsa_root.pem())
    line = _one_error(second.verify("--timestamp-certificate-chain", str(chain)))
    assert "messageImprint does not match the signature" in line, line


def test_another_tsa_fails(tmp_path: Path, pki: Pki) -> None:
    signed = Signed(tmp_path, pki)
    other = issue("Other TSA Root", None, ca=True, days=365)
    chain = pki.write("other.pem", other.pem())
    line = _one_error(signed.verify("--timestamp-certificate-chain", str(chain)))
    assert "does not chain to a certificate" in line, line
    root = trusted_root(tmp_path / "other_root.json", [other], datetime.now(UTC), None)
    line = _one_error(signed.verify("--use-signed-timestamps", "--trusted-root", str(root)))
    assert "no RFC 3161 timestamp verifies" in line, line


def test_timestamp_outside_the_authority_window_fails(tmp_path: Path, pki: Pki) -> None:
    signed = Signed(tmp_path, pki)
    past = datetime.now(UTC) - timedelta(days=10)
    root = trusted_root(tmp_path / "expired_root.json", [pki.tsa_leaf, pki.tsa_root],
                        past, past + timedelta(days=1))
    line = _one_error(signed.verify("--use-signed-timestamps", "--trusted-root", str(root)))
    assert "outside the timestamp authority's validity period" in line, line


def test_bundle_without_timestamp_fails_when_one_is_required(tmp_path: Path, pki: Pki) -> None:
    signed = Signed(tmp_path, pki)
    doc = signed.doc()
    del doc["verificationMaterial"]["timestampVerificationData"]  # type: ignore[attr-defined]
    signed.bundle.write_text(json.dumps(doc))
    chain = pki.write("tsa-chain.pem", pki.tsa_root.pem())
    assert "has no RFC 3161 timestamp" in _one_error(
        signed.verify("--timestamp-certificate-chain", str(chain)))


def test_sigstore_go_vector_with_its_trusted_root(tmp_path: Path) -> None:
    """public-key-validity: the stamp verifies with the TSA of sigstore-go's trusted root;
    the same chain with a window that excludes the stamp's time fails."""
    env = Env(tmp_path)
    (tmp_path / "docker").mkdir()
    name = "public-key-validity"
    args = ("blob", "verify", "--sigstore-pubkey", str(VECTORS / f"{name}.pem"), "--bundle",
            str(VECTORS / f"{name}.sigstore.json"), "--use-signed-timestamps", "--trusted-root")
    blob = str(VECTORS / f"{name}.txt")
    done = env.run(*args, str(VECTORS / f"{name}.trusted-root.json"), blob)
    assert done.returncode == 0, done.stderr
    doc = json.loads((VECTORS / f"{name}.trusted-root.json").read_text())
    doc["timestampAuthorities"][0]["validFor"]["start"] = "2026-06-04T18:00:00Z"
    moved = tmp_path / "moved.json"
    moved.write_text(json.dumps(doc))
    assert "outside the timestamp authority" in _one_error(env.run(*args, str(moved), blob))


@pytest.mark.parametrize(("args", "message"), [
    (("--timestamp-url", "http://127.0.0.1:9/tsa"), "missing [timestamp-root-cert]"),
    (("--timestamp-server-url", "http://127.0.0.1:9/tsa", "--timestamp-root-cert", "r.pem"),
     "needs --bundle FILE"),
    (("--timestamp-server-url", "http://a", "--timestamp-url", "http://a", "--bundle", "b.json"),
     "give one"),
])
def test_sign_flag_errors(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    env = Env(tmp_path)
    (tmp_path / "docker").mkdir()
    (tmp_path / "f.txt").write_text("x")
    done = env.run("blob", "sign", "--sigstore-key", "cosign.key", *args, "f.txt")
    assert message in _one_error(done)
    assert not (tmp_path / "b.json").exists()


def test_verify_flag_errors(tmp_path: Path) -> None:
    env = Env(tmp_path)
    (tmp_path / "docker").mkdir()
    base = ("blob", "verify", "--sigstore-pubkey", str(VECTORS / "public-key-validity.pem"),
            "--bundle", str(VECTORS / "public-key-validity.sigstore.json"))
    blob = str(VECTORS / "public-key-validity.txt")
    root = str(VECTORS / "public-key-validity.trusted-root.json")
    assert "needs the timestamp authority" in _one_error(
        env.run(*base, "--use-signed-timestamps", blob))
    assert "it needs --use-signed-timestamps" in _one_error(
        env.run(*base, "--trusted-root", root, blob))
    assert "needs --sigstore-pubkey" in _one_error(env.run(
        "blob", "verify", "-s", "x.jws.sig", "--use-signed-timestamps", blob))


def test_legacy_timestamp_file_beside_a_bare_signature(tmp_path: Path, pki: Pki) -> None:
    """cosign's deprecated --rfc3161-timestamp: {"SignedRFC3161Timestamp": base64(DER
    TimeStampResp)} written at sign time, read with -s at verify time."""
    signed = Signed(tmp_path, pki)  # also makes the key pair
    env, blob = signed.env, str(signed.blob)
    env.ok("blob", "sign", "--sigstore-key", "cosign.key", "--sigstore-passphrase-file",
           "pass.txt", "--output-signature", "blob.sig", "--rfc3161-timestamp", "blob.tsr",
           "--timestamp-server-url", pki.tsa_url, "--timestamp-root-cert",
           str(signed.root_pem), blob)
    doc = json.loads((tmp_path / "blob.tsr").read_text())
    assert list(doc) == ["SignedRFC3161Timestamp"]
    assert (tmp_path / "blob.tsr").stat().st_mode & 0o777 == 0o600
    chain = str(pki.write("tsa-chain.pem", pki.tsa_root.pem()))
    base = ("blob", "verify", "--sigstore-pubkey", "cosign.pub", "-s", "blob.sig")
    done = env.run(*base, "--rfc3161-timestamp", "blob.tsr", "--timestamp-certificate-chain",
                   chain, blob)
    assert done.returncode == 0 and done.stderr == "Verified OK\n", done.stderr
    # the bundle's stamp is over another signature (made by the first sign): imprint fails
    (tmp_path / "other.tsr").write_text(json.dumps(
        {"SignedRFC3161Timestamp": _stamps(signed.doc())[0]["signedTimestamp"]}))
    assert "messageImprint does not match" in _one_error(env.run(
        *base, "--rfc3161-timestamp", "other.tsr", "--timestamp-certificate-chain", chain, blob))
    # cosign's pairing rule, both ways, and no detached stamp beside a bundle
    assert "must also specify --rfc3161-timestamp" in _one_error(
        env.run(*base, "--timestamp-certificate-chain", chain, blob))
    assert "must also specify --use-signed-timestamps" in _one_error(
        env.run(*base, "--rfc3161-timestamp", "blob.tsr", blob))
    assert "may not be provided using --rfc3161-timestamp" in _one_error(env.run(
        "blob", "verify", "--sigstore-pubkey", "cosign.pub", "--bundle", str(signed.bundle),
        "--rfc3161-timestamp", "blob.tsr", "--timestamp-certificate-chain", chain, blob))
    (tmp_path / "bad.tsr").write_text('{"SignedRFC3161Timestamp": 5}')
    assert "is not {" in _one_error(env.run(
        *base, "--rfc3161-timestamp", "bad.tsr", "--timestamp-certificate-chain", chain, blob))
    assert "--rfc3161-timestamp needs --timestamp-url" in _one_error(env.run(
        "blob", "sign", "--sigstore-key", "cosign.key", "--rfc3161-timestamp", "x.tsr", blob))


def test_sign_fails_and_writes_nothing_when_the_stamp_does_not_verify(
    tmp_path: Path, pki: Pki,
) -> None:
    """The stamp is checked against --timestamp-root-cert before anything is written."""
    env = Env(tmp_path)
    (tmp_path / "docker").mkdir()
    (tmp_path / "pass.txt").write_text("hunter2")
    env.ok("key", "generate-pair", "--passphrase-file", "pass.txt")
    (tmp_path / "f.txt").write_text("x")
    other = pki.write("other-root.pem", issue("Other TSA Root", None, ca=True, days=30).pem())
    done = env.run("blob", "sign", "--sigstore-key", "cosign.key", "--sigstore-passphrase-file",
                   "pass.txt", "--bundle", "f.json", "--output-signature", "f.sig",
                   "--timestamp-url", pki.tsa_url, "--timestamp-root-cert", str(other), "f.txt")
    line = _one_error(done)
    assert line.startswith("Error: timestamp: invalid timestamp response from") and \
        "does not chain" in line, line
    assert pki.files.hits["/tsa"] == 1
    assert not (tmp_path / "f.json").exists() and not (tmp_path / "f.sig").exists()
