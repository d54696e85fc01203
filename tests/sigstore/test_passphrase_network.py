"""Issue 11, case 3: a key passphrase never reaches a registry; docker's credentials do.

A recording loopback relay sits in front of the real distribution registry with Basic auth,
so the test sees every byte ``ocisign sign`` sends. ``OCISIGN_PASSWORD`` is a registry
password only (notation's meaning); passphrases come from ``OCISIGN_KEY_PASSPHRASE``,
``COSIGN_PASSWORD``, ``--sigstore-passphrase-file`` or a prompt.
"""

from __future__ import annotations

import base64
import json
import re
import socket
import socketserver
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import DATA, cli_env, run_ocisign
from tests.fixtures.registry import RunningRegistry, push_test_image

pytestmark = pytest.mark.integration
KEY = DATA / "sigstore" / "skopeo-generated.private"
PASSPHRASE = (DATA / "sigstore" / "skopeo-generated.passphrase").read_text().strip()


class Relay(socketserver.ThreadingTCPServer):
    """Forwards loopback connections to ``target`` and keeps what clients sent."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.sent = bytearray()
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Pump)

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.server_address[1]}"

    def basic_credentials(self) -> list[str]:
        """Every ``Authorization: Basic`` value sent, decoded."""
        found = re.findall(rb"(?i)authorization: basic ([A-Za-z0-9+/=]+)", bytes(self.sent))
        return [base64.b64decode(v).decode() for v in found]


class _Pump(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        server = self.server
        assert isinstance(server, Relay)
        upstream = socket.create_connection(server.target)

        def back() -> None:
            while data := upstream.recv(65536):
                self.request.sendall(data)
            self.request.shutdown(socket.SHUT_WR)

        thread = threading.Thread(target=back, daemon=True)
        thread.start()
        try:
            while data := self.request.recv(65536):
                with server.lock:
                    server.sent.extend(data)
                upstream.sendall(data)
            upstream.shutdown(socket.SHUT_WR)
            thread.join(30)
        finally:
            upstream.close()


@pytest.fixture
def relay(registry_basic: RunningRegistry) -> Iterator[Relay]:
    host, port = registry_basic.host.rsplit(":", 1)
    server = Relay((host, int(port)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _env(tmp_path: Path, relay: Relay, registry: RunningRegistry, **extra: str) -> dict[str, str]:
    """docker config.json credentials for the relay; no other credential or passphrase."""
    docker = tmp_path / "docker"
    docker.mkdir(exist_ok=True)
    auth = base64.b64encode(f"{registry.username}:{registry.password}".encode()).decode()
    (docker / "config.json").write_text(json.dumps({"auths": {relay.host: {"auth": auth}}}))
    env = cli_env(DOCKER_CONFIG=str(docker), OCISIGN_CONFIG_DIR=str(tmp_path / "cfg"))
    for name in ("OCISIGN_USERNAME", "OCISIGN_PASSWORD", "NOTATION_USERNAME",
                 "NOTATION_PASSWORD", "COSIGN_PASSWORD", "OCISIGN_KEY_PASSPHRASE"):
        env.pop(name, None)
    env.update(extra)
    return env


@pytest.mark.parametrize("variable", ["OCISIGN_KEY_PASSPHRASE", "COSIGN_PASSWORD"])
def test_passphrase_variables_stay_local(
    relay: Relay, registry_basic: RunningRegistry, tmp_path: Path, variable: str
) -> None:
    repo = f"passphrase/{variable.lower()}"
    push_test_image(registry_basic, f"{repo}:v1")
    proc = run_ocisign("sign", "--sigstore-key", str(KEY), "--insecure-registry",
                       f"{relay.host}/{repo}:v1",
                       env=_env(tmp_path, relay, registry_basic, **{variable: PASSPHRASE}))
    assert proc.returncode == 0, proc.stderr
    assert PASSPHRASE.encode() not in relay.sent
    sent = relay.basic_credentials()
    assert sent and set(sent) == {f"{registry_basic.username}:{registry_basic.password}"}


def test_registry_password_is_not_a_passphrase(
    relay: Relay, registry_basic: RunningRegistry, tmp_path: Path
) -> None:
    """Setting the passphrase in OCISIGN_PASSWORD (the old double meaning) decrypts nothing
    and sends nothing: one error line naming the right variables."""
    push_test_image(registry_basic, "passphrase/old-habit:v1")
    proc = run_ocisign("sign", "--sigstore-key", str(KEY), "--insecure-registry",
                       f"{relay.host}/passphrase/old-habit:v1",
                       env=_env(tmp_path, relay, registry_basic, OCISIGN_PASSWORD=PASSPHRASE))
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "no terminal" in proc.stderr and "OCISIGN_KEY_PASSPHRASE" in proc.stderr
    assert not relay.sent
