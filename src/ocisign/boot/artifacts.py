"""The ``sign-artifacts`` pipeline: sign the files of an Image Customizer artifacts folder.

Flow (Image Customizer's, from its sign-artifacts branch): load the config, resolve the
artifacts folder and the public keys folder, read ``inject-files.yaml``, make a signing
identity (a fresh ephemeral key and certificate, or a key file), sign every entry by its
``type``, write ``ca.pem``. Unlike upstream, nothing changes unless everything worked:
each file is signed into a temporary copy first, and the copies are renamed over the
originals only at the end. The private key exists only in memory.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import secrets
import shutil
import string
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ocisign.boot.authenticode import sign_pe, signatures
from ocisign.config import signartifacts as cfg
from ocisign.errors import ArtifactError, KeyFileError
from ocisign.keys.algorithms import Scheme
from ocisign.keys.pem import keys_match, load_certificates, load_private_key
from ocisign.keys.pkcs11_uri import is_pkcs11_ref, parse_uri, redact
from ocisign.util.fs import atomic_write

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

    from ocisign.config.signartifacts import InjectArtifactMetadata, SignArtifactsConfig

log = logging.getLogger(__name__)

AUTHENTICODE_TYPES = frozenset({"ukis", "uki-addons", "shim", "bootloader", "systemd-boot"})
VERITY_TYPE = "verity-hash"
EPHEMERAL_CN_PREFIX = "Image Customizer Ephemeral Signing "
PUBLIC_CERT_NAME = "ca.pem"

_HEX = re.compile(rb"(?:[0-9a-fA-F]{2})+")


@dataclass(frozen=True)
class SignArtifactsRequest:
    """What the CLI asks for; CLI paths are relative to the working directory."""

    config_file: Path
    build_dir: Path
    artifacts_path: str | None = None
    public_keys_path: str | None = None


@dataclass(frozen=True)
class SigningIdentity:
    """A private key (kept in memory only) and its certificate chain, signer first."""

    key: PrivateKeyTypes = field(repr=False)
    certs: list[x509.Certificate]


@dataclass(frozen=True)
class FileResult:
    """What happened to one ``injectFiles`` entry."""

    source: str
    path: Path
    type: str
    result: str  # "signed" or "skipped"
    detail: str


@dataclass(frozen=True)
class SignArtifactsResult:
    """The outcome of a successful run."""

    artifacts_path: Path
    signing_method: str  # "ephemeral", "key" or "pkcs11"
    certificate_subject: str
    certificate_sha256: str
    public_cert_path: Path | None
    files: list[FileResult]


def sign_artifacts(request: SignArtifactsRequest) -> SignArtifactsResult:
    """Sign every file listed in the artifacts folder's ``inject-files.yaml``, all or nothing."""
    config = cfg.load_sign_artifacts_config(request.config_file)
    artifacts = cfg.resolve_artifacts_path(config, request.config_file, request.artifacts_path)
    public_keys = cfg.resolve_public_keys_path(
        config, request.config_file, request.public_keys_path
    )
    tmp = _make_temp_dir(request.build_dir)
    try:
        return _sign_in(tmp, config, request.config_file, artifacts, public_keys)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _sign_in(
    tmp: Path,
    config: SignArtifactsConfig,
    config_file: Path,
    artifacts: Path,
    public_keys: Path | None,
) -> SignArtifactsResult:

    inject = cfg.load_inject_files(artifacts / "inject-files.yaml")
    method = config.signing_method
    if method is not None and method.key is not None and is_pkcs11_ref(method.key.key_path):
        log.info("Signing artifacts with PKCS#11 key %s", redact(method.key.key_path))
        identity = load_token_identity(config_file, method.key.key_path, method.key.cert_path)
        method_name = "pkcs11"
    elif method is not None and method.key is not None:
        log.info("Signing artifacts with key file (cert='%s')", method.key.cert_path)
        identity = load_signing_identity(
            cfg.config_relative(config_file, method.key.key_path),
            cfg.config_relative(config_file, method.key.cert_path),
        )
        method_name = "key"
    else:
        log.info("Signing artifacts with ephemeral keys")
        log.info("Generating ephemeral signing keys")
        identity = generate_ephemeral_identity()
        method_name = "ephemeral"

    staged: list[_Staged] = []
    try:
        results = _stage_all(tmp, artifacts, inject.inject_files, identity, staged)
        cert_path = _commit(tmp, staged, public_keys, identity.certs[0])
        staged.clear()
    finally:
        for item in staged:
            with contextlib.suppress(OSError):
                item.copy.unlink()
    log.info("Success!")
    cert = identity.certs[0]
    return SignArtifactsResult(
        artifacts_path=artifacts,
        signing_method=method_name,
        certificate_subject=cert.subject.rfc4514_string(),
        certificate_sha256=cert.fingerprint(hashes.SHA256()).hex(),
        public_cert_path=cert_path,
        files=results,
    )


