"""The table of signature formats: the one seam between the orchestrators and a format.

A format is one :class:`SignatureFormat`: its name (``--signature-format``), its kind
(``validate --type``), whether signing it covers an index's platform manifests, an
``attacher`` that ``sign`` uses and a ``checker`` that ``validate`` uses. The built-in
entries name the factories that implement them; each is imported only when a run needs it,
so ``ocisign sign --help`` loads no format::

    attacher(fmt, options, warn) -> Attacher        # one per sign run
    checker(fmt, request) -> Checker | None         # one per validate run and kind;
                                                    # None: the user configured no trust for it

Formats of one kind share one checker (JWS and COSE are both judged by the Notary trust
policy); ``validate`` runs the checkers in the table's order of kinds. Adding a format is
one package plus one :func:`register` call (or one entry below).
The shapes that cross the seam live here too: the run options of ``sign`` and ``validate``
and their typed per-digest results.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from ocisign.batch import BatchConsole, Outcome
from ocisign.errors import UsageError
from ocisign.registry.store import RegistryOptions

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

    from ocisign.config.trustpolicy import TrustPolicyDocument
    from ocisign.oci import Platform
    from ocisign.resolve.targets import Resolved, Target

ANY_KIND = "any"  # validate --type any: an any-of over the configured kinds
SIGSTORE_KIND = "sigstore"  # verified with public keys (--sigstore-pubkey)
NOTARY_KIND = "notation"  # verified with a trust policy and trust store
Warn = Callable[[str], None]


# ------------------------------------------------------------------ run options


@dataclass(frozen=True)
class SignOptions:
    """Everything ``sign`` needs, built by the CLI from its flags."""

    references: tuple[str, ...] = ()  # positional references, as typed
    image_list: Path | None = None
    signature_format: str = "jws"  # a name in the formats table
    key_name: str | None = None  # None: the key store's default
    plugin_name: str | None = None  # on-demand plugin key (with key_id)
    key_id: str | None = None
    plugin_config: dict[str, str] = field(default_factory=dict)
    plugin_timeout: float | None = None
    expiry: timedelta | None = None
    user_metadata: dict[str, str] = field(default_factory=dict)
    oci_layout: bool = False
    force_referrers_tag: bool = True
    registry: RegistryOptions = field(default_factory=RegistryOptions)
    expand: bool = False  # hangar's index + platforms (formats that expand always do)
    archs: tuple[str, ...] = ()
    oses: tuple[str, ...] = ()
    registry_override: str | None = None
    project_override: str | None = None
    jobs: int = 1
    timeout: float | None = 600.0  # per line, seconds; None = no limit
    shard: tuple[int, int] | None = None  # --shard K/N: only the lines of shard K
    force: bool = False
    console: BatchConsole | None = None  # streams results while the batch runs
    sigstore_key: str | None = None  # a key file or a pkcs11: URI
    sigstore_passphrase_file: Path | None = None
    sigstore_identity: str = "containers"
    sigstore_format: str = "simple"  # simple: the .sig tag; bundle: a cosign v3 bundle referrer
    timestamp_url: str = ""  # RFC 3161 TSA (Notary JWS/COSE), with timestamp_root_cert
    timestamp_root_cert: Path | None = None


@dataclass(frozen=True)
class ValidateRequest:
    """Everything ``validate`` needs (built by the CLI from its flags)."""

    references: Sequence[str] = ()
    image_list: Path | None = None
    oci_layout: bool = False
    registry: RegistryOptions | None = None
    archs: Sequence[str] = ()
    oses: Sequence[str] = ()
    registry_override: str | None = None
    project_override: str | None = None
    jobs: int = 1
    timeout: float | None = 600.0
    shard: tuple[int, int] | None = None
    kind: str = ""  # a kind in the formats table, "any", or "": see default_kind
    sigstore_keys: Sequence[PublicKeyFile] = ()
    identity: str = "match-repo-digest-or-exact"
    platform_digest_identity: bool = False  # hangar v1: platforms judged as NAME@DIGEST
    exact_repository: str | None = None
    policy: TrustPolicyDocument | None = None
    trust_store: Path | None = None
    scope: str | None = None
    user_metadata: Mapping[str, str] = field(default_factory=dict)
    plugin_config: Mapping[str, str] = field(default_factory=dict)  # verification plugins
    max_signatures: int = 100
    notation_platforms: bool = False  # -a/--os given: verify platforms' notary signatures too
    now: datetime | None = None
    console: BatchConsole | None = None  # streams results while the batch runs


@dataclass(frozen=True)
class PublicKeyFile:
    """A public key to verify sigstore signatures with, and the file it came from."""

    path: str
    key: PublicKeyTypes


# ---------------------------------------------------------------------- results


@dataclass
class SignResult(Outcome):
    """One signed (or already signed) digest."""

    format: str = ""  # the format's table name
    key: str = ""  # key name, plugin:id, or key file
    signature_digest: str = ""  # the signature manifest (Notary) or .sig manifest (sigstore)
    mechanism: str = ""  # how a Notary signature is indexed: referrers-api | tag-schema | ...
    identity: str = ""  # sigstore: the docker-reference signed
    tag: str = ""  # sigstore: the .sig tag
    annotations: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


@dataclass
class ImageResult(Outcome):
    """One kind's verdict on one digest (what a report row holds)."""

    media_type: str = ""
    platform: Platform | None = None
    kind: str = ""  # the format kind: sigstore | notation
    signature_format: str = ""  # the format of the signature that passed: sigstore | jws | cose
    payload: str = ""  # the verified payload (JSON text)
    signer: str = ""  # key file (sigstore) or leaf certificate subject (notation)
    issuer: str = ""  # leaf certificate issuer (notation)
    signing_time: str = ""
    run_notices: list[str] = field(default_factory=list)  # printed once per run (stderr)
    warnings: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)  # always printed (stderr)
    messages: list[str] = field(default_factory=list)  # verbose success lines
    # notation: per certificate, how its revocation was checked and the result (docs/json.md)
    revocation: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Check:
    """A checker's verdict on one target; ``found`` False: no signature of that kind.

    ``unenforced`` says why a verdict rests on no trust the user configured (notation's
    ``skip``, or a statement that only logs authenticity, as ``audit`` does): reported, but it
    never satisfies ``--type any`` on its own.
    """

    found: bool
    result: ImageResult
    unenforced: str = ""


