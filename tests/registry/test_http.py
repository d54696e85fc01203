"""The standard-library HTTP client (``registry/http.py``): proxies, redirects, pooling.

The proxy here is written for the tests: it maps the name ``registry.test`` to the
loopback registry, which no real proxy does without editing /etc/hosts (and loopback
names themselves are never proxied, as in Go).
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import re
import select
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from ocisign.errors import AuthError, NetworkError
from ocisign.registry.http import HTTPClient, Unfollowable, _proxy_for
from ocisign.registry.store import RegistryOptions
from ocisign.registry.transport import Transport
from tests.fixtures.registry import LoopbackServer, RegistryCA, RunningRegistry

NAME = "registry.test"


class Proxy:
    """A forward proxy (CONNECT tunnels and absolute-URL requests) mapping NAME to 127.0.0.1."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str]] = []  # (method, target, Proxy-Authorization)
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _where(self, hostport: str) -> tuple[str, int]:
                host, _, port = hostport.rpartition(":")
                return ("127.0.0.1" if host == NAME else host), int(port)

            def do_CONNECT(self) -> None:
                auth = self.headers.get("Proxy-Authorization", "")
                proxy.seen.append(("CONNECT", self.path, auth))
                upstream = socket.create_connection(self._where(self.path), timeout=5)
                self.send_response(200, "Connection established")
                self.end_headers()
                self.close_connection = True
                sockets = [self.connection, upstream]
                while True:
                    readable, _, _ = select.select(sockets, [], [], 5)
                    if not readable:
                        break
                    for sock in readable:
                        data = sock.recv(65536)
                        if not data:
                            upstream.close()
                            return
                        (upstream if sock is self.connection else self.connection).sendall(data)

            def do_GET(self) -> None:
                proxy.seen.append(("GET", self.path, self.headers.get("Proxy-Authorization", "")))
                hostport = self.path.split("/")[2]
                conn = http.client.HTTPConnection(*self._where(hostport), timeout=5)
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in ("proxy-authorization", "host")}
                conn.request("GET", "/" + self.path.split("/", 3)[3], headers=headers)
                answer = conn.getresponse()
                body = answer.read()
                self.send_response(answer.status)
                for key, value in answer.getheaders():
                    if key.lower() not in ("content-length", "connection", "transfer-encoding"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._server = LoopbackServer(Handler)
        self.url = f"http://{self._server.host}"

    def close(self) -> None:
        self._server.close()


@pytest.fixture()
def proxy() -> Iterator[Proxy]:
    server = Proxy()
    yield server
    server.close()


def _via_name(registry: RunningRegistry) -> str:
    return f"{NAME}:{registry.host.rsplit(':', 1)[1]}"


def test_https_goes_through_a_connect_tunnel_with_the_proxy_credentials(
    registry_tls: RunningRegistry, proxy: Proxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", proxy.url.replace("http://", "http://pal:s%40cret@"))
    host = _via_name(registry_tls)
    transport = Transport(registry_tls.options())
    try:
        answer = transport.request("GET", host, "/v2/", scopes=frozenset())
    finally:
        transport.close()
    assert answer.status_code == 200
    expected = "Basic " + base64.b64encode(b"pal:s@cret").decode()
    assert proxy.seen == [("CONNECT", host, expected)]  # the certificate was verified for NAME


def test_plain_http_through_a_proxy_names_the_whole_url(
    registry: RunningRegistry, proxy: Proxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("http_proxy", proxy.url)
    host = _via_name(registry)
    transport = Transport(registry.options(insecure_registries=frozenset({host})))
    try:
        assert transport.request("GET", host, "/v2/", scopes=frozenset()).status_code == 200
    finally:
        transport.close()
    assert proxy.seen == [("GET", f"http://{host}/v2/", "")]


def test_loopback_and_no_proxy_hosts_are_not_proxied(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "internal.example,.corp.example")
    assert _proxy_for("https", "reg.example", 443) == "http://proxy.example:3128"
    for host in ("127.0.0.1", "localhost", "::1", "internal.example", "reg.corp.example"):
        assert _proxy_for("https", host, 443) is None, host
    assert _proxy_for("http", "reg.example", 80) is None  # HTTPS_PROXY is for https only
    monkeypatch.delenv("HTTPS_PROXY")
    monkeypatch.delenv("NO_PROXY")
    assert _proxy_for("https", "reg.example", 443) is None


class _Origin:
    """A loopback server answering GETs with ``reply(path)`` and recording Authorization."""

    def __init__(self, reply: Any, close_after: bool = False,
                 ca: RegistryCA | None = None) -> None:
        self.authorizations: list[tuple[str, str | None]] = []
        self.closed = threading.Semaphore(0)  # released once per connection it closed
        self.connections: set[int] = set()
        origin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self) -> None:
                origin.authorizations.append((self.path, self.headers.get("Authorization")))
                origin.connections.add(self.client_address[1])
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                status, headers, body = reply(self.path)
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                if close_after:  # keep-alive promised, then closed: a stale pooled connection
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                    origin.closed.release()

            do_GET = do_POST = _answer

        self._server = LoopbackServer(Handler, ca)
        self.host = self._server.host

    def close(self) -> None:
        self._server.close()


def test_redirects_keep_authorization_on_the_same_origin_only() -> None:
    other = _Origin(lambda path: (200, {}, b"blob"))
    registry = _Origin(lambda path: (
        (307, {"Location": "/v2/r/blobs/here"}, b"") if path.endswith("/same")
        else (307, {"Location": f"http://{other.host}/store?sig=1"}, b"")
        if path.endswith("/elsewhere") else (200, {}, b"here")))
    client = HTTPClient()
    try:
        for path in ("/v2/r/blobs/same", "/v2/r/blobs/elsewhere"):
            answer = client.request("GET", f"http://{registry.host}{path}",
                                    headers={"Authorization": "Basic c2VjcmV0"},
                                    connect_timeout=2, read_timeout=2, max_bytes=100)
            assert answer.status_code == 200
    finally:
        client.close()
        registry.close()
        other.close()
    assert registry.authorizations == [("/v2/r/blobs/same", "Basic c2VjcmV0"),
                                       ("/v2/r/blobs/here", "Basic c2VjcmV0"),
                                       ("/v2/r/blobs/elsewhere", "Basic c2VjcmV0")]
    assert other.authorizations == [("/store?sig=1", None)]  # never sent to another origin
    assert answer.content == b"blob" and answer.url == f"http://{other.host}/store?sig=1"


def test_a_connection_the_server_closed_is_not_reused_even_for_a_post() -> None:
    server = _Origin(lambda path: (202, {"Location": "/next"}, b""), close_after=True)
    client = HTTPClient()
    try:
        for _ in range(3):  # a POST is never retried: it must not go to the stale socket
            answer = client.request("POST", f"http://{server.host}/v2/r/blobs/uploads/",
                                    body=b"", connect_timeout=2, read_timeout=2, max_bytes=100)
            assert answer.status_code == 202
            assert server.closed.acquire(timeout=5)  # its FIN is on the way before the next
    finally:
        client.close()
        server.close()
    assert len(server.connections) == 3


def test_a_refused_connection_is_one_network_error(registry: RunningRegistry) -> None:
    transport = Transport(registry.options(max_retries=0))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, not listening: connections are refused
        with pytest.raises(NetworkError, match=r"cannot reach registry .*connection refused"):
            transport.request("GET", f"127.0.0.1:{port}", "/v2/", scopes=frozenset())
    transport.close()


def test_link_header_targets() -> None:
    from ocisign.registry.http import Response

    msg = http.client.HTTPMessage()
    msg["Link"] = ('</v2/r/tags/list?n=2&last=b>; rel="next", '
                   '<https://example.test/doc>; rel="help describedby"')
    answer = Response("GET", "http://x/", 200, msg, b"", None)
    assert answer.link("next") == "/v2/r/tags/list?n=2&last=b"
    assert answer.link("describedby") == "https://example.test/doc"
    assert answer.link("prev") is None


@pytest.mark.parametrize(("location", "message"), [
    ("/v2/r/blobs/loop", "more than 10 redirects"),
    ("file:///etc/passwd", "a redirect to 'file:///etc/passwd', not http(s)"),
    ("http://reg.example:99999/", "a redirect to a malformed URL"),
])
def test_unfollowable_redirects_are_one_error_and_not_retried(location: str, message: str) -> None:
    server = _Origin(lambda path: (302, {"Location": location}, b""))
    transport = Transport(RegistryOptions(insecure=True, max_retries=3, backoff=0.01))
    try:
        with pytest.raises(NetworkError, match=re.escape(message)):
            transport.request("GET", server.host, "/v2/r/blobs/loop", scopes=frozenset())
    finally:
        transport.close()
        server.close()
    assert len(server.authorizations) == (11 if location.startswith("/") else 1)


def test_a_trickled_body_on_a_closing_connection_hits_the_request_deadline() -> None:
    """``Connection: close``: http.client drops ``conn.sock`` at once, so the watchdog must
    hold the socket itself, or a byte every few seconds would hold the worker for ever."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    stop = threading.Event()

    def serve() -> None:
        conn, _ = listener.accept()
        conn.recv(65536)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nConnection: close\r\n\r\n")
        with contextlib.suppress(OSError):
            while not stop.wait(0.2):
                conn.sendall(b" ")
        conn.close()

    threading.Thread(target=serve, daemon=True).start()
    host = f"127.0.0.1:{listener.getsockname()[1]}"
    transport = Transport(RegistryOptions(insecure=True, request_timeout=1.0, timeout=5.0,
                                          max_retries=0))
    try:
        with pytest.raises(NetworkError, match="did not finish answering within 1 s"):
            transport.request("GET", host, "/v2/r/tags/list", scopes=frozenset())
    finally:
        stop.set()
        transport.close()
        listener.close()


def test_a_redirect_targets_challenge_gets_no_credentials() -> None:
    """A storage redirect whose target answers 401 with a token realm of its own: the
    registry's credentials must not be sent to that realm (nor anywhere but the registry)."""
    realm = _Origin(lambda path: (200, {}, b'{"token": "t"}'))
    storage = _Origin(lambda path: (401, {"WWW-Authenticate":
                                         f'Bearer realm="http://{realm.host}/token"'}, b""))
    registry = _Origin(lambda path: (307, {"Location": f"http://{storage.host}/blob"}, b""))
    transport = Transport(RegistryOptions(insecure=True, username="alice", password="s3cret"))
    try:
        with pytest.raises(AuthError, match=r"redirected to .*, which asks for authentication"):
            transport.request("GET", registry.host, "/v2/r/blobs/sha256:00",
                              scopes=frozenset({"repository:r:pull"}))
    finally:
        transport.close()
        for server in (realm, storage, registry):
            server.close()
    assert realm.authorizations == []  # the realm was never asked
    assert [a for _, a in storage.authorizations] == [None]


def test_no_redirect_from_https_down_to_http(registry_ca: RegistryCA) -> None:
    plain = _Origin(lambda path: (200, {}, b"in the clear"))
    secure = _Origin(lambda path: (302, {"Location": f"http://{plain.host}/blob"}, b""),
                     ca=registry_ca)
    client = HTTPClient(ca_file=str(registry_ca.ca_file))
    try:
        with pytest.raises(Unfollowable, match="from https down to"):
            client.request("GET", f"https://{secure.host}/v2/r/blobs/x",
                           connect_timeout=2, read_timeout=2, max_bytes=100)
    finally:
        client.close()
        secure.close()
        plain.close()
    assert [path for path, _ in secure.authorizations] == ["/v2/r/blobs/x"]
    assert plain.authorizations == []


def test_an_unreadable_ca_file_is_one_tls_error(registry_tls: RunningRegistry,
                                                tmp_path: Path) -> None:
    garbage = tmp_path / "ca.pem"
    garbage.write_text("not a certificate\n")
    transport = Transport(registry_tls.options(ca_file=str(garbage)))
    try:
        with pytest.raises(NetworkError, match="cannot load the CA file") as info:
            transport.request("GET", registry_tls.host, "/v2/", scopes=frozenset())
    finally:
        transport.close()
    assert "--ca-file" in (info.value.hint or "")


@pytest.mark.parametrize(("proxy", "headers", "message", "hint"), [
    ("http://proxy.example:99999", {}, "proxy URL", "HTTPS_PROXY"),
    (None, {"Authorization": "Bearer a\r\nX-Injected: 1"}, "cannot send the request",
     "line break"),
])
def test_unfollowable_errors_carry_their_own_hint(
        monkeypatch: pytest.MonkeyPatch, proxy: str | None, headers: dict[str, str],
        message: str, hint: str) -> None:
    """A malformed proxy URL or an unsendable header: one NetworkError whose hint names
    that cause, not the registry's redirects."""
    server = _Origin(lambda path: (200, {}, b"{}"))
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    if proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy)
    host = server.host.replace("127.0.0.1", "reg.test") if proxy else server.host
    transport = Transport(RegistryOptions(insecure=True, max_retries=0))
    try:
        with pytest.raises(NetworkError, match=message) as info:
            transport.request("GET", host, "/v2/", headers=headers, scopes=frozenset())
    finally:
        transport.close()
        server.close()
    assert hint in (info.value.hint or "")
