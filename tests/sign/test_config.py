"""config.json (notation's): insecureRegistries and signatureFormat; the example layout."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from ocisign.config.notation import load_config
from ocisign.errors import ConfigError
from ocisign.formats import names
from ocisign.registry.store import RegistryOptions
from ocisign.registry.transport import Transport
from tests.conftest import ROOT
from tests.sign.conftest import Env


def test_load_config(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    assert load_config(path, formats=names()).signature_format is None  # missing file: defaults
    path.write_text(json.dumps({"insecureRegistries": ["reg.example:5000"],
                                "signatureFormat": "COSE", "credsStore": "x"}))
    config = load_config(path, formats=names())
    assert config.signature_format == "cose"
    transport = Transport(RegistryOptions(insecure_registries=config.insecure_registries))
    assert transport.scheme("reg.example:5000") == "http"
    assert transport.scheme("other.example") == "https"
    bads: list[object] = [{"insecureRegistries": "reg"}, {"signatureFormat": "pgp"}, []]
    for bad in bads:
        path.write_text(json.dumps(bad))
        with pytest.raises(ConfigError, match=str(path)):
            load_config(path, formats=names())


def test_example_layout_signs(env: Env, tmp_path: Path) -> None:
    layout = tmp_path / "layout"
    shutil.copytree(ROOT / "examples" / "layout", layout)
    for fmt in ("jws", "cose"):
        out = env.ok("sign", "--oci-layout", f"{layout}:v1", "--signature-format", fmt)
        assert out.stdout.startswith(f"Successfully signed {layout}@sha256:")
    assert len(json.loads((layout / "index.json").read_text())["manifests"]) == 3


def test_registry_settings_read_insecure_registries(config_dir: Path) -> None:
    """sign and validate build their registry options in one place, config.json included."""
    from ocisign.cli._flags import registry_settings

    config_dir.mkdir(parents=True)
    (config_dir / "config.json").write_text(json.dumps({"insecureRegistries": ["reg.io:5000"]}))
    flags = {"username": "u", "password": "p", "insecure_registry": False,
             "tls_verify": None, "ca_file": None}
    options = registry_settings(flags)
    assert options.insecure_registries == frozenset({"reg.io:5000"})
    assert (options.username, options.password, options.tls_verify) == ("u", "p", True)
    assert registry_settings({**flags, "tls_verify": False}).tls_verify is False
    assert Transport(options).scheme("reg.io:5000") == "http"
