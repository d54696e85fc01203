"""Certificate revocation with OCSP and CRLs, as notation 1.3 (notation-core-go) does it.

Per certificate of a chain but the root (notation-core-go ``revocation.ValidateContext``):
OCSP when the certificate names an OCSP server (its AIA), falling back to the CRL when
every OCSP server left the status unknown; the CRL alone when there is no OCSP server;
no endpoint at all (and the root) is "NonRevokable", which counts as good. Results per
certificate are ``OK``, ``Revoked``, ``Unknown`` (a responder down, an expired or
badly signed answer) or ``NonRevokable``; :func:`final_result` folds them into one the
way notation-go's ``revocationFinalResult`` does (any revoked wins, else any unknown).

OCSP (RFC 6960): a SHA-1 CertID request with a nonce (GET when short, as Go does, else
POST), 2 s per request; the response must be signed by the issuer or by a delegated
responder it issued (EKU OCSPSigning), name the certificate, echo the nonce when it
carries one, and be inside thisUpdate..nextUpdate (a response without nextUpdate is
expired, as in Go). CRLs (RFC 5280): HTTP only, 5 s, 32 MiB, DER; signed by the issuer,
named after it, nextUpdate set and not passed, no unknown critical extension; a delta CRL
(base CRL's FreshestCRL) must be newer than its base; certificateHold/removeFromCRL
follow notation's rule. An entry's invalidityDate after the authentic signing time
(``signing_time``, the notary.x509.signingAuthority scheme) is not a revocation.
CRLs are cached under ``cache_dir`` as notation does (``<sha256(url)>`` holding
``{"baseCRL": b64, "deltaCRL": b64}``), a cached bundle used while it is effective;
cache errors are discarded with one warning.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import os
import threading
import urllib.parse
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID

from ocisign.util.fs import atomic_write, ensure_dir

OCSP_TIMEOUT = 2.0  # notation's OCSP HTTP client
CRL_TIMEOUT = 5.0  # notation's CRL HTTP client
MAX_OCSP = 20480
MAX_CRL = 32 * 1024 * 1024
CACHE_WARNING = (
    "CRL cache error discarded. Enable debug log through '-d' for error details."
)
_SKEW = timedelta(minutes=5)


class Result(StrEnum):
    """notation-core-go ``result.Result``."""

    OK = "OK"
    NON_REVOKABLE = "NonRevokable"
    UNKNOWN = "Unknown"
    REVOKED = "Revoked"

    @property
    def good(self) -> bool:
        return self in (Result.OK, Result.NON_REVOKABLE)


@dataclass(frozen=True)
class ServerResult:
    """What one OCSP server or CRL distribution point said."""

    method: str  # OCSP | CRL
    server: str
    result: Result
    error: str = ""


@dataclass(frozen=True)
class CertResult:
    """The revocation verdict on one certificate and how it was reached."""

    subject: str
    result: Result
    method: str  # OCSP | CRL | OCSPFallbackCRL | Unknown (no endpoint / root)
    servers: list[ServerResult] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        """The per-certificate shape of validate's JSON (docs/json.md)."""
        return {
            "subject": self.subject,
            "method": self.method,
            "result": self.result.value,
            "servers": [
                {"method": s.method, "url": s.server, "result": s.result.value,
                 **({"error": s.error} if s.error else {})}
                for s in self.servers
            ],
        }


@dataclass
class Options:
    """Timeouts, the CRL cache folder, the clock, and where cache warnings go."""

    cache_dir: Path | None = None
    now: datetime | None = None
    ocsp_timeout: float = OCSP_TIMEOUT
    crl_timeout: float = CRL_TIMEOUT
    warn: Callable[[str], None] | None = None
    _warned: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def clock(self) -> datetime:
        return self.now or datetime.now(UTC)

    def cache_warning(self) -> None:
        with self._lock:
            if self._warned or self.warn is None:
                return
            self._warned = True
        self.warn(CACHE_WARNING)


class FetchError(Exception):
    """A check that could not conclude; the message is notation's error text."""


def _subject(cert: x509.Certificate) -> str:
    return cert.subject.rfc4514_string()


