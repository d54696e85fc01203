"""notation's blob trust policy, ``trustpolicy.blob.json`` (notation v2).

Statements are OCI statements without ``registryScopes``, selected by ``name``
(``--policy-name``) or by the one ``globalPolicy: true`` statement. Keys are read as Go's
``encoding/json`` reads them into notation-go's ``BlobDocument``: a member goes to the field
of that exact name, else to the field whose name matches case-insensitively (``Name``,
``TRUSTSTORES``), a later member overwrites an earlier one, unknown members (a stray
``registryScopes``) are ignored. Map keys (``override``) and values stay case-sensitive.
Messages are notation-go's (``verifier/trustpolicy/blob.go``).
"""

from __future__ import annotations

import json
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ocisign.config import paths
from ocisign.config.trustpolicy import (
    _STATEMENT,
    _VERIFICATION,
    POLICY_LINK,
    SignatureVerification,
    TrustPolicyStatement,
    _Invalid,
    _members,
    validate_statement,
)
from ocisign.errors import ConfigError

BLOB_POLICY_FILE = "trustpolicy.blob.json"


@dataclass(frozen=True)
class BlobPolicyStatement(TrustPolicyStatement):
    """One statement of a blob trust policy."""

    global_policy: bool = False


_BLOB_STATEMENT = {k: v for k, v in _STATEMENT.items() if k != "registryScopes"}


class _Object(dict[str, Any]):
    """A JSON object that also keeps every member in order, duplicates included."""

    pairs: list[tuple[str, Any]]


def _object(pairs: list[tuple[str, Any]]) -> _Object:
    obj = _Object(pairs)
    obj.pairs = pairs
    return obj


def _go_fields(node: object, names: Iterable[str]) -> object:
    """``node``'s members as Go's decoder assigns them to struct fields ``names``: exact
    name first, else case-insensitive; later members win; unknown ones dropped."""
    if not isinstance(node, dict):
        return node
    exact = set(names)
    folded = {name.casefold(): name for name in exact}
    out: dict[str, Any] = {}
    for key, value in getattr(node, "pairs", node.items()):
        field = key if key in exact else folded.get(key.casefold())
        if field is not None:
            out[field] = value
    return out


def _statement(item: object, i: int) -> BlobPolicyStatement:
    loc: tuple[int | str, ...] = ("trustPolicies", i)
    fields = _go_fields(item, [*_BLOB_STATEMENT, "globalPolicy"])
    st: dict[str, Any] = _members(_go_fields(fields, _BLOB_STATEMENT), _BLOB_STATEMENT, loc)
    sv = _members(_go_fields(st["signatureVerification"], _VERIFICATION), _VERIFICATION,
                  (*loc, "signatureVerification"))
    flag = fields.get("globalPolicy", False) if isinstance(fields, dict) else False
    if not isinstance(flag, bool):
        raise _Invalid((*loc, "globalPolicy"), "Input should be a valid boolean")
    return BlobPolicyStatement(
        name=st["name"],
        signature_verification=SignatureVerification(
            sv["level"], dict(sv.get("override", {})), sv.get("verifyTimestamp", "")),
        trust_stores=list(st.get("trustStores", [])),
        trusted_identities=list(st.get("trustedIdentities", [])),
        global_policy=flag,
    )


def blob_policy_path() -> Path:
    """``trustpolicy.blob.json`` in the config dir."""
    return paths.config_dir() / BLOB_POLICY_FILE


