"""PKCS#11 token keys (HSMs, smart cards, YubiKeys) as signer backends for every format.

A token key is a ``cryptography`` private-key object (:class:`TokenECKey`,
:class:`TokenRSAKey`) whose ``sign`` runs on the token, so :class:`LocalSigner` (Notary
JWS/COSE, cosign simple signing), ``x509.CertificateBuilder`` (test certificates),
Authenticode and ``PKCS7SignatureBuilder`` (boot artifacts) take it unchanged.

Hashing is done on the host and the mechanism is always named (python-pkcs11's defaults fit
no format here): ``CKM_ECDSA`` over the digest (raw ``r||s`` from the token, DER to the
caller), ``CKM_RSA_PKCS_PSS`` with MGF1 and salt = hash length, ``CKM_RSA_PKCS`` over a
DigestInfo; the ``CKM_<hash>_...`` mechanisms over the message when only those exist.

Threads: python-pkcs11 initialises modules without OS locking, so every call into a module
holds that module's one lock, and each token has one logged-in session per process (a second
login fails, and a session per thread crashed SoftHSM). Importing this module needs
python-pkcs11; everything else in ocisign imports it only for a ``pkcs11:`` reference.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

from ocisign.config.keystore import KeyEntry
from ocisign.errors import (
    CertificateError,
    KeyFileError,
    PassphraseError,
    SignatureError,
    UsageError,
)
from ocisign.keys import manage, pem
from ocisign.keys.algorithms import Scheme, key_spec_of
from ocisign.keys.pkcs11_uri import (
    PIN_HINT,
    Pkcs11Uri,
    ignore_token_certificate,
    is_pkcs11_ref,
    key_uri,
    parse_uri,
    read_pin,
)
from ocisign.signers.local import LocalSigner

try:
    import pkcs11
    from pkcs11 import MGF, Attribute, KeyType, Mechanism, ObjectClass, TokenFlag
    from pkcs11 import exceptions as p11
    from pkcs11.util.ec import encode_ec_public_key
except ImportError:  # pragma: no cover - the message is tested with the package hidden
    raise KeyFileError(
        "pkcs11: keys need the python-pkcs11 package, which is not installed",
        hint="pip install 'ocisign[pkcs11]'",
    ) from None

log = logging.getLogger(__name__)

Use = Scheme | None  # what a key will sign: Notary (PSS), containers/boot (PKCS#1 v1.5)


@dataclass(frozen=True)
class _Hash:
    mech: Mechanism
    mgf: MGF
    digest_info: bytes
    ecdsa: Mechanism
    rsa_pkcs: Mechanism
    rsa_pss: Mechanism


_HASHES = {
    "sha256": _Hash(Mechanism.SHA256, MGF.SHA256,
                    bytes.fromhex("3031300d060960864801650304020105000420"),
                    Mechanism.ECDSA_SHA256, Mechanism.SHA256_RSA_PKCS,
                    Mechanism.SHA256_RSA_PKCS_PSS),
    "sha384": _Hash(Mechanism.SHA384, MGF.SHA384,
                    bytes.fromhex("3041300d060960864801650304020205000430"),
                    Mechanism.ECDSA_SHA384, Mechanism.SHA384_RSA_PKCS,
                    Mechanism.SHA384_RSA_PKCS_PSS),
    "sha512": _Hash(Mechanism.SHA512, MGF.SHA512,
                    bytes.fromhex("3051300d060960864801650304020305000440"),
                    Mechanism.ECDSA_SHA512, Mechanism.SHA512_RSA_PKCS,
                    Mechanism.SHA512_RSA_PKCS_PSS),
}


# -- modules, tokens, the one session ----------------------------------------------------


@dataclass
class _Module:
    """One loaded PKCS#11 module: its lock (held around every call) and its sessions."""

    path: str
    lib: Any
    lock: threading.Lock = field(default_factory=threading.Lock)
    sessions: dict[bytes, _Session] = field(default_factory=dict)
    logins: int = 0


