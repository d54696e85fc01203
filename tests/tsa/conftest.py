"""Signing with the loopback test PKI: a key store entry for its leaf, a fresh layout."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.fixtures.pki import Pki
from tests.sign.conftest import LAYOUTS, Env

LEVELS = ("strict", "permissive", "audit")


def signer_env(tmp_path: Path, pki: Pki) -> Env:
    """A config dir whose default key is the PKI's leaf (chain leaf, intermediate, root)."""
    (tmp_path / "docker").mkdir(exist_ok=True)
    env = Env(tmp_path)
    env.extra["OCISIGN_CACHE_DIR"] = str(tmp_path / "cache")
    key = pki.write("leaf.key", pki.leaf.key_pem())
    chain = pki.write("leaf.crt", b"".join(n.pem() for n in pki.leaf.chain()))
    env.ok("key", "add", "leaf", "--key-file", str(key), "--cert-file", str(chain), "--default")
    return env


def fresh_layout(tmp_path: Path) -> Path:
    target = tmp_path / "e2e"
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(LAYOUTS / "e2e", target)
    return target


def write_policy(env: Env, pki: Pki, level: str, *, tsa: bool = True,
                 verify_timestamp: str = "always", override: dict[str, str] | None = None,
                 ) -> Path:
    """Trust store ``ca:pki`` (+ ``tsa:pki``) and a ``*`` policy at ``level``."""
    store = env.config / "truststore" / "x509"
    (store / "ca" / "pki").mkdir(parents=True, exist_ok=True)
    (store / "ca" / "pki" / "root.pem").write_bytes(pki.root.pem())
    stores = ["ca:pki"]
    if tsa:
        (store / "tsa" / "pki").mkdir(parents=True, exist_ok=True)
        (store / "tsa" / "pki" / "root.pem").write_bytes(pki.tsa_root.pem())
        stores.append("tsa:pki")
    verification: dict[str, object] = {"level": level, "verifyTimestamp": verify_timestamp}
    if override:
        verification["override"] = override
    doc = {"version": "1.0", "trustPolicies": [{
        "name": "pki", "registryScopes": ["*"], "signatureVerification": verification,
        "trustStores": stores, "trustedIdentities": ["*"]}]}
    path = env.config / "trustpolicy.json"
    path.write_text(json.dumps(doc))
    return path
