"""Attach Notary Project signatures (JWS or COSE) as ``notation sign`` does.

Per target: look for a valid signature of ours (same leaf certificate, same envelope type,
same user metadata, not expired) unless ``force``; else sign the descriptor, upload the
envelope blob (always new), the ``{}`` config once per repository (mounted from another
repository of the registry once one holds it), and the signature manifest as a referrer
(referrers tag index, or the Referrers API when allowed).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from ocisign.batch import Status
from ocisign.config import paths
from ocisign.config.keystore import KeyStore
from ocisign.envelopes.notary import THUMBPRINT_ANNOTATION, media_type_of, thumbprints
from ocisign.errors import OcisignError, PluginError, UsageError
from ocisign.formats import SignatureFormat, SignOptions, SignResult, Warn
from ocisign.keys.pem import load_certificates, load_private_key
from ocisign.keys.pkcs11_uri import is_pkcs11_ref
from ocisign.notary.read import read_notary_signature
from ocisign.notary.sign import add_user_metadata, sign_descriptor
from ocisign.oci import EMPTY_JSON, NOTARY_SIGNATURE, OCI_MANIFEST, Descriptor
from ocisign.registry.store import Store
from ocisign.resolve.targets import Resolved, Target
from ocisign.signers.base import EnvelopeSigner, Signer
from ocisign.signers.local import LocalSigner

EMPTY_DESCRIPTOR = Descriptor.of(EMPTY_JSON, NOTARY_SIGNATURE)


def check_user_metadata(metadata: dict[str, str]) -> None:
    """Refuse empty keys/values and the reserved ``io.cncf.notary`` prefix (UsageError)."""
    try:
        add_user_metadata(Descriptor("", "", 0), metadata)
    except UsageError as exc:
        raise UsageError(exc.message, hint="pass -m KEY=VALUE with a non-empty key and value; "
                         "keys starting io.cncf.notary are reserved") from None


def load_signer(options: SignOptions) -> tuple[Signer | EnvelopeSigner, str]:
    """The signer for the run and a label for it (key name or plugin:id)."""
    if options.plugin_name and options.key_id:
        signer = _plugin(options.plugin_name, options.key_id, options.plugin_config, options)
        return signer, f"{options.plugin_name}:{options.key_id}"
    entry = KeyStore.load().get(options.key_name)
    if entry.is_plugin:
        assert entry.plugin_name and entry.id
        config = {**(entry.plugin_config or {}), **options.plugin_config}
        return _plugin(entry.plugin_name, entry.id, config, options), entry.name
    assert entry.key_path
    if is_pkcs11_ref(entry.key_path):
        from ocisign.signers import pkcs11  # python-pkcs11 only for a token key

        return pkcs11.token_signer(entry.key_path, entry.cert_path or None), entry.name
    assert entry.cert_path
    key = load_private_key(entry.key_path)
    return LocalSigner(key, load_certificates(entry.cert_path)), entry.name


def _plugin(
    name: str, key_id: str, config: dict[str, str], options: SignOptions
) -> Signer | EnvelopeSigner:
    """A plugin's signer (the plugin module loads only for plugin keys)."""
    from ocisign.signers.plugin import DEFAULT_TIMEOUT, plugin_signer

    timeout = options.plugin_timeout or DEFAULT_TIMEOUT
    return plugin_signer(name, key_id, config, timeout=timeout)


def _timestamper(
    options: SignOptions, warn: Warn, *, response: bool = False,
) -> Callable[[bytes, str], bytes] | None:
    """``--timestamp-url``: countersign each signature at the TSA, checked against the root;
    the stamper returns the token (or, with ``response``, the TSA's whole response)."""
    if not options.timestamp_url or options.timestamp_root_cert is None:
        return None
    from ocisign.notary import revocation, timestamp  # only runs that timestamp load them

    root = timestamp.load_root(str(options.timestamp_root_cert))
    url = options.timestamp_url
    checks = revocation.Options(cache_dir=paths.crl_cache_dir(), warn=warn)
    pick = 0 if response else 1
    return lambda signature, hash_name: timestamp.request_response(
        url, signature, hash_name, root, checks)[pick]


