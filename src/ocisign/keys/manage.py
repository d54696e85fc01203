"""What ``ocisign key`` does: named keys in the key store, and cosign key pairs on disk."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ocisign.config import paths
from ocisign.config.keystore import KeyEntry, KeyStore
from ocisign.errors import KeyFileError, KeyStoreError, UsageError
from ocisign.keys import KEY_TYPES, cosign, pem
from ocisign.keys.generate import generate_key, make_test_certificate
from ocisign.keys.pem import PrivateKey
from ocisign.keys.pkcs11_uri import redact
from ocisign.util.fs import atomic_write, ensure_dir

if TYPE_CHECKING:
    from cryptography import x509

NAME_PATTERN = re.compile(r"[a-zA-Z0-9_.-]+")


@dataclass(frozen=True)
class GeneratedKey:
    """The files ``key generate`` wrote and the entry it added.

    ``trust_store_cert``: the certificate's copy in the ``ca`` trust store named after the key.
    """

    entry: KeyEntry
    trust_store_cert: Path
    key_type: str
    default: bool


@dataclass(frozen=True)
class KeyPairFiles:
    """The two files ``key generate-pair`` wrote."""

    private_key: Path
    public_key: Path
    key_type: str


def check_name(name: str) -> None:
    """Key names follow notation: ``[a-zA-Z0-9_.-]+``."""
    if not NAME_PATTERN.fullmatch(name) or name in {".", ".."}:
        raise UsageError(
            f"invalid key name {name!r}",
            hint="a key name uses only letters, digits, '_', '.' and '-'",
        )


def check_new_name(name: str) -> None:
    """UsageError for a bad key name, KeyStoreError if the store has it already."""
    check_name(name)
    KeyStore.load().ensure_absent(name)


def generate_named_key(name: str, key_type: str, days: int, default: bool) -> GeneratedKey:
    """``notation cert generate-test``: key + self-signed cert, store entry, trust store copy."""
    check_new_name(name)
    return certify_key(name, generate_key(key_type), days, default)


def certify_key(
    name: str, key: PrivateKey, days: int, default: bool, *, key_ref: str | None = None
) -> GeneratedKey:
    """A test certificate for ``key``, its trust-store copy and the key-store entry ``name``.

    ``key_ref`` is where the key lives already (a ``pkcs11:`` URI); without it the key is
    written to ``localkeys/NAME.key`` (mode 0600).
    """
    check_name(name)
    store = KeyStore.load()
    store.ensure_absent(name)
    key_dir = paths.local_keys_dir()
    key_file, cert_file = key_dir / f"{name}.key", key_dir / f"{name}.crt"
    for existing in (cert_file,) if key_ref else (key_file, cert_file):
        if existing.exists():
            raise KeyStoreError(
                f"{existing} already exists; refusing to overwrite it",
                hint="choose another name, or move the old files away",
            )
    cert_pem = pem.certificate_pem([make_test_certificate(key, name, days)])
    trust_cert = paths.trust_store_dir() / "x509" / "ca" / name / f"{name}.crt"
    ensure_dir(key_dir)
    ensure_dir(trust_cert.parent)
    if key_ref is None:
        atomic_write(key_file, pem.private_key_pem(key), mode=0o600)
        key_ref = str(key_file.resolve())
    atomic_write(cert_file, cert_pem, mode=0o644)
    atomic_write(trust_cert, cert_pem, mode=0o644)
    entry = KeyEntry(name=name, keyPath=key_ref, certPath=str(cert_file.resolve()))
    store.add(entry, default=default)
    store.save()
    return GeneratedKey(entry, trust_cert, pem.key_type_name(key), default)


def add_local_key(name: str, key_file: Path, cert_file: Path, default: bool) -> KeyEntry:
    """Register an existing key/cert pair after checking that the leaf matches the key."""
    check_new_name(name)
    key = pem.load_private_key(key_file)
    chain = pem.load_certificates(cert_file)
    return register_key(
        name, str(key_file.resolve()), str(cert_file.resolve()), key, chain, default
    )


def register_key(
    name: str,
    key_ref: str,
    cert_ref: str,
    key: PrivateKey,
    chain: list[x509.Certificate],
    default: bool,
) -> KeyEntry:
    """Add ``{name, keyPath, certPath}`` once the key type and the leaf are checked."""
    check_name(name)
    store = KeyStore.load()
    store.ensure_absent(name)
    shown = redact(key_ref)
    key_type = pem.key_type_name(key)
    if key_type not in KEY_TYPES:
        raise KeyFileError(
            f"{shown} is an {key_type} key, which Notary Project signatures cannot use",
            hint=f"use one of: {', '.join(KEY_TYPES)}",
        )
    if pem.public_key_der(key) != pem.certificate_public_key_der(chain[0]):
        raise KeyFileError(
            f"the certificate {redact(cert_ref)} does not match the private key {shown}",
            hint="the first certificate in the file must be the leaf issued for this key",
        )
    entry = KeyEntry(name=name, keyPath=key_ref, certPath=cert_ref)
    store.add(entry, default=default)
    store.save()
    return entry


def add_plugin_key(
    name: str, plugin: str, key_id: str, config: dict[str, str], default: bool
) -> KeyEntry:
    """Register a key held by a notation plugin."""
    check_name(name)
    store = KeyStore.load()
    entry = KeyEntry(name=name, id=key_id, pluginName=plugin, pluginConfig=config or None)
    store.add(entry, default=default)
    store.save()
    return entry


def delete_keys(names: list[str]) -> list[str]:
    """Remove entries (never files); all names are checked before anything is changed."""
    store = KeyStore.load()
    for name in names:
        store.get(name)
    for name in names:
        store.remove(name)
    store.save()
    return names


def set_default_key(name: str) -> KeyEntry:
    """Make ``name`` the default key."""
    store = KeyStore.load()
    store.set_default(name)
    store.save()
    return store.get(name)


def pair_files(prefix: Path) -> tuple[Path, Path]:
    """``PREFIX.key`` and ``PREFIX.pub``."""
    return prefix.with_name(prefix.name + ".key"), prefix.with_name(prefix.name + ".pub")


def check_pair_absent(prefix: Path, force: bool) -> None:
    """Refuse to overwrite an existing key pair unless ``force`` (called before prompting)."""
    if force:
        return
    for existing in pair_files(prefix):
        if existing.exists():
            raise KeyFileError(
                f"{existing} already exists; refusing to overwrite it",
                hint="pass --force to overwrite, or choose another --output-prefix",
            )


def generate_key_pair(prefix: Path, key_type: str, passphrase: bytes, force: bool) -> KeyPairFiles:
    """``cosign generate-key-pair``: ``PREFIX.key`` (encrypted, 0600) and ``PREFIX.pub``."""
    check_pair_absent(prefix, force)
    private_file, public_file = pair_files(prefix)
    key = generate_key(key_type)
    atomic_write(private_file, cosign.encrypt_private_key(key, passphrase), mode=0o600)
    atomic_write(public_file, pem.public_key_pem(key), mode=0o644)
    return KeyPairFiles(private_file, public_file, key_type)


def cleanup_test_key(name: str) -> list[str]:
    """``notation cert cleanup-test``: undo ``generate-test`` (trust store copy, key store
    entry, key and cert files); what is already gone is reported, not an error."""
    check_name(name)
    key_dir = paths.local_keys_dir()
    trust_cert = paths.trust_store_dir() / "x509" / "ca" / name / f"{name}.crt"
    lines = []
    if trust_cert.is_file():
        trust_cert.unlink()
        lines.append(f"Successfully deleted {name}.crt")
    else:
        lines.append(f"Certificate {name}.crt does not exist in trust store {name} of type ca")
    store = KeyStore.load()
    if store.find(name) is None:
        lines.append(f"Key {name} does not exist in the key list")
    else:
        store.remove(name)
        store.save()
        lines.append(f"Successfully removed key {name} from the key list")
    for label, file in (("Key", key_dir / f"{name}.key"),
                        ("Certificate", key_dir / f"{name}.crt")):
        if file.is_file():
            file.unlink()
            lines.append(f"Successfully deleted {label.lower()} file: {file}")
        else:
            lines.append(f"{label} file {file} does not exist")
    lines.append("Cleanup completed successfully")
    return lines
