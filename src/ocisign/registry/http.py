"""A small pooled HTTP/1.1 client on the standard library (``http.client`` and ``ssl``).

It replaces ``requests``, whose import alone cost more than a third of a one-image
``sign`` (issue 14). What it does, and no more: keep-alive connections pooled per origin
(an idle one the server closed is dropped, not reused), TLS verified against the system
store (``SSL_CERT_FILE``/``SSL_CERT_DIR`` honoured; certifi's bundle when the system
has none) or ``--ca-file``, separate connect and read timeouts, capped bodies, redirects
for GET/HEAD (``Authorization`` dropped when the origin changes), and the
``HTTPS_PROXY``/``HTTP_PROXY``/``NO_PROXY`` variables as Go reads them (loopback never
proxied). Errors are four types: ``TLSFailed``, ``ConnectionFailed`` (worth another
attempt), ``BodyTooLarge`` and ``Unfollowable`` (a redirect loop, a redirect to a URL
that is not http(s) or from https to http, or a header that cannot be sent).
"""

from __future__ import annotations

import base64
import http.client
import ipaddress
import os
import re
import select
import socket
import ssl
import threading
from collections.abc import Mapping
from typing import Protocol
from urllib.parse import unquote, urlencode, urljoin, urlsplit

MAX_REDIRECTS = 10
REDIRECTS = frozenset({301, 302, 303, 307, 308})
_LINK_RE = re.compile(r"<([^<>]*)>([^<]*)")  # linear: no overlapping repeats
_REL_RE = re.compile(r'rel\s*=\s*"?([^";,<]*)')
MAX_LINK = 16 * 1024  # of a Link header read; pagination needs one short entry
_PROXY_VARS = frozenset({"http_proxy", "https_proxy", "all_proxy", "no_proxy"})

Connection = http.client.HTTPConnection


class Watch(Protocol):
    """Who bounds a request's total time: told each socket while the request uses it."""

    def attach(self, sock: socket.socket) -> None: ...

    def detach(self, sock: socket.socket) -> None: ...


class TLSFailed(Exception):
    """The TLS handshake failed; ``verify_failed`` if the certificate was not trusted."""

    def __init__(self, summary: str, verify_failed: bool) -> None:
        super().__init__(summary)
        self.verify_failed = verify_failed


class ConnectionFailed(Exception):
    """No answer: refused, reset, timed out, closed early. Another attempt may work."""


class BodyTooLarge(Exception):
    """The answer's body passed the caller's limit."""


class Unfollowable(Exception):
    """Not worth another attempt: a redirect loop, a redirect out of http(s) or down from
    https, a malformed Location, or a header value that cannot be sent; ``hint`` says what
    to check."""

    def __init__(self, message: str, hint: str = "check the registry's address and its "
                 "redirects (a loop, out of HTTP, or from https to http)") -> None:
        super().__init__(message)
        self.hint = hint


class Response:
    """A finished answer: status, headers (case-insensitive), the whole capped body."""

    __slots__ = ("authorization", "content", "headers", "method", "status_code", "url")

    def __init__(self, method: str, url: str, status: int, headers: http.client.HTTPMessage,
                 content: bytes, authorization: str | None) -> None:
        self.method, self.url, self.status_code = method, url, status
        self.headers, self.content = headers, content
        self.authorization = authorization  # the Authorization header that was sent

    def link(self, rel: str) -> str | None:
        """The target of the ``Link`` header's entry with ``rel`` (RFC 8288), if any."""
        for target, params in _LINK_RE.findall(self.headers.get("Link", "")[:MAX_LINK]):
            found = _REL_RE.search(params)
            if found and rel in found.group(1).split():
                return str(target)
        return None


def _origin(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or ""), parts.port or (443 if scheme == "https" else 80)


def _proxy_for(scheme: str, host: str, port: int) -> str | None:
    """The proxy URL the environment names for this origin (none for loopback)."""
    if not any(name.lower() in _PROXY_VARS for name in os.environ) or _loopback(host):
        return None
    import urllib.request  # only when a proxy variable is set

    proxies = urllib.request.getproxies_environment()
    proxy = proxies.get(scheme) or proxies.get("all")
    bypass = getattr(urllib.request, "proxy_bypass_environment")  # noqa: B009 - not in typeshed
    if not proxy or bypass(f"{host}:{port}", proxies):
        return None
    return proxy if "://" in proxy else f"http://{proxy}"


