"""Revocation at validate: the test PKI's real OCSP responders and CRLs, per level.

Each case signs (JWS, the leaf's key, timestamped by the loopback ``openssl ts``) and runs
the trust engine with the responders in the state the case names, under strict,
permissive and audit: a revoked or unknown status fails ``strict`` and is a warning
under ``permissive``/``audit`` (revocation is "log" there), as in notation 1.3.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509

from ocisign.config.trustpolicy import TrustPolicyStatement, parse_trust_policy
from ocisign.envelopes.notary import ParsedEnvelope
from ocisign.notary import revocation, timestamp
from ocisign.notary.sign import sign_descriptor
from ocisign.notary.trust import NotaryOutcome, verify_notary
from ocisign.oci import Descriptor
from ocisign.signers.local import LocalSigner
from tests.fixtures.pki import Pki, PkiFactory, Revoked, make_crl, silent_port
from tests.tsa.conftest import LEVELS

TARGET = Descriptor("application/vnd.oci.image.manifest.v1+json",
                    "sha256:" + "ab" * 32, 1234)
LEAF = "CN=Test Leaf,O=ocisign tests,ST=WA,C=US"
INTER = "CN=Test Intermediate,O=ocisign tests,ST=WA,C=US"
TSA = "CN=Test TSA,O=ocisign tests,ST=WA,C=US"


def statement(level: str, *, tsa: bool = True, verify_timestamp: str = "always",
              override: dict[str, str] | None = None) -> TrustPolicyStatement:
    verification: dict[str, object] = {"level": level, "verifyTimestamp": verify_timestamp}
    if override:
        verification["override"] = override
    doc = {"version": "1.0", "trustPolicies": [{
        "name": "pki", "registryScopes": ["*"], "signatureVerification": verification,
        "trustStores": ["ca:pki", "tsa:pki"] if tsa else ["ca:pki"],
        "trustedIdentities": ["*"]}]}
    return parse_trust_policy(json.dumps(doc)).trust_policies[0]


def sign(pki: Pki, tmp_path: Path) -> ParsedEnvelope:
    """A JWS by the PKI's leaf, timestamped by the TSA (its chain must be good now)."""
    checks = revocation.Options(cache_dir=tmp_path / "sign-cache")
    stamp: Callable[[bytes, str], bytes] = lambda sig, name: timestamp.request_response(  # noqa: E731
        pki.tsa_url, sig, name, pki.tsa_root.cert, checks)[1]
    signer = LocalSigner(pki.leaf.key, [n.cert for n in pki.leaf.chain()])
    return sign_descriptor(TARGET, signer, timestamper=stamp).parsed


def judge(pki: Pki, env: ParsedEnvelope, st: TrustPolicyStatement, tmp_path: Path,
          now: datetime | None = None) -> NotaryOutcome:
    stores = {"ca:pki": [pki.root.cert], "tsa:pki": [pki.tsa_root.cert]}
    return verify_notary(env, target=TARGET, statement=st, stores=lambda ref: stores[ref],
                         now=now, revocation_options=revocation.Options(
                             cache_dir=tmp_path / "cache", now=now))


def expect(out: NotaryOutcome, level: str, problem: str, check: str = "revocation") -> None:
    """``problem`` fails strict, and is a logged warning under permissive/audit."""
    if level == "strict":
        assert not out.passed
        assert out.failure == f"{check} validation failed. Failure reason: {problem}"
    else:
        assert out.passed, out.failure
        assert any(w == f'{check} validation failed with validation action set to "logged". '
                   f"Failure reason: {problem}" for w in out.warnings), out.warnings


def start_good(factory: PkiFactory, pki: Pki, *, leaf: bool = True, inter: bool = True) -> None:
    factory.start(pki.ocsp_inter, [pki.leaf] if leaf else [])
    factory.start(pki.ocsp_root, [pki.inter] if inter else [])
    factory.start(pki.ocsp_tsa, [pki.tsa_leaf])


