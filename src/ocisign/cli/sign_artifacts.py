"""`ocisign sign-artifacts`."""

from __future__ import annotations

import click

from ocisign.cli._common import common_flags, not_implemented


@click.command("sign-artifacts", context_settings={"ignore_unknown_options": True})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@common_flags
def sign_artifacts(args: tuple[str, ...]) -> None:
    """Not implemented yet."""
    not_implemented("sign-artifacts")