def parse_blob_policy(data: bytes | str) -> list[BlobPolicyStatement]:
    """Parse and validate a blob trust policy document (ConfigError with notation's words)."""
    try:
        doc = _go_fields(json.loads(data, object_pairs_hook=_object), ("version", "trustPolicies"))
        if not isinstance(doc, dict):
            raise ValueError("not a JSON object")
        raw: dict[str, Any] = doc
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ConfigError(f"malformed trust policy. To create a trust policy, see: {POLICY_LINK}",
                          hint="fix the JSON of trustpolicy.blob.json") from None
    version = raw.get("version")
    if not version:
        raise _invalid("blob trust policy document has empty version, version must be specified")
    if version != "1.0":
        raise _invalid(f'blob trust policy document uses unsupported version "{version}"')
    items = raw.get("trustPolicies") or []
    try:
        if not isinstance(items, list):
            raise _Invalid(("trustPolicies",), "Input should be a valid list")
        statements = [_statement(item, i) for i, item in enumerate(items)]
    except _Invalid as exc:
        where = ".".join(str(p) for p in exc.loc)
        raise _invalid(f"blob trust policy: {where}: {exc.message}") from None
    if not statements:
        raise _invalid("blob trust policy document can not have zero trust policy statements")
    names: set[str] = set()
    globals_seen = 0
    for st in statements:
        if st.name in names:
            raise _invalid(f'multiple blob trust policy statements use the same name "{st.name}", '
                           "statement names must be unique")
        names.add(st.name)
        try:
            validate_statement(st)
        except ValueError as exc:
            label = f'trust policy statement "{st.name}" ' if st.name else ""
            raise _invalid(f"blob trust policy: {label}{exc}") from None
        if st.global_policy:
            globals_seen += 1
            if globals_seen > 1:
                raise _invalid("multiple blob trust policy statements have globalPolicy set to "
                               "true. Only one trust policy statement can be marked as global "
                               "policy")
            if st.level == "skip":
                raise _invalid("global blob trust policy statement cannot have verification "
                               "level set to skip")
    return statements


def _invalid(message: str) -> ConfigError:
    return ConfigError(message, hint=f"fix {BLOB_POLICY_FILE}; see {POLICY_LINK}")


def read_policy_file(path: Path) -> bytes:
    """The bytes of a trust policy file, refusing a missing file, a directory or a symlink."""
    try:
        info = path.lstat()
    except FileNotFoundError:
        raise ConfigError(
            f"trust policy is not present. To create a trust policy, see: {POLICY_LINK}",
            hint="create one with 'ocisign blob policy init' or 'ocisign blob policy import'",
        ) from None
    if not stat.S_ISREG(info.st_mode):
        raise ConfigError(f"trust policy is not a regular file (symlinks are not supported): "
                          f"{path}", hint="replace it with a regular file")
    try:
        return path.read_bytes()
    except PermissionError:
        raise ConfigError("unable to read trust policy due to file permissions, please verify "
                          f"the permissions of {path}") from None


def load_blob_policy(path: Path | None = None) -> list[BlobPolicyStatement]:
    """Load and validate the config dir's ``trustpolicy.blob.json`` (or ``path``)."""
    return parse_blob_policy(read_policy_file(path or blob_policy_path()))


def select_blob_statement(
    statements: list[BlobPolicyStatement], policy_name: str | None
) -> BlobPolicyStatement:
    """The statement named ``policy_name`` (exact), else the global one."""
    if policy_name is not None:
        if not policy_name.strip():
            raise ConfigError("policy name cannot be empty")
        for st in statements:
            if st.name == policy_name:
                return st
        raise ConfigError(f'no applicable blob trust policy with name "{policy_name}"',
                          hint="--policy-name must name a statement of trustpolicy.blob.json")
    for st in statements:
        if st.global_policy:
            return st
    raise ConfigError("no global blob trust policy",
                      hint='pass --policy-name, or mark one statement "globalPolicy": true')


def init_document(name: str, stores: list[str], identities: list[str], is_global: bool) -> bytes:
    """What ``blob policy init`` writes: one strict statement, 2-space JSON, no newline."""
    statement: dict[str, object] = {
        "name": name,
        "signatureVerification": {"level": "strict"},
        "trustStores": stores,
        "trustedIdentities": identities,
    }
    if is_global:
        statement["globalPolicy"] = True
    return json.dumps({"version": "1.0", "trustPolicies": [statement]}, indent=2).encode()
