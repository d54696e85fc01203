"""`ocisign blob`: sign and verify files, as ``notation blob`` (and cosign ``sign-blob``).

Notary Project signatures use notation main's flags, file names and messages
(``<blob>.<jws|cose>.sig`` beside the blob, ``trustpolicy.blob.json``); errors exit 1 as
notation's do. ``--sigstore-key``/``--sigstore-pubkey`` switch to cosign's key-pair blob
signatures (base64 signature, Sigstore bundle v0.3). See docs/blob.md.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import string
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ocisign.cli._common import common_flags
from ocisign.cli._flags import key_value_pairs, parse_expiry
from ocisign.errors import ConfigError, OcisignError, UsageError

if TYPE_CHECKING:
    from ocisign.envelopes.bundle import Artifact
    from ocisign.sigstore.blob import TimestampCheck

_FILE = click.Path(dir_okay=False, path_type=Path)
log = logging.getLogger(__name__)


class BlobUsageError(UsageError):
    """A flag or argument notation refuses (exit 1, as notation exits on every error)."""

    exit_code = 1


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{what}: {exc.strerror or exc}: {path}",
                          hint="check the path and its permissions") from None


def _confirm(question: str) -> bool:
    """notation's prompt: on stdout, one line from stdin; y/yes (any case) proceeds."""
    click.echo(f"{question} [y/N] ", nl=False)
    answer = sys.stdin.readline()
    return answer.strip().lower() in ("y", "yes")


def _write_private(path: Path, data: bytes) -> None:
    """Write ``data`` with mode 0600 (missing parents 0700), atomically."""
    from ocisign.util.fs import atomic_write, ensure_dir

    ensure_dir(path.parent)
    atomic_write(path, data, mode=0o600)


