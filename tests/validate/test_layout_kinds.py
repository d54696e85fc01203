"""OCI layouts with both kinds of signature; --type; a tampered copy; the failed file."""

from __future__ import annotations

import json
from pathlib import Path

from ocisign.registry.layout import LayoutStore
from tests.validate.conftest import (
    E2E_SUBJECT,
    POLICIES,
    copy_layout,
    make_sigstore_key,
    sigstore_sign,
    validate,
)

STRICT = str(POLICIES / "trustpolicy.json")


def _run(ref: str, trust: Path, *extra: str, tmp: Path) -> tuple[int, str]:
    refs = (ref,) if ref else ()
    proc = validate("--oci-layout", *refs, "--trust-policy", STRICT, "--trust-store", str(trust),
                    "-o", str(tmp / "failed.txt"), *extra)
    assert "Traceback" not in proc.stderr
    return proc.returncode, proc.stdout + proc.stderr


def test_both_kinds_and_type(e2e_trust: Path, tmp_path: Path) -> None:
    layout = copy_layout("e2e-valid-signature", tmp_path)
    key = make_sigstore_key(tmp_path / "k.pub")
    ref = f"{layout}@{E2E_SUBJECT}"
    pub = ("--sigstore-pubkey", str(key.pub_path))
    # only the notary signature so far: --type any passes, --type sigstore fails
    assert _run(ref, e2e_trust, *pub, "--type", "any", tmp=tmp_path)[0] == 0
    code, out = _run(ref, e2e_trust, *pub, "--type", "sigstore", tmp=tmp_path)
    assert code == 1 and "no sigstore signature" in out
    sigstore_sign(LayoutStore(layout), E2E_SUBJECT, "example.com/demo/app:v1", key.private)
    for kind in ("any", "sigstore", "notation"):
        code, out = _run(ref, e2e_trust, *pub, "--type", kind, "-v", tmp=tmp_path)
        assert code == 0, (kind, out)
    assert "Successfully verified sigstore signature" in out or kind == "notation"
    # a layout is no docker reference: identity is only checked with --exact-repository
    code, out = _run(ref, e2e_trust, *pub, "--type", "sigstore", "--exact-repository",
                     "example.com/other", tmp=tmp_path)
    assert code == 1 and "identity mismatch" in out
    assert _run(ref, e2e_trust, *pub, "--type", "sigstore", "--exact-repository",
                "example.com/demo/app", tmp=tmp_path)[0] == 0


def test_unsigned_layout_with_both_kinds(e2e_trust: Path, tmp_path: Path) -> None:
    layout = copy_layout("e2e", tmp_path)
    key = make_sigstore_key(tmp_path / "k.pub")
    code, out = _run(f"{layout}:v1", e2e_trust, "--sigstore-pubkey", str(key.pub_path),
                     "--type", "any", tmp=tmp_path)
    assert code == 1 and "no signature found (sigstore or Notary Project)" in out
    assert (tmp_path / "failed.txt").read_text() == f"{layout}:v1\n"


def test_tampered_copy_fails(e2e_trust: Path, tmp_path: Path) -> None:
    layout = copy_layout("e2e-valid-signature", tmp_path)
    index = json.loads((layout / "index.json").read_text())
    sig_index = next(m for m in index["manifests"] if m["digest"].startswith("sha256:13e107e0"))
    blobs = layout / "blobs" / "sha256"
    referrers = json.loads((blobs / sig_index["digest"][7:]).read_text())
    manifest = json.loads((blobs / referrers["manifests"][0]["digest"][7:]).read_text())
    envelope = blobs / manifest["layers"][0]["digest"][7:]
    data = bytearray(envelope.read_bytes())
    data[len(data) // 2] ^= 1
    envelope.write_bytes(bytes(data))
    code, out = _run(f"{layout}@{E2E_SUBJECT}", e2e_trust, tmp=tmp_path)
    assert code == 1 and "integrity validation failed" in out


def test_report_and_json_output_on_layouts(e2e_trust: Path, tmp_path: Path) -> None:
    good = copy_layout("e2e-valid-signature", tmp_path)
    bad = copy_layout("e2e-invalid-signature", tmp_path)
    listing = tmp_path / "layouts.txt"
    listing.write_text(f"# layouts\n{good}@{E2E_SUBJECT}\n\n{bad}@{E2E_SUBJECT}\n")
    code, out = _run("", e2e_trust, "-f", str(listing), "--output", "json", "-r",
                     str(tmp_path / "r.csv"), "--format", "csv", tmp=tmp_path)
    assert code == 1
    doc = json.loads(out[: out.index("\n}\n") + 2])
    assert [r["status"] for r in doc["results"]] == ["passed", "failed"]
    assert doc["summary"]["passed"] == 1 and doc["summary"]["failed"] == 1
    assert [r["errorKind"] for r in doc["results"]] == ["", "VerificationError"]
    assert (tmp_path / "failed.txt").read_text() == f"{bad}@{E2E_SUBJECT}\n"
    assert (tmp_path / "r.csv").read_text().count("\n") == 3


def test_deeply_nested_manifests_fail_cleanly(e2e_trust: Path, tmp_path: Path) -> None:
    """A .sig manifest / signature manifest nested 100k deep is a failure, not a crash."""
    from ocisign.oci import OCI_MANIFEST
    from ocisign.registry.store import sigstore_tag

    layout = copy_layout("e2e", tmp_path)
    store = LayoutStore(layout)
    nested = b'{"a":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    store.push_manifest(nested, OCI_MANIFEST, sigstore_tag(E2E_SUBJECT))
    key = make_sigstore_key(tmp_path / "k.pub")
    code, out = _run(f"{layout}:v1", e2e_trust, "--sigstore-pubkey", str(key.pub_path),
                     "--type", "sigstore", tmp=tmp_path)
    assert code == 1 and "is nested too deeply" in out  # the store names the manifest
    assert "unexpected" not in out
    code, out = _run(f"{layout}:v1", e2e_trust, "--type", "notation", tmp=tmp_path)
    assert code == 1 and "unexpected" not in out and "Traceback" not in out
