"""The Notary Project verification engine: does a parsed envelope meet a trust policy?

The parser (``envelopes/jws.py``, ``envelopes/cose.py``) already checked integrity; this
module runs the rest in notation-go's order (``verifier/verifier.go``):

verification-plugin requirement -> authenticity -> trusted identity -> expiry ->
authentic timestamp -> revocation -> target artifact match -> user metadata.

Each of authenticity (incl. trusted identity), expiry, authenticTimestamp and revocation
gets the policy's action: ``enforce`` (a failure stops verification), ``log`` (a warning)
or ``skip``. The code-signing chain rules belong to integrity and are always enforced.
Every time-dependent decision uses the injected ``now``.
"""

from __future__ import annotations

import base64
import dataclasses
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Required, TypedDict, Unpack

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from ocisign.config import paths
from ocisign.config.trustpolicy import Action, TrustPolicyStatement, x509_identities
from ocisign.config.truststore import load_store
from ocisign.envelopes.notary import (
    H_VERIFICATION_PLUGIN,
    H_VERIFICATION_PLUGIN_MIN_VERSION,
    SCHEME_SIGNING_AUTHORITY,
    SCHEME_X509,
    ParsedEnvelope,
)
from ocisign.errors import ConfigError, OcisignError, PluginError
from ocisign.keys.codesigning import validate_signing_chain
from ocisign.notary import revocation, timestamp
from ocisign.notary.revocation import CertResult
from ocisign.oci import NOTARY_PAYLOAD

if TYPE_CHECKING:
    from ocisign.oci import Descriptor
    from ocisign.signers.plugin import PluginVerifier

StoreLoader = Callable[[str], "list[x509.Certificate]"]
_NUM = r"(0|[1-9]\d*)"
_IDENT = r"(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)"
_SEMVER = re.compile(  # golang.org/x/mod/semver's grammar, as notation applies it after a "v"
    rf"^{_NUM}(?:\.{_NUM}(?:\.{_NUM})?)?(?:-({_IDENT}(?:\.{_IDENT})*))?"
    r"(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$")

_GO_TIME = "%a, %d %b %Y %H:%M:%S %z"  # Go's time.RFC1123Z, as notation prints times
# Go's pkix.Name.String() short names; others are keyed by their dotted OID.
_RDN_NAMES = {
    "2.5.4.6": "C",
    "2.5.4.10": "O",
    "2.5.4.11": "OU",
    "2.5.4.3": "CN",
    "2.5.4.5": "SERIALNUMBER",
    "2.5.4.7": "L",
    "2.5.4.8": "ST",
    "2.5.4.9": "STREET",
    "2.5.4.17": "POSTALCODE",
}


@dataclass(frozen=True)
class CheckResult:
    """One check of one signature: what ran, with which action, and why it failed."""

    name: str  # integrity, verificationPlugin, authenticity, trustedIdentity, expiry,
    #            authenticTimestamp, revocation, targetArtifact, userMetadata
    action: Action
    passed: bool
    reason: str = ""


@dataclass(frozen=True)
class NotaryOutcome:
    """The verdict on one signature."""

    passed: bool
    level: str
    results: list[CheckResult] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # failures of "log" checks
    notices: list[str] = field(default_factory=list)  # e.g. the skip message
    failure: str = ""  # notation's wording, e.g. "expiry validation failed. Failure reason: ..."
    revocation: list[CertResult] = field(default_factory=list)  # signing chain
    tsa_revocation: list[CertResult] = field(default_factory=list)  # TSA chain
    signer: str = ""  # leaf subject, RFC 4514
    signing_time: datetime | None = None
    skipped: bool = False


@dataclass(frozen=True)
class NotaryVerdict:
    """The verdict on an artifact: one passing signature is enough."""

    passed: bool
    outcome: NotaryOutcome | None  # the passing (or skipped) signature's outcome
    failures: list[NotaryOutcome] = field(default_factory=list)
    message: str = ""  # why verification failed overall ("" when passed)


def skip_message(reference: str) -> str:
    """notation's message for a ``skip`` level statement."""
    return f"Trust policy is configured to skip signature verification for {reference}"