@pytest.mark.parametrize("level", LEVELS)
def test_good(pki_factory: PkiFactory, tmp_path: Path, level: str) -> None:
    pki = pki_factory.build(delegated_ocsp=True)  # the leaf's status: a delegated responder
    start_good(pki_factory, pki)
    out = judge(pki, sign(pki, tmp_path), statement(level), tmp_path)
    assert out.passed and not out.warnings, out.failure
    assert [(r.subject, r.method, r.result.value) for r in out.revocation] == [
        (LEAF, "OCSP", "OK"), (INTER, "OCSP", "OK"),
        ("CN=Test Root,O=ocisign tests,ST=WA,C=US", "Unknown", "NonRevokable")]
    assert (out.tsa_revocation[0].subject, out.tsa_revocation[0].result.value) == (TSA, "OK")


def _revoked(node_serial: int) -> Revoked:
    return Revoked(node_serial, datetime.now(UTC) - timedelta(minutes=10))


@pytest.mark.parametrize("level", LEVELS)
def test_leaf_revoked(pki_factory: PkiFactory, tmp_path: Path, level: str) -> None:
    pki = pki_factory.build()
    pki_factory.start(pki.ocsp_inter, [], [(pki.leaf, _revoked(pki.leaf.cert.serial_number))])
    pki_factory.start(pki.ocsp_root, [pki.inter])
    pki_factory.start(pki.ocsp_tsa, [pki.tsa_leaf])
    out = judge(pki, sign(pki, tmp_path), statement(level), tmp_path)
    expect(out, level, f'signing certificate with subject "{LEAF}" is revoked')
    assert out.revocation[0].servers[0].error == "certificate is revoked via OCSP"


@pytest.mark.parametrize("level", LEVELS)
def test_intermediate_revoked(pki_factory: PkiFactory, tmp_path: Path, level: str) -> None:
    pki = pki_factory.build()
    pki_factory.start(pki.ocsp_inter, [pki.leaf])
    pki_factory.start(pki.ocsp_root, [], [(pki.inter, _revoked(pki.inter.cert.serial_number))])
    pki_factory.start(pki.ocsp_tsa, [pki.tsa_leaf])
    out = judge(pki, sign(pki, tmp_path), statement(level), tmp_path)
    expect(out, level, f'signing certificate with subject "{INTER}" is revoked')


@pytest.mark.parametrize("level", LEVELS)
def test_unknown(pki_factory: PkiFactory, tmp_path: Path, level: str) -> None:
    """The responder does not know the leaf, and there is no CRL to fall back on."""
    pki = pki_factory.build(leaf_crl=False)
    start_good(pki_factory, pki, leaf=False)
    out = judge(pki, sign(pki, tmp_path), statement(level), tmp_path)
    expect(out, level, f'signing certificate with subject "{LEAF}" revocation status is unknown')
    assert out.revocation[0].servers[0].error == "certificate has unknown status via OCSP"


@pytest.mark.parametrize("level", LEVELS)
def test_unknown_ocsp_falls_back_to_crl(pki_factory: PkiFactory, tmp_path: Path,
                                        level: str) -> None:
    pki = pki_factory.build()
    start_good(pki_factory, pki, leaf=False)
    out = judge(pki, sign(pki, tmp_path), statement(level), tmp_path)
    assert out.passed and not out.warnings, out.failure
    first = out.revocation[0]
    assert (first.method, first.result.value) == ("OCSPFallbackCRL", "OK")
    assert [s.method for s in first.servers] == ["OCSP", "CRL"]


@pytest.mark.parametrize("level", LEVELS)
def test_responder_down(pki_factory: PkiFactory, tmp_path: Path, level: str) -> None:
    """A responder that never answers: notation's 2 s OCSP timeout, then "unknown"."""
    with silent_port() as hung:
        pki = pki_factory.build(leaf_crl=False, leaf_ocsp_url=hung)
        start_good(pki_factory, pki, leaf=False)
        env = sign(pki, tmp_path)
        out = judge(pki, env, statement(level), tmp_path)
    expect(out, level, f'signing certificate with subject "{LEAF}" revocation status is unknown')
    assert out.revocation[0].servers[0].error == (
        "exceeded timeout threshold of 2.00 seconds for OCSP check")


@pytest.mark.parametrize("level", LEVELS)
def test_crl_expired(pki_factory: PkiFactory, tmp_path: Path, level: str) -> None:
    pki = pki_factory.build(leaf_ocsp=False)
    start_good(pki_factory, pki)
    env = sign(pki, tmp_path)
    pki.serve_crl("inter", make_crl(pki.inter, next_update=-timedelta(minutes=1)))
    out = judge(pki, env, statement(level), tmp_path)
    expect(out, level, f'signing certificate with subject "{LEAF}" revocation status is unknown')
    assert "expired CRL" in out.revocation[0].servers[0].error


