"""`ocisign version` (notation's layout) and `ocisign completion bash|zsh|fish`."""

from __future__ import annotations

import platform
import subprocess
from pathlib import Path

import click

from ocisign import __version__
from ocisign.cli._common import common_flags, print_json

LIBRARIES = ("cryptography", "click", "certifi", "pydantic", "cbor2", "rich")


def git_commit() -> str:
    """The commit of a source checkout this package runs from ("" when not one)."""
    source = Path(__file__).resolve().parent
    if not any((p / ".git").exists() for p in source.parents):
        return ""
    try:
        out = subprocess.run(["git", "-C", str(source), "rev-parse", "HEAD"],
                             capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


@click.command("version")
@click.option("-o", "--output", "output_format", type=click.Choice(["text", "json"]),
              default="text", show_default=True, help="output format")
@common_flags
def version(output_format: str) -> None:
    """Show the ocisign version information."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as package_version

    libraries = {}
    for name in LIBRARIES:
        try:
            libraries[name] = package_version(name)
        except PackageNotFoundError:
            libraries[name] = ""
    commit = git_commit()
    if output_format == "json":
        print_json({"schemaVersion": 1, "version": __version__,
                    "python": platform.python_version(), "libraries": libraries,
                    "gitCommit": commit})
        return
    click.echo("ocisign - sign and verify OCI artifacts (notation's command surface).\n")
    click.echo(f"Version:         {__version__}")
    click.echo(f"Python version:  {platform.python_version()}")
    for name, number in libraries.items():
        if number:
            click.echo(f"{(name + ':'):<16} {number}")
    if commit:
        click.echo(f"Git commit:      {commit}")


@click.command("completion")
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
@click.pass_context
def completion(ctx: click.Context, shell: str) -> None:
    """Print the completion script for SHELL (click's completion).

    bash: ``source <(ocisign completion bash)``; zsh: ``source <(ocisign completion zsh)``;
    fish: ``ocisign completion fish > ~/.config/fish/completions/ocisign.fish``.
    """
    from click.shell_completion import get_completion_class

    cls = get_completion_class(shell)
    assert cls is not None
    root = ctx.find_root()
    click.echo(cls(root.command, {}, "ocisign", "_OCISIGN_COMPLETE").source())