def no_signature_message(reference: str) -> str:
    """notation's message when an artifact has no signature."""
    return (
        f'no signature is associated with "{reference}", '
        "make sure the artifact was signed successfully"
    )


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _gotime(value: datetime) -> str:
    return _utc(value).strftime(_GO_TIME)


def _subject(cert: x509.Certificate) -> str:
    return cert.subject.rfc4514_string()


def _check_chain(chain: list[x509.Certificate]) -> str | None:
    """The code-signing chain rules (``ocisign.keys.codesigning``); the reason or None.

    As notation-core-go does at verification time (``ValidateCodeSigningCertChain(chain,
    nil)``), only the structure is checked here (``at=None``): certificate validity
    periods are the authentic-timestamp check's business.
    """
    try:
        validate_signing_chain(chain, None)
    except (OcisignError, ValueError) as exc:
        return getattr(exc, "message", None) or str(exc)
    return None


def leaf_dn(cert: x509.Certificate) -> dict[str, str]:
    """The leaf subject as ``{type: value}`` with notation's mandatory-attribute rules."""
    out: dict[str, str] = {}
    for rdn in cert.subject.rdns:
        attrs = list(rdn)
        if len(attrs) > 1:
            raise ValueError("the certificate subject has multi-valued RDN attributes")
        oid = attrs[0].oid.dotted_string
        key = _RDN_NAMES.get(oid, oid)
        if key in out:
            raise ValueError(f'the certificate subject has duplicate RDN attribute for "{key}"')
        value = attrs[0].value
        out[key] = value if isinstance(value, str) else value.decode("latin-1")
    for key in ("C", "ST", "O"):
        if not out.get(key):
            raise ValueError(f'the certificate subject has no mandatory RDN attribute for "{key}"')
    return out


def _identity_error(statement: TrustPolicyStatement, leaf: x509.Certificate) -> str | None:
    if "*" in statement.trusted_identities:
        return None
    try:
        trusted = x509_identities(statement)
    except ValueError as exc:
        return f"trust policy statement {statement.name!r}: {exc}"
    if not trusted:
        return f'no x509 trusted identities are configured in the trust policy "{statement.name}"'
    try:
        dn = leaf_dn(leaf)
    except ValueError as exc:
        return f"error while parsing the certificate subject from the digital signature: {exc}"
    if any(all(dn.get(k) == v for k, v in ident.items()) for _, ident in trusted):
        return None
    names = ", ".join(repr(raw) for raw, _ in trusted)
    return (
        "signing certificate from the digital signature does not match the X.509 trusted "
        f'identities [{names}] defined in the trust policy "{statement.name}"'
    )


def _authenticity_error(
    envelope: ParsedEnvelope, statement: TrustPolicyStatement, stores: StoreLoader
) -> str | None:
    store_type = "signingAuthority" if envelope.signing_scheme == SCHEME_SIGNING_AUTHORITY else "ca"
    trusted: list[x509.Certificate] = []
    for ref in statement.stores_of_type(store_type):
        try:
            trusted.extend(stores(ref))
        except ConfigError as exc:
            return f"failed to load the trust store {ref!r}: {exc.message}"
    if not trusted:
        return (
            "no trusted certificates are found to verify authenticity (the policy "
            f'"{statement.name}" lists no'
            f" {store_type} trust store for signing scheme {envelope.signing_scheme})"
        )

    wanted = {cert.public_bytes(Encoding.DER) for cert in trusted}
    if any(cert.public_bytes(Encoding.DER) in wanted for cert in envelope.cert_chain):
        return None
    return (
        "signature is not produced by a trusted signer: no certificate of the signature's chain "
        f"is in the {store_type} trust stores {statement.stores_of_type(store_type)}"
    )


def _validity_error(
    chain: list[x509.Certificate], earliest: datetime, latest: datetime | None = None,
    what: str = "verification time is",
) -> str | None:
    """notation's message when ``earliest``..``latest`` leaves a certificate's validity."""
    for cert in chain:
        if earliest < cert.not_valid_before_utc:
            return (
                f'{what} before certificate "{_subject(cert)}" validity period, '
                f'it will be valid from "{_gotime(cert.not_valid_before_utc)}"'
            )
        if (latest or earliest) > cert.not_valid_after_utc:
            return (
                f'{what} after certificate "{_subject(cert)}" validity period, '
                f'it was expired at "{_gotime(cert.not_valid_after_utc)}"'
            )
    return None


