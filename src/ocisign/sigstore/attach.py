"""Sign images the sigstore way: a simple-signing payload appended to the ``.sig`` manifest.

``load_sigstore_key`` reads the key (cosign/sigstore encrypted, or plain PEM) into a
primitive ``Signer``; ``SigstoreAttacher.sign`` signs one target of a resolved reference
with any such signer. The format itself
(payload, signature, ``.sig`` manifest) is :mod:`ocisign.envelopes.simplesigning`; this
module adds the registry round trip: read the ``.sig`` manifest, skip a target that is
already signed by this key for this identity, append, push, and check that the push
survived concurrent writers (retrying the append if another writer overwrote it).

Requests for a new signature on an image without a ``.sig`` manifest (distribution 2.8):
GET ``.sig`` (404), payload and config uploads (POST + PUT each, no existence check:
both blobs are new), PUT manifest, HEAD ``.sig`` to confirm = 7.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from ocisign.batch import Status
from ocisign.envelopes import simplesigning as ss
from ocisign.errors import NotFoundError, PassphraseError, SignatureError, UsageError
from ocisign.formats import SignatureFormat, SignOptions, SignResult, Warn
from ocisign.keys.algorithms import Scheme
from ocisign.keys.cosign import load_signing_key
from ocisign.keys.passphrase import read_passphrase
from ocisign.keys.pkcs11_uri import is_pkcs11_ref, redact
from ocisign.oci import OCI_CONFIG, OCI_MANIFEST, SIMPLESIGNING, Descriptor
from ocisign.registry.store import Manifest, Store, sigstore_tag
from ocisign.resolve.targets import Resolved, Target
from ocisign.signers.local import LocalSigner

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from ocisign.signers.base import Signer

IDENTITIES = ("containers", "cosign")  # --sigstore-identity values
MAX_ATTEMPTS = 5  # appends tried when other writers keep overwriting the .sig manifest
KEY_SOURCES_HINT = (
    "pass --sigstore-passphrase-file FILE, or set OCISIGN_KEY_PASSPHRASE or COSIGN_PASSWORD "
    "(OCISIGN_PASSWORD is the registry password)"
)

_tag_locks: dict[tuple[str, str], threading.Lock] = {}
_tag_locks_guard = threading.Lock()


def load_sigstore_key(path: Path | str, passphrase_file: Path | None) -> LocalSigner:
    """Load a cosign/sigstore encrypted key (either PEM label), a plain PEM private key, or
    a PKCS#11 token key (a ``pkcs11:`` URI, as cosign's ``--key``).

    The passphrase (encrypted keys only) comes from ``passphrase_file`` (trimmed),
    ``OCISIGN_KEY_PASSPHRASE``, ``COSIGN_PASSWORD`` or a no-echo prompt on a terminal. A SEC1 key
    inside the encryption is rejected as cosign rejects it; key types are the ones
    containers/image signs with (ECDSA P-256/384/521, RSA >= 2048 bits, Ed25519).
    """

    def passphrase() -> bytes:
        return read_passphrase(passphrase_file, key_path=str(path))

    if is_pkcs11_ref(path):
        from ocisign.signers import pkcs11  # python-pkcs11 only for a token key

        token_key = pkcs11.open_key(str(path), Scheme.CONTAINERS)
        ss.check_key(token_key)
        return LocalSigner(token_key)
    try:
        private_key = load_signing_key(path, passphrase)
    except PassphraseError as err:
        raise PassphraseError(err.message, KEY_SOURCES_HINT) from None
    ss.check_key(private_key)  # KeyFileError for a key type/size cosign refuses
    return LocalSigner(private_key)


@contextmanager
def _tag_lock(store_name: str, tag: str) -> Iterator[None]:
    """Serialise appends to one ``.sig`` tag within this process."""
    with _tag_locks_guard:
        lock = _tag_locks.setdefault((store_name, tag), threading.Lock())
    with lock:
        yield


class SigstoreAttacher:
    """Signs targets with one primitive signer; thread-safe, one instance per run.

    ``identity="containers"`` (default) writes what skopeo/podman write: the reference as
    the user wrote it (``name:tag`` or ``name@digest``; an index's instances get the same
    reference, as ``skopeo copy --all`` does) with creator and timestamp in ``optional``.
    ``identity="cosign"`` writes cosign's repository-only reference with ``optional`` null.
    """

    def __init__(
        self, signer: Signer, *, identity: str = "containers", force: bool = False,
        key_label: str = "",
    ) -> None:
        if identity not in IDENTITIES:
            raise UsageError(
                f"unknown sigstore identity {identity!r}", hint="use containers or cosign"
            )
        self.signer = signer
        self.public_key = signer.public_key()
        self.identity_rule = identity
        self.force = force
        self.key_label = key_label

    def docker_reference(self, resolved: Resolved) -> str:
        """The payload's ``docker-reference`` for targets of ``resolved``."""
        if self.identity_rule == "containers":
            return resolved.user_reference
        return resolved.name

    def identity(self, resolved: Resolved) -> str:
        """The reference as written, for the default identity (it names the tag)."""
        return resolved.user_ref if self.identity_rule == "containers" else ""

    def sign(self, resolved: Resolved, target: Target) -> SignResult:
        """Sign ``target`` unless it already carries our signature for this identity.

        Returns a SIGNED or ALREADY_SIGNED result; raises ``OcisignError`` on failure.
        """
        store, digest = resolved.store, target.descriptor.digest
        tag = sigstore_tag(digest)
        reference = self.docker_reference(resolved)
        optional = ss.containers_image_optional() if self.identity_rule == "containers" else None
        payload = ss.build_payload(reference, digest, optional=optional)
        signature = ss.sign_payload(self.signer, payload)

        def outcome(status: Status, sig_digest: str, detail: str) -> SignResult:
            return SignResult(status, resolved.display(digest), digest, detail,
                              format="sigstore", key=self.key_label, signature_digest=sig_digest,
                              identity=reference, tag=tag)

        with _tag_lock(store.name, tag):
            for attempt in range(MAX_ATTEMPTS):
                current = _fetch_optional(store, tag)
                first = attempt == 0 and not self.force
                if first and current and self._signed_by_us(store, current, digest, reference):
                    return outcome(Status.ALREADY_SIGNED, current.digest,
                                   "already signed by this key for this identity")
                config = _fetch_config(store, current) if current else None
                result = ss.append_signature(
                    current.raw if current else None, config, payload, signature
                )
                if not result.changed:  # our layer is there (a writer kept it)
                    assert current is not None
                    status = Status.SIGNED if attempt else Status.ALREADY_SIGNED
                    return outcome(status, current.digest, "signature present")
                pushed = _push(store, tag, payload, result)
                if _still_tagged(store, tag, pushed.digest):
                    store.after_run(partial(self._reconcile, resolved, target, signature))
                    return outcome(Status.SIGNED, pushed.digest, "signed")
        raise SignatureError(
            f"{resolved.display(digest)}: the signature manifest {tag} was overwritten by "
            f"other writers {MAX_ATTEMPTS} times in a row",
            "another tool is signing the same image right now; run again when it is done",
        )

    def _reconcile(self, resolved: Resolved, target: Target, signature: str) -> bool:
        """End of run: our layer is still in the ``.sig`` manifest, else append it again
        (another writer overwrote the tag after our read-back). True if re-appended."""
        store, tag = resolved.store, sigstore_tag(target.descriptor.digest)
        current = _fetch_optional(store, tag)
        if current and any(d.annotations.get(ss.SIGNATURE_ANNOTATION) == signature
                           for d in current.layers):
            return False
        log.warning("%s: our signature was dropped by another writer; signing again", tag)
        self.sign(resolved, target)
        return True

    def _signed_by_us(
        self, store: Store, current: Manifest, digest: str, reference: str
    ) -> bool:
        """True if a layer verifies with our key for ``digest`` and has our identity."""
        for layer in ss.parse_sig_manifest(current.raw):
            if layer.descriptor.media_type != SIMPLESIGNING or not layer.signature:
                continue
            results = ss.verify_layers(
                [layer], lambda d: store.fetch_blob(d.digest), [self.public_key], digest
            )
            payload = results[0].payload
            if results[0].ok and payload and payload.docker_reference == reference:
                return True
        return False


