"""The verification engine on real notation envelopes, at a fixed clock (INDEX.md verdicts)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from ocisign.config.trustpolicy import TrustPolicyStatement, load_trust_policy, parse_trust_policy
from ocisign.config.truststore import load_store
from ocisign.envelopes.notary import ParsedEnvelope
from ocisign.errors import VerificationError
from ocisign.notary.trust import NotaryOutcome, verify_any, verify_notary
from ocisign.oci import OCI_MANIFEST, Descriptor
from tests.notary.conftest import E2E_DIGEST, TRUST, make_store, pem

NOW = datetime(2025, 1, 1, tzinfo=UTC)
E2E_TARGET = Descriptor(OCI_MANIFEST, E2E_DIGEST, 517)
POLICIES = TRUST / "trustpolicies"
Env = Callable[[str], ParsedEnvelope]
Stores = Callable[[str], list[x509.Certificate]]


def policy(name: str) -> TrustPolicyStatement:
    return load_trust_policy(POLICIES / name).trust_policies[0]


def _policy_doc(
    signature_verification: dict[str, Any], stores: list[str], identities: list[str]
) -> TrustPolicyStatement:
    text = {
        "version": "1.0",
        "trustPolicies": [
            {
                "name": "t",
                "registryScopes": ["*"],
                "signatureVerification": signature_verification,
                "trustStores": stores,
                "trustedIdentities": identities,
            }
        ],
    }
    return parse_trust_policy(json.dumps(text)).trust_policies[0]


def statement(
    level: str = "strict", stores: list[str] | None = None, **extra: Any
) -> TrustPolicyStatement:
    """A one-statement policy: ``level`` (+ signatureVerification extras), identities ``*``."""
    return _policy_doc({"level": level, **extra}, stores or ["ca:t"], ["*"])


def identity_statement(*identities: str, level: str = "strict") -> TrustPolicyStatement:
    return _policy_doc({"level": level}, ["ca:e2e"], list(identities))


def _check(
    envelope: ParsedEnvelope, statement: TrustPolicyStatement, stores: Stores, *,
    now: datetime = NOW, target: Descriptor = E2E_TARGET, **extra: Any,
) -> NotaryOutcome:
    """``verify_notary`` of one envelope, the e2e target and NOW by default."""
    return verify_notary(envelope, target=target, statement=statement, stores=stores, now=now,
                         **extra)


def stores_with(tmp_path: Path, layout: dict[str, list[Path | bytes]]) -> Stores:
    root = make_store(tmp_path / "ts", layout)
    return lambda ref: load_store(ref, root)


# --- e2e-valid-signature ---------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "trustpolicy.json",
        "permissive_trustpolicy.json",
        "audit_trustpolicy.json",
        "override_strict_trustpolicy.json",
        "override_permissive_trustpolicy.json",
        "timestamp_after_cert_expiry_trustpolicy.json",
    ],
)
def test_valid_signature_passes(name: str, envelope: Env, e2e_store: Stores) -> None:
    out = _check(envelope("e2e-valid-signature.jws"), policy(name), e2e_store)
    assert out.passed, out.failure
    assert out.failure == "" and out.warnings == []
    assert out.signer == "CN=e2e,O=Notary,L=Seattle,ST=WA,C=US"
    assert out.signing_time == datetime(2023, 6, 27, 5, 30, 33, tzinfo=UTC)
    assert [r.name for r in out.results] == [
        "integrity",
        "authenticity",
        "trustedIdentity",
        "expiry",
        "authenticTimestamp",
        "revocation",
        "targetArtifact",
    ]
    # e2e.crt is a self-signed root: never checked, "NonRevokable" as in notation-core-go
    assert [(r.result.value, r.method) for r in out.revocation] == [("NonRevokable", "Unknown")]


def test_valid_signature_timestamp_always_needs_token(envelope: Env, e2e_store: Stores) -> None:
    out = _check(
        envelope("e2e-valid-signature.jws"), policy("timestamp_trustpolicy.json"), e2e_store,
    )
    assert not out.passed
    assert out.failure.startswith("authenticTimestamp validation failed")
    assert "no timestamp countersignature was found" in out.failure


def test_skip_level(envelope: Env) -> None:
    out = verify_notary(
        envelope("e2e-testcert11.jws"),
        target=E2E_TARGET,
        statement=policy("skip_trustpolicy.json"),
        now=NOW,
        reference="localhost:5000/e2e@" + E2E_DIGEST,
    )
    assert out.passed and out.skipped and out.results == []
    assert out.notices == [
        "Trust policy is configured to skip signature verification for "
        "localhost:5000/e2e@" + E2E_DIGEST
    ]


# --- e2e-expired-signature -------------------------------------------------------------


def test_expired_signature_fails_strict(envelope: Env, e2e_store: Stores) -> None:
    out = _check(envelope("e2e-expired-signature.jws"), policy("trustpolicy.json"), e2e_store)
    assert not out.passed
    assert out.failure == (
        "expiry validation failed. Failure reason: digital signature has expired on "
        '"Tue, 27 Jun 2023 13:21:21 +0800"'
    )
    assert out.results[-1].name == "expiry"  # verification stopped there


@pytest.mark.parametrize(
    "name",
    ["permissive_trustpolicy.json", "audit_trustpolicy.json", "override_strict_trustpolicy.json"],
)
def test_expired_signature_logged(name: str, envelope: Env, e2e_store: Stores) -> None:
    out = _check(envelope("e2e-expired-signature.jws"), policy(name), e2e_store)
    assert out.passed
    assert len(out.warnings) == 1
    assert out.warnings[0].startswith(
        'expiry validation failed with validation action set to "logged"'
    )


def test_expired_signature_override_enforce(envelope: Env, e2e_store: Stores) -> None:
    out = _check(
        envelope("e2e-expired-signature.jws"), policy("override_permissive_trustpolicy.json"),
        e2e_store,
    )
    assert not out.passed and out.failure.startswith("expiry validation failed")


def test_expiry_boundary(envelope: Env, e2e_store: Stores) -> None:
    env = envelope("e2e-expired-signature.jws")
    assert env.expiry is not None
    st = policy("trustpolicy.json")
    before = _check(env, st, e2e_store, now=env.expiry - timedelta(seconds=1))
    at = _check(env, st, e2e_store, now=env.expiry)
    assert before.passed and not at.passed


# --- e2e-with-expired-cert -------------------------------------------------------------


@pytest.fixture
def expired_store(tmp_path: Path) -> Stores:
    return stores_with(tmp_path, {"ca:e2e": [TRUST / "keys" / "expired_e2e.crt"]})


def test_expired_cert_fails_strict(envelope: Env, expired_store: Stores) -> None:
    out = _check(envelope("e2e-with-expired-cert.jws"), policy("trustpolicy.json"), expired_store)
    assert not out.passed
    assert out.failure.startswith(
        "authenticTimestamp validation failed. Failure reason: verification time is after "
        'certificate "C=AU,ST=Some-State,O=Internet Widgits Pty Ltd" validity period'
    )


@pytest.mark.parametrize("name", ["permissive_trustpolicy.json", "audit_trustpolicy.json"])
def test_expired_cert_logged(name: str, envelope: Env, expired_store: Stores) -> None:
    out = _check(envelope("e2e-with-expired-cert.jws"), policy(name), expired_store)
    assert out.passed
    assert [w.split(" ")[0] for w in out.warnings] == ["authenticTimestamp"]


def test_expired_cert_valid_inside_its_window(envelope: Env, expired_store: Stores) -> None:
    out = _check(
        envelope("e2e-with-expired-cert.jws"), policy("trustpolicy.json"), expired_store,
        now=datetime(2023, 6, 26, 12, tzinfo=UTC),
    )
    assert out.passed, out.failure


# --- multiple signatures / verify_any -------------------------------------------------


def test_untrusted_signer_fails_authenticity(envelope: Env, e2e_store: Stores) -> None:
    out = _check(envelope("e2e-testcert11.jws"), policy("trustpolicy.json"), e2e_store)
    assert not out.passed
    assert out.failure.startswith(
        "authenticity validation failed. Failure reason: signature is not produced by a "
        "trusted signer"
    )


def test_untrusted_signer_logged_at_audit(envelope: Env, e2e_store: Stores) -> None:
    out = _check(envelope("e2e-testcert11.jws"), policy("audit_trustpolicy.json"), e2e_store)
    assert out.passed
    assert [w.split(" ")[0] for w in out.warnings] == ["authenticity", "authenticTimestamp"]


def test_wrong_trust_store_fails(envelope: Env, tmp_path: Path) -> None:
    stores = stores_with(tmp_path, {"ca:e2e": [TRUST / "keys" / "new_e2e.crt"]})
    out = _check(envelope("e2e-valid-signature.jws"), policy("trustpolicy.json"), stores)
    assert not out.passed and "not produced by a trusted signer" in out.failure


def test_missing_trust_store_fails_authenticity(envelope: Env, tmp_path: Path) -> None:
    stores = stores_with(tmp_path, {"ca:other": [TRUST / "keys" / "e2e.crt"]})
    out = _check(envelope("e2e-valid-signature.jws"), policy("trustpolicy.json"), stores)
    assert not out.passed
    assert "failed to load the trust store 'ca:e2e'" in out.failure
    assert "does not exist" in out.failure


def test_verify_any_multiple_signatures(envelope: Env, e2e_store: Stores) -> None:
    st = policy("trustpolicy.json")
    envs = [envelope("e2e-testcert11.jws"), envelope("e2e-valid-signature.jws")]
    verdict = verify_any(envs, target=E2E_TARGET, statement=st, stores=e2e_store, now=NOW)
    assert verdict.passed and verdict.outcome is not None
    assert verdict.outcome.signer.startswith("CN=e2e,")
    assert len(verdict.failures) == 1 and "authenticity" in verdict.failures[0].failure

    only_bad = verify_any(
        envs[:1],
        target=E2E_TARGET,
        statement=st,
        stores=e2e_store,
        now=NOW,
        reference="r.io/a@" + E2E_DIGEST,
    )
    assert not only_bad.passed and only_bad.outcome is None
    assert only_bad.message == (
        "signature verification failed for all the signatures associated with r.io/a@" + E2E_DIGEST
    )

    limited = verify_any(
        envs, target=E2E_TARGET, statement=st, stores=e2e_store, now=NOW, max_signatures=1
    )
    assert not limited.passed
    assert "configured limit of 1 signatures to verify per artifact exceeded" in limited.message


def test_verify_any_none_and_integrity_errors(e2e_store: Stores) -> None:
    st = policy("trustpolicy.json")
    none = verify_any(
        [],
        target=E2E_TARGET,
        statement=st,
        stores=e2e_store,
        now=NOW,
        reference="r.io/a@" + E2E_DIGEST,
    )
    assert not none.passed
    assert none.message.startswith(f'no signature is associated with "r.io/a@{E2E_DIGEST}"')
    bad = verify_any(
        [VerificationError("signature is invalid")],
        target=E2E_TARGET,
        statement=st,
        stores=e2e_store,
        now=NOW,
    )
    assert not bad.passed
    assert bad.failures[0].failure == (
        "integrity validation failed. Failure reason: signature is invalid"
    )
    skipped = verify_any(
        [], target=E2E_TARGET, statement=policy("skip_trustpolicy.json"), reference="r.io/a:v1"
    )
    assert skipped.passed and skipped.outcome is not None and skipped.outcome.skipped


# --- trusted identities -----------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["valid_trusted_identity_trustpolicy.json", "multiple_trusted_identity_trustpolicy.json"],
)
def test_trusted_identity_vectors_match(name: str, envelope: Env, e2e_store: Stores) -> None:
    out = _check(envelope("e2e-valid-signature.jws"), policy(name), e2e_store)
    assert out.passed, out.failure


def test_trusted_identity_mismatch_vector(envelope: Env, e2e_store: Stores) -> None:
    out = _check(
        envelope("e2e-valid-signature.jws"), policy("invalid_trusted_identity_trustpolicy.json"),
        e2e_store,
    )
    assert not out.passed
    assert (
        "Failure reason: signing certificate from the digital signature does not match "
        "the X.509 trusted identities"
    ) in out.failure
    assert out.results[-1].name == "trustedIdentity"


@pytest.mark.parametrize(
    ("identity", "ok"),
    [
        ("x509.subject: C=US, S=WA, O=Notary", True),  # S alias, subset of the leaf
        ("x509.subject: O=Notary,ST=WA,C=US,CN=e2e", True),
        ("x509.subject: C=US, ST=WA, O=Notary, OU=Eng", False),  # OU not in the leaf
        ("x509.subject: C=US, ST=WA, O=notary", False),  # values are case-sensitive
        ("x509.subject: C=US, ST=WA, O=Notary, CN=e2e2", False),
    ],
)
def test_identity_subset_semantics(
    identity: str, ok: bool, envelope: Env, e2e_store: Stores
) -> None:
    out = _check(envelope("e2e-valid-signature.jws"), identity_statement(identity), e2e_store)
    assert out.passed is ok, out.failure


def test_identity_mismatch_logged_at_audit(envelope: Env, e2e_store: Stores) -> None:
    st = identity_statement("x509.subject: C=US, ST=WA, O=Other", level="audit")
    out = _check(envelope("e2e-valid-signature.jws"), st, e2e_store)
    assert out.passed and out.warnings[0].startswith("authenticity validation failed with")


# --- target artifact and user metadata --------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        Descriptor(OCI_MANIFEST, "sha256:" + "1" * 64, 517),
        Descriptor(OCI_MANIFEST, E2E_DIGEST, 518),
        Descriptor("application/vnd.oci.image.index.v1+json", E2E_DIGEST, 517),
    ],
)
@pytest.mark.parametrize("name", ["trustpolicy.json", "audit_trustpolicy.json"])
def test_signature_copied_to_other_target_fails(
    target: Descriptor, name: str, envelope: Env, e2e_store: Stores
) -> None:
    out = _check(envelope("e2e-valid-signature.jws"), policy(name), e2e_store, target=target)
    assert not out.passed and out.failure.startswith("content descriptor mismatch")


@pytest.fixture
def metadata_case(tmp_path: Path, envelope: Env) -> tuple[ParsedEnvelope, Descriptor, Stores]:
    env = envelope("mock/sig_env_with_metadata.json")
    stores = stores_with(tmp_path, {"ca:t": [pem(env.cert_chain[0])]})
    return env, Descriptor.from_dict(env.target), stores


@pytest.mark.parametrize(
    ("meta", "ok"),
    [
        ({}, True),
        ({"io.wabbit-networks.buildId": "123"}, True),
        ({"io.wabbit-networks.buildId": "123", "io.wabbit-networks.buildTime": "1672944615"}, True),
        ({"io.wabbit-networks.buildId": "124"}, False),
        ({"io.wabbit-networks.other": "123"}, False),
    ],
)
def test_user_metadata(
    meta: dict[str, str], ok: bool, metadata_case: tuple[ParsedEnvelope, Descriptor, Stores]
) -> None:
    env, target, stores = metadata_case
    out = _check(
        env, statement("audit"), stores, now=datetime(2023, 1, 11, 12, tzinfo=UTC), target=target,
        user_metadata=meta,
    )
    assert out.passed is ok
    if not ok:
        assert out.failure.startswith("unable to find specified metadata in the signature")


# --- signing schemes, plugins, chain rules ------------------------------------------------


@pytest.fixture
def mock_stores(tmp_path: Path) -> Stores:
    root = TRUST / "truststore/x509/ca/valid-trust-store/NotationTestRoot.pem"
    return stores_with(tmp_path, {"ca:root": [root], "signingAuthority:root": [root]})


def test_signing_authority_uses_signing_authority_stores(
    envelope: Env, mock_stores: Stores
) -> None:
    env = envelope("mock/sa_valid_sig_env.json")
    target = Descriptor.from_dict(env.target)
    good = _check(env, statement(stores=["signingAuthority:root"]), mock_stores, target=target)
    assert good.passed, good.failure
    assert good.signing_time == datetime(2020, 11, 9, 7, tzinfo=UTC)
    wrong = _check(env, statement(stores=["ca:root"]), mock_stores, target=target)
    assert not wrong.passed and "no trusted certificates are found" in wrong.failure


def test_x509_scheme_uses_ca_stores(envelope: Env, mock_stores: Stores) -> None:
    env = envelope("mock/ca_valid_sig_env.json")
    target = Descriptor.from_dict(env.target)
    assert _check(env, statement(stores=["ca:root"]), mock_stores, target=target).passed
    out = _check(env, statement(stores=["signingAuthority:root"]), mock_stores, target=target)
    assert not out.passed and "no trusted certificates are found" in out.failure


def test_signing_authority_time_outside_validity(envelope: Env, mock_stores: Stores) -> None:
    env = envelope("mock/sa_valid_sig_env.json")
    early = dataclasses.replace(env, authentic_signing_time=datetime(2019, 1, 1, tzinfo=UTC))
    out = _check(
        early, statement(stores=["signingAuthority:root"]), mock_stores,
        target=Descriptor.from_dict(env.target),
    )
    assert not out.passed
    assert "was not valid when the digital signature was produced" in out.failure


def test_signing_authority_expired(envelope: Env, mock_stores: Stores) -> None:
    env = envelope("mock/sa_expired_sig_env.json")
    out = _check(
        env, statement(stores=["signingAuthority:root"]), mock_stores,
        target=Descriptor.from_dict(env.target),
    )
    assert not out.passed and out.failure.startswith("expiry validation failed")


@pytest.mark.parametrize("level", ["strict", "audit"])
def test_verification_plugin_required(level: str, envelope: Env, mock_stores: Stores) -> None:
    env = envelope("mock/ca_plugin_sig_env.json")
    out = _check(
        env, statement(level, stores=["ca:root"]), mock_stores,
        target=Descriptor.from_dict(env.target),
    )
    assert not out.passed  # not installed (tests/notary/test_plugin_verify.py runs one)
    assert out.failure.startswith('error while locating verification plugin "plugin-name"')


def test_non_code_signing_cert_fails(envelope: Env, tmp_path: Path) -> None:
    cert = make_cert(eku=x509.oid.ExtendedKeyUsageOID.SERVER_AUTH)  # a TLS server cert
    env = dataclasses.replace(
        envelope("e2e-valid-signature.jws"), cert_chain=[cert], signing_time=NOW
    )
    stores = stores_with(tmp_path, {"ca:e2e": [pem(cert)]})
    for name in ("trustpolicy.json", "audit_trustpolicy.json"):
        out = _check(env, policy(name), stores)
        assert not out.passed and out.failure.startswith("integrity validation failed")
    good = make_cert()
    env = dataclasses.replace(env, cert_chain=[good])
    stores = stores_with(tmp_path / "2", {"ca:e2e": [pem(good)]})
    out = _check(env, policy("trustpolicy.json"), stores)
    assert out.passed, out.failure


# --- revocation (offline) -------------------------------------------------------------------


def make_cert(eku: x509.ObjectIdentifier | None = None, crl: bool = False) -> x509.Certificate:
    """A self-signed leaf valid around NOW (code signing unless ``eku`` says otherwise)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
            x509.NameAttribute(NameOID.STATE_OR_PROVINCE_NAME, "WA"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Revocable"),
            x509.NameAttribute(NameOID.COMMON_NAME, "crl-signer"),
        ]
    )
    ku = x509.KeyUsage(True, False, False, False, False, False, False, False, False)
    dp = x509.DistributionPoint(
        [x509.UniformResourceIdentifier("http://crl.invalid/x.crl")], None, None, None
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(7)
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=1))
        .add_extension(ku, critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([eku or ExtendedKeyUsageOID.CODE_SIGNING]), critical=False
        )
    )
    if crl:
        builder = builder.add_extension(x509.CRLDistributionPoints([dp]), critical=False)
    return builder.sign(key, hashes.SHA256())


@pytest.mark.parametrize(
    ("level", "override", "checked"),
    [("strict", {}, True), ("permissive", {}, True), ("strict", {"revocation": "skip"}, False)],
)
def test_revocation_of_a_root_is_not_checked(
    level: str, override: dict[str, str], checked: bool, envelope: Env, tmp_path: Path
) -> None:
    """A chain's last certificate is its root: notation-core-go never asks its CRL (here an
    unreachable one), so a self-signed signer naming one passes even under strict."""
    cert = make_cert(crl=True)
    env = dataclasses.replace(
        envelope("e2e-valid-signature.jws"), cert_chain=[cert], signing_time=NOW
    )
    stores = stores_with(tmp_path, {"ca:t": [pem(cert)]})
    extra = {"override": override} if override else {}
    out = _check(env, statement(level, **extra), stores)
    assert out.passed and not out.warnings, out.failure
    assert [r.result.value for r in out.revocation] == (["NonRevokable"] if checked else [])
