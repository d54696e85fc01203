"""RFC 7512 ``pkcs11:`` URIs, read the way cosign reads them, and where a token's PIN comes from.

``pkcs11:token=T;object=L;id=%01?module-path=/abs/lib.so&pin-source=file:/run/pin``.
Path attributes are separated by ``;``, query attributes by ``&`` (``;`` is accepted there
too, as cosign does); values are percent-encoded (``+`` is a plus, not a space). The token
is named by ``token`` or ``slot-id`` (slot-id wins), the object by ``object`` (CKA_LABEL) or
``id`` (CKA_ID; id wins). The module is ``module-path``, else ``$OCISIGN_PKCS11_MODULE_PATH``,
else ``$COSIGN_PKCS11_MODULE_PATH``. This module needs no PKCS#11 library.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, unquote_to_bytes

from ocisign.errors import KeyFileError, PassphraseError, UsageError

SCHEME = "pkcs11:"
MODULE_ENV = ("OCISIGN_PKCS11_MODULE_PATH", "COSIGN_PKCS11_MODULE_PATH")
PIN_ENV = ("OCISIGN_PKCS11_PIN", "COSIGN_PKCS11_PIN")
IGNORE_CERT_ENV = ("OCISIGN_PKCS11_IGNORE_CERTIFICATE", "COSIGN_PKCS11_IGNORE_CERTIFICATE")
PIN_HINT = (
    "add pin-source=file:/path/to/pin to the URI, or set OCISIGN_PKCS11_PIN or COSIGN_PKCS11_PIN"
)
URI_HINT = (
    "a key URI looks like pkcs11:token=LABEL;object=KEY?module-path=/usr/lib/softhsm/"
    "libsofthsm2.so; 'ocisign pkcs11-tool list-keys-uris' prints them"
)
PATH_ATTRS = frozenset({
    "token", "manufacturer", "serial", "model", "library-manufacturer", "library-description",
    "library-version", "slot-id", "slot-description", "slot-manufacturer", "object", "id", "type",
})
QUERY_ATTRS = frozenset({"pin-value", "pin-source", "module-name", "module-path"})
TYPES = frozenset({"public", "private", "cert", "secret-key", "data"})
# characters cosign leaves unencoded (pkg/cosign/pkcs11key/util.go), minus '&' in the path
PIN_VALUE_WARNING = (
    "the PKCS#11 URI holds a pin-value, which other users can see in the process list and "
    "config files keep; use pin-source=file:... or OCISIGN_PKCS11_PIN instead"
)
_PATH_SAFE = "-._~:[]@!$'()*+,="
_QUERY_SAFE = "-._~:[]@!$'()*+,=/?|"
_URI_IN_TEXT = re.compile(r"pkcs11:[^\s'\"]*")


def is_pkcs11_ref(ref: object) -> bool:
    """True when ``ref`` is a ``pkcs11:`` URI rather than a file path."""
    return isinstance(ref, str) and ref.startswith(SCHEME)


def redact(text: str) -> str:
    """``text`` with the ``pin-value`` of every URI in it removed (for messages and output)."""

    def strip(match: re.Match[str]) -> str:
        body, _, query = match.group(0).partition("?")
        kept = [p for p in re.split("[&;]", query) if p and not p.startswith("pin-value=")]
        return body + ("?" + "&".join(kept) if kept else "")

    return _URI_IN_TEXT.sub(strip, text)


def _bad(ref: str, why: str) -> KeyFileError:
    return KeyFileError(f"invalid PKCS#11 URI {redact(ref)!r}: {why}", hint=URI_HINT)


@dataclass(frozen=True)
class Pkcs11Uri:
    """A parsed ``pkcs11:`` URI (``path`` and ``query`` keep every attribute, decoded)."""

    text: str = field(repr=False)
    path: dict[str, bytes]
    query: dict[str, str] = field(repr=False)

    def attr(self, name: str) -> str | None:
        """A path attribute as text (None when absent)."""
        value = self.path.get(name)
        return None if value is None else value.decode("utf-8", "replace")

    @property
    def token(self) -> str | None:
        return self.attr("token")

    @property
    def slot_id(self) -> int | None:
        value = self.attr("slot-id")
        return None if value is None else int(value)

    @property
    def label(self) -> str | None:
        """``object``: the CKA_LABEL."""
        return self.attr("object")

    @property
    def id(self) -> bytes | None:
        """``id``: the CKA_ID bytes."""
        return self.path.get("id")

    @property
    def type(self) -> str | None:
        return self.attr("type")

    @property
    def pin_value(self) -> str | None:
        return self.query.get("pin-value")

    @property
    def pin_source(self) -> str | None:
        return self.query.get("pin-source")

    def redacted(self) -> str:
        """The URI as written, without its ``pin-value``."""
        return redact(self.text)

    def module_path(self) -> str:
        """``module-path``, else the environment; absolute and a regular file."""
        path = self.query.get("module-path")
        source = "module-path"
        if not path:
            source, path = next(((n, os.environ[n]) for n in MODULE_ENV if os.environ.get(n)),
                                ("", ""))
        if not path:
            raise KeyFileError(
                f"no PKCS#11 module for {self.redacted()!r}",
                hint="add ?module-path=/abs/path/to/module.so to the URI, or set "
                     "OCISIGN_PKCS11_MODULE_PATH or COSIGN_PKCS11_MODULE_PATH",
            )
        if not os.path.isabs(path):
            raise KeyFileError(f"PKCS#11 {source} {path!r} is not an absolute path",
                               hint="give the module's absolute path")
        if not os.path.isfile(path):
            raise KeyFileError(
                f"PKCS#11 module {path} ({source}) does not exist",
                hint="install the token's PKCS#11 module (softhsm2, opensc, ykcs11) or fix the "
                     "path",
            )
        return path

    def with_type(self, kind: str) -> str:
        """This URI with ``type=kind`` and no ``pin-value`` (e.g. the certificate's URI)."""
        path = {**self.path, "type": kind.encode()}
        return format_uri(path, {k: v for k, v in self.query.items() if k != "pin-value"})


def parse_uri(ref: str, *, kind: str | tuple[str, ...] = "private") -> Pkcs11Uri:
    """Parse ``ref`` as cosign does, strictly: KeyFileError naming what is wrong.

    ``kind`` is the object class the caller wants (``private`` or ``cert``, or a tuple of
    classes it accepts); a URI with another ``type=`` is refused.
    """
    if not is_pkcs11_ref(ref):
        raise _bad(ref, "it does not start with 'pkcs11:'")
    body, _, query_text = ref[len(SCHEME):].partition("?")
    path: dict[str, bytes] = {}
    query: dict[str, str] = {}
    for part in filter(None, body.split(";")):
        name, eq, value = part.partition("=")
        if not eq:
            raise _bad(ref, f"path attribute {name!r} has no '='")
        if name not in PATH_ATTRS and not name.startswith("x-"):
            raise _bad(ref, f"unknown path attribute {name!r}")
        if name in path:
            raise _bad(ref, f"attribute {name!r} appears twice")
        path[name] = unquote_to_bytes(value)
    for part in filter(None, re.split("[&;]", query_text)):
        name, eq, value = part.partition("=")
        if not eq:
            raise _bad(ref, f"query attribute {name!r} has no '='")
        if name not in QUERY_ATTRS and not name.startswith("x-"):
            raise _bad(ref, f"unknown query attribute {name!r}")
        if name in query:
            raise _bad(ref, f"attribute {name!r} appears twice")
        query[name] = unquote(value)
    uri = Pkcs11Uri(ref, path, query)
    if not (path.get("token") or path.get("slot-id")):
        raise _bad(ref, "one of token and slot-id must be set")
    slot = path.get("slot-id")
    if slot is not None and not slot.isdigit():
        raise _bad(ref, f"slot-id {slot.decode(errors='replace')!r} is not a decimal number")
    if not (path.get("object") or path.get("id")):
        raise _bad(ref, "one of object and id must be set")
    if uri.type is not None and uri.type not in TYPES:
        raise _bad(ref, f"unknown type {uri.type!r}")
    kinds = (kind,) if isinstance(kind, str) else kind
    if uri.type is not None and uri.type not in kinds:
        raise _bad(ref, f"type={uri.type} names no {' or '.join(kinds)} object"
                   if kinds != ("private",) else f"type={uri.type} is not a private key")
    if uri.pin_value is not None and uri.pin_source is not None:
        raise UsageError(f"PKCS#11 URI {uri.redacted()!r} has both pin-value and pin-source",
                         hint="keep one of them (pin-source for anything stored)")
    if "module-name" in query and "module-path" not in query:
        raise _bad(ref, "module-name is not supported; use module-path")
    return uri


def _encode(value: bytes, safe: str) -> str:
    keep = set(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789" + safe.encode())
    return "".join(chr(b) if b in keep else f"%{b:02x}" for b in value)


def format_uri(path: dict[str, bytes], query: dict[str, str]) -> str:
    """A URI from attributes: ``token`` first, ``id`` fully percent-encoded (as cosign writes)."""
    order = ["token", "slot-id", "id", "object", "type"]
    names = [n for n in order if n in path] + [n for n in path if n not in order]
    parts = [
        f"{n}=" + ("".join(f"%{b:02x}" for b in path[n]) if n == "id"
                   else _encode(path[n], _PATH_SAFE))
        for n in names
    ]
    text = SCHEME + ";".join(parts)
    qorder = ["module-path", "pin-source", "pin-value"]
    qnames = [n for n in qorder if n in query] + [n for n in query if n not in qorder]
    if qnames:
        text += "?" + "&".join(f"{n}={_encode(query[n].encode(), _QUERY_SAFE)}" for n in qnames)
    return text


def key_uri(module_path: str, token: str, label: str | None, key_id: bytes | None,
            slot_id: int | None = None, pin: str | None = None) -> str:
    """The URI ``pkcs11-tool list-keys-uris`` prints for one key."""
    path: dict[str, bytes] = {"token": token.encode()}
    if slot_id is not None:
        path["slot-id"] = str(slot_id).encode()
    if key_id:
        path["id"] = key_id
    if label:
        path["object"] = label.encode()
    query = {"module-path": module_path}
    if pin:
        query["pin-value"] = pin
    return format_uri(path, query)


def _pin_file(source: str) -> Path:
    """``file:/abs``, ``file:///abs`` or a bare absolute path (no ``|command`` in v1)."""
    path = source.removeprefix("file://") if source.startswith("file://") else (
        source.removeprefix("file:"))
    if not os.path.isabs(path):
        raise KeyFileError(
            f"pin-source {source!r} is not supported",
            hint="use pin-source=file:/absolute/path/to/a/file/holding/the/PIN",
        )
    return Path(path)


def read_pin(pin_value: str | None, pin_source: str | None, token_label: str) -> str:
    """The PIN for a token: a URI's pin-value, its pin-source, the environment, else a prompt.

    Order: ``pin-value`` > ``pin-source`` (file, one trailing newline trimmed) >
    ``$OCISIGN_PKCS11_PIN`` > ``$COSIGN_PKCS11_PIN`` > a no-echo prompt on a terminal;
    without any, a PassphraseError (never a hanging prompt). Never logged.
    """
    if pin_value is not None:
        return pin_value
    if pin_source is not None:
        path = _pin_file(pin_source)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as err:
            raise PassphraseError(f"cannot read the PIN file {path}: {err.strerror or err}",
                                  hint="fix pin-source in the URI") from None
        return text.removesuffix("\n").removesuffix("\r")
    for name in PIN_ENV:
        value = os.environ.get(name)
        if value:
            return value
    if not sys.stdin.isatty():
        raise PassphraseError(
            f"PKCS#11 token {token_label!r} needs a PIN and there is no terminal to ask for it",
            hint=PIN_HINT,
        )
    import getpass  # only when a PIN is prompted for

    return getpass.getpass(f"Enter PIN for PKCS11 token '{token_label}': ")


def ignore_token_certificate() -> bool:
    """``$OCISIGN_PKCS11_IGNORE_CERTIFICATE`` / ``$COSIGN_PKCS11_IGNORE_CERTIFICATE`` = 1."""
    return any(os.environ.get(n) in {"1", "true", "True"} for n in IGNORE_CERT_ENV)
