"""Signature algorithms: the key specs, and the two schemes a key signs with.

``Scheme.NOTARY`` (notation.md §2): the algorithm is derived from the key, never chosen:
RSA 2048/3072/4096 sign with RSASSA-PSS (MGF1, salt = hash length) and SHA-256/384/512;
EC P-256/384/521 sign with ECDSA and SHA-256/384/512, written as the raw fixed-width
``r || s``. ``Scheme.CONTAINERS`` (containers/image and cosign simple signing): ECDSA over
SHA-256 in DER, RSA PKCS#1 v1.5 over SHA-256, Ed25519. ``Scheme.SIGSTORE`` (cosign
sign-blob and Sigstore bundles): as CONTAINERS, but the ECDSA hash follows the curve
(P-384: SHA-384, P-521: SHA-512), as cosign's ``GetDefaultAlgorithmDetails`` picks it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from ocisign.errors import SignatureError, VerificationError


@dataclass(frozen=True)
class KeySpec:
    """One supported key type with its algorithm names in every vocabulary."""

    name: str  # plugin keySpec, e.g. "RSA-2048"
    jws_alg: str  # "PS256"
    cose_alg: int  # -37
    hash_name: str  # plugin hashAlgorithm, "SHA-256"
    signing_algorithm: str  # plugin signingAlgorithm, "RSASSA-PSS-SHA-256"
    ec_size: int = 0  # bytes per ECDSA coordinate (0 for RSA)

    @property
    def is_ec(self) -> bool:
        return self.ec_size > 0

    def hash(self) -> hashes.HashAlgorithm:
        """A fresh ``cryptography`` hash object for this spec."""
        algorithms: dict[str, hashes.HashAlgorithm] = {
            "SHA-256": hashes.SHA256(),
            "SHA-384": hashes.SHA384(),
            "SHA-512": hashes.SHA512(),
        }
        return algorithms[self.hash_name]

    @property
    def hashlib_name(self) -> str:
        """``sha256``/``sha384``/``sha512``."""
        return self.hash_name.replace("-", "").lower()


KEY_SPECS: dict[str, KeySpec] = {
    s.name: s
    for s in (
        KeySpec("RSA-2048", "PS256", -37, "SHA-256", "RSASSA-PSS-SHA-256"),
        KeySpec("RSA-3072", "PS384", -38, "SHA-384", "RSASSA-PSS-SHA-384"),
        KeySpec("RSA-4096", "PS512", -39, "SHA-512", "RSASSA-PSS-SHA-512"),
        KeySpec("EC-256", "ES256", -7, "SHA-256", "ECDSA-SHA-256", 32),
        KeySpec("EC-384", "ES384", -35, "SHA-384", "ECDSA-SHA-384", 48),
        KeySpec("EC-521", "ES512", -36, "SHA-512", "ECDSA-SHA-512", 66),
    )
}
_BY_JWS = {s.jws_alg: s for s in KEY_SPECS.values()}
_BY_COSE = {s.cose_alg: s for s in KEY_SPECS.values()}
_CURVES = {"secp256r1": "EC-256", "secp384r1": "EC-384", "secp521r1": "EC-521"}
_HINT = "use an RSA 2048/3072/4096-bit key or an EC P-256/P-384/P-521 key"


def key_spec(name: str) -> KeySpec:
    """The spec named ``name`` (``RSA-2048`` ... ``EC-521``)."""
    try:
        return KEY_SPECS[name]
    except KeyError:
        raise SignatureError(f"unsupported key spec {name!r}", hint=_HINT) from None


def key_spec_of(key: Any) -> KeySpec:
    """The spec of a public or private key; other sizes, curves and types are refused."""
    if isinstance(key, rsa.RSAPublicKey | rsa.RSAPrivateKey):
        name = f"RSA-{key.key_size}"
        if name not in KEY_SPECS:
            raise SignatureError(f"unsupported RSA key size {key.key_size}", hint=_HINT)
        return KEY_SPECS[name]
    if isinstance(key, ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey):
        curve = key.curve.name
        if curve not in _CURVES:
            raise SignatureError(f"unsupported elliptic curve {curve}", hint=_HINT)
        return KEY_SPECS[_CURVES[curve]]
    raise SignatureError(f"unsupported key type {type(key).__name__}", hint=_HINT)


def spec_for_jws_alg(alg: object) -> KeySpec:
    """The spec of a JWS ``alg`` value; VerificationError if it is not one of the six."""
    if not isinstance(alg, str) or alg not in _BY_JWS:
        raise VerificationError(f"unsupported JWS signature algorithm {alg!r}")
    return _BY_JWS[alg]


def spec_for_cose_alg(alg: object) -> KeySpec:
    """The spec of a COSE ``alg`` value; VerificationError if it is not one of the six."""
    if isinstance(alg, bool) or not isinstance(alg, int) or alg not in _BY_COSE:
        raise VerificationError(f"unsupported COSE signature algorithm {alg!r}")
    return _BY_COSE[alg]


def der_to_raw(der: bytes, size: int) -> bytes:
    """DER ECDSA-Sig-Value -> fixed-width ``r || s`` (``size`` bytes each)."""
    r, s = decode_dss_signature(der)
    return r.to_bytes(size, "big") + s.to_bytes(size, "big")


def raw_to_der(raw: bytes, size: int) -> bytes:
    """Fixed-width ``r || s`` -> DER; VerificationError on a wrong length."""
    if len(raw) != 2 * size:
        raise VerificationError(
            f"ECDSA signature is {len(raw)} bytes, expected {2 * size} (raw r || s)"
        )
    return encode_dss_signature(
        int.from_bytes(raw[:size], "big"), int.from_bytes(raw[size:], "big")
    )


def _pss(spec: KeySpec) -> padding.PSS:
    return padding.PSS(mgf=padding.MGF1(spec.hash()), salt_length=padding.PSS.DIGEST_LENGTH)


class Scheme(enum.Enum):
    """How a primitive signer turns bytes into a signature (see the module docstring)."""

    NOTARY = "notary"
    CONTAINERS = "containers"
    SIGSTORE = "sigstore"


def sigstore_hash(key: Any) -> hashes.HashAlgorithm | None:
    """The hash ``Scheme.SIGSTORE`` signs with for ``key`` (None: Ed25519, no pre-hash)."""
    if isinstance(key, ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey):
        return key_spec_of(key).hash()
    if isinstance(key, ed25519.Ed25519PublicKey | ed25519.Ed25519PrivateKey):
        return None
    return hashes.SHA256()


def sign_with(private_key: Any, data: bytes, scheme: Scheme) -> bytes:
    """Sign ``data`` with a private key under ``scheme``."""
    if scheme is Scheme.NOTARY:
        return sign_raw(private_key, data)
    if isinstance(private_key, ec.EllipticCurvePrivateKey):
        digest = sigstore_hash(private_key) if scheme is Scheme.SIGSTORE else hashes.SHA256()
        assert digest is not None
        signature: bytes = private_key.sign(data, ec.ECDSA(digest))
    elif isinstance(private_key, rsa.RSAPrivateKey):
        signature = private_key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    elif isinstance(private_key, ed25519.Ed25519PrivateKey):
        signature = private_key.sign(data)
    else:
        raise SignatureError(f"unsupported key type {type(private_key).__name__}")
    return signature


def sign_raw(private_key: Any, data: bytes) -> bytes:
    """Sign ``data`` with the key's own algorithm; ECDSA comes back as raw ``r || s``."""
    spec = key_spec_of(private_key)
    if isinstance(private_key, rsa.RSAPrivateKey):
        return private_key.sign(data, _pss(spec), spec.hash())
    if not isinstance(private_key, ec.EllipticCurvePrivateKey):
        raise SignatureError("a private key is needed to sign")
    return der_to_raw(private_key.sign(data, ec.ECDSA(spec.hash())), spec.ec_size)


