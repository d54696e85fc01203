"""Trust policy loading, validation rules (notation.md §6.5), selection and levels."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from ocisign.config.trustpolicy import (
    load_trust_policy,
    parse_dn,
    parse_trust_policy,
    select_statement,
)
from ocisign.errors import ConfigError
from tests.notary.conftest import TRUST

POLICIES = TRUST / "trustpolicies"
INVALID = {
    "missing_organization_trusted_identity_trustpolicy.json": 'no mandatory RDN attribute for "O"',
    "wildcard_plus_other_registry_scope_trustpolicy.json": "wildcard registry scope",
}
VALID = sorted(p.name for p in POLICIES.iterdir() if p.name not in INVALID)


@pytest.mark.parametrize("name", VALID)
def test_valid_vectors_load(name: str) -> None:
    doc = load_trust_policy(POLICIES / name)
    assert doc.version == "1.0" and doc.trust_policies[0].name == "e2e"


@pytest.mark.parametrize(("name", "why"), sorted(INVALID.items()))
def test_invalid_vectors_rejected(name: str, why: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_trust_policy(POLICIES / name)
    assert why in info.value.message
    assert name in info.value.message and "'e2e'" in info.value.message


def _statement(**over: Any) -> dict[str, Any]:
    st: dict[str, Any] = {
        "name": "s",
        "registryScopes": ["registry.example.com/app"],
        "signatureVerification": {"level": "strict"},
        "trustStores": ["ca:e2e"],
        "trustedIdentities": ["*"],
    }
    st.update(over)
    return {k: v for k, v in st.items() if v is not None}


def _doc(*statements: dict[str, Any], version: str = "1.0") -> str:
    return json.dumps({"version": version, "trustPolicies": list(statements)})


BAD = {
    "version": (_doc(_statement(), version="2.0"), "unsupported version"),
    "no version": (_doc(_statement(), version=""), "version is empty"),
    "zero statements": (_doc(), "zero statements"),
    "duplicate names": (_doc(_statement(), _statement(registryScopes=["r.io/b"])), "same name 's'"),
    "empty name": (_doc(_statement(name="")), "missing a name"),
    "scope with tag": (_doc(_statement(registryScopes=["r.io/app:v1"])), "is not valid"),
    "scope without repo": (_doc(_statement(registryScopes=["r.io"])), "is not valid"),
    "scope wildcard part": (_doc(_statement(registryScopes=["r.io/*"])), "wild card"),
    "zero scopes": (_doc(_statement(registryScopes=[])), "registryScopes is empty"),
    "wildcard combined": (
        _doc(_statement(registryScopes=["*", "r.io/a"])),
        "wildcard registry scope",
    ),
    "scope twice": (_doc(_statement(), _statement(name="t")), "present in statements 's' and 't'"),
    "two global": (
        _doc(_statement(registryScopes=["*"]), _statement(name="t", registryScopes=["*"])),
        "registry scope '*' is present in statements",
    ),
    "unknown level": (
        _doc(_statement(signatureVerification={"level": "lenient"})),
        "invalid signature verification level",
    ),
    "skip with override": (
        _doc(
            _statement(
                signatureVerification={"level": "skip", "override": {"expiry": "log"}},
                trustStores=None,
                trustedIdentities=None,
            )
        ),
        "can't be used to customize",
    ),
    "skip with stores": (
        _doc(_statement(signatureVerification={"level": "skip"}, trustedIdentities=None)),
        "skip signature verification but configured with trust stores",
    ),
    "missing stores": (_doc(_statement(trustStores=None)), "both must be specified"),
    "missing identities": (_doc(_statement(trustedIdentities=[])), "both must be specified"),
    "store without type": (_doc(_statement(trustStores=["e2e"])), "required format"),
    "store bad type": (_doc(_statement(trustStores=["x509:e2e"])), "unsupported trust store type"),
    "store bad name": (_doc(_statement(trustStores=["ca:a b"])), "must match"),
    "wildcard identity combined": (
        _doc(_statement(trustedIdentities=["*", "x509.subject: C=US, ST=WA, O=X"])),
        "wildcard trusted identity",
    ),
    "identity missing C": (
        _doc(_statement(trustedIdentities=["x509.subject: ST=WA, O=X"])),
        'for "C"',
    ),
    "identity missing ST": (
        _doc(_statement(trustedIdentities=["x509.subject: C=US, O=X"])),
        'for "ST"',
    ),
    "identity no separator": (_doc(_statement(trustedIdentities=["x509.subject"])), "separator"),
    "identity empty value": (
        _doc(_statement(trustedIdentities=["x509.subject:"])),
        "no identity value",
    ),
    "identity multi-valued": (
        _doc(_statement(trustedIdentities=["x509.subject: C=US+ST=WA, O=X"])),
        "multi-valued",
    ),
    "identity duplicate attribute": (
        _doc(_statement(trustedIdentities=["x509.subject: C=US, ST=WA, S=OR, O=X"])),
        "duplicate",
    ),
    "identity hex value": (
        _doc(_statement(trustedIdentities=["x509.subject: C=#1234, ST=WA, O=X"])),
        "=#",
    ),
    "identities overlap": (
        _doc(
            _statement(
                trustedIdentities=[
                    "x509.subject: C=US, ST=WA, O=X",
                    "x509.subject: C=US, ST=WA, O=X, CN=y",
                ]
            )
        ),
        "overlapping",
    ),
    "override integrity": (
        _doc(
            _statement(signatureVerification={"level": "strict", "override": {"integrity": "log"}})
        ),
        "can not be overridden",
    ),
    "override skip authenticity": (
        _doc(
            _statement(
                signatureVerification={"level": "strict", "override": {"authenticity": "skip"}}
            )
        ),
        "can not be skipped",
    ),
    "override unknown key": (
        _doc(
            _statement(signatureVerification={"level": "strict", "override": {"freshness": "log"}})
        ),
        "'freshness' in override is not supported",
    ),
    "override unknown value": (
        _doc(_statement(signatureVerification={"level": "strict", "override": {"expiry": "warn"}})),
        "'warn' in override is not supported",
    ),
    "verifyTimestamp value": (
        _doc(_statement(signatureVerification={"level": "strict", "verifyTimestamp": "never"})),
        "verifyTimestamp must be",
    ),
    "unknown field": (_doc(_statement(trustStore=["ca:e2e"])), "trustStore"),
    "wrong type": (_doc(_statement(registryScopes="r.io/a")), "registryScopes"),
    "scope not a string": (
        _doc(_statement(registryScopes=["r.io/a", 7])),
        '(statement "s").registryScopes[1]: Input should be a valid string',
    ),
    "override value not a string": (
        _doc(_statement(signatureVerification={"level": "strict", "override": {"expiry": 1}})),
        "signatureVerification.override.expiry: Input should be a valid string",
    ),
    "no signatureVerification": (
        _doc(_statement(signatureVerification=None)),
        "signatureVerification: Field required",
    ),
    "statements not a list": (
        '{"version": "1.0", "trustPolicies": {}}',
        "trustPolicies: Input should be a valid list",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_hand_written_invalid_policies(case: str) -> None:
    text, why = BAD[case]
    with pytest.raises(ConfigError) as info:
        parse_trust_policy(text, source="/etc/p.json")
    assert why in info.value.message
    assert info.value.message.startswith("/etc/p.json: ")


def test_schema_error_names_statement_and_field() -> None:
    with pytest.raises(ConfigError, match=r'trustPolicies\[0\] \(statement "s"\)\.registryScopes'):
        parse_trust_policy(_doc(_statement(registryScopes="r.io/a")), source="p.json")


def test_malformed_json() -> None:
    with pytest.raises(ConfigError, match=r"p.json: malformed trust policy JSON"):
        parse_trust_policy("{", source="p.json")


def test_s_alias_and_optional_fields() -> None:
    doc = parse_trust_policy(
        _doc(
            _statement(
                trustedIdentities=[
                    "x509.subject: C=US, S=WA, O=X",
                    "x509.subject: C=US, ST=OR, O=X",
                ]
            )
        )
    )
    assert doc.trust_policies[0].verify_timestamp == "always"


def test_parse_dn_escapes_and_spaces() -> None:
    dn = parse_dn(r" C=US , ST=WA, O=Acme\, Inc., CN=a\2Bb")
    assert dn == {"C": "US", "ST": "WA", "O": "Acme, Inc.", "CN": "a+b"}


def test_levels_and_overrides() -> None:
    def actions(name: str) -> dict[str, str]:
        return dict(load_trust_policy(POLICIES / name).trust_policies[0].actions())

    assert set(actions("trustpolicy.json").values()) == {"enforce"}
    assert actions("permissive_trustpolicy.json") == {
        "integrity": "enforce",
        "authenticity": "enforce",
        "authenticTimestamp": "log",
        "expiry": "log",
        "revocation": "log",
    }
    assert actions("audit_trustpolicy.json")["authenticity"] == "log"
    assert set(actions("skip_trustpolicy.json").values()) == {"skip"}
    assert actions("override_strict_trustpolicy.json") == {
        "integrity": "enforce",
        "authenticity": "log",
        "authenticTimestamp": "log",
        "expiry": "log",
        "revocation": "log",
    }
    assert actions("override_permissive_trustpolicy.json") == {
        "integrity": "enforce",
        "authenticity": "log",
        "authenticTimestamp": "enforce",
        "expiry": "enforce",
        "revocation": "enforce",
    }
    doc = parse_trust_policy(
        _doc(
            _statement(signatureVerification={"level": "audit", "override": {"revocation": "skip"}})
        )
    )
    assert doc.trust_policies[0].actions()["revocation"] == "skip"


def test_select_statement() -> None:
    doc = parse_trust_policy(
        _doc(
            _statement(name="exact", registryScopes=["localhost:5000/test-repo", "r.io/a/b"]),
            _statement(name="global", registryScopes=["*"]),
        )
    )
    assert select_statement(doc, "localhost:5000/test-repo").name == "exact"
    assert select_statement(doc, "r.io/a/b@sha256:" + "0" * 64).name == "exact"
    assert select_statement(doc, "localhost:5000/test-repo:v1").name == "exact"
    assert select_statement(doc, "localhost:5000/other").name == "global"
    only = load_trust_policy(POLICIES / "registry_scope_trustpolicy.json")
    assert select_statement(only, "localhost:5000/test-repo").name == "e2e"
    with pytest.raises(ConfigError, match="no applicable trust policy for 'localhost:5000/x'"):
        select_statement(only, "localhost:5000/x")


def test_default_location_prefers_oci_file(config_dir: Path) -> None:
    with pytest.raises(ConfigError, match="trust policy is not present"):
        load_trust_policy()
    config_dir.mkdir(parents=True)
    (config_dir / "trustpolicy.json").write_text((POLICIES / "trustpolicy.json").read_text())
    assert load_trust_policy().trust_policies[0].level == "strict"
    (config_dir / "trustpolicy.oci.json").write_text(
        (POLICIES / "audit_trustpolicy.json").read_text()
    )
    assert load_trust_policy().trust_policies[0].level == "audit"


def test_symlinked_policy_rejected(tmp_path: Path) -> None:
    os.symlink(POLICIES / "trustpolicy.json", tmp_path / "p.json")
    with pytest.raises(ConfigError, match="not a regular file"):
        load_trust_policy(tmp_path / "p.json")
