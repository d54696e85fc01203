"""notation's e2e OCI layouts verify or fail as INDEX.md says, at each level where it matters."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.validate.conftest import (
    E2E_SUBJECT,
    LAYOUTS,
    POLICIES,
    TRUST,
    leaf_of_layout,
    make_store,
    pem,
    validate,
)

TIMESTAMPED_SUBJECT = "sha256:53b0191218aed9a3c1f7c661736ac40cfc8eb928642348fd843ba3f0483c0c20"

CASES = [
    # layout, policy, expected rc, text expected on stdout/stderr
    ("e2e", "trustpolicy.json", 1, "no signature is associated"),
    ("e2e-valid-signature", "trustpolicy.json", 0, "PASS:"),
    ("e2e-valid-signature", "permissive_trustpolicy.json", 0, "PASS:"),
    ("e2e-valid-signature", "audit_trustpolicy.json", 0, "PASS:"),
    ("e2e-valid-multiple-signatures", "trustpolicy.json", 0, "PASS:"),
    ("e2e-expired-signature", "trustpolicy.json", 1, "expiry validation failed"),
    ("e2e-expired-signature", "override_strict_trustpolicy.json", 0, "expiry validation failed"),
    ("e2e-expired-signature", "permissive_trustpolicy.json", 0, "expiry validation failed"),
    ("e2e-expired-signature", "audit_trustpolicy.json", 0, "expiry validation failed"),
    ("e2e-expired-signature", "skip_trustpolicy.json", 0, "skip signature verification"),
    ("e2e-invalid-signature", "trustpolicy.json", 1, "integrity validation failed"),
    ("e2e-invalid-signature", "permissive_trustpolicy.json", 1, "integrity validation failed"),
    ("e2e-invalid-signature", "audit_trustpolicy.json", 1, "integrity validation failed"),
    ("e2e-invalid-signature", "skip_trustpolicy.json", 0, "skip signature verification"),
]


def run(layout: str, digest: str, policy: Path, store: Path, *extra: str,
        tmp: Path) -> tuple[int, str]:
    proc = validate(
        "--oci-layout", f"{LAYOUTS / layout}@{digest}",
        "--trust-policy", str(policy), "--trust-store", str(store),
        "-o", str(tmp / "failed.txt"), *extra,
    )
    assert "Traceback" not in proc.stderr
    return proc.returncode, proc.stdout + proc.stderr


@pytest.mark.parametrize(("layout", "policy", "rc", "text"), CASES)
def test_e2e_layout(layout: str, policy: str, rc: int, text: str, e2e_trust: Path,
                    tmp_path: Path) -> None:
    code, out = run(layout, E2E_SUBJECT, POLICIES / policy, e2e_trust, "-v", tmp=tmp_path)
    assert code == rc, out
    assert text in out
    if rc == 0 and "skip" not in policy:
        assert f"Successfully verified signature for {LAYOUTS / layout}@{E2E_SUBJECT}" in out
    if rc == 1:
        failed = (tmp_path / "failed.txt").read_text()
        assert failed == f"{LAYOUTS / layout}@{E2E_SUBJECT}\n"


def test_multiple_signatures_other_signer_fails_authenticity_alone(tmp_path: Path) -> None:
    """Trusting only an unrelated cert, both signatures of the layout fail."""
    store = make_store(tmp_path / "ts", {"ca:e2e": [TRUST / "keys" / "new_e2e.crt"]})
    code, out = run("e2e-valid-multiple-signatures", E2E_SUBJECT, POLICIES / "trustpolicy.json",
                    store, tmp=tmp_path)
    assert code == 1
    assert "authenticity validation failed" in out


@pytest.mark.parametrize(
    ("policy", "rc", "text"),
    [
        ("trustpolicy.json", 1, "authenticTimestamp validation failed"),
        ("permissive_trustpolicy.json", 0, "authenticTimestamp validation failed"),
        ("audit_trustpolicy.json", 0, "authenticTimestamp validation failed"),
    ],
)
def test_expired_cert(policy: str, rc: int, text: str, tmp_path: Path) -> None:
    store = make_store(tmp_path / "ts", {"ca:e2e": [TRUST / "keys" / "expired_e2e.crt"]})
    code, out = run("e2e-with-expired-cert", E2E_SUBJECT, POLICIES / policy, store, tmp=tmp_path)
    assert code == rc, out
    assert text in out


def _signature_digest(layout: str) -> str:
    index = json.loads((LAYOUTS / layout / "index.json").read_text())
    untagged = [m for m in index["manifests"]
                if "org.opencontainers.image.ref.name" not in (m.get("annotations") or {})]
    return str(untagged[0]["digest"])


@pytest.mark.parametrize(
    ("when", "rc", "text"),
    [
        ("2025-01-21T10:00:00Z", 0, "Successfully verified"),  # inside cert + before expiry
        ("2025-01-21T13:00:00Z", 1, "expiry validation failed"),  # after the expiry header
        (None, 1, "expiry validation failed"),  # today
    ],
)
def test_timestamped_signature_with_fixed_clock(when: str | None, rc: int, text: str,
                                                tmp_path: Path) -> None:
    layout = "e2e-with-timestamped-signature"
    leaf = leaf_of_layout(LAYOUTS / layout, _signature_digest(layout))
    store = make_store(tmp_path / "ts", {"ca:e2e": [pem(leaf)]})
    extra = ("-v", "--verify-time", when) if when else ()
    code, out = run(layout, TIMESTAMPED_SUBJECT, POLICIES / "trustpolicy.json", store, *extra,
                    tmp=tmp_path)
    assert code == rc, out
    assert text in out


def test_timestamped_signature_env_clock(tmp_path: Path) -> None:
    """OCISIGN_VERIFY_TIME is the same test aid as --verify-time."""
    from tests.conftest import cli_env, run_ocisign

    layout = "e2e-with-timestamped-signature"
    leaf = leaf_of_layout(LAYOUTS / layout, _signature_digest(layout))
    store = make_store(tmp_path / "ts", {"ca:e2e": [pem(leaf)]})
    proc = run_ocisign(
        "validate", "--oci-layout", f"{LAYOUTS / layout}@{TIMESTAMPED_SUBJECT}",
        "--trust-policy", str(POLICIES / "trustpolicy.json"), "--trust-store", str(store),
        "-m", "purpose=e2e",
        env=cli_env(OCISIGN_VERIFY_TIME="2025-01-21T10:00:00Z"),
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_invalid_timestamp_fails(tmp_path: Path) -> None:
    layout = "e2e-with-invalid-timestamped-signature"
    leaf = leaf_of_layout(LAYOUTS / layout, _signature_digest(layout))
    store = make_store(tmp_path / "ts", {
        "ca:e2e": [pem(leaf)],
        "tsa:e2e": [TRUST / "truststore/x509/tsa/test-timestamp/globalsignRoot.cer"],
    })
    subject = _tagged_digest(layout)
    code, out = run(layout, subject, POLICIES / "timestamp_trustpolicy.json", store,
                    "--verify-time", "2025-01-21T10:00:00Z", tmp=tmp_path)
    assert code == 1, out
    assert "authenticTimestamp validation failed" in out


def _tagged_digest(layout: str) -> str:
    index = json.loads((LAYOUTS / layout / "index.json").read_text())
    return str(next(m["digest"] for m in index["manifests"]
                    if "org.opencontainers.image.ref.name" in (m.get("annotations") or {})))


def test_tag_reference_and_scope(e2e_trust: Path, tmp_path: Path) -> None:
    """DIR:TAG works; --scope selects a statement by registry scope."""
    code, _ = run("e2e-valid-signature", E2E_SUBJECT, POLICIES / "trustpolicy.json", e2e_trust,
                  tmp=tmp_path)
    assert code == 0
    scopes = json.loads((POLICIES / "registry_scope_trustpolicy.json").read_text())
    wanted = scopes["trustPolicies"][0]["registryScopes"][0]
    proc = validate(
        "--oci-layout", f"{LAYOUTS / 'e2e-valid-signature'}:v1",
        "--trust-policy", str(POLICIES / "registry_scope_trustpolicy.json"),
        "--trust-store", str(e2e_trust), "--scope", wanted,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = validate(
        "--oci-layout", f"{LAYOUTS / 'e2e-valid-signature'}:v1",
        "--trust-policy", str(POLICIES / "registry_scope_trustpolicy.json"),
        "--trust-store", str(e2e_trust), "--scope", "example.com/other",
    )
    assert proc.returncode == 1
    assert "no applicable trust policy" in proc.stdout


def test_skip_message_without_verbose(e2e_trust: Path, tmp_path: Path) -> None:
    code, out = run("e2e-invalid-signature", E2E_SUBJECT, POLICIES / "skip_trustpolicy.json",
                    e2e_trust, tmp=tmp_path)
    assert code == 0
    assert ("Trust policy is configured to skip signature verification for "
            f"{LAYOUTS / 'e2e-invalid-signature'}@{E2E_SUBJECT}") in out
    assert "revocation not checked" not in out  # nothing was evaluated
