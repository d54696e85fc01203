"""``login``/``logout``: check credentials against a registry and keep them where docker
(and notation, and ocisign's own auth) reads them.

Where: docker's ``config.json`` (``$DOCKER_CONFIG`` or ``~/.docker``) names a
``credHelpers`` entry for the host, else a ``credsStore``; either is a
``docker-credential-<name>`` program that gets the secret on stdin (never in argv).
With neither, the credentials go into ``auths`` as docker writes them (base64
``user:password``), in a 0600 file replaced atomically.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ocisign.errors import AuthError, ConfigError
from ocisign.registry.auth import DOCKER_HUB_AUTH_KEY, _host_key, docker_config_path
from ocisign.registry.store import RegistryOptions
from ocisign.util.fs import atomic_write, ensure_dir


def server_key(server: str) -> str:
    """The key docker files the server under (``https://index.docker.io/v1/`` for Hub)."""
    host = _host_key(server)
    return DOCKER_HUB_AUTH_KEY if host == "docker.io" else host


def check_login(server: str, options: RegistryOptions) -> None:
    """GET ``/v2/`` with the credentials of ``options`` (AuthError when refused)."""
    from ocisign.registry.client import RegistryClient  # the HTTP boundary

    host = _host_key(server)
    api = "registry-1.docker.io" if host == "docker.io" else host
    client = RegistryClient(options)
    try:
        client.transport.request("GET", api, "/v2/", scopes=frozenset(), what="the registry")
    finally:
        client.close()


def _load(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read docker config {path}: {exc}",
                          hint="fix or move the file, then log in again") from None
    if not isinstance(doc, dict):
        raise ConfigError(f"docker config {path} is not a JSON object")
    return doc


def _helper_for(config: Mapping[str, Any], server: str) -> str | None:
    helpers = {_host_key(k): str(v) for k, v in (config.get("credHelpers") or {}).items()}
    host = _host_key(server)
    if host in helpers:
        return helpers[host]
    store = config.get("credsStore")
    return str(store) if store else None


def _run_helper(helper: str, action: str, data: str) -> None:
    import subprocess  # only for a credential helper

    program = f"docker-credential-{helper}"
    try:
        proc = subprocess.run([program, action], input=data, capture_output=True, text=True,
                              timeout=30, check=False)
    except FileNotFoundError:
        raise ConfigError(f"docker credential helper {program} is not on PATH",
                          hint="install it, or remove credsStore/credHelpers from docker's "
                          "config.json") from None
    except subprocess.TimeoutExpired:
        raise ConfigError(f"docker credential helper {program} timed out") from None
    if proc.returncode != 0:
        # the helper's stdout is its message; it never holds the secret we sent on stdin
        message = (proc.stdout or proc.stderr).strip().splitlines()[:1]
        raise AuthError(f"{program} {action} failed: {message[0] if message else proc.returncode}",
                        hint="check the credential helper")


def store_credentials(server: str, username: str, password: str,
                      env: Mapping[str, str] | None = None) -> str:
    """Save credentials for ``server``; returns where they went (for the user)."""
    path = docker_config_path(env)
    config = _load(path)
    key = server_key(server)
    helper = _helper_for(config, server)
    if helper:
        _run_helper(helper, "store",
                    json.dumps({"ServerURL": key, "Username": username, "Secret": password}))
        return f"credential helper docker-credential-{helper}"
    auths = config.setdefault("auths", {})
    if not isinstance(auths, dict):
        raise ConfigError(f"docker config {path}: 'auths' is not an object")
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    auths[key] = {"auth": token}
    ensure_dir(path.parent)
    atomic_write(path, (json.dumps(config, indent="\t") + "\n").encode(), mode=0o600)
    return str(path)


def erase_credentials(server: str, env: Mapping[str, str] | None = None) -> None:
    """Forget the credentials of ``server`` (helper or ``auths``); nothing saved is fine."""
    path = docker_config_path(env)
    config = _load(path)
    key = server_key(server)
    helper = _helper_for(config, server)
    if helper:
        _run_helper(helper, "erase", key)
        return
    auths = config.get("auths")
    if isinstance(auths, dict):
        names = [name for name in auths if _host_key(name) == _host_key(server)]
        if names:
            for name in names:
                del auths[name]
            atomic_write(path, (json.dumps(config, indent="\t") + "\n").encode(), mode=0o600)