@pytest.mark.parametrize("level", LEVELS)
def test_crl_wrong_key(pki_factory: PkiFactory, tmp_path: Path, level: str) -> None:
    pki = pki_factory.build(leaf_ocsp=False)
    start_good(pki_factory, pki)
    env = sign(pki, tmp_path)
    pki.serve_crl("inter", make_crl(pki.inter, signer=pki.root.key))
    out = judge(pki, env, statement(level), tmp_path)
    expect(out, level, f'signing certificate with subject "{LEAF}" revocation status is unknown')
    assert f"CRL is not signed by CA {INTER}" in out.revocation[0].servers[0].error


@pytest.mark.parametrize("level", LEVELS)
def test_delta_crl_revokes(pki_factory: PkiFactory, tmp_path: Path, level: str) -> None:
    pki = pki_factory.build(leaf_ocsp=False)
    start_good(pki_factory, pki)
    env = sign(pki, tmp_path)
    delta_url = pki.crl_url("inter-delta")
    pki.serve_crl("inter", make_crl(pki.inter, number=5, freshest_url=delta_url))
    out = judge(pki, env, statement(level), tmp_path)  # the base names a delta not served
    expect(out, level, f'signing certificate with subject "{LEAF}" revocation status is unknown')
    pki.serve_crl("inter-delta", make_crl(pki.inter, number=6, delta_of=5))
    out = judge(pki, env, statement(level), tmp_path / "empty-delta")
    assert out.passed and not out.warnings, out.failure
    pki.serve_crl("inter-delta", make_crl(
        pki.inter, [_revoked(pki.leaf.cert.serial_number)], number=6, delta_of=5))
    out = judge(pki, env, statement(level), tmp_path / "fresh")  # a cold cache
    expect(out, level, f'signing certificate with subject "{LEAF}" is revoked')
    assert pki.files.hits["/inter-delta.crl"] == 3


@pytest.mark.parametrize("level", LEVELS)
def test_tsa_certificate_revoked(pki_factory: PkiFactory, tmp_path: Path, level: str) -> None:
    pki = pki_factory.build()
    start_good(pki_factory, pki)
    env = sign(pki, tmp_path)
    pki.ocsp_tsa.stop()  # the TSA's responder now says revoked
    pki_factory.start(pki.ocsp_tsa, [], [(pki.tsa_leaf,
                                          _revoked(pki.tsa_leaf.cert.serial_number))])
    out = judge(pki, env, statement(level), tmp_path)
    expect(out, level, f'timestamping certificate with subject "{TSA}" is revoked',
           "authenticTimestamp")


@pytest.mark.parametrize("level", LEVELS)
def test_expired_certificate_with_timestamp(pki_factory: PkiFactory, tmp_path: Path,
                                            level: str) -> None:
    """Verified 3 days on, after the 1-day leaf expired: only the timestamp carries it."""
    pki = pki_factory.build(leaf_days=1)
    start_good(pki_factory, pki)
    env = sign(pki, tmp_path)
    later = datetime.now(UTC) + timedelta(days=3)
    for verify_timestamp in ("always", "afterCertExpiry"):
        out = judge(pki, env, statement(level, verify_timestamp=verify_timestamp), tmp_path,
                    later)
        assert out.passed and not out.warnings, out.failure
        # OCSP answers (nextUpdate 1 h) are stale by then: the CRLs answer
        assert out.revocation[0].method == "OCSPFallbackCRL"
    out = judge(pki, env, statement(level, tsa=False), tmp_path, later)
    expired = pki.leaf.cert.not_valid_after_utc.strftime("%a, %d %b %Y %H:%M:%S %z")
    expect(out, level, f'verification time is after certificate "{LEAF}" validity period, it '
           f'was expired at "{expired}"', "authenticTimestamp")


@pytest.mark.parametrize(("override", "passed", "checked"), [
    ("log", True, True), ("skip", True, False), ("enforce", False, True)])
