"""notation's OCI trust policy (``trustpolicy.json``): types, loader, validation, selection.

Validation follows notation-go ``verifier/trustpolicy`` (``validatePolicyCore``,
``validateRegistryScopes``, ``internal/pkix``). Every error is a ConfigError naming the
file and the statement or field. Unknown JSON members are rejected (notation ignores
them; a typo such as ``overide`` would otherwise silently weaken a policy).
"""

from __future__ import annotations

import json
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ocisign.config import paths
from ocisign.config.truststore import STORE_TYPES, parse_store_ref
from ocisign.errors import ConfigError, OcisignError
from ocisign.util.fs import atomic_write, ensure_dir

Action = Literal["enforce", "log", "skip"]
VALIDATIONS = ("integrity", "authenticity", "authenticTimestamp", "expiry", "revocation")
LEVELS: dict[str, dict[str, Action]] = {
    "strict": dict.fromkeys(VALIDATIONS, "enforce"),
    "permissive": {
        "integrity": "enforce",
        "authenticity": "enforce",
        "authenticTimestamp": "log",
        "expiry": "log",
        "revocation": "log",
    },
    "audit": {"integrity": "enforce", **dict.fromkeys(VALIDATIONS[1:], "log")},
    "skip": dict.fromkeys(VALIDATIONS, "skip"),
}
WILDCARD = "*"
X509_SUBJECT = "x509.subject"
POLICY_LINK = "https://notaryproject.dev/docs/quickstart/#create-a-trust-policy"
_DOMAIN_RE = re.compile(
    r"^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
    r"(?:(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))+)?(?::[0-9]+)?$"
)
_REPO_RE = re.compile(
    r"^[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*)*$"
)
_MANDATORY_RDNS = ("C", "ST", "O")


@dataclass(frozen=True)
class SignatureVerification:
    """``signatureVerification``: level, per-validation overrides, timestamp option."""

    level: str
    override: dict[str, str] = field(default_factory=dict)
    verify_timestamp: str = ""  # verifyTimestamp


@dataclass(frozen=True)
class TrustPolicyStatement:
    """One statement of ``trustPolicies``."""

    name: str
    signature_verification: SignatureVerification
    registry_scopes: list[str] = field(default_factory=list)
    trust_stores: list[str] = field(default_factory=list)
    trusted_identities: list[str] = field(default_factory=list)

    @property
    def level(self) -> str:
        """The base level name (strict, permissive, audit, skip)."""
        return self.signature_verification.level

    def actions(self) -> dict[str, Action]:
        """Validation -> action: the level's presets with ``override`` applied."""
        return level_actions(self.signature_verification)

    def stores_of_type(self, store_type: str) -> list[str]:
        """The ``type:name`` references of one store type, in policy order."""
        return [ref for ref in self.trust_stores if ref.partition(":")[0] == store_type]

    @property
    def verify_timestamp(self) -> str:
        """``always`` (the default) or ``afterCertExpiry``."""
        return self.signature_verification.verify_timestamp or "always"


@dataclass(frozen=True)
class TrustPolicyDocument:
    """The whole ``trustpolicy.json`` document."""

    version: str
    trust_policies: list[TrustPolicyStatement]
    source: str = ""  # the file it came from (for messages); not part of the JSON


class _Invalid(ValueError):
    """A schema error at ``loc`` (JSON path parts) with a message."""

    def __init__(self, loc: tuple[int | str, ...], message: str) -> None:
        super().__init__(message)
        self.loc, self.message = loc, message


# JSON member -> (kind, required); kinds: "str", "list" (of str), "map" (str -> str), "object"
_Schema = dict[str, tuple[str, bool]]
_VERIFICATION: _Schema = {"level": ("str", True), "override": ("map", False),
                          "verifyTimestamp": ("str", False)}