def _timestamp_error(
    envelope: ParsedEnvelope,
    statement: TrustPolicyStatement,
    stores: StoreLoader,
    now: datetime,
    checks: revocation.Options,
    tsa_results: list[revocation.CertResult],
) -> str | None:
    chain = envelope.cert_chain
    if envelope.signing_scheme == SCHEME_SIGNING_AUTHORITY:
        at = envelope.authentic_signing_time
        if at is None:
            return "the signature has no authentic signing time"
        at = _utc(at)
        for cert in chain:
            if at < cert.not_valid_before_utc or at > cert.not_valid_after_utc:
                return (
                    f'certificate "{_subject(cert)}" was not valid when the digital signature '
                    f'was produced at "{_gotime(at)}"'
                )
        return None
    tsa_refs = statement.stores_of_type("tsa")
    perform = bool(tsa_refs)
    if perform and statement.verify_timestamp == "afterCertExpiry":
        perform = any(now > cert.not_valid_after_utc for cert in chain)
    if not perform:
        return _validity_error(chain, now)
    if not envelope.timestamp_token:
        return "no timestamp countersignature was found in the signature envelope"
    roots: list[x509.Certificate] = []
    for ref in tsa_refs:
        try:
            roots.extend(stores(ref))
        except ConfigError as exc:
            return f"failed to load tsa trust store with error: {exc.message}"
    try:
        info = timestamp.verify(envelope.timestamp_token, envelope.signature, roots)
    except OcisignError as exc:
        return exc.message
    err = _validity_error(chain, info.earliest, info.latest, "timestamp can be")
    if err:
        return err
    # notation-go verifyTimestamp step 5: the TSA chain's revocation status
    try:
        tsa_results.extend(revocation.check_chain(info.tsa_chain, checks))
    except revocation.ChainError as exc:
        return f"failed to check timestamping certificate chain revocation with error: {exc}"
    return revocation.describe(tsa_results, "timestamping")


def _revocation_error(
    envelope: ParsedEnvelope, checks: revocation.Options, results: list[revocation.CertResult]
) -> str | None:
    """notation-go ``verifyRevocation``: OCSP, then CRL, per certificate of the chain; the
    authentic signing time (signingAuthority scheme) lets an invalidityDate after it pass."""
    signing_time = None
    if envelope.signing_scheme == SCHEME_SIGNING_AUTHORITY and envelope.authentic_signing_time:
        signing_time = _utc(envelope.authentic_signing_time)
    try:
        results.extend(revocation.check_chain(list(envelope.cert_chain), checks, signing_time))
    except revocation.ChainError as exc:
        return f"unable to check revocation status, err: {exc}"
    return revocation.describe(results)


class _Run:
    """Accumulates check results and applies each check's action."""

    def __init__(self, actions: Mapping[str, Action]) -> None:
        self.actions = actions
        self.results: list[CheckResult] = []
        self.warnings: list[str] = []
        self.failure = ""

    def record(self, name: str, validation: str | None, error: str | None) -> bool:
        """Record a check; True when it is a failure that stops verification."""
        action: Action = self.actions[validation] if validation else "enforce"
        self.results.append(CheckResult(name, action, error is None, error or ""))
        if error is None:
            return False
        label = validation or name
        if action == "log":
            self.warnings.append(
                f'{label} validation failed with validation action set to "logged". '
                f"Failure reason: {error}"
            )
            return False
        self.failure = (
            f"{label} validation failed. Failure reason: {error}" if validation else error
        )
        return True


