"""Integration tests against real CNCF distribution (and a fake for what it cannot do)."""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from pathlib import Path

import pytest

from ocisign.errors import (
    AuthError,
    DigestMismatchError,
    NetworkError,
    NotFoundError,
    RegistryError,
)
from ocisign.oci import (
    EMPTY_JSON,
    NOTARY_SIGNATURE,
    OCI_INDEX,
    OCI_MANIFEST,
    Descriptor,
    Platform,
    sha256_digest,
)
from ocisign.registry import open_store
from ocisign.registry.client import RegistryClient, RegistryStore
from ocisign.registry.store import (
    RegistryOptions,
    Store,
    build_index,
    image_platform,
    referrers_tag,
    select_platforms,
    sigstore_tag,
)
from tests.fixtures.fake_registry import FakeRegistry
from tests.fixtures.registry import (
    RunningRegistry,
    make_helper,
    push_test_image,
    signature_manifest,
)

pytestmark = pytest.mark.integration


def store_of(reg: RunningRegistry | FakeRegistry, repo: str, **options: object) -> RegistryStore:
    return reg.client(**options).store(f"{reg.host}/{repo}")


def test_push_pull_resolve(registry: RunningRegistry) -> None:
    digest = push_test_image(registry, "img/single:v1")
    target = open_store(f"{registry.host}/img/single:v1", registry.options())
    store = target.store
    assert isinstance(store, Store) and target.ref == "v1"
    desc = store.resolve("v1")
    assert desc.digest == digest and desc.media_type == OCI_MANIFEST
    manifest = store.fetch_manifest("v1")
    assert sha256_digest(manifest.raw) == digest == manifest.digest
    assert store.fetch_manifest(digest).raw == manifest.raw
    assert image_platform(store, manifest) == Platform("amd64", "linux")
    config = manifest.config
    assert config is not None and store.blob_exists(config.digest)
    assert json.loads(store.fetch_blob(config.digest))["architecture"] == "amd64"
    with pytest.raises(NotFoundError):
        store.resolve("missing-tag")
    with pytest.raises(NotFoundError):
        store.fetch_blob("sha256:" + "0" * 64)


def test_multi_arch_index(registry: RunningRegistry) -> None:
    digest = push_test_image(registry, "img/multi:v1", ["amd64", "arm64"])
    store = store_of(registry, "img/multi")
    index = store.fetch_manifest("v1")
    assert index.digest == digest and index.media_type == OCI_INDEX and index.is_index
    arm = select_platforms(index, {"arm64"})
    assert len(arm) == 1 and arm[0].platform == Platform("arm64", "linux")
    child = store.fetch_manifest(arm[0].digest)
    assert image_platform(store, child) == Platform("arm64", "linux")
    assert len(select_platforms(index, (), {"linux"})) == 2


def test_manifest_push_by_digest_never_tags_latest(registry: RunningRegistry) -> None:
    store = store_of(registry, "img/bydigest")
    config = store.push_blob(EMPTY_JSON, "application/vnd.oci.empty.v1+json")
    data = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                       "config": config.to_dict(), "layers": []}, indent=1).encode()
    desc = store.push_manifest(data, OCI_MANIFEST)
    assert desc.digest == sha256_digest(data)
    assert store.fetch_manifest(desc.digest).raw == data
    with pytest.raises(NotFoundError):
        store.list_tags()  # distribution: a repository with no tags has no tag list


def test_list_tags_and_delete(registry: RunningRegistry) -> None:
    store = store_of(registry, "img/tags")
    for tag in ("a", "b", "c", "d", "e"):
        push_test_image(registry, f"img/tags:{tag}")
    assert sorted(store.list_tags()) == ["a", "b", "c", "d", "e"]
    digest = store.resolve("a").digest
    store.delete_manifest(digest)
    with pytest.raises(NotFoundError):
        store.resolve("a")