# ------------------------------------------------------------------ the seams


@runtime_checkable
class Attacher(Protocol):
    """Signs targets in one format; one per run, shared by the worker threads."""

    def identity(self, resolved: Resolved) -> str:
        """What besides the digest makes a signature distinct (each is made once a run)."""
        ...

    def sign(self, resolved: Resolved, target: Target) -> SignResult:
        """SIGNED or ALREADY_SIGNED; raise an ``OcisignError`` to fail the line."""
        ...


@runtime_checkable
class Checker(Protocol):
    """Verifies one kind of signature against the trust the user configured."""

    kind: str  # the kind it checks (validate --type)
    label: str  # how messages name the kind: "sigstore", "Notary Project"
    expands_index: bool  # it needs an index's platform manifests resolved

    def targets(self, resolved: Resolved) -> Sequence[Target]:
        """The targets of ``resolved`` this kind judges."""
        ...

    def check(self, resolved: Resolved, target: Target) -> Check:
        """The verdict on one target; never raises for what a store holds."""
        ...


@runtime_checkable
class SignatureFormat(Protocol):
    """One entry of the table."""

    name: str  # --signature-format value
    kind: str  # validate --type value; formats of one kind share a checker
    expands_index: bool  # signing covers an index's platform manifests too

    def attacher(self, options: SignOptions, warn: Warn) -> Attacher: ...

    def checker(self, request: ValidateRequest) -> Checker | None: ...


@dataclass
class LazyFormat:
    """A table entry whose implementation is imported on first use.

    ``attach`` and ``check`` name ``module:function`` factories, imported only by the run
    that needs them (``validate`` never loads an attacher, ``sign`` never a checker):
    ``attacher(fmt, options, warn) -> Attacher`` and ``checker(fmt, request) -> Checker | None``.
    """

    name: str
    kind: str
    expands_index: bool
    attach: str
    check: str
    description: str = ""

    def attacher(self, options: SignOptions, warn: Warn) -> Attacher:
        attacher: Attacher = _load(self.attach)(self, options, warn)
        return attacher

    def checker(self, request: ValidateRequest) -> Checker | None:
        checker: Checker | None = _load(self.check)(self, request)
        return checker


def _load(target: str) -> Any:
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


_TABLE: dict[str, SignatureFormat] = {
    entry.name: entry
    for entry in (
        LazyFormat("sigstore", SIGSTORE_KIND, True, "ocisign.sigstore.attach:attacher",
                   "ocisign.sigstore.verify:checker", "cosign simple signing"),
        LazyFormat("jws", NOTARY_KIND, False, "ocisign.notary.attach:attacher",
                   "ocisign.notary.verify:checker", "Notary Project JWS envelope"),
        LazyFormat("cose", NOTARY_KIND, False, "ocisign.notary.attach:attacher",
                   "ocisign.notary.verify:checker", "Notary Project COSE envelope"),
    )
}


def default_kind(have_keys: bool) -> str:
    """The kind ``validate`` requires without ``--type``: sigstore when public keys were
    given, else the Notary kind (a trust policy alone). Either kind only by ``--type any``."""
    return SIGSTORE_KIND if have_keys else NOTARY_KIND


def register(fmt: SignatureFormat) -> None:
    """Add (or replace) a format in the table."""
    _TABLE[fmt.name] = fmt


def unregister(name: str) -> None:
    """Remove a format from the table (tests that register a toy one)."""
    _TABLE.pop(name, None)


def names() -> list[str]:
    """Every format name, in table order (``--signature-format`` choices)."""
    return list(_TABLE)


def kinds() -> list[str]:
    """Every format kind, in table order, once each (``validate --type`` choices)."""
    return list(dict.fromkeys(f.kind for f in _TABLE.values()))


def get(name: str) -> SignatureFormat:
    """The format called ``name`` (a UsageError naming the known ones otherwise)."""
    try:
        return _TABLE[name]
    except KeyError:
        raise UsageError(f"unknown signature format {name!r}",
                         hint="use " + ", ".join(_TABLE)) from None


def by_kind() -> dict[str, SignatureFormat]:
    """The first format of each kind (the one whose module builds that kind's checker)."""
    out: dict[str, SignatureFormat] = {}
    for fmt in _TABLE.values():
        out.setdefault(fmt.kind, fmt)
    return out