def verify_notary(
    envelope: ParsedEnvelope,
    *,
    target: Descriptor,
    statement: TrustPolicyStatement,
    stores: StoreLoader = load_store,
    now: datetime | None = None,
    user_metadata: Mapping[str, str] | None = None,
    reference: str = "",
    revocation_options: revocation.Options | None = None,
    plugin_config: Mapping[str, str] | None = None,
    plugins_dir: Path | None = None,
) -> NotaryOutcome:
    """Decide whether one parsed (integrity-checked) envelope is trusted for ``target``.

    ``revocation_options`` (default: notation's timeouts, the CRL cache under
    :func:`ocisign.config.paths.crl_cache_dir`, the clock at ``now``). An envelope that
    names a verification plugin is also judged by that plugin (notation-go's order: found
    and its version checked first; its trusted-identity and revocation capabilities replace
    ours, and run after the revocation step), with ``plugin_config``.
    """
    now = _utc(now or datetime.now(UTC))
    checks = revocation_options or revocation.Options(cache_dir=paths.crl_cache_dir())
    if checks.now is None:
        checks = dataclasses.replace(checks, now=now)
    chain_results: list[revocation.CertResult] = []
    tsa_results: list[revocation.CertResult] = []
    ref = reference or target.digest
    leaf = envelope.cert_chain[0] if envelope.cert_chain else None
    signer = _subject(leaf) if leaf is not None else ""
    signed_at = (
        envelope.authentic_signing_time
        if envelope.signing_scheme == SCHEME_SIGNING_AUTHORITY
        else envelope.signing_time
    )
    if statement.level == "skip":
        return NotaryOutcome(
            True,
            "skip",
            notices=[skip_message(ref)],
            signer=signer,
            signing_time=signed_at,
            skipped=True,
        )
    actions = statement.actions()
    run = _Run(actions)
    notices: list[str] = []

    def outcome() -> NotaryOutcome:
        return NotaryOutcome(
            passed=not run.failure,
            level=statement.level,
            results=run.results,
            warnings=run.warnings,
            notices=notices,
            failure=run.failure,
            signer=signer,
            signing_time=signed_at,
            revocation=chain_results,
            tsa_revocation=tsa_results,
        )

    # integrity: the parser verified the signature; the chain rules are checked here.
    if envelope.signing_scheme not in (SCHEME_X509, SCHEME_SIGNING_AUTHORITY):
        err: str | None = f"unsupported signing scheme {envelope.signing_scheme!r}"
    elif leaf is None:
        err = "the signature carries no certificate chain"
    else:
        err = _check_chain(list(envelope.cert_chain))
    if run.record("integrity", "integrity", err):
        return outcome()

    plugin: PluginVerifier | None = None
    plugin_caps: list[str] = []
    if H_VERIFICATION_PLUGIN in envelope.extended_attributes:  # a blank name is no way out
        try:
            plugin, plugin_caps = _verification_plugin(envelope, plugin_config, plugins_dir)
        except PluginError as exc:
            run.record("verificationPlugin", None, exc.message)
            return outcome()
    # the plugin's capabilities replace our own identity and revocation checks
    plugin_identity = plugin is not None and plugin.TRUSTED_IDENTITY in plugin_caps
    plugin_revocation = plugin is not None and plugin.REVOCATION in plugin_caps

    if run.record("authenticity", "authenticity", _authenticity_error(envelope, statement, stores)):
        return outcome()
    assert leaf is not None
    if not plugin_identity and run.record(
            "trustedIdentity", "authenticity", _identity_error(statement, leaf)):
        return outcome()

    expiry = envelope.expiry
    err = None
    if expiry is not None and now >= _utc(expiry):
        err = f'digital signature has expired on "{_gotime(expiry)}"'
    if run.record("expiry", "expiry", err):
        return outcome()

    err = _timestamp_error(envelope, statement, stores, now, checks, tsa_results)
    if run.record("authenticTimestamp", "authenticTimestamp", err):
        return outcome()

    if actions["revocation"] == "skip":
        run.results.append(CheckResult("revocation", "skip", True, "skipped by the trust policy"))
    elif not plugin_revocation and run.record(
            "revocation", "revocation", _revocation_error(envelope, checks, chain_results)):
        return outcome()

    if plugin is not None:
        asked = [c for c in plugin_caps
                 if not (c == plugin.REVOCATION and actions["revocation"] == "skip")]
        try:
            answers = _plugin_results(plugin, envelope, statement, asked) if asked else []
        except PluginError as exc:
            run.record("verificationPlugin", None, exc.message)
            return outcome()
        for name, validation, err in answers:
            if run.record(name, validation, err):
                return outcome()

    signed = envelope.target
    wanted = {"digest": target.digest, "size": target.size, "mediaType": target.media_type}
    err = None
    if any(signed.get(key) != value for key, value in wanted.items()):
        err = (
            f"content descriptor mismatch: the signature is for {signed.get('mediaType')} "
            f"{signed.get('digest')} ({signed.get('size')} bytes), not {target.media_type} "
            f"{target.digest} ({target.size} bytes)"
        )
    if run.record("targetArtifact", None, err):
        return outcome()

    if user_metadata:
        annotations = signed.get("annotations") or {}
        missing = [f"{k}={v}" for k, v in user_metadata.items() if annotations.get(k) != v]
        err = None
        if missing:
            err = "unable to find specified metadata in the signature: " + ", ".join(missing)
        run.record("userMetadata", None, err)
    return outcome()


