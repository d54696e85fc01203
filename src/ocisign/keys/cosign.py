"""cosign / sigstore encrypted private keys (scrypt + NaCl secretbox around PKCS#8 DER).

Format (cosign ``pkg/cosign/keys.go``, go-securesystemslib ``encrypted``): a PEM block
labelled ``ENCRYPTED SIGSTORE PRIVATE KEY`` (what cosign >= 2 writes, and what we write)
or ``ENCRYPTED COSIGN PRIVATE KEY`` (older cosign, containers/image); its body is JSON
``{"kdf": {"name": "scrypt", "params": {"N", "r", "p"}, "salt"}, "cipher":
{"name": "nacl/secretbox", "nonce"}, "ciphertext"}`` with base64 byte fields.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from collections.abc import Callable
from pathlib import Path

import nacl.exceptions
import nacl.secret
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from ocisign.errors import KeyFileError, PassphraseError
from ocisign.keys.pem import PrivateKey, parse_private_key, read_file
from ocisign.util.encoding import decode_std

SIGSTORE_LABEL = "ENCRYPTED SIGSTORE PRIVATE KEY"
COSIGN_LABEL = "ENCRYPTED COSIGN PRIVATE KEY"
LABELS = (SIGSTORE_LABEL, COSIGN_LABEL)
# the only scrypt parameter sets cosign accepts (N, r, p): legacy, current default, and high
ACCEPTED_SCRYPT = {(32768, 8, 1), (65536, 8, 1), (131072, 8, 1)}
DEFAULT_N = 65536
SALT_SIZE = 32
_BLOCK = re.compile(
    rb"-----BEGIN (ENCRYPTED (?:SIGSTORE|COSIGN) PRIVATE KEY)-----\r?\n(.*?)-----END \1-----",
    re.DOTALL,
)


def is_cosign_key(pem: bytes) -> bool:
    """True when ``pem`` holds an encrypted cosign/sigstore private key block."""
    return _BLOCK.search(pem) is not None


def _b64(value: object, field: str, source: str) -> bytes:
    return decode_std(value, f"{source}: encrypted key field {field!r}", KeyFileError)


def _derive(passphrase: bytes, salt: bytes, n: int, r: int, p: int) -> bytes:
    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(passphrase)


def _is_pkcs8(der: bytes) -> bool:
    """True when ``der`` is a PKCS#8 PrivateKeyInfo: SEQUENCE { INTEGER, SEQUENCE, ... }.

    SEC1 (``EC PRIVATE KEY``) has an OCTET STRING after the version and PKCS#1 an INTEGER,
    so the tag of the second element tells them apart.
    """
    if len(der) < 2 or der[0] != 0x30:
        return False
    pos = 2 + (der[1] & 0x7F if der[1] & 0x80 else 0)  # skip the outer SEQUENCE header
    if pos + 2 > len(der) or der[pos] != 0x02:  # version INTEGER (short form length)
        return False
    pos += 2 + der[pos + 1]
    return pos < len(der) and der[pos] == 0x30  # AlgorithmIdentifier SEQUENCE


def decrypt_private_key(pem: bytes, passphrase: bytes, source: str = "encrypted key") -> PrivateKey:
    """Decrypt a cosign/sigstore encrypted key; wrong passphrase -> PassphraseError."""
    match = _BLOCK.search(pem)
    if match is None:
        raise KeyFileError(
            f"{source} is not a cosign/sigstore encrypted private key",
            hint=f"expected a PEM block labelled {SIGSTORE_LABEL!r} or {COSIGN_LABEL!r}",
        )
    try:
        doc = json.loads(base64.b64decode(b"".join(match.group(2).split()), validate=True))
        kdf, cipher = doc["kdf"], doc["cipher"]
        params = kdf["params"]
        n, r, p = int(params["N"]), int(params["r"]), int(params["p"])
        kdf_name, cipher_name = kdf["name"], cipher["name"]
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise KeyFileError(
            f"{source}: malformed encrypted key (bad base64 or JSON body)",
            hint="the file may be truncated or edited; generate a new key pair",
        ) from None
    if kdf_name != "scrypt" or cipher_name != "nacl/secretbox":
        raise KeyFileError(f"{source}: unsupported encryption {kdf_name}/{cipher_name}")
    if (n, r, p) not in ACCEPTED_SCRYPT:
        raise KeyFileError(
            f"{source}: unsupported scrypt parameters N={n} r={r} p={p}",
            hint="cosign accepts only N=32768, 65536 or 131072 with r=8 p=1",
        )
    salt = _b64(kdf.get("salt"), "kdf.salt", source)
    nonce = _b64(cipher.get("nonce"), "cipher.nonce", source)
    ciphertext = _b64(doc.get("ciphertext"), "ciphertext", source)
    if len(nonce) != 24:
        raise KeyFileError(f"{source}: secretbox nonce must be 24 bytes, not {len(nonce)}")


    box = nacl.secret.SecretBox(_derive(passphrase, salt, n, r, p))
    try:
        der = bytes(box.decrypt(ciphertext, nonce))
    except nacl.exceptions.CryptoError:
        raise PassphraseError(
            f"decrypting private key {source}: wrong passphrase?",
            hint="check --passphrase-file, OCISIGN_KEY_PASSPHRASE or COSIGN_PASSWORD",
        ) from None
    if not _is_pkcs8(der):
        raise KeyFileError(
            f"parsing private key {source}: the decrypted key is not PKCS#8",
            hint="cosign accepts only PKCS#8 keys inside; re-encrypt it with "
            "'ocisign key generate-pair' or cosign import-key-pair",
        )
    return parse_private_key(der, source)


def encrypt_private_key(key: PrivateKey, passphrase: bytes, n: int = DEFAULT_N) -> bytes:
    """PEM ``ENCRYPTED SIGSTORE PRIVATE KEY`` of ``key`` (PKCS#8 inside, fresh salt/nonce)."""
    if (n, 8, 1) not in ACCEPTED_SCRYPT:
        raise ValueError(f"unsupported scrypt N={n}")

    der = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    salt = os.urandom(SALT_SIZE)
    nonce = os.urandom(nacl.secret.SecretBox.NONCE_SIZE)
    box = nacl.secret.SecretBox(_derive(passphrase, salt, n, 8, 1))
    ciphertext = box.encrypt(der, nonce).ciphertext
    doc = {
        "kdf": {
            "name": "scrypt",
            "params": {"N": n, "r": 8, "p": 1},
            "salt": base64.b64encode(salt).decode(),
        },
        "cipher": {"name": "nacl/secretbox", "nonce": base64.b64encode(nonce).decode()},
        "ciphertext": base64.b64encode(ciphertext).decode(),
    }
    body = base64.b64encode(json.dumps(doc, separators=(",", ":")).encode()).decode()
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    block = [f"-----BEGIN {SIGSTORE_LABEL}-----", *lines, f"-----END {SIGSTORE_LABEL}-----", ""]
    return "\n".join(block).encode()


def load_signing_key(path: Path | str, passphrase_getter: Callable[[], bytes]) -> PrivateKey:
    """Load a plain PEM/DER private key, or a cosign/sigstore encrypted one.

    ``passphrase_getter`` is called only when the key is encrypted.
    """
    data = read_file(path, "key file")
    if is_cosign_key(data):
        return decrypt_private_key(data, passphrase_getter(), str(path))
    return parse_private_key(data, str(path))
