"""notation's X.509 trust store: ``truststore/x509/{ca,signingAuthority,tsa}/<name>/<files>``.

The root is ``config.paths.trust_store_dir()`` (the ``truststore`` folder) or the
``--trust-store DIR`` a user gives. ``DIR`` may be the ``truststore`` folder itself
(it holds ``x509/``) or its ``x509`` child (it holds ``ca/``, ``signingAuthority/``,
``tsa/``); both are accepted.

Rules (notation-go ``verifier/truststore``): store names match ``[a-zA-Z0-9_.-]+``;
a store is a real directory whose entries are regular files (no subdirectories, no
symlinks); each file holds one or more PEM or DER certificates; every certificate is a
CA or self-signed; ``tsa`` stores hold self-signed root CA certificates only; an empty
or missing store is an error.
"""

from __future__ import annotations

import re
import stat
from collections.abc import Callable
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature

from ocisign.config import paths
from ocisign.errors import ConfigError
from ocisign.util.fs import atomic_write, ensure_dir

STORE_TYPES = ("ca", "signingAuthority", "tsa")
_NAME_RE = re.compile(r"[a-zA-Z0-9_.-]+")
_HINT = (
    "add certificates with the layout truststore/x509/<ca|signingAuthority|tsa>/<name>/<cert files>"
)


def parse_store_ref(ref: str) -> tuple[str, str]:
    """Split ``type:name`` and check both parts (ConfigError otherwise)."""
    store_type, sep, name = ref.partition(":")
    if not sep:
        raise ConfigError(
            f"malformed trust store value {ref!r}, the required format is <type>:<name>",
            hint=f"use one of the types {', '.join(STORE_TYPES)}, e.g. ca:my-store",
        )
    if store_type not in STORE_TYPES:
        raise ConfigError(
            f"unsupported trust store type {store_type!r} in {ref!r}",
            hint=f"use one of {', '.join(STORE_TYPES)}",
        )
    if not _NAME_RE.fullmatch(name):
        raise ConfigError(
            f"unsupported trust store name {name!r} in {ref!r}; "
            "a store name must match [a-zA-Z0-9_.-]+"
        )
    return store_type, name


def x509_root(root: Path | None = None) -> Path:
    """The ``x509`` folder of the trust store rooted at ``root`` (default: config dir)."""
    base = Path(root) if root is not None else paths.trust_store_dir()
    if (base / "x509").is_dir():
        return base / "x509"
    if base.name == "x509" or any((base / t).is_dir() for t in STORE_TYPES):
        return base
    return base / "x509"


def read_certificates(path: Path) -> list[x509.Certificate]:
    """All certificates of one PEM or DER file (ConfigError if there are none)."""
    data = path.read_bytes()
    try:
        if b"-----BEGIN" in data:
            certs = x509.load_pem_x509_certificates(data)
        else:
            certs = [x509.load_der_x509_certificate(data)]
    except ValueError as exc:
        raise ConfigError(
            f"failed to read the certificate file {path}: {exc}",
            hint="trust store files hold PEM or DER X.509 certificates",
        ) from exc
    if not certs:
        raise ConfigError(f"no certificate found in {path}")
    return certs


def is_self_signed(cert: x509.Certificate) -> bool:
    """True when ``cert`` names itself as issuer and its signature checks with its own key."""
    try:
        cert.verify_directly_issued_by(cert)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def is_ca(cert: x509.Certificate) -> bool:
    """True when basicConstraints is present with cA=true."""
    try:
        bc = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        return False
    return bool(bc.ca)


def _check_cert(cert: x509.Certificate, store_type: str, where: str) -> None:
    subject = cert.subject.rfc4514_string()
    if store_type == "tsa":
        if not (is_ca(cert) and is_self_signed(cert)):
            raise ConfigError(
                f"trusted certificate {where} is invalid: certificate with subject "
                f"{subject!r} is not a root CA certificate (tsa stores hold root CAs only)",
                hint="put the TSA's self-signed root CA certificate in the tsa store",
            )
    elif not (is_ca(cert) or is_self_signed(cert)):
        raise ConfigError(
            f"failed to validate the trusted certificate {where}: certificate with subject "
            f"{subject!r} is not a CA certificate or self-signed signing certificate",
            hint="a trust store holds root/intermediate CA certificates or self-signed "
            "signing certificates, never a leaf issued by someone else",
        )


