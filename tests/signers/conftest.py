"""Fixtures: the test plugin installed into a temporary plugins directory."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
)

from tests.conftest import SRC, python_script
from tests.envelopes.conftest import local_signer

PLUGIN_SOURCE = Path(__file__).resolve().parent.parent / "plugins" / "notation-pytest"


@pytest.fixture
def plugins_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``<tmp>/plugins/pytest/notation-pytest`` run by this interpreter (it needs cryptography)."""
    folder = tmp_path / "plugins"
    python_script(folder / "pytest" / "notation-pytest", PLUGIN_SOURCE.read_text())
    monkeypatch.setenv("PYTHONPATH", str(SRC) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return folder


def _config(spec: str, tmp_path: Path) -> dict[str, str]:
    """Key and chain files for the plugin (a self-signed code-signing cert)."""
    signer = local_signer(spec)
    key_file, chain_file = tmp_path / "key.pem", tmp_path / "chain.pem"
    key_file.write_bytes(
        signer._key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    )
    key_file.chmod(stat.S_IRUSR | stat.S_IWUSR)
    chain_file.write_bytes(
        b"".join(c.public_bytes(Encoding.PEM) for c in signer.certificate_chain())
    )
    return {"key": str(key_file), "chain": str(chain_file), "log": str(tmp_path / "log.jsonl")}


@pytest.fixture
def plugin_config(tmp_path: Path) -> dict[str, str]:
    """pluginConfig for an EC-256 plugin key."""
    return _config("EC-256", tmp_path)


@pytest.fixture(params=["RSA-3072", "EC-256"])
def any_plugin_config(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    """pluginConfig for an RSA and an EC plugin key."""
    return _config(request.param, tmp_path)