@dataclass
class _Session:
    """The one session of this process on one token (logged in if the token needs it)."""

    module: _Module
    token: pkcs11.Token
    session: pkcs11.Session
    label: str
    mechanisms: frozenset[Any]


@dataclass(frozen=True)
class _Selector:
    """Which token: ``slot-id`` wins over ``token``; serial/manufacturer/model filter."""

    slot_id: int | None = None
    label: str | None = None
    serial: str | None = None
    manufacturer: str | None = None
    model: str | None = None

    @classmethod
    def of(cls, uri: Pkcs11Uri) -> _Selector:
        return cls(uri.slot_id, uri.token, uri.attr("serial"), uri.attr("manufacturer"),
                   uri.attr("model"))

    def describe(self) -> str:
        return f"in slot {self.slot_id}" if self.slot_id is not None else repr(self.label)

    def matches(self, slot_id: int, token: pkcs11.Token) -> bool:
        if self.slot_id is not None:
            if slot_id != self.slot_id:
                return False
        elif token.label != self.label:
            return False
        return all(
            want is None or want == have
            for want, have in ((self.serial, _text(token.serial)),
                               (self.manufacturer, token.manufacturer_id),
                               (self.model, token.model))
        )


_modules: dict[str, _Module] = {}
_pool_lock = threading.Lock()


def _text(value: bytes | str) -> str:
    return (value.decode("utf-8", "replace") if isinstance(value, bytes) else value).strip()


def _module(path: str) -> _Module:
    """The loaded module at ``path`` (loaded once per process); call with ``_pool_lock``."""
    real = os.path.realpath(path)
    module = _modules.get(real)
    if module is None:
        try:
            lib = pkcs11.lib(real)
        except (p11.PKCS11Error, OSError, RuntimeError) as err:
            raise KeyFileError(
                f"cannot load the PKCS#11 module {path}: {type(err).__name__} {err}".strip(),
                hint="is it a PKCS#11 module (.so) for this machine, and is its package "
                     "installed?",
            ) from None
        module = _modules[real] = _Module(path, lib)
    return module


def _slots(module: _Module) -> list[tuple[int, pkcs11.Token]]:
    found = []
    for slot in module.lib.get_slots(token_present=True):
        try:
            found.append((slot.slot_id, slot.get_token()))
        except p11.PKCS11Error:
            continue  # as cosign: a slot whose token info fails is skipped
    return found


def _session(module_path: str, selector: _Selector, pin: Callable[[str], str]) -> _Session:
    """This process's session on the selected token; logs in (once) if the token needs it."""
    with _pool_lock:
        module = _module(module_path)
        with module.lock:
            token = _one_token(module, module_path, selector)
            serial = bytes(token.serial)
            known_session = module.sessions.get(serial)
            if known_session is not None:
                return known_session
            session = _login(module, token, pin)
            opened = _Session(module, token, session, token.label,
                              frozenset(token.slot.get_mechanisms()))
            module.sessions[serial] = opened
            return opened


def _one_token(module: _Module, module_path: str, selector: _Selector) -> pkcs11.Token:
    """The one token of ``module`` that ``selector`` names (KeyFileError if none or several).
    The caller holds ``module.lock``."""
    tokens = [t for slot, t in _slots(module) if selector.matches(slot, t)]
    if not tokens:
        known = ", ".join(repr(t.label) for _, t in _slots(module)) or "none"
        raise KeyFileError(
            f"no PKCS#11 token {selector.describe()} in {module_path} (tokens: {known})",
            hint=f"see 'ocisign pkcs11-tool list-tokens --module-path {module_path}'",
        )
    if len(tokens) > 1:
        serials = ", ".join(_text(t.serial) for t in tokens)
        raise KeyFileError(
            f"{len(tokens)} PKCS#11 tokens {selector.describe()} in {module_path} "
            f"(serials {serials})", hint="add serial=... to the URI",
        )
    return tokens[0]