def _urls(cert: x509.Certificate) -> tuple[list[str], list[str]]:
    """(OCSP URLs from the AIA, CRL URLs from the distribution points)."""
    ocsp_urls: list[str] = []
    crl_urls: list[str] = []
    try:
        aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
        ocsp_urls = [d.access_location.value for d in aia
                     if d.access_method == AuthorityInformationAccessOID.OCSP
                     and isinstance(d.access_location, x509.UniformResourceIdentifier)]
    except x509.ExtensionNotFound:
        pass
    try:
        cdp = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
        crl_urls = _point_urls(cdp)
    except x509.ExtensionNotFound:
        pass
    return ocsp_urls, crl_urls


def _point_urls(points: x509.CRLDistributionPoints | x509.FreshestCRL) -> list[str]:
    return [n.value for p in points for n in (p.full_name or [])
            if isinstance(n, x509.UniformResourceIdentifier)]


def fetch(url: str, timeout: float, limit: int, what: str,
          data: bytes | None = None, ctype: str = "") -> bytes:
    """GET (or POST ``data``) with a timeout and a size limit; FetchError with Go's texts.

    The registry client's HTTP stack (``registry/http.py``): the environment's proxies
    except for loopback hosts (as Go's client), GET redirects within http(s) only.
    """
    from ocisign.registry.http import (
        BodyTooLarge,
        ConnectionFailed,
        HTTPClient,
        TLSFailed,
        Unfollowable,
    )

    client = HTTPClient()
    try:
        response = client.request(
            "POST" if data else "GET", url, headers={"Content-Type": ctype} if ctype else None,
            body=data, connect_timeout=timeout, read_timeout=timeout, max_bytes=limit)
    except BodyTooLarge:
        raise FetchError(f"{what} response size exceeds the limit: {limit}") from None
    except ConnectionFailed as exc:
        if "timed out" in str(exc):
            raise FetchError(
                f"exceeded timeout threshold of {timeout:.2f} seconds for {what} check"
            ) from None
        raise FetchError(f"request failed: {exc}") from None
    except (TLSFailed, Unfollowable) as exc:
        raise FetchError(f"request failed: {exc}") from None
    finally:
        client.close()
    if not 200 <= response.status_code < 300:
        raise FetchError(f"failed to download with status code: {response.status_code}")
    return response.content


# ------------------------------------------------------------------ OCSP


def _verify_with(cert: x509.Certificate, signature: bytes, data: bytes,
                 algorithm: hashes.HashAlgorithm | None) -> bool:
    key = cert.public_key()
    try:
        if isinstance(key, rsa.RSAPublicKey) and algorithm is not None:
            key.verify(signature, data, padding.PKCS1v15(), algorithm)
        elif isinstance(key, ec.EllipticCurvePublicKey) and algorithm is not None:
            key.verify(signature, data, ec.ECDSA(algorithm))
        else:
            return False
    except InvalidSignature:
        return False
    return True


def _responder(resp: ocsp.OCSPResponse, issuer: x509.Certificate) -> x509.Certificate:
    """The certificate that signed ``resp``: the issuer, or a delegate it issued."""
    algorithm = resp.signature_hash_algorithm
    if _verify_with(issuer, resp.signature, resp.tbs_response_bytes, algorithm):
        return issuer
    for cert in resp.certificates:
        try:
            cert.verify_directly_issued_by(issuer)
            eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        except (ValueError, TypeError, InvalidSignature, x509.ExtensionNotFound):
            continue
        if ExtendedKeyUsageOID.OCSP_SIGNING not in eku:
            continue
        if _verify_with(cert, resp.signature, resp.tbs_response_bytes, algorithm):
            return cert
    raise FetchError("error checking revocation status via OCSP: the OCSP response is not signed "
                "by the issuer or a responder it delegated (EKU OCSPSigning)")


