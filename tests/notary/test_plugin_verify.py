"""Verification plugins (notation's ``verify-signature``): notation-go's mock envelopes that
name a plugin, judged with a real plugin process (``tests/plugins/verifier``)."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from ocisign.envelopes.notary import ParsedEnvelope, parse_envelope
from ocisign.notary.trust import NotaryOutcome, verify_notary
from ocisign.oci import JWS_MEDIA_TYPE, Descriptor
from tests.conftest import DATA, ROOT, python_script
from tests.notary.test_engine import Stores, statement, stores_with

MOCK = DATA / "notation" / "envelopes" / "mock"
ROOT_CERT = DATA / "trust" / "truststore/x509/ca/valid-trust-store/NotationTestRoot.pem"
BOTH = ["SIGNATURE_VERIFIER.TRUSTED_IDENTITY", "SIGNATURE_VERIFIER.REVOCATION_CHECK"]


def install(plugins: Path, name: str) -> None:
    """The test verifier as plugin ``name`` (run by this interpreter)."""
    python_script(plugins / name / f"notation-{name}",
                  (ROOT / "tests" / "plugins" / "verifier").read_text())


Judge = Callable[..., NotaryOutcome]


@pytest.fixture
def judge(tmp_path: Path) -> Judge:
    """Verify a mock envelope with plugin ``name`` installed (unless ``installed=False``)."""
    plugins = tmp_path / "plugins"

    def run(file: str = "ca_plugin_sig_env.json", *, name: str = "plugin-name",
            installed: bool = True, level: str = "strict", identities: list[str] | None = None,
            extra: dict[str, Any] | None = None, **config: str) -> NotaryOutcome:
        if installed:
            install(plugins, name)
        env = envelope(file)  # trusted: the test root, or the envelope's self-signed cert
        stores: Stores = stores_with(tmp_path, {"ca:root": [
            ROOT_CERT, env.cert_chain[-1].public_bytes(Encoding.PEM)]})
        policy = statement(level, stores=["ca:root"], **(extra or {}))
        if identities is not None:
            policy = type(policy)(**{**policy.__dict__, "trusted_identities": identities})
        return verify_notary(env, target=Descriptor.from_dict(env.target), statement=policy,
                             stores=stores, plugin_config={"log": str(tmp_path / "log"),
                                                           **config},
                             plugins_dir=plugins)

    return run


def envelope(file: str) -> ParsedEnvelope:
    return parse_envelope(JWS_MEDIA_TYPE, (MOCK / file).read_bytes())


def requests(tmp_path: Path) -> list[dict[str, Any]]:
    lines = (tmp_path / "log").read_text().splitlines()
    return [json.loads(line) for line in lines]


def test_the_plugin_is_asked_and_its_answer_decides(judge: Judge, tmp_path: Path) -> None:
    out = judge(mode="x")
    assert out.passed, out.failure
    asked = [r for r in requests(tmp_path) if r["command"] == "verify-signature"]
    assert len(asked) == 1
    request = asked[0]["request"]
    assert request["contractVersion"] == "1.0"
    assert request["pluginConfig"]["mode"] == "x"
    assert request["trustPolicy"] == {"trustedIdentities": ["*"], "signatureVerification": BOTH}
    signature = request["signature"]
    critical = signature["criticalAttributes"]
    assert critical["contentType"] == "application/vnd.cncf.notary.payload.v1+json"
    assert critical["signingScheme"] == "notary.x509"
    assert critical["expiry"] == "2120-11-09T07:00:00Z"
    assert critical["extendedAttributes"] == {"SomeKey": "SomeValue",
                                              "io.cncf.notary.verificationPlugin": "plugin-name"}
    assert signature["unprocessedAttributes"] == ["SomeKey"]
    chain = [base64.b64encode(c.public_bytes(Encoding.DER)).decode()
             for c in envelope("ca_plugin_sig_env.json").cert_chain]
    assert signature["certificateChain"] == chain


def test_a_plugin_that_is_not_installed_fails(judge: Judge) -> None:
    out = judge(installed=False)
    assert not out.passed
    assert out.failure.startswith('error while locating verification plugin "plugin-name", '
                                  "make sure the plugin is installed successfully")


@pytest.mark.parametrize(("level", "passed"), [("strict", False), ("audit", True)])
def test_trusted_identity_by_the_plugin_follows_the_authenticity_action(
        judge: Judge, level: str, passed: bool) -> None:
    out = judge(level=level, identity="fail")
    expected = ('trusted identify verification by plugin "plugin-name" failed with reason '
                '"identity says no"')
    assert out.passed is passed
    assert expected in (out.failure if not passed else " ".join(out.warnings))


def test_the_plugin_replaces_our_identity_check(judge: Judge) -> None:
    """notation-go: with TRUSTED_IDENTITY the plugin, not the policy's x509 subjects, decides."""
    nobody = ["x509.subject: C=US, ST=WA, O=Nowhere, CN=nobody"]
    assert judge(identities=nobody).passed
    ours = judge(identities=nobody, capabilities="SIGNATURE_VERIFIER.REVOCATION_CHECK")
    assert not ours.passed
    assert "signing certificate from the digital signature does not match" in ours.failure