_STATEMENT: _Schema = {"name": ("str", True), "registryScopes": ("list", False),
                       "signatureVerification": ("object", True), "trustStores": ("list", False),
                       "trustedIdentities": ("list", False)}
_DOCUMENT: _Schema = {"version": ("str", True), "trustPolicies": ("objects", True)}


def _members(node: object, schema: _Schema, loc: tuple[int | str, ...]) -> dict[str, Any]:
    """Check one JSON object against ``schema``: no unknown members, kinds, required ones."""
    if not isinstance(node, dict):
        raise _Invalid(loc, "Input should be a valid dictionary")
    for key in node:
        if key not in schema:
            raise _Invalid((*loc, key), "Extra inputs are not permitted")
    for key, (kind, required) in schema.items():
        if key not in node:
            if required:
                raise _Invalid((*loc, key), "Field required")
            continue
        value, where = node[key], (*loc, key)
        if kind == "str" and not isinstance(value, str):
            raise _Invalid(where, "Input should be a valid string")
        if kind in ("list", "objects") and not isinstance(value, list):
            raise _Invalid(where, "Input should be a valid list")
        if kind == "list":
            for i, item in enumerate(value):
                if not isinstance(item, str):
                    raise _Invalid((*where, i), "Input should be a valid string")
        if kind == "map":
            if not isinstance(value, dict):
                raise _Invalid(where, "Input should be a valid dictionary")
            for name, item in value.items():
                if not isinstance(item, str):
                    raise _Invalid((*where, name), "Input should be a valid string")
    return node


def _document(raw: object, source: str) -> TrustPolicyDocument:
    """The typed document from parsed JSON (``_Invalid`` names where it breaks the schema)."""
    doc = _members(raw, _DOCUMENT, ())
    statements = []
    for i, item in enumerate(doc["trustPolicies"]):
        st = _members(item, _STATEMENT, ("trustPolicies", i))
        sv = _members(st["signatureVerification"], _VERIFICATION,
                      ("trustPolicies", i, "signatureVerification"))
        statements.append(TrustPolicyStatement(
            name=st["name"],
            signature_verification=SignatureVerification(
                sv["level"], dict(sv.get("override", {})), sv.get("verifyTimestamp", "")),
            registry_scopes=list(st.get("registryScopes", [])),
            trust_stores=list(st.get("trustStores", [])),
            trusted_identities=list(st.get("trustedIdentities", [])),
        ))
    return TrustPolicyDocument(doc["version"], statements, source)


def level_actions(sv: SignatureVerification) -> dict[str, Action]:
    """Resolve level + overrides (ValueError with the reason if invalid)."""
    if not sv.level:
        raise ValueError("signature verification level is empty or missing")
    if sv.level not in LEVELS:
        raise ValueError(
            f"invalid signature verification level {sv.level!r}, "
            f"supported levels are {', '.join(LEVELS)}"
        )
    actions = dict(LEVELS[sv.level])
    if sv.override and sv.level == "skip":
        raise ValueError(
            'signature verification level "skip" can\'t be used to customize '
            "signature verification (remove override)"
        )
    for key, value in sv.override.items():
        if key not in VALIDATIONS:
            raise ValueError(
                f"verification type {key!r} in override is not supported, "
                f"supported values are {', '.join(VALIDATIONS)}"
            )
        if value not in ("enforce", "log", "skip"):
            raise ValueError(
                f"verification action {value!r} in override is not supported, "
                "supported values are enforce, log, skip"
            )
        if key == "integrity":
            raise ValueError('"integrity" verification can not be overridden')
        if key != "revocation" and value == "skip":
            raise ValueError(f"{key!r} verification can not be skipped")
        actions[key] = value  # type: ignore[assignment]
    return actions