@dataclass(frozen=True)
class _Staged:
    """A signed temporary copy waiting to replace its original (kept for undo)."""

    copy: Path
    original: Path
    old: bytes = field(repr=False)


def _commit(
    tmp: Path, staged: list[_Staged], public_keys: Path | None, cert: x509.Certificate
) -> Path | None:
    """Write ``ca.pem``, then rename every signed copy over its original; undo all on failure."""
    ca_file = public_keys / PUBLIC_CERT_NAME if public_keys is not None else None
    old_ca = ca_file.read_bytes() if ca_file is not None and ca_file.is_file() else None
    new_dirs = _missing_dirs(public_keys) if public_keys is not None else []
    done: list[_Staged] = []
    current = None
    try:
        if public_keys is not None:
            log.info("Outputting public keys")
            _write_public_cert(public_keys, cert)
        for current in staged:
            os.replace(current.copy, current.original)
            done.append(current)
    except BaseException as err:
        _undo(tmp, done, ca_file, old_ca, new_dirs)
        if isinstance(err, OSError) and current is not None:
            raise ArtifactError(
                f"failed to replace {current.original} with its signed copy:\n"
                f"{err.strerror or err}",
                hint="nothing was changed; check the permissions of the artifacts folder",
            ) from None
        raise
    return ca_file


def _undo(
    tmp: Path,
    done: list[_Staged],
    ca_file: Path | None,
    old_ca: bytes | None,
    new_dirs: list[Path],
) -> None:
    """Put back the originals already replaced, the previous ``ca.pem``, no new folders."""
    for item in reversed(done):
        with contextlib.suppress(OSError):
            os.replace(_stage(tmp, item.original, item.old), item.original)
    if ca_file is not None:
        with contextlib.suppress(OSError):
            if old_ca is None:
                ca_file.unlink()
            else:
                atomic_write(ca_file, old_ca, 0o644)
    for folder in new_dirs:  # deepest first; only if still empty
        with contextlib.suppress(OSError):
            folder.rmdir()


def _missing_dirs(folder: Path) -> list[Path]:
    """``folder`` and its ancestors that do not exist yet, deepest first."""
    missing = []
    for path in [folder, *folder.parents]:
        if path.exists():
            break
        missing.append(path)
    return missing


def _stage_all(
    tmp: Path,
    artifacts: Path,
    entries: list[InjectArtifactMetadata],
    identity: SigningIdentity,
    staged: list[_Staged],
) -> list[FileResult]:
    """Sign each entry into a temporary copy (appended to ``staged``); report each file."""
    results: list[FileResult] = []
    done: dict[Path, str] = {}
    for entry in entries:
        log.info("Signing artifact: %s", entry.source)
        path = Path(entry.source) if os.path.isabs(entry.source) else artifacts / entry.source
        key = Path(os.path.normpath(path.absolute()))
        if entry.type not in AUTHENTICODE_TYPES and entry.type != VERITY_TYPE:
            why = f"type '{entry.type}' is not signed" if entry.type else "it has no type"
            log.warning("Not signing %s: %s", entry.source, why)
            results.append(FileResult(entry.source, path, entry.type, "skipped", why))
            continue
        if key in done:
            results.append(
                FileResult(entry.source, path, entry.type, "signed", f"same file as {done[key]}")
            )
            continue
        if entry.type == VERITY_TYPE:
            data = _read(path, "sign verity hash file")
            signed = _sign_verity_file(path, data, identity)
            detail = "PKCS#7 detached"
        else:
            data = _read(path, "sign EFI file")
            signed, count = _sign_efi_file(path, data, identity)
            detail = f"Authenticode, {count} signature{'s' if count > 1 else ''}"
        staged.append(_Staged(_stage(tmp, path, signed), path, data))
        done[key] = entry.source
        results.append(FileResult(entry.source, path, entry.type, "signed", detail))
    return results


