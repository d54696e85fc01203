"""`ocisign plugin`: notation's ``plugin list``, ``install`` and ``uninstall``."""

from __future__ import annotations

from pathlib import Path

import click

from ocisign.cli._common import common_flags, print_json
from ocisign.cli._notation import confirm, print_tabwriter
from ocisign.errors import PluginError, UsageError


@click.group("plugin")
@common_flags
def plugin() -> None:
    """Manage plugins."""


@click.command("list")
@click.option("-o", "--output", "output_format", type=click.Choice(["text", "json"]),
              default="text", show_default=True, help="output format (json: not in notation)")
@common_flags
def list_plugins(output_format: str) -> None:
    """List installed plugins (each is asked for its metadata)."""
    from ocisign.signers.plugin import installed_plugins, read_metadata

    rows = []
    docs: list[dict[str, object]] = []
    for name in installed_plugins():
        try:
            meta = read_metadata(name)
        except PluginError as exc:
            rows.append((name, "", "", "[]", exc.message))
            docs.append({"name": name, "error": exc.message})
            continue
        rows.append((name, meta.description, meta.version, f"[{' '.join(meta.capabilities)}]",
                     "<nil>"))
        docs.append({"name": name, "description": meta.description, "version": meta.version,
                     "url": meta.url, "capabilities": meta.capabilities,
                     "supportedContractVersions": meta.supported_contract_versions,
                     "error": ""})
    if output_format == "json":
        print_json({"schemaVersion": 1, "plugins": docs})
        return
    print_tabwriter([("NAME", "DESCRIPTION", "VERSION", "CAPABILITIES", "ERROR"), *rows])


plugin.add_command(list_plugins, "list")
plugin.add_command(list_plugins, "ls")


@plugin.command("install")
@click.option("--file", "is_file", is_flag=True, help="install plugin from a file on file system")
@click.option("--url", "is_url", is_flag=True, help="install plugin from an HTTPS URL")
@click.option("--sha256sum", default="", help='must match SHA256 of the plugin source, '
              'required when "--url" flag is set')
@click.option("--force", is_flag=True, help="force the installation of the plugin")
@click.argument("source", nargs=-1)
@common_flags
def install(is_file: bool, is_url: bool, sha256sum: str, force: bool,
            source: tuple[str, ...]) -> None:
    """Install a plugin from an executable file or a .zip/.tar.gz archive (--file)."""
    from ocisign.signers.plugin import install_plugin

    if not source:
        raise UsageError("missing plugin file path" if is_file else
                         "missing plugin URL" if is_url else "missing plugin source location")
    if len(source) > 1:
        raise UsageError(f"can only install one plugin at a time, but got {list(source)}")
    if is_file == is_url:
        raise UsageError("exactly one of --file or --url must be set")
    if is_url:
        raise PluginError(
            "installing plugins from a URL is not supported: ocisign does not download "
            "executables",
            hint="download the plugin, check its SHA-256, then use `plugin install --file`",
        )
    metadata, old = install_plugin(Path(source[0]), force=force)
    if old:
        click.echo(f"Successfully updated plugin {metadata.name} from version {old} to "
                   f"{metadata.version}")
    else:
        click.echo(f"Successfully installed plugin {metadata.name}, version {metadata.version}")


@plugin.command("uninstall")
@click.argument("names", nargs=-1)
@click.option("-y", "--yes", "confirmed", is_flag=True, help="do not prompt for confirmation")
@common_flags
def uninstall(names: tuple[str, ...], confirmed: bool) -> None:
    """Uninstall a plugin."""
    from ocisign.signers.plugin import plugin_path, uninstall_plugin

    if not names:
        raise UsageError("plugin name is required")
    if len(names) > 1:
        raise UsageError("only one plugin can be removed at a time")
    name = names[0]
    if not plugin_path(name).parent.is_dir():
        raise PluginError(f"unable to find plugin {name}.",
                          hint="To view a list of installed plugins, use `notation plugin list`")
    if not confirm(f'Are you sure you want to uninstall plugin "{name}"?', confirmed):
        return
    uninstall_plugin(name)
    click.echo(f"Successfully uninstalled plugin {name}")