def _ocsp_server(cert: x509.Certificate, issuer: x509.Certificate, url: str,
                 signing_time: datetime | None, options: Options) -> ServerResult:
    def result(value: Result, error: str = "") -> ServerResult:
        return ServerResult("OCSP", url, value, error)

    if urllib.parse.urlsplit(url).scheme.lower() != "http":
        scheme = urllib.parse.urlsplit(url).scheme
        return result(Result.UNKNOWN, "error checking revocation status via OCSP: OCSPServer "
                      f"protocol {scheme} is not supported")
    nonce = os.urandom(16)
    request = (ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA1())  # noqa: S303 (Go: crypto.SHA1)
               .add_extension(x509.OCSPNonce(nonce), False).build())
    der = request.public_bytes(Encoding.DER)
    encoded = urllib.parse.quote(base64.b64encode(der).decode("ascii"), safe="")
    try:
        if len(encoded) < 255:
            body = fetch(url.rstrip("/") + "/" + encoded, options.ocsp_timeout, MAX_OCSP, "OCSP")
        else:
            body = fetch(url, options.ocsp_timeout, MAX_OCSP, "OCSP", der,
                         "application/ocsp-request")
        resp = ocsp.load_der_ocsp_response(body)
        if resp.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
            raise FetchError("error checking revocation status via OCSP: OCSP "
                        + resp.response_status.name.lower().replace("_", " "))
        single = next((r for r in resp.responses if _names(r, cert, issuer)), None)
        if single is None:
            raise FetchError("error checking revocation status via OCSP: the OCSP response does "
                        "not name the certificate")
        _responder(resp, issuer)
        try:
            echoed = resp.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce
        except x509.ExtensionNotFound:
            echoed = None
        if echoed is not None and echoed != nonce:
            raise FetchError("error checking revocation status via OCSP: the OCSP response nonce "
                        "does not match the request")
    except FetchError as exc:
        text = str(exc)
        if not text.startswith(("error checking", "exceeded timeout")):
            text = f"error checking revocation status via OCSP: {text}"
        return result(Result.UNKNOWN, text)
    except ValueError as exc:
        return result(Result.UNKNOWN, f"error checking revocation status via OCSP: {exc}")
    now = options.clock()
    if single.next_update_utc is None or now > single.next_update_utc:
        return result(Result.UNKNOWN,
                      "error checking revocation status via OCSP: expired OCSP response")
    if single.this_update_utc > now + _SKEW:
        return result(Result.UNKNOWN, "error checking revocation status via OCSP: the OCSP "
                      "response thisUpdate is in the future")
    status = single.certificate_status
    if status == ocsp.OCSPCertStatus.REVOKED and signing_time is not None:
        invalidity = _invalidity(resp.single_extensions)
        if invalidity is not None and signing_time < invalidity:
            return result(Result.OK)
    if status == ocsp.OCSPCertStatus.GOOD:
        return result(Result.OK)
    if status == ocsp.OCSPCertStatus.REVOKED:
        return result(Result.REVOKED, "certificate is revoked via OCSP")
    return result(Result.UNKNOWN, "certificate has unknown status via OCSP")


def _names(single: ocsp.OCSPSingleResponse, cert: x509.Certificate,
           issuer: x509.Certificate) -> bool:
    """Does a SingleResponse's CertID name ``cert`` (serial, issuer name and key hash)?"""
    if single.serial_number != cert.serial_number:
        return False
    wanted = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, single.hash_algorithm).build()
    return (wanted.issuer_key_hash, wanted.issuer_name_hash) == (
        single.issuer_key_hash, single.issuer_name_hash)


def _invalidity(extensions: x509.Extensions) -> datetime | None:
    try:
        return extensions.get_extension_for_class(x509.InvalidityDate).value.invalidity_date_utc
    except x509.ExtensionNotFound:
        return None


def _ocsp(cert: x509.Certificate, issuer: x509.Certificate, urls: list[str],
          signing_time: datetime | None, options: Options) -> CertResult:
    """notation-core-go ``ocsp.CertCheckStatus``: the first conclusive server wins."""
    servers: list[ServerResult] = []
    for url in urls:
        server = _ocsp_server(cert, issuer, url, signing_time, options)
        conclusive = server.result in (Result.OK, Result.REVOKED) or (
            server.result is Result.UNKNOWN and server.error.endswith("unknown status via OCSP"))
        if conclusive:
            return CertResult(_subject(cert), server.result, "OCSP", [server])
        servers.append(server)
    return CertResult(_subject(cert), servers[-1].result, "OCSP", servers)


