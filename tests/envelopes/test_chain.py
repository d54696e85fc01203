"""Code-signing chain rules (notation.md §3): each rule broken once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from ocisign.errors import CertificateError
from ocisign.keys.codesigning import validate_signing_chain
from tests.envelopes.certs import NOW, ca_chain, key_usage, make_cert, make_key
from tests.envelopes.conftest import NOTATION


@pytest.fixture(scope="module")
def key() -> object:
    return make_key("EC-256")


def test_valid_chains(key: object) -> None:
    validate_signing_chain([make_cert(key, "self")], NOW)
    validate_signing_chain(ca_chain(key, depth=2), NOW)
    validate_signing_chain(ca_chain(key, depth=4), NOW)


def test_e2e_generate_test_shaped_cert_is_valid() -> None:
    cert = x509.load_pem_x509_certificate((NOTATION / "keys/e2e.crt").read_bytes())
    validate_signing_chain([cert], NOW)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"ca": True, "ku": key_usage(digital_signature=True)}, "must not be a CA"),
        ({"ku_critical": False}, "keyUsage extension must be critical"),
        (
            {"ku": key_usage(digital_signature=True, key_cert_sign=True)},
            "must not include key_cert_sign",
        ),
        (
            {"ku": key_usage(digital_signature=True, key_encipherment=True)},
            "must not include key_encipherment",
        ),
        ({"ku": key_usage(content_commitment=True)}, "must include digitalSignature"),
        ({"eku": [ExtendedKeyUsageOID.SERVER_AUTH]}, "serverAuth"),
        (
            {"eku": [ExtendedKeyUsageOID.CODE_SIGNING, ExtendedKeyUsageOID.TIME_STAMPING]},
            "timeStamping",
        ),
        ({"not_after": NOW - timedelta(seconds=1)}, "not valid at the signing time"),
        ({"not_before": NOW + timedelta(seconds=1)}, "not valid at the signing time"),
    ],
)
def test_self_signed_leaf_rules(key: object, options: dict, message: str) -> None:
    with pytest.raises(CertificateError, match=message):
        validate_signing_chain([make_cert(key, "leaf", **options)], NOW)


def test_leaf_rules_in_a_ca_chain(key: object) -> None:
    with pytest.raises(CertificateError, match="must not be a CA"):
        validate_signing_chain(ca_chain(key, ca=True, ku=key_usage(digital_signature=True)), NOW)
    with pytest.raises(CertificateError, match="serverAuth"):
        validate_signing_chain(ca_chain(key, eku=[ExtendedKeyUsageOID.SERVER_AUTH]), NOW)


def test_openssl_minimum_self_signed_is_a_valid_leaf() -> None:
    """INDEX.md says this cert lacks keyUsage; it has KU digitalSignature (critical) and
    EKU codeSigning, and notation-core-go's TestValidCodeSigningChain lists it as valid."""
    cert = x509.load_pem_x509_certificate(
        (NOTATION / "certs/openssl-minimum-self-signed.pem").read_bytes()
    )
    validate_signing_chain([cert], cert.not_valid_before_utc + timedelta(seconds=1))
    with pytest.raises(CertificateError, match="not valid at the signing time"):
        validate_signing_chain([cert], cert.not_valid_before_utc - timedelta(seconds=1))


def test_wrong_order_refused(key: object) -> None:
    leaf, intermediate, root = ca_chain(key, depth=3)
    with pytest.raises(CertificateError, match="ordered leaf"):
        validate_signing_chain([leaf, root, intermediate], NOW)
    with pytest.raises(CertificateError, match="only the root"):
        validate_signing_chain([root, intermediate, leaf], NOW)


def test_missing_root_refused(key: object) -> None:
    leaf, intermediate, _root = ca_chain(key, depth=3)
    with pytest.raises(CertificateError, match="root is missing"):
        validate_signing_chain([leaf, intermediate], NOW)
    with pytest.raises(CertificateError, match="must be self-signed"):
        validate_signing_chain([leaf], NOW)


def test_ca_rules(key: object) -> None:
    root_key, int_key = make_key("EC-256"), make_key("EC-256")

    def chain(**int_options: object) -> list[x509.Certificate]:
        root = make_cert(root_key, "root", ca=True)
        inter = make_cert(
            int_key, "int", issuer_key=root_key, issuer_name=root.subject, **int_options
        )
        leaf = make_cert(key, "leaf", issuer_key=int_key, issuer_name=inter.subject)
        return [leaf, inter, root]

    validate_signing_chain(chain(ca=True), NOW)
    with pytest.raises(CertificateError, match="basicConstraints with cA=true"):
        validate_signing_chain(chain(ca=False, ku=key_usage(key_cert_sign=True)), NOW)
    with pytest.raises(CertificateError, match="critical keyUsage"):
        validate_signing_chain(chain(ca=True, ku_critical=False), NOW)
    with pytest.raises(CertificateError, match="keyCertSign"):
        validate_signing_chain(chain(ca=True, ku=key_usage(digital_signature=True)), NOW)


def test_path_length(key: object) -> None:
    root_key, int_key = make_key("EC-256"), make_key("EC-256")
    root = make_cert(root_key, "root", ca=True, path_length=0)
    inter = make_cert(int_key, "int", issuer_key=root_key, issuer_name=root.subject, ca=True)
    leaf = make_cert(key, "leaf", issuer_key=int_key, issuer_name=inter.subject)
    with pytest.raises(CertificateError, match="pathLenConstraint 0"):
        validate_signing_chain([leaf, inter, root], NOW)
    root1 = make_cert(root_key, "root", ca=True, path_length=1)
    inter1 = make_cert(int_key, "int", issuer_key=root_key, issuer_name=root1.subject, ca=True)
    leaf1 = make_cert(key, "leaf", issuer_key=int_key, issuer_name=inter1.subject)
    validate_signing_chain([leaf1, inter1, root1], NOW)


def test_expired_intermediate_refused(key: object) -> None:
    root_key, int_key = make_key("EC-256"), make_key("EC-256")
    root = make_cert(root_key, "root", ca=True)
    inter = make_cert(
        int_key,
        "int",
        issuer_key=root_key,
        issuer_name=root.subject,
        ca=True,
        not_after=NOW - timedelta(days=1),
        not_before=NOW - timedelta(days=5),
    )
    leaf = make_cert(key, "leaf", issuer_key=int_key, issuer_name=inter.subject)
    with pytest.raises(CertificateError, match=r"CN=int.*not valid at the signing time"):
        validate_signing_chain([leaf, inter, root], NOW)


def test_unsupported_leaf_key_refused() -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa

    small = rsa.generate_private_key(65537, 1024)
    with pytest.raises(CertificateError, match="unsupported RSA key size 1024"):
        validate_signing_chain([make_cert(small, "small")], NOW)


def test_empty_chain_refused() -> None:
    with pytest.raises(CertificateError, match="empty"):
        validate_signing_chain([], NOW)
