"""`ocisign pkcs11-tool`: cosign's list-tokens and list-keys-uris, with the same output."""

from __future__ import annotations

import click

from ocisign.cli._common import common_flags, output_option, print_json, warn


@click.group("pkcs11-tool")
@common_flags
def pkcs11_tool() -> None:
    """Find the tokens of a PKCS#11 module and the URIs of their keys (as cosign does)."""


_MODULE = click.option(
    "--module-path",
    help="Absolute path to the PKCS11 module (default: $OCISIGN_PKCS11_MODULE_PATH, then "
         "$COSIGN_PKCS11_MODULE_PATH).",
)


@pkcs11_tool.command("list-tokens")
@_MODULE
@output_option
@common_flags
def list_tokens(module_path: str | None, output_format: str) -> None:
    """List all PKCS11 tokens linked to a PKCS11 module."""
    from ocisign.signers import pkcs11  # python-pkcs11 only for this command

    path, tokens = pkcs11.list_tokens(module_path)
    if output_format == "json":
        print_json({"modulePath": path, "tokens": [
            {"slot": t.slot, "label": t.label, "manufacturer": t.manufacturer,
             "model": t.model, "serial": t.serial} for t in tokens]})
        return
    click.echo(f"\nListing tokens of PKCS11 module '{path}'")
    for t in tokens:
        click.echo(f"Token in slot {t.slot}\n\tLabel: {t.label}\n\tManufacturer: "
                   f"{t.manufacturer}\n\tModel: {t.model}\n\tS/N: {t.serial}\n")


@pkcs11_tool.command("list-keys-uris")
@_MODULE
@click.option("--slot-id", type=click.IntRange(min=0), default=0, show_default=True,
              help="Id of the PKCS11 slot (cosign's default 0; SoftHSM slot ids are random).")
@click.option("--token-label", help="Label of the token (wins over --slot-id).")
@click.option("--pin", help="PIN of the PKCS11 slot (visible to other users; prefer "
              "$OCISIGN_PKCS11_PIN or $COSIGN_PKCS11_PIN, else a prompt).")
@click.option("--include-pin", is_flag=True, help="Put the PIN into the printed URIs.")
@click.option("--with-slot-id", is_flag=True, help="Put slot-id into the printed URIs.")
@output_option
@common_flags
def list_keys_uris(module_path: str | None, slot_id: int, token_label: str | None,
                   pin: str | None, include_pin: bool, with_slot_id: bool,
                   output_format: str) -> None:
    """List URIs of all keys in a PKCS11 token."""
    from ocisign.signers import pkcs11  # python-pkcs11 only for this command

    if pin:
        warn("a PIN given with --pin is visible to other users of this machine; "
             "set OCISIGN_PKCS11_PIN instead")
    path, token, keys = pkcs11.list_key_uris(module_path, slot_id, token_label, pin,
                                             include_pin=include_pin,
                                             with_slot_id=with_slot_id)
    if output_format == "json":
        print_json({"modulePath": path, "slot": token.slot_id, "token": token.label, "keys": [
            {"label": k.label or None, "id": k.id.hex() or None, "uri": k.uri} for k in keys]})
        return
    click.echo(f"\nListing URIs of keys in slot '{token.slot_id}' of PKCS11 module '{path}'")
    for i, k in enumerate(keys):
        click.echo(f"Object {i}")
        if k.label:
            click.echo(f"\tLabel: {k.label}")
        if k.id:
            click.echo(f"\tID: {k.id.hex()}")
        click.echo(f"\tURI: {k.uri}")
