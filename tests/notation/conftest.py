"""Helpers for the notation-surface tests: run ocisign with notation's own flag spellings,
with ``NOTATION_CONFIG`` pointing at a fresh folder (as notation's e2e suite does)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import cli_env, run_ocisign

Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def notation_dir(tmp_path: Path) -> Path:
    return tmp_path / "notation"


@pytest.fixture
def notation(notation_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    """``notation ARGS`` as ``ocisign ARGS`` with NOTATION_CONFIG set (and no OCISIGN_ one)."""
    monkeypatch.delenv("OCISIGN_CONFIG_DIR", raising=False)

    def run(*args: str, input: str | None = None, **env: str) -> subprocess.CompletedProcess[str]:
        environment = cli_env(NOTATION_CONFIG=str(notation_dir), **env)
        environment.pop("OCISIGN_CONFIG_DIR", None)
        return run_ocisign(*args, env=environment, input=input)

    return run