def _fetch_optional(store: Store, tag: str) -> Manifest | None:
    try:
        return store.fetch_manifest(tag)
    except NotFoundError:
        return None


def _fetch_config(store: Store, manifest: Manifest) -> bytes | None:
    """The existing config blob (None if missing: ``append_signature`` rebuilds it)."""
    config = manifest.config
    if config is None:
        return None
    try:
        return store.fetch_blob(config.digest)
    except NotFoundError:
        return None


def _push(store: Store, tag: str, payload: bytes, result: ss.AppendResult) -> Descriptor:
    """Upload the payload and config blobs (both new), then the manifest under ``tag``."""
    store.push_blob(payload, SIMPLESIGNING, check_exists=False)
    store.push_blob(result.config, OCI_CONFIG, check_exists=False)
    return store.push_manifest(result.manifest, OCI_MANIFEST, tag)


def _still_tagged(store: Store, tag: str, digest: str) -> bool:
    """Read back: does ``tag`` still point at what we pushed (one HEAD on a registry)?"""
    try:
        return store.resolve(tag).digest == digest
    except NotFoundError:
        return False


def attacher(fmt: SignatureFormat, options: SignOptions, warn: Warn) -> SigstoreAttacher:
    """Sign with the ``--sigstore-key`` key pair."""
    if options.sigstore_key is None:
        raise UsageError(f"--signature-format {fmt.name} needs --sigstore-key FILE",
                         hint="make a key pair with 'ocisign key generate-pair'")
    signer = load_sigstore_key(options.sigstore_key, options.sigstore_passphrase_file)
    return SigstoreAttacher(signer, identity=options.sigstore_identity, force=options.force,
                            key_label=redact(str(options.sigstore_key)))
