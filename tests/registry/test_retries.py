"""The retry policy (issue 17 item 1): which requests are repeated, the budget, settings."""

from __future__ import annotations

import json
from email.utils import formatdate
from pathlib import Path

import pytest

from ocisign.cli._flags import registry_settings
from ocisign.config.notation import load_config
from ocisign.errors import ConfigError, NetworkError, NotFoundError, UsageError
from ocisign.registry.transport import parse_retry_after
from tests.fixtures.fake_registry import FakeRegistry
from tests.fixtures.registry import push_test_image

FLAGS = {"username": None, "password": None, "insecure_registry": True, "tls_verify": None,
         "ca_file": None}


def test_lost_delete_answer_then_404_is_done(fake_registry: FakeRegistry) -> None:
    digest = push_test_image(fake_registry, "del/app:v1")
    store = fake_registry.client().store(f"{fake_registry.host}/del/app")
    fake_registry.manifests.pop(f"del/app@{digest}")  # as if a first DELETE had been applied
    fake_registry.faults[:] = [("reset",)]  # ... and its answer lost
    store.delete_manifest(digest)
    with pytest.raises(NotFoundError):  # a first answer of 404 still means not found
        store.delete_manifest(digest)


def test_429_and_503_repeat_even_unsafe_requests(fake_registry: FakeRegistry) -> None:
    store = fake_registry.client().store(f"{fake_registry.host}/up/app")
    store.client._monolithic_post[fake_registry.host] = False
    fake_registry.faults[:] = [None, None, ("status", 429, "0"), ("status", 503, None)]
    desc = store.push_blob(b"payload", "application/octet-stream")  # HEAD, POST, PUT x3
    assert [s.split(" ")[0] for s in fake_registry.seen] == ["HEAD", "POST", "PUT", "PUT", "PUT"]
    assert fake_registry.blobs[desc.digest] == b"payload"


def test_retry_budget_in_seconds_stops_retries(fake_registry: FakeRegistry) -> None:
    push_test_image(fake_registry, "budget/app:v1")
    store = fake_registry.client(max_retries=50, retry_budget=0.0).store(
        f"{fake_registry.host}/budget/app")
    fake_registry.faults[:] = [("status", 503, None)] * 60
    fake_registry.seen.clear()
    with pytest.raises(NetworkError, match="kept answering 503"):
        store.resolve("v1")
    assert len(fake_registry.seen) == 1


def test_retry_after_http_date() -> None:
    assert parse_retry_after(formatdate(1_000_030, usegmt=True), now=1_000_000) == 30
    assert parse_retry_after("7") == 7
    assert parse_retry_after("soon") is None


def test_limits_from_flags_and_config(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"registryRetries": 2, "registryRetryBudget": 9,
                                  "registryRequestTimeout": 30}))
    loaded = load_config(config, formats=["jws"])
    options = registry_settings(FLAGS, loaded)
    assert (options.max_retries, options.retry_budget, options.request_timeout) == (2, 9, 30)
    flags = {**FLAGS, "registry_retries": 7, "registry_retry_budget": "2m",
             "registry_request_timeout": "0"}
    options = registry_settings(flags, loaded)
    assert (options.max_retries, options.retry_budget) == (7, 120)
    assert options.request_timeout == 120  # 0 is not "unbounded": the default total applies
    with pytest.raises(UsageError, match="--registry-retry-budget"):
        registry_settings({**FLAGS, "registry_retry_budget": "soon"}, loaded)
    config.write_text(json.dumps({"registryRetries": "many"}))
    with pytest.raises(ConfigError, match="registryRetries must be a number"):
        load_config(config, formats=["jws"])