def parse_dn(dn: str) -> dict[str, str]:
    """Parse an RFC 4514 DN into ``{type: value}`` with notation's rules.

    ``S`` is an alias of ``ST``; multi-valued RDNs, duplicate attributes and ``=#``
    (hex) values are refused; C, ST and O are mandatory. Raises ValueError.
    """
    if "=#" in dn:
        raise ValueError(f'unsupported distinguished name (DN) "{dn}": "=#" is not supported')
    parts: list[list[str]] = [[""]]
    i = 0
    while i < len(dn):
        ch = dn[i]
        if ch == "\\" and i + 1 < len(dn):
            nxt = dn[i + 1]
            if re.match(r"[0-9a-fA-F]{2}", dn[i + 1 : i + 3]):
                parts[-1][-1] += chr(int(dn[i + 1 : i + 3], 16))
                i += 3
                continue
            parts[-1][-1] += nxt
            i += 2
            continue
        if ch in ",;":
            parts.append([""])
        elif ch == "+":
            parts[-1].append("")
        else:
            parts[-1][-1] += ch
        i += 1
    out: dict[str, str] = {}
    for rdn in parts:
        if len(rdn) > 1:
            raise ValueError(
                f'distinguished name (DN) "{dn}" has multi-valued RDN attributes, '
                "which are not supported"
            )
        key, sep, value = rdn[0].partition("=")
        key, value = key.strip().upper(), value.strip()
        if not sep or not key or not re.match(r"^[A-Za-z][A-Za-z0-9-]*$|^[0-9.]+$", key):
            raise ValueError(
                f'parsing distinguished name (DN) "{dn}" failed: malformed RDN {rdn[0]!r}. '
                "A valid DN follows RFC 4514, e.g. C=US, ST=WA, O=Example"
            )
        key = "ST" if key == "S" else key
        if key in out:
            raise ValueError(
                f'distinguished name (DN) "{dn}" has duplicate RDN attribute for "{key}", '
                "DN can only have unique RDN attributes"
            )
        out[key] = value
    for key in _MANDATORY_RDNS:
        if not out.get(key):
            raise ValueError(
                f'distinguished name (DN) "{dn}" has no mandatory RDN attribute for "{key}", '
                "it must contain 'C', 'ST' (or 'S'), and 'O' RDN attributes at a minimum"
            )
    return out


def is_subset_dn(small: dict[str, str], big: dict[str, str]) -> bool:
    """True when every attribute of ``small`` has the same value in ``big``."""
    return all(big.get(k) == v for k, v in small.items())


def x509_identities(statement: TrustPolicyStatement) -> list[tuple[str, dict[str, str]]]:
    """The ``x509.subject:`` identities of a statement, parsed (ValueError if invalid)."""
    out = []
    for identity in statement.trusted_identities:
        if identity == WILDCARD:
            continue
        prefix, sep, value = identity.partition(":")
        if not sep:
            raise ValueError(f"trusted identity {identity!r} is missing the ':' separator")
        if prefix.strip() == X509_SUBJECT:
            if not value.strip():
                raise ValueError(f"trusted identity {identity!r} has no identity value")
            out.append((identity, parse_dn(value)))
    return out


def validate_statement(st: TrustPolicyStatement) -> None:
    """notation's ``validatePolicyCore`` for one statement (ValueError with the reason)."""
    if not st.name:
        raise ValueError("a statement is missing a name, every statement requires a name")
    level_actions(st.signature_verification)
    vt = st.signature_verification.verify_timestamp
    if vt not in ("", "always", "afterCertExpiry"):
        raise ValueError(f'verifyTimestamp must be "always" or "afterCertExpiry", got {vt!r}')
    if st.level == "skip":
        if st.trust_stores or st.trusted_identities:
            raise ValueError(
                "it is set to skip signature verification but configured with trust stores "
                "and/or trusted identities, remove them if verification is to be skipped"
            )
        return
    if not st.trust_stores or not st.trusted_identities:
        raise ValueError("it is missing trustStores or trustedIdentities, both must be specified")
    for ref in st.trust_stores:
        try:
            parse_store_ref(ref)
        except OcisignError as exc:
            raise ValueError(f"trustStores: {exc.message}") from None
    if len(st.trusted_identities) > 1 and WILDCARD in st.trusted_identities:
        raise ValueError(
            "it uses a wildcard trusted identity '*', a wildcard identity cannot be used "
            "in conjunction with other values"
        )
    if any(not ti for ti in st.trusted_identities):
        raise ValueError("it has an empty trusted identity")
    parsed = x509_identities(st)
    for i, (raw1, dn1) in enumerate(parsed):
        for j, (raw2, dn2) in enumerate(parsed):
            if i != j and is_subset_dn(dn1, dn2):
                raise ValueError(
                    f"it has overlapping x509 trustedIdentities, {raw1!r} overlaps with {raw2!r}"
                )


