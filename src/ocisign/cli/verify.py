"""`ocisign verify`: notation's ``verify`` of one artifact, on ``validate``'s engine."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import click

from ocisign.cli._common import EXPERIMENTAL, common_flags, print_json, warn
from ocisign.cli._flags import GoBoolCommand, key_value_pairs, registry_options, registry_settings
from ocisign.cli._notation import print_tabwriter
from ocisign.errors import UsageError, VerificationError

DEPRECATED_REFERRERS = (
    "flag '--allow-referrers-api' is deprecated and will be removed in future versions."
)
# the engine's wording of a failed "log" check -> notation verify's
_LOGGED = re.compile(r'^(\w+) validation failed with validation action set to "logged"\. '
                     r"Failure reason: (.*)$", re.S)


def tag_warning(reference: str, operation: str) -> str | None:
    """notation's warning for a reference by tag (None for a digest)."""
    if "@" in reference:
        return None
    tag = reference.rsplit(":", 1)[1] if ":" in reference.rsplit("/", 1)[-1] else "latest"
    return (f"Always {operation} the artifact using digest(@sha256:...) rather than a "
            f"tag(:{tag}) because resolved digest may not point to the same signed artifact, "
            "as tags are mutable.")


def experimental_warnings(allow_referrers_api: bool, oci_layout: bool) -> None:
    """notation's experimental / deprecated warnings (``--oci-layout`` is not experimental
    for ocisign, but NOTATION_EXPERIMENTAL=1 users get notation's warning for it)."""
    experimental = os.environ.get("NOTATION_EXPERIMENTAL") == "1" and oci_layout
    if allow_referrers_api or experimental:
        warn(EXPERIMENTAL)
    if allow_referrers_api:
        warn(DEPRECATED_REFERRERS)


def _metadata(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> Any:
    return key_value_pairs(values, "--user-metadata")


@click.command("verify", cls=GoBoolCommand)
@click.argument("reference", required=False)
@registry_options
@click.option("--oci-layout", is_flag=True,
              help="verify the artifact stored as OCI image layout (DIR:TAG or DIR@DIGEST)")
@click.option("--scope", default="", help="set trust policy scope for artifact verification, "
              "required and can only be used when flag \"--oci-layout\" is set")
@click.option("-m", "--user-metadata", multiple=True, callback=_metadata,
              help="user defined {key}={value} pairs that must be present in the signature "
              "for a successful verification if provided")
@click.option("--plugin-config", multiple=True, help="{key}={value} pairs that are passed as "
              "it is to a plugin, if the verification is associated with a verification plugin")
@click.option("--allow-referrers-api", is_flag=True,
              help="[Experimental] use the Referrers API to verify signatures, if not "
              "supported, automatically fallback to the referrers tag schema")
@click.option("--max-signatures", type=int, default=100, show_default=True,
              help="maximum number of signatures to evaluate or examine")
@click.option("-o", "--output", "output_format", type=click.Choice(["text", "json"]),
              default="text", show_default=True, help="output format (json: not in notation)")
@click.option("--trust-policy", type=click.Path(dir_okay=False),
              help="Trust policy file (default: the config dir's trustpolicy.json).")
@click.option("--trust-store", type=click.Path(file_okay=False),
              help="Trust store folder (default: the config dir's truststore).")
@common_flags
def verify(reference: str | None, **flags: Any) -> None:
    """Verify OCI artifacts (a trust store and a trust policy are needed).

    Prints "Successfully verified signature for REGISTRY/REPO@DIGEST", or notation's
    reasons; exits 1 when no signature verified.
    """
    if not reference:
        raise UsageError("missing reference to the artifact: use `notation verify --help` to "
                         "see what parameters are required")
    if flags["max_signatures"] <= 0:
        raise UsageError(f"max-signatures value {flags['max_signatures']} must be a positive "
                         "number")
    if bool(flags["oci_layout"]) != bool(flags["scope"]):
        missing = "scope" if flags["oci_layout"] else "oci-layout"
        raise UsageError("if any flags in the group [oci-layout scope] are set they must all be "
                         f"set; missing [{missing}]")
    plugin_config = key_value_pairs(flags["plugin_config"], "--plugin-config")
    experimental_warnings(flags["allow_referrers_api"], flags["oci_layout"])
    json_out = flags["output_format"] == "json"
    from ocisign.cli.validate import _verify_time  # OCISIGN_VERIFY_TIME, the test aid
    from ocisign.config.trustpolicy import default_policy_path, load_trust_policy
    from ocisign.formats import ValidateRequest
    from ocisign.verify import line_images, validate

    policy_file = Path(flags["trust_policy"]) if flags["trust_policy"] else default_policy_path()
    request = ValidateRequest(
        references=(reference,),
        oci_layout=flags["oci_layout"],
        registry=registry_settings(flags),
        jobs=1,
        timeout=None,
        kind="notation",
        policy=load_trust_policy(policy_file),
        trust_store=Path(flags["trust_store"]) if flags["trust_store"] else None,
        scope=flags["scope"] or None,
        user_metadata=flags["user_metadata"],
        plugin_config=plugin_config,
        max_signatures=flags["max_signatures"],
        now=_verify_time(None),
    )
    message = tag_warning(reference, "verify")
    if message:
        warn(message)
    line = validate(request).results[0]
    images = line_images(line)
    image = images[0] if images else None
    if json_out:
        print_json(verify_document(reference, line, image))
    if image is None or image.status.value != "passed":
        raise VerificationError(image.detail if image else line.error,
                                hint=line.hint or "run `ocisign inspect` on the reference to "
                                "see its signatures")
    for text in image.warnings:
        match = _LOGGED.match(text)
        warn(f'{match[1]} was set to "log" and failed with error: {match[2]}' if match else text)
    if json_out:
        return
    if image.notices:  # the skip level
        for notice in image.notices:
            click.echo(notice)
        return
    click.echo(f"Successfully verified signature for {image.reference}")
    signed = signed_metadata(image.payload)
    if signed:
        click.echo("\nThe artifact was signed with the following user metadata.")
        print_tabwriter([("KEY", "VALUE"), *signed.items()])


def signed_metadata(payload: str) -> dict[str, str]:
    """The user metadata (``targetArtifact.annotations``) of a verified payload."""
    try:
        annotations = json.loads(payload)["targetArtifact"].get("annotations") or {}
    except (ValueError, KeyError, TypeError, AttributeError):
        return {}
    return {str(k): str(v) for k, v in annotations.items()} if isinstance(annotations, dict) \
        else {}


def verify_document(reference: str, line: Any, image: Any) -> dict[str, Any]:
    """``verify -o json`` (docs/verify.md): one artifact's verdict."""
    doc: dict[str, Any] = {"schemaVersion": 1, "reference": reference}
    if image is None:
        doc.update(status="failed", digest="", message=line.error,
                   errorKind=line.error_kind or None, hint=line.hint or None)
        return doc
    doc.update(
        resolvedReference=image.reference,
        digest=image.digest,
        mediaType=image.media_type,
        status="skipped" if image.notices else image.status.value,
        message=image.detail if image.status.value != "passed" else None,
        errorKind=image.error_kind or None,
        signatureFormat=image.signature_format,
        certificateSubject=image.signer,
        certificateIssuer=image.issuer,
        signingTime=image.signing_time,
        userMetadata=signed_metadata(image.payload),
        warnings=list(image.warnings),
    )
    return doc
