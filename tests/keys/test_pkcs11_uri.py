"""``pkcs11:`` URIs as cosign parses them, redaction, PIN sources (no token needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ocisign.config.keystore import KeyEntry
from ocisign.errors import KeyFileError, PassphraseError, UsageError
from ocisign.keys.pkcs11_uri import (
    format_uri,
    is_pkcs11_ref,
    key_uri,
    parse_uri,
    read_pin,
    redact,
)

# cosign test/pkcs11_test.go
COSIGN_VECTOR = (
    "pkcs11:token=token%20label;slot-id=1;id=%6b%65%79%5f%69%64;object=key%20label"
    "?module-path=/path/to/some%20folder/libmodule.so&pin-value=1234"
)


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OCISIGN_PKCS11_PIN", "COSIGN_PKCS11_PIN", "OCISIGN_PKCS11_MODULE_PATH",
                 "COSIGN_PKCS11_MODULE_PATH"):
        monkeypatch.delenv(name, raising=False)


def test_cosign_vector_parses_and_round_trips() -> None:
    uri = parse_uri(COSIGN_VECTOR)
    assert (uri.token, uri.slot_id, uri.id, uri.label, uri.pin_value) == (
        "token label", 1, b"key_id", "key label", "1234")
    assert uri.query["module-path"] == "/path/to/some folder/libmodule.so"
    again = parse_uri(format_uri(uri.path, uri.query))
    assert again.path == uri.path and again.query == uri.query


def test_format_encodes_id_fully_and_labels_with_specials() -> None:
    text = key_uri("/lib/m.so", "my token", "a;b?c d", b"\x01A", slot_id=7)
    assert text == ("pkcs11:token=my%20token;slot-id=7;id=%01%41;object=a%3bb%3fc%20d"
                    "?module-path=/lib/m.so")
    uri = parse_uri(text)
    assert (uri.token, uri.label, uri.id, uri.slot_id) == ("my token", "a;b?c d", b"\x01A", 7)


def test_plus_is_a_plus_and_semicolons_separate_the_query() -> None:
    uri = parse_uri("pkcs11:token=a+b;object=k?module-path=/m.so;pin-source=file:/p")
    assert uri.token == "a+b"
    assert uri.pin_source == "file:/p"


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("pkcs11:object=k?module-path=/m.so", "one of token and slot-id"),
        ("pkcs11:token=t?module-path=/m.so", "one of object and id"),
        ("pkcs11:slot-id=x1;object=k", "not a decimal number"),
        ("pkcs11:token=t;token=u;object=k", "appears twice"),
        ("pkcs11:token=t;object=k;colour=blue", "unknown path attribute 'colour'"),
        ("pkcs11:token=t;object=k?pin=1", "unknown query attribute 'pin'"),
        ("pkcs11:token=t;object=k;type=cert", "is not a private key"),
        ("pkcs11:token=t;object=k;type=bogus", "unknown type"),
        ("pkcs11:token=t;object=k?module-name=softhsm2", "module-name is not supported"),
        ("/tmp/key.pem", "does not start with 'pkcs11:'"),
    ],
)
def test_rejections(text: str, why: str) -> None:
    with pytest.raises(KeyFileError) as err:
        parse_uri(text)
    assert why in err.value.message
    assert err.value.hint and "pkcs11-tool list-keys-uris" in err.value.hint


def test_pin_value_and_pin_source_together_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="both pin-value and pin-source") as err:
        parse_uri("pkcs11:token=t;object=k?pin-value=1234&pin-source=file:/p")
    assert "1234" not in err.value.message


def test_module_path_rules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    module = tmp_path / "m.so"
    module.write_bytes(b"")
    with pytest.raises(KeyFileError, match="no PKCS#11 module") as err:
        parse_uri("pkcs11:token=t;object=k").module_path()
    assert err.value.hint and "OCISIGN_PKCS11_MODULE_PATH" in err.value.hint
    with pytest.raises(KeyFileError, match="not an absolute path"):
        parse_uri("pkcs11:token=t;object=k?module-path=m.so").module_path()
    with pytest.raises(KeyFileError, match="does not exist"):
        parse_uri(f"pkcs11:token=t;object=k?module-path={tmp_path}/gone.so").module_path()
    with pytest.raises(KeyFileError, match="does not exist"):  # a folder is not a module
        parse_uri(f"pkcs11:token=t;object=k?module-path={tmp_path}").module_path()
    monkeypatch.setenv("COSIGN_PKCS11_MODULE_PATH", str(module))
    assert parse_uri("pkcs11:token=t;object=k").module_path() == str(module)
    other = tmp_path / "o.so"
    other.write_bytes(b"")
    monkeypatch.setenv("OCISIGN_PKCS11_MODULE_PATH", str(other))
    assert parse_uri("pkcs11:token=t;object=k").module_path() == str(other)
    assert parse_uri(f"pkcs11:token=t;object=k?module-path={module}").module_path() == str(module)


def test_redact_strips_pin_value_only() -> None:
    assert redact(COSIGN_VECTOR).endswith("?module-path=/path/to/some%20folder/libmodule.so")
    assert "1234" not in redact(f"cannot open {COSIGN_VECTOR} now")
    assert redact("pkcs11:token=t;object=k?pin-value=9&module-path=/m.so") == (
        "pkcs11:token=t;object=k?module-path=/m.so")
    assert redact("pkcs11:token=t;object=k?pin-value=9") == "pkcs11:token=t;object=k"
    assert redact("/tmp/key.pem?") == "/tmp/key.pem?"
    assert parse_uri(COSIGN_VECTOR).with_type("cert").count("pin-value") == 0


def test_pin_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pin_file = tmp_path / "pin"
    pin_file.write_text("from-file\n")
    monkeypatch.setenv("OCISIGN_PKCS11_PIN", "ocisign-env")
    monkeypatch.setenv("COSIGN_PKCS11_PIN", "cosign-env")
    assert read_pin("value", None, "t") == "value"
    assert read_pin(None, f"file:{pin_file}", "t") == "from-file"
    assert read_pin(None, f"file://{pin_file}", "t") == "from-file"
    assert read_pin(None, str(pin_file), "t") == "from-file"
    assert read_pin(None, None, "t") == "ocisign-env"
    monkeypatch.delenv("OCISIGN_PKCS11_PIN")
    assert read_pin(None, None, "t") == "cosign-env"
    monkeypatch.delenv("COSIGN_PKCS11_PIN")
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    with pytest.raises(PassphraseError, match="no terminal") as err:
        read_pin(None, None, "t")
    assert err.value.hint and "pin-source" in err.value.hint
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    asked: list[str] = []
    monkeypatch.setattr("getpass.getpass", lambda prompt: asked.append(prompt) or "typed")
    assert read_pin(None, None, "tok") == "typed"
    assert asked == ["Enter PIN for PKCS11 token 'tok': "]


def test_pin_source_errors(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="not supported"):
        read_pin(None, "|/bin/echo 1234", "t")
    with pytest.raises(PassphraseError, match="cannot read the PIN file"):
        read_pin(None, f"file:{tmp_path}/nope", "t")


def test_key_store_entry_may_leave_cert_on_the_token() -> None:
    assert is_pkcs11_ref("pkcs11:token=t;object=k")
    assert not is_pkcs11_ref("/etc/key.pem")
    entry = KeyEntry(name="hsm", keyPath="pkcs11:token=t;object=k")
    assert entry.cert_path is None and not entry.is_plugin
    with pytest.raises(ValueError, match="needs both"):
        KeyEntry(name="file", keyPath="/etc/key.pem")
