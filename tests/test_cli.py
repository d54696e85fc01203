"""The click group: version, help, error reporting."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from ocisign import __version__
from ocisign.cli import cli
from tests.conftest import cli_env


def test_version() -> None:
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert __version__ in result.stdout


def test_version_fast_path_matches_click_and_skips_it() -> None:
    code = "import runpy, sys; sys.argv[1:] = ['--version']\n" \
           "runpy.run_module('ocisign', run_name='__main__')\nprint('click' in sys.modules)\n"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=cli_env()
    )
    assert out.stdout == CliRunner().invoke(cli, ["--version"]).stdout + "False\n"


def test_help_lists_commands_without_importing_them() -> None:
    heavy = ("cryptography", "requests", "http.client", "rich", "ocisign.cli.sign")
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


def test_go_bool_spelling_of_flags() -> None:
    """notation/hangar (Go) scripts write --flag=true|false; both spellings work."""
    import click

    from ocisign.cli._flags import GoBoolCommand
    from ocisign.errors import UsageError

    @click.command(cls=GoBoolCommand)
    @click.option("--tls-verify/--no-tls-verify", default=None)
    @click.option("--insecure-registry", is_flag=True)
    def cmd(tls_verify: bool | None, insecure_registry: bool) -> None:
        click.echo(f"{tls_verify} {insecure_registry}")

    def run(*args: str) -> str:
        result = CliRunner().invoke(cmd, list(args))
        return f"{result.exit_code}:{result.stdout.strip()}{result.stderr.strip()}"

    assert run("--tls-verify=false") == "0:False False"
    assert run("--tls-verify=true", "--insecure-registry=True") == "0:True True"
    assert run("--insecure-registry=false") == "0:None False"
    assert run("--tls-verify") == "0:True False"
    with pytest.raises(UsageError, match="invalid argument 'maybe' for --tls-verify"):
        cmd.main(["--tls-verify=maybe"], standalone_mode=False)


def test_debug_and_verbose_hold_for_one_invocation_only(config_dir: Path) -> None:
    """-d in one run of the group must not leak into the next run in the same process."""
    runner = CliRunner()
    args = ["sign", "--oci-layout", f"{config_dir}/missing:v1"]
    first = runner.invoke(cli, ["-d", *args])
    assert first.exit_code == 1 and "Traceback" in first.output
    assert logging.getLogger("ocisign").level == logging.DEBUG
    second = runner.invoke(cli, args)
    assert second.exit_code == 1 and "Error:" in second.output
    assert "Traceback" not in second.output
    assert logging.getLogger("ocisign").level == logging.WARNING


@pytest.mark.parametrize(("args", "killed"), [(["version"], True), (["key", "list"], True),
                                             (["--help"], False)])
def test_a_reader_that_went_away_ends_us_by_sigpipe(args: list[str], killed: bool,
                                                    tmp_path: Path) -> None:
    """`ocisign ... | head`: no "unexpected BrokenPipeError"; a command is killed by SIGPIPE
    as Go's notation and cosign are (the shell's 141), click's own help exits 1 silently."""
    import os
    import signal

    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first byte
    try:
        proc = subprocess.run([sys.executable, "-m", "ocisign", *args], stdout=write_end,
                              stderr=subprocess.PIPE, text=True, timeout=60,
                              env=cli_env(OCISIGN_CONFIG_DIR=str(tmp_path)))
    finally:
        os.close(write_end)
    assert proc.returncode == (-signal.SIGPIPE if killed else 1), proc.stderr
    assert proc.stderr == ""