def _login(module: _Module, token: pkcs11.Token, pin: Callable[[str], str]) -> pkcs11.Session:
    label = token.label
    if TokenFlag.LOGIN_REQUIRED not in token.flags:
        return token.open()
    secret = pin(label)
    try:
        session = token.open(user_pin=secret)
    except (p11.PinIncorrect, p11.PinInvalid, p11.PinLenRange):
        raise PassphraseError(
            f"wrong PIN for PKCS#11 token {label!r}",
            hint=f"{PIN_HINT}; a few more wrong tries lock the token",
        ) from None
    except p11.PinLocked:
        raise PassphraseError(f"the PIN of PKCS#11 token {label!r} is locked",
                              hint="unlock it with the security officer PIN") from None
    except p11.PinExpired:
        raise PassphraseError(f"the PIN of PKCS#11 token {label!r} has expired",
                              hint="set a new PIN with the token's own tool") from None
    except p11.UserAlreadyLoggedIn:
        return token.open()  # logged in by this application already
    module.logins += 1
    log.debug("PKCS#11: logged in to token %r in %s", label, module.path)
    return session


@atexit.register
def _close_all() -> None:
    """Close (and so log out of) every session; never waits long on a busy module."""
    for module in list(_modules.values()):
        if not module.lock.acquire(timeout=5):
            continue
        try:
            for opened in module.sessions.values():
                with contextlib.suppress(p11.PKCS11Error):
                    opened.session.close()
            module.sessions.clear()
        finally:
            module.lock.release()


def login_count() -> int:
    """How many logins this process made (one per token at most)."""
    return sum(m.logins for m in _modules.values())


def _uri_session(uri: Pkcs11Uri) -> _Session:
    return _session(uri.module_path(), _Selector.of(uri),
                    lambda label: read_pin(uri.pin_value, uri.pin_source, label))


def _p11_error(what: str, err: p11.PKCS11Error) -> NoReturn:
    raise KeyFileError(f"{what}: PKCS#11 error {type(err).__name__} {err}".strip(),
                       hint="check the token is present and the URI names the right object")


# -- the key objects ---------------------------------------------------------------------


def _no_secret() -> NoReturn:
    raise KeyFileError("the private key is on the PKCS#11 token; it cannot be exported or "
                       "used for this", hint="use a key file for this operation")


class _TokenKey:
    """What both key types share: the object on the token, its public key, the lock."""

    def __init__(self, opened: _Session, obj: Any, public: Any, uri: Pkcs11Uri) -> None:
        self._opened = opened
        self._obj = obj
        self._public = public
        self.uri = uri

    @property
    def token_label(self) -> str:
        return self._opened.label

    def _has(self, mechanism: Mechanism) -> bool:
        return mechanism in self._opened.mechanisms

    def _missing(self, kind: str, first: Mechanism, second: Mechanism, why: str = "",
                 ) -> NoReturn:
        raise KeyFileError(
            f"PKCS#11 token {self.token_label!r} cannot make {kind} signatures: its module "
            f"offers neither CKM_{first.name} nor CKM_{second.name}{why}",
            hint="use a token or key slot that supports it ('pkcs11-tool -M' lists the "
                 "mechanisms)",
        )

    def _sign(self, data: bytes, mechanism: Mechanism, param: Any = None) -> bytes:
        with self._opened.module.lock:
            try:
                return bytes(self._obj.sign(data, mechanism=mechanism, mechanism_param=param))
            except p11.PKCS11Error as err:
                raise SignatureError(
                    f"PKCS#11 token {self.token_label!r} failed to sign with "
                    f"{mechanism.name}: {type(err).__name__}",
                    hint="check the token is still present and the key may sign "
                         "(CKA_SIGN)",
                ) from None

    def public_key(self) -> Any:
        return self._public

    @property
    def key_size(self) -> int:
        return int(self._public.key_size)

    def private_numbers(self) -> NoReturn:
        _no_secret()

    def private_bytes(self, *args: object) -> NoReturn:
        _no_secret()

    def __copy__(self) -> Any:
        return self

    def __deepcopy__(self, memo: dict[int, object]) -> Any:
        return self


