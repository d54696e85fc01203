"""notation's signingkeys.json: upstream vectors, validation, atomic writes, file modes."""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import pytest

from ocisign.config.keystore import KeyEntry, KeyStore
from ocisign.errors import ConfigError, KeyStoreError
from tests.keys.conftest import NOTATION_CONFIG, write


def _copy(name: str, tmp_path: Path) -> Path:
    target = tmp_path / name
    shutil.copytree(NOTATION_CONFIG / name, target)
    return target / "signingkeys.json"


def test_notation_valid_vector_loads(config_dir: Path) -> None:
    shutil.copytree(NOTATION_CONFIG / "valid", config_dir)
    store = KeyStore.load()
    assert store.path == config_dir / "signingkeys.json"
    assert [entry.name for entry in store.keys] == [
        "wabbit-networks",
        "import.acme-rockets",
        "external-key",
    ]
    assert store.get(None).name == "wabbit-networks"
    assert store.get().key_path == "/home/demo/.config/notation/localkeys/wabbit-networks.key"
    plugin = store.get("external-key")
    assert plugin.is_plugin and plugin.id == "id1" and plugin.plugin_name == "pluginX"
    assert plugin.plugin_config == {"key": "value"}


def test_notation_valid_vector_saves_back_unchanged(tmp_path: Path) -> None:
    path = _copy("valid", tmp_path)
    KeyStore.load(path).save()
    original = json.loads((NOTATION_CONFIG / "valid" / "signingkeys.json").read_text())
    assert json.loads(path.read_text()) == original
    assert path.read_text().startswith('{\n    "default"')  # 4-space indent, as notation


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("malformed-duplicate", "more than one key is named 'wabbit-networks'"),
        ("malformed-invalid-default", "the default key 'missing-default' is not in the key list"),
    ],
)
def test_notation_malformed_vectors_fail_clearly(name: str, problem: str, tmp_path: Path) -> None:
    path = _copy(name, tmp_path)
    with pytest.raises(ConfigError) as info:
        KeyStore.load(path)
    assert str(path) in info.value.message
    assert problem in info.value.message


@pytest.mark.parametrize(
    ("doc", "problem"),
    [
        ('{"keys": [{"name": "", "keyPath": "a", "certPath": "b"}]}', "name must not be empty"),
        ('{"keys": [{"name": "a", "keyPath": "a"}]}', "needs both 'keyPath' and 'certPath'"),
        ('{"keys": [{"name": "a", "id": "x"}]}', "needs both 'id' and 'pluginName'"),
        (
            '{"keys": [{"name": "a", "keyPath": "a", "certPath": "b", "pluginName": "p", '
            '"id": "i"}]}',
            "either a local key or a plugin key",
        ),
        ('{"keys": [{"keyPath": "a", "certPath": "b"}]}', "keys.0.name"),
        ('{"keys": "nope"}', "keys:"),
        ('{"keys": [{"name": 7, "id": "i", "pluginName": "p"}]}', "keys.0.name: must be a string"),
        ('{"keys": [{"name": "a", "id": "i", "pluginName": "p", "pluginConfig": {"k": 1}}]}',
         "keys.0.pluginConfig"),
        ('{"default": 1, "keys": []}', "default: must be a string"),
        ('{"keys": [7]}', "keys.0: must be a JSON object"),
        ("[]", "must hold a JSON object"),
        ('{"keys": [', "not valid JSON"),
    ],
)
def test_invalid_documents(doc: str, problem: str, tmp_path: Path) -> None:
    path = write(tmp_path / "signingkeys.json", doc.encode())
    with pytest.raises(ConfigError, match=r"signingkeys\.json") as info:
        KeyStore.load(path)
    assert problem in info.value.message


def test_missing_file_is_an_empty_store(config_dir: Path) -> None:
    store = KeyStore.load()
    assert store.keys == [] and store.default is None
    with pytest.raises(KeyStoreError, match="no default key") as info:
        store.get()
    assert info.value.hint and "ocisign key default" in info.value.hint


def test_unknown_fields_are_preserved(tmp_path: Path) -> None:
    doc = {
        "default": "a",
        "future": 1,
        "keys": [{"name": "a", "id": "i", "pluginName": "p", "x": "y", "self": 2}],
    }
    path = write(tmp_path / "signingkeys.json", json.dumps(doc).encode())
    KeyStore.load(path).save()
    assert json.loads(path.read_text()) == doc


def test_add_remove_default_and_modes(config_dir: Path) -> None:
    store = KeyStore.load()
    store.add(KeyEntry(name="a", keyPath="/k", certPath="/c"), default=True)
    store.add(KeyEntry(name="b", id="i", pluginName="p"))
    with pytest.raises(KeyStoreError, match="already exists"):
        store.add(KeyEntry(name="a", keyPath="/k", certPath="/c"))
    store.save()
    assert stat.S_IMODE(os.stat(config_dir / "signingkeys.json").st_mode) == 0o600
    assert stat.S_IMODE(os.stat(config_dir).st_mode) == 0o700
    store = KeyStore.load()
    assert store.default == "a"
    store.set_default("b")
    store.remove("b")
    assert store.default is None  # removing the default clears it, as notation does
    with pytest.raises(KeyStoreError, match=r"'zzz' not found.*known keys: a"):
        store.get("zzz")
    store.save()
    assert json.loads((config_dir / "signingkeys.json").read_text()) == {
        "keys": [{"name": "a", "keyPath": "/k", "certPath": "/c"}]
    }


def test_store_survives_a_crash_mid_write(
    config_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = KeyStore.load()
    store.add(KeyEntry(name="old", keyPath="/k", certPath="/c"), default=True)
    store.save()
    before = (config_dir / "signingkeys.json").read_bytes()

    def crash(src: object, dst: object) -> None:
        raise OSError("simulated power cut")

    store.add(KeyEntry(name="new", keyPath="/k2", certPath="/c2"))
    with monkeypatch.context() as patch, pytest.raises(OSError, match="simulated"):
        patch.setattr(os, "replace", crash)
        store.save()
    assert (config_dir / "signingkeys.json").read_bytes() == before
    assert [entry.name for entry in KeyStore.load().keys] == ["old"]
    assert sorted(p.name for p in config_dir.iterdir()) == ["signingkeys.json"]  # no temp left
