"""`ocisign certificate` / `cert`: notation's trust store commands (v1.3.2 texts)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from ocisign.cli._common import common_flags
from ocisign.cli._notation import SEPARATOR, confirm, go_name, go_time, print_tabwriter
from ocisign.errors import ConfigError, UsageError

F = TypeVar("F", bound=Callable[..., Any])
_TYPES = "specify trust store type, options: ca, signingAuthority, tsa"


def _store_flags(required: bool) -> Callable[[F], F]:
    """notation's ``-t/--type`` and ``-s/--store``."""

    def decorate(func: F) -> F:
        func = click.option("-s", "--store", "store", required=required, default="",
                            help="specify named store")(func)
        return click.option("-t", "--type", "store_type", required=required, default="",
                            help=_TYPES)(func)

    return decorate


@click.group("certificate")
@common_flags
def certificate() -> None:
    """Manage certificates in trust store for signature verification."""


@certificate.command("add")
@_store_flags(required=True)
@click.argument("paths", nargs=-1)
@common_flags
def add(store_type: str, store: str, paths: tuple[str, ...]) -> None:
    """Add certificates to the trust store."""
    from ocisign.config.truststore import add_certificate, check_store

    if not paths:
        raise UsageError("missing certificate path")
    check_store(store_type, store)
    done: list[str] = []
    failed: list[str] = []
    for path in paths:
        try:
            add_certificate(Path(path), store_type, store)
            done.append(path)
        except ConfigError as exc:
            failed.append(f'{path}, with error "{exc.message}"')
    if done:
        click.echo(f"Successfully added following certificates to named store {store} of "
                   f"type {store_type}:")
        for path in done:
            click.echo(path)
    if failed:
        raise ConfigError(
            f"Failed to add following certificates to named store {store} of type "
            f"{store_type}: " + "; ".join(failed),
            hint="a trust store file holds PEM or DER certificates: CA certificates, or a "
            "self-signed signing certificate (tsa: root CAs only), and no private key",
        )


@click.command("list")
@_store_flags(required=False)
@common_flags
def list_certs(store_type: str, store: str) -> None:
    """List certificates in the trust store."""
    from ocisign.config.truststore import list_certificates

    files = list_certificates(store_type, store)
    if files:
        print_tabwriter([("STORE TYPE", "STORE NAME", "CERTIFICATE"),
                         *((f.parent.parent.name, f.parent.name, f.name) for f in files)])


certificate.add_command(list_certs, "list")
certificate.add_command(list_certs, "ls")


@certificate.command("show")
@_store_flags(required=True)
@click.argument("file", required=False)
@common_flags
def show(store_type: str, store: str, file: str | None) -> None:
    """Show certificate details given trust store type, named store, and file name."""
    from ocisign.config.truststore import is_ca, read_certificates, store_file

    if not file:
        raise UsageError("missing certificate file name")
    path = store_file(store_type, store, file)
    try:
        certs = read_certificates(path)
    except (OSError, ConfigError) as exc:
        reason = exc.message if isinstance(exc, ConfigError) else exc.strerror
        raise ConfigError(f"failed to show details of certificate {file}, with error: {reason}",
                          hint="list the store's files with `cert ls`") from None
    from cryptography.hazmat.primitives import hashes

    click.echo("Certificate details")
    click.echo(SEPARATOR)
    for index, cert in enumerate(certs):
        click.echo(f"Issuer: {go_name(cert.issuer)}")
        click.echo(f"Subject: {go_name(cert.subject)}")
        click.echo(f"Valid from: {go_time(cert.not_valid_before_utc)}")
        click.echo(f"Valid to: {go_time(cert.not_valid_after_utc)}")
        click.echo(f"IsCA: {str(is_ca(cert)).lower()}")
        click.echo(f"SHA256 Thumbprint: {cert.fingerprint(hashes.SHA256()).hex()}")
        if index != len(certs) - 1:
            click.echo(SEPARATOR)


@certificate.command("delete")
@_store_flags(required=True)
@click.option("-a", "--all", "delete_all", is_flag=True,
              help="delete all certificates in the named store")