class NotaryAttacher:
    """Signs targets with one signer in one envelope format; thread-safe, one per run."""

    def __init__(self, fmt: str, options: SignOptions, warn: Warn) -> None:
        if options.user_metadata:
            check_user_metadata(options.user_metadata)
        self.format = fmt
        self.options = options
        self.warn = warn
        self.media_type = media_type_of(fmt)
        self.timestamper = _timestamper(options, warn)
        self.signer, self.key_label = load_signer(options)
        self._thumbprint = self._known_thumbprint()
        self._lock = threading.Lock()
        self._has_config: set[str] = set()  # stores known to hold the `{}` config blob
        self._config_source: dict[str, str] = {}  # registry -> a repository that holds it

    def _known_thumbprint(self) -> str | None:
        if not isinstance(self.signer, Signer):
            return None  # an envelope plugin names its chain in what it returns
        try:
            return thumbprints(self.signer.certificate_chain()[:1])[0]
        except PluginError:
            return None  # a plugin tells its chain only when it signs

    def identity(self, resolved: Resolved) -> str:
        return ""  # a Notary signature names the digest only

    def _result(self, status: Status, display: str, digest: str, signature: str) -> SignResult:
        return SignResult(status, display, digest, format=self.format, key=self.key_label,
                          signature_digest=signature)

    def sign(self, resolved: Resolved, target: Target) -> SignResult:
        store, desc = resolved.store, target.descriptor
        display = resolved.display(desc.digest)
        force = self.options.force
        thumb = self._thumbprint
        if thumb and not force:
            existing = self._existing(resolved, target, thumb)
            if existing:
                return self._result(Status.ALREADY_SIGNED, display, desc.digest, existing)
        signed = sign_descriptor(
            desc, self.signer, envelope_format=self.format,
            expiry=self.options.expiry or None, user_metadata=self.options.user_metadata,
            timestamper=self.timestamper,
        )
        if thumb is None:
            with self._lock:
                self._thumbprint = thumb = thumbprints(signed.parsed.cert_chain[:1])[0]
            existing = "" if force else self._existing(resolved, target, thumb)
            if existing:
                return self._result(Status.ALREADY_SIGNED, display, desc.digest, existing)
        store.push_blob(signed.envelope, signed.media_type, check_exists=False)  # always new
        self._push_config(store)
        pushed = store.push_referrer(
            signed.manifest, OCI_MANIFEST, force_tag_schema=self.options.force_referrers_tag
        )
        for message in pushed.warnings:
            self.warn(message)
        result = self._result(Status.SIGNED, display, desc.digest, pushed.descriptor.digest)
        result.mechanism = pushed.mechanism
        result.annotations = signed.annotations
        result.warnings = list(pushed.warnings)
        return result

    def _push_config(self, store: Store) -> None:
        """The `{}` config blob, once per repository: mounted (one request) from a repository
        of the same registry that holds it, else checked for and uploaded."""
        if store.name in self._has_config:
            return
        registry, _, repository = store.name.partition("/")
        source = self._config_source.get(registry)
        if source is None or not self._mount(store, source):
            store.push_blob(EMPTY_JSON, NOTARY_SIGNATURE)
        with self._lock:
            self._has_config.add(store.name)
            self._config_source.setdefault(registry, repository)

    @staticmethod
    def _mount(store: Store, source: str) -> bool:
        """Mount the config from ``source``; False (then push it) if the registry would not,
        e.g. a token that may push here but not pull from ``source``."""
        try:
            return store.mount_blob(EMPTY_DESCRIPTOR.digest, source)
        except OcisignError:
            return False

    def _existing(self, resolved: Resolved, target: Target, thumb: str) -> str:
        """The digest of a valid signature of ours (same leaf, same format), or ''."""
        store, digest = resolved.store, target.descriptor.digest
        for ref in store.referrers(digest, NOTARY_SIGNATURE):
            try:
                prints = json.loads(ref.annotations.get(THUMBPRINT_ANNOTATION, "[]"))
            except ValueError:
                continue
            if not isinstance(prints, list) or not prints or prints[0] != thumb:
                continue
            parsed = read_notary_signature(store, ref.digest, ref.size)
            if isinstance(parsed, OcisignError) or parsed.media_type != self.media_type:
                continue  # unreadable, broken or another format: not one we can count on
            signed = parsed.target
            if signed.get("digest") != digest or signed.get("size") != target.descriptor.size:
                continue
            if parsed.expiry is not None and parsed.expiry <= datetime.now(UTC):
                continue
            if self.timestamper is not None and not parsed.timestamp_token:
                continue  # --timestamp-url asks for a timestamped signature
            annotations = signed.get("annotations") or {}
            if any(annotations.get(k) != v for k, v in self.options.user_metadata.items()):
                continue
            return ref.digest
        return ""


def attacher(fmt: SignatureFormat, options: SignOptions, warn: Warn) -> NotaryAttacher:
    """Sign with the key store's key (or a plugin key) in ``fmt``'s envelope."""
    return NotaryAttacher(fmt.name, options, warn)
