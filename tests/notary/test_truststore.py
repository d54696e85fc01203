"""Trust store loading: notation's layout and rules (INDEX.md §6)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ocisign.config.truststore import load_store, store_loader, x509_root
from ocisign.errors import ConfigError
from tests.notary.conftest import TRUST, make_store

STORE = TRUST / "truststore"


def test_valid_store_loads_pem_and_der() -> None:
    certs = load_store("ca:valid-trust-store", STORE)
    names = {c.subject.rfc4514_string() for c in certs}
    assert len(certs) == 6
    assert "CN=Notation Test Root,O=Notary,L=Seattle,ST=WA,C=US" in names
    # GlobalSign.der and GlobalSignRootCA.crt are the same cert in DER and PEM
    globalsign = [c for c in certs if "GlobalSign Root CA - R3" in c.subject.rfc4514_string()]
    assert len(globalsign) == 2 and globalsign[0] == globalsign[1]


def test_accepts_truststore_or_x509_folder() -> None:
    a = load_store("tsa:test-timestamp", STORE)
    b = load_store("tsa:test-timestamp", STORE / "x509")
    assert a == b and len(a) == 1
    assert x509_root(STORE) == x509_root(STORE / "x509") == STORE / "x509"


def test_default_root_is_config_dir(config_dir: Path) -> None:
    make_store(config_dir / "truststore", {"ca:e2e": [TRUST / "keys" / "e2e.crt"]})
    assert len(load_store("ca:e2e")) == 1


def test_store_with_non_ca_leaf_rejected() -> None:
    with pytest.raises(ConfigError, match=r"non-ca.crt.*not a CA certificate or self-signed"):
        load_store("ca:trust-store-with-leaf-certs", STORE)


def test_tsa_store_must_hold_root_ca() -> None:
    with pytest.raises(ConfigError, match="is not a root CA certificate"):
        load_store("tsa:test-nonCA", STORE)
    assert len(load_store("tsa:test-mismatch", STORE)) == 1


def test_missing_and_empty_store_name_the_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"does not exist: .*x509/ca/nope"):
        load_store("ca:nope", STORE)
    (tmp_path / "x509" / "ca" / "empty").mkdir(parents=True)
    with pytest.raises(ConfigError, match=r"no x509 certificates.*x509/ca/empty"):
        load_store("ca:empty", tmp_path)


def test_subdirectory_and_symlink_rejected(tmp_path: Path) -> None:
    root = make_store(tmp_path, {"ca:s": [TRUST / "keys" / "e2e.crt"]})
    (root / "x509/ca/s/sub").mkdir()
    with pytest.raises(ConfigError, match=r"sub.*not a regular file"):
        load_store("ca:s", root)
    (root / "x509/ca/s/sub").rmdir()
    os.symlink(TRUST / "keys" / "new_e2e.crt", root / "x509/ca/s/link.crt")
    with pytest.raises(ConfigError, match=r"link.crt.*not a regular file"):
        load_store("ca:s", root)


def test_symlinked_store_dir_rejected(tmp_path: Path) -> None:
    (tmp_path / "x509" / "ca").mkdir(parents=True)
    os.symlink(STORE / "x509/ca/valid-trust-store", tmp_path / "x509/ca/linked")
    with pytest.raises(ConfigError, match="not a regular directory"):
        load_store("ca:linked", tmp_path)


def test_garbage_file_rejected(tmp_path: Path) -> None:
    root = make_store(tmp_path, {"ca:g": [b"not a certificate"]})
    with pytest.raises(ConfigError, match="failed to read the certificate file"):
        load_store("ca:g", root)


@pytest.mark.parametrize(
    ("ref", "why"),
    [
        ("e2e", "required format"),
        ("foo:e2e", "unsupported trust store type"),
        ("ca:bad/name", "must match"),
        ("ca:", "must match"),
    ],
)
def test_bad_references(ref: str, why: str) -> None:
    with pytest.raises(ConfigError, match=why):
        load_store(ref, STORE)


def test_store_loader_binds_root_and_caches(tmp_path: Path) -> None:
    root = make_store(tmp_path, {"ca:e2e": [TRUST / "keys" / "e2e.crt"]})
    load = store_loader(root)
    first = load("ca:e2e")
    (root / "x509/ca/e2e/e2e.crt").unlink()
    assert load("ca:e2e") is first
    with pytest.raises(ConfigError):
        store_loader(root)("ca:e2e")
