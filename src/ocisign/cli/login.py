"""`ocisign login` / `logout`: notation's registry login (docker's config.json or its
credential helper), ``-u/-p``, ``--password-stdin``, ``$NOTATION_USERNAME/PASSWORD``."""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from ocisign.cli._common import common_flags, warn
from ocisign.cli._flags import registry_options, registry_settings
from ocisign.errors import AuthError, UsageError


def _read_line(stream: Any) -> str:
    return str(stream.readline()).removesuffix("\n").removesuffix("\r")


@click.command("login")
@click.argument("server", required=False)
@registry_options
@click.option("--password-stdin", is_flag=True, help="take the password from stdin")
@common_flags
def login(server: str | None, password_stdin: bool, **flags: Any) -> None:
    """Log in to an OCI registry (the credentials are checked first)."""
    from ocisign.registry.credentials import check_login, store_credentials

    if not server:
        raise UsageError("no hostname specified")
    username = flags["username"] or os.environ.get("NOTATION_USERNAME") or ""
    password = flags["password"] or os.environ.get("NOTATION_PASSWORD") or ""
    if flags["password"]:
        warn("Using --password via the CLI is insecure. Use --password-stdin.")
    if password_stdin:
        if flags["password"]:
            raise UsageError("--password and --password-stdin are mutually exclusive")
        password = sys.stdin.read().removesuffix("\n").removesuffix("\r")
    if not password:
        if not username:
            click.echo("Username: ", nl=False)
            username = _read_line(sys.stdin).strip()
        label = "Password" if username else "Token"
        if sys.stdin.isatty():
            password = click.prompt(label, hide_input=True, prompt_suffix=": ", default="",
                                    show_default=False)
        else:
            click.echo(f"{label}: ", nl=False)
            password = _read_line(sys.stdin)
            click.echo()
        if not password:
            raise UsageError(f"{label.lower()} required")
    options = registry_settings({**flags, "username": username or "<token>",
                                 "password": password})
    host = server.split("://", 1)[-1].split("/", 1)[0]
    try:
        check_login(host, options)
    except AuthError as exc:
        raise AuthError(f"failed to log in to {host}: {exc.message}",
                        hint="check the username and password") from None
    where = store_credentials(host, username or "<token>", password)
    if not where.startswith("credential helper"):
        warn(f"The credentials store is not set up; the credentials are stored unencrypted "
             f"in {where} (mode 0600). Configure credsStore in docker's config.json to use a "
             "credential helper.")
    click.echo("Login Succeeded")


@click.command("logout")
@click.argument("server", required=False)
@common_flags
def logout(server: str | None) -> None:
    """Log out from the logged in registry."""
    from ocisign.registry.credentials import erase_credentials

    if not server:
        raise UsageError("no hostname specified")
    erase_credentials(server.split("://", 1)[-1].split("/", 1)[0])
    click.echo("Logout Succeeded")
