"""The ``ocisign`` click group.

Subcommands are imported only when they run, so ``ocisign --version`` and ``--help``
start without loading cryptography, requests or rich.
"""

from __future__ import annotations

import importlib
from typing import Any

import click

from ocisign import __version__
from ocisign.cli._common import ARGS, common_flags, configure_logging, handle_errors

# command name -> "module:attribute" (imported lazily)
COMMANDS = {
    "blob": "ocisign.cli.blob:blob",
    "sign": "ocisign.cli.sign:sign",
    "sign-artifacts": "ocisign.cli.sign_artifacts:sign_artifacts",
    "validate": "ocisign.cli.validate:validate",
    "key": "ocisign.cli.key:key",
    "pkcs11-tool": "ocisign.cli.pkcs11_tool:pkcs11_tool",
    "certificate": "ocisign.cli.certificate:certificate",
    "cert": "ocisign.cli.certificate:certificate",
    "policy": "ocisign.cli.policy:policy",
    "verify": "ocisign.cli.verify:verify",
    "list": "ocisign.cli.list:list_signatures",
    "ls": "ocisign.cli.list:list_signatures",
    "inspect": "ocisign.cli.inspect:inspect",
    "plugin": "ocisign.cli.plugin:plugin",
    "login": "ocisign.cli.login:login",
    "logout": "ocisign.cli.login:logout",
    "version": "ocisign.cli.version:version",
    "completion": "ocisign.cli.version:completion",
}

SHORT_HELP = {
    "blob": "Sign and verify files (notation blob, cosign sign-blob/verify-blob).",
    "sign": "Sign OCI images and artifacts (JWS, COSE or sigstore).",
    "sign-artifacts": "Sign the boot artifacts of an OS image build.",
    "validate": "Verify signatures (sigstore public key or trust policy).",
    "key": "Generate, add, list, delete and choose signing keys.",
    "pkcs11-tool": "List PKCS#11 tokens and the URIs of their keys (as cosign does).",
    "certificate": "Manage certificates in the trust store (alias: cert).",
    "cert": "Alias of certificate.",
    "policy": "Import, show or create (init) the trust policy.",
    "verify": "Verify one artifact's Notary signatures, as notation verify does.",
    "list": "List the signatures of an artifact (Notary and cosign; alias: ls).",
    "ls": "Alias of list.",
    "inspect": "Show the signatures of an artifact in detail.",
    "plugin": "List, install and uninstall notation plugins.",
    "login": "Log in to a registry (docker's config.json or its credsStore).",
    "logout": "Log out from a registry.",
    "version": "Show the version of ocisign and its libraries.",
    "completion": "Print a shell completion script (bash, zsh, fish).",
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        command = getattr(importlib.import_module(module_name), attr)
        assert isinstance(command, click.Command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # list commands from SHORT_HELP so `ocisign --help` imports none of them
        with formatter.section("Commands"):
            formatter.write_dl([(name, SHORT_HELP[name]) for name in self.list_commands(ctx)])

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        configure_logging(ctx)  # per invocation: an earlier -d in this process is forgotten
        ctx.meta[ARGS] = tuple(args)  # for --output json errors (handle_errors)
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        with handle_errors(ctx):
            return super().invoke(ctx)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="ocisign")
@common_flags
def cli() -> None:
    """Sign and verify OCI images, artifacts and OS boot artifacts.

    Notary Project signatures (JWS, COSE) as notation makes them, cosign simple-signing
    signatures that skopeo, podman and cosign accept, and Authenticode / PKCS#7
    signatures for the boot artifacts of an Image Customizer build.
    """


def main() -> None:
    """Console-script entry point."""
    cli.main(prog_name="ocisign")