def test_overrides(pki_factory: PkiFactory, tmp_path: Path, override: str, passed: bool,
                   checked: bool) -> None:
    pki = pki_factory.build()
    pki_factory.start(pki.ocsp_inter, [], [(pki.leaf, _revoked(pki.leaf.cert.serial_number))])
    pki_factory.start(pki.ocsp_root, [pki.inter])
    pki_factory.start(pki.ocsp_tsa, [pki.tsa_leaf])
    env = sign(pki, tmp_path)
    level = "audit" if override == "enforce" else "strict"
    out = judge(pki, env, statement(level, override={"revocation": override}), tmp_path)
    assert out.passed is passed
    assert bool(out.revocation) is checked


def test_invalidity_date_after_authentic_signing_time(pki_factory: PkiFactory,
                                                      tmp_path: Path) -> None:
    """notation's rule: an entry whose invalidityDate follows the authentic signing time
    (signingAuthority scheme) is not a revocation of that signature; without a time it is."""
    pki = pki_factory.build(leaf_ocsp=False)
    now = datetime.now(UTC)
    entry = Revoked(pki.leaf.cert.serial_number, now, x509.ReasonFlags.key_compromise,
                    invalidity=now)
    pki.serve_crl("inter", make_crl(pki.inter, [entry]))
    chain = [pki.leaf.cert, pki.inter.cert, pki.root.cert]
    before = revocation.check_chain(chain, revocation.Options(), now - timedelta(hours=1))
    after = revocation.check_chain(chain, revocation.Options(), now + timedelta(hours=1))
    untimed = revocation.check_chain(chain, revocation.Options())
    assert [r.result.value for r in (before[0], after[0], untimed[0])] == [
        "OK", "Revoked", "Revoked"]


def test_certificate_hold_then_removed(pki_factory: PkiFactory) -> None:
    """certificateHold revokes; a later removeFromCRL (in the delta) lifts it."""
    pki = pki_factory.build(leaf_ocsp=False)
    now = datetime.now(UTC)
    serial = pki.leaf.cert.serial_number
    hold = Revoked(serial, now - timedelta(hours=2), x509.ReasonFlags.certificate_hold)
    delta_url = pki.crl_url("inter-delta")
    pki.serve_crl("inter", make_crl(pki.inter, [hold], number=1, freshest_url=delta_url))
    pki.serve_crl("inter-delta", make_crl(pki.inter, [], number=2, delta_of=1))
    chain = [pki.leaf.cert, pki.inter.cert, pki.root.cert]
    assert revocation.check_chain(chain, revocation.Options())[0].result.value == "Revoked"
    removed = Revoked(serial, now - timedelta(hours=1), x509.ReasonFlags.remove_from_crl)
    pki.serve_crl("inter-delta", make_crl(pki.inter, [removed], number=2, delta_of=1))
    assert revocation.check_chain(chain, revocation.Options())[0].result.value == "OK"


def test_crl_cache(pki_factory: PkiFactory, tmp_path: Path) -> None:
    """notation's file cache: used while effective, refetched when stale, a broken file
    discarded with one warning."""
    pki = pki_factory.build(leaf_ocsp=False)
    chain = [pki.leaf.cert, pki.inter.cert, pki.root.cert]
    warnings: list[str] = []
    options = revocation.Options(cache_dir=tmp_path / "crl", warn=warnings.append)
    assert revocation.check_chain(chain, options)[0].result.value == "OK"
    assert pki.files.hits["/inter.crl"] == 1
    revocation.check_chain(chain, options)
    assert pki.files.hits["/inter.crl"] == 1  # from the cache
    cached = tmp_path / "crl" / hashlib.sha256(
        pki.crl_url("inter").encode()).hexdigest()
    assert set(json.loads(cached.read_bytes())) == {"baseCRL"}
    cached.write_text("{not json")
    assert revocation.check_chain(chain, options)[0].result.value == "OK"
    revocation.check_chain(chain, options)
    assert warnings == [revocation.CACHE_WARNING]
    assert pki.files.hits["/inter.crl"] == 2  # refetched once, then cached again
    later = revocation.Options(cache_dir=tmp_path / "crl",
                               now=datetime.now(UTC) + timedelta(days=8))
    assert revocation.check_chain(chain, later)[0].result.value == "Unknown"  # stale: fetched,
    assert pki.files.hits["/inter.crl"] == 3  # and the fresh one is expired by then too
