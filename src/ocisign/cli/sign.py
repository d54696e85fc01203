"""`ocisign sign`: notation sign's flags + hangar's batch flags + sigstore keys."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource

from ocisign import formats
from ocisign.batch import (
    BatchConsole,
    BatchReport,
    LineResult,
    Status,
    check_jobs,
    exit_if_stopped,
    parse_shard,
)
from ocisign.cli._common import (
    EXPERIMENTAL,
    common_flags,
    is_verbose,
    line_json,
    outcome_json,
    output_option,
    print_json,
    warn,
)
from ocisign.cli._flags import (
    GoBoolCommand,
    batch_options,
    duration_seconds,
    failed_file_path,
    format_choice,
    is_pem_file,
    key_value_pairs,
    parse_expiry,
    registry_options,
    registry_settings,
)
from ocisign.config.notation import load_config
from ocisign.errors import SignatureError, UsageError
from ocisign.formats import SignOptions, SignResult

_FILE = click.Path(dir_okay=False, path_type=Path)
FAILED_MESSAGE = "some images failed to sign"
DEPRECATED_REFERRERS_API = (
    "flag '--allow-referrers-api' is deprecated and will be removed in future versions, "
    "use '--force-referrers-tag=false' instead."
)


def _from_cli(ctx: click.Context, *names: str) -> bool:
    return any(ctx.get_parameter_source(n) is ParameterSource.COMMANDLINE for n in names)


@click.command("sign", cls=GoBoolCommand)
@click.argument("references", nargs=-1)
@click.option("--signature-format", type=format_choice(),
              help="Signature format (default: config.json signatureFormat, else jws; "
                   "sigstore with --sigstore-key).")
@click.option("-k", "--key", "key_name", help="Signing key name from the key store "
              "(default: the default key).")
@click.option("--id", "key_id", help="Key id for an on-demand plugin key (with --plugin).")
@click.option("--plugin", "plugin_name", help="Plugin that holds the key (with --id).")
@click.option("--plugin-config", multiple=True, metavar="KEY=VALUE",
              help="Plugin setting, merged over the key's stored pluginConfig (repeatable).")
@click.option("--plugin-timeout", default="60s", show_default=True,
              help="Time limit per plugin call (Go duration).")
@click.option("-e", "--expiry", default="0", show_default=True,
              help="Signature lifetime (Go duration: 30m, 12h, 3h20m; 0 = no expiry).")
@click.option("-m", "--user-metadata", multiple=True, metavar="KEY=VALUE",
              help="Signed user metadata (repeatable).")
@click.option("--oci-layout", is_flag=True,
              help="References are OCI image layouts: DIR:TAG or DIR@DIGEST.")
@click.option("--force-referrers-tag/--no-force-referrers-tag", default=True, show_default="true",
              help="Always maintain the referrers tag index; =false: use the Referrers API "
                   "when the registry supports it.")
@click.option("--allow-referrers-api", is_flag=True,
              help="Deprecated: same as --force-referrers-tag=false.")
@click.option("--timestamp-url", help="RFC 3161 Timestamping Authority (TSA) server URL.")
@click.option("--timestamp-root-cert", type=_FILE,
              help="Filepath of timestamp authority root certificate.")
@registry_options
@batch_options("sign")
@click.option("--skip-login", is_flag=True,
              help="Accepted for hangar compatibility (ocisign never prompts to log in).")
@click.option("--sigstore-key", metavar="FILE|URI",
              help="cosign/sigstore private key file, or a pkcs11: URI of a token key "
                   "(implies --signature-format sigstore).")
@click.option("--sigstore-passphrase-file", type=_FILE,
              help="File holding the sigstore key's passphrase (whitespace trimmed).")
@click.option("--sigstore-identity", type=click.Choice(["containers", "cosign"]),
              default="containers", show_default=True,
              help="sigstore docker-reference: as written (containers) or repository (cosign).")
@click.option("--sigstore-format", type=click.Choice(["simple", "bundle"]), default="simple",
              show_default=True,
              help="sigstore storage: the .sig tag (skopeo, podman, hangar) or a cosign v3 "
                   "Sigstore bundle referrer.")
@click.option("--force", is_flag=True, help="Sign again even if already signed.")
@output_option
@common_flags
@click.pass_context
def sign(ctx: click.Context, /, **flags: Any) -> None:
    """Sign images and artifacts: REFERENCE... and/or the lines of -f LIST.

    A tag is resolved to a digest; what the reference names is signed (JWS/COSE), or the
    index and its platforms (sigstore, or when -a/--os are given).
    """
    options = _options(ctx, flags)
    options = replace(options, jobs=check_jobs(options.jobs, warn))
    json_out = flags["output_format"] == "json"
    failed_file = failed_file_path(ctx, flags)
    console = BatchConsole("signing", show=None if json_out else _show, failed_file=failed_file)
    options = replace(options, console=console)
    from ocisign import signing  # the library loads when the command runs, not for --help

    report = signing.sign(options, warn=console.warn)
    wrote = failed_file is not None and bool(report.failed)
    if json_out:
        print_json(_json(report, str(failed_file) if wrote else None))
    elif len(report.results) > 1 or options.image_list is not None:
        _summary(report)
    exit_if_stopped(report, f"the lines not signed are in {failed_file}" if wrote else
                    "run the command again")
    if not report.failed:
        return
    if len(report.results) == 1 and options.image_list is None:
        result = report.failed[0]
        raise SignatureError(result.error, hint=result.hint or None)
    if not wrote:
        raise SignatureError(FAILED_MESSAGE, hint="fix the causes above and sign those again")
    if not json_out:
        click.echo(f"Failed lines written to {failed_file}", err=True)
    raise SignatureError(FAILED_MESSAGE,
                         hint=f"fix the causes above, then re-run with -f {failed_file}")


def _options(ctx: click.Context, flags: dict[str, Any]) -> SignOptions:
    """Check the flag combinations and build ``formats.SignOptions``."""
    refs: tuple[str, ...] = flags["references"]
    if not refs and not flags["image_list"]:
        raise UsageError("nothing to sign: give a REFERENCE or an image list with -f",
                         hint="ocisign sign REGISTRY/REPO@sha256:DIGEST, or -f images.txt")
    _check_timestamp_flags(ctx, flags)
    key_name, key_id, plugin = flags["key_name"], flags["key_id"], flags["plugin_name"]
    if is_pem_file(key_name):  # hangar's `sign -k cosign.key`
        raise UsageError(f"-k/--key names a key in the key store, but {key_name!r} is a file",
                         hint=f"to sign with a cosign key file use --sigstore-key {key_name} "
                              "(hangar's -k); a notation key file is added with 'ocisign key "
                              "add NAME --key-file KEY --cert-file CERT'")
    if key_name and (key_id or plugin):
        raise UsageError("--key cannot be combined with --id/--plugin",
                         hint="use a key from the key store (--key), or an on-demand plugin "
                              "key (--plugin NAME --id KEY_ID)")
    if bool(key_id) != bool(plugin):
        raise UsageError("--id and --plugin must be given together",
                         hint="pass --plugin NAME --id KEY_ID")
    config = load_config(formats=formats.names())
    fmt = _format(ctx, flags, config.signature_format)
    force_tag = flags["force_referrers_tag"]
    if flags["oci_layout"] and _from_cli(ctx, "force_referrers_tag"):
        raise UsageError("--oci-layout and --force-referrers-tag cannot be used together",
                         hint="an OCI layout lists signatures in index.json; drop the flag")
    if flags["allow_referrers_api"]:
        if _from_cli(ctx, "force_referrers_tag"):  # cobra's exclusive-group error, as notation
            raise UsageError("if any flags in the group [allow-referrers-api force-referrers-tag] "
                             "are set none of the others can be; [allow-referrers-api "
                             "force-referrers-tag] were all set")
        warn(EXPERIMENTAL)
        warn(DEPRECATED_REFERRERS_API)
        force_tag = False
    if flags["oci_layout"] and flags["image_list"]:
        raise UsageError("--oci-layout cannot be combined with -f/--file",
                         hint="pass the layouts as arguments: DIR:TAG or DIR@DIGEST")
    expiry = parse_expiry(flags["expiry"])
    metadata = key_value_pairs(flags["user_metadata"], "--user-metadata")
    registry = registry_settings(flags, config)
    return SignOptions(
        references=refs,
        image_list=Path(flags["image_list"]) if flags["image_list"] else None,
        signature_format=fmt,
        key_name=key_name, plugin_name=plugin, key_id=key_id,
        plugin_config=key_value_pairs(flags["plugin_config"], "--plugin-config"),
        plugin_timeout=duration_seconds(flags["plugin_timeout"], "--plugin-timeout"),
        expiry=expiry or None,
        user_metadata=metadata,
        oci_layout=flags["oci_layout"],
        force_referrers_tag=force_tag,
        registry=registry,
        expand=_from_cli(ctx, "arches", "oses"),
        archs=flags["arches"], oses=flags["oses"],
        registry_override=flags["registry_override"],
        project_override=flags["project_override"],
        jobs=flags["jobs"],
        timeout=duration_seconds(flags["timeout"], "--timeout"),
        shard=parse_shard(flags["shard"]),
        force=flags["force"],
        sigstore_key=flags["sigstore_key"],
        sigstore_passphrase_file=flags["sigstore_passphrase_file"],
        sigstore_identity=flags["sigstore_identity"],
        sigstore_format=flags["sigstore_format"],
        timestamp_url=flags["timestamp_url"] or "",
        timestamp_root_cert=flags["timestamp_root_cert"],
    )


def _check_timestamp_flags(ctx: click.Context, flags: dict[str, Any]) -> None:
    """notation's rules: both flags or neither, neither empty; Notary formats only."""
    given = [n for n in ("timestamp_url", "timestamp_root_cert") if _from_cli(ctx, n)]
    if len(given) == 1:
        missing = "timestamp-root-cert" if given == ["timestamp_url"] else "timestamp-url"
        raise UsageError("if any flags in the group [timestamp-url timestamp-root-cert] are set "
                         f"they must all be set; missing [{missing}]",
                         hint="pass --timestamp-url URL --timestamp-root-cert FILE together")
    if not given:
        return
    if not flags["timestamp_url"]:
        raise UsageError("timestamping: tsa url cannot be empty",
                         hint="pass the TSA's URL, e.g. --timestamp-url http://timestamp.digicert.com")
    if not str(flags["timestamp_root_cert"] or ""):
        raise UsageError("timestamping: tsa root certificate path cannot be empty",
                         hint="pass the TSA's root certificate file (PEM or DER)")
    if flags["sigstore_key"]:
        raise UsageError("--timestamp-url timestamps Notary (JWS/COSE) signatures only",
                         hint="drop --timestamp-url/--timestamp-root-cert for sigstore signing")