def _semver(text: str) -> tuple[tuple[int, int, int], tuple[tuple[int, int | str], ...]] | None:
    """A SemVer as notation reads it (``golang.org/x/mod/semver`` after a ``v``): MAJOR
    [.MINOR[.PATCH[-PRERELEASE][+BUILD]]]; the sort key, or None if it is not one."""
    match = _SEMVER.match(text)
    if not match or (match.group(3) is None and ("-" in text or "+" in text)):
        return None  # the short forms (1, 1.2) take no pre-release or build
    core = (int(match.group(1)), int(match.group(2) or 0), int(match.group(3) or 0))
    pre = tuple((0, int(p)) if p.isdigit() else (1, p)
                for p in (match.group(4) or "").split(".") if p)
    return core, pre


def _version_at_least(version: str, minimum: str) -> bool:
    have, want = _semver(version), _semver(minimum)
    assert have is not None and want is not None
    if have[0] != want[0]:
        return have[0] > want[0]
    if not have[1] or not want[1]:  # a release sorts after its pre-releases
        return not have[1]
    return have[1] >= want[1]


def _verification_plugin(
    envelope: ParsedEnvelope, config: Mapping[str, str] | None, plugins_dir: Path | None,
) -> tuple[PluginVerifier, list[str]]:
    """The plugin the envelope names, found, version-checked, with its verifier capabilities
    (notation-go ``verifier.processSignature``'s messages)."""
    name = envelope.extended_attributes[H_VERIFICATION_PLUGIN]
    if not isinstance(name, str) or not name.strip():
        raise PluginError(f"{name!r} from extended attribute is an invalid plugin name")
    minimum = envelope.extended_attributes.get(H_VERIFICATION_PLUGIN_MIN_VERSION)
    if minimum is not None and (not isinstance(minimum, str) or _semver(minimum) is None):
        raise PluginError(f"error while getting plugin minimum version, error: {minimum!r} is "
                          "not a valid SemVer")
    from ocisign.signers.plugin import PluginVerifier  # only for an envelope naming a plugin

    try:
        plugin = PluginVerifier(name, config, plugins_dir=plugins_dir)
    except PluginError as exc:
        raise PluginError(f'error while locating verification plugin "{name}", make sure the '
                          "plugin is installed successfully before verifying the signature. "
                          f"error: {exc.message}") from None
    version = plugin.metadata.version
    if _semver(version) is None:
        raise PluginError(f"plugin {name} has pluginVersion {version} which is not in valid "
                          "semver format")
    if minimum and not _version_at_least(version, minimum):
        raise PluginError(f"found plugin {name} with version {version} but signature "
                          f"verification needs plugin version greater than or equal to {minimum}")
    wanted = (plugin.TRUSTED_IDENTITY, plugin.REVOCATION)
    caps = [c for c in plugin.metadata.capabilities if c in wanted]
    if not caps:
        raise PluginError(f'digital signature requires plugin "{name}" with signature '
                          f'verification capabilities ("{wanted[0]}" and/or "{wanted[1]}") '
                          "installed")
    return plugin, caps


