"""`blob sign --timestamp-url`: a real RFC 3161 TSA (`openssl ts -reply`) on loopback,
through the image signer's timestamper."""

from __future__ import annotations

from pathlib import Path

from ocisign.envelopes.notary import parse_envelope
from ocisign.notary.timestamp import verify
from tests.fixtures.pki import Pki
from tests.tsa.conftest import signer_env


def test_blob_sign_with_timestamp(tmp_path: Path, pki: Pki) -> None:
    env = signer_env(tmp_path, pki)
    blob = tmp_path / "firmware.bin"
    blob.write_bytes(b"firmware image")
    root = pki.write("tsa-root.pem", pki.tsa_root.pem())
    env.ok("blob", "sign", "--timestamp-url", pki.tsa_url, "--timestamp-root-cert", str(root),
           str(blob))
    parsed = parse_envelope("application/jose+json",
                            (tmp_path / "firmware.bin.jws.sig").read_bytes())
    assert parsed.timestamp_token
    info = verify(parsed.timestamp_token, parsed.signature, [pki.tsa_root.cert])
    assert info.tsa_chain[0].subject == pki.tsa_leaf.cert.subject
    assert pki.files.hits["/tsa"] == 1
    shown = env.ok("blob", "inspect", str(tmp_path / "firmware.bin.jws.sig"))
    assert "timestamp signature" in shown.stdout