def load_store(ref: str, root: Path | None = None) -> list[x509.Certificate]:
    """The certificates of the named store ``type:name`` (e.g. ``ca:e2e``).

    ``root`` is the ``truststore`` folder or its ``x509`` child; default is the
    config dir's ``truststore``. Raises ConfigError naming the store path.
    """
    store_type, name = parse_store_ref(ref)
    path = x509_root(root) / store_type / name
    try:
        info = path.lstat()
    except FileNotFoundError:
        raise ConfigError(
            f"the trust store {name!r} of type {store_type!r} does not exist: {path}",
            hint=_HINT,
        ) from None
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        raise ConfigError(
            f"the trust store {name!r} of type {store_type!r} at {path} is not a regular "
            "directory (symlinks are not supported)",
            hint=_HINT,
        )
    certs: list[x509.Certificate] = []
    for entry in sorted(path.iterdir()):
        where = f"{entry.name} in trust store {name} of type {store_type} ({path})"
        mode = entry.lstat().st_mode
        if not stat.S_ISREG(mode):
            raise ConfigError(
                f"trusted certificate {where} is not a regular file "
                "(directories or symlinks are not supported)",
                hint=_HINT,
            )
        for cert in read_certificates(entry):
            _check_cert(cert, store_type, where)
            certs.append(cert)
    if not certs:
        raise ConfigError(
            f"no x509 certificates were found in trust store {name!r} of type "
            f"{store_type!r}: {path}",
            hint=_HINT,
        )
    return certs


def store_loader(root: Path | None = None) -> Callable[[str], list[x509.Certificate]]:
    """A ``load_store`` bound to ``root`` (e.g. ``--trust-store DIR``) that reads each
    store once; what ``trust.verify_notary(stores=...)`` takes."""
    cache: dict[str, list[x509.Certificate]] = {}

    def load(ref: str) -> list[x509.Certificate]:
        if ref not in cache:
            cache[ref] = load_store(ref, root)
        return cache[ref]

    return load


# --------------------------------------------------------- managing the store


def check_store(store_type: str, name: str) -> None:
    """notation's checks of ``--type`` and ``--store`` (its error texts)."""
    if not store_type:
        raise ConfigError("store type cannot be empty", hint=f"use one of {', '.join(STORE_TYPES)}")
    if store_type not in STORE_TYPES:
        raise ConfigError(f"unsupported store type: {store_type}",
                          hint=f"use one of {', '.join(STORE_TYPES)}")
    if not _NAME_RE.fullmatch(name):
        raise ConfigError("named store name needs to follow [a-zA-Z0-9_.-]+ format")


def check_certificate_file(path: Path, store_type: str) -> list[x509.Certificate]:
    """What ``cert add`` accepts: a regular file of PEM/DER certificates, no private key,
    each certificate fit for a ``store_type`` store (the rules :func:`load_store` applies)."""
    try:
        info = path.stat()
    except OSError as exc:
        raise ConfigError(f"open {path}: {exc.strerror}") from None
    if not stat.S_ISREG(info.st_mode):
        raise ConfigError(f"{path} is not a regular file")
    if b"PRIVATE KEY-----" in path.read_bytes():
        raise ConfigError(
            f"{path} holds a private key; a trust store holds certificates only",
            hint="add the certificate file alone (keep the private key out of the trust store)",
        )
    certs = read_certificates(path)
    for cert in certs:
        _check_cert(cert, store_type, str(path))
    return certs


def add_certificate(path: Path, store_type: str, name: str, root: Path | None = None) -> Path:
    """Copy a certificate file into ``x509/<type>/<name>/`` (0600 in a 0700 folder, as
    notation's ``cert add``); refuse a file name already in the store."""
    check_store(store_type, name)
    path = Path(path)
    check_certificate_file(path, store_type)
    folder = x509_root(root) / store_type / name
    target = folder / path.name
    if target.exists() or target.is_symlink():
        raise ConfigError("certificate already exists in the Trust Store",
                          hint=f"delete {path.name} from the store first, or rename the file")
    ensure_dir(folder)
    atomic_write(target, path.read_bytes(), mode=0o600)
    return target


def list_certificates(
    store_type: str = "", name: str = "", root: Path | None = None
) -> list[Path]:
    """Certificate files of the stores matching ``store_type``/``name`` ("" = any), sorted
    by type (notation's order), store and file. An unknown type lists nothing, as notation."""
    if store_type and store_type not in STORE_TYPES:
        return []
    base = x509_root(root)
    out: list[Path] = []
    for kind in [store_type] if store_type else list(STORE_TYPES):
        kind_dir = base / kind
        if not kind_dir.is_dir():
            continue
        stores = [kind_dir / name] if name else sorted(kind_dir.iterdir())
        for store in stores:
            if not store.is_dir() or store.is_symlink():
                continue
            for entry in sorted(store.iterdir()):
                if entry.is_file() and not entry.is_symlink():
                    read_certificates(entry)  # notation lists certificate files only
                    out.append(entry)
    return out


def store_file(store_type: str, name: str, file: str, root: Path | None = None) -> Path:
    """The path of one file in a store (its name may not leave the store)."""
    check_store(store_type, name)
    if not file or "/" in file or file in (".", ".."):
        raise ConfigError(f"invalid certificate file name {file!r}",
                          hint="name a file of the store, as `cert ls` shows it")
    return x509_root(root) / store_type / name / file


def store_path(store_type: str, name: str, root: Path | None = None) -> Path:
    """The folder of one named store."""
    check_store(store_type, name)
    return x509_root(root) / store_type / name