def _format(ctx: click.Context, flags: dict[str, Any], configured: str | None) -> str:
    """--signature-format, else sigstore for --sigstore-key, else config.json, else jws."""
    fmt: str | None = flags["signature_format"]
    if flags["sigstore_key"]:
        if fmt and formats.get(fmt).kind != "sigstore":
            raise UsageError(f"--sigstore-key cannot be used with --signature-format {fmt}",
                             hint="drop --signature-format, or use --signature-format sigstore")
        fmt = "sigstore"
    fmt = fmt or configured or "jws"
    if formats.get(fmt).kind == "sigstore":
        if not flags["sigstore_key"]:
            raise UsageError("--signature-format sigstore needs --sigstore-key FILE",
                             hint="make a key pair with 'ocisign key generate-pair'")
        if flags["key_name"] or flags["plugin_name"]:
            raise UsageError("--key/--plugin sign JWS/COSE; sigstore signatures use "
                             "--sigstore-key")
    return fmt


def _show(console: BatchConsole, result: LineResult, numbered: bool) -> None:
    """Text output of one finished line: a line per digest (stdout), warnings (stderr)."""
    where = f" (line {result.line_no})" if numbered else ""
    for outcome in result.outcomes:
        if outcome.status is Status.SIGNED:
            console.out(f"Successfully signed {outcome.reference}{where}")
            if is_verbose() and isinstance(outcome, SignResult):
                console.note(f"  signature {outcome.signature_digest} ({outcome.format}, "
                             f"key {outcome.key}) indexed by {outcome.mechanism or None}")
        elif outcome.status is Status.ALREADY_SIGNED:
            console.out(f"Already signed {outcome.reference}{where}")
        elif outcome.status is Status.SKIPPED:
            console.warn(f"Skip sign image {result.line}: {outcome.detail}")
    if result.status is Status.FAILED and console.total > 1:
        console.out(f"FAIL: {result.line}{where}: {result.error}", style="red")


