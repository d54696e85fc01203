"""Output helpers for the commands that copy notation's text (Go's formats, its prompt)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from cryptography import x509

SEPARATOR = "-" * 80


def print_tabwriter(rows: Sequence[Sequence[str]], padding: int = 3) -> None:
    """Print rows as Go's ``tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)`` does when every cell
    ends with a tab (notation's tables): each column padded to its widest cell + 3."""
    if not rows:
        return
    widths = [max(len(row[i]) for row in rows) + padding for i in range(len(rows[0]))]
    for row in rows:
        click.echo("".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))


def confirm(prompt: str, confirmed: bool) -> bool:
    """notation's ``AskForConfirmation``: ``y``/``yes`` goes on, anything else cancels."""
    if confirmed:
        return True
    click.echo(f"{prompt} [y/N] ", nl=False)
    answer = sys.stdin.readline()
    if answer.strip().lower() in ("y", "yes"):
        return True
    click.echo("Operation cancelled.")
    return False


def go_time(value: datetime) -> str:
    """Go's ``time.Time.String()`` for a UTC time: ``2024-01-02 15:04:05 +0000 UTC``."""
    value = value if value.tzinfo else value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S +0000 UTC")


def go_name(name: x509.Name) -> str:
    """Go's ``pkix.Name.String()`` (RFC 2253 order, Go's short attribute names)."""
    from cryptography.x509.oid import NameOID

    return name.rfc4514_string({NameOID.SERIAL_NUMBER: "SERIALNUMBER",
                                NameOID.POSTAL_CODE: "POSTALCODE"})


def sha256_fingerprint(cert: x509.Certificate) -> str:
    """Lowercase hex SHA-256 of the DER certificate."""
    from cryptography.hazmat.primitives import hashes

    return cert.fingerprint(hashes.SHA256()).hex()


class Tree:
    """notation's ``internal/tree``: a value and children, printed with box-drawing marks."""

    def __init__(self, value: str) -> None:
        self.value = value
        self.children: list[Tree] = []

    def add(self, value: str) -> Tree:
        child = Tree(value)
        self.children.append(child)
        return child

    def pair(self, key: str, value: str) -> Tree:
        return self.add(f"{key}: {value}")

    def lines(self, prefix: str = "", marker: str = "", next_prefix: str = "") -> list[str]:
        out = [prefix + marker + self.value]
        for index, child in enumerate(self.children):
            last = index == len(self.children) - 1
            out += child.lines(next_prefix, "└── " if last else "├── ",
                               next_prefix + ("    " if last else "│   "))
        return out

    def print(self) -> None:
        click.echo("\n".join(self.lines()))
