"""Issue 11, case 8: every parser of untrusted or hand-edited input fails only with ocisign.errors.

Property-based (hypothesis): random bytes, mutations of a real sample (bytes replaced,
inserted, cut), deep nesting, and structured documents with the real keys but arbitrary
values. Each parser may accept its input or raise an ``OcisignError``; anything else
(``RecursionError``, ``UnicodeDecodeError``, ``struct.error``, a ``KeyError``...) would
reach users as "unexpected X" and fails the property. The index.json/manifest parsers are
the registry layer's and are tested there.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ocisign.boot.authenticode import authenticode_digest, certificates, parse_pe
from ocisign.config.keystore import KeyStore
from ocisign.config.notation import load_config
from ocisign.config.signartifacts import load_inject_files, load_sign_artifacts_config
from ocisign.config.trustpolicy import parse_trust_policy
from ocisign.config.truststore import load_store
from ocisign.envelopes import cose, jws
from ocisign.envelopes import simplesigning as ss
from ocisign.errors import OcisignError
from ocisign.notary import timestamp
from ocisign.resolve.imagelist import read_image_list
from tests.boot.conftest import SIGN_CONFIG, inject_yaml, make_pe
from tests.conftest import DATA

SETTINGS = settings(max_examples=100, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
ENVELOPES = DATA / "notation" / "envelopes"
TRUST = DATA / "trust"
SCRATCH = Path(tempfile.mkdtemp(prefix="ocisign-property-"))


def only_ocisign_errors(parse: Callable[[], object]) -> None:
    """The property: ``parse()`` returns, or raises an ``OcisignError`` with a message."""
    try:
        parse()
    except OcisignError as exc:
        assert exc.message.strip()


def mutations(sample: bytes) -> st.SearchStrategy[bytes]:
    """``sample`` with a slice replaced by a few random bytes (or cut, or grown)."""
    n = len(sample)
    return st.tuples(st.integers(0, n), st.integers(0, n), st.binary(max_size=16)).map(
        lambda t: sample[: min(t[0], t[1])] + t[2] + sample[max(t[0], t[1]) :]
    )


def nested(opening: bytes, closing: bytes) -> st.SearchStrategy[bytes]:
    return st.integers(1_000, 5_000).map(lambda depth: opening * depth + closing * depth)


def inputs(sample: bytes) -> st.SearchStrategy[bytes]:
    return st.one_of(st.binary(max_size=512), mutations(sample), nested(b"[", b"]"),
                     nested(b'{"a":', b"}"))


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                               max_size=4),
    max_leaves=12,
)


def shaped(keys: dict[str, Any]) -> st.SearchStrategy[bytes]:
    """JSON objects with (some of) the real keys, each value real or arbitrary."""
    fields = {k: st.one_of(st.just(v), JSON) for k, v in keys.items()}
    return st.fixed_dictionaries({}, optional=fields).map(lambda d: json.dumps(d).encode())


def _file(name: str, data: bytes) -> Path:
    path = SCRATCH / name
    path.write_bytes(data)
    return path


# -- notation's configuration files -----------------------------------------------------------

POLICY = (TRUST / "trustpolicies" / "trustpolicy.json").read_bytes()
STATEMENT = json.loads(POLICY)["trustPolicies"][0]


@SETTINGS
@given(st.one_of(inputs(POLICY),
                 shaped({"version": "1.0", "trustPolicies": [STATEMENT]}),
                 st.lists(shaped(STATEMENT), max_size=3).map(
                     lambda s: json.dumps({"version": "1.0", "trustPolicies": [
                         json.loads(x) for x in s]}).encode())))
def test_trust_policy(data: bytes) -> None:
    only_ocisign_errors(lambda: parse_trust_policy(data, "trustpolicy.json"))


CERT = (TRUST / "keys" / "e2e.crt").read_bytes()


@SETTINGS
@given(inputs(CERT))
def test_trust_store(data: bytes) -> None:
    folder = SCRATCH / "truststore" / "x509" / "ca" / "fuzz"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "cert.pem").write_bytes(data)
    only_ocisign_errors(lambda: load_store("ca:fuzz", SCRATCH / "truststore"))


KEYS = json.dumps({"default": "k", "keys": [
    {"name": "k", "keyPath": "/k.key", "certPath": "/k.crt"}]}).encode()


@SETTINGS
@given(st.one_of(inputs(KEYS), shaped(json.loads(KEYS))))
def test_signingkeys_json(data: bytes) -> None:
    path = _file("signingkeys.json", data)
    only_ocisign_errors(lambda: KeyStore.load(path))


CONFIG = json.dumps({"insecureRegistries": ["localhost:5000"], "signatureFormat": "cose"}).encode()


@SETTINGS
@given(st.one_of(inputs(CONFIG), shaped(json.loads(CONFIG))))
def test_config_json(data: bytes) -> None:
    path = _file("config.json", data)
    only_ocisign_errors(lambda: load_config(path, formats=("jws", "cose", "sigstore")))


LIST = b"# images\nregistry.example.com/app:v1\n\nlocalhost:5000/a/b@sha256:" + b"a" * 64 + b"\n"


@SETTINGS
@given(st.one_of(inputs(LIST), st.lists(st.text(max_size=40), max_size=5).map(
    lambda lines: "\n".join(lines).encode("utf-8", "surrogatepass"))))
def test_image_list(data: bytes) -> None:
    path = _file("images.txt", data)
    only_ocisign_errors(lambda: read_image_list(path, registry=None, project=None))


# -- envelopes and payloads --------------------------------------------------------------------

JWS = (ENVELOPES / "timestamp" / "jwsWithTimestamp.sig").read_bytes()
COSE = (ENVELOPES / "timestamp" / "coseWithTimestamp.sig").read_bytes()


@SETTINGS
@given(st.one_of(inputs(JWS), shaped(json.loads(JWS))))
def test_jws(data: bytes) -> None:
    only_ocisign_errors(lambda: jws.parse(data))


@SETTINGS
@given(st.one_of(inputs(COSE), nested(b"\x81", b"\x80")))
def test_cose(data: bytes) -> None:
    only_ocisign_errors(lambda: cose.parse(data))


PAYLOAD = (DATA / "sigstore" / "skopeo-signed-single" / "image.sig-payload-1.json").read_bytes()
SIG_MANIFEST = (DATA / "sigstore" / "skopeo-signed-single" / "image.sig-manifest.json").read_bytes()


@SETTINGS
@given(st.one_of(inputs(PAYLOAD), shaped(json.loads(PAYLOAD))))
def test_simple_signing_payload(data: bytes) -> None:
    only_ocisign_errors(lambda: ss.parse_payload(data))


@SETTINGS
@given(st.one_of(inputs(SIG_MANIFEST), shaped(json.loads(SIG_MANIFEST))))
def test_sig_manifest(data: bytes) -> None:
    only_ocisign_errors(lambda: ss.parse_sig_manifest(data))


ENVELOPE = jws.parse(JWS)
TSA_ROOTS = [x509.load_der_x509_certificate(
    (TRUST / "truststore/x509/tsa/test-timestamp/globalsignRoot.cer").read_bytes())]


@SETTINGS
@given(st.one_of(inputs(ENVELOPE.timestamp_token or b""), nested(b"\x30\x80", b"\x00\x00")))
def test_rfc3161_token(token: bytes) -> None:
    only_ocisign_errors(lambda: timestamp.verify(token, ENVELOPE.signature, TSA_ROOTS))


def test_rfc3161_token_sample_verifies() -> None:
    """The sample the mutations start from is a good token (the property is not vacuous)."""
    assert ENVELOPE.timestamp_token
    info = timestamp.verify(ENVELOPE.timestamp_token, ENVELOPE.signature, TSA_ROOTS)
    assert info.gen_time.year >= 2020


# -- boot artifacts ------------------------------------------------------------------------------

PE = make_pe()


def _pe(data: bytes) -> None:
    layout = parse_pe(data)
    authenticode_digest(data, layout)
    certificates(data, layout)


@SETTINGS
@given(st.one_of(inputs(PE), mutations(PE).flatmap(mutations)))
def test_pe_headers(data: bytes) -> None:
    only_ocisign_errors(lambda: _pe(data))


INJECT = inject_yaml([("./ukis/a.efi", "/EFI/Linux/a.efi", "ukis")]).encode()


# PyYAML takes seconds on a deep flow collection, so deep YAML is a few fixed examples
DEEP_YAML = [b"[" * 1_100 + b"]" * 1_100, b"- " * 5_000, b"{a: " * 2_000 + b"}" * 2_000]


@SETTINGS
@given(st.one_of(st.binary(max_size=512), mutations(SIGN_CONFIG.encode())))
@example(DEEP_YAML[0])
@example(DEEP_YAML[1])
@example(DEEP_YAML[2])
def test_sign_artifacts_yaml(data: bytes) -> None:
    path = _file("sign.yaml", data)
    only_ocisign_errors(lambda: load_sign_artifacts_config(path))


@SETTINGS
@given(st.one_of(st.binary(max_size=512), mutations(INJECT)))
@example(DEEP_YAML[0])
@example(DEEP_YAML[1])
def test_inject_files_yaml(data: bytes) -> None:
    path = _file("inject-files.yaml", data)
    only_ocisign_errors(lambda: load_inject_files(path))


def test_rfc3161_malformed_signer_id() -> None:
    """A SignerInfo sid whose IssuerAndSerialNumber holds one element (the Name's length
    swallows the serial): the signer lookup raised a raw ValueError before."""
    token = ENVELOPE.timestamp_token or b""
    sid = token.find(bytes.fromhex("306f305b310b3009"))  # sid SEQUENCE, issuer Name, first RDN
    assert sid > 0
    patched = token[: sid + 3] + bytes([0x5B + 18]) + token[sid + 4 :]
    with pytest.raises(OcisignError, match="failed to parse timestamp countersignature"):
        timestamp.verify(patched, ENVELOPE.signature, TSA_ROOTS)
