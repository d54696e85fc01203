"""Registry credentials and the auth chain: anonymous, pre-emptive Basic, Bearer tokens.

Credential order: explicit -u/-p, ``OCISIGN_USERNAME``/``OCISIGN_PASSWORD``,
``NOTATION_USERNAME``/``NOTATION_PASSWORD``, then docker's config.json
(``credHelpers[host]``, ``credsStore``, inline ``auths``). Secrets never reach logs or errors.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

from ocisign.errors import AuthError, ConfigError

log = logging.getLogger(__name__)

DOCKER_HUB_AUTH_KEY = "https://index.docker.io/v1/"
_HUB_ALIASES = ("docker.io", "index.docker.io", "registry-1.docker.io")


@dataclass(frozen=True)
class Credentials:
    """A username + password, or an identity (refresh) token. ``repr`` hides secrets."""

    username: str = ""
    password: str = field(default="", repr=False)
    identity_token: str = field(default="", repr=False)
    source: str = field(default="", compare=False)  # where they came from, for hints

    def basic_header(self) -> str:
        raw = f"{self.username}:{self.password}".encode()
        return "Basic " + base64.b64encode(raw).decode()


@dataclass(frozen=True)
class Challenge:
    """One parsed ``WWW-Authenticate`` challenge."""

    scheme: str
    params: dict[str, str]


TokenFetcher = Callable[[str, dict[str, str], list[str], "Credentials | None"], tuple[str, float]]
"""(registry host, challenge params, scopes, credentials) -> (token, expires_in seconds)."""

_TCHARS = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_PARAM_RE = re.compile(rf'\s*({_TCHARS})\s*=\s*("(?:[^"\\]|\\.)*"|{_TCHARS})\s*(?:,|$)')
_SCHEME_RE = re.compile(rf"\s*({_TCHARS})(?:\s+|$)")


def parse_www_authenticate(header: str) -> list[Challenge]:
    """Parse a ``WWW-Authenticate`` value (quoted commas, escapes, several challenges)."""
    challenges: list[Challenge] = []
    pos = 0
    while pos < len(header):
        while pos < len(header) and header[pos] in ", ":
            pos += 1
        scheme_match = _SCHEME_RE.match(header, pos)
        if not scheme_match:
            break
        scheme = scheme_match.group(1)
        pos = scheme_match.end()
        params: dict[str, str] = {}
        while True:
            param = _PARAM_RE.match(header, pos)
            if not param:
                break
            value = param.group(2)
            if value.startswith('"'):
                value = re.sub(r"\\(.)", r"\1", value[1:-1])
            params[param.group(1).lower()] = value
            pos = param.end()
        challenges.append(Challenge(scheme.lower(), params))
    return challenges


def _host_key(server: str) -> str:
    """``https://host:port/v1/`` -> ``host:port``; Docker Hub aliases -> docker.io."""
    text = server.strip()
    host = urlsplit(text).netloc if "://" in text else text.split("/", 1)[0]
    return "docker.io" if host in _HUB_ALIASES else host


def docker_config_path(env: Mapping[str, str] | None = None) -> Path:
    """``$DOCKER_CONFIG/config.json``, else ``~/.docker/config.json``."""
    env = os.environ if env is None else env
    base = env.get("DOCKER_CONFIG")
    return Path(base) / "config.json" if base else Path.home() / ".docker" / "config.json"


