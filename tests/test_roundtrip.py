"""What `ocisign sign` makes, `ocisign validate` accepts: every format, single and
multi-arch, in a real registry and in an OCI layout; and rejects it with other trust."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from ocisign.registry.layout import LayoutStore
from tests.conftest import cli_env, run_ocisign
from tests.fixtures.registry import RunningRegistry, push_test_image, push_test_image_to

pytestmark = pytest.mark.integration

POLICY = {
    "version": "1.0",
    "trustPolicies": [
        {
            "name": "rt",
            "registryScopes": ["*"],
            "signatureVerification": {"level": "strict"},
            "trustStores": ["ca:rt"],
            "trustedIdentities": ["*"],
        }
    ],
}


class Setup:
    """A config dir with a Notary test key ``rt`` (trusted by the policy) and a cosign pair."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.env = cli_env(OCISIGN_CONFIG_DIR=str(root / "config"), DOCKER_CONFIG=str(root))
        for name in ("OCISIGN_USERNAME", "OCISIGN_PASSWORD", "COSIGN_PASSWORD"):
            self.env.pop(name, None)
        self.passfile = root / "pass.txt"
        self.passfile.write_text("round trip\n")
        self.ok("key", "generate", "rt", "--default", "--type", "ecdsa-p256")
        self.ok("key", "generate-pair", "--output-prefix", str(root / "cosign"),
                "--passphrase-file", str(self.passfile))
        self.ok("key", "generate-pair", "--output-prefix", str(root / "other"),
                "--passphrase-file", str(self.passfile))
        (root / "config" / "trustpolicy.json").write_text(json.dumps(POLICY))

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return run_ocisign(*args, env=self.env, cwd=self.root)

    def ok(self, *args: str) -> subprocess.CompletedProcess[str]:
        result = self.run(*args)
        assert result.returncode == 0, result.stdout + result.stderr
        return result

    def sign_args(self, fmt: str) -> list[str]:
        if fmt == "sigstore":
            return ["--sigstore-key", str(self.root / "cosign.key"),
                    "--sigstore-passphrase-file", str(self.passfile)]
        return ["--signature-format", fmt]

    def validate_args(self, fmt: str, pubkey: str = "cosign.pub") -> list[str]:
        if fmt == "sigstore":
            return ["--type", "sigstore", "--sigstore-pubkey", str(self.root / pubkey)]
        return ["--type", "notation"]


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Setup:
    return Setup(tmp_path_factory.mktemp("roundtrip"))


FORMATS = ["jws", "cose", "sigstore"]
ARCHS = {"single": ("amd64",), "multi": ("amd64", "arm64")}
PLATFORMS = ["-a", "amd64,arm64", "--os", "linux"]


@pytest.mark.parametrize("kind", sorted(ARCHS))
@pytest.mark.parametrize("fmt", FORMATS)
def test_registry_roundtrip(
    setup: Setup, registry: RunningRegistry, fmt: str, kind: str
) -> None:
    repo = f"roundtrip/{fmt}-{kind}"
    digest = push_test_image(registry, f"{repo}:v1", ARCHS[kind])
    by_tag, by_digest = f"{registry.host}/{repo}:v1", f"{registry.host}/{repo}@{digest}"

    unsigned = setup.run("validate", *setup.validate_args(fmt), *PLATFORMS, by_tag,
                         "-o", str(setup.root / f"failed-{fmt}-{kind}.txt"))
    assert unsigned.returncode == 1 and "FAIL:" in unsigned.stdout

    signed = setup.ok("sign", *setup.sign_args(fmt), *PLATFORMS, by_tag)
    assert f"Successfully signed {registry.host}/{repo}@{digest}" in signed.stdout
    # a multi-arch image: the index and both platform manifests carry signatures
    assert signed.stdout.count("Successfully signed") == (3 if kind == "multi" else 1)

    for ref in (by_tag, by_digest):
        result = setup.ok("validate", *setup.validate_args(fmt), *PLATFORMS, ref)
        assert f"PASS: {ref}" in result.stdout

    if fmt == "sigstore":
        wrong = setup.run("validate", *setup.validate_args(fmt, "other.pub"), *PLATFORMS,
                          by_tag, "-o", str(setup.root / f"wrong-{fmt}-{kind}.txt"))
    else:
        other = setup.root / f"other-store-{fmt}-{kind}"
        (other / "x509" / "ca" / "rt").mkdir(parents=True)
        foreign = setup.root / "config" / "localkeys" / "foreign.crt"
        if not foreign.exists():
            setup.ok("key", "generate", "foreign", "--type", "ecdsa-p256")
        (other / "x509" / "ca" / "rt" / "foreign.crt").write_bytes(foreign.read_bytes())
        wrong = setup.run("validate", *setup.validate_args(fmt), "--trust-store", str(other),
                          *PLATFORMS, by_tag, "-o", str(setup.root / f"wrong-{fmt}-{kind}.txt"))
    assert wrong.returncode == 1, wrong.stdout + wrong.stderr
    assert f"FAIL: {by_tag}" in wrong.stdout
    assert "some images failed to validate" in wrong.stderr


@pytest.mark.parametrize("kind", sorted(ARCHS))
@pytest.mark.parametrize("fmt", FORMATS)
def test_layout_roundtrip(setup: Setup, tmp_path: Path, fmt: str, kind: str) -> None:
    layout = tmp_path / "layout"
    digest = push_test_image_to(LayoutStore(layout), "v1", ARCHS[kind])
    ref = f"{layout}:v1"

    signed = setup.ok("sign", "--oci-layout", *setup.sign_args(fmt), *PLATFORMS, ref)
    assert f"Successfully signed {layout}@{digest}" in signed.stdout

    result = setup.ok("validate", "--oci-layout", *setup.validate_args(fmt), *PLATFORMS, ref)
    assert f"PASS: {ref}" in result.stdout
    by_digest = f"{layout}@{digest}"
    assert f"PASS: {by_digest}" in setup.ok(
        "validate", "--oci-layout", *setup.validate_args(fmt), *PLATFORMS, by_digest
    ).stdout

    if fmt == "sigstore":
        wrong = setup.run("validate", "--oci-layout", *setup.validate_args(fmt, "other.pub"),
                          *PLATFORMS, ref, "-o", str(tmp_path / "failed.txt"))
        assert wrong.returncode == 1 and f"FAIL: {ref}" in wrong.stdout