@click.option("-y", "--yes", "confirmed", is_flag=True, help="do not prompt for confirmation")
@click.argument("file", required=False)
@common_flags
def delete(store_type: str, store: str, delete_all: bool, confirmed: bool,
           file: str | None) -> None:
    """Delete certificates from the trust store."""
    import shutil

    from ocisign.config.truststore import store_file, store_path

    if delete_all and file:
        raise UsageError("cannot delete a single certificate file when --all flag is set. "
                         "use --help flag for more details")
    if not delete_all and not file:
        raise UsageError("delete requires either the certificate file name that needs to be "
                         "deleted or --all flag to delete all certificates in the given named "
                         "trust store")
    if delete_all:
        folder = store_path(store_type, store)
        prompt = f'Are you sure you want to delete all certificates in "{store}" of type ' \
                 f'"{store_type}"?'
        if not confirm(prompt, confirmed):
            return
        if not folder.is_dir():
            raise ConfigError(f"failed to delete the named trust store: stat {folder}: "
                              "no such file or directory")
        shutil.rmtree(folder)
        click.echo(f"Successfully deleted {folder}")
        return
    assert file is not None
    path = store_file(store_type, store, file)
    if not confirm(f'Are you sure you want to delete "{file}" in "{store}" of type '
                   f'"{store_type}"?', confirmed):
        return
    if not path.is_file():
        raise ConfigError(f"failed to delete the certificate file: stat {path}: "
                          "no such file or directory", hint="list the files with `cert ls`")
    path.unlink()
    click.echo(f"Successfully deleted {file}")


@certificate.command("generate-test")
@click.argument("name", required=False)
@click.option("-b", "--bits", type=click.Choice(["2048", "3072", "4096"]), default="2048",
              show_default=True, help="RSA key bits")
@click.option("--default", "is_default", is_flag=True, help="mark as default signing key")
@common_flags
def generate_test(name: str | None, bits: str, is_default: bool) -> None:
    """Generate a test RSA key and a corresponding self-signed certificate (valid one day,
    as notation's)."""
    from ocisign.keys.manage import NAME_PATTERN, generate_named_key

    if not name:
        raise UsageError("missing certificate common_name")
    if not NAME_PATTERN.fullmatch(name):
        raise UsageError("name needs to follow [a-zA-Z0-9_.-]+ format")
    click.echo(f"generating RSA Key with {bits} bits")
    result = generate_named_key(name, f"rsa-{bits}", 1, is_default)
    from ocisign.keys.pem import load_certificates

    leaf = load_certificates(Path(result.entry.cert_path or ""))[0]
    expiry = leaf.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    click.echo(f"generated certificate expiring on {expiry}")
    click.echo(f"wrote key: {result.entry.key_path}")
    click.echo(f"wrote certificate: {result.entry.cert_path}")
    click.echo(f"Successfully added {name}.crt to named store {name} of type ca")
    click.echo(f"{name}: added to the key list")
    if is_default:
        click.echo(f"{name}: mark as default signing key")


@certificate.command("cleanup-test")
@click.argument("name")
@click.option("-y", "--yes", "confirmed", is_flag=True, help="do not prompt for confirmation")
@common_flags
def cleanup_test(name: str, confirmed: bool) -> None:
    """Remove what generate-test made for NAME: key entry, key and cert files, ca store."""
    from ocisign.config import paths
    from ocisign.keys.manage import check_name, cleanup_test_key

    check_name(name)
    keys = paths.local_keys_dir()
    prompt = (
        f"The test key {name} and its corresponding certificate will be cleaned up with the "
        f"following changes:\n- Delete certificate {name}.crt from trust store {name} of type "
        f"ca\n- Remove key {name} from the key list\n- Delete key file: {keys / name}.key\n"
        f"- Delete certificate file: {keys / name}.crt\n\nAre you sure you want to continue?"
    )
    if not confirm(prompt, confirmed):
        return
    for line in cleanup_test_key(name):
        click.echo(line)
