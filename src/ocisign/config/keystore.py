"""The signing key store: notation's ``signingkeys.json`` (notation-go ``config/keys.go``).

``{"default": "name", "keys": [{"name", "keyPath", "certPath"} | {"name", "id",
"pluginName", "pluginConfig"}]}``. Unknown fields are kept as they are (notation ignores
them on read); writes are atomic, mode 0600, in a 0700 folder, indented 4 spaces.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ocisign.config import paths
from ocisign.errors import ConfigError, KeyStoreError
from ocisign.util.fs import atomic_write, ensure_dir


class KeyEntry(BaseModel):
    """One named key: a local key/cert pair, or a key held by a notation plugin."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    name: str
    key_path: str | None = Field(default=None, alias="keyPath")
    cert_path: str | None = Field(default=None, alias="certPath")
    id: str | None = None
    plugin_name: str | None = Field(default=None, alias="pluginName")
    plugin_config: dict[str, str] | None = Field(default=None, alias="pluginConfig")

    @model_validator(mode="after")
    def _one_kind(self) -> KeyEntry:
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
        if not plugin and not (self.key_path and self.cert_path):
            raise ValueError(f"local key {self.name!r} needs both 'keyPath' and 'certPath'")
        return self

    @property
    def is_plugin(self) -> bool:
        """True for a plugin key (``id`` + ``pluginName``)."""
        return self.plugin_name is not None


class SigningKeys(BaseModel):
    """The whole ``signingkeys.json`` document."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    default: str | None = None
    keys: list[KeyEntry] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> SigningKeys:
        seen: set[str] = set()
        for entry in self.keys:
            if entry.name in seen:
                raise ValueError(f"more than one key is named {entry.name!r}")
            seen.add(entry.name)
        if self.default and self.default not in seen:
            raise ValueError(f"the default key {self.default!r} is not in the key list")
        return self


def _describe(err: ValidationError) -> str:
    first = err.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    message = str(first["msg"]).removeprefix("Value error, ")
    return f"{where}: {message}" if where else message


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
            return cls(path, SigningKeys.model_validate(doc))
        except ValidationError as err:
            raise ConfigError(f"malformed key store {path}: {_describe(err)}", hint=hint) from None

    def save(self) -> None:
        """Write the store atomically (mode 0600; a new config folder gets mode 0700)."""
        ensure_dir(self.path.parent)
        doc = self.data.model_dump(by_alias=True, exclude_none=True)
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