def sign_efi(data: bytes, identity: SigningIdentity) -> bytes:
    """A PE/EFI image with one more Authenticode signature (existing ones are kept)."""
    return sign_pe(data, identity.key, identity.certs)


def sign_verity_hash(data: bytes, identity: SigningIdentity) -> bytes:
    """A detached DER PKCS#7 signature of ``data`` with no signed attributes.

    Byte-identical to ``openssl smime -sign -noattr -binary -outform der`` with the same key.
    """
    if not isinstance(identity.key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise ArtifactError("PKCS#7 signing needs an RSA or EC private key")
    builder = pkcs7.PKCS7SignatureBuilder().set_data(data)
    builder = builder.add_signer(identity.certs[0], identity.key, hashes.SHA256())
    for extra in identity.certs[1:]:
        builder = builder.add_certificate(extra)
    options = [
        pkcs7.PKCS7Options.DetachedSignature,
        pkcs7.PKCS7Options.NoAttributes,
        pkcs7.PKCS7Options.Binary,
    ]
    return builder.sign(serialization.Encoding.DER, options)


def generate_ephemeral_identity() -> SigningIdentity:
    """A new RSA-2048 key and self-signed code-signing certificate valid for one day.

    As upstream's ``openssl req -x509``: CN ``Image Customizer Ephemeral Signing XXXX``,
    basicConstraints CA:FALSE, extendedKeyUsage codeSigning, SKI/AKI, random serial.
    """
    try:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        alphabet = string.ascii_uppercase + string.digits
        suffix = "".join(secrets.choice(alphabet) for _ in range(4))
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, EPHEMERAL_CN_PREFIX + suffix)])
        ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
        now = datetime.now(UTC).replace(microsecond=0)
        serial = int.from_bytes(secrets.token_bytes(20), "big") >> 1 or 1
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(serial)
            .not_valid_before(now)
            .not_valid_after(now + timedelta(days=1))
            .add_extension(ski, critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski),
                critical=False,
            )
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=False)
            .add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False
            )
            .sign(key, hashes.SHA256())
        )
    except Exception as err:  # cryptography/OpenSSL failures
        raise ArtifactError(
            "failed to generate ephemeral signing keys:\n"
            f"failed to create ephemeral signing certificate:\n{err}"
        ) from err
    return SigningIdentity(key=key, certs=[cert])


def load_signing_identity(key_path: Path, cert_path: Path) -> SigningIdentity:
    """Load ``signingMethod.key``: an unencrypted PEM key and its certificate (chain)."""

    key = load_private_key(key_path)
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise KeyFileError(
            f"{key_path}: Authenticode and PKCS#7 signing need an RSA or ECDSA key",
            hint="signingMethod.key needs an unencrypted PEM RSA or ECDSA private key",
        )
    certs = load_certificates(cert_path)
    if not keys_match(key, certs[0].public_key()):  # type: ignore[arg-type]
        raise KeyFileError(
            f"the certificate {cert_path} does not belong to the key {key_path}",
            hint="the first certificate in certPath must be the signing key's own",
        )
    return SigningIdentity(key=key, certs=certs)