def _digest(data: bytes, algorithm: Any) -> tuple[bytes, _Hash, bool]:
    """(digest, hash parameters, was the input pre-hashed)."""
    if isinstance(algorithm, utils.Prehashed):
        algorithm, prehashed = algorithm._algorithm, True
    else:
        prehashed = False
    params = _HASHES.get(algorithm.name)
    if params is None:
        raise SignatureError(f"PKCS#11 signing does not support hash {algorithm.name}",
                             hint="use SHA-256, SHA-384 or SHA-512")
    if prehashed:
        return data, params, True
    h = hashes.Hash(algorithm)
    h.update(data)
    return h.finalize(), params, False


class TokenECKey(_TokenKey, ec.EllipticCurvePrivateKey):
    """An EC private key on a token; ``sign`` returns DER, as ``cryptography`` does."""

    @property
    def curve(self) -> ec.EllipticCurve:
        return self._public.curve  # type: ignore[no-any-return]

    def exchange(self, *args: object) -> NoReturn:
        _no_secret()

    def check(self, algorithm: hashes.HashAlgorithm) -> None:
        """KeyFileError now, before a batch, if the token cannot sign with ``algorithm``."""
        params = _HASHES[algorithm.name]
        if not (self._has(Mechanism.ECDSA) or self._has(params.ecdsa)):
            self._missing("ECDSA", Mechanism.ECDSA, params.ecdsa)

    def sign(self, data: Any, signature_algorithm: Any) -> bytes:
        if not isinstance(signature_algorithm, ec.ECDSA):
            raise SignatureError("a PKCS#11 EC key signs with ECDSA only")
        digest, params, prehashed = _digest(bytes(data), signature_algorithm.algorithm)
        if self._has(Mechanism.ECDSA):
            raw = self._sign(digest, Mechanism.ECDSA)
        elif self._has(params.ecdsa) and not prehashed:
            raw = self._sign(bytes(data), params.ecdsa)
        else:
            self._missing("ECDSA", Mechanism.ECDSA, params.ecdsa)
        half = len(raw) // 2
        return utils.encode_dss_signature(int.from_bytes(raw[:half], "big"),
                                          int.from_bytes(raw[half:], "big"))


class TokenRSAKey(_TokenKey, rsa.RSAPrivateKey):
    """An RSA private key on a token: RSASSA-PSS or PKCS#1 v1.5 signatures."""

    def decrypt(self, *args: object) -> NoReturn:
        _no_secret()

    def check(self, algorithm: hashes.HashAlgorithm, pss: bool) -> None:
        """KeyFileError now, before a batch, if the token cannot sign this way."""
        params = _HASHES[algorithm.name]
        if pss and not (self._has(Mechanism.RSA_PKCS_PSS) or self._has(params.rsa_pss)):
            self._missing("RSASSA-PSS", Mechanism.RSA_PKCS_PSS, params.rsa_pss,
                          " (Notary Project RSA keys sign with RSASSA-PSS)")
        if not pss and not (self._has(Mechanism.RSA_PKCS) or self._has(params.rsa_pkcs)):
            self._missing("PKCS#1 v1.5", Mechanism.RSA_PKCS, params.rsa_pkcs)

    def sign(self, data: Any, padding_: Any, algorithm: Any) -> bytes:
        message = bytes(data)
        digest, params, prehashed = _digest(message, algorithm)
        if isinstance(padding_, padding.PSS):
            mgf = padding_._mgf
            if not isinstance(mgf, padding.MGF1) or mgf._algorithm.name != _name(algorithm):
                raise SignatureError("PKCS#11 RSASSA-PSS needs MGF1 with the signing hash")
            salt = padding_._salt_length
            if isinstance(salt, padding._DigestLength):
                salt = len(digest)
            if not isinstance(salt, int):
                raise SignatureError("PKCS#11 RSASSA-PSS needs an explicit salt length",
                                     hint="ocisign signs with salt = hash length")
            param = (params.mech, params.mgf, salt)
            if self._has(Mechanism.RSA_PKCS_PSS):
                return self._sign(digest, Mechanism.RSA_PKCS_PSS, param)
            if self._has(params.rsa_pss) and not prehashed:
                return self._sign(message, params.rsa_pss, param)
            self.check(_hash_of(algorithm), pss=True)
        if isinstance(padding_, padding.PKCS1v15):
            if self._has(Mechanism.RSA_PKCS):
                return self._sign(params.digest_info + digest, Mechanism.RSA_PKCS)
            if self._has(params.rsa_pkcs) and not prehashed:
                return self._sign(message, params.rsa_pkcs)
            self.check(_hash_of(algorithm), pss=False)
        raise SignatureError(f"PKCS#11 RSA keys do not sign with {type(padding_).__name__}")


