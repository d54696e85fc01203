"""`ocisign sign`."""

from __future__ import annotations

import click

from ocisign.cli._common import common_flags, not_implemented


@click.command("sign", context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@common_flags
def sign(args: tuple[str, ...]) -> None:
    """Not implemented yet."""
    not_implemented("sign")
