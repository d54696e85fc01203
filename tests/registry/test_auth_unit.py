"""Unit tests: WWW-Authenticate and Retry-After parsing, credential sources and order."""

from __future__ import annotations

import base64
import json
import os
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest

from ocisign.errors import ConfigError
from ocisign.registry.auth import (
    Challenge,
    Credentials,
    docker_config_path,
    may_send_credentials,
    merge_scopes,
    parse_www_authenticate,
    resolve_credentials,
)
from ocisign.registry.transport import parse_retry_after
from tests.fixtures.registry import make_helper


def test_www_authenticate_bearer_quoted_commas() -> None:
    header = (
        'Bearer realm="https://auth.example.com/token",service="registry.example.com",'
        'scope="repository:a/b:pull,push repository:c:pull",error="insufficient_scope"'
    )
    assert parse_www_authenticate(header) == [
        Challenge(
            "bearer",
            {
                "realm": "https://auth.example.com/token",
                "service": "registry.example.com",
                "scope": "repository:a/b:pull,push repository:c:pull",
                "error": "insufficient_scope",
            },
        )
    ]


def test_www_authenticate_variants() -> None:
    assert parse_www_authenticate('Basic realm="Registry Realm"') == [
        Challenge("basic", {"realm": "Registry Realm"})
    ]
    assert parse_www_authenticate('BEARER Realm=tok , Service = "s\\"x"') == [
        Challenge("bearer", {"realm": "tok", "service": 's"x'})
    ]
    two = parse_www_authenticate('Basic realm="a, b", Bearer realm="https://t/x",service="s"')
    assert [c.scheme for c in two] == ["basic", "bearer"]
    assert two[0].params == {"realm": "a, b"}
    assert two[1].params == {"realm": "https://t/x", "service": "s"}
    assert parse_www_authenticate("") == []


def test_retry_after() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    now = datetime(2026, 1, 1, tzinfo=UTC)
    later = format_datetime(now + timedelta(seconds=7), usegmt=True)
    assert parse_retry_after(later, now=now.timestamp()) == pytest.approx(7.0)
    earlier = format_datetime(now - timedelta(seconds=7), usegmt=True)
    assert parse_retry_after(earlier, now=now.timestamp()) == 0.0


def test_scopes_and_realm_rule() -> None:
    assert merge_scopes(["repository:a:pull", "repository:a:push,pull", "repository:b:pull", ""]) \
        == ["repository:a:pull,push", "repository:b:pull"]
    assert may_send_credentials("https://reg.io/", "https://auth.elsewhere.io/token")
    assert may_send_credentials("http://127.0.0.1:5000/", "http://127.0.0.1:5000/token")
    assert may_send_credentials("https://reg.io/", "https://reg.io:443/token")
    # plain HTTP to another origin: another port, host or scheme of the same host
    assert not may_send_credentials("http://127.0.0.1:5000/", "http://127.0.0.1:9999/token")
    assert not may_send_credentials("https://reg.io/", "http://reg.io/token")
    assert not may_send_credentials("https://reg.io/", "http://evil.example/token")
    assert not may_send_credentials("http://127.0.0.1:5000/", "http://localhost:5000/token")


def test_credentials_repr_hides_secrets() -> None:
    creds = Credentials("bob", "hunter2-secret", "idtok-secret")
    assert "hunter2" not in repr(creds) and "idtok" not in repr(creds)


def _write_config(directory: Path, config: dict[str, object]) -> None:
    (directory / "config.json").write_text(json.dumps(config))


def test_credential_order(tmp_path: Path) -> None:
    _write_config(tmp_path, {"auths": {"reg.io": {"username": "dock", "password": "dpw"}}})
    env = {
        "DOCKER_CONFIG": str(tmp_path),
        "OCISIGN_USERNAME": "oci",
        "OCISIGN_PASSWORD": "opw",
        "NOTATION_USERNAME": "nota",
        "NOTATION_PASSWORD": "npw",
    }
    assert resolve_credentials("reg.io", "cli", "cpw", env) == Credentials("cli", "cpw")
    assert resolve_credentials("reg.io", None, None, env) == Credentials("oci", "opw")
    del env["OCISIGN_USERNAME"], env["OCISIGN_PASSWORD"]
    assert resolve_credentials("reg.io", None, None, env) == Credentials("nota", "npw")
    del env["NOTATION_USERNAME"], env["NOTATION_PASSWORD"]
    assert resolve_credentials("reg.io", None, None, env) == Credentials("dock", "dpw")
    assert resolve_credentials("other.io", None, None, env) is None
    assert resolve_credentials("reg.io", None, "tok", env) == Credentials(identity_token="tok")
    env["NOTATION_PASSWORD"] = "ntok"  # notation: a password alone is an identity token
    assert resolve_credentials("reg.io", None, None, env) == Credentials(identity_token="ntok")


def test_docker_config_forms(tmp_path: Path) -> None:
    auth = base64.b64encode(b"u1:p:with:colons").decode()
    _write_config(
        tmp_path,
        {
            "auths": {
                "https://index.docker.io/v1/": {"auth": auth},
                "http://reg.io:5000/v2/": {"identitytoken": "tok"},
                "broken.io": {"auth": "%%%"},
            }
        },
    )
    env = {"DOCKER_CONFIG": str(tmp_path)}
    assert docker_config_path(env) == tmp_path / "config.json"
    assert docker_config_path({}) == Path.home() / ".docker" / "config.json"
    assert resolve_credentials("docker.io", env=env) == Credentials("u1", "p:with:colons")
    hub = resolve_credentials("registry-1.docker.io", env=env)
    assert hub == Credentials("u1", "p:with:colons")
    assert resolve_credentials("reg.io:5000", env=env) == Credentials(identity_token="tok")
    with pytest.raises(ConfigError):
        resolve_credentials("broken.io", env=env)
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(ConfigError):
        resolve_credentials("reg.io", env=env)


def test_credential_helpers(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    make_helper(bin_dir, "test", {"reg.io": ("helper-user", "helper-pw"),
                                  "https://index.docker.io/v1/": ("<token>", "refresh")})
    make_helper(bin_dir, "store", {"other.io": ("store-user", "store-pw")})
    _write_config(
        tmp_path,
        {
            "credHelpers": {"reg.io": "test", "docker.io": "test", "gone.io": "missing"},
            "credsStore": "store",
            "auths": {"inline.io": {"username": "in", "password": "line"}},
        },
    )
    env = {"DOCKER_CONFIG": str(tmp_path), "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    assert resolve_credentials("reg.io", env=env) == Credentials("helper-user", "helper-pw")
    assert resolve_credentials("docker.io", env=env) == Credentials(identity_token="refresh")
    assert resolve_credentials("other.io", env=env) == Credentials("store-user", "store-pw")
    assert resolve_credentials("inline.io", env=env) == Credentials("in", "line")
    assert resolve_credentials("nowhere.io", env=env) is None
    with pytest.raises(ConfigError, match="docker-credential-missing"):
        resolve_credentials("gone.io", env=env)