def _hash_of(algorithm: Any) -> hashes.HashAlgorithm:
    inner = algorithm._algorithm if isinstance(algorithm, utils.Prehashed) else algorithm
    assert isinstance(inner, hashes.HashAlgorithm)
    return inner


def _name(algorithm: Any) -> str:
    return _hash_of(algorithm).name


TokenKey = TokenECKey | TokenRSAKey


# -- finding objects ---------------------------------------------------------------------


def _find(opened: _Session, cls: ObjectClass, key_id: bytes | None, label: str | None,
          ) -> list[Any]:
    """Objects of ``cls`` with CKA_ID ``key_id`` (wins, as in cosign), else CKA_LABEL."""
    attrs: dict[Attribute, Any] = {Attribute.CLASS: cls}
    if key_id:
        attrs[Attribute.ID] = key_id
    elif label:
        attrs[Attribute.LABEL] = label
    with opened.module.lock:
        try:
            return list(opened.session.get_objects(attrs))
        except p11.PKCS11Error as err:
            _p11_error(f"searching PKCS#11 token {opened.label!r}", err)


def _describe(key_id: bytes | None, label: str | None) -> str:
    return f"id={key_id.hex()}" if key_id else f"object={label!r}"


def _public_of(opened: _Session, obj: Any, key_id: bytes | None, label: str | None,
               ) -> PublicKeyTypes | None:
    """The public key: the CKO_PUBLIC_KEY beside the private key ``obj`` (None: no private
    key), else ``obj``'s RSA modulus, else the key of the first matching certificate."""
    for pub in _find(opened, ObjectClass.PUBLIC_KEY, key_id, label):
        with opened.module.lock:
            if pub.key_type == KeyType.EC:
                return serialization.load_der_public_key(encode_ec_public_key(pub))
            if pub.key_type == KeyType.RSA:
                return _rsa_public(pub[Attribute.MODULUS], pub[Attribute.PUBLIC_EXPONENT])
    if obj is not None and obj.key_type == KeyType.RSA:
        with opened.module.lock:
            try:
                return _rsa_public(obj[Attribute.MODULUS], obj[Attribute.PUBLIC_EXPONENT])
            except p11.PKCS11Error:
                pass
    certs = _certificates(opened, key_id, label)
    return certs[0].public_key() if certs else None


def _rsa_public(modulus: bytes, exponent: bytes) -> rsa.RSAPublicKey:
    return rsa.RSAPublicNumbers(int.from_bytes(exponent, "big"),
                                int.from_bytes(modulus, "big")).public_key()


def _certificates(opened: _Session, key_id: bytes | None, label: str | None,
                  ) -> list[x509.Certificate]:
    certs = []
    for obj in _find(opened, ObjectClass.CERTIFICATE, key_id, label):
        with opened.module.lock:
            value = bytes(obj[Attribute.VALUE])
        try:
            certs.append(x509.load_der_x509_certificate(value))
        except ValueError:
            raise CertificateError(f"a certificate on PKCS#11 token {opened.label!r} "
                                   f"({_describe(key_id, label)}) is not valid DER") from None
    return certs