# ------------------------------------------------------------------ CRL

_ALLOWED_CRITICAL = {
    x509.oid.ExtensionOID.ISSUING_DISTRIBUTION_POINT,
    x509.oid.ExtensionOID.DELTA_CRL_INDICATOR,
}
_HOLD = x509.ReasonFlags.certificate_hold
_REMOVE = x509.ReasonFlags.remove_from_crl


@dataclass(frozen=True)
class Bundle:
    """A base CRL and, when its FreshestCRL names one, the delta CRL."""

    base: x509.CertificateRevocationList
    delta: x509.CertificateRevocationList | None = None


def _load_crl(data: bytes) -> x509.CertificateRevocationList:
    try:
        return x509.load_der_x509_crl(data)
    except ValueError as exc:
        raise FetchError(f"x509: malformed crl: {exc}") from None


def _fetch_crl(url: str, options: Options) -> x509.CertificateRevocationList:
    scheme = urllib.parse.urlsplit(url).scheme
    if scheme != "http":
        raise FetchError(f"unsupported scheme: {scheme}. Only supports CRL URL in HTTP protocol")
    return _load_crl(fetch(url, options.crl_timeout, MAX_CRL, "CRL"))


def _effective(crl: x509.CertificateRevocationList, now: datetime) -> bool:
    return crl.next_update_utc is not None and now <= crl.next_update_utc


class CrlCache:
    """notation-go's ``crl.FileCache``: one JSON file per URL, named by its SHA-256."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _file(self, url: str) -> Path:
        return self.root / hashlib.sha256(url.encode()).hexdigest()

    def get(self, url: str, now: datetime) -> Bundle | None:
        """The cached bundle, None on a miss or an expired one; ValueError/OSError if broken."""
        try:
            content = json.loads(self._file(url).read_bytes())
        except FileNotFoundError:
            return None
        base = x509.load_der_x509_crl(base64.b64decode(content["baseCRL"], validate=True))
        delta_b64 = content.get("deltaCRL")
        delta = x509.load_der_x509_crl(base64.b64decode(delta_b64, validate=True)) \
            if delta_b64 else None
        if base.next_update_utc is None or (delta is not None and delta.next_update_utc is None):
            raise ValueError("crl bundle retrieved from file cache does not contain valid "
                             "NextUpdate")
        if not _effective(base, now) or (delta is not None and not _effective(delta, now)):
            return None
        return Bundle(base, delta)

    def set(self, url: str, bundle: Bundle) -> None:
        content: dict[str, str] = {
            "baseCRL": base64.b64encode(bundle.base.public_bytes(Encoding.DER)).decode()}
        if bundle.delta is not None:
            content["deltaCRL"] = base64.b64encode(bundle.delta.public_bytes(Encoding.DER)).decode()
        ensure_dir(self.root)
        atomic_write(self._file(url), json.dumps(content).encode(), mode=0o600)


def fetch_bundle(url: str, options: Options) -> Bundle:
    """notation-core-go ``HTTPFetcher.Fetch`` with notation's file cache (errors discarded)."""
    cache = CrlCache(options.cache_dir) if options.cache_dir is not None else None
    now = options.clock()
    if cache is not None:
        try:
            cached = cache.get(url, now)
        except (ValueError, KeyError, TypeError, OSError):
            options.cache_warning()
            cached = None
        if cached is not None:
            return cached
    base = _fetch_crl(url, options)
    delta = None
    try:
        freshest = base.extensions.get_extension_for_class(x509.FreshestCRL).value
    except x509.ExtensionNotFound:
        freshest = None
    if freshest is not None:
        error: FetchError | None = None
        for delta_url in _point_urls(freshest):
            try:
                delta = _fetch_crl(delta_url, options)
                break
            except FetchError as exc:
                error = exc
        if delta is None and error is not None:
            raise error
    bundle = Bundle(base, delta)
    if cache is not None:
        try:
            cache.set(url, bundle)
        except OSError:
            options.cache_warning()
    return bundle


