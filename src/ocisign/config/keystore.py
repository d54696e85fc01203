"""The signing key store: notation's ``signingkeys.json`` (notation-go ``config/keys.go``).

``{"default": "name", "keys": [{"name", "keyPath", "certPath"} | {"name", "id",
"pluginName", "pluginConfig"}]}``. ``keyPath`` may be a ``pkcs11:`` URI (a token key);
then ``certPath`` may be left out (the certificate is on the token). Unknown fields are kept
as they are (notation ignores them on read); writes are atomic, mode 0600, in a 0700 folder,
indented 4 spaces.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ocisign.config import paths
from ocisign.errors import ConfigError, KeyStoreError
from ocisign.util.fs import atomic_write, ensure_dir

# JSON name -> attribute, in notation's field order
_FIELDS = {"name": "name", "keyPath": "key_path", "certPath": "cert_path", "id": "id",
           "pluginName": "plugin_name", "pluginConfig": "plugin_config"}


class _Invalid(ValueError):
    """A problem at ``where`` (a dotted path into the document)."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}" if where else message)


class KeyEntry:
    """One named key: a local key/cert pair, or a key held by a notation plugin.

    Built with notation's JSON names (``keyPath=...``); unknown fields are kept in ``extra``.
    """

    def __init__(
        self,
        name: str,  # the JSON names, as notation writes them
        keyPath: str | None = None,
        certPath: str | None = None,
        id: str | None = None,
        pluginName: str | None = None,
        pluginConfig: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.name = name
        self.key_path = keyPath
        self.cert_path = certPath
        self.id = id
        self.plugin_name = pluginName
        self.plugin_config = pluginConfig
        self.extra = extra or {}
        self._check()

    def _check(self) -> None:
        if not self.name:
            raise ValueError("key name must not be empty")
        local = bool(self.key_path or self.cert_path)
        plugin = bool(self.id or self.plugin_name or self.plugin_config)
        if local and plugin:
            raise ValueError(
                f"key {self.name!r} has both keyPath/certPath and id/pluginName; "
                "an entry is either a local key or a plugin key"
            )
        if plugin and not (self.id and self.plugin_name):
            raise ValueError(f"plugin key {self.name!r} needs both 'id' and 'pluginName'")
        token = (self.key_path or "").startswith("pkcs11:")  # its certificate may be on it
        if not plugin and not (self.key_path and (self.cert_path or token)):
            raise ValueError(f"local key {self.name!r} needs both 'keyPath' and 'certPath'")

    @classmethod
    def from_json(cls, doc: Any, where: str) -> KeyEntry:
        """An entry from its JSON object (``_Invalid`` names the field that is wrong)."""
        if not isinstance(doc, dict):
            raise _Invalid(where, "must be a JSON object")
        if "name" not in doc:
            raise _Invalid(f"{where}.name", "field required")
        for field in ("name", "keyPath", "certPath", "id", "pluginName"):
            value = doc.get(field)
            if value is not None and not isinstance(value, str):
                raise _Invalid(f"{where}.{field}", "must be a string")
        config = doc.get("pluginConfig")
        if config is not None and not (
            isinstance(config, dict)
            and all(isinstance(v, str) for v in config.values())
        ):
            raise _Invalid(f"{where}.pluginConfig", "must be an object of strings")
        extra = {k: v for k, v in doc.items() if k not in _FIELDS}
        try:
            return cls(doc["name"], doc.get("keyPath"), doc.get("certPath"), doc.get("id"),
                       doc.get("pluginName"), doc.get("pluginConfig"), extra)
        except ValueError as exc:
            raise _Invalid(where, str(exc)) from None

    def to_json(self) -> dict[str, Any]:
        """The JSON object: notation's fields that are set, then the unknown ones."""
        doc = {key: getattr(self, attr) for key, attr in _FIELDS.items()}
        return {**{k: v for k, v in doc.items() if v is not None}, **self.extra}

    @property
    def is_plugin(self) -> bool:
        """True for a plugin key (``id`` + ``pluginName``)."""
        return self.plugin_name is not None


class SigningKeys:
    """The whole ``signingkeys.json`` document (unknown top-level fields in ``extra``)."""

    def __init__(
        self, default: str | None = None, keys: list[KeyEntry] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.default = default
        self.keys = keys if keys is not None else []
        self.extra = extra or {}

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> SigningKeys:
        """Check and load the document (``_Invalid`` says where it is wrong)."""
        default, raw_keys = doc.get("default"), doc.get("keys", [])
        if default is not None and not isinstance(default, str):
            raise _Invalid("default", "must be a string")
        if not isinstance(raw_keys, list):
            raise _Invalid("keys", "must be a list")
        keys = [KeyEntry.from_json(entry, f"keys.{i}") for i, entry in enumerate(raw_keys)]
        seen: set[str] = set()
        for entry in keys:
            if entry.name in seen:
                raise _Invalid("", f"more than one key is named {entry.name!r}")
            seen.add(entry.name)
        if default and default not in seen:
            raise _Invalid("", f"the default key {default!r} is not in the key list")
        extra = {k: v for k, v in doc.items() if k not in ("default", "keys")}
        return cls(default, keys, extra)

    def to_json(self) -> dict[str, Any]:
        head = {} if self.default is None else {"default": self.default}
        return {**head, "keys": [entry.to_json() for entry in self.keys], **self.extra}


class KeyStore:
    """A loaded key store; change it with add/remove/set_default, then :meth:`save`."""

    def __init__(self, path: Path, data: SigningKeys) -> None:
        self.path = path
        self.data = data

    @classmethod
    def load(cls, path: Path | None = None) -> KeyStore:
        """Read ``path`` (default: the config dir's ``signingkeys.json``); missing = empty."""
        path = path if path is not None else paths.signing_keys_file()
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return cls(path, SigningKeys())
        except OSError as err:
            raise ConfigError(f"cannot read key store {path}: {err.strerror}") from None
        hint = "fix the file by hand, or move it away to start an empty key store"
        try:
            doc: Any = json.loads(raw)
        except (ValueError, UnicodeDecodeError, RecursionError) as err:
            raise ConfigError(f"key store {path} is not valid JSON: {err}", hint=hint) from None
        if not isinstance(doc, dict):
            raise ConfigError(f"key store {path} must hold a JSON object", hint=hint)
        try:
            return cls(path, SigningKeys.from_json(doc))
        except _Invalid as err:
            raise ConfigError(f"malformed key store {path}: {err}", hint=hint) from None

    def save(self) -> None:
        """Write the store atomically (mode 0600; a new config folder gets mode 0700)."""
        ensure_dir(self.path.parent)
        doc = self.data.to_json()
        atomic_write(self.path, (json.dumps(doc, indent=4) + "\n").encode(), mode=0o600)

    @property
    def keys(self) -> list[KeyEntry]:
        """The entries, in file order."""
        return self.data.keys

    @property
    def default(self) -> str | None:
        """The default key's name, if any."""
        return self.data.default or None

    def find(self, name: str) -> KeyEntry | None:
        """The entry called ``name``, or None."""
        return next((entry for entry in self.data.keys if entry.name == name), None)

    def get(self, name: str | None = None) -> KeyEntry:
        """The entry called ``name`` (None: the default key); KeyStoreError if none."""
        if name is None:
            if not self.default:
                raise KeyStoreError(
                    f"no key given and no default key is set in {self.path}",
                    hint="pass --key NAME, or set one with 'ocisign key default NAME'",
                )
            name = self.default
        entry = self.find(name)
        if entry is None:
            known = ", ".join(entry.name for entry in self.data.keys) or "none"
            raise KeyStoreError(
                f"signing key {name!r} not found in {self.path} (known keys: {known})",
                hint="see 'ocisign key list'; add one with 'ocisign key generate' or 'key add'",
            )
        return entry

    def ensure_absent(self, name: str) -> None:
        """KeyStoreError if a key called ``name`` exists."""
        if self.find(name) is not None:
            raise KeyStoreError(
                f"a key named {name!r} already exists in {self.path}",
                hint="choose another name, or remove it first with 'ocisign key delete'",
            )

    def add(self, entry: KeyEntry, *, default: bool = False) -> None:
        """Add ``entry``; KeyStoreError if the name is taken."""
        self.ensure_absent(entry.name)
        self.data.keys.append(entry)
        if default:
            self.data.default = entry.name

    def remove(self, name: str) -> KeyEntry:
        """Remove the entry ``name`` (never its files); the default is cleared if it was it."""
        entry = self.get(name)
        self.data.keys.remove(entry)
        if self.data.default == name:
            self.data.default = None
        return entry

    def set_default(self, name: str) -> None:
        """Make ``name`` the default key."""
        self.data.default = self.get(name).name