def open_key(ref: str, use: Use = Scheme.NOTARY) -> TokenKey:
    """The private key a ``pkcs11:`` URI names, checked to sign for ``use`` on its token.

    ``use``: ``Scheme.NOTARY`` (PSS for RSA, the key's own hash), ``Scheme.CONTAINERS``
    (cosign simple signing, Authenticode, PKCS#7: SHA-256, PKCS#1 v1.5), None (no check).
    """
    uri = parse_uri(ref)
    opened = _uri_session(uri)
    key_id, label = uri.id, uri.label
    where = f"{_describe(key_id, label)} on PKCS#11 token {opened.label!r}"
    found = _find(opened, ObjectClass.PRIVATE_KEY, key_id, label)
    if not found:
        raise KeyFileError(
            f"no private key {where}",
            hint="list the keys with 'ocisign pkcs11-tool list-keys-uris --module-path "
                 f"{uri.module_path()} --token-label {opened.label}'",
        )
    if len(found) > 1:
        raise KeyFileError(f"{len(found)} private keys match {where}",
                           hint="add id= to the URI (see 'ocisign pkcs11-tool list-keys-uris')")
    obj = found[0]
    with opened.module.lock:
        always = _attr(obj, Attribute.ALWAYS_AUTHENTICATE, False)
        own_id = _attr(obj, Attribute.ID, b"") or None
        key_type = obj.key_type
    if always:
        raise KeyFileError(f"the private key {where} needs its PIN for every signature "
                           "(CKA_ALWAYS_AUTHENTICATE), which ocisign does not support",
                           hint="use a key slot without a per-signature PIN (PIV: 9a, not 9c)")
    public = _public_of(opened, obj, own_id or key_id, label)
    if public is None:
        raise KeyFileError(f"no public key or certificate for the private key {where}",
                           hint="write the certificate to the token with the key's id")
    key: TokenKey
    if key_type == KeyType.EC and isinstance(public, ec.EllipticCurvePublicKey):
        key = TokenECKey(opened, obj, public, uri)
    elif key_type == KeyType.RSA and isinstance(public, rsa.RSAPublicKey):
        key = TokenRSAKey(opened, obj, public, uri)
    else:
        raise KeyFileError(f"the private key {where} is neither RSA nor EC",
                           hint="ocisign signs with RSA and ECDSA keys")
    _check_use(key, use)
    return key


def open_public_key(ref: str) -> PublicKeyTypes:
    """The public key a ``pkcs11:`` URI names (``validate --sigstore-pubkey pkcs11:...``).

    Read in a session of its own without logging in, as cosign's verify does: public key
    and certificate objects are public. The CKO_PUBLIC_KEY wins, else the certificate.
    """
    uri = parse_uri(ref, kind=("public", "private", "cert"))
    selector = _Selector.of(uri)
    with _pool_lock:
        module = _module(uri.module_path())
        with module.lock:
            token = _one_token(module, uri.module_path(), selector)
            try:
                session = token.open()
            except p11.PKCS11Error as err:
                _p11_error(f"opening PKCS#11 token {token.label!r}", err)
    opened = _Session(module, token, session, token.label, frozenset())
    try:
        key_id, label = uri.id, uri.label
        found = _public_of(opened, None, key_id, label)
    finally:
        with module.lock, contextlib.suppress(p11.PKCS11Error):
            session.close()
    if found is None:
        raise KeyFileError(f"no public key or certificate {_describe(key_id, label)} on "
                           f"PKCS#11 token {token.label!r}",
                           hint="list the keys with 'ocisign pkcs11-tool list-keys-uris'")
    return found


