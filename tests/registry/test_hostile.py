"""Hostile registries (issue 11): endless pagination, slowloris bodies, huge listings,
credentials lured to another origin. A loopback fake does what no real registry does."""

from __future__ import annotations

import base64
import re
import time
from pathlib import Path

import pytest

from ocisign.errors import NetworkError
from ocisign.oci import EMPTY_JSON, OCI_MANIFEST
from ocisign.registry.client import MAX_PAGES, RegistryStore
from ocisign.util.deadline import deadline_scope
from tests.fixtures.fake_registry import FakeRegistry
from tests.fixtures.registry import TokenServer, push_test_image, signature_manifest
from tests.validate.conftest import make_sigstore_key, validate

ARTIFACT = "application/vnd.example.sig"


def _signed(fake: FakeRegistry, repo: str, count: int = 1) -> tuple[RegistryStore, str]:
    digest = push_test_image(fake, f"{repo}:v1")
    store = fake.client().store(f"{fake.host}/{repo}")
    subject = store.resolve(digest)
    store.push_blob(EMPTY_JSON, "application/vnd.oci.empty.v1+json")
    for i in range(count):
        payload = store.push_blob(f"sig {i}".encode(), "application/octet-stream")
        manifest = signature_manifest(subject, f"sig {i}".encode(), ARTIFACT)
        assert payload.size
        store.push_manifest(manifest, OCI_MANIFEST)
    return store, digest


def _referrer_requests(fake: FakeRegistry) -> int:
    return sum("/referrers/" in line for line in fake.seen)


def test_endless_referrers_links_stop_at_the_page_cap(fake_registry: FakeRegistry) -> None:
    store, digest = _signed(fake_registry, "loop/fresh")
    fake_registry.referrers_links = "fresh"  # a new next URL on every page, for ever
    fake_registry.seen.clear()
    found = store.referrers(digest, limit=10_000)
    assert _referrer_requests(fake_registry) == MAX_PAGES
    assert {d.artifact_type for d in found} == {ARTIFACT}


def test_a_repeated_next_link_ends_the_listing(fake_registry: FakeRegistry) -> None:
    store, digest = _signed(fake_registry, "loop/repeat")
    fake_registry.referrers_links = "repeat"  # page 1 names page 1 as its next page
    fake_registry.seen.clear()
    store.referrers(digest)
    assert _referrer_requests(fake_registry) == 2


def test_referrers_listing_stops_at_the_limit(fake_registry: FakeRegistry) -> None:
    store, digest = _signed(fake_registry, "many/app", count=30)
    assert len(store.referrers(digest)) == 30
    assert len(store.referrers(digest, limit=4)) == 4
    fake_registry.referrers_links = "fresh"
    fake_registry.seen.clear()
    assert len(store.referrers(digest, limit=45)) == 45  # two pages read, no third
    assert _referrer_requests(fake_registry) == 2


def test_slowloris_body_hits_the_request_deadline(fake_registry: FakeRegistry) -> None:
    digest = push_test_image(fake_registry, "slow/app:v1")
    store = fake_registry.client(request_timeout=1.0, timeout=5.0, max_retries=0).store(
        f"{fake_registry.host}/slow/app")
    fake_registry.trickle = 0.2  # one byte every 0.2 s: each read is quick, the body endless
    start = time.monotonic()
    with pytest.raises(NetworkError, match="did not finish answering within 1 s") as info:
        store.fetch_manifest(digest)
    assert time.monotonic() - start < 15  # the manifest alone would take minutes
    assert info.value.hint and "--timeout" in info.value.hint


def test_the_line_deadline_bounds_every_request(fake_registry: FakeRegistry) -> None:
    digest = push_test_image(fake_registry, "slow/line:v1")
    store = fake_registry.client(request_timeout=600.0, timeout=30.0).store(
        f"{fake_registry.host}/slow/line")
    fake_registry.trickle = 0.2
    start = time.monotonic()
    with deadline_scope(time.monotonic() + 1.0), pytest.raises(NetworkError):
        store.fetch_manifest(digest)
    assert time.monotonic() - start < 15
    fake_registry.trickle = None
    with deadline_scope(time.monotonic() - 1), pytest.raises(NetworkError, match="no time left"):
        store.fetch_manifest(digest)


def test_validate_exits_soon_after_its_timeout(fake_registry: FakeRegistry,
                                               tmp_path: Path) -> None:
    push_test_image(fake_registry, "slow/cli:v1")
    fake_registry.trickle = 0.5
    key = make_sigstore_key(tmp_path / "k.pub")
    start = time.monotonic()
    proc = validate(f"{fake_registry.host}/slow/cli:v1", "--insecure-registry", "--timeout", "2s",
                    "--sigstore-pubkey", str(key.pub_path), "-o", str(tmp_path / "f.txt"))
    assert time.monotonic() - start < 30  # the process does not wait for the stuck worker
    assert proc.returncode == 1
    assert re.search(r"did not finish answering within [0-9.]+ s|timed out after 2s",
                     proc.stdout), proc.stdout
    assert "Traceback" not in proc.stderr


def test_token_credentials_never_go_to_plain_http_elsewhere(fake_registry: FakeRegistry,
                                                            tmp_path: Path) -> None:
    tokens = TokenServer(tmp_path, {"alice": ("s3cret-pw", {"pull"})}, tls=False)
    try:
        digest = push_test_image(fake_registry, "tok/app:v1")
        fake_registry.challenge = f'Bearer realm="{tokens.realm}",service="fake"'
        store = fake_registry.client(username="alice", password="s3cret-pw").store(
            f"{fake_registry.host}/tok/app")
        assert store.fetch_manifest(digest).digest == digest
        assert tokens.requests and all(user == "" for user, _ in tokens.requests)  # anonymous
    finally:
        tokens.close()


def test_basic_credentials_stay_on_the_registry_origin(fake_registry: FakeRegistry) -> None:
    other = FakeRegistry()
    try:
        fake_registry.challenge = 'Basic realm="fake"'
        fake_registry.upload_origin = f"http://{other.host}"  # sessions live elsewhere
        store = fake_registry.client(username="bob", password="pw-9").store(
            f"{fake_registry.host}/up/app")
        store.client._monolithic_post[fake_registry.host] = False
        store.push_blob(b"data", "application/octet-stream")
        basic = "Basic " + base64.b64encode(b"bob:pw-9").decode()
        assert basic in fake_registry.authorizations
        assert other.seen and not any(other.authorizations)  # the PUT went there, bare
    finally:
        other.close()