def validate_scope(scope: str) -> None:
    """A fully qualified ``host[:port]/repo`` without tag or wildcard (ValueError)."""
    hint = (
        "make sure it is a fully qualified repository without the scheme, protocol or tag, "
        "e.g. registry.example.com/my/repository"
    )
    if "*" in scope:
        raise ValueError(f"registry scope {scope!r} with wild card(s) is not valid, {hint}")
    domain, sep, repo = scope.partition("/")
    if not sep or not _DOMAIN_RE.match(domain) or not _REPO_RE.match(repo):
        raise ValueError(f"registry scope {scope!r} is not valid, {hint}")


def validate_document(doc: TrustPolicyDocument) -> None:
    """All document rules; raises ConfigError naming the file and statement."""
    src = doc.source or "trust policy"

    def fail(msg: str) -> ConfigError:
        return ConfigError(f"{src}: {msg}", hint=f"see {POLICY_LINK}")

    if not doc.version:
        raise fail('version is empty, it must be specified ("1.0")')
    if doc.version != "1.0":
        raise fail(f'unsupported version {doc.version!r} (supported: "1.0")')
    if not doc.trust_policies:
        raise fail("trustPolicies has zero statements, at least one is required")
    names: set[str] = set()
    seen_scopes: dict[str, str] = {}
    for st in doc.trust_policies:
        if st.name in names:
            raise fail(f"multiple statements use the same name {st.name!r}, names must be unique")
        names.add(st.name)
        try:
            validate_statement(st)
            if not st.registry_scopes:
                raise ValueError("registryScopes is empty, at least one scope is required")
            if len(st.registry_scopes) > 1 and WILDCARD in st.registry_scopes:
                raise ValueError(
                    "it uses the wildcard registry scope '*', which cannot be used in "
                    "conjunction with other scope values"
                )
            for scope in st.registry_scopes:
                if scope != WILDCARD:
                    validate_scope(scope)
        except ValueError as exc:
            raise fail(f"trust policy statement {st.name!r}: {exc}") from None
        for scope in st.registry_scopes:
            if scope in seen_scopes:
                raise fail(
                    f"registry scope {scope!r} is present in statements {seen_scopes[scope]!r} "
                    f"and {st.name!r}, one registry scope can only be in one statement"
                )
            seen_scopes[scope] = st.name


def parse_trust_policy(data: bytes | str, source: str = "trust policy") -> TrustPolicyDocument:
    """Parse and validate trust policy JSON text; ``source`` names it in errors."""
    try:
        raw = json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise ConfigError(
            f"{source}: malformed trust policy JSON: {exc}", hint=f"see {POLICY_LINK}"
        ) from None
    try:
        doc = _document(raw, source)
    except _Invalid as exc:
        loc = _describe_loc(raw, exc.loc)
        raise ConfigError(f"{source}: {loc}: {exc.message}", hint=f"see {POLICY_LINK}") from None
    validate_document(doc)
    return doc