def _attr(obj: Any, name: Attribute, default: Any) -> Any:
    try:
        return obj[name]
    except p11.PKCS11Error:
        return default


def _check_use(key: TokenKey, use: Use) -> None:
    """Notary: the key's own spec (PSS for RSA); containers/boot: SHA-256, PKCS#1 v1.5."""
    if use is None:
        return
    algorithm = key_spec_of(key).hash() if use is Scheme.NOTARY else hashes.SHA256()
    if isinstance(key, TokenECKey):
        key.check(algorithm)
    else:
        key.check(algorithm, pss=use is Scheme.NOTARY)


def load_chain(key: TokenKey, cert_ref: str | None) -> list[x509.Certificate]:
    """The key's certificate chain, leaf first: from a file, a ``type=cert`` URI, or the token.

    With no ``cert_ref``: the certificates on the key's token with its CKA_ID (else its
    label), as cosign looks them up; empty when there are none (or
    ``$OCISIGN_PKCS11_IGNORE_CERTIFICATE=1``). A leaf that is not the key's is refused.
    """
    if cert_ref and not is_pkcs11_ref(cert_ref):
        certs = pem.load_certificates(cert_ref)
    elif cert_ref:
        uri = parse_uri(cert_ref, kind="cert")
        certs = _certificates(_uri_session(uri), uri.id, uri.label)
        if not certs:
            raise CertificateError(f"no certificate {_describe(uri.id, uri.label)} on PKCS#11 "
                                   f"token {uri.token or uri.slot_id!r}",
                                   hint="check the certPath URI (see pkcs11-tool -O)")
    elif ignore_token_certificate():
        return []
    else:
        with key._opened.module.lock:
            own_id = _attr(key._obj, Attribute.ID, b"") or None
            own_label = _attr(key._obj, Attribute.LABEL, "") or None
        certs = _certificates(key._opened, own_id, None if own_id else own_label)
        if not certs and own_id and own_label:
            certs = _certificates(key._opened, None, own_label)
    mine = pem.public_key_der(key)
    leaves = [c for c in certs if pem.certificate_public_key_der(c) == mine]
    if certs and not leaves:
        raise CertificateError(
            f"the PKCS#11 key {key.uri.redacted()!r} and its certificate do not match",
            hint="the certificate (file, URI or token object) must be the one issued for "
                 "this key",
        )
    return leaves[:1] + [c for c in certs if c is not leaves[0]] if leaves else []


def token_signer(key_ref: str, cert_ref: str | None) -> LocalSigner:
    """A Notary ``Signer`` (JWS/COSE) over a token key and its chain."""
    key = open_key(key_ref, Scheme.NOTARY)
    chain = load_chain(key, cert_ref)
    if not chain:
        raise CertificateError(
            f"no certificate for the PKCS#11 key {key.uri.redacted()!r}",
            hint="Notary signatures need a chain: set certPath (ocisign key add --cert-file), "
                 "or write the certificate to the token with the key's id",
        )
    return LocalSigner(key, chain)


# -- the key store -----------------------------------------------------------------------


def _storable(ref: str) -> Pkcs11Uri:
    uri = parse_uri(ref)
    if uri.pin_value is not None:
        raise UsageError("refusing to store a PKCS#11 PIN in the key store (pin-value)",
                         hint="use pin-source=file:/path in the URI, or set OCISIGN_PKCS11_PIN")
    return uri


def add_token_key(name: str, ref: str, cert_ref: str | None, default: bool) -> KeyEntry:
    """``key add NAME --pkcs11-uri URI [--cert-file F]``: check the token key, store the URI.

    The certificate comes from ``cert_ref`` (a file or a ``type=cert`` URI), else from the
    token (stored as the ``type=cert`` URI of the key).
    """
    manage.check_new_name(name)
    uri = _storable(ref)
    key = open_key(ref, Scheme.NOTARY)
    chain = load_chain(key, cert_ref)
    if not chain:
        raise CertificateError(
            f"no certificate for the PKCS#11 key {uri.redacted()!r} on its token",
            hint="pass --cert-file with the certificate chain (leaf first), or write the "
                 "certificate to the token with the key's id",
        )
    stored = cert_ref if cert_ref and is_pkcs11_ref(cert_ref) else (
        str(Path(cert_ref).resolve()) if cert_ref else uri.with_type("cert"))
    return manage.register_key(name, ref, stored, key, chain, default)