def test_revocation_by_the_plugin_and_its_skip(judge: Judge, tmp_path: Path) -> None:
    out = judge(revocation="fail")
    assert not out.passed
    assert ('revocation check by verification plugin "plugin-name" failed with reason '
            '"revocation says no"') in out.failure
    (tmp_path / "log").unlink()
    skipped = judge(revocation="fail", extra={"override": {"revocation": "skip"}})
    assert skipped.passed, skipped.failure
    asked = [r for r in requests(tmp_path) if r["command"] == "verify-signature"]
    assert asked[0]["request"]["trustPolicy"]["signatureVerification"] == BOTH[:1]


@pytest.mark.parametrize(("config", "message"), [
    ({"processed": "none"}, 'extended critical attribute "SomeKey" was not processed by the '
                            'verification plugin "plugin-name"'),
    ({"omit": BOTH[1]}, f'verification plugin "plugin-name" failed to verify "{BOTH[1]}"'),
    ({"capabilities": "SIGNATURE_GENERATOR.RAW"},
     'digital signature requires plugin "plugin-name" with signature verification '
     f'capabilities ("{BOTH[0]}" and/or "{BOTH[1]}") installed'),
    ({"version": "one"}, "plugin plugin-name has pluginVersion one which is not in valid semver"),
])
def test_plugin_answers_that_fail(judge: Judge, config: dict[str, str], message: str) -> None:
    out = judge(**config)
    assert not out.passed and message in out.failure, out.failure


@pytest.mark.parametrize("file", sorted(p.name for p in MOCK.glob("ca_*compatible_pluginver_*")))
def test_minimum_plugin_version(judge: Judge, file: str) -> None:
    """notation-go's vectors against a plugin at version 1.0.0."""
    out = judge(file, name="io.cncf.notary.plugin.unittest.mock")
    minimum = file.split("_sig_env_")[1].removesuffix(".json")
    if "_incompatible_" in file:
        assert not out.passed
        assert out.failure == (
            "found plugin io.cncf.notary.plugin.unittest.mock with version 1.0.0 but signature "
            f"verification needs plugin version greater than or equal to {minimum}")
    else:
        assert out.passed, out.failure


@pytest.mark.parametrize("name", ["", "  ", 7])
def test_a_blank_plugin_name_is_no_way_past_a_critical_attribute(tmp_path: Path,
                                                                 name: object) -> None:
    """An envelope naming plugin "" with another critical attribute: the parser lets it
    through (a plugin is named), so the verifier must refuse the name (found in review)."""
    from datetime import timedelta

    from ocisign.envelopes import jws
    from ocisign.envelopes.notary import H_VERIFICATION_PLUGIN, SignRequest
    from ocisign.errors import VerificationError
    from tests.envelopes.certs import NOW
    from tests.envelopes.conftest import local_signer

    target = {"mediaType": "application/vnd.oci.image.manifest.v1+json",
              "digest": "sha256:" + "ab" * 32, "size": 1234}
    request = SignRequest(target=target, signing_time=NOW, expiry=NOW + timedelta(hours=12),
                          extended_attributes={"x-must-enforce": "prod", H_VERIFICATION_PLUGIN:
                                               name},
                          extended_critical=("x-must-enforce", H_VERIFICATION_PLUGIN))
    signed = jws.build(request, local_signer("EC-256"))
    if not isinstance(name, str):  # the parser already refuses a name that is no string
        with pytest.raises(VerificationError, match=r"no io\.cncf\.notary\.verificationPlugin"):
            parse_envelope(JWS_MEDIA_TYPE, signed)
        return
    env = parse_envelope(JWS_MEDIA_TYPE, signed)
    stores = stores_with(tmp_path, {"ca:root": [env.cert_chain[-1].public_bytes(Encoding.PEM)]})
    out = verify_notary(env, target=Descriptor.from_dict(target),
                        statement=statement("strict", stores=["ca:root"]), stores=stores,
                        now=NOW + timedelta(minutes=1), plugins_dir=tmp_path / "plugins")
    assert not out.passed
    assert "is an invalid plugin name" in out.failure