def _describe_loc(raw: object, loc: tuple[int | str, ...]) -> str:
    """``trustPolicies[0] ("name").trustStores`` from an error location."""
    out = ""
    node: object = raw
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
            if isinstance(node, list) and part < len(node):
                node = node[part]
                if isinstance(node, dict) and isinstance(node.get("name"), str):
                    out += f' (statement "{node["name"]}")'
        else:
            out += ("." if out else "") + part
            node = node.get(part) if isinstance(node, dict) else None
    return out or "document"


def default_policy_path() -> Path:
    """``trustpolicy.oci.json`` if present (notation v2), else ``trustpolicy.json``."""
    oci = paths.config_dir() / "trustpolicy.oci.json"
    if oci.exists() or oci.is_symlink():
        return oci
    return paths.trust_policy_file()


def load_trust_policy(path: Path | None = None) -> TrustPolicyDocument:
    """Load and validate the trust policy at ``path`` (default: the config dir's)."""
    file = Path(path) if path is not None else default_policy_path()
    try:
        info = file.lstat()
    except FileNotFoundError:
        raise ConfigError(
            f"trust policy is not present: {file}",
            hint=f"create one (see docs/trust-policy.md or {POLICY_LINK}) "
            "or pass --trust-policy FILE",
        ) from None
    if not stat.S_ISREG(info.st_mode):
        raise ConfigError(
            f"trust policy {file} is not a regular file (symlinks are not supported)",
            hint="replace it with a regular file",
        )
    return parse_trust_policy(file.read_bytes(), source=str(file))


def select_statement(policy: TrustPolicyDocument, scope: str) -> TrustPolicyStatement:
    """The statement for ``registry/repo`` (exact scope first, else ``*``).

    ``scope`` may carry an ``@digest`` or ``:tag`` suffix, which is ignored.
    """
    repo = scope.split("@", 1)[0]
    last = repo.rsplit("/", 1)
    if len(last) == 2 and ":" in last[1]:
        repo = last[0] + "/" + last[1].split(":", 1)[0]
    wildcard = None
    for st in policy.trust_policies:
        if repo in st.registry_scopes:
            return st
        if WILDCARD in st.registry_scopes:
            wildcard = st
    if wildcard is not None:
        return wildcard
    raise ConfigError(
        f"no applicable trust policy for {repo!r}: no statement's registryScopes "
        "contains it and there is no '*' statement",
        hint=f"add {repo!r} (or '*') to the registryScopes of a statement in "
        f"{policy.source or 'the trust policy'}",
    )


def write_policy(data: bytes, source: str, path: Path | None = None) -> Path:
    """Validate trust policy JSON and only then replace ``path`` (default:
    ``trustpolicy.json``) atomically, 0600 in a 0700 folder as notation writes it."""
    parse_trust_policy(data, source=source)
    target = Path(path) if path is not None else paths.trust_policy_file()
    ensure_dir(target.parent)
    atomic_write(target, data, mode=0o600)
    return target


def init_policy(
    *,
    name: str,
    scopes: list[str],
    stores: list[str],
    level: str,
    identities: list[str],
) -> bytes:
    """A one-statement trust policy (``policy init``), validated; bare store names mean
    ``ca:NAME``; ``skip`` drops stores and identities as notation requires."""
    statement: dict[str, object] = {
        "name": name,
        "registryScopes": scopes or [WILDCARD],
        "signatureVerification": {"level": level},
    }
    if level != "skip":
        statement["trustStores"] = [s if ":" in s else f"ca:{s}" for s in stores]
        statement["trustedIdentities"] = identities or [WILDCARD]
    doc = {"version": "1.0", "trustPolicies": [statement]}
    data = (json.dumps(doc, indent=4) + "\n").encode()
    parse_trust_policy(data, source="policy init")
    return data


__all__ = [
    "LEVELS",
    "STORE_TYPES",
    "VALIDATIONS",
    "Action",
    "SignatureVerification",
    "TrustPolicyDocument",
    "TrustPolicyStatement",
    "load_trust_policy",
    "parse_dn",
    "select_statement",
]
