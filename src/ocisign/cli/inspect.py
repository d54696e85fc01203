"""`ocisign inspect`: notation's signature details (tree or JSON), and cosign payloads."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import click

from ocisign.cli._attached import attached_options, over_limit, read_attached
from ocisign.cli._common import common_flags, print_json, warn
from ocisign.cli._flags import GoBoolCommand
from ocisign.cli._notation import Tree, go_name, sha256_fingerprint
from ocisign.cli.list import bundle_nodes, sigstore_json, sigstore_node
from ocisign.errors import SignatureError

if TYPE_CHECKING:
    from cryptography import x509

    from ocisign.envelopes.notary import ParsedEnvelope
    from ocisign.inspect import Attached

_ANSIC = "%a %b %e %H:%M:%S %Y"  # Go's time.ANSIC, what notation's text output uses
_RFC3339 = "rfc3339"


@click.command("inspect", cls=GoBoolCommand)
@click.argument("reference", required=False)
@attached_options
@common_flags
def inspect(reference: str | None, **flags: Any) -> None:
    """Inspect all signatures associated with the signed artifact.

    Notary signatures as notation shows them (media type, algorithm, signed, user-defined
    and unsigned attributes, certificate chain, signed artifact), then cosign payloads.
    """
    found = read_attached("inspect", reference, flags, read_envelopes=True)
    json_out = flags["output_format"] == "json"
    stamp = _RFC3339 if json_out else _ANSIC
    signatures = []
    for item in found.notary:
        if item.envelope is None:
            warn(f"Skipping signature {item.digest} because of error: {item.error}")
            continue
        signatures.append(signature_output(item.digest, item.envelope, stamp))
    if json_out:
        print_json({"schemaVersion": 1, "mediaType": found.media_type,
                    "Signatures": signatures,
                    "sigstoreSignatures": [_sigstore_full(s) for s in found.sigstore],
                    "sigstoreBundles": found.bundles})
    elif not signatures and not found.sigstore and not found.bundles:
        click.echo(f"{found.reference} has no associated signature")
    else:
        click.echo("Inspecting all signatures for signed artifact")
        _tree(found, signatures).print()
    over_limit(found, flags["max_signatures"])
    if len(signatures) != len(found.notary):
        raise SignatureError("at least one signature was skipped and not displayed",
                             hint="the warnings above say why each was skipped")


def _time(value: datetime, layout: str) -> str:
    value = value if value.tzinfo else value.replace(tzinfo=UTC)
    if layout == _RFC3339:  # Go's time.RFC3339: whole seconds, Z or the offset
        text = value.replace(microsecond=0).isoformat()
        return text.removesuffix("+00:00") + "Z" if text.endswith("+00:00") else text
    return value.strftime(layout)


def _certificates(chain: list[x509.Certificate], layout: str) -> list[dict[str, str]]:
    return [
        {
            "SHA256Fingerprint": sha256_fingerprint(cert),
            "issuedTo": go_name(cert.subject),
            "issuedBy": go_name(cert.issuer),
            "expiry": _time(cert.not_valid_after_utc, layout),
        }
        for cert in chain
    ]


def signature_output(digest: str, env: ParsedEnvelope, layout: str) -> dict[str, Any]:
    """notation's ``signatureOutput`` of one envelope."""
    from ocisign.keys.algorithms import KEY_SPECS

    algorithms = {spec.jws_alg: spec.signing_algorithm for spec in KEY_SPECS.values()}
    signed = {"signingScheme": env.signing_scheme}
    if env.time is not None:
        signed["signingTime"] = _time(env.time, layout)
    if env.expiry is not None:
        signed["expiry"] = _time(env.expiry, layout)
    signed.update({k: str(v) for k, v in env.extended_attributes.items()})
    unsigned: dict[str, Any] = {}
    if env.timestamp_token:
        unsigned["timestampSignature"] = _timestamp(env, layout)
    if env.signing_agent:
        unsigned["signingAgent"] = env.signing_agent
    target = env.target
    return {
        "mediaType": env.media_type,
        "digest": digest,
        "signatureAlgorithm": algorithms.get(env.algorithm, env.algorithm),
        "signedAttributes": signed,
        "userDefinedAttributes": target.get("annotations") or None,
        "unsignedAttributes": unsigned,
        "certificates": _certificates(env.cert_chain, layout),
        "signedArtifact": {k: target[k] for k in ("mediaType", "digest", "size") if k in target},
    }


