"""One exception tree for ocisign.

Every error knows its user-facing message, an optional hint and its exit code, so the
CLI only prints :meth:`OcisignError.diagnostics` and exits. Messages never contain
secrets (passwords, tokens, private keys).
"""

from __future__ import annotations


class OcisignError(Exception):
    """Base of every error ocisign reports to a user."""

    exit_code = 1
    default_hint: str | None = None

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint if hint is not None else self.default_hint

    def diagnostics(self) -> str:
        """The text the CLI prints: one ``Error:`` line, plus a ``Hint:`` line if any."""
        first = " ".join(self.message.split("\n"))
        text = f"Error: {first}"
        if self.hint:
            text += f"\nHint: {self.hint}"
        return text


class UsageError(OcisignError):
    """A flag or argument combination that cannot work (exit 2, as click does)."""

    exit_code = 2
    default_hint = "run the command with --help to see its usage"


class ConfigError(OcisignError):
    """A configuration file (key store, trust policy, sign-artifacts config) is invalid."""


class KeyStoreError(ConfigError):
    """The signing key store is missing an entry or cannot be updated."""


class KeyFileError(OcisignError):
    """A key or certificate file cannot be read, decrypted or used."""


class PassphraseError(KeyFileError):
    """A passphrase is wrong or cannot be obtained."""


class CertificateError(OcisignError):
    """A certificate or chain breaks the rules it must follow."""


class InvalidReferenceError(UsageError):
    """An image reference or image-list line cannot be parsed."""

    default_hint = "a reference looks like registry.example.com/repo/name:tag or ...@sha256:<hex>"


class RegistryError(OcisignError):
    """A registry (or OCI layout) operation failed."""


class AuthError(RegistryError):
    """The registry refused our credentials or asked for credentials we do not have."""

    default_hint = (
        "pass -u/--username and -p/--password, set OCISIGN_USERNAME/OCISIGN_PASSWORD, "
        "or log in with docker"
    )


class NotFoundError(RegistryError):
    """A manifest, blob, tag or repository does not exist."""


class NetworkError(RegistryError):
    """The registry could not be reached or did not answer in time."""

    default_hint = (
        "check the registry address and that it is running; "
        "use --insecure-registry for plain HTTP"
    )


class DigestMismatchError(RegistryError):
    """Content did not match the digest it was asked for or announced with."""

    default_hint = (
        "the registry (or a proxy or mirror in between) served other content than the digest "
        "names: push the image again, or reach the registry without the proxy"
    )


class SignatureError(OcisignError):
    """Building, parsing or verifying a signature envelope failed."""


class VerificationError(SignatureError):
    """A signature did not verify; the message says why."""


class PluginError(OcisignError):
    """A notation plugin failed, timed out or answered something malformed."""


class ArtifactError(OcisignError):
    """Signing boot artifacts failed; the artifacts folder is left as it was."""


MALFORMED = (KeyError, ValueError, TypeError, RecursionError)
"""What malformed JSON and descriptors raise below the OcisignError layer (deep nesting too):
a checker turns these into a failed verification with a reason."""
