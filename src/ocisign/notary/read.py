"""Read one Notary Project signature from a store: its manifest and envelope, bounded.

``validate`` judges what this returns; ``sign`` uses it to find a signature of its own
already there. It needs no trust policy, so signing does not load the trust engine.
"""

from __future__ import annotations

from ocisign.envelopes.notary import MAX_ENVELOPE_SIZE, ParsedEnvelope, parse_envelope
from ocisign.errors import MALFORMED, OcisignError, VerificationError
from ocisign.registry.store import Store, read_manifest


def read_notary_signature(store: Store, digest: str, size: int) -> ParsedEnvelope | OcisignError:
    """Fetch one signature manifest and its envelope (4 MiB limits), and parse it.

    Errors are returned, not raised: a broken signature is a failed one. ``sign`` uses
    this too, to find a signature of its own already there.
    """
    try:
        manifest = read_manifest(store, digest, size)
        layers = manifest.layers
        if len(layers) != 1:
            raise VerificationError(
                f"signature manifest {digest} has {len(layers)} layers, expected exactly one"
            )
        layer = layers[0]
        if layer.size > MAX_ENVELOPE_SIZE:
            raise VerificationError(
                f"signature envelope {layer.digest} is {layer.size} bytes, over the 4 MiB limit"
            )
        blob = store.fetch_blob(layer.digest, max_bytes=MAX_ENVELOPE_SIZE)
        if len(blob) != layer.size:
            raise VerificationError(
                f"signature envelope {layer.digest} is {len(blob)} bytes, its descriptor "
                f"says {layer.size}"
            )
        return parse_envelope(layer.media_type, blob)
    except OcisignError as exc:
        return exc
    except MALFORMED as exc:
        return VerificationError(f"malformed signature manifest {digest}: {exc}")
