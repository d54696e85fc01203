"""HTTP transport for the distribution API: one pooled session, timeouts, retries, auth.

Every request has explicit (connect, read) timeouts. 429/502/503/504 and connection
errors are retried a bounded number of times with exponential backoff + jitter, honouring
a capped ``Retry-After``; requests that are not safe to repeat (an upload's PATCH/PUT) are
not retried. A 401 is answered once with credentials (Basic) or a fresh Bearer token.
"""

from __future__ import annotations

import email.utils
import json
import logging
import random
import threading
import time
import warnings
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import InsecureRequestWarning

from ocisign.errors import AuthError, NetworkError, NotFoundError, RegistryError
from ocisign.oci.reference import is_loopback_host
from ocisign.registry.auth import (
    Authenticator,
    Credentials,
    credentials_hint,
    may_send_credentials,
)
from ocisign.registry.store import RegistryOptions

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 502, 503, 504})
IDEMPOTENT = frozenset({"GET", "HEAD", "DELETE", "OPTIONS"})
USER_AGENT = "ocisign"


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delta-seconds or HTTP date)."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def _registry_error_text(response: requests.Response) -> str:
    """The first ``errors[].message`` of a distribution error body, if any."""
    try:
        body = response.json()
        errors = body.get("errors") or []
        first = errors[0]
        return f"{first.get('code', '')}: {first.get('message', '')}".strip(": ")
    except (ValueError, AttributeError, IndexError, TypeError):
        return ""


NOT_FOUND_HINTS = {  # distribution error codes of a 404 -> what to do
    "MANIFEST_UNKNOWN": "the tag or digest does not exist in that repository: check the "
                        "reference (list its tags with 'ocisign list' or 'skopeo list-tags')",
    "NAME_UNKNOWN": "the repository does not exist on that registry: check the repository "
                    "path (and --registry/--project for image lists)",
    "BLOB_UNKNOWN": "the registry lacks a blob that the manifest names: push the image again",
    "": "check the reference: the registry has nothing under that name",
}