def _summary(report: BatchReport) -> None:
    """A batch's closing counts and failed lines (stderr)."""
    click.echo(
        f"signed {report.count(Status.SIGNED)}, already signed "
        f"{report.count(Status.ALREADY_SIGNED)}, skipped {report.count(Status.SKIPPED)}, "
        f"failed {report.count(Status.FAILED)}",
        err=True,
    )
    for result in report.failed:
        click.echo(f"  failed line {result.line_no}: {result.line}: {result.error}", err=True)


def _target_json(result: SignResult) -> dict[str, Any]:
    return {
        **outcome_json(result),
        "signatureDigest": result.signature_digest or None,
        "format": result.format or None,
        "key": result.key or None,
        "mechanism": result.mechanism or None,
    }


def _json(report: BatchReport, failed_file: str | None) -> dict[str, Any]:
    results = [
        {**line_json(r),
         "targets": [_target_json(o) for o in r.outcomes if isinstance(o, SignResult)]}
        for r in report.results
    ]
    return {
        "command": "sign",
        "results": results,
        "summary": {
            "signed": report.count(Status.SIGNED),
            "alreadySigned": report.count(Status.ALREADY_SIGNED),
            "skipped": report.count(Status.SKIPPED),
            "failed": report.count(Status.FAILED),
            "total": len(report.results),
            "elapsedSeconds": round(report.elapsed, 3),
            "failedFile": failed_file,
        },
    }
