"""RFC 3161 countersignatures: notation-go's timestamp vectors through the engine."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography import x509

from ocisign.config.trustpolicy import TrustPolicyStatement, parse_trust_policy
from ocisign.config.truststore import load_store
from ocisign.envelopes.notary import ParsedEnvelope
from ocisign.errors import VerificationError
from ocisign.notary.revocation import Options, Result
from ocisign.notary.timestamp import verify
from ocisign.notary.trust import verify_notary
from ocisign.oci import Descriptor
from tests.notary.conftest import TRUST, make_store, pem

NOW = datetime(2025, 1, 1, tzinfo=UTC)
TS = TRUST / "truststore/x509"
GLOBALSIGN = TS / "tsa/test-timestamp/globalsignRoot.cer"
DIGICERT = TS / "tsa/test-mismatch/DigiCertTSARootSHA384.cer"
Env = Callable[[str], ParsedEnvelope]
OFFLINE_TSA = re.compile(r'^authenticTimestamp validation failed\. Failure reason: timestamping '
                         r'certificate with subject "[^"]+" revocation status is unknown$')


def policy(verify_timestamp: str = "always", tsa: bool = True) -> TrustPolicyStatement:
    stores = ["ca:t", "tsa:t"] if tsa else ["ca:t"]
    doc = {
        "version": "1.0",
        "trustPolicies": [
            {
                "name": "ts",
                "registryScopes": ["*"],
                "signatureVerification": {"level": "strict", "verifyTimestamp": verify_timestamp},
                "trustStores": stores,
                "trustedIdentities": ["*"],
            }
        ],
    }
    return parse_trust_policy(json.dumps(doc)).trust_policies[0]


def check(
    env: ParsedEnvelope,
    st: TrustPolicyStatement,
    tmp_path: Path,
    tsa_root: Path = GLOBALSIGN,
    now: datetime = NOW,
) -> tuple[bool, str]:
    root = make_store(tmp_path / "ts", {"ca:t": [pem(env.cert_chain[-1])], "tsa:t": [tsa_root]})
    out = verify_notary(
        env,
        target=Descriptor.from_dict(env.target),
        statement=st,
        stores=lambda ref: load_store(ref, root),
        now=now,
        revocation_options=Options(cache_dir=tmp_path / "crl"),
    )
    if not out.passed and OFFLINE_TSA.search(out.failure):
        # The token verified; its TSA chain names GlobalSign's OCSP/CRL servers, which this
        # machine cannot reach, and notation 1.3 then says exactly this (strict fails).
        assert out.tsa_revocation and all(
            s.result is Result.UNKNOWN and s.error for r in out.tsa_revocation for s in r.servers)
        return True, out.failure
    return out.passed, out.failure


@pytest.mark.parametrize("name", ["jwsWithTimestamp.sig", "coseWithTimestamp.sig"])
def test_timestamp_passes(name: str, envelope: Env, tmp_path: Path) -> None:
    ok, why = check(envelope("timestamp/" + name), policy(), tmp_path)
    assert ok, why


@pytest.mark.parametrize("name", ["jwsExpiredWithTimestamp.sig", "coseExpiredWithTimestamp.sig"])
def test_expired_cert_passes_only_via_timestamp(name: str, envelope: Env, tmp_path: Path) -> None:
    env = envelope("timestamp/" + name)
    ok, why = check(env, policy(), tmp_path)
    assert ok, why
    ok, why = check(env, policy("afterCertExpiry"), tmp_path / "a")
    assert ok, why
    ok, why = check(env, policy(tsa=False), tmp_path / "b")
    assert not ok and "verification time is after certificate" in why


def test_timestamp_before_not_before(envelope: Env, tmp_path: Path) -> None:
    ok, why = check(envelope("timestamp/timestampBeforeNotBefore.sig"), policy(), tmp_path)
    assert not ok
    assert why.startswith(
        "authenticTimestamp validation failed. Failure reason: timestamp can "
        'be before certificate "CN=testTSA,O=Notary,L=Seattle,ST=WA,C=US"'
    )


def test_timestamp_after_not_after(envelope: Env, tmp_path: Path) -> None:
    ok, why = check(envelope("timestamp/timestampAfterNotAfter.sig"), policy(), tmp_path)
    assert not ok and "timestamp can be after certificate" in why


def test_without_timestamp(envelope: Env, tmp_path: Path) -> None:
    env = envelope("timestamp/withoutTimestamp.sig")
    ok, why = check(env, policy(), tmp_path)
    assert not ok and "no timestamp countersignature was found" in why
    # unexpired chain + afterCertExpiry: no timestamp needed
    ok, why = check(env, policy("afterCertExpiry"), tmp_path / "a")
    assert ok, why
    ok, why = check(env, policy(tsa=False), tmp_path / "b")
    assert ok, why


def test_wrong_tsa_root(envelope: Env, tmp_path: Path) -> None:
    ok, why = check(envelope("timestamp/jwsWithTimestamp.sig"), policy(), tmp_path, DIGICERT)
    assert not ok and "does not chain to a certificate of the tsa trust store" in why


def test_timestamp_over_other_signature(envelope: Env, tmp_path: Path) -> None:
    env = envelope("timestamp/jwsWithTimestamp.sig")
    other = envelope("timestamp/jwsExpiredWithTimestamp.sig")
    swapped = dataclasses.replace(env, timestamp_token=other.timestamp_token)
    ok, why = check(swapped, policy(), tmp_path)
    assert not ok and "messageImprint does not match" in why


def _roots() -> list[x509.Certificate]:
    return [x509.load_der_x509_certificate(GLOBALSIGN.read_bytes())]


def test_token_details(envelope: Env) -> None:
    env = envelope("timestamp/jwsWithTimestamp.sig")
    assert env.timestamp_token is not None
    info = verify(env.timestamp_token, env.signature, _roots())
    assert info.gen_time == datetime(2024, 6, 18, 6, 29, 37, tzinfo=UTC)
    assert info.accuracy.total_seconds() == 1
    assert "Globalsign TSA for Advanced" in info.tsa_chain[0].subject.rfc4514_string()
    assert info.tsa_chain[-1] == _roots()[0]


def test_tampered_tsa_signature(envelope: Env) -> None:
    env = envelope("timestamp/jwsWithTimestamp.sig")
    assert env.timestamp_token is not None
    token = bytearray(env.timestamp_token)
    token[-1] ^= 0x01  # last byte of the SignerInfo signature value
    with pytest.raises(VerificationError, match="TSA signature does not verify"):
        verify(bytes(token), env.signature, _roots())


@pytest.mark.parametrize("token", [b"", b"\x30\x03\x02\x01", b"garbage!" * 3])
def test_malformed_tokens(token: bytes) -> None:
    with pytest.raises(VerificationError, match="failed to parse timestamp countersignature"):
        verify(token, b"sig", _roots())


def test_token_with_wrong_content_type() -> None:
    token = (TRUST / "certs" / "TimeStampTokenWithInvalideContentType.p7s").read_bytes()
    with pytest.raises(VerificationError, match="content type is not TSTInfo"):
        verify(token, b"sig", _roots())


def test_no_roots(envelope: Env) -> None:
    env = envelope("timestamp/jwsWithTimestamp.sig")
    with pytest.raises(VerificationError, match="no trusted TSA certificate"):
        verify(env.timestamp_token or b"", env.signature, [])