def generate_token_key(name: str, ref: str, days: int, default: bool) -> manage.GeneratedKey:
    """``key generate NAME --pkcs11-uri URI``: a test certificate signed by the token key."""
    manage.check_new_name(name)
    _storable(ref)
    return manage.certify_key(name, open_key(ref, Scheme.NOTARY), days, default, key_ref=ref)


# -- pkcs11-tool -------------------------------------------------------------------------


@dataclass(frozen=True)
class TokenInfo:
    """One row of ``pkcs11-tool list-tokens``."""

    slot: int
    label: str
    manufacturer: str
    model: str
    serial: str


@dataclass(frozen=True)
class KeyInfo:
    """One row of ``pkcs11-tool list-keys-uris``."""

    label: str
    id: bytes
    uri: str


def _tool_module(module_path: str | None) -> str:
    path = module_path or next(
        (os.environ[n] for n in ("OCISIGN_PKCS11_MODULE_PATH", "COSIGN_PKCS11_MODULE_PATH")
         if os.environ.get(n)), "")
    if not path or not os.path.isabs(path):
        raise UsageError("--module-path must be the absolute path of a PKCS#11 module",
                         hint="e.g. --module-path /usr/lib/softhsm/libsofthsm2.so")
    if not os.path.isfile(path):
        raise KeyFileError(f"PKCS#11 module {path} does not exist",
                           hint="install the token's PKCS#11 module or fix the path")
    return path


def list_tokens(module_path: str | None) -> tuple[str, list[TokenInfo]]:
    """The tokens present in the module's slots (cosign's ``list-tokens``)."""
    path = _tool_module(module_path)
    with _pool_lock:
        module = _module(path)
        with module.lock:
            rows = [TokenInfo(slot, t.label, t.manufacturer_id, t.model, _text(t.serial))
                    for slot, t in _slots(module)]
    return path, rows


def list_key_uris(module_path: str | None, slot_id: int | None, token_label: str | None,
                  pin: str | None, *, include_pin: bool = False,
                  with_slot_id: bool = False) -> tuple[str, _Selector, list[KeyInfo]]:
    """The private keys on one token with their URIs (cosign's ``list-keys-uris``).

    The URIs name the token by label (slot ids of SoftHSM change when a token is made
    again); ``with_slot_id`` adds ``slot-id``, ``include_pin`` the PIN given.
    """
    path = _tool_module(module_path)
    selector = _Selector(slot_id=slot_id if token_label is None else None, label=token_label)
    given: list[str] = []

    def ask(label: str) -> str:
        given.append(read_pin(pin, None, label))
        return given[-1]

    opened = _session(path, selector, ask)
    with opened.module.lock:
        slot = opened.token.slot.slot_id
        try:
            objects = list(opened.session.get_objects({Attribute.CLASS: ObjectClass.PRIVATE_KEY}))
            attrs = [(_attr(o, Attribute.ID, b"") or b"", _attr(o, Attribute.LABEL, "") or "")
                     for o in objects]
        except p11.PKCS11Error as err:
            _p11_error(f"listing the keys of PKCS#11 token {opened.label!r}", err)
    shown_pin = (given[0] if given else pin) if include_pin else None
    rows = [
        KeyInfo(label, bytes(key_id),
                key_uri(path, opened.label, label or None, bytes(key_id) or None,
                        slot if with_slot_id else None, shown_pin))
        for key_id, label in attrs if key_id or label
    ]
    return path, _Selector(slot_id=slot, label=opened.label), rows

