"""`ocisign validate`: verify sigstore, JWS and COSE signatures, singly and in batches."""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ocisign.batch import (
    BatchConsole,
    BatchReport,
    LineResult,
    Status,
    check_jobs,
    exit_if_stopped,
    parse_shard,
)
from ocisign.cli._common import common_flags, is_verbose, output_option, print_json, warn
from ocisign.cli._flags import (
    KEY_FILE_OR_PKCS11,
    GoBoolCommand,
    batch_options,
    duration_seconds,
    failed_file_path,
    format_choice,
    key_value_pairs,
    kind_choice,
    registry_options,
    registry_settings,
)
from ocisign.errors import UsageError, VerificationError
from ocisign.formats import (
    ANY_KIND,
    NOTARY_KIND,
    ImageResult,
    PublicKeyFile,
    ValidateRequest,
    default_kind,
)

if TYPE_CHECKING:
    from ocisign.config.trustpolicy import TrustPolicyDocument

VERIFY_TIME_ENV = "OCISIGN_VERIFY_TIME"


def _metadata(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> dict[str, str]:
    out = key_value_pairs(values, "--user-metadata")
    if any(not v for v in out.values()):
        raise click.BadParameter("KEY=VALUE needs a non-empty value")
    return out


@click.command("validate", cls=GoBoolCommand)
@click.argument("references", nargs=-1)
@batch_options("verify", failed_default="validate-failed.txt")
@registry_options
@click.option(
    "--oci-layout", is_flag=True, help="REF names an OCI image layout: DIR:TAG or DIR@DIGEST."
)
@click.option(
    "--sigstore-pubkey", "pubkeys", multiple=True, type=KEY_FILE_OR_PKCS11,
    help="Public key (PEM file, or a pkcs11: URI) for sigstore signatures; repeatable, any "
    "one may verify.",
)
@click.option(
    "--identity", type=click.Choice(["match-repo-digest-or-exact", "match-repository",
                                     "match-exact"]),
    default="match-repo-digest-or-exact", show_default=True,
    help="containers-policy signedIdentity rule for the sigstore docker-reference.",
)
@click.option("--exact-repository", help="Accept sigstore signatures naming this repository.")
@click.option(
    "--platform-digest-identity", is_flag=True,
    help="hangar v1's check: judge each platform manifest's signature against "
    "NAME@PLATFORM-DIGEST, not the reference given (a re-tagged index then passes).",
)
@click.option("--trust-policy", type=click.Path(dir_okay=False),
              help="Trust policy file (default: the config dir's trustpolicy.json).")
@click.option("--trust-store", type=click.Path(file_okay=False),
              help="Trust store folder (default: the config dir's truststore).")
@click.option("--scope", help="Registry scope that selects the trust policy statement "
              "(for --oci-layout; default: the '*' statement).")
@click.option("-m", "--user-metadata", "user_metadata", multiple=True, callback=_metadata,
              help="KEY=VALUE that must be in the signed metadata (JWS/COSE); repeatable.")
@click.option("--max-signatures", type=int, default=100, show_default=True,
              help="Most signatures examined per digest.")
@click.option("--type", "kind", type=kind_choice(),
              help="Signature kind required (default: sigstore with --sigstore-pubkey, else "
              "notation); 'any': either kind, verified against configured trust.")
@click.option("--signature-format", type=format_choice(),
              help="Accepted for symmetry with sign; the format is detected from what is attached.")
@click.option("-r", "--report", help="Write a report file ('[FORMAT]' is replaced by --format).")
@click.option("--format", "report_format", type=click.Choice(["json", "yaml", "csv"]),
              default="json", show_default=True, help="Report file format.")
@click.option("--verify-time", hidden=True, help="Test aid: verify as of this RFC 3339 time.")
@output_option
@common_flags
@click.pass_context
def validate(ctx: click.Context, /, references: tuple[str, ...], **flags: Any) -> None:
    """Verify the signatures of REF... (and of the images listed with -f).

    Sigstore signatures are checked with --sigstore-pubkey, Notary Project (JWS/COSE)
    signatures with the trust policy and trust store. Prints PASS/FAIL per line; exits 0
    only when every line passed.
    """
    # the library loads when the command runs, not for --help
    from ocisign.cli import reports
    from ocisign.verify import validate as run_validate

    json_out = flags["output_format"] == "json"
    failed_file = failed_file_path(ctx, flags)
    console = BatchConsole("validating", show=partial(_show, text=not json_out),
                           failed_file=failed_file)
    report = run_validate(replace(_request(ctx, references, flags), console=console))
    if flags["report"]:
        path = reports.report_path(flags["report"], flags["report_format"])
        reports.write_report(path, report, flags["report_format"])
    _finish(report, json_out, failed_file if report.failed else None)
    if report.failed:
        exit_if_stopped(report, f"the lines not validated are in {failed_file}" if failed_file
                        else "run the command again")
        hint = (f"the failed lines are in {failed_file}; fix them and rerun with -f {failed_file}"
                if failed_file else "the FAIL lines above say why")
        raise VerificationError("some images failed to validate", hint=hint)


def _request(
    ctx: click.Context, references: tuple[str, ...], flags: dict[str, Any]
) -> ValidateRequest:
    timeout = duration_seconds(flags["timeout"], "--timeout")
    options = registry_settings(flags)
    from ocisign.keys.pem import load_public_key

    keys = []
    for path in flags["pubkeys"]:
        if path.startswith("pkcs11:"):
            from ocisign.signers.pkcs11 import open_public_key  # only for a token key

            keys.append(PublicKeyFile(path, open_public_key(path)))
        else:
            keys.append(PublicKeyFile(path, load_public_key(path)))
    kind = flags["kind"] or ""
    if not kind and keys and (flags["trust_policy"] or flags["trust_store"]):
        raise UsageError(
            "--sigstore-pubkey with a trust policy or trust store needs --type",
            hint="--type any accepts either kind; --type sigstore or --type notation requires "
            "one",
        )
    source = ctx.get_parameter_source
    explicit_platform = any(
        source(name) is click.core.ParameterSource.COMMANDLINE for name in ("arches", "oses")
    )
    return ValidateRequest(
        references=references,
        image_list=Path(flags["image_list"]) if flags["image_list"] else None,
        oci_layout=flags["oci_layout"],
        registry=options,
        archs=flags["arches"],
        oses=flags["oses"],
        registry_override=flags["registry_override"],
        project_override=flags["project_override"],
        jobs=check_jobs(flags["jobs"], warn),
        timeout=timeout,
        shard=parse_shard(flags["shard"]),
        kind=kind,
        sigstore_keys=keys,
        identity=flags["identity"],
        platform_digest_identity=flags["platform_digest_identity"],
        exact_repository=flags["exact_repository"],
        policy=_policy(flags["trust_policy"], kind or default_kind(bool(keys)), bool(kind)),
        trust_store=Path(flags["trust_store"]) if flags["trust_store"] else None,
        scope=flags["scope"],
        user_metadata=flags["user_metadata"],
        max_signatures=flags["max_signatures"],
        notation_platforms=explicit_platform,
        now=_verify_time(flags["verify_time"]),
    )


def _policy(path: str | None, kind: str, explicit: bool) -> TrustPolicyDocument | None:
    """The trust policy: the given file, else the config dir's if present (else None).

    Not read when the kind required is sigstore (``--sigstore-pubkey`` without ``--type``
    included); a missing config-dir file is an error only for ``--type notation``.
    """
    from ocisign.config.trustpolicy import default_policy_path, load_trust_policy

    if path:
        return load_trust_policy(Path(path))
    if kind not in (NOTARY_KIND, ANY_KIND):
        return None
    default = default_policy_path()
    if not default.exists() and not default.is_symlink() and not (explicit and kind == NOTARY_KIND):
        return None  # verify() reports "nothing to verify with" if no key either
    return load_trust_policy(default)


def _verify_time(value: str | None) -> datetime | None:
    value = value or os.environ.get(VERIFY_TIME_ENV)
    if not value:
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise UsageError(f"invalid verify time {value!r}: {exc}") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _show(console: BatchConsole, line: LineResult, numbered: bool, *, text: bool) -> None:
    """One finished line: its warnings and notices (stderr), PASS/FAIL/SKIP (stdout)."""
    from ocisign.verify import line_images

    found = line_images(line)
    for image in found:
        for message in image.warnings:
            console.warn(f"{image.reference}: {message}")
        for notice in image.notices:
            console.note(notice)
    if not text:
        return
    where = f" (line {line.line_no})" if numbered else ""
    if line.status is Status.FAILED:
        console.out(f"FAIL: {line.line}{where}: {_reason(line.error, found)}", style="red")
        if line.hint and is_verbose():
            console.out(f"  hint: {line.hint}")
    elif line.status is Status.SKIPPED:
        reasons = "; ".join(o.detail for o in line.outcomes if o.detail) or "skipped"
        console.out(f"SKIP: {line.line}{where}: {reasons}", style="yellow")
    else:
        console.out(f"PASS: {line.line}{where}", style="green")
    if is_verbose():
        for image in found:
            for message in image.messages:
                console.out(f"  {message}")


def _finish(report: BatchReport, json_out: bool, failed_file: Path | None) -> None:
    """After the run: the JSON document, run-wide notices and the summary line."""
    from ocisign.cli import reports
    from ocisign.verify import line_images

    if json_out:
        print_json(reports.output_document(report, str(failed_file) if failed_file else None))
    run_notices = [n for line in report.results for i in line_images(line) for n in i.run_notices]
    for notice in dict.fromkeys(run_notices):
        warn(notice)
    passed = report.count(Status.PASSED)
    click.echo(
        f"validated {len(report.results)} line(s) in {report.elapsed:.1f}s: {passed} passed, "
        f"{len(report.failed)} failed, {report.count(Status.SKIPPED)} skipped",
        err=True,
    )


def _reason(error: str, found: list[ImageResult]) -> str:
    """A line's failure reason: per digest when several digests failed."""
    failed = [i for i in found if i.status is Status.FAILED]
    if not failed:
        return error
    if len(failed) == 1:
        return failed[0].detail
    return "; ".join(f"{i.platform or i.digest}: {i.detail}" for i in failed)
