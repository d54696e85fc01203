"""``sign -k PLUGIN_KEY --timestamp-url``: a plugin's signature timestamped by the loopback TSA."""

from __future__ import annotations

from pathlib import Path

import pytest

from ocisign.envelopes.notary import parse_envelope
from ocisign.notary.timestamp import verify
from tests.fixtures.pki import Pki
from tests.sign.conftest import Env
from tests.tsa.test_sign_timestamp import MEDIA, envelope_of


@pytest.mark.parametrize("fmt", ["jws", "cose"])
def test_plugin_key_with_timestamp(env: Env, plugin_key: str, layout: Path, pki: Pki,
                                   fmt: str) -> None:
    """A generate-signature plugin's signature is timestamped like a local key's; a plugin
    building whole envelopes is refused rather than signed without a timestamp."""
    root = pki.write("tsa-root.pem", pki.tsa_root.pem())
    flags = ["--timestamp-url", pki.tsa_url, "--timestamp-root-cert", str(root)]
    env.ok("sign", "-k", plugin_key, "--signature-format", fmt, "--oci-layout",
           f"{layout}:v1", *flags)
    parsed = parse_envelope(MEDIA[fmt], envelope_of(layout, fmt))
    assert parsed.timestamp_token
    assert verify(parsed.timestamp_token, parsed.signature, [pki.tsa_root.cert]).nonce
    refused = env.run("sign", "-k", plugin_key, "--plugin-config", "mode=envelope", "--force",
                      "--oci-layout", f"{layout}:v1", *flags)
    assert refused.returncode != 0 and "does not timestamp" in refused.stderr
    assert "Traceback" not in refused.stderr