def test_mount_and_chunked_upload(registry: RunningRegistry) -> None:
    src = store_of(registry, "img/src", chunk_size=1000)
    data = os.urandom(4500)
    desc = src.push_blob(data, "application/octet-stream")
    assert src.fetch_blob(desc.digest) == data
    dst = store_of(registry, "img/dst")
    assert not dst.blob_exists(desc.digest)
    assert dst.mount_blob(desc.digest, "img/src")
    assert dst.fetch_blob(desc.digest) == data
    assert not dst.mount_blob("sha256:" + "1" * 64, "img/src")


def _push_signature(store: RegistryStore, subject: Descriptor, payload: bytes,
                    force: bool = True) -> tuple[str, str, tuple[str, ...]]:
    store.push_blob(EMPTY_JSON, NOTARY_SIGNATURE)
    store.push_blob(payload, "application/jose+json")
    data = signature_manifest(subject, payload)
    result = store.push_referrer(data, OCI_MANIFEST, force_tag_schema=force)
    assert result.descriptor.digest == sha256_digest(data)
    return result.descriptor.digest, result.mechanism, result.warnings


def test_referrers_tag_schema(registry: RunningRegistry) -> None:
    digest = push_test_image(registry, "img/signed:v1")
    store = store_of(registry, "img/signed")
    subject = store.resolve(digest)
    first, mechanism, warnings = _push_signature(store, subject, b"sig-one", force=False)
    assert mechanism == "tag-schema" and warnings == ()
    old_index = store.resolve(referrers_tag(digest)).digest
    second, _, _ = _push_signature(store, subject, b"sig-two")
    _push_signature(store, subject, b"sig-two")  # already indexed: no change
    found = store.referrers(digest)
    assert [d.digest for d in found] == [first, second]
    assert all(d.artifact_type == NOTARY_SIGNATURE for d in found)
    assert found[0].annotations == {"io.cncf.notary.x509chain.thumbprint#S256": '["ab"]'}
    assert store.referrers(digest, "application/other") == []
    assert referrers_tag(digest) in store.list_tags()
    with pytest.raises(NotFoundError):
        store.fetch_manifest(old_index)  # the superseded index was deleted
    assert store.referrers("sha256:" + "2" * 64) == []


