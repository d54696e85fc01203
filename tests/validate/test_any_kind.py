"""Issue 11, case 2: which kind a run requires, and what may satisfy ``--type any``.

A config dir like a notation folder (``trustpolicy.json`` + ``truststore``) sits beside a
``--sigstore-pubkey``. notation's ``skip`` and ``audit`` verdicts are reported but never
satisfy a run on their own when a key was given; ``--sigstore-pubkey`` without ``--type``
requires sigstore signatures; a trust policy alone means the Notary kind.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from ocisign.registry.layout import LayoutStore
from ocisign.signers.local import LocalSigner
from tests.conftest import cli_env
from tests.envelopes.certs import make_cert, make_key
from tests.validate.conftest import (
    E2E_SUBJECT,
    POLICIES,
    TRUST,
    copy_layout,
    make_sigstore_key,
    make_store,
    notary_sign,
    validate,
)


def _config(tmp: Path, policy: str) -> dict[str, str]:
    """A notation-style config dir holding ``policy`` and the e2e trust store."""
    config = tmp / "config"
    config.mkdir(exist_ok=True)
    shutil.copy(POLICIES / policy, config / "trustpolicy.json")
    make_store(config / "truststore", {"ca:e2e": [TRUST / "keys" / "e2e.crt"]})
    return cli_env(OCISIGN_CONFIG_DIR=str(config))


def _run(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    proc = validate("--oci-layout", *args, "-o", "/dev/null", env=env)
    assert "Traceback" not in proc.stderr
    return proc.returncode, proc.stdout, proc.stderr


def _fail_line(out: str) -> str:
    (line,) = [x for x in out.splitlines() if x.startswith("FAIL:")]
    return line


def test_skip_statement_does_not_satisfy_a_sigstore_key(tmp_path: Path) -> None:
    env = _config(tmp_path, "skip_trustpolicy.json")
    layout = copy_layout("e2e", tmp_path)  # unsigned
    pub = str(make_sigstore_key(tmp_path / "cos.pub").pub_path)
    code, out, _ = _run(env, f"{layout}:v1", "--sigstore-pubkey", pub)
    assert code == 1 and "no sigstore signature" in _fail_line(out)
    code, out, err = _run(env, f"{layout}:v1", "--sigstore-pubkey", pub, "--type", "any")
    assert code == 1
    line = _fail_line(out)
    assert "no signature verified against configured trust" in line
    assert "level skip" in line and "--type" in line  # the hint
    assert "Trust policy is configured to skip signature verification" in err  # reported
    # the trust policy alone is the Notary kind: skip passes, as notation verify does
    code, out, err = _run(env, f"{layout}:v1")
    assert code == 0 and out.startswith("PASS:")
    assert "Trust policy is configured to skip signature verification" in err


def test_audit_statement_and_an_attackers_jws(tmp_path: Path) -> None:
    env = _config(tmp_path, "audit_trustpolicy.json")
    layout = copy_layout("e2e", tmp_path)
    key = make_key("EC-256")
    attacker = LocalSigner(key, [make_cert(key, "attacker")])  # self-signed, not trusted
    store = LayoutStore(layout)
    notary_sign(store, store.fetch_manifest("v1").descriptor, attacker)
    pub = str(make_sigstore_key(tmp_path / "cos.pub").pub_path)
    # audit passes it (authenticity is only logged) when the Notary kind is all that is asked
    code, out, err = _run(env, f"{layout}:v1")
    assert code == 0, out + err
    assert "authenticity" in err
    code, out, err = _run(env, f"{layout}:v1", "--sigstore-pubkey", pub, "--type", "any",
                          "--output", "json")
    assert code == 1, out + err
    images = json.loads(out[: out.index("\n}\n") + 2])["results"][0]["images"]
    by_kind = {i["kind"]: i for i in images}
    assert by_kind["sigstore"]["status"] == "failed"
    assert by_kind["notation"]["status"] == "skipped"
    assert "only logs authenticity" in by_kind["notation"]["message"]


def test_sigstore_pubkey_without_type_requires_sigstore(tmp_path: Path) -> None:
    """hangar v1 fails a JWS-only image given a public key; so must we (config dir policy)."""
    env = _config(tmp_path, "trustpolicy.json")
    layout = copy_layout("e2e-valid-signature", tmp_path)  # a JWS trusted by ca:e2e
    ref = f"{layout}@{E2E_SUBJECT}"
    pub = str(make_sigstore_key(tmp_path / "cos.pub").pub_path)
    assert _run(env, ref)[0] == 0  # the trust policy alone: the Notary kind
    code, out, _ = _run(env, ref, "--sigstore-pubkey", pub)
    assert code == 1 and "no sigstore signature" in _fail_line(out)
    assert _run(env, ref, "--sigstore-pubkey", pub, "--type", "any")[0] == 0  # written out
    code, _, err = _run(env, ref, "--sigstore-pubkey", pub, "--trust-policy",
                        str(POLICIES / "trustpolicy.json"))
    assert code == 2 and "needs --type" in err and "--type any" in err