class Transport:
    """Thread-safe HTTP access to registries with one pooled ``requests.Session``."""

    def __init__(self, options: RegistryOptions | None = None) -> None:
        self.options = options or RegistryOptions()
        self.session = requests.Session()
        pool = max(10, self.options.jobs)
        adapter = HTTPAdapter(pool_connections=pool, pool_maxsize=pool, max_retries=0)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        self.session.headers["User-Agent"] = USER_AGENT
        # passed on every request: a session-level verify loses to REQUESTS_CA_BUNDLE
        self.verify: bool | str = True
        if self.options.ca_file:
            self.verify = self.options.ca_file
        elif not self.options.tls_verify:

            self.verify = False
            warnings.filterwarnings("ignore", category=InsecureRequestWarning)
        self.auth = Authenticator(self.options.username, self.options.password)
        self._schemes: dict[str, str] = {}
        self._lock = threading.Lock()

    @property
    def timeout(self) -> tuple[float, float]:
        return (self.options.connect_timeout, self.options.timeout)

    def close(self) -> None:
        self.session.close()

    def scheme(self, host: str) -> str:
        """``http`` for --insecure, ``https`` otherwise (loopback may fall back to http)."""
        with self._lock:
            if host in self._schemes:
                return self._schemes[host]
        insecure = self.options.insecure or host in self.options.insecure_registries
        return "http" if insecure else "https"

    def url(self, host: str, path: str) -> str:
        return f"{self.scheme(host)}://{host}{path}"

    def request(
        self,
        method: str,
        host: str,
        path: str,
        *,
        scopes: frozenset[str],
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        data: bytes | None = None,
        ok: tuple[int, ...] = (200,),
        retry_safe: bool | None = None,
        what: str = "",
        max_bytes: int | None = None,
    ) -> requests.Response:
        """Send one API request; return the response if its status is in ``ok``.

        ``path`` may also be an absolute URL (an upload Location). With ``max_bytes`` the
        body is streamed and refused past that size, so a lying registry cannot make us
        download more. Raises AuthError, NotFoundError, NetworkError or RegistryError.
        """
        safe = method in IDEMPOTENT if retry_safe is None else retry_safe
        what = what or f"{method} {path}"
        retries = 0
        auth_tried = False
        while True:
            response = self._send_once(
                method, host, path, scopes, params, headers, data, safe, max_bytes is not None
            )
            status = response.status_code
            if status == 401 and not auth_tried:
                auth_tried = True
                header = response.headers.get("WWW-Authenticate", "")
                sent = response.request.headers.get("Authorization")
                if self.auth.challenge(host, scopes, header, sent, self._fetch_token):
                    response.close()
                    continue
            if status in RETRY_STATUSES and safe and retries < self.options.max_retries:
                delay = self._backoff(retries, response.headers.get("Retry-After"))
                log.debug("%s -> %s, retrying in %.2fs", what, status, delay)
                retries += 1
                response.close()
                time.sleep(delay)
                continue
            if status in ok:
                if max_bytes is not None:
                    _read_capped(response, max_bytes, what)
                return response
            self._raise_for(response, host, what)

    def _send_once(
        self,
        method: str,
        host: str,
        path: str,
        scopes: frozenset[str],
        params: Mapping[str, str] | None,
        headers: Mapping[str, str] | None,
        data: bytes | None,
        safe: bool,
        stream: bool = False,
    ) -> requests.Response:
        """One request with connection-error retries (and the loopback http fallback)."""
        retries = 0
        while True:
            url = path if "://" in path else self.url(host, path)
            all_headers = dict(headers or {})
            if urlsplit(url).netloc == host:
                all_headers.update(self.auth.headers(host, scopes))
            try:
                response = self.session.request(
                    method,
                    url,
                    params=params,
                    headers=all_headers,
                    data=data,
                    timeout=self.timeout,
                    verify=self.verify,
                    allow_redirects=method in ("GET", "HEAD"),
                    stream=stream,
                )
                log.debug("%s %s -> %s", method, url.split("?")[0], response.status_code)
                return response
            except requests.exceptions.SSLError as exc:
                if (
                    is_loopback_host(host)
                    and urlsplit(url).scheme == "https"
                    and "CERTIFICATE_VERIFY_FAILED" not in str(exc)
                    and "://" not in path
                ):
                    log.debug("%s does not speak TLS; using plain HTTP (loopback)", host)
                    with self._lock:
                        self._schemes[host] = "http"
                    continue
                raise NetworkError(
                    f"TLS connection to {host} failed: {_short(exc)}",
                    "pass --ca-file with the registry's CA, or use --insecure-registry",
                ) from exc
            except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
                if safe and retries < self.options.max_retries:
                    delay = self._backoff(retries, None)
                    log.debug("%s %s failed (%s), retry in %.2fs", method, url, _short(exc), delay)
                    retries += 1
                    time.sleep(delay)
                    continue
                raise NetworkError(f"cannot reach registry {host}: {_short(exc)}") from exc

    def _backoff(self, attempt: int, retry_after: str | None) -> float:
        delay = self.options.backoff * (2.0**attempt)
        delay += random.uniform(0, delay / 2)  # noqa: S311 - jitter, not cryptography
        hinted = parse_retry_after(retry_after)
        if hinted is not None:
            delay = max(delay, hinted)
        return min(delay, self.options.max_retry_after)

    def _raise_for(self, response: requests.Response, host: str, what: str) -> Any:
        status = response.status_code
        detail = _registry_error_text(response)
        suffix = f" ({detail})" if detail else ""
        code = detail.split(":", 1)[0] if detail else ""
        creds = self.auth.credentials(host)
        if status == 401:
            if "insufficient_scope" in response.headers.get("WWW-Authenticate", ""):
                raise AuthError(f"{host} denied {what}: the credentials lack permission{suffix}",
                                credentials_hint(creds, "the account lacks permission"))
            if creds:
                raise AuthError(f"{host} rejected the credentials for {what}{suffix}",
                                credentials_hint(creds, f"{host} did not accept them"))
            raise AuthError(f"{host} requires authentication for {what}{suffix}",
                            credentials_hint(None, f"{host} wants credentials"))
        if status == 403:
            raise AuthError(f"{host} denied {what}{suffix}",
                            credentials_hint(creds, "the account lacks permission"))
        if status == 404:
            raise NotFoundError(f"{what}: not found on {host}{suffix}",
                                NOT_FOUND_HINTS.get(code, NOT_FOUND_HINTS[""]))
        if status == 429 or code == "TOOMANYREQUESTS":
            raise NetworkError(f"{host} is rate limiting {what}{suffix}",
                               "wait and run again with fewer -j workers, or log in: registries "
                               "often allow more requests to accounts")
        if status in RETRY_STATUSES:
            raise NetworkError(f"{host} kept answering {status} to {what}{suffix}")
        raise RegistryError(f"{host} answered {status} to {what}{suffix}")

    def _fetch_token(
        self, host: str, params: dict[str, str], scopes: list[str], creds: Credentials | None
    ) -> tuple[str, float]:
        """Get a Bearer token from the challenge's realm (credentials only where allowed)."""
        realm = params["realm"]
        if creds and not may_send_credentials(host, realm):
            log.warning("not sending credentials to token realm %s over plain HTTP", realm)
            creds = None
        query: list[tuple[str, str]] = []
        if params.get("service"):
            query.append(("service", params["service"]))
        query.extend(("scope", s) for s in scopes)
        log.debug("fetching token from %s for %s", realm, " ".join(scopes))
        try:
            if creds and creds.identity_token:
                form = {
                    "grant_type": "refresh_token",
                    "refresh_token": creds.identity_token,
                    "client_id": USER_AGENT,
                    "service": params.get("service", ""),
                    "scope": " ".join(scopes),
                }
                response = self.session.post(
                    realm, data=form, timeout=self.timeout, verify=self.verify
                )
            else:
                headers = {"Authorization": creds.basic_header()} if creds else {}
                response = self.session.get(
                    realm, params=query, headers=headers, timeout=self.timeout, verify=self.verify
                )
        except requests.exceptions.RequestException as exc:
            raise NetworkError(f"cannot reach token server for {host}: {_short(exc)}") from exc
        if response.status_code in (401, 403):
            if creds:
                raise AuthError(f"the token server for {host} rejected the credentials",
                                credentials_hint(creds, "the token server did not accept them"))
            raise AuthError(f"{host} requires credentials and none were found",
                            credentials_hint(None, f"{host} wants credentials"))
        if response.status_code != 200:
            raise AuthError(f"the token server for {host} answered {response.status_code}")
        try:
            body = json.loads(response.content)
            token = str(body.get("token") or body.get("access_token") or "")
            expires_in = float(body.get("expires_in") or 60)
        except (ValueError, AttributeError) as exc:
            raise AuthError(f"the token server for {host} sent a malformed answer") from exc
        if not token:
            raise AuthError(f"the token server for {host} sent no token")
        return token, max(1.0, expires_in - min(10.0, expires_in / 10))


def _short(exc: BaseException) -> str:
    """A one-line, secret-free summary of a requests/urllib3 exception."""
    text = str(exc)
    for marker in ("Connection refused", "timed out", "Connection reset", "Name or service"):
        if marker in text:
            return marker.lower()
    return text.splitlines()[0][:200] if text else type(exc).__name__


def _read_capped(response: requests.Response, max_bytes: int, what: str) -> None:
    """Read a streamed body into ``response.content``, refusing more than ``max_bytes``."""
    chunks: list[bytes] = []
    total = 0
    for chunk in response.iter_content(64 * 1024):
        total += len(chunk)
        if total > max_bytes:
            response.close()
            raise RegistryError(
                f"{what}: the registry sent more than {max_bytes} bytes",
                hint="a signature, manifest or payload this large is refused as malformed",
            )
        chunks.append(chunk)
    response._content = b"".join(chunks)