def test_referrers_concurrent_updates_are_serialised(registry: RunningRegistry) -> None:
    digest = push_test_image(registry, "img/many:v1")
    client = registry.client(jobs=8)
    store = client.store(f"{registry.host}/img/many")
    subject = store.resolve(digest)
    pushed: list[str] = []
    threads = [
        threading.Thread(target=lambda i=i: pushed.append(
            _push_signature(store, subject, f"sig-{i}".encode())[0]))
        for i in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(d.digest for d in store.referrers(digest)) == sorted(pushed)


def test_reconciliation_restores_dropped_entries_in_parallel(
        registry: RunningRegistry, monkeypatch: pytest.MonkeyPatch) -> None:
    """The end-of-run pass re-reads each index on the run's workers and re-appends what
    another writer dropped."""
    client = registry.client(jobs=4)
    pushed = {}
    for i in range(6):
        digest = push_test_image(registry, f"rec/i{i}:v1")
        store = client.store(f"{registry.host}/rec/i{i}")
        pushed[i] = (store, digest, _push_signature(store, store.resolve(digest), b"sig")[0])
    for store, digest, _ in pushed.values():  # another writer replaces each index
        store.push_manifest(build_index([]), OCI_INDEX, referrers_tag(digest))
    in_flight, most = [0], [0]
    lock, fetch = threading.Lock(), RegistryStore.fetch_manifest

    def slow_fetch(self: RegistryStore, ref: str) -> object:
        with lock:
            in_flight[0] += 1
            most[0] = max(most[0], in_flight[0])
        time.sleep(0.05)
        try:
            return fetch(self, ref)
        finally:
            with lock:
                in_flight[0] -= 1

    monkeypatch.setattr(RegistryStore, "fetch_manifest", slow_fetch)
    assert client.reconcile() == 6
    monkeypatch.undo()
    assert most[0] >= 2  # the re-reads overlapped
    for store, digest, signature in pushed.values():
        assert [d.digest for d in store.referrers(digest)] == [signature]
    assert client.reconcile() == 0  # nothing left to check


def test_an_interrupted_reconciliation_drops_what_is_queued() -> None:
    """Ctrl-C during the end-of-run pass: the checks not yet started are not run."""
    client = RegistryClient(RegistryOptions(jobs=2))
    ran: list[int] = []

    def interrupt() -> bool:
        raise KeyboardInterrupt

    def check(i: int) -> bool:
        time.sleep(0.02)
        ran.append(i)
        return False

    client._checks = [interrupt] + [lambda i=i: check(i) for i in range(50)]
    with pytest.raises(KeyboardInterrupt):
        client.reconcile()
    time.sleep(0.1)  # the check in flight on the other worker ends
    assert len(ran) < 10


def test_sigstore_tag_roundtrip(registry: RunningRegistry) -> None:
    digest = push_test_image(registry, "img/cosign:v1")
    store = store_of(registry, "img/cosign")
    tag = sigstore_tag(digest)
    assert tag == f"sha256-{digest[7:]}.sig"
    data = signature_manifest(store.resolve(digest), b"payload")
    store.push_blob(EMPTY_JSON, NOTARY_SIGNATURE)
    store.push_blob(b"payload", "application/jose+json")
    store.push_manifest(data, OCI_MANIFEST, tag)
    assert store.fetch_manifest(tag).raw == data


def test_referrers_api_on_fake(fake_registry: FakeRegistry) -> None:
    digest = push_test_image(fake_registry, "img/api:v1")
    store = store_of(fake_registry, "img/api")
    subject = store.resolve(digest)
    sig, mechanism, _ = _push_signature(store, subject, b"api-sig", force=False)
    assert mechanism == "referrers-api"
    assert not any(t.startswith("img/api:sha256-") for t in fake_registry.tags)
    found = store.referrers(digest, NOTARY_SIGNATURE)
    assert [d.digest for d in found] == [sig]
    assert any("/referrers/" in s for s in fake_registry.seen)
    _, forced, _ = _push_signature(store, subject, b"tag-sig", force=True)
    assert forced == "tag-schema"
    assert f"img/api:{referrers_tag(digest)}" in fake_registry.tags


def test_a_host_without_the_referrers_api_is_asked_once(registry: RunningRegistry) -> None:
    """distribution 2.x answers "404 page not found" (no error code): the host lacks the API."""
    from tests.sigstore.conftest import counting

    client = registry.client()
    digests = {f"noapi/r{i}": push_test_image(registry, f"noapi/r{i}:v1") for i in range(3)}
    with counting(client) as seen:
        for repo, digest in digests.items():
            assert client.store(f"{registry.host}/{repo}").referrers(digest) == []
    assert len([s for s in seen if "/referrers/" in s]) == 1, seen
    assert len([s for s in seen if "/manifests/sha256-" in s]) == 3, seen  # the tag schema


def test_a_missing_repository_does_not_mark_the_host(fake_registry: FakeRegistry) -> None:
    """A 404 with a distribution error (NAME_UNKNOWN) is about that repository only."""
    digest = push_test_image(fake_registry, "img/there:v1")
    client = fake_registry.client()
    unknown = b'{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known"}]}'
    fake_registry.faults = [("status", 404, None, unknown)]
    assert client.store(f"{fake_registry.host}/img/gone").referrers(digest) == []
    store = client.store(f"{fake_registry.host}/img/there")
    sig, mechanism, _ = _push_signature(store, store.resolve(digest), b"sig", force=False)
    assert mechanism == "referrers-api"
    assert [d.digest for d in store.referrers(digest)] == [sig]
    assert sum("/referrers/" in s for s in fake_registry.seen) == 2


# -- auth --------------------------------------------------------------------------------


@pytest.mark.usefixtures("no_registry_env")
def test_basic_auth(registry_basic: RunningRegistry, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="ocisign"):
        digest = push_test_image(registry_basic, "auth/basic:v1")
        assert store_of(registry_basic, "auth/basic").resolve("v1").digest == digest
        with pytest.raises(AuthError) as wrong:
            store_of(registry_basic, "auth/basic", password="not-the-password").resolve("v1")
    assert "rejected the credentials" in wrong.value.message
    assert "password" in (wrong.value.hint or "")
    assert str(registry_basic.password) not in caplog.text
    assert "not-the-password" not in caplog.text + wrong.value.diagnostics()
    with pytest.raises(AuthError) as anonymous:
        store_of(registry_basic, "auth/basic", username=None, password=None).resolve("v1")
    assert "-u/--username" in (anonymous.value.hint or "")


@pytest.mark.usefixtures("no_registry_env")
def test_basic_auth_is_preemptive(registry_basic: RunningRegistry,
                                  caplog: pytest.LogCaptureFixture) -> None:
    push_test_image(registry_basic, "auth/pre:v1")
    store = store_of(registry_basic, "auth/pre")
    with caplog.at_level(logging.DEBUG, logger="ocisign.registry.transport"):
        for _ in range(3):
            store.resolve("v1")
    statuses = [r.getMessage().rsplit(" ", 1)[-1] for r in caplog.records]
    assert statuses == ["401", "200", "200", "200"]


def test_docker_config_and_helper(registry_basic: RunningRegistry, no_registry_env: Path,
                                  monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    make_helper(bin_dir, "test", {registry_basic.host: ("alice", str(registry_basic.password))})
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    config = no_registry_env / "config.json"
    config.write_text(json.dumps({"credHelpers": {registry_basic.host: "test"}}))
    push_test_image(registry_basic, "auth/helper:v1")
    store = store_of(registry_basic, "auth/helper", username=None, password=None)
    assert store.resolve("v1").media_type == OCI_MANIFEST
    config.write_text(json.dumps({"auths": {registry_basic.host: {
        "username": "alice", "password": "wrong"}}}))
    with pytest.raises(AuthError):
        store_of(registry_basic, "auth/helper", username=None, password=None).resolve("v1")
    monkeypatch.setenv("NOTATION_USERNAME", "alice")
    monkeypatch.setenv("NOTATION_PASSWORD", str(registry_basic.password))
    store_of(registry_basic, "auth/helper", username=None, password=None).resolve("v1")


@pytest.mark.usefixtures("no_registry_env")
def test_token_auth(registry_token: RunningRegistry, caplog: pytest.LogCaptureFixture) -> None:
    server = registry_token.token_server
    assert server is not None
    with caplog.at_level(logging.DEBUG, logger="ocisign"):
        digest = push_test_image(registry_token, "tok/app:v1")
        client = registry_token.client()
        store = client.store(f"{registry_token.host}/tok/app")
        before = len(server.requests)
        for _ in range(3):
            assert store.resolve("v1").digest == digest
        assert len(server.requests) == before + 1  # one pull token, then cached
        other = client.store(f"{registry_token.host}/tok/other")
        push_test_image(registry_token, "tok/other:v1", client=client)
        assert other.mount_blob(store.fetch_manifest("v1").layers[0].digest, "tok/app")
        store.delete_manifest(digest)
    tokens = [server.issue("alice", ["repository:tok/app:pull"])[:40]]
    assert str(registry_token.password) not in caplog.text
    assert "eyJ" not in caplog.text and tokens[0] not in caplog.text

    reader = store_of(registry_token, "tok/other", username="reader",
                      password="reader-secret-3")
    assert reader.resolve("v1").media_type == OCI_MANIFEST
    with pytest.raises(AuthError) as denied:
        reader.push_blob(b"nope", "application/octet-stream")
    assert "lack permission" in denied.value.message
    with pytest.raises(AuthError) as wrong:
        store_of(registry_token, "tok/other", password="bad-password").resolve("v1")
    assert "rejected the credentials" in wrong.value.message
    assert "bad-password" not in wrong.value.diagnostics()
    with pytest.raises(AuthError):
        store_of(registry_token, "tok/other", username=None, password=None).resolve("v1")


def test_token_auth_with_identity_token(registry_token: RunningRegistry,
                                        no_registry_env: Path) -> None:
    server = registry_token.token_server
    assert server is not None
    refresh = next(t for t, user in server.refresh_tokens.items() if user == "alice")
    (no_registry_env / "config.json").write_text(json.dumps(
        {"auths": {registry_token.host: {"identitytoken": refresh}}}))
    store = store_of(registry_token, "tok/idtoken", username=None, password=None)
    desc = store.push_blob(b"pushed with an identity token", "text/plain")
    assert store.fetch_blob(desc.digest) == b"pushed with an identity token"
    assert server.requests[-1][0] == "alice"


@pytest.mark.usefixtures("no_registry_env")
def test_a_password_without_a_username_is_an_identity_token(
        registry_token: RunningRegistry, registry_basic: RunningRegistry) -> None:
    """As notation takes ``-p`` without ``-u``: the OAuth2 refresh_token grant, never Basic."""
    server = registry_token.token_server
    assert server is not None
    refresh = next(t for t, user in server.refresh_tokens.items() if user == "alice")
    store = store_of(registry_token, "tok/pwonly", username=None, password=refresh)
    desc = store.push_blob(b"pushed with -p alone", "text/plain")
    assert store.fetch_blob(desc.digest) == b"pushed with -p alone"
    assert server.requests[-1][0] == "alice"
    with pytest.raises(AuthError, match="identity token") as basic:
        store_of(registry_basic, "auth/pwonly", username=None,
                 password=registry_basic.password).resolve("v1")
    assert "-u/--username" in (basic.value.hint or "")


@pytest.mark.usefixtures("no_registry_env")
@pytest.mark.parametrize("variant", ["registry_basic", "registry_token", "registry_token_rs256"])
def test_concurrent_first_requests_authenticate(variant: str,
                                                request: pytest.FixtureRequest) -> None:
    reg: RunningRegistry = request.getfixturevalue(variant)
    client = reg.client(jobs=8)
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            push_test_image(reg, f"conc/{variant.replace('_', '-')}:t{i}", client=client)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    store = client.store(f"{reg.host}/conc/{variant.replace('_', '-')}")
    assert sorted(store.list_tags()) == [f"t{i}" for i in range(8)]


def test_tls(registry_tls: RunningRegistry) -> None:
    digest = push_test_image(registry_tls, "tls/app:v1")
    assert store_of(registry_tls, "tls/app").resolve("v1").digest == digest
    with pytest.raises(NetworkError) as untrusted:
        store_of(registry_tls, "tls/app", ca_file=None).resolve("v1")
    assert "TLS" in untrusted.value.message and "--ca-file" in (untrusted.value.hint or "")
    unverified = store_of(registry_tls, "tls/app", ca_file=None, tls_verify=False)
    assert unverified.resolve("v1").digest == digest


def test_loopback_falls_back_to_http(registry: RunningRegistry) -> None:
    digest = push_test_image(registry, "img/fallback:v1")
    store = store_of(registry, "img/fallback", insecure=False)
    assert store.resolve("v1").digest == digest
    assert store.client.transport.scheme(registry.host) == "http"


# -- faults ------------------------------------------------------------------------------


def test_retries_then_success(fake_registry: FakeRegistry) -> None:
    digest = push_test_image(fake_registry, "img/flaky:v1")
    store = store_of(fake_registry, "img/flaky")
    fake_registry.faults[:] = [("status", 503, "0"), ("status", 429, "1"), ("reset",)]
    assert store.fetch_manifest("v1").digest == digest
    assert fake_registry.seen.count("GET /v2/img/flaky/manifests/v1") == 4
    data = store.fetch_manifest("v1").raw
    fake_registry.faults[:] = [("status", 502, None)]
    assert store.push_manifest(data, OCI_MANIFEST, "v2").digest == digest  # PUT retried
    assert fake_registry.seen[-2:] == ["PUT /v2/img/flaky/manifests/v2"] * 2


def test_retry_after_is_capped(fake_registry: FakeRegistry) -> None:
    push_test_image(fake_registry, "img/capped:v1")
    store = store_of(fake_registry, "img/capped", max_retry_after=0.05)
    fake_registry.faults[:] = [("status", 503, "3600")]
    start = time.monotonic()
    store.resolve("v1")
    assert time.monotonic() - start < 30


def test_gives_up_after_bound(fake_registry: FakeRegistry) -> None:
    push_test_image(fake_registry, "img/down:v1")
    store = store_of(fake_registry, "img/down", max_retries=2)
    fake_registry.faults[:] = [("status", 503, None)] * 10
    fake_registry.seen.clear()
    with pytest.raises(NetworkError, match="kept answering 503"):
        store.resolve("v1")
    assert len(fake_registry.seen) == 3
    fake_registry.faults[:] = [("reset",)] * 10
    with pytest.raises(NetworkError):
        store.resolve("v1")


def test_failed_upload_starts_a_fresh_session(fake_registry: FakeRegistry) -> None:
    """A PATCH whose answer was lost is not repeated inside its session: the upload starts
    again in a new one."""
    store = store_of(fake_registry, "img/upload", chunk_size=10)
    fake_registry.faults[:] = [None, None, ("reset",)]  # HEAD, POST ok; the PATCH fails
    data = b"y" * 25
    desc = store.push_blob(data, "application/octet-stream")
    methods = [s.split(" ")[0] for s in fake_registry.seen]
    assert methods == ["HEAD", "POST", "PATCH", "HEAD", "POST", "PATCH", "PATCH", "PATCH", "PUT"]
    assert fake_registry.blobs[desc.digest] == data
    fake_registry.faults[:] = [None] + [("status", 503, None)] * 40
    with pytest.raises(NetworkError, match="kept answering 503"):
        store_of(fake_registry, "img/upload", chunk_size=10, max_retries=1).push_blob(
            b"z" * 25, "application/octet-stream")


def test_tag_list_pagination(fake_registry: FakeRegistry) -> None:
    store = store_of(fake_registry, "img/paged")
    for tag in ("e", "d", "c", "b", "a"):
        push_test_image(fake_registry, f"img/paged:{tag}", client=store.client)
    fake_registry.seen.clear()
    assert store.list_tags(page_size=2) == ["a", "b", "c", "d", "e"]
    assert sum("/tags/list" in s for s in fake_registry.seen) == 3


def test_missing_registry_fails_fast() -> None:
    from tests.fixtures.registry import free_port

    host = f"127.0.0.1:{free_port()}"
    client = RegistryClient(RegistryOptions(insecure=True, connect_timeout=2, timeout=2))
    start = time.monotonic()
    with pytest.raises(NetworkError) as info:
        client.store(f"{host}/x/y").resolve("v1")
    assert time.monotonic() - start < 20
    assert host in info.value.message and "refused" in info.value.message


def test_oras_py_pulls_what_we_push(registry: RunningRegistry) -> None:
    import oras.provider

    store = store_of(registry, "interop/oras")
    blob = store.push_blob(b"hello from ocisign\n", "text/plain")
    config = store.push_blob(EMPTY_JSON, "application/vnd.oci.empty.v1+json")
    manifest = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                           "config": config.to_dict(), "layers": [blob.to_dict()]},
                          separators=(",", ":")).encode()
    store.push_manifest(manifest, OCI_MANIFEST, "v1")
    oras_registry = oras.provider.Registry(hostname=registry.host, insecure=True)
    container = f"{registry.host}/interop/oras:v1"
    got = oras_registry.get_manifest(container)
    assert got["layers"][0]["digest"] == blob.digest
    response = oras_registry.get_blob(container, blob.digest)
    assert response.content == b"hello from ocisign\n"


