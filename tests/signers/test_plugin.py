"""The notation plugin protocol against a real (Python) plugin executable."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from ocisign.cli._flags import parse_expiry
from ocisign.envelopes.notary import parse_envelope
from ocisign.errors import PluginError
from ocisign.notary.sign import sign_descriptor
from ocisign.oci import OCI_MANIFEST, Descriptor
from ocisign.signers.base import EnvelopeSigner, Signer
from ocisign.signers.plugin import find_plugin, plugin_path, plugin_signer
from tests.envelopes.certs import NOW

SUBJECT = Descriptor(OCI_MANIFEST, "sha256:" + "cd" * 32, 999)


def _log(config: dict[str, str]) -> list[dict]:
    return [json.loads(line) for line in Path(config["log"]).read_text().splitlines()]


@pytest.mark.parametrize("envelope_format", ["jws", "cose"])
def test_raw_plugin_signs(
    plugins_dir: Path, any_plugin_config: dict[str, str], envelope_format: str
) -> None:
    signer = plugin_signer(
        "pytest", "key-1", {**any_plugin_config, "mode": "raw"}, plugins_dir=plugins_dir
    )
    assert isinstance(signer, Signer) and not isinstance(signer, EnvelopeSigner)
    result = sign_descriptor(
        SUBJECT, signer, envelope_format=envelope_format, expiry=parse_expiry("1h"), now=NOW
    )
    parsed = parse_envelope(result.media_type, result.envelope)
    assert parsed.target == SUBJECT.to_dict()
    assert parsed.signing_agent == "ocisign/0.1.0 pytest/1.2.3"
    assert parsed.cert_chain == signer.certificate_chain()
    calls = _log(any_plugin_config)
    assert [c["argv"][1] for c in calls] == [
        "get-plugin-metadata",
        "describe-key",
        "generate-signature",
    ]
    for call in calls:
        assert call["argv"][1:] == [call["argv"][1]]  # nothing but the command in argv
        assert call["request"]["pluginConfig"]["mode"] == "raw"
    request = calls[2]["request"]
    assert request["contractVersion"] == "1.0" and request["keyId"] == "key-1"
    assert request["keySpec"] == signer.key_spec()
    assert request["hashAlgorithm"] in ("SHA-256", "SHA-384")


def test_raw_preferred_when_both_advertised(
    plugins_dir: Path, plugin_config: dict[str, str]
) -> None:
    config = {**plugin_config, "mode": "both"}
    signer = plugin_signer("pytest", "k", config, plugins_dir=plugins_dir)
    assert isinstance(signer, Signer)
    sign_descriptor(SUBJECT, signer, now=NOW)
    assert "generate-envelope" not in [c["argv"][1] for c in _log(plugin_config)]


@pytest.mark.parametrize("envelope_format", ["jws", "cose"])
def test_envelope_plugin(
    plugins_dir: Path, any_plugin_config: dict[str, str], envelope_format: str
) -> None:
    signer = plugin_signer(
        "pytest", "k", {**any_plugin_config, "mode": "envelope"}, plugins_dir=plugins_dir
    )
    assert isinstance(signer, EnvelopeSigner) and not isinstance(signer, Signer)
    result = sign_descriptor(
        SUBJECT,
        signer,
        envelope_format=envelope_format,
        expiry=parse_expiry("2h"),
        user_metadata={"team": "a"},
    )
    assert result.parsed.signing_agent == "pytest/1.2.3"
    assert result.parsed.target["annotations"] == {"team": "a"}
    assert result.annotations["io.example.plugin"] == "pytest"
    assert "io.cncf.notary.x509chain.thumbprint#S256" in result.annotations
    calls = _log(any_plugin_config)
    assert [c["argv"][1] for c in calls] == ["get-plugin-metadata", "generate-envelope"]
    request = calls[1]["request"]
    assert request["expiryDurationInSeconds"] == 7200
    assert request["payloadType"] == "application/vnd.cncf.notary.payload.v1+json"


def test_envelope_for_another_artifact_refused(
    plugins_dir: Path, plugin_config: dict[str, str]
) -> None:
    signer = plugin_signer(
        "pytest", "k", {**plugin_config, "mode": "envelope-tamper"}, plugins_dir=plugins_dir
    )
    with pytest.raises(PluginError, match="signed digest"):
        sign_descriptor(SUBJECT, signer)


def test_plugin_error_response(plugins_dir: Path, plugin_config: dict[str, str]) -> None:
    signer = plugin_signer(
        "pytest", "k9", {**plugin_config, "mode": "error"}, plugins_dir=plugins_dir
    )
    with pytest.raises(PluginError, match="ACCESS_DENIED: no access to key k9"):
        sign_descriptor(SUBJECT, signer, now=NOW)


def test_malformed_json(plugins_dir: Path, plugin_config: dict[str, str]) -> None:
    with pytest.raises(PluginError, match="describe-key returned malformed JSON"):
        config = {**plugin_config, "mode": "malformed"}
        plugin_signer("pytest", "k", config, plugins_dir=plugins_dir)


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("badname", "calls itself 'other'"),
        ("badcontract", "not 1.0"),
        ("badalg", "signingAlgorithm 'ECDSA-SHA-1'"),
    ],
)
def test_bad_plugin_answers(
    plugins_dir: Path, plugin_config: dict[str, str], mode: str, message: str
) -> None:
    with pytest.raises(PluginError, match=message):
        signer = plugin_signer(
            "pytest", "k", {**plugin_config, "mode": mode}, plugins_dir=plugins_dir
        )
        signer.sign(b"data")


def test_hanging_plugin_is_stopped(plugins_dir: Path, plugin_config: dict[str, str]) -> None:
    signer = plugin_signer(
        "pytest", "k", {**plugin_config, "mode": "hang"}, plugins_dir=plugins_dir, timeout=1.0
    )
    started = time.monotonic()
    with pytest.raises(PluginError, match="did not answer within 1 s and was stopped"):
        signer.sign(b"data")
    assert time.monotonic() - started < 10


def test_discovery_rules(plugins_dir: Path, tmp_path: Path) -> None:
    assert find_plugin("pytest", plugins_dir) == plugins_dir / "pytest/notation-pytest"
    with pytest.raises(PluginError, match="not installed"):
        find_plugin("absent", plugins_dir)
    with pytest.raises(PluginError, match="invalid plugin name"):
        plugin_path("../evil", plugins_dir)
    link = plugins_dir / "linked" / "notation-linked"
    link.parent.mkdir()
    link.symlink_to(plugins_dir / "pytest/notation-pytest")
    with pytest.raises(PluginError, match="not a symlink"):
        find_plugin("linked", plugins_dir)
    plain = plugins_dir / "plain" / "notation-plain"
    plain.parent.mkdir()
    plain.write_text("#!/bin/sh\n")
    plain.chmod(0o644)
    with pytest.raises(PluginError, match="not executable"):
        find_plugin("plain", plugins_dir)


def test_default_plugins_dir_from_config(
    plugins_dir: Path, plugin_config: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OCISIGN_LIBEXEC", str(plugins_dir.parent))
    signer = plugin_signer("pytest", "k", plugin_config)
    assert signer.executable == plugins_dir / "pytest/notation-pytest"


def test_output_cap(tmp_path: Path) -> None:
    from ocisign.signers.plugin import run_plugin

    script = tmp_path / "notation-big"
    script.write_text("#!/bin/sh\nhead -c 300000 /dev/zero\n")
    script.chmod(0o755)
    with pytest.raises(PluginError, match="exceeds 1000 bytes"):
        run_plugin(script, "describe-key", {}, timeout=10, cap=1000)
    quiet = tmp_path / "notation-quiet"
    quiet.write_text("#!/bin/sh\nexit 3\n")
    quiet.chmod(0o755)
    with pytest.raises(PluginError, match="exit code 3"):
        run_plugin(quiet, "describe-key", {}, timeout=10)
    noisy = tmp_path / "notation-noisy"
    noisy.write_text("#!/bin/sh\necho oops >&2\nexit 1\n")
    noisy.chmod(0o755)
    with pytest.raises(PluginError, match="malformed error response"):
        run_plugin(noisy, "describe-key", {}, timeout=10)
    assert os.access(noisy, os.X_OK)
    broken = tmp_path / "notation-broken"
    broken.write_bytes(b"\x7fELF garbage")
    broken.chmod(0o755)
    with pytest.raises(PluginError, match="cannot be run"):
        run_plugin(broken, "describe-key", {}, timeout=10)
