"""`ocisign policy`: notation's ``policy import``/``show``, and ``policy init`` (ours)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ocisign.cli._common import common_flags, warn
from ocisign.cli._notation import confirm
from ocisign.errors import ConfigError, UsageError

_IMPORT_HINT = "You can import one using `notation policy import <path-to-policy.json>`"


@click.group("policy")
@common_flags
def policy() -> None:
    """Manage trust policy configuration for signature verification."""


@policy.command("import")
@click.argument("file_path", nargs=-1)
@click.option("--force", is_flag=True,
              help="override the existing trust policy configuration, never prompt")
@common_flags
def import_policy(file_path: tuple[str, ...], force: bool) -> None:
    """Import trust policy configuration from a JSON file (validated before it replaces
    anything; the file is replaced atomically)."""
    from ocisign.config import paths
    from ocisign.config.trustpolicy import write_policy

    if len(file_path) != 1:
        raise UsageError(
            f"requires 1 argument but received {len(file_path)}",
            hint="Usage: notation policy import <path-to-policy.json>; please specify a trust "
            "policy file location as the argument",
        )
    source = Path(file_path[0])
    try:
        data = source.read_bytes()
    except OSError as exc:
        raise ConfigError(f"failed to read trust policy file: open {source}: {exc.strerror}",
                          hint="check the path of the policy file") from None
    from ocisign.config.trustpolicy import parse_trust_policy

    try:
        parse_trust_policy(data, source=str(source))
    except ConfigError as exc:
        raise ConfigError(f"failed to validate trust policy: {exc.message}",
                          hint=exc.hint) from None
    target = paths.trust_policy_file()
    if force:
        warn("existing trust policy configuration file will be overwritten")
    elif target.exists() and not confirm(
        "The trust policy file already exists, do you want to overwrite it?", False
    ):
        return
    write_policy(data, str(source), target)
    click.echo("Trust policy configuration imported successfully.")


@policy.command("show")
@common_flags
def show() -> None:
    """Show trust policy configuration (an invalid one is shown too, with the error)."""
    from ocisign.config import paths
    from ocisign.config.trustpolicy import parse_trust_policy

    path = paths.trust_policy_file()
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            "failed to show trust policy as the trust policy file does not exist.",
            hint=_IMPORT_HINT + ", or create one with `ocisign policy init`",
        ) from None
    except OSError as exc:
        raise ConfigError(f"failed to show trust policy: {exc.strerror}") from None
    try:
        parse_trust_policy(data, source=str(path))
    except ConfigError as exc:
        click.echo(f"Error: {exc.message}", err=True)
        click.echo("Existing trust policy configuration is invalid, you may update or create a "
                   "new one via `notation policy import <path-to-policy.json>`", err=True)
    sys.stdout.buffer.write(data)
    sys.stdout.flush()


@policy.command("init")
@click.option("--name", default="default", show_default=True, help="Name of the statement.")
@click.option("--scope", "scopes", multiple=True,
              help="Registry scope, registry/repository (repeatable; default: '*').")
@click.option("--store", "stores", multiple=True, required=True,
              help="Trust store as type:name, or a name for ca:NAME (repeatable).")
@click.option("--level", type=click.Choice(["strict", "permissive", "audit", "skip"]),
              default="strict", show_default=True, help="Signature verification level.")
@click.option("--trusted-identity", "identities", multiple=True,
              help="'x509.subject: C=..,ST=..,O=..' or '*' (repeatable; default: '*').")
@click.option("--force", is_flag=True, help="Replace an existing trust policy.")
@common_flags
def init(name: str, scopes: tuple[str, ...], stores: tuple[str, ...], level: str,
         identities: tuple[str, ...], force: bool) -> None:
    """Write a trust policy trusting STOREs for SCOPEs (not in notation)."""
    from ocisign.config import paths, truststore
    from ocisign.config.trustpolicy import init_policy, write_policy

    data = init_policy(name=name, scopes=list(scopes), stores=list(stores), level=level,
                       identities=list(identities))
    target = paths.trust_policy_file()
    if target.exists() and not force:
        raise ConfigError(f"the trust policy {target} already exists",
                          hint="pass --force to replace it, or edit it and `policy import` it")
    write_policy(data, "policy init", target)
    if level != "skip":
        for ref in stores:
            ref = ref if ":" in ref else f"ca:{ref}"
            store_type, store = truststore.parse_store_ref(ref)
            if not truststore.list_certificates(store_type, store):
                warn(f"trust store {ref} holds no certificate yet; add one with "
                     f"`ocisign cert add --type {store_type} --store {store} FILE`")
    click.echo(f"Trust policy configuration written to {target}")