def test_failed_index_delete_is_a_warning(fake_registry: FakeRegistry) -> None:
    fake_registry.allow_delete = False
    digest = push_test_image(fake_registry, "img/nodelete:v1")
    store = store_of(fake_registry, "img/nodelete")
    subject = store.resolve(digest)
    assert _push_signature(store, subject, b"one")[2] == ()  # no old index to delete
    _, mechanism, warnings = _push_signature(store, subject, b"two")
    assert mechanism == "tag-schema" and len(warnings) == 1
    assert "garbage collection" in warnings[0]
    assert len(store.referrers(digest)) == 2


def test_digest_mismatch_is_refused(fake_registry: FakeRegistry) -> None:
    digest = push_test_image(fake_registry, "img/tamper:v1")
    store = store_of(fake_registry, "img/tamper")
    raw, media_type = fake_registry.manifests[f"img/tamper@{digest}"]
    fake_registry.manifests[f"img/tamper@{digest}"] = (raw + b" ", media_type)
    with pytest.raises(DigestMismatchError):
        store.fetch_manifest(digest)
    blob = next(iter(fake_registry.blobs))
    fake_registry.blobs[blob] = b"evil"
    with pytest.raises(DigestMismatchError):
        store.fetch_blob(blob)


def test_silent_server_times_out() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)  # accepts connections in the kernel, never answers
        host = f"127.0.0.1:{listener.getsockname()[1]}"
        client = RegistryClient(RegistryOptions(insecure=True, timeout=0.5, max_retries=1,
                                                backoff=0.01))
        with pytest.raises(NetworkError, match="timed out"):
            client.store(f"{host}/x/y").resolve("v1")