def _loopback(host: str) -> bool:
    """``localhost`` or a loopback address (127.0.0.0/8, ::1): never proxied, as in Go."""
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _open_socket(address: tuple[str, int], timeout: float | None = None,
                 source: tuple[str, int] | None = None) -> socket.socket:
    """``socket.create_connection``, an ASCII host passed as bytes.

    ``getaddrinfo`` runs every ``str`` host through the ``idna`` codec, whose import (with
    ``stringprep`` and ``unicodedata``) is about 2 ms of a one-image run.
    """
    host, port = address
    name = host.encode() if host.isascii() else host  # getaddrinfo takes bytes too
    return socket.create_connection((name, port), timeout, source)  # type: ignore[arg-type]


def _proxy_auth(proxy: str) -> dict[str, str]:
    """``Proxy-Authorization`` for a proxy URL that carries credentials."""
    parts = urlsplit(proxy)
    if not parts.username:
        return {}
    pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
    return {"Proxy-Authorization": "Basic " + base64.b64encode(pair.encode()).decode()}


def _dropped(conn: Connection) -> bool:
    """True if an idle connection was closed by the server (or sent something unasked)."""
    sock = conn.sock
    if sock is None:
        return True
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


class HTTPClient:
    """Pooled, thread-safe HTTP requests; one instance per registry client."""

    def __init__(self, *, verify: bool = True, ca_file: str | None = None,
                 pool_size: int = 10) -> None:
        self.verify, self.ca_file, self.pool_size = verify, ca_file, pool_size
        self._idle: dict[tuple[str, str, int, str | None], list[Connection]] = {}
        self._lock = threading.Lock()
        self._context: ssl.SSLContext | None = None

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, {}
        for conns in idle.values():
            for conn in conns:
                conn.close()

    def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, str] | list[tuple[str, str]] | None = None,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        connect_timeout: float,
        read_timeout: float,
        max_bytes: int,
        watch: Watch | None = None,
    ) -> Response:
        """Send one request (following GET/HEAD redirects) and read its capped body."""
        sent = dict(headers or {})
        if params:
            url += ("&" if "?" in url else "?") + urlencode(params)
        for _ in range(MAX_REDIRECTS + 1):
            response = self._once(method, url, sent, body, connect_timeout, read_timeout,
                                  max_bytes, watch)
            location = response.headers.get("Location")
            if method not in ("GET", "HEAD") or response.status_code not in REDIRECTS \
                    or not location:
                return response
            try:
                target = urljoin(url, location)
                new = _origin(target)  # (a bad port raises here)
            except ValueError:
                raise Unfollowable(f"a redirect to a malformed URL {location[:100]!r}") from None
            old = _origin(url)
            if new[0] not in ("http", "https"):
                raise Unfollowable(f"a redirect to {target.split('?')[0]!r}, not http(s)")
            if new[0] == "http" and old[0] == "https":
                raise Unfollowable(f"a redirect from https down to {target.split('?')[0]!r}")
            if new != old:
                sent.pop("Authorization", None)
            url = target
        raise Unfollowable(f"more than {MAX_REDIRECTS} redirects")

    def _once(self, method: str, url: str, headers: dict[str, str], body: bytes | None,
              connect_timeout: float, read_timeout: float, max_bytes: int,
              watch: Watch | None) -> Response:
        parts = urlsplit(url)
        scheme, host, port = _origin(url)
        if scheme not in ("http", "https") or not host:
            raise Unfollowable(f"cannot request {scheme or 'a relative'} URL")
        proxy = _proxy_for(scheme, host, port)
        conn = self._take((scheme, host, port, proxy))
        if conn is None:
            conn = self._connect(scheme, host, port, proxy, connect_timeout)
        sock = conn.sock
        assert sock is not None
        if watch is not None:  # the socket itself: http.client drops conn.sock on close
            watch.attach(sock)
        try:
            sock.settimeout(read_timeout)
            target = parts.path or "/"
            if parts.query:
                target += "?" + parts.query
            if proxy and scheme == "http":  # through a proxy: the whole URL, its credentials
                target, headers = url, {**headers, **_proxy_auth(proxy)}
            conn.request(method, target, body=body, headers=headers)
            answer = conn.getresponse()
            content = _read(answer, method, max_bytes)
        except BodyTooLarge:
            conn.close()
            raise
        except ssl.SSLError as exc:
            conn.close()
            raise TLSFailed(_summary(exc), isinstance(exc, ssl.SSLCertVerificationError)) \
                from exc
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            raise ConnectionFailed(_summary(exc)) from exc
        except ValueError as exc:  # a header value http.client refuses to send (CR/LF, non-Latin-1)
            conn.close()
            raise Unfollowable(f"cannot send the request: {_summary(exc)}",
                               "a header value (a credential, a token) holds a line break "
                               "or a character outside Latin-1") from None
        if answer.will_close:
            conn.close()
        else:
            if watch is not None:  # pooled for others now: not this request's to shut
                watch.detach(sock)
            self._give((scheme, host, port, proxy), conn)
        return Response(method, url, answer.status, answer.msg, content,
                        headers.get("Authorization"))

    def _connect(self, scheme: str, host: str, port: int, proxy: str | None,
                 timeout: float) -> Connection:
        """A new connection, connected (TLS included) within ``timeout``."""
        conn: Connection
        if proxy:
            pparts = urlsplit(proxy)
            try:
                phost, pport = pparts.hostname or "", pparts.port or 80
            except ValueError:
                raise Unfollowable(f"the proxy URL {proxy.split('@')[-1]!r} of the "
                                   "environment is malformed",
                                   "fix or unset HTTPS_PROXY, HTTP_PROXY and ALL_PROXY") from None
            if scheme == "https":
                conn = http.client.HTTPSConnection(phost, pport, timeout=timeout,
                                                   context=self.context())
                conn.set_tunnel(host, port, headers=_proxy_auth(proxy))
            else:
                conn = http.client.HTTPConnection(phost, pport, timeout=timeout)
        elif scheme == "https":
            conn = http.client.HTTPSConnection(host, port, timeout=timeout,
                                               context=self.context())
        else:
            conn = http.client.HTTPConnection(host, port, timeout=timeout)
        conn._create_connection = _open_socket  # type: ignore[attr-defined]
        try:
            conn.connect()
        except ssl.SSLError as exc:
            conn.close()
            raise TLSFailed(_summary(exc), isinstance(exc, ssl.SSLCertVerificationError)) \
                from exc
        except OSError as exc:
            conn.close()
            raise ConnectionFailed(_summary(exc)) from exc
        return conn

    def context(self) -> ssl.SSLContext:
        """The TLS context, built on first use (loading the CA store costs ~40 ms)."""
        with self._lock:
            if self._context is None:
                try:
                    self._context = self._new_context()
                except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
                    raise TLSFailed(f"cannot load the CA file {self.ca_file}: {_summary(exc)}",
                                    True) from None
            return self._context

    def _new_context(self) -> ssl.SSLContext:
        if not self.verify:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        elif self.ca_file:
            context = ssl.create_default_context(cafile=self.ca_file)
        else:
            context = ssl.create_default_context()
            if not context.cert_store_stats()["x509_ca"] and not context.get_ca_certs():
                import certifi  # no system CA store (a slim container): certifi's

                context.load_verify_locations(certifi.where())
        return context

    def _take(self, key: tuple[str, str, int, str | None]) -> Connection | None:
        with self._lock:
            idle = self._idle.get(key)
            while idle:
                conn = idle.pop()
                if not _dropped(conn):
                    return conn
                conn.close()
        return None

    def _give(self, key: tuple[str, str, int, str | None], conn: Connection) -> None:
        with self._lock:
            idle = self._idle.setdefault(key, [])
            if len(idle) < self.pool_size:
                idle.append(conn)
                return
        conn.close()


def _read(answer: http.client.HTTPResponse, method: str, max_bytes: int) -> bytes:
    """The whole body, refused past ``max_bytes`` (announced or actually sent)."""
    announced = answer.getheader("Content-Length", "")
    if method != "HEAD" and announced.isdigit() and int(announced) > max_bytes:
        raise BodyTooLarge
    chunks: list[bytes] = []
    total = 0
    while chunk := answer.read(64 * 1024):
        total += len(chunk)
        if total > max_bytes:
            raise BodyTooLarge
        chunks.append(chunk)
    if answer.length:  # read(amt) returns what came when the connection ends early
        raise http.client.IncompleteRead(b"".join(chunks), answer.length)
    return b"".join(chunks)


def _summary(exc: BaseException) -> str:
    """A one-line, secret-free summary of a socket, TLS or HTTP exception."""
    text = str(exc) or type(exc).__name__
    for marker in ("Connection refused", "timed out", "Connection reset", "Name or service",
                   "CERTIFICATE_VERIFY_FAILED"):
        if marker in text:
            return marker.lower() if marker != "CERTIFICATE_VERIFY_FAILED" else text[:200]
    return text.splitlines()[0][:200]
