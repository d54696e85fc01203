"""`ocisign key`: notation key + notation cert generate-test + cosign generate-key-pair."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click
from click.core import ParameterSource

from ocisign.cli._common import common_flags, output_option, print_json, print_table
from ocisign.cli._flags import key_value_pairs
from ocisign.errors import UsageError
from ocisign.keys import DEFAULT_DAYS, DEFAULT_KEY_TYPE, DEFAULT_PAIR_KEY_TYPE, KEY_TYPES

if TYPE_CHECKING:
    from ocisign.config.keystore import KeyEntry

_FILE = click.Path(dir_okay=False, path_type=Path)


def _entry_json(entry: KeyEntry, default: str | None) -> dict[str, object]:
    from ocisign.keys.pkcs11_uri import redact

    doc: dict[str, object] = entry.to_json()
    for field in ("keyPath", "certPath"):  # a hand-written pkcs11: URI may hold a PIN
        if isinstance(doc.get(field), str):
            doc[field] = redact(str(doc[field]))
    doc["default"] = entry.name == default
    return doc


@click.group("key")
@common_flags
def key() -> None:
    """Generate, add, list, delete and choose signing keys."""


@key.command("generate")
@click.argument("name")
@click.option("--type", "key_type", type=click.Choice(KEY_TYPES), default=DEFAULT_KEY_TYPE,
              show_default=True, help="Key type (notation cert generate-test makes rsa-2048).")
@click.option(
    "-b",
    "--bits",
    type=click.Choice(["2048", "3072", "4096"]),
    default=None,
    help="RSA key size, as notation cert generate-test spells it (sets --type rsa-BITS).",
)
@click.option(
    "--days",
    type=click.IntRange(min=1),
    default=DEFAULT_DAYS,
    show_default=True,
    help="Validity of the self-signed test certificate, in days.",
)
@click.option("--default", "is_default", is_flag=True, help="Mark the key as the default.")
@click.option("--pkcs11-uri", metavar="URI",
              help="Certify this PKCS#11 token key instead of generating a key (see pkcs11.md).")
@output_option
@common_flags
@click.pass_context
def generate(
    ctx: click.Context, name: str, key_type: str, bits: str | None, days: int,
    is_default: bool, pkcs11_uri: str | None, output_format: str,
) -> None:
    """Generate a key and a self-signed test certificate, and add them as NAME."""
    if pkcs11_uri:
        if bits or ctx.get_parameter_source("key_type") is ParameterSource.COMMANDLINE:
            raise UsageError("--pkcs11-uri cannot be combined with --type/--bits",
                             hint="the token key's own type is used")
        from ocisign.signers import pkcs11  # python-pkcs11 only for a token key

        result = pkcs11.generate_token_key(name, pkcs11_uri, days, is_default)
    else:
        from ocisign.keys.manage import generate_named_key

        result = generate_named_key(name, f"rsa-{bits}" if bits else key_type, days, is_default)
    entry = result.entry
    if output_format == "json":
        print_json(
            {
                "name": entry.name,
                "type": result.key_type,
                "keyPath": entry.key_path,
                "certPath": entry.cert_path,
                "trustStore": f"ca:{entry.name}",
                "trustStoreCertPath": str(result.trust_store_cert),
                "days": days,
                "default": result.default,
            }
        )
        return
    click.echo(f"generated {result.key_type} key and a test certificate valid for {days} days")
    click.echo(f"{'key on token' if pkcs11_uri else 'wrote key'}: {entry.key_path}")
    click.echo(f"wrote certificate: {entry.cert_path}")
    click.echo(f"Successfully added {entry.name}.crt to named store {entry.name} of type ca")
    click.echo(f"Successfully added {entry.name} to the key store")
    if result.default:
        click.echo(f"{entry.name}: marked as default signing key")


@key.command("add")
@click.argument("name")
@click.option("--key-file", type=_FILE, help="PEM private key (PKCS#8, PKCS#1 or SEC1).")
@click.option("--cert-file", metavar="FILE|URI",
              help="PEM certificate chain, leaf first (or DER); for a token key also a "
                   "pkcs11:...;type=cert URI.")
@click.option("--pkcs11-uri", metavar="URI",
              help="A PKCS#11 token key (pkcs11:token=...;object=...; see pkcs11.md).")
@click.option("--plugin", help="Name of the notation plugin that holds the key.")
@click.option("--id", "key_id", help="Key id the plugin knows the key by.")
@click.option(
    "--plugin-config", multiple=True, metavar="KEY=VALUE", help="Plugin setting (repeatable)."
)
@click.option("--default", "is_default", is_flag=True, help="Mark the key as the default.")
@output_option
@common_flags
def add(
    name: str,
    key_file: Path | None,
    cert_file: str | None,
    pkcs11_uri: str | None,
    plugin: str | None,
    key_id: str | None,
    plugin_config: tuple[str, ...],
    is_default: bool,
    output_format: str,
) -> None:
    """Add a local key/cert pair, a PKCS#11 token key or a plugin key to the key store."""
    from ocisign.keys import manage

    local = key_file is not None or cert_file is not None
    remote = plugin is not None or key_id is not None or bool(plugin_config)
    if (local and remote) or (pkcs11_uri and (remote or key_file)):
        raise UsageError("use one of --key-file/--cert-file, --pkcs11-uri [--cert-file] or "
                         "--plugin/--id, not both")
    if pkcs11_uri:
        from ocisign.signers import pkcs11  # python-pkcs11 only for a token key

        entry = pkcs11.add_token_key(name, pkcs11_uri, cert_file, is_default)
    elif remote:
        if not (plugin and key_id):
            raise UsageError("a plugin key needs both --plugin and --id")
        config = key_value_pairs(plugin_config, "--plugin-config")
        from ocisign.signers.plugin import read_metadata

        read_metadata(plugin)  # as notation: the plugin exists and answers its metadata
        entry = manage.add_plugin_key(name, plugin, key_id, config, is_default)
    else:
        if key_file is None or cert_file is None:
            raise UsageError(
                "a local key needs both --key-file and --cert-file",
                hint="or add a plugin key with --plugin NAME --id KEY_ID",
            )
        entry = manage.add_local_key(name, key_file, Path(cert_file), is_default)
    if output_format == "json":
        print_json(_entry_json(entry, name if is_default else None))
        return
    click.echo(f"Successfully added {entry.name}")
    if is_default:
        click.echo(f"{entry.name}: marked as default signing key")


