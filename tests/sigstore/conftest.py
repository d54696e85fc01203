"""Fixtures and helpers for the sigstore tests: vectors, keys, resolving, signing, skopeo,
request counts."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from ocisign.batch import Outcome
from ocisign.envelopes import simplesigning as ss
from ocisign.envelopes.simplesigning import PublicKey
from ocisign.registry import open_store
from ocisign.registry.client import RegistryClient
from ocisign.registry.http import Response
from ocisign.registry.store import sigstore_tag
from ocisign.resolve.targets import Resolved, resolve_targets
from ocisign.signers.local import LocalSigner
from ocisign.sigstore.attach import SigstoreAttacher
from tests.conftest import DATA
from tests.fixtures.skopeo import Identity, skopeo_verify

VECTORS = DATA / "sigstore"
FIXTURES = VECTORS / "containers-image-fixtures"


def load_public_key(path: Path) -> PublicKey:
    return load_pem_public_key(path.read_bytes())  # type: ignore[return-value]


@pytest.fixture
def skopeo_pub() -> PublicKey:
    return load_public_key(VECTORS / "skopeo-generated.pub")


@pytest.fixture
def cosign_pub() -> PublicKey:
    return load_public_key(FIXTURES / "cosign.pub")


@pytest.fixture
def cosign2_pub() -> PublicKey:
    return load_public_key(FIXTURES / "cosign2.pub")


KEYS = DATA / "keys" / "sigstore"
SKOPEO_KEY = DATA / "sigstore" / "skopeo-generated.private"
SKOPEO_PASS = DATA / "sigstore" / "skopeo-generated.passphrase"
SKOPEO_PUB = DATA / "sigstore" / "skopeo-generated.pub"


@dataclass
class KeyPair:
    key: LocalSigner
    pub: Path


def write_pub(key: ss.PublicKey, path: Path) -> Path:
    path.write_bytes(
        key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return path


def new_key(directory: Path, name: str) -> KeyPair:
    private = ec.generate_private_key(ec.SECP256R1())
    return KeyPair(
        LocalSigner(private),
        write_pub(private.public_key(), directory / f"{name}.pub"),
    )


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, KeyPair]:
    """Two fresh P-256 keys, ``ours`` and ``other``, with public key files."""
    d = tmp_path_factory.mktemp("keys")
    return {name: new_key(d, name) for name in ("ours", "other")}


def resolve(client: RegistryClient, ref: str, *, archs: Sequence[str] = ()) -> Resolved:
    """``resolve_targets(expand=True)`` for a registry reference."""
    return resolve_targets(open_store(ref, client=client), expand=True, archs=archs)


def sign_all(
    attacher: SigstoreAttacher,
    resolved: Sequence[Resolved],
    *,
    threads: int = 8,
) -> list[Outcome]:
    """Sign every target of every resolved reference from ``threads`` threads."""
    work = [(r, t) for r in resolved for t in r.targets]
    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(lambda rt: attacher.sign(rt[0], rt[1]), work))


def sig_layers(client: RegistryClient, name: str, digest: str) -> list[ss.SignatureLayer]:
    """The layers of ``digest``'s ``.sig`` manifest in repository ``name``."""
    store = client.store(name)
    return ss.parse_sig_manifest(store.fetch_manifest(sigstore_tag(digest)).raw)


def accepts(skopeo: Path, ref: str, pubs: Sequence[Path], rule: Identity, **kw: Any) -> bool:
    ok, out = skopeo_verify(skopeo, ref, pubs, rule, **kw)
    print(f"skopeo {'ACCEPTED' if ok else 'REJECTED'} {ref} ({rule}): {out[-300:]}")
    return ok


def skopeo_sign(skopeo: Path, ref: str, tmp: Path, *, all_instances: bool = False) -> None:
    """skopeo's own signature: copy the image onto itself with the skopeo-generated key."""
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "policy.json").write_text('{"default":[{"type":"insecureAcceptAnything"}]}')
    regd = tmp / "registries.d"
    regd.mkdir(exist_ok=True)
    (regd / "default.yaml").write_text("default-docker:\n  use-sigstore-attachments: true\n")
    cmd = [str(skopeo), "--policy", str(tmp / "policy.json"), "--registries.d", str(regd)]
    cmd += ["copy", "-q", "--preserve-digests", "--src-tls-verify=false"]
    cmd += ["--dest-tls-verify=false", *(["--all"] if all_instances else [])]
    cmd += ["--sign-by-sigstore-private-key", str(SKOPEO_KEY)]
    cmd += ["--sign-passphrase-file", str(SKOPEO_PASS), f"docker://{ref}", f"docker://{ref}"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr


@contextmanager
def counting(client: RegistryClient) -> Iterator[list[str]]:
    """Record ``METHOD path`` of every HTTP response the client's session gets."""
    seen: list[str] = []
    lock = threading.Lock()

    def observe(response: Response) -> None:
        parts = urlsplit(response.url)
        with lock:
            seen.append(f"{response.method} {parts.path}" + (f"?{parts.query}" * bool(parts.query)))

    client.transport.observers.append(observe)
    try:
        yield seen
    finally:
        client.transport.observers.remove(observe)
