"""Shared test helpers: run the real CLI in a subprocess, isolated config dirs."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src"
DATA = Path(__file__).resolve().parent / "data"

pytest_plugins = [
    "tests.fixtures.registry",
    "tests.fixtures.fake_registry",
    "tests.fixtures.fault_proxy",
    "tests.fixtures.skopeo",
    "tests.fixtures.pki",
    "tests.fixtures.pkcs11",
]


def cli_commands(group: Any = None, prefix: tuple[str, ...] = (),
                 canonical: tuple[str, ...] = ()) -> Iterator[
        tuple[tuple[str, ...], tuple[str, ...], Any]]:
    """Every leaf command of the ``ocisign`` group (or ``group``): (path of names as listed,
    an alias once per name; path of the commands' own names; the command). Hidden commands
    and groups are left out."""
    import click

    from ocisign.cli import cli

    group = cli if group is None else group
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None
        if command.hidden:
            continue
        own = (*canonical, command.name or name)
        if isinstance(command, click.Group):
            yield from cli_commands(command, (*prefix, name), own)
        else:
            yield (*prefix, name), own, command


def python_script(target: Path, source: str) -> Path:
    """The script ``source`` written to ``target`` with this interpreter in its shebang
    (``source``'s own first line replaced), executable."""
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(f"#!{sys.executable}\n" + source.split("\n", 1)[1])
    target.chmod(0o755)
    return target


def cli_env(**extra: str) -> dict[str, str]:
    """Environment for a subprocess running this checkout's ocisign."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(SRC) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


def run_ocisign(
    *args: str, env: dict[str, str] | None = None, input: str | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m ocisign ARGS`` and capture its output (never raises on failure)."""
    return subprocess.run(
        [sys.executable, "-m", "ocisign", *args],
        capture_output=True,
        text=True,
        env=env if env is not None else cli_env(),
        input=input,
        cwd=cwd,
        timeout=300,
    )


@pytest.fixture
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty ocisign config dir, exported as OCISIGN_CONFIG_DIR."""
    path = tmp_path / "config"
    monkeypatch.setenv("OCISIGN_CONFIG_DIR", str(path))
    yield path
