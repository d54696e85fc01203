"""The Notary Project formats' entry points for the formats table (JWS and COSE)."""

from __future__ import annotations

from ocisign.errors import UsageError
from ocisign.formats import SignatureFormat, SignOptions, ValidateRequest, Warn
from ocisign.notary.attach import NotaryAttacher
from ocisign.notary.verify import NotaryChecker


def attacher(fmt: SignatureFormat, options: SignOptions, warn: Warn) -> NotaryAttacher:
    """Sign with the key store's key (or a plugin key) in ``fmt``'s envelope."""
    return NotaryAttacher(fmt.name, options, warn)


def checker(fmt: SignatureFormat, request: ValidateRequest) -> NotaryChecker | None:
    """The trust-policy checker; None when no trust policy is configured."""
    if request.policy is None:
        if request.kind == fmt.kind:
            raise UsageError(
                f"--type {fmt.kind} needs a trust policy",
                "pass --trust-policy FILE or create trustpolicy.json in the config dir",
            )
        return None
    return NotaryChecker(request, request.policy)
