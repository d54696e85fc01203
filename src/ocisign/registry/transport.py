"""HTTP transport for the distribution API: one pooled session, deadlines, retries, auth.

Every request has a connect timeout, a per-read timeout and a total deadline (the
shorter of ``request_timeout`` and the line's ``--timeout``): a watchdog shuts the socket
of a request that outlives it, so a server trickling bytes (slowloris) cannot hold a
worker. Bodies are streamed and capped (4 MiB unless the caller says otherwise).

One operation is retried on 429/500/502/503/504, connection errors and read timeouts,
within a budget (``max_retries`` attempts and ``retry_budget`` seconds), with exponential
backoff + jitter and ``Retry-After`` honoured (capped). Only requests safe to repeat are
retried here (any request after 429/503: the server did not act on it); an upload session
is restarted as a whole by the client. A 401 is answered
once with credentials (Basic) or a fresh Bearer token. Credentials go only to the
registry's own origin (scheme, host, port) and to token realms the auth rules allow.
"""

from __future__ import annotations

import contextlib
import email.utils
import json
import logging
import random
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

from ocisign.errors import AuthError, NetworkError, NotFoundError, RegistryError
from ocisign.oci.reference import is_loopback_host
from ocisign.registry.auth import (
    Authenticator,
    Credentials,
    credentials_hint,
    may_send_credentials,
    origin,
)
from ocisign.registry.http import (
    BodyTooLarge,
    ConnectionFailed,
    HTTPClient,
    Response,
    TLSFailed,
    Unfollowable,
)
from ocisign.registry.store import MAX_MANIFEST_BYTES, RegistryOptions
from ocisign.util.deadline import current_deadline

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
NOT_PROCESSED = frozenset({429, 503})  # the server did not act: any request may be repeated
IDEMPOTENT = frozenset({"GET", "HEAD", "DELETE", "OPTIONS"})
USER_AGENT = "ocisign"
OVERTIME_HINT = "raise --timeout, or check the registry: it did not finish answering in time"


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


def registry_error_text(response: Response) -> str:
    """The first ``errors[].message`` of a distribution error body, if any."""
    try:
        body = json.loads(response.content)
        errors = body.get("errors") or []
        first = errors[0]
        return f"{first.get('code', '')}: {first.get('message', '')}".strip(": ")[:300]
    except (ValueError, AttributeError, IndexError, TypeError, KeyError, RecursionError):
        return ""


NOT_FOUND_HINTS = {  # distribution error codes of a 404 -> what to do
    "MANIFEST_UNKNOWN": "the tag or digest does not exist in that repository: check the "
                        "reference (list its tags with 'ocisign list' or 'skopeo list-tags')",
    "NAME_UNKNOWN": "the repository does not exist on that registry: check the repository "
                    "path (and --registry/--project for image lists)",
    "BLOB_UNKNOWN": "the registry lacks a blob that the manifest names: push the image again",
    "": "check the reference: the registry has nothing under that name",
}


# -- the watchdog: a total deadline per request ------------------------------------------


@dataclass
class _Armed:
    deadline: float
    socks: list[socket.socket] = field(default_factory=list)
    expired: bool = False


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)  # a blocked recv returns at once


class _Watchdog:
    """Shuts the sockets a thread's request uses once that request's deadline passes."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._armed: dict[int, _Armed] = {}
        self._thread: threading.Thread | None = None

    def arm(self, deadline: float) -> None:
        with self._cond:
            self._armed[threading.get_ident()] = _Armed(deadline)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="ocisign-watchdog",
                                                daemon=True)
                self._thread.start()
            self._cond.notify()

    def attach(self, sock: socket.socket) -> None:
        with self._cond:
            armed = self._armed.get(threading.get_ident())
            if armed is not None:
                armed.socks.append(sock)
                if armed.expired:
                    _shut(sock)

    def detach(self, sock: socket.socket) -> None:
        with self._cond:
            armed = self._armed.get(threading.get_ident())
            if armed is not None and sock in armed.socks:
                armed.socks.remove(sock)

    def disarm(self) -> bool:
        """Stop watching this thread's request; True if its deadline had passed."""
        with self._cond:
            armed = self._armed.pop(threading.get_ident(), None)
            return armed is not None and armed.expired

    def _run(self) -> None:
        with self._cond:
            while True:
                now = time.monotonic()
                waits = []
                for armed in self._armed.values():
                    if armed.expired:
                        continue
                    if armed.deadline <= now:
                        armed.expired = True
                        for sock in armed.socks:
                            _shut(sock)
                    else:
                        waits.append(armed.deadline - now)
                self._cond.wait(min(waits) if waits else None)


