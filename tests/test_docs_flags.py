"""The flags docs/ and README show are the flags click accepts.

Two places are checked: every ``ocisign CMD ... --flag`` command line (code blocks and inline
code), and the first column of the flag tables in a command's own page (docs/CMD.md).
"""

from __future__ import annotations

import re
import shlex
import sys
from pathlib import Path

import click
import pytest

from ocisign.cli import cli
from tests.conftest import ROOT

DOCS = [*sorted((ROOT / "docs").rglob("*.md")), ROOT / "README.md"]
FLAG = re.compile(r"(?<![\w-])(--?[A-Za-z][\w-]*)")


def _resolve(words: list[str]) -> tuple[click.Command, list[str]] | None:
    """The command ``ocisign WORDS...`` names, and the words after it."""
    command: click.Command = cli
    rest = list(words)
    while isinstance(command, click.Group) and rest and not rest[0].startswith("-"):
        sub = command.get_command(click.Context(command), rest[0])
        if sub is None:  # an unknown command, or a placeholder (`ocisign key ...`)
            return None if command is cli else (command, rest)
        command, rest = sub, rest[1:]
    return command, rest


def _flags(command: click.Command) -> set[str]:
    names = {"--help", "-h"}
    for param in command.params:
        names.update(getattr(param, "opts", ()))
        names.update(getattr(param, "secondary_opts", ()))
    return names


def _command_lines(text: str, *, inline: bool = True) -> list[str]:
    lines = []
    for block in re.findall(r"```[a-z]*\n(.*?)```", text, re.S):
        joined = re.sub(r"\\\n\s*", " ", block)
        lines += [ln.strip() for ln in joined.splitlines()]
    if inline:
        lines += re.findall(r"`(ocisign [^`]+)`", text)
    return [ln.split(" #")[0].strip() for ln in lines if ln.startswith("ocisign ")]


def _unknown_in_command_lines(path: Path) -> list[str]:
    bad = []
    for line in _command_lines(path.read_text()):
        try:
            words = shlex.split(line.replace("|", " "))[1:]
        except ValueError:
            continue
        found = _resolve(words)
        if found is None:
            if words and not words[0].startswith("-") and "NAME" not in words[0]:
                bad.append(f"{line!r}: no command {words[0]!r}")
            continue
        command, rest = found
        known = _flags(command)
        for word in rest:
            flag = word.split("=", 1)[0]
            if FLAG.fullmatch(flag) and flag not in known and not flag[1:].isdigit():
                bad.append(f"{line!r}: {flag}")
    return bad


@pytest.mark.parametrize("path", DOCS, ids=[str(p.relative_to(ROOT)) for p in DOCS])
def test_documented_command_lines_use_real_flags(path: Path) -> None:
    assert _unknown_in_command_lines(path) == []


PAGES = {p.stem: p for p in (ROOT / "docs").glob("*.md")}
COMMAND_PAGES = sorted(name for name in PAGES if _resolve(name.split("-")) is not None
                       or _resolve([name]) is not None)


@pytest.mark.parametrize("name", COMMAND_PAGES)
def test_flag_tables_of_a_command_page_name_real_flags(name: str) -> None:
    found = _resolve([name]) or _resolve(name.split("-"))
    assert found is not None
    command = found[0]
    known = set(_flags(command))
    if isinstance(command, click.Group):  # a group's page documents its subcommands
        ctx = click.Context(command)
        for sub in command.list_commands(ctx):
            sub_command = command.get_command(ctx, sub)
            assert sub_command is not None
            known |= _flags(sub_command)
    bad = []
    for row in re.findall(r"^\|\s*`([^`|]+)`[^|]*\|", PAGES[name].read_text(), re.M):
        if not row.startswith("-"):
            continue
        for flag in FLAG.findall(row):
            if flag not in known:
                bad.append(f"{row!r}: {flag}")
    assert bad == []


def test_the_checks_can_fail(tmp_path: Path) -> None:
    page = tmp_path / "bad.md"
    page.write_text("```\nocisign sign --image-list x.txt\nocisign validate -Z\n```\n")
    assert len(_unknown_in_command_lines(page)) == 2


def test_getting_started_ends_in_a_passing_validate(tmp_path: Path) -> None:
    """Run docs/getting-started.md's commands (install aside) as written, in a temp dir."""
    import shutil
    import subprocess

    from tests.conftest import cli_env

    text = (ROOT / "docs" / "getting-started.md").read_text()
    lines = [ln for ln in _command_lines(text, inline=False)
             if not ln.startswith("ocisign --version")]
    copies = re.findall(r"^(cp -r examples/\S+ \S+)", text, re.M)
    assert copies and lines[-1].startswith("ocisign validate")
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    script = "set -e\n" + "\n".join(
        c if c.startswith("cp") else f"{shlex.quote(sys.executable)} -m {c}"
        for c in [*lines[:2], *copies, *lines[2:]])
    done = subprocess.run(["bash", "-c", script], cwd=tmp_path, capture_output=True, text=True,
                          env=cli_env(OCISIGN_CONFIG_DIR=str(tmp_path / "config")), timeout=300,
                          check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.rstrip().endswith("PASS: ./layout:v1")