def _timestamp(env: ParsedEnvelope, layout: str) -> dict[str, Any]:
    """The RFC 3161 countersignature: its time window and TSA chain (as notation, the token
    is checked against the signature, not trusted: its own root, else a ``tsa`` store's)."""
    from cryptography.hazmat.primitives.serialization import pkcs7

    from ocisign.config.truststore import is_self_signed, list_certificates, read_certificates
    from ocisign.errors import OcisignError
    from ocisign.notary import timestamp

    token = env.timestamp_token
    assert token is not None
    try:
        try:
            embedded = pkcs7.load_der_pkcs7_certificates(token)
        except ValueError:
            embedded = []
        subjects = {c.subject for c in embedded}  # the top of the token's own chain
        roots = [c for c in embedded if is_self_signed(c) or c.issuer not in subjects]
        roots += [c for f in list_certificates("tsa") for c in read_certificates(f)]
        info = timestamp.verify(token, env.signature, roots)
    except OcisignError as exc:
        return {"error": f"failed to parse timestamp countersignature: {exc.message}"}
    window = f"[{_time(info.earliest, layout)}, {_time(info.latest, layout)}]"
    return {"timestamp": window, "certificates": _certificates(info.tsa_chain, layout)}


def _sigstore_full(sig: Any) -> dict[str, Any]:
    doc = sigstore_json(sig)
    doc["payload"] = json.loads(sig.payload_text) if sig.payload is not None else None
    doc["signature"] = sig.signature
    if sig.certificate is not None:
        doc["certificates"] = _certificates([sig.certificate], _RFC3339)
    return doc


def _add_map(node: Tree, values: dict[str, str] | None) -> None:
    if not values:
        node.add("(empty)")
    for key, value in (values or {}).items():
        node.pair(key, value)


def _add_certs(node: Tree, certs: list[dict[str, str]]) -> None:
    listing = node.add("certificates")
    for cert in certs:
        entry = listing.pair("SHA256 fingerprint", cert["SHA256Fingerprint"])
        entry.pair("issued to", cert["issuedTo"])
        entry.pair("issued by", cert["issuedBy"])
        entry.pair("expiry", cert["expiry"])


def _tree(found: Attached, signatures: list[dict[str, Any]]) -> Tree:
    from ocisign.oci import NOTARY_SIGNATURE, SIMPLESIGNING

    root = Tree(found.reference)
    if signatures:
        notary = root.add(NOTARY_SIGNATURE)
    for sig in signatures:
        node = notary.add(sig["digest"])
        node.pair("media type", sig["mediaType"])
        node.pair("signature algorithm", sig["signatureAlgorithm"])
        _add_map(node.add("signed attributes"), sig["signedAttributes"])
        _add_map(node.add("user defined attributes"), sig["userDefinedAttributes"])
        unsigned = node.add("unsigned attributes")
        for key, value in sig["unsignedAttributes"].items():
            if isinstance(value, str):
                unsigned.pair(key, value)
                continue
            stamp = unsigned.add("timestamp signature")
            if "error" in value:
                stamp.pair("error", value["error"])
                continue
            stamp.pair("timestamp", value["timestamp"])
            _add_certs(stamp, value["certificates"])
        _add_certs(node, sig["certificates"])
        artifact = node.add("signed artifact")
        artifact.pair("media type", sig["signedArtifact"].get("mediaType", ""))
        artifact.pair("digest", sig["signedArtifact"].get("digest", ""))
        artifact.pair("size", str(sig["signedArtifact"].get("size", "")))
    if found.sigstore:
        cosign = root.add(f"{SIMPLESIGNING} ({found.sigstore[0].tag})")
        for item in found.sigstore:
            node = sigstore_node(cosign, item)
            if item.payload is not None:
                node.pair("signed digest", item.payload.manifest_digest)
                node.pair("payload", " ".join(item.payload_text.split()))
            if item.certificate is not None:
                _add_certs(node, _certificates([item.certificate], _ANSIC))
    if found.bundles:
        bundle_nodes(root, found.bundles)
    return root