@click.command("list")
@output_option
@common_flags
def list_keys(output_format: str) -> None:
    """List the keys in the key store (the default is marked with *)."""
    from ocisign.config.keystore import KeyStore
    from ocisign.keys.pkcs11_uri import redact

    store = KeyStore.load()
    if output_format == "json":
        print_json(
            {
                "default": store.default,
                "keys": [_entry_json(entry, store.default) for entry in store.keys],
            }
        )
        return
    rows = [
        (
            ("* " if entry.name == store.default else "  ") + entry.name,
            f"plugin:{entry.plugin_name}" if entry.is_plugin else redact(entry.key_path or ""),
            redact((entry.id if entry.is_plugin else entry.cert_path) or ""),
        )
        for entry in store.keys
    ]
    print_table(["NAME", "KEY PATH / PLUGIN", "CERT PATH / KEY ID"], rows)


key.add_command(list_keys, "list")
key.add_command(list_keys, "ls")


@key.command("delete")
@click.argument("names", nargs=-1, required=True)
@output_option
@common_flags
def delete(names: tuple[str, ...], output_format: str) -> None:
    """Remove keys from the key store (their files are left in place)."""
    from ocisign.keys.manage import delete_keys

    removed = delete_keys(list(names))
    if output_format == "json":
        print_json({"deleted": removed})
        return
    for name in removed:
        click.echo(f"Removed {name} from the key store (its files are left in place)")


def _set_default(name: str, output_format: str) -> None:
    from ocisign.keys.manage import set_default_key

    entry = set_default_key(name)
    if output_format == "json":
        print_json(_entry_json(entry, entry.name))
        return
    click.echo(f"{entry.name}: marked as default signing key")


@key.command("default")
@click.argument("name")
@output_option
@common_flags
def default(name: str, output_format: str) -> None:
    """Make NAME the default signing key."""
    _set_default(name, output_format)


@click.command("update")
@click.argument("name")
@click.option("--default", "is_default", is_flag=True, help="Mark the key as the default.")
@output_option
@common_flags
def update(name: str, is_default: bool, output_format: str) -> None:
    """Update a key entry (notation's spelling: key update NAME --default)."""
    if not is_default:
        raise UsageError("nothing to update", hint="pass --default to make NAME the default")
    _set_default(name, output_format)


key.add_command(update, "update")
key.add_command(update, "set")


@key.command("generate-pair")
@click.option(
    "--output-prefix",
    "--output-key-prefix",
    "output_prefix",
    default="cosign",
    show_default=True,
    help="Write PREFIX.key (encrypted private key) and PREFIX.pub (cosign spells it "
    "--output-key-prefix).",
)
@click.option("--type", "key_type", type=click.Choice(KEY_TYPES), default=DEFAULT_PAIR_KEY_TYPE,
              show_default=True, help="Key type (cosign generates ecdsa-p256).")
@click.option(
    "--passphrase-file",
    type=_FILE,
    help="File holding the passphrase (else OCISIGN_KEY_PASSPHRASE, COSIGN_PASSWORD, or a prompt).",
)
@click.option("--force", is_flag=True, help="Overwrite existing files.")
@output_option
@common_flags
def generate_pair(
    output_prefix: str,
    key_type: str,
    passphrase_file: Path | None,
    force: bool,
    output_format: str,
) -> None:
    """Write a cosign-compatible key pair (ENCRYPTED SIGSTORE PRIVATE KEY + PUBLIC KEY)."""
    from ocisign.keys.manage import check_pair_absent, generate_key_pair
    from ocisign.keys.passphrase import read_passphrase

    prefix = Path(output_prefix)
    check_pair_absent(prefix, force)
    passphrase = read_passphrase(passphrase_file, key_path=f"{prefix}.key", confirm=True)
    files = generate_key_pair(prefix, key_type, passphrase, force)
    if output_format == "json":
        print_json(
            {
                "privateKey": str(files.private_key),
                "publicKey": str(files.public_key),
                "type": files.key_type,
            }
        )
        return
    click.echo(f"Private key written to {files.private_key}")
    click.echo(f"Public key written to {files.public_key}")