class BlobGroup(click.Group):
    """Every error exits 1, as notation's do (ocisign's usage errors elsewhere exit 2)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except UsageError as exc:
            if isinstance(exc, BlobUsageError):
                raise
            raise BlobUsageError(exc.message, exc.hint) from None


def _pairs(values: tuple[str, ...], flag: str) -> dict[str, str]:
    if any("=" not in v for v in values):
        raise BlobUsageError(f'could not parse flag {flag}: key-value pair requires "=" as '
                             "separator", hint=f"pass --{flag} KEY=VALUE")
    return key_value_pairs(values, flag)


@click.group("blob", cls=BlobGroup)
@common_flags
def blob() -> None:
    """Sign and verify files: Notary Project (notation blob) or cosign key pairs."""


# ------------------------------------------------------------------------------ sign


@blob.command("sign")
@click.argument("blob_path", required=False)
@click.option("-k", "--key", "key_name", help="Signing key name from the key store.")
@click.option("--id", "key_id", help="Key id of an on-demand plugin key (with --plugin).")
@click.option("--plugin", "plugin_name", help="Plugin that holds the key (with --id).")
@click.option("--signature-format", help="jws or cose (default: config.json, else jws).")
@click.option("--media-type", default="application/octet-stream", show_default=True,
              help="Media type of the blob (the signed targetArtifact.mediaType).")
@click.option("--signature-directory", help="Where to write the signature (default: the "
              "blob's directory).")
@click.option("-e", "--expiry", default="0", help="Signature lifetime (Go duration; 0 = none).")
@click.option("-m", "--user-metadata", multiple=True, metavar="KEY=VALUE",
              help="Signed user metadata (repeatable).")
@click.option("--plugin-config", multiple=True, metavar="KEY=VALUE",
              help="Plugin setting (repeatable).")
@click.option("--timestamp-url", help="RFC 3161 timestamping server URL.")
@click.option("--timestamp-root-cert", help="Root certificate of the timestamping server.")
@click.option("--force", is_flag=True, help="Overwrite an existing signature file unasked.")
@click.option("--sigstore-key", type=_FILE,
              help="cosign key pair: sign as 'cosign sign-blob --key' does.")
@click.option("--sigstore-passphrase-file", type=_FILE,
              help="File holding the sigstore key's passphrase.")
@click.option("--bundle", "bundle_path", type=_FILE,
              help="With --sigstore-key: write a Sigstore bundle (v0.3) to FILE.")
@click.option("--output-signature", type=_FILE,
              help="With --sigstore-key: write the base64 signature to FILE, not stdout.")
@click.option("--timestamp-server-url",
              help="With --sigstore-key: cosign's name for --timestamp-url.")
@click.option("--rfc3161-timestamp", "rfc3161_timestamp", type=_FILE,
              help="With --sigstore-key and a TSA: also write the timestamp to FILE "
                   "(cosign's legacy file).")
@common_flags
def sign(blob_path: str | None, **flags: Any) -> None:
    """Sign BLOB_PATH; the signature goes to <blob>.<jws|cose>.sig beside it."""
    if blob_path is None:
        raise BlobUsageError("missing file path to the blob artifact: use `notation blob sign "
                             "--help` to see what parameters are required")
    if not blob_path:
        raise BlobUsageError("blob path cannot be empty")
    if flags["sigstore_key"] is not None:
        _sign_sigstore(Path(blob_path), flags)
        return
    for name in ("bundle_path", "output_signature", "sigstore_passphrase_file",
                 "timestamp_server_url", "rfc3161_timestamp"):
        if flags[name] is not None:
            raise BlobUsageError(f"--{name.replace('_path', '').replace('_', '-')} needs "
                                 "--sigstore-key")
    _sign_notary(Path(blob_path), flags)


def _check_timestamp_flags(url: str | None, root: str | None) -> None:
    if url == "":
        raise BlobUsageError("timestamping: tsa url cannot be empty")
    if root == "":
        raise BlobUsageError("timestamping: tsa root certificate path cannot be empty")
    if (url is None) != (root is None):
        missing = "timestamp-url" if url is None else "timestamp-root-cert"
        raise BlobUsageError("if any flags in the group [timestamp-url timestamp-root-cert] are "
                             f"set they must all be set; missing [{missing}]")


def _sign_notary(blob_path: Path, flags: dict[str, Any]) -> None:
    from ocisign import formats
    from ocisign.config.notation import load_config
    from ocisign.formats import SignOptions
    from ocisign.notary.attach import load_signer
    from ocisign.notary.blob import sign_blob, signature_file_name

    sig_dir = flags["signature_directory"]
    if sig_dir == "":
        raise BlobUsageError("signature directory cannot be empty")
    _check_timestamp_flags(flags["timestamp_url"], flags["timestamp_root_cert"])
    fmt = flags["signature_format"] or load_config(formats=formats.names()).signature_format
    fmt = fmt or "jws"
    if fmt not in ("jws", "cose"):
        raise BlobUsageError(f'signature format "{fmt}" not supported\n'
                             'Supported signature envelope formats are "jws" and "cose"')
    media_type = flags["media_type"]
    if not media_type or not _is_media_type(media_type):
        raise BlobUsageError(f"invalid media type {media_type!r}",
                             hint="pass a MIME type such as application/octet-stream")
    key_name, key_id, plugin = flags["key_name"], flags["key_id"], flags["plugin_name"]
    if key_name and (key_id or plugin):
        raise BlobUsageError("--key cannot be combined with --id/--plugin")
    if bool(key_id) != bool(plugin):
        raise BlobUsageError("--id and --plugin must be given together")
    options = SignOptions(
        key_name=key_name, key_id=key_id, plugin_name=plugin, signature_format=fmt,
        plugin_config=_pairs(flags["plugin_config"], "plugin-config"),
    )
    metadata = _pairs(flags["user_metadata"], "user-metadata")
    for key in metadata:
        if key.startswith("io.cncf.notary"):
            raise BlobUsageError(f"error adding user metadata: metadata key {key} has reserved "
                                 "prefix io.cncf.notary")
    expiry = parse_expiry(flags["expiry"])
    signer, _ = load_signer(options)
    timestamper = None
    if flags["timestamp_url"] is not None:
        from ocisign.cli._common import warn
        from ocisign.notary.blob import blob_timestamper

        timestamper = blob_timestamper(flags["timestamp_url"], flags["timestamp_root_cert"], warn)
    try:
        with blob_path.open("rb") as stream:
            envelope = sign_blob(stream, signer, envelope_format=fmt, media_type=media_type,
                                 expiry=expiry or None, user_metadata=metadata,
                                 timestamper=timestamper)
    except OSError as exc:
        raise ConfigError(f"{exc.strerror or exc}: {blob_path}") from None
    directory = Path(sig_dir) if sig_dir is not None else blob_path.parent
    sig_path = directory / signature_file_name(blob_path, fmt)
    if flags["force"]:
        click.echo("Warning: existing signature file will be overwritten", err=True)
    elif sig_path.exists() and not _confirm(
        "The signature file already exists, do you want to overwrite it?"
    ):
        click.echo("Operation cancelled.")
        return
    try:
        _write_private(sig_path, envelope)
    except OSError as exc:
        raise ConfigError(f"failed to write the signature file {sig_path}: "
                          f"{exc.strerror or exc}") from None
    click.echo(f"Successfully signed {blob_path}\n Signature file written to {sig_path}")


def _is_media_type(value: str) -> bool:
    """Go's ``mime.ParseMediaType`` accepts a token, optionally ``type/subtype``; params."""
    base = value.split(";", 1)[0].strip()
    allowed = set("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
    parts = base.split("/")
    return 0 < len(parts) <= 2 and all(p and set(p) <= allowed for p in parts)


def _sign_sigstore(blob_path: Path, flags: dict[str, Any]) -> None:
    """cosign sign-blob --key: base64 signature (stdout or --output-signature), bundle."""
    from ocisign.sigstore.blob import sign_blob

    notary_only = ("key_name", "key_id", "plugin_name", "signature_format",
                   "signature_directory")
    given = [n for n in notary_only if flags[n] is not None] + [
        n for n in ("user_metadata", "plugin_config") if flags[n]]
    if given:
        flag = given[0].replace("_name", "").replace("_", "-")
        raise BlobUsageError(f"--{flag} signs Notary Project signatures; it cannot be used "
                             "with --sigstore-key")
    url, root = flags["timestamp_url"], flags["timestamp_root_cert"]
    if flags["timestamp_server_url"] is not None:
        if url is not None:
            raise BlobUsageError("--timestamp-server-url and --timestamp-url are the same flag; "
                                 "give one")
        url = flags["timestamp_server_url"]
    _check_timestamp_flags(url, root)
    stamp = None
    if url is not None:
        from ocisign.cli._common import warn
        from ocisign.notary.blob import blob_timestamper

        if flags["bundle_path"] is None and flags["rfc3161_timestamp"] is None:
            raise BlobUsageError("a timestamp is stored in the bundle: --timestamp-url needs "
                                 "--bundle FILE (or cosign's legacy --rfc3161-timestamp FILE)")
        stamper = blob_timestamper(url, root, warn, response=True)
        stamp = lambda signature: stamper(signature, "sha256")  # noqa: E731  (sigstore-go)
    elif flags["rfc3161_timestamp"] is not None:
        raise BlobUsageError("--rfc3161-timestamp needs --timestamp-url (the TSA to ask)")
    data = _read(blob_path, "failed to read the blob")
    signed = sign_blob(data, flags["sigstore_key"], flags["sigstore_passphrase_file"], stamp)
    if flags["output_signature"] is not None:
        _write_private(flags["output_signature"], signed.signature.encode())
        click.echo(f"Signature written to {flags['output_signature']}", err=True)
    else:
        click.echo(signed.signature)
    if flags["bundle_path"] is not None:
        _write_private(flags["bundle_path"], signed.bundle)
        click.echo(f"Wrote bundle to file {flags['bundle_path']}", err=True)
    if flags["rfc3161_timestamp"] is not None and signed.timestamp is not None:
        from ocisign.sigstore.blob import legacy_timestamp

        _write_private(flags["rfc3161_timestamp"], legacy_timestamp(signed.timestamp))
        click.echo(f"Wrote timestamp to file {flags['rfc3161_timestamp']}", err=True)


# ---------------------------------------------------------------------------- verify


@blob.command("verify")
@click.argument("blob_path", required=False)
@click.option("-s", "--signature", help="The signature file (<blob>.<jws|cose>.sig); with "
              "--sigstore-pubkey also a URL or the base64 signature itself.")
@click.option("--media-type", help="Also require this signed media type.")
@click.option("--policy-name", help="Blob trust policy statement (default: the global one).")
@click.option("-m", "--user-metadata", multiple=True, metavar="KEY=VALUE",
              help="Require this signed user metadata (repeatable).")
@click.option("--plugin-config", multiple=True, metavar="KEY=VALUE",
              help="Verification plugin setting (repeatable).")
@click.option("--sigstore-pubkey", type=_FILE,
              help="cosign public key: verify as 'cosign verify-blob --key' does.")
@click.option("--bundle", "bundle_path", type=_FILE,
              help="With --sigstore-pubkey: the Sigstore bundle to verify.")
@click.option("--use-signed-timestamps", is_flag=True,
              help="With --sigstore-pubkey: require an RFC 3161 timestamp that verifies.")
@click.option("--trusted-root", type=_FILE,
              help="Sigstore trusted root JSON (its timestampAuthorities are used).")
@click.option("--timestamp-certificate-chain", type=_FILE,
              help="PEM chain of the timestamp authority, root included (implies "
                   "--use-signed-timestamps).")
@click.option("--rfc3161-timestamp", "rfc3161_timestamp",
              help="With -s: cosign's legacy RFC 3161 timestamp file (or URL).")
@common_flags
def verify(blob_path: str | None, **flags: Any) -> None:
    """Verify the signature of BLOB_PATH."""
    if blob_path is None:
        raise BlobUsageError("missing path to the blob artifact: use `notation blob verify "
                             "--help` to see what parameters are required")
    if flags["sigstore_pubkey"] is not None:
        _verify_sigstore(blob_path, flags)
        return
    for name in ("bundle_path", "trusted_root", "timestamp_certificate_chain",
                 "rfc3161_timestamp"):
        if flags[name] is not None:
            flag = name.replace("_path", "").replace("_", "-")
            raise BlobUsageError(f"--{flag} needs --sigstore-pubkey")
    if flags["use_signed_timestamps"]:
        raise BlobUsageError("--use-signed-timestamps needs --sigstore-pubkey")
    _verify_notary(Path(blob_path), flags)


def _verify_notary(blob_path: Path, flags: dict[str, Any]) -> None:
    from ocisign.config.blobpolicy import load_blob_policy, select_blob_statement
    from ocisign.envelopes.notary import media_type_of
    from ocisign.notary.blob import envelope_format_of, verify_blob

    sig = flags["signature"]
    if not sig:
        raise BlobUsageError("filepath of the signature cannot be empty",
                             hint="pass -s/--signature <blob>.<jws|cose>.sig")
    if flags["media_type"] == "":
        raise BlobUsageError("--media-type is set but with empty value")
    try:
        stream = blob_path.open("rb")
    except OSError as exc:
        raise ConfigError(f"{exc.strerror or exc}: {blob_path}") from None
    with stream:
        signature = _read(Path(sig), "failed to read the signature file")
        statements = load_blob_policy()
        metadata = _pairs(flags["user_metadata"], "user-metadata")
        plugin_config = _pairs(flags["plugin_config"], "plugin-config")
        log.debug("Verify signature of media type %s", media_type_of(envelope_format_of(sig)))
        try:
            statement = select_blob_statement(statements, flags["policy_name"])
            verdict = verify_blob(stream, sig, signature, statement,
                                  media_type=flags["media_type"], user_metadata=metadata,
                                  reference=str(blob_path), plugin_config=plugin_config)
        except OcisignError as exc:
            raise type(exc)(f"signature verification failed: {exc.message}", exc.hint) from None
    outcome = verdict.outcome
    if outcome.skipped:
        click.echo(outcome.notices[0])
        return
    for warning in outcome.warnings:
        click.echo(f"Warning: {warning}", err=True)
        click.echo()
    click.echo(f"Successfully verified signature for {blob_path}")
    if verdict.annotations:
        click.echo("\nThe artifact was signed with the following user metadata.\n")
        rows = [("KEY", "VALUE"), *sorted(verdict.annotations.items())]
        width = max(len(k) for k, _ in rows) + 3
        for key, value in rows:
            click.echo(f"{key.ljust(width)}{value}".rstrip())


def _verify_sigstore(blob_ref: str, flags: dict[str, Any]) -> None:
    """cosign verify-blob --key --insecure-ignore-tlog: a bundle or a signature."""
    from ocisign.keys.pem import load_public_key
    from ocisign.sigstore.blob import verify_blob

    for name in ("policy_name", "media_type"):
        if flags[name] is not None:
            raise BlobUsageError(f"--{name.replace('_', '-')} is a Notary Project flag; it "
                                 "cannot be used with --sigstore-pubkey")
    bundle, sig = flags["bundle_path"], flags["signature"]
    if (bundle is None) == (sig is None):
        raise BlobUsageError("--sigstore-pubkey needs exactly one of --bundle FILE and "
                             "-s/--signature FILE")
    public_key = load_public_key(flags["sigstore_pubkey"])
    check = _timestamp_check(flags)
    verify_blob(_sigstore_blob(blob_ref, digest_ok=bundle is not None), public_key,
                bundle=_read(bundle, "failed to read the bundle") if bundle else None,
                signature=_sigstore_signature(sig) if sig is not None else None,
                timestamps=check, legacy_timestamp=_legacy_timestamp(flags["rfc3161_timestamp"]))
    click.echo("Verified OK", err=True)


URL_TIMEOUT = 30.0  # seconds without a byte from the server
MAX_URL_BLOB = 256 * 1024 * 1024
MAX_URL_SIGNATURE = 1024 * 1024
_DIGEST_HEX = {"sha256": 64, "sha384": 96, "sha512": 128}


def _load_ref(ref: str, limit: int, what: str) -> bytes:
    """cosign's ``LoadFileOrURL``: an http(s) URL is fetched (at most ``limit`` bytes, a
    timeout: the server is not trusted), ``env://VAR`` read, else a file (OSError)."""
    scheme, sep, rest = ref.partition("://")
    if not sep:
        return Path(ref).read_bytes()
    if scheme in ("http", "https"):
        from ocisign.notary.revocation import FetchError, fetch

        try:
            return fetch(ref, URL_TIMEOUT, limit, what)
        except FetchError as exc:
            raise ConfigError(f"loading URL {ref}: {exc}",
                              hint=f"check that the URL serves the {what}") from None
    if scheme == "env":
        value = os.environ.get(rest)
        if value is None:
            raise ConfigError(f"loading URL: env var ${rest} not found",
                              hint="export the variable, or pass a file")
        return value.encode()
    raise ConfigError(f"loading URL: unrecognized scheme: {scheme}://",
                      hint="pass a file, -, an http(s):// URL or env://VAR")


def _sigstore_blob(ref: str, *, digest_ok: bool) -> bytes | Artifact:
    """cosign's blob argument: ``-`` (stdin), a URL, a file or, when that cannot be read
    and ``ref`` is ``sha256|sha384|sha512:<hex>``, that digest (for a bundle)."""
    from ocisign.envelopes.bundle import Artifact

    if ref == "-":
        return sys.stdin.buffer.read()
    try:
        return _load_ref(ref, MAX_URL_BLOB, "blob")
    except OSError as exc:
        algorithm, _, hexpart = ref.partition(":")
        if digest_ok and len(hexpart) == _DIGEST_HEX.get(algorithm) and all(
                c in string.hexdigits for c in hexpart):
            return Artifact(digest=bytes.fromhex(hexpart), algorithm=algorithm)
        raise ConfigError(f"failed to read the blob: {exc.strerror or exc}: {ref}",
                          hint="pass a file, -, an http(s):// URL, or with --bundle a "
                               "sha256:<hex> digest") from None


def _sigstore_signature(ref: str) -> bytes:
    """cosign's ``--signature``: a file or URL, else the value itself (base64, as cosign
    prints it; other bytes are taken raw)."""
    try:
        return _load_ref(ref, MAX_URL_SIGNATURE, "signature")
    except (FileNotFoundError, NotADirectoryError):
        return ref.encode()  # cosign: "it can be a base64 encoded string as well"
    except OSError as exc:
        if exc.errno == errno.ENAMETOOLONG:
            return ref.encode()
        raise ConfigError(f"failed to read the signature: {exc.strerror or exc}: {ref}",
                          hint="check the path and its permissions") from None


def _legacy_timestamp(ref: str | None) -> bytes | None:
    """``--rfc3161-timestamp``: cosign's legacy timestamp file, or URL."""
    if ref is None:
        return None
    from ocisign.sigstore.blob import read_legacy_timestamp

    try:
        return read_legacy_timestamp(_load_ref(ref, MAX_URL_SIGNATURE, "timestamp"))
    except OSError as exc:
        raise ConfigError(f"failed to read the RFC 3161 timestamp: {exc.strerror or exc}: "
                          f"{ref}", hint="check the path and its permissions") from None


def _timestamp_check(flags: dict[str, Any]) -> TimestampCheck | None:
    """cosign's ``--use-signed-timestamps`` (implied by ``--timestamp-certificate-chain``):
    one RFC 3161 timestamp must verify with a timestamp authority of ``--trusted-root`` or
    of the chain file."""
    from ocisign.sigstore.blob import chain_authority, trusted_root_authorities

    root, chain = flags["trusted_root"], flags["timestamp_certificate_chain"]
    if not (flags["use_signed_timestamps"] or chain):
        if root is not None:
            raise BlobUsageError("--trusted-root is read for its timestamp authorities only; "
                                 "it needs --use-signed-timestamps",
                                 hint="no transparency log is checked with --sigstore-pubkey")
        return None
    authorities = []
    if root is not None:
        authorities += trusted_root_authorities(_read(root, "failed to read the trusted root"))
    if chain is not None:
        authorities.append(chain_authority(chain))
    if not authorities:
        raise BlobUsageError("--use-signed-timestamps needs the timestamp authority: "
                             "--trusted-root FILE or --timestamp-certificate-chain FILE")
    from ocisign.notary.timestamp import verify_any

    return lambda responses, signature: verify_any(responses, signature, authorities)


# --------------------------------------------------------------------------- inspect


@blob.command("inspect")
@click.argument("signature_path", required=False)
@click.option("-o", "--output", "output_format", default="tree",
              help="Output format: tree or json.")
@common_flags
def inspect(signature_path: str | None, output_format: str) -> None:
    """Show what a blob signature file holds (no trust policy needed)."""
    from ocisign.notary.blob import describe, parse_blob_signature

    if signature_path is None:
        raise BlobUsageError("missing signature path: use `notation blob inspect --help` to see "
                             "what parameters are required")
    if output_format not in ("tree", "json"):
        raise BlobUsageError(f"unrecognized output format {output_format}",
                             hint="use --output tree or --output json")
    from ocisign.notary.blob import envelope_format_of

    envelope_format_of(signature_path)
    data = _read(Path(signature_path), "failed to read signature file")
    try:
        info = describe(parse_blob_signature(signature_path, data))
    except OcisignError as exc:
        raise type(exc)(f"failed to parse signature: {exc.message}", exc.hint) from None
    if output_format == "json":
        click.echo(json.dumps(_json_times(info), indent=2, ensure_ascii=False))
    else:
        click.echo(_tree(signature_path, info), nl=False)


def _json_times(value: Any) -> Any:
    from datetime import datetime

    if isinstance(value, datetime):
        text = value.isoformat(timespec="milliseconds" if value.microsecond else "seconds")
        return text.replace("+00:00", "Z")
    if isinstance(value, dict):
        if "lower" in value and "upper" in value:
            return {"timestamp": f"[{_json_times(value['lower'])}, {_json_times(value['upper'])}]",
                    "certificates": _json_times(value["certificates"])}
        return {k: _json_times(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_times(v) for v in value]
    return value


def _gotime(value: Any) -> str:
    """Go's ``Mon Jan _2 15:04:05 2006``."""
    return f"{value:%a %b} {value.day:>2} {value:%H:%M:%S %Y}"


_TREE_LABELS = {
    "contentType": "content type", "signingScheme": "signing scheme",
    "signingTime": "signing time", "authenticSigningTime": "authentic signing time",
    "expiry": "expiry", "signingAgent": "signing agent",
}


def _tree(path: str, info: dict[str, Any]) -> str:
    def cert_nodes(certs: list[dict[str, Any]]) -> list[tuple[str, list[Any]]]:
        return [(f"SHA256 fingerprint: {c['SHA256Fingerprint']}",
                 [(f"issued to: {c['issuedTo']}", []), (f"issued by: {c['issuedBy']}", []),
                  (f"expiry: {_gotime(c['expiry'])}", [])]) for c in certs]

    def attrs(values: dict[str, Any]) -> list[tuple[str, list[Any]]]:
        out: list[tuple[str, list[Any]]] = []
        for key, value in values.items():
            if key == "timestampSignature":
                if "error" in value:
                    out.append(("timestamp signature", [(value["error"], [])]))
                    continue
                window = f"[{_gotime(value['lower'])}, {_gotime(value['upper'])}]"
                out.append(("timestamp signature", [
                    (f"timestamp: {window}", []),
                    ("certificates", cert_nodes(value["certificates"]))]))
                continue
            text = _gotime(value) if hasattr(value, "day") else value
            out.append((f"{_TREE_LABELS.get(key, key)}: {text}", []))
        return out

    user = info["userDefinedAttributes"] or {}
    artifact = info["signedArtifact"]
    nodes: list[tuple[str, list[Any]]] = [
        (f"signature algorithm: {info['signatureAlgorithm']}", []),
        (f"signature envelope type: {info['signatureEnvelopeType']}", []),
        ("signed attributes", attrs(info["signedAttributes"])),
        ("user defined attributes",
         [(f"{k}: {v}", []) for k, v in user.items()] or [("(empty)", [])]),
        ("unsigned attributes", attrs(info["unsignedAttributes"])),
        ("certificates", cert_nodes(info["certificates"])),
        ("signed artifact", [(f"media type: {artifact['mediaType']}", []),
                             (f"digest: {artifact['digest']}", []),
                             (f"size: {artifact['size']}", [])]),
    ]
    lines = [path]

    def walk(children: list[tuple[str, list[Any]]], prefix: str) -> None:
        for i, (label, kids) in enumerate(children):
            last = i == len(children) - 1
            lines.append(f"{prefix}{'└── ' if last else '├── '}{label}")
            walk(kids, prefix + ("    " if last else "│   "))

    walk(nodes, "")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------- policy


@blob.group("policy")
@common_flags
def policy() -> None:
    """Manage the blob trust policy (trustpolicy.blob.json)."""


def _may_overwrite(path: Path, force: bool) -> bool:
    """notation's rule: prompt only when the existing file parses as JSON."""
    from ocisign.config.blobpolicy import read_policy_file

    try:
        json.loads(read_policy_file(path))
    except (OcisignError, ValueError, UnicodeDecodeError):
        return True
    if force:
        click.echo("Warning: existing blob trust policy configuration will be overwritten",
                   err=True)
        return True
    return _confirm("The blob trust policy configuration already exists, do you want to "
                    "overwrite it?")


def _store_policy(data: bytes, invalid: str, force: bool, success: str) -> None:
    """Validate ``data``, ask before replacing a policy, write it, print ``success``."""
    from ocisign.config.blobpolicy import blob_policy_path, parse_blob_policy

    try:
        parse_blob_policy(data)
    except ConfigError as exc:
        raise ConfigError(f"{invalid}: {exc.message}", exc.hint) from None
    path = blob_policy_path()
    if not _may_overwrite(path, force):
        click.echo("Operation cancelled.")
        return
    try:
        _write_private(path, data)
    except OSError as exc:
        raise ConfigError(f"failed to write blob trust policy configuration: "
                          f"{exc.strerror or exc}: {path}") from None
    click.echo(success.format(path=path))


@policy.command("init")
@click.option("--name", help="Name of the trust policy statement.")
@click.option("--trust-store", "trust_stores", multiple=True, help="type:name (repeatable).")
@click.option("--trusted-identity", "identities", multiple=True,
              help='"*" or "x509.subject: <DN>" (repeatable).')
@click.option("--global", "is_global", is_flag=True, help="Mark the statement as global.")
@click.option("--force", is_flag=True, help="Overwrite an existing policy unasked.")
@common_flags
def policy_init(name: str | None, trust_stores: tuple[str, ...], identities: tuple[str, ...],
                is_global: bool, force: bool) -> None:
    """Create trustpolicy.blob.json with one strict statement."""
    from ocisign.config.blobpolicy import init_document

    for flag, value in (("name", name), ("trust-store", trust_stores),
                        ("trusted-identity", identities)):
        if not value:
            raise BlobUsageError(f'required flag(s) "{flag}" not set')
    assert name is not None
    data = init_document(name, list(trust_stores), list(identities), is_global)
    _store_policy(data, "invalid blob policy", force,
                  "Successfully initialized blob trust policy file to {path}.")


@policy.command("import")
@click.argument("files", nargs=-1)
@click.option("--force", is_flag=True, help="Overwrite an existing policy unasked.")
@common_flags
def policy_import(files: tuple[str, ...], force: bool) -> None:
    """Import FILE as trustpolicy.blob.json (validated, written unchanged)."""
    if len(files) != 1:
        raise BlobUsageError(f"requires 1 argument but received {len(files)}.",
                             hint="ocisign blob policy import <path-to-policy.json>")
    try:
        data = Path(files[0]).read_bytes()
    except OSError as exc:
        raise ConfigError(f"failed to read blob trust policy file: {exc.strerror or exc}: "
                          f"{files[0]}") from None
    try:
        json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(f"failed to parse blob trust policy configuration: {exc}") from None
    _store_policy(data, "failed to validate blob trust policy configuration", force,
                  "Successfully imported blob trust policy configuration to {path}.")


@policy.command("show")
@common_flags
def policy_show() -> None:
    """Print trustpolicy.blob.json as it is."""
    from ocisign.config.blobpolicy import blob_policy_path, parse_blob_policy

    path = blob_policy_path()
    if not path.exists() and not path.is_symlink():
        raise ConfigError("failed to show blob trust policy as the configuration does not "
                          "exist.\nYou can import one using `notation blob policy import "
                          "<path-to-policy.json>`",
                          hint="ocisign blob policy import <path-to-policy.json>")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"failed to show trust policy: {exc.strerror or exc}: {path}") from None
    try:
        parse_blob_policy(data)
    except ConfigError as exc:
        click.echo("Existing blob trust policy configuration is invalid, you may update or "
                   "create a new one via `notation blob policy import <path-to-policy.json>`. "
                   f"{exc.message}", err=True)
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        sys.exit(1)
    sys.stdout.buffer.write(data)
    sys.stdout.flush()