def load_token_identity(config_file: Path, key_ref: str, cert_ref: str) -> SigningIdentity:
    """``signingMethod.key`` with a ``pkcs11:`` keyPath; certPath may be a file (relative to
    the config), a ``type=cert`` URI, or empty (the certificate on the token)."""
    from ocisign.signers import pkcs11  # python-pkcs11 only for a token key

    if parse_uri(key_ref).pin_value is not None:
        log.warning("signingMethod.key.keyPath holds a pin-value; config files get committed, "
                    "use pin-source=file:... or OCISIGN_PKCS11_PIN instead")
    key = pkcs11.open_key(key_ref, Scheme.CONTAINERS)
    if cert_ref and not is_pkcs11_ref(cert_ref):
        cert_ref = str(cfg.config_relative(config_file, cert_ref))
    certs = pkcs11.load_chain(key, cert_ref or None)
    if not certs:
        raise KeyFileError(
            f"no certificate for the PKCS#11 key {redact(key_ref)}",
            hint="set signingMethod.key.certPath, or write the certificate to the token "
                 "with the key's id",
        )
    return SigningIdentity(key=key, certs=certs)


def _sign_efi_file(path: Path, data: bytes, identity: SigningIdentity) -> tuple[bytes, int]:
    try:
        signed = sign_efi(data, identity)
    except ArtifactError as err:
        raise ArtifactError(
            f"failed to sign EFI file (path='{path}'):\n{err.message}",
            hint="EFI artifacts (ukis, uki-addons, shim, bootloader) must be PE/COFF images",
        ) from err
    return signed, len(signatures(signed))


def _sign_verity_file(path: Path, data: bytes, identity: SigningIdentity) -> bytes:
    if not _HEX.fullmatch(data):
        raise ArtifactError(
            f"failed to sign verity hash file (path='{path}'):\n"
            "the file does not hold a hex root hash (was it signed already?)",
            hint="a verity-hash file must hold the root hash exactly as 'imagecustomizer "
            "customize' wrote it; signing a signature again would make the image unbootable",
        )
    return sign_verity_hash(data, identity)


def _read(path: Path, action: str) -> bytes:
    """An artifact's bytes; a missing file fails as ``failed to <action> (path=...)``."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        reason = f"open {path}: no such file or directory"
    except OSError as err:
        reason = f"open {path}: {(err.strerror or str(err)).lower()}"
    raise ArtifactError(
        f"failed to {action} (path='{path}'):\n{reason}",
        hint="inject-files.yaml lists a file the artifacts folder does not have",
    )


def _stage(tmp: Path, original: Path, data: bytes) -> Path:
    """Write ``data`` to a temporary copy that can be renamed over ``original``.

    The copy lives in the build temp dir when that is on the same file system (so the
    artifacts folder never holds half-made files), else next to the original.
    """
    if not os.access(original.parent, os.W_OK):
        raise ArtifactError(
            f"cannot replace {original}: its folder is not writable",
            hint="run with permission to write the artifacts folder (it may belong to root)",
        )
    folder = tmp if os.stat(tmp).st_dev == os.stat(original.parent).st_dev else original.parent
    fd, name = tempfile.mkstemp(prefix=f".{original.name}.", suffix=".tmp", dir=folder)
    try:
        st = os.stat(original)
        if os.geteuid() == 0:  # e.g. run with sudo: keep the owner of the original
            os.fchown(fd, st.st_uid, st.st_gid)
        os.fchmod(fd, st.st_mode & 0o7777)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(name)
        raise
    return Path(name)


def _write_public_cert(folder: Path, cert: x509.Certificate) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ArtifactError(
            f"failed to generate ephemeral public keys output directory (path='{folder}'):\n"
            f"{err.strerror or err}",
            hint="choose a writable --ephemeral-public-keys-path",
        ) from None
    path = folder / PUBLIC_CERT_NAME
    try:
        atomic_write(path, cert.public_bytes(serialization.Encoding.PEM), 0o644)
    except OSError as err:
        raise ArtifactError(
            f"failed to output public keys (path='{path}'):\n{err.strerror or err}",
            hint="choose a writable --ephemeral-public-keys-path",
        ) from None


def _make_temp_dir(build_dir: Path) -> Path:
    """``<build-dir>/sign-artifacts-XXXX``; the build dir is created if missing."""
    try:
        build_dir.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix="sign-artifacts-", dir=build_dir))
    except OSError as err:
        raise ArtifactError(
            f"failed to create temporary build directory:\n{err.strerror or err}: {build_dir}",
            hint="pass a writable --build-dir",
        ) from None
