"""Flags and set-up shared by ``list`` and ``inspect`` (what is attached to an artifact)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from ocisign.cli._common import warn
from ocisign.cli._flags import registry_options, registry_settings
from ocisign.cli.verify import experimental_warnings, tag_warning
from ocisign.errors import UsageError

if TYPE_CHECKING:
    from ocisign.inspect import Attached

F = TypeVar("F", bound=Callable[..., Any])


def attached_options(func: F) -> F:
    """notation's list/inspect flags, plus ``--sigstore-pubkey`` to name cosign keys."""
    for option in reversed([
        registry_options,
        click.option("--oci-layout", is_flag=True,
                     help="the artifact is stored as an OCI image layout (DIR:TAG, DIR@DIGEST)"),
        click.option("--allow-referrers-api", is_flag=True,
                     help="[Experimental] use the Referrers API, falling back to the referrers "
                     "tag schema"),
        click.option("--max-signatures", type=int, default=100, show_default=True,
                     help="maximum number of signatures to evaluate or examine"),
        click.option("--sigstore-pubkey", "pubkeys", multiple=True,
                     type=click.Path(exists=True, dir_okay=False),
                     help="Public key (PEM) to name the key of cosign signatures; repeatable."),
        click.option("-o", "--output", "output_format", type=click.Choice(["text", "json"]),
                     default="text", show_default=True, help="output format"),
    ]):
        func = option(func)
    return func


def read_attached(command: str, reference: str | None, flags: dict[str, Any],
                  read_envelopes: bool) -> Attached:
    """Check the flags as notation does, print its warnings, and read the artifact."""
    if not reference:
        raise UsageError(f"missing reference to the artifact: use `notation {command} --help` "
                         "to see what parameters are required")
    if flags["max_signatures"] <= 0:
        raise UsageError(f"max-signatures value {flags['max_signatures']} must be a positive "
                         "number")
    experimental_warnings(flags["allow_referrers_api"], flags["oci_layout"])
    from ocisign.formats import PublicKeyFile
    from ocisign.inspect import attached
    from ocisign.keys.pem import load_public_key

    message = tag_warning(reference, command)
    if message:
        warn(message)
    return attached(
        reference,
        registry=registry_settings(flags),
        oci_layout=flags["oci_layout"],
        max_signatures=flags["max_signatures"],
        read_envelopes=read_envelopes,
        sigstore_keys=[PublicKeyFile(p, load_public_key(p)) for p in flags["pubkeys"]],
    )


def over_limit(found: Attached, limit: int) -> None:
    """notation's note when more signatures exist than ``--max-signatures`` (on stdout)."""
    if found.notary_over_limit:
        click.echo(f"Warning: exceeded configured limit of max signatures {limit} to examine")