def test_single_request_upload_where_accepted(fake_registry: FakeRegistry,
                                              registry: RunningRegistry) -> None:
    store = store_of(fake_registry, "img/mono")
    store.push_blob(b"one request", "text/plain")
    assert [s.split(" ")[0] for s in fake_registry.seen] == ["HEAD", "POST"]
    store.push_blob(b"one request", "text/plain")  # exists: only the HEAD
    assert [s.split(" ")[0] for s in fake_registry.seen] == ["HEAD", "POST", "HEAD"]
    client = registry.client()  # distribution answers 202: POST + PUT, remembered per host
    dist = client.store(f"{registry.host}/img/mono")
    for data in (b"first", b"second"):
        assert dist.fetch_blob(dist.push_blob(data, "text/plain").digest) == data
    assert client._monolithic_post == {registry.host: False}


def test_oversized_bodies_are_refused_unread(fake_registry: FakeRegistry) -> None:
    """A registry that sends more than we accept is cut off, for blobs and manifests."""
    big = b"x" * (5 * 1024 * 1024)
    digest = sha256_digest(big)
    fake_registry.blobs[digest] = big
    fake_registry.manifests[f"big/repo@{digest}"] = (big, OCI_MANIFEST)
    fake_registry.tags["big/repo:huge"] = f"big/repo@{digest}"
    store = fake_registry.client().store(f"{fake_registry.host}/big/repo")
    with pytest.raises(RegistryError, match="more than 1024 bytes"):
        store.fetch_blob(digest, max_bytes=1024)
    with pytest.raises(RegistryError, match=f"more than {4 * 1024 * 1024} bytes"):
        store.fetch_blob(digest)  # no limit asked: 4 MiB, as for manifests
    with pytest.raises(RegistryError, match=f"more than {4 * 1024 * 1024} bytes"):
        store.fetch_manifest("huge")
