"""The click group: version, help, error reporting."""

from __future__ import annotations

import subprocess
import sys

from click.testing import CliRunner

from ocisign import __version__
from ocisign.cli import cli
from tests.conftest import cli_env


def test_version() -> None:
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert __version__ in result.stdout


def test_help_lists_commands_without_importing_them() -> None:
    heavy = ("cryptography", "requests", "rich", "ocisign.cli.sign")
    code = (
        "import sys; from ocisign.cli import cli\n"
        "try:\n    cli.main(['--help'], prog_name='ocisign')\nexcept SystemExit:\n    pass\n"
        f"print('HEAVY', [m for m in {heavy!r} if m in sys.modules])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=cli_env()
    )
    for name in ("sign", "sign-artifacts", "validate", "key"):
        assert name in out.stdout
    assert "HEAVY []" in out.stdout


def test_unknown_command_is_usage_error() -> None:
    result = CliRunner().invoke(cli, ["nope"])
    assert result.exit_code == 2
    assert "No such command" in result.stderr