def verify_raw(
    public_key: Any, spec: KeySpec, data: bytes, signature: bytes, *, any_pss_salt: bool = False
) -> None:
    """Check ``signature`` over ``data``; VerificationError unless it verifies with ``spec``.

    The key must be of ``spec``'s type (the envelope's ``alg`` must match the key).
    ``any_pss_salt`` accepts any PSS salt length (golang-jwt does, for JWS); otherwise the
    salt must equal the hash length (go-cose's rule).
    """
    try:
        actual = key_spec_of(public_key)
    except SignatureError as exc:
        raise VerificationError(f"signing certificate key: {exc.message}") from None
    if actual != spec:
        raise VerificationError(
            f"signature algorithm {spec.jws_alg} does not match the signing certificate's "
            f"{actual.name} key (expected {actual.jws_alg})"
        )
    try:
        if isinstance(public_key, rsa.RSAPublicKey):
            pss = _pss(spec)
            if any_pss_salt:
                pss = padding.PSS(mgf=padding.MGF1(spec.hash()), salt_length=padding.PSS.AUTO)
            public_key.verify(signature, data, pss, spec.hash())
        else:
            der = raw_to_der(signature, spec.ec_size)
            public_key.verify(der, data, ec.ECDSA(spec.hash()))
    except InvalidSignature:
        raise VerificationError(
            "the signature does not verify with the signing certificate's key"
        ) from None