def _run_helper(helper: str, server: str, env: Mapping[str, str]) -> Credentials | None:
    import subprocess  # only for a credential helper

    program = f"docker-credential-{helper}"
    try:
        proc = subprocess.run(
            [program, "get"],
            input=server,
            capture_output=True,
            text=True,
            timeout=30,
            env=dict(env),
            check=False,
        )
    except FileNotFoundError as exc:
        raise ConfigError(
            f"docker credential helper {program} is not on PATH",
            "install it, or remove it from credHelpers/credsStore in docker's config.json",
        ) from exc
    except subprocess.TimeoutExpired as exc:
        raise ConfigError(f"docker credential helper {program} timed out") from exc
    if proc.returncode != 0:
        log.debug("credential helper %s has no credentials for %s", program, server)
        return None
    try:
        data = json.loads(proc.stdout)
        username, secret = str(data["Username"]), str(data["Secret"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"docker credential helper {program} printed malformed output") from exc
    if username == "<token>":
        return Credentials(identity_token=secret)
    return Credentials(username, secret)


def docker_credentials(registry: str, env: Mapping[str, str] | None = None) -> Credentials | None:
    """Credentials for ``registry`` from docker's config.json (helpers, store, inline)."""
    env = os.environ if env is None else env
    path = docker_config_path(env)
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read docker config {path}: {exc}") from exc
    if not isinstance(config, dict):
        raise ConfigError(f"docker config {path} is not a JSON object")
    key = _host_key(registry)
    server = DOCKER_HUB_AUTH_KEY if key == "docker.io" else key
    helpers = {_host_key(k): str(v) for k, v in (config.get("credHelpers") or {}).items()}
    if key in helpers:
        return _run_helper(helpers[key], server, env)
    if config.get("credsStore"):
        found = _run_helper(str(config["credsStore"]), server, env)
        if found:
            return found
    for name, entry in (config.get("auths") or {}).items():
        if _host_key(name) != key or not isinstance(entry, dict):
            continue
        if entry.get("identitytoken"):
            return Credentials(identity_token=str(entry["identitytoken"]))
        if entry.get("auth"):
            try:
                decoded = base64.b64decode(str(entry["auth"]), validate=True).decode()
            except ValueError:
                decoded = ""
            user, colon, password = decoded.partition(":")
            if not colon:
                raise ConfigError(f"docker config {path}: bad 'auth' value for {name}")
            return Credentials(user, password)
        if entry.get("username"):
            return Credentials(str(entry["username"]), str(entry.get("password") or ""))
    return None


def resolve_credentials(
    registry: str,
    username: str | None = None,
    password: str | None = None,
    env: Mapping[str, str] | None = None,
) -> Credentials | None:
    """The credentials to use for ``registry``, in the documented order (None = anonymous)."""
    env = os.environ if env is None else env
    if username or password:
        return _given(username, password, "-u/--username, -p/--password")
    for prefix in ("OCISIGN", "NOTATION"):
        user, pw = env.get(f"{prefix}_USERNAME"), env.get(f"{prefix}_PASSWORD")
        if user or pw:
            return _given(user, pw, f"{prefix}_USERNAME/{prefix}_PASSWORD")
    found = docker_credentials(registry, env)
    if found is None:
        return None
    return replace(found, source=f"docker's {docker_config_path(env)}")


def _given(username: str | None, password: str | None, source: str) -> Credentials:
    """A password without a username is an identity (refresh) token, as notation takes it."""
    if not username:
        return Credentials(identity_token=password or "", source=source)
    return Credentials(username, password or "", source=source)


def credentials_hint(creds: Credentials | None, problem: str) -> str:
    """A hint naming which credentials were tried and from where (never their values)."""
    if creds is None:
        return (f"{problem}: no credentials were found (looked at -u/-p, OCISIGN_USERNAME/"
                "OCISIGN_PASSWORD, NOTATION_USERNAME/NOTATION_PASSWORD, docker's config.json); "
                "pass -u/--username and -p/--password, set OCISIGN_USERNAME/OCISIGN_PASSWORD, "
                "or 'ocisign login'")
    return (f"{problem}: the credentials tried came from {creds.source or 'the caller'}; "
            "fix them there (or log in again), or use an account with access")


@dataclass
class _Token:
    value: str
    expires: float


class Authenticator:
    """Per-registry auth state: known scheme, credentials, Bearer token cache (thread-safe)."""

    def __init__(self, username: str | None = None, password: str | None = None) -> None:
        self._username = username
        self._password = password
        self._lock = threading.Lock()
        self._creds: dict[str, Credentials | None] = {}
        self._basic_hosts: set[str] = set()
        self._bearer: dict[str, Challenge] = {}
        self._tokens: dict[tuple[str, frozenset[str]], _Token] = {}

    def credentials(self, host: str) -> Credentials | None:
        """Credentials for ``host``, looked up once and remembered."""
        with self._lock:
            if host not in self._creds:
                self._creds[host] = resolve_credentials(host, self._username, self._password)
            return self._creds[host]

    def headers(self, host: str, scopes: frozenset[str]) -> dict[str, str]:
        """The Authorization header to send pre-emptively (empty if none is known yet)."""
        with self._lock:
            token = self._tokens.get((host, scopes))
            if token and token.expires > time.monotonic():
                return {"Authorization": f"Bearer {token.value}"}
            basic = host in self._basic_hosts
        if basic:
            creds = self.credentials(host)
            if creds:
                return {"Authorization": creds.basic_header()}
        return {}

    def challenge(
        self,
        host: str,
        scopes: frozenset[str],
        header: str,
        sent: str | None,
        token_fetcher: TokenFetcher,
    ) -> bool:
        """React to a 401 of a request sent with Authorization ``sent`` (None if none).

        Learns the scheme and fetches a token if needed; True if a retry makes sense.
        """
        challenges = parse_www_authenticate(header)
        if not challenges:
            raise AuthError(f"{host} requires authentication but sent no usable challenge")
        chosen = next((c for c in challenges if c.scheme == "bearer"), challenges[0])
        creds = self.credentials(host)
        if chosen.scheme == "basic":
            if not creds:
                raise AuthError(f"{host} requires credentials and none were found",
                                credentials_hint(None, f"{host} wants credentials"))
            if not creds.username:
                raise AuthError(f"{host} asks for a username and password (Basic auth); an "
                                "identity token (a password without a username) cannot answer",
                                credentials_hint(creds, "give the username too (-u/--username)"))
            with self._lock:
                self._basic_hosts.add(host)
            return not (sent or "").startswith("Basic ")
        if chosen.scheme != "bearer" or "realm" not in chosen.params:
            raise AuthError(f"{host} asked for unsupported authentication {chosen.scheme!r}")
        with self._lock:  # another thread may have fetched a token meanwhile
            cached = self._tokens.get((host, scopes))
            if cached and cached.expires > time.monotonic() and sent != f"Bearer {cached.value}":
                return True
        wanted = merge_scopes([*scopes, *chosen.params.get("scope", "").split(" ")])
        value, expires_in = token_fetcher(host, chosen.params, wanted, creds)
        with self._lock:
            self._tokens[(host, scopes)] = _Token(value, time.monotonic() + expires_in)
        return True


def merge_scopes(scopes: list[str]) -> list[str]:
    """Merge ``type:name:actions`` scopes per resource (``pull`` + ``push`` -> ``pull,push``)."""
    merged: dict[str, list[str]] = {}
    for scope in scopes:
        resource, sep, actions = scope.rpartition(":")
        if not sep or not resource:
            continue
        known = merged.setdefault(resource, [])
        known.extend(a for a in actions.split(",") if a and a not in known)
    return [f"{resource}:{','.join(sorted(actions))}" for resource, actions in merged.items()]


def origin(url: str) -> tuple[str, str, int]:
    """The (scheme, host, port) of ``url``, default ports filled in."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    default = 443 if scheme == "https" else 80
    return scheme, (parts.hostname or "").lower(), port or default


def may_send_credentials(registry_url: str, realm: str) -> bool:
    """Credentials go to a token realm over https, or to the registry's own origin
    (scheme, host and port); never over plain HTTP to another origin."""
    realm_origin = origin(realm)
    return realm_origin[0] == "https" or realm_origin == origin(registry_url)
