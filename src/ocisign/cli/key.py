"""`ocisign key`."""

from __future__ import annotations

import click

from ocisign.cli._common import common_flags


@click.group("key")
@common_flags
def key() -> None:
    """Generate, add, list, delete and choose signing keys."""