_WATCHDOG = _Watchdog()


@dataclass
class _Budget:
    """The retry budget of one operation: attempts and seconds."""

    attempts: int
    ends: float
    used: int = 0

    def pause(self, base: float, cap: float, retry_after: str | None) -> float | None:
        """The pause before the next attempt, or None when the budget is spent."""
        if self.used >= self.attempts:
            return None
        delay = base * (2.0**self.used)
        delay += random.uniform(0, delay / 2)  # noqa: S311 - jitter, not cryptography
        hinted = parse_retry_after(retry_after)
        if hinted is not None:
            delay = max(delay, hinted)
        delay = min(delay, cap)
        if time.monotonic() + delay >= min(self.ends, current_deadline()):
            return None
        self.used += 1
        return delay


class Transport:
    """Thread-safe HTTP access to registries over one pooled ``HTTPClient``."""

    def __init__(self, options: RegistryOptions | None = None) -> None:
        self.options = options or RegistryOptions()
        self.http = HTTPClient(verify=self.options.tls_verify or bool(self.options.ca_file),
                               ca_file=self.options.ca_file or None,
                               pool_size=max(10, self.options.jobs))
        self.observers: list[Callable[[Response], None]] = []  # each answer, as it comes
        self.auth = Authenticator(self.options.username, self.options.password)
        self._schemes: dict[str, str] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        self.http.close()

    def scheme(self, host: str) -> str:
        """``http`` for --insecure, ``https`` otherwise (loopback may fall back to http)."""
        with self._lock:
            if host in self._schemes:
                return self._schemes[host]
        insecure = self.options.insecure or host in self.options.insecure_registries
        return "http" if insecure else "https"

    def url(self, host: str, path: str) -> str:
        return f"{self.scheme(host)}://{host}{path}"

    def budget(self) -> _Budget:
        """A fresh retry budget for one operation."""
        return _Budget(self.options.max_retries, time.monotonic() + self.options.retry_budget)

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
        ok_on_retry: tuple[int, ...] = (),
        retry_safe: bool | None = None,
        what: str = "",
        max_bytes: int = MAX_MANIFEST_BYTES,
    ) -> Response:
        """Send one API request; return the response if its status is in ``ok``.

        ``path`` may also be an absolute URL (an upload Location). The body is streamed
        and refused past ``max_bytes``. ``ok_on_retry`` statuses count as success after a
        repeat (a DELETE whose first answer was lost finds nothing: done). Raises
        AuthError, NotFoundError, NetworkError or RegistryError.
        """
        safe = method in IDEMPOTENT if retry_safe is None else retry_safe
        what = what or f"{method} {path}"
        budget = self.budget()
        auth_tried = False
        while True:
            response = self._retrying(
                lambda: self._send(method, host, path, scopes, params, headers, data,
                                   max_bytes, what),
                safe, budget, host, what,
            )
            status = response.status_code
            if status == 401 and origin(response.url) != origin(self.url(host, "/")):
                raise AuthError(  # a redirect target's challenge: never answered with ours
                    f"{what}: {host} redirected to {urlsplit(response.url).netloc}, which asks "
                    "for authentication", "the registry's storage redirect is misconfigured; "
                    "ocisign sends no credentials to another origin")
            if status == 401 and not auth_tried:
                auth_tried = True
                header = response.headers.get("WWW-Authenticate", "")
                if self.auth.challenge(host, scopes, header, response.authorization,
                                       self._fetch_token):
                    continue
            if status in ok or (budget.used and status in ok_on_retry):
                return response
            self._raise_for(response, host, what)

    def _retrying(
        self, send: Any, safe: bool, budget: _Budget, host: str, what: str
    ) -> Response:
        """``send()`` again on transient failures while ``budget`` lasts (if ``safe``)."""
        while True:
            try:
                response: Response = send()
            except ConnectionFailed as exc:
                delay = budget.pause(self.options.backoff, self.options.max_retry_after, None)
                if not safe or delay is None:
                    raise NetworkError(f"cannot reach registry {host}: {exc}") from exc
                log.debug("%s failed (%s), retry in %.2fs", what, exc, delay)
                time.sleep(delay)
                continue
            status = response.status_code
            if status in NOT_PROCESSED or (status in RETRY_STATUSES and safe):
                retry_after = response.headers.get("Retry-After")
                delay = budget.pause(self.options.backoff, self.options.max_retry_after,
                                     retry_after)
                if delay is not None:
                    log.debug("%s -> %s, retry in %.2fs", what, status, delay)
                    time.sleep(delay)
                    continue
            return response

    def _send(
        self,
        method: str,
        host: str,
        path: str,
        scopes: frozenset[str] | None,
        params: Any,
        headers: Mapping[str, str] | None,
        data: Any,
        max_bytes: int,
        what: str,
    ) -> Response:
        """One attempt, body read and capped, under the request's total deadline.

        ``scopes=None`` sends no registry credentials (token requests carry their own).
        """
        while True:  # only the loopback http fallback goes round
            url = path if "://" in path else self.url(host, path)
            all_headers = dict(headers or {})
            if scopes is not None and origin(url) == origin(self.url(host, "/")):
                all_headers.update(self.auth.headers(host, scopes))
            now = time.monotonic()
            deadline = min(current_deadline(), now + self.options.request_timeout)
            left = deadline - now
            if left <= 0:
                raise NetworkError(f"{what}: no time left to ask {host}", OVERTIME_HINT)
            _WATCHDOG.arm(deadline)
            try:
                response = self.http.request(
                    method, url, params=params, headers={"User-Agent": USER_AGENT, **all_headers},
                    body=data, connect_timeout=min(self.options.connect_timeout, left),
                    read_timeout=min(self.options.timeout, left), max_bytes=max_bytes,
                    watch=_WATCHDOG,
                )
            except BodyTooLarge:
                raise _oversized(what, max_bytes) from None
            except Unfollowable as exc:
                raise NetworkError(f"{what} ({host}): {exc}", exc.hint) from None
            except (TLSFailed, ConnectionFailed) as exc:
                if _WATCHDOG.disarm():
                    raise NetworkError(
                        f"{what}: {host} did not finish answering within "
                        f"{f'{left:.1f}'.rstrip('0').rstrip('.')} s",
                        OVERTIME_HINT,
                    ) from exc
                if isinstance(exc, TLSFailed):
                    if (
                        is_loopback_host(host)
                        and urlsplit(url).scheme == "https"
                        and not exc.verify_failed
                        and "://" not in path
                    ):
                        log.debug("%s does not speak TLS; using plain HTTP (loopback)", host)
                        with self._lock:
                            self._schemes[host] = "http"
                        continue
                    raise NetworkError(
                        f"TLS connection to {host} failed: {exc}",
                        "pass --ca-file with the registry's CA, or use --insecure-registry",
                    ) from exc
                raise
            finally:
                _WATCHDOG.disarm()
            log.debug("%s %s -> %s", method, url.split("?")[0], response.status_code)
            for observe in self.observers:
                observe(response)
            return response

    def _raise_for(self, response: Response, host: str, what: str) -> Any:
        status = response.status_code
        detail = registry_error_text(response)
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
        if creds and not may_send_credentials(self.url(host, "/"), realm):
            log.warning("not sending credentials to token realm %s: another origin over plain "
                        "HTTP", realm.split("?")[0])
            creds = None
        what = f"token request for {host}"
        if creds and creds.identity_token:
            form = {
                "grant_type": "refresh_token",
                "refresh_token": creds.identity_token,
                "client_id": USER_AGENT,
                "service": params.get("service", ""),
                "scope": " ".join(scopes),
            }
            method, query, data = "POST", None, urlencode(form).encode()
            headers = {"Content-Type": "application/x-www-form-urlencoded"}
        else:
            query = [("service", params["service"])] if params.get("service") else []
            query.extend(("scope", s) for s in scopes)
            headers = {"Authorization": creds.basic_header()} if creds else {}
            method, data = "GET", None
        log.debug("fetching token from %s for %s", realm.split("?")[0], " ".join(scopes))
        try:
            response = self._retrying(
                lambda: self._send(method, host, realm, None, query, headers, data,
                                   MAX_MANIFEST_BYTES, what),
                True, self.budget(), host, what,
            )
        except NetworkError as exc:
            raise NetworkError(f"cannot reach token server for {host}: {exc.message}") from exc
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
        except (ValueError, AttributeError, RecursionError) as exc:
            raise AuthError(f"the token server for {host} sent a malformed answer") from exc
        if not token:
            raise AuthError(f"the token server for {host} sent no token")
        return token, max(1.0, expires_in - min(10.0, expires_in / 10))


def _oversized(what: str, max_bytes: int) -> RegistryError:
    return RegistryError(
        f"{what}: the registry sent more than {max_bytes} bytes",
        hint="a signature, manifest or payload this large is refused as malformed",
    )
