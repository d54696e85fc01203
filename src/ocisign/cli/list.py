"""`ocisign list` / `ls`: notation's signature tree, plus the cosign ``.sig`` signatures."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from ocisign.cli._attached import attached_options, over_limit, read_attached
from ocisign.cli._common import common_flags, print_json
from ocisign.cli._flags import GoBoolCommand
from ocisign.cli._notation import Tree

if TYPE_CHECKING:
    from ocisign.inspect import Attached, SigstoreSignature


@click.command("list", cls=GoBoolCommand)
@click.argument("reference", required=False)
@attached_options
@common_flags
def list_signatures(reference: str | None, **flags: Any) -> None:
    """List all the signatures associated with the signed artifact.

    Notary signatures as notation lists them, then cosign signatures (one node per
    payload: the signed docker-reference and the key's fingerprint).
    """
    found = read_attached("list", reference, flags, read_envelopes=False)
    if flags["output_format"] == "json":
        print_json(list_document(found))
        return
    tree = Tree(found.reference)
    if found.notary:
        from ocisign.oci import NOTARY_SIGNATURE

        node = tree.add(NOTARY_SIGNATURE)
        for item in found.notary:
            node.add(item.digest)
    if found.sigstore:
        from ocisign.oci import SIMPLESIGNING

        node = tree.add(f"{SIMPLESIGNING} ({found.sigstore[0].tag})")
        for sig in found.sigstore:
            sigstore_node(node, sig)
    if found.bundles:
        bundle_nodes(tree, found.bundles)
    if tree.children:
        tree.print()
    over_limit(found, flags["max_signatures"])
    if not tree.children:
        click.echo(f"{found.reference} has no associated signature")


def sigstore_node(parent: Tree, sig: SigstoreSignature) -> Tree:
    """One cosign payload: its digest, docker-reference and key."""
    node = parent.add(sig.layer.digest or sig.manifest_digest)
    if sig.payload is not None:
        node.pair("docker-reference", sig.payload.docker_reference)
    if sig.key_fingerprint:
        key = sig.key_fingerprint + (f" ({sig.key_file})" if sig.key_file else "")
    else:
        key = "unknown (pass --sigstore-pubkey to name the key)"
    node.pair("key", key)
    if sig.error:
        node.pair("error", sig.error)
    return node


def bundle_nodes(parent: Tree, bundles: list[dict[str, Any]]) -> None:
    """Sigstore bundle referrers (cosign v3): one node each, unverified."""
    node = parent.add(str(bundles[0]["artifactType"]))
    for entry in bundles:
        child = node.add(str(entry["digest"]))
        if "error" in entry:
            child.pair("error", str(entry["error"]))
            continue
        material = entry.get("verificationMaterial", {})
        if "publicKey" in material:
            child.pair("key hint", str(material["publicKey"]["hint"]))
        elif "certificate" in material:
            child.pair("certificate", str(material["certificate"]["subject"]))
        child.pair("content", str(entry.get("content", "")))
        for subject in entry.get("subjects", []):
            child.pair("subject", str(subject))


def sigstore_json(sig: SigstoreSignature) -> dict[str, Any]:
    """One cosign payload in ``list``/``inspect`` JSON."""
    return {
        "kind": "sigstore",
        "tag": sig.tag,
        "manifestDigest": sig.manifest_digest,
        "digest": sig.layer.digest,
        "mediaType": sig.layer.media_type,
        "dockerReference": sig.payload.docker_reference if sig.payload else "",
        "signedDigest": sig.payload.manifest_digest if sig.payload else "",
        "keyFingerprint": sig.key_fingerprint,
        "keyFile": sig.key_file,
        "error": sig.error,
    }


def list_document(found: Attached) -> dict[str, Any]:
    """``list -o json`` (docs/list.md)."""
    from ocisign.oci import NOTARY_SIGNATURE

    return {
        "schemaVersion": 1,
        "reference": found.reference,
        "digest": found.digest,
        "mediaType": found.media_type,
        "signatures": [
            *({"kind": "notation", "artifactType": NOTARY_SIGNATURE, "digest": n.digest}
              for n in found.notary),
            *(sigstore_json(s) for s in found.sigstore),
            *({"kind": "bundle", **b} for b in found.bundles),
        ],
        "overLimit": found.notary_over_limit,
    }
