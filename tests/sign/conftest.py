"""Fixtures for ``ocisign sign``: config dirs with keys, layouts, plugin keys."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import DATA, cli_env, python_script, run_ocisign

E2E_KEY = DATA / "notation" / "keys" / "e2e.key"
E2E_CRT = DATA / "notation" / "keys" / "e2e.crt"
LAYOUTS = DATA / "notation" / "oci-layouts"
E2E_DIGEST = "sha256:b8479de3f88fb259a0a9ea82a5b2a052a1ef3c4ebbcfc61482d5ae4c831f8af9"
PLUGIN_SOURCE = Path(__file__).resolve().parent.parent / "plugins" / "notation-pytest"

Result = subprocess.CompletedProcess[str]


class Env:
    """A config dir (OCISIGN_CONFIG_DIR) and a way to run the CLI with it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.config = root / "config"
        self.extra: dict[str, str] = {
            "OCISIGN_CONFIG_DIR": str(self.config),
            "DOCKER_CONFIG": str(root / "docker"),
            "OCISIGN_USERNAME": "",
            "OCISIGN_PASSWORD": "",
            "NOTATION_USERNAME": "",
            "NOTATION_PASSWORD": "",
        }

    def env(self, **extra: str) -> dict[str, str]:
        env = cli_env(**{**self.extra, **extra})
        for name in ("OCISIGN_USERNAME", "OCISIGN_PASSWORD", "NOTATION_USERNAME",
                     "NOTATION_PASSWORD"):
            if not env.get(name):
                env.pop(name, None)
        return env

    def run(self, *args: str, env: dict[str, str] | None = None) -> Result:
        return run_ocisign(*args, env=env or self.env(), cwd=self.root)

    def ok(self, *args: str, env: dict[str, str] | None = None) -> Result:
        result = self.run(*args, env=env)
        assert result.returncode == 0, result.stderr + result.stdout
        return result


@pytest.fixture
def env(tmp_path: Path) -> Env:
    """A config dir holding the notation e2e key as the default key ``e2e``."""
    (tmp_path / "docker").mkdir()
    e = Env(tmp_path)
    e.ok("key", "add", "e2e", "--key-file", str(E2E_KEY), "--cert-file", str(E2E_CRT),
         "--default")
    return e


@pytest.fixture
def layout(tmp_path: Path) -> Path:
    """A fresh copy of notation's unsigned ``e2e`` layout (tag v1)."""
    target = tmp_path / "e2e"
    shutil.copytree(LAYOUTS / "e2e", target)
    return target


@pytest.fixture
def plugin_key(env: Env, tmp_path: Path) -> str:
    """The test plugin installed in the config dir, and a key ``pk`` held by it."""
    from tests.signers.conftest import _config

    python_script(env.config / "plugins" / "pytest" / "notation-pytest",
                  PLUGIN_SOURCE.read_text())
    folder = tmp_path / "plugin-files"
    folder.mkdir()
    config = _config("EC-256", folder)
    args = [f"--plugin-config={k}={v}" for k, v in config.items() if k != "log"]
    env.ok("key", "add", "pk", "--plugin", "pytest", "--id", "key-1", *args)
    return "pk"
