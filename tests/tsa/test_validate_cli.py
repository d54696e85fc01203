"""``ocisign validate`` end to end: signed with a real TSA, judged against real responders."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.fixtures.pki import Pki, PkiFactory, Revoked
from tests.sign.conftest import E2E_DIGEST, Env
from tests.tsa.conftest import LEVELS, fresh_layout, signer_env, write_policy

LEAF = "CN=Test Leaf,O=ocisign tests,ST=WA,C=US"


def _signed(tmp_path: Path, pki: Pki, fmt: str = "jws") -> tuple[Env, Path]:
    env = signer_env(tmp_path, pki)
    layout = fresh_layout(tmp_path)
    root = pki.write("tsa-root.pem", pki.tsa_root.pem())
    env.ok("sign", "--oci-layout", f"{layout}@{E2E_DIGEST}", "--timestamp-url", pki.tsa_url,
           "--timestamp-root-cert", str(root), "--signature-format", fmt)
    return env, layout


@pytest.mark.parametrize("fmt", ["jws", "cose"])
def test_validate_json_reports_each_certificate(tmp_path: Path, pki: Pki, fmt: str) -> None:
    """The issue's case: a strict policy and a chain naming OCSP/CRL endpoints passes."""
    env, layout = _signed(tmp_path, pki, fmt)
    write_policy(env, pki, "strict")
    result = env.ok("validate", "--oci-layout", f"{layout}@{E2E_DIGEST}", "--output", "json")
    image = json.loads(result.stdout)["results"][0]["images"][0]
    assert image["status"] == "passed" and image["signatureFormat"] == fmt
    rows = [(r["chain"], r["subject"], r["method"], r["result"]) for r in image["revocation"]]
    assert rows == [
        ("signing", LEAF, "OCSP", "OK"),
        ("signing", "CN=Test Intermediate,O=ocisign tests,ST=WA,C=US", "OCSP", "OK"),
        ("signing", "CN=Test Root,O=ocisign tests,ST=WA,C=US", "Unknown", "NonRevokable"),
        ("timestamping", "CN=Test TSA,O=ocisign tests,ST=WA,C=US", "OCSP", "OK"),
        ("timestamping", "CN=Test TSA Root,O=ocisign tests,ST=WA,C=US", "Unknown",
         "NonRevokable"),
    ]
    assert image["revocation"][0]["servers"] == [
        {"method": "OCSP", "url": pki.ocsp_inter.url, "result": "OK"}]
    assert "offline" not in result.stderr
    verbose = env.ok("validate", "-v", "--oci-layout", f"{layout}@{E2E_DIGEST}")
    assert f"revocation (signing): {LEAF}: OK via OCSP; OCSP {pki.ocsp_inter.url}: OK" \
        in verbose.stdout


@pytest.mark.parametrize("level", LEVELS)
def test_validate_revoked_leaf(tmp_path: Path, pki_factory: PkiFactory, level: str) -> None:
    pki = pki_factory.build()
    pki_factory.start(pki.ocsp_root, [pki.inter])
    pki_factory.start(pki.ocsp_tsa, [pki.tsa_leaf])
    pki_factory.start(pki.ocsp_inter, [pki.leaf])
    env, layout = _signed(tmp_path, pki)
    pki.ocsp_inter.stop()  # the leaf's responder now says "revoked"
    when = datetime.now(UTC) - timedelta(minutes=1)
    pki_factory.start(pki.ocsp_inter, [], [(pki.leaf, Revoked(pki.leaf.cert.serial_number,
                                                               when))])
    write_policy(env, pki, level)
    result = env.run("validate", "--oci-layout", f"{layout}@{E2E_DIGEST}", "--output", "json")
    problem = f'signing certificate with subject "{LEAF}" is revoked'
    image = json.loads(result.stdout)["results"][0]["images"][0]
    assert image["revocation"][0]["result"] == "Revoked"
    if level == "strict":
        assert result.returncode != 0 and image["status"] == "failed"
        assert problem in image["reason"]
    else:
        assert result.returncode == 0 and image["status"] == "passed"
        assert any(problem in w for w in image["warnings"])
        assert problem in result.stderr  # the warning is printed