def _plugin_results(
    plugin: PluginVerifier, envelope: ParsedEnvelope, statement: TrustPolicyStatement,
    capabilities: list[str],
) -> list[tuple[str, str, str | None]]:
    """Ask the plugin; (check, validation type, error or None) per capability asked."""
    critical: dict[str, Any] = {"contentType": NOTARY_PAYLOAD,
                                "signingScheme": envelope.signing_scheme}
    if envelope.expiry is not None:
        critical["expiry"] = _rfc3339(envelope.expiry)
    if envelope.signing_scheme == SCHEME_SIGNING_AUTHORITY and envelope.authentic_signing_time:
        critical["authenticSigningTime"] = _rfc3339(envelope.authentic_signing_time)
    extended = {k: envelope.extended_attributes.get(k) for k in envelope.extended_critical}
    if extended:
        critical["extendedAttributes"] = extended
    unprocessed = [k for k in envelope.extended_critical
                   if k not in (H_VERIFICATION_PLUGIN, H_VERIFICATION_PLUGIN_MIN_VERSION)]
    signature = {
        "criticalAttributes": critical,
        "unprocessedAttributes": unprocessed,
        "certificateChain": [base64.b64encode(c.public_bytes(Encoding.DER)).decode()
                             for c in envelope.cert_chain],
    }
    results, processed = plugin.verify_signature(
        signature, list(statement.trusted_identities), capabilities)
    name = plugin.name
    for attribute in unprocessed:
        if attribute not in processed:
            raise PluginError(f'extended critical attribute "{attribute}" was not processed by '
                              f'the verification plugin "{name}" (all extended critical '
                              "attributes must be processed by the verification plugin)")
    out: list[tuple[str, str, str | None]] = []
    for capability in capabilities:
        if capability not in results:
            raise PluginError(f'verification plugin "{name}" failed to verify "{capability}"')
        success, reason = results[capability]
        if capability == plugin.TRUSTED_IDENTITY:
            out.append(("trustedIdentity", "authenticity", None if success else
                        f'trusted identify verification by plugin "{name}" failed with reason '
                        f'"{reason}"'))
        else:
            out.append(("revocation", "revocation", None if success else
                        f'revocation check by verification plugin "{name}" failed with reason '
                        f'"{reason}"'))
    return out


def _rfc3339(when: datetime) -> str:
    return _utc(when).isoformat().replace("+00:00", "Z")


def integrity_failure(error: OcisignError | str) -> NotaryOutcome:
    """The outcome of an envelope the parser rejected."""
    reason = error.message if isinstance(error, OcisignError) else error
    return NotaryOutcome(
        False,
        "",
        results=[CheckResult("integrity", "enforce", False, reason)],
        failure=f"integrity validation failed. Failure reason: {reason}",
    )


class TrustOptions(TypedDict, total=False):
    """What :func:`verify_notary` judges against, besides the envelope."""

    target: Required[Descriptor]
    statement: Required[TrustPolicyStatement]
    stores: StoreLoader
    now: datetime | None
    user_metadata: Mapping[str, str] | None
    reference: str
    revocation_options: revocation.Options | None
    plugin_config: Mapping[str, str] | None
    plugins_dir: Path | None


def verify_any(
    envelopes: Sequence[ParsedEnvelope | OcisignError],
    *,
    max_signatures: int = 100,
    **options: Unpack[TrustOptions],
) -> NotaryVerdict:
    """Verify an artifact's signatures in order; the first passing one wins.

    Items may be parser errors (they count as integrity failures). A ``skip`` level
    passes without looking at any signature, as notation does.
    """
    ref = options["reference"] = options.get("reference") or options["target"].digest
    if options["statement"].level == "skip":
        skipped = NotaryOutcome(True, "skip", notices=[skip_message(ref)], skipped=True)
        return NotaryVerdict(True, skipped)
    if not envelopes:
        return NotaryVerdict(False, None, message=no_signature_message(ref))
    failures: list[NotaryOutcome] = []
    for item in envelopes[:max_signatures]:
        if isinstance(item, OcisignError):
            failures.append(integrity_failure(item))
            continue
        result = verify_notary(item, **options)
        if result.passed:
            return NotaryVerdict(True, result, failures)
        failures.append(result)
    message = f"signature verification failed for all the signatures associated with {ref}"
    if len(envelopes) > max_signatures:
        message = (
            "signature evaluation stopped. The configured limit of "
            f"{max_signatures} signatures to verify per artifact exceeded"
        )
    return NotaryVerdict(False, None, failures, message)
