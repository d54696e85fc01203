"""The sigstore format's entry points for the formats table (cosign simple signing)."""

from __future__ import annotations

from ocisign.errors import UsageError
from ocisign.formats import SignatureFormat, SignOptions, ValidateRequest, Warn
from ocisign.sigstore.attach import SigstoreAttacher, load_sigstore_key
from ocisign.sigstore.verify import SigstoreChecker


def attacher(fmt: SignatureFormat, options: SignOptions, warn: Warn) -> SigstoreAttacher:
    """Sign with the ``--sigstore-key`` key pair."""
    if options.sigstore_key is None:
        raise UsageError(f"--signature-format {fmt.name} needs --sigstore-key FILE",
                         hint="make a key pair with 'ocisign key generate-pair'")
    signer = load_sigstore_key(options.sigstore_key, options.sigstore_passphrase_file)
    return SigstoreAttacher(signer, identity=options.sigstore_identity, force=options.force,
                            key_label=str(options.sigstore_key))


def checker(fmt: SignatureFormat, request: ValidateRequest) -> SigstoreChecker | None:
    """The public-key checker; None when no ``--sigstore-pubkey`` was given."""
    if not request.sigstore_keys:
        if request.kind == fmt.kind:
            raise UsageError(
                f"--type {fmt.kind} needs at least one --sigstore-pubkey FILE",
                "pass the public key the images were signed with",
            )
        return None
    return SigstoreChecker(request)
