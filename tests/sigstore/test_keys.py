"""load_sigstore_key: cosign/skopeo key vectors, plain PEM keys, passphrase sources."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from ocisign.batch import Status
from ocisign.errors import KeyFileError, PassphraseError, UsageError
from ocisign.keys.cosign import encrypt_private_key
from ocisign.sigstore.attach import SigstoreAttacher, load_sigstore_key
from tests.conftest import cli_env
from tests.fixtures.registry import RunningRegistry, push_test_image

from .conftest import KEYS, SKOPEO_KEY, SKOPEO_PASS, SKOPEO_PUB, accepts, resolve, sign_all

PASS = KEYS / "passphrase.txt"  # "hello", cosign's test passphrase
VECTORS = {
    "sigstore-label": (KEYS / "sigstore-label-p256.key", PASS, KEYS / "sigstore-label-p256.pub"),
    "cosign-label-n32768": (
        KEYS / "cosign-label-p256-n32768.key",
        PASS,
        KEYS / "cosign-label-p256-n32768.pub",
    ),
    "skopeo-generated": (SKOPEO_KEY, SKOPEO_PASS, SKOPEO_PUB),  # passphrase file ends in \n
}
SEC1 = KEYS / "cosign-label-sec1-n65536-rejected.key"


@pytest.fixture(autouse=True)
def no_password_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OCISIGN_PASSWORD", "OCISIGN_KEY_PASSPHRASE", "COSIGN_PASSWORD"):
        monkeypatch.delenv(name, raising=False)


def pem_public(key: object) -> bytes:
    return key.public_bytes(  # type: ignore[attr-defined, no-any-return]
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@pytest.mark.integration
@pytest.mark.parametrize("name", VECTORS)
def test_vector_keys_sign_what_skopeo_accepts(
    name: str, registry: RunningRegistry, skopeo: Path
) -> None:
    key_path, pass_path, pub_path = VECTORS[name]
    key = load_sigstore_key(key_path, pass_path)
    assert pem_public(key.public_key()) == pem_public(
        serialization.load_pem_public_key(pub_path.read_bytes())
    )
    push_test_image(registry, f"vec/{name}:v1", ("amd64", "arm64"))
    ref = f"{registry.host}/vec/{name}:v1"
    outcomes = sign_all(SigstoreAttacher(key), [resolve(registry.client(), ref)])
    assert [o.status for o in outcomes] == [Status.SIGNED] * 3
    assert accepts(skopeo, ref, [pub_path], "matchRepoDigestOrExact", all_instances=True)
    assert not accepts(
        skopeo,
        ref,
        [KEYS / "sigstore-label-p256.pub"] if name != "sigstore-label" else [SKOPEO_PUB],
        "matchRepository",
        all_instances=True,
    )


def test_sec1_inside_is_rejected_as_cosign_does() -> None:
    with pytest.raises(KeyFileError) as err:
        load_sigstore_key(SEC1, PASS)
    assert not isinstance(err.value, PassphraseError)  # the passphrase was right
    assert "PKCS#8" in err.value.message


def test_wrong_passphrase_fails_clearly(tmp_path: Path) -> None:
    wrong = tmp_path / "wrong.txt"
    wrong.write_text("not-hello\n")
    with pytest.raises(PassphraseError) as err:
        load_sigstore_key(KEYS / "sigstore-label-p256.key", wrong)
    assert "wrong passphrase" in err.value.message
    assert "--sigstore-passphrase-file" in (err.value.hint or "")
    assert "not-hello" not in err.value.diagnostics()


def test_missing_passphrase_file(tmp_path: Path) -> None:
    with pytest.raises(PassphraseError, match="does not exist"):
        load_sigstore_key(KEYS / "sigstore-label-p256.key", tmp_path / "nope")


@pytest.mark.parametrize("var", ["OCISIGN_KEY_PASSPHRASE", "COSIGN_PASSWORD"])
def test_passphrase_from_environment(var: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(var, "hello")
    key = load_sigstore_key(KEYS / "cosign-label-p256-n32768.key", None)
    assert isinstance(key.public_key(), ec.EllipticCurvePublicKey)


def test_file_wins_over_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OCISIGN_KEY_PASSPHRASE", "wrong")
    assert load_sigstore_key(KEYS / "sigstore-label-p256.key", PASS).public_key


def test_no_tty_and_no_passphrase_is_a_clear_error() -> None:
    """A subprocess whose stdin is not a terminal: an error, never a hanging prompt."""
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from ocisign.errors import OcisignError\n"
        "from ocisign.sigstore.attach import load_sigstore_key\n"
        "try:\n"
        f"    load_sigstore_key(Path({str(KEYS / 'sigstore-label-p256.key')!r}), None)\n"
        "except OcisignError as err:\n"
        "    print(err.diagnostics(), file=sys.stderr)\n"
        "    sys.exit(1)\n"
    )
    env = cli_env()
    for name in ("OCISIGN_PASSWORD", "OCISIGN_KEY_PASSPHRASE", "COSIGN_PASSWORD"):
        env.pop(name, None)
    proc = subprocess.run(
        [sys.executable, "-c", code],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr
    assert "no terminal to ask for it" in proc.stderr
    assert "Hint: pass --sigstore-passphrase-file FILE" in proc.stderr


PLAIN: dict[str, Callable[[], object]] = {
    "P-256": lambda: ec.generate_private_key(ec.SECP256R1()),
    "P-384": lambda: ec.generate_private_key(ec.SECP384R1()),
    "P-521": lambda: ec.generate_private_key(ec.SECP521R1()),
    "RSA-2048": lambda: rsa.generate_private_key(65537, 2048),
    "Ed25519": ed25519.Ed25519PrivateKey.generate,
}


def _write_plain(key: object, path: Path) -> Path:
    path.write_bytes(
        key.private_bytes(  # type: ignore[attr-defined]
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return path


@pytest.mark.parametrize("kind", PLAIN)
def test_plain_and_encrypted_keys_of_every_type(kind: str, tmp_path: Path) -> None:
    key = PLAIN[kind]()
    plain = load_sigstore_key(_write_plain(key, tmp_path / "plain.pem"), None)
    assert pem_public(plain.public_key()) == pem_public(key.public_key())  # type: ignore[attr-defined]
    encrypted = tmp_path / "enc.key"
    encrypted.write_bytes(encrypt_private_key(key, b"pw"))  # type: ignore[arg-type]
    (tmp_path / "pw").write_text("pw\n")
    loaded = load_sigstore_key(encrypted, tmp_path / "pw")
    assert pem_public(loaded.public_key()) == pem_public(key.public_key())  # type: ignore[attr-defined]


@pytest.mark.integration
def test_plain_ed25519_and_p384_keys_sign_what_skopeo_accepts(
    registry: RunningRegistry, skopeo: Path, tmp_path: Path
) -> None:
    for kind in ("Ed25519", "P-384"):
        key = PLAIN[kind]()
        loaded = load_sigstore_key(_write_plain(key, tmp_path / f"{kind}.pem"), None)
        pub = tmp_path / f"{kind}.pub"
        pub.write_bytes(pem_public(loaded.public_key()))
        repo = f"plain/{kind.lower()}"
        push_test_image(registry, f"{repo}:v1")
        ref = f"{registry.host}/{repo}:v1"
        sign_all(SigstoreAttacher(loaded), [resolve(registry.client(), ref)])
        assert accepts(skopeo, ref, [pub], "matchRepoDigestOrExact")


def test_small_rsa_key_is_refused(tmp_path: Path) -> None:
    small = rsa.generate_private_key(65537, 1024)
    with pytest.raises(KeyFileError, match="too small"):
        load_sigstore_key(_write_plain(small, tmp_path / "small.pem"), None)


def test_unknown_identity_is_a_usage_error() -> None:
    key = load_sigstore_key(KEYS / "sigstore-label-p256.key", PASS)
    with pytest.raises(UsageError, match="unknown sigstore identity"):
        SigstoreAttacher(key, identity="docker")