def _crl_number(crl: x509.CertificateRevocationList) -> int:
    try:
        return crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    except x509.ExtensionNotFound:
        return 0


def _validate_crl(crl: x509.CertificateRevocationList, issuer: x509.Certificate,
                  now: datetime) -> None:
    subject = _subject(issuer)
    if crl.issuer != issuer.subject or not crl.is_signature_valid(issuer.public_key()):  # type: ignore[arg-type]
        raise FetchError(f"CRL is not signed by CA {subject}")
    if crl.next_update_utc is None:
        raise FetchError("CRL NextUpdate is not set")
    if now > crl.next_update_utc:
        raise FetchError(f"expired CRL. Current time {now} is after CRL NextUpdate "
                    f"{crl.next_update_utc}")
    for ext in crl.extensions:
        if ext.critical and ext.oid not in _ALLOWED_CRITICAL:
            raise FetchError(
                f"unsupported critical extension found in CRL: {ext.oid.dotted_string}")


def _validate_bundle(bundle: Bundle, issuer: x509.Certificate, now: datetime) -> None:
    try:
        _validate_crl(bundle.base, issuer, now)
    except FetchError as exc:
        raise FetchError(f"failed to validate base CRL: {exc}") from None
    delta = bundle.delta
    if delta is None:
        return
    try:
        _validate_crl(delta, issuer, now)
    except FetchError as exc:
        raise FetchError(f"failed to validate delta CRL: {exc}") from None
    base_number, delta_number = _crl_number(bundle.base), _crl_number(delta)
    if delta_number <= base_number:
        raise FetchError(f"delta CRL number {delta_number} is not greater than the base CRL number "
                    f"{base_number}")
    try:
        minimum = delta.extensions.get_extension_for_class(x509.DeltaCRLIndicator).value
    except x509.ExtensionNotFound:
        raise FetchError("delta CRL indicator extension is not found") from None
    if minimum.crl_number > base_number:
        raise FetchError(f"delta CRL indicator {minimum.crl_number} is not less than or equal to "
                    f"the base CRL number {base_number}")


def _entry_result(cert: x509.Certificate, bundle: Bundle,
                  signing_time: datetime | None) -> Result:
    """notation-core-go ``checkRevocation``: the base entries, then the delta's."""
    latest_temporary: tuple[datetime, x509.ReasonFlags] | None = None
    for crl in (bundle.base, bundle.delta):
        if crl is None:
            continue
        entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
        if entry is None:
            continue
        reason = None
        for ext in entry.extensions:
            if isinstance(ext.value, x509.CRLReason):
                reason = ext.value.reason
            elif not isinstance(ext.value, x509.InvalidityDate) and ext.critical:
                raise FetchError("unsupported critical extension found in CRL: "
                            f"{ext.oid.dotted_string}")
        invalidity = _invalidity(entry.extensions)
        if signing_time is not None and invalidity is not None and signing_time < invalidity:
            return Result.OK
        if reason in (_HOLD, _REMOVE):
            when = entry.revocation_date_utc
            if latest_temporary is None or latest_temporary[0] < when:
                latest_temporary = (when, reason)
            continue
        return Result.REVOKED
    if latest_temporary is not None and latest_temporary[1] == _HOLD:
        return Result.REVOKED
    return Result.OK


