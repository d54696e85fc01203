"""Write a man page (roff, section 1) per ocisign command from its click definition.

Run at build time by setup.py (the wheel carries share/man/man1/ocisign*.1) and by
``python scripts/manpages.py OUTDIR``. Needs only click: command modules import their
heavy libraries when they run, not when they are defined.
"""

from __future__ import annotations

import inspect
import sys
from datetime import UTC, datetime
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parent.parent


def _roff(text: str) -> str:
    """Escape text for roff: backslashes, hyphens, and a leading dot or quote."""
    lines = []
    for line in text.replace("\\", "\\e").replace("-", "\\-").splitlines():
        lines.append("\\&" + line if line.startswith((".", "'")) else line)
    return "\n".join(lines)


def _commands(group: click.Group, prefix: list[str]) -> list[tuple[list[str], click.Command]]:
    """Every command below ``group`` (groups too), aliases once, by their path."""
    ctx = click.Context(group, info_name=" ".join(prefix))
    seen: set[int] = set()
    found: list[tuple[list[str], click.Command]] = []
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if command is None or id(command) in seen or command.hidden:
            continue
        seen.add(id(command))
        name = command.name if command.name in group.list_commands(ctx) else name  # not alias
        found.append(([*prefix, name], command))
        if isinstance(command, click.Group):
            found.extend(_commands(command, [*prefix, name]))
    return found


def man_page(path: list[str], command: click.Command, version: str, date: str) -> str:
    """The roff text of one command's page."""
    title = "-".join(path)
    ctx = click.Context(command, info_name=" ".join(path))
    out = [f'.TH "{title.upper()}" 1 "{date}" "ocisign {version}" "User Commands"',
           ".SH NAME", f"{_roff(title)} \\- {_roff(command.get_short_help_str(200))}",
           ".SH SYNOPSIS", f".B {_roff(' '.join(path))}",
           _roff(" ".join(command.collect_usage_pieces(ctx)))]
    if command.help:
        text = inspect.cleandoc(click.unstyle(command.help)).replace("\b\n", "")
        out.append(".SH DESCRIPTION")
        for number, paragraph in enumerate(text.split("\n\n")):
            out += [".PP"] * bool(number) + [_roff(paragraph)]
    options = [p for p in command.get_params(ctx) if isinstance(p, click.Option) and not p.hidden]
    if options:
        out.append(".SH OPTIONS")
        for option in options:
            record = option.get_help_record(ctx)
            if record is None:
                continue
            names, help_text = record
            out += [".TP", f"\\fB{_roff(names)}\\fR", _roff(help_text or "")]
    if isinstance(command, click.Group):
        out.append(".SH COMMANDS")
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is not None and not sub.hidden:
                out += [".TP", f"\\fB{_roff(name)}\\fR", _roff(sub.get_short_help_str(200)),
                        f"See \\fB{_roff('-'.join([*path, name]))}\\fR(1)."]
    see = sorted({"-".join(path[:1])} - {title})
    if see:
        out += [".SH SEE ALSO", ", ".join(f"\\fB{_roff(s)}\\fR(1)" for s in see)]
    return "\n".join(out) + "\n"


def write_man_pages(out_dir: Path) -> list[Path]:
    """Write ``ocisign.1`` and ``ocisign-<command>[-<sub>].1`` into ``out_dir``."""
    sys.path.insert(0, str(ROOT / "src"))
    from ocisign import __version__
    from ocisign.cli import cli

    date = datetime.fromtimestamp(int(_source_date()), UTC).strftime("%Y-%m-%d")
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for path, command in [(["ocisign"], cli), *_commands(cli, ["ocisign"])]:
        target = out_dir / f"{'-'.join(path)}.1"
        target.write_text(man_page(path, command, __version__, date), encoding="utf-8")
        written.append(target)
    return written


def _source_date() -> str:
    """SOURCE_DATE_EPOCH (reproducible builds), else the version file's time."""
    import os

    return os.environ.get("SOURCE_DATE_EPOCH") or str(
        int((ROOT / "src" / "ocisign" / "__init__.py").stat().st_mtime))


if __name__ == "__main__":
    for page in write_man_pages(Path(sys.argv[1] if len(sys.argv) > 1 else "build/man")):
        print(page)