def _crl(cert: x509.Certificate, issuer: x509.Certificate, urls: list[str],
         signing_time: datetime | None, options: Options) -> CertResult:
    """notation-core-go ``crl.CertCheckStatus``: every distribution point must answer."""
    subject = _subject(cert)
    try:
        cert.extensions.get_extension_for_class(x509.FreshestCRL)
        cert_has_freshest = True
    except x509.ExtensionNotFound:
        cert_has_freshest = False
    servers: list[ServerResult] = []
    now = options.clock()
    for url in urls:
        try:
            try:
                bundle = fetch_bundle(url, options)
            except FetchError as exc:
                raise FetchError(f"failed to download CRL from {url}: failed to retrieve CRL: "
                            f"{exc}") from None
            if cert_has_freshest and bundle.delta is None:
                raise FetchError("freshest CRL from certificate extension is not supported")
            try:
                _validate_bundle(bundle, issuer, now)
            except FetchError as exc:
                raise FetchError(f"failed to validate CRL from {url}: {exc}") from None
            try:
                value = _entry_result(cert, bundle, signing_time)
            except FetchError as exc:
                raise FetchError(f"failed to check revocation status from {url}: {exc}") from None
        except FetchError as exc:
            return CertResult(subject, Result.UNKNOWN, "CRL",
                              [ServerResult("CRL", url, Result.UNKNOWN, str(exc))])
        server = ServerResult("CRL", url, value,
                              "certificate is revoked via CRL" if value is Result.REVOKED else "")
        if value is Result.REVOKED:
            return CertResult(subject, Result.REVOKED, "CRL", [server])
        servers.append(server)
    return CertResult(subject, Result.OK, "CRL", servers)


# ------------------------------------------------------------------ chains


def _issued(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def check_cert(cert: x509.Certificate, issuer: x509.Certificate,
               signing_time: datetime | None, options: Options) -> CertResult:
    """One certificate: OCSP, CRL after an unknown OCSP answer, or CRL alone."""
    ocsp_urls, crl_urls = _urls(cert)
    if ocsp_urls:
        result = _ocsp(cert, issuer, ocsp_urls, signing_time, options)
        if result.result is Result.UNKNOWN and crl_urls:
            fallback = _crl(cert, issuer, crl_urls, signing_time, options)
            return CertResult(fallback.subject, fallback.result, "OCSPFallbackCRL",
                              result.servers + fallback.servers)
        return result
    if crl_urls:
        return _crl(cert, issuer, crl_urls, signing_time, options)
    return CertResult(_subject(cert), Result.NON_REVOKABLE, "Unknown")


class ChainError(ValueError):
    """notation-core-go ``InvalidChainError``."""


def check_chain(chain: list[x509.Certificate], options: Options,
                signing_time: datetime | None = None) -> list[CertResult]:
    """Every certificate's result, leaf first (the root is NonRevokable); ChainError if the
    chain does not link up to a self-signed root."""
    if not chain:
        raise ChainError("invalid chain: expected chain to be correct and complete: chain "
                         "does not contain any certificates")
    for cert, issuer in zip(chain, [*chain[1:], chain[-1]], strict=True):
        if not _issued(cert, issuer):
            raise ChainError(
                "invalid chain: expected chain to be correct and complete: certificate with "
                f'subject "{_subject(cert)}" is not issued by "{_subject(issuer)}"')
    pairs = list(itertools.pairwise(chain))
    root = CertResult(_subject(chain[-1]), Result.NON_REVOKABLE, "Unknown")
    if not pairs:
        return [root]
    with ThreadPoolExecutor(max_workers=len(pairs)) as pool:
        results = list(pool.map(lambda p: check_cert(p[0], p[1], signing_time, options), pairs))
    return [*results, root]


def final_result(results: list[CertResult], topmost_unknown: bool = False) -> tuple[Result, str]:
    """notation-go ``revocationFinalResult``: (result, the subject it is about).

    An unknown status names the certificate nearest the leaf, or nearest the root with
    ``topmost_unknown`` (notation-core-go's check of the TSA chain at signing time).
    """
    final, subject, revoked = Result.UNKNOWN, "", ""
    for item in reversed(results):
        if not item.result.good:
            if not (topmost_unknown and subject and item.result is Result.UNKNOWN):
                final, subject = item.result, item.subject
            if item.result is Result.REVOKED:
                revoked = subject
    if revoked:
        return Result.REVOKED, revoked
    if all(item.result.good for item in results):
        return Result.OK, ""
    return final, subject


def describe(results: list[CertResult], what: str = "signing",
             topmost_unknown: bool = False) -> str | None:
    """notation's failure text for a chain's results, or None when it passes."""
    final, subject = final_result(results, topmost_unknown)
    if final is Result.OK:
        return None
    if final is Result.REVOKED:
        return f'{what} certificate with subject "{subject}" is revoked'
    return f'{what} certificate with subject "{subject}" revocation status is unknown'
