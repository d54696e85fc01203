"""SigstoreAttacher against a real registry, checked by a real skopeo."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from ocisign.batch import Status
from ocisign.envelopes import simplesigning as ss
from ocisign.oci import SIMPLESIGNING
from ocisign.registry.layout import LayoutStore
from ocisign.registry.store import sigstore_tag
from ocisign.resolve.targets import Resolved
from ocisign.sigstore.attach import SigstoreAttacher
from tests.fixtures.fake_registry import FakeRegistry
from tests.fixtures.registry import RunningRegistry, push_test_image

from .conftest import (
    SKOPEO_PUB,
    KeyPair,
    accepts,
    counting,
    new_key,
    resolve,
    sig_layers,
    sign_all,
    skopeo_sign,
)

pytestmark = pytest.mark.integration


def payload_of(
    registry: RunningRegistry, name: str, layer: ss.SignatureLayer
) -> ss.SimpleSigningPayload:
    blob = registry.client().store(name).fetch_blob(layer.descriptor.digest)
    return ss.parse_payload(blob)


def test_batch_of_single_and_multi_arch_images_from_8_threads(
    registry: RunningRegistry, keys: dict[str, KeyPair], skopeo: Path
) -> None:
    host, client = registry.host, registry.client(jobs=8)
    names = {
        "single": ("amd64",),
        "multi": ("amd64", "arm64"),
        "multi3": ("amd64", "arm64", "s390x"),
    }
    roots = {n: push_test_image(registry, f"batch/{n}:v1", archs) for n, archs in names.items()}
    by_tag = [resolve(client, f"{host}/batch/{n}:v1") for n in names]
    solo_digest = push_test_image(registry, "batch/pinned:v1")
    by_digest = resolve(client, f"{host}/batch/pinned@{solo_digest}")
    resolved = [*by_tag, by_digest]
    assert [len(r.targets) for r in resolved] == [1, 3, 4, 1]  # index + every platform

    outcomes = sign_all(SigstoreAttacher(keys["ours"].key), resolved, threads=8)
    assert [o.status for o in outcomes] == [Status.SIGNED] * 9
    assert {o.format for o in outcomes} == {"sigstore"}
    for o in outcomes:
        assert o.tag == sigstore_tag(o.digest)
        assert o.reference.endswith(f"@{o.digest}")

    # identity = the reference as written, for the index and for each instance
    multi = by_tag[1]
    for target in multi.targets:
        (layer,) = sig_layers(client, multi.name, target.descriptor.digest)
        payload = payload_of(registry, multi.name, layer)
        assert payload.docker_reference == f"{host}/batch/multi:v1"
        assert payload.manifest_digest == target.descriptor.digest
        assert payload.creator and payload.creator.startswith("ocisign ")

    ours, other = [keys["ours"].pub], [keys["other"].pub]
    checks: list[tuple[str, str, bool, bool]] = []  # ref, rule, --all, expected
    for n in names:
        index = len(names[n]) > 1
        for ref in (f"{host}/batch/{n}:v1", f"{host}/batch/{n}@{roots[n]}"):
            for rule in ("matchRepoDigestOrExact", "matchRepository"):
                checks.append((ref, rule, index, True))
    pinned = f"{host}/batch/pinned"
    checks += [
        (f"{pinned}@{solo_digest}", "matchRepoDigestOrExact", False, True),
        (f"{pinned}@{solo_digest}", "matchRepository", False, True),
        (f"{pinned}:v1", "matchRepository", False, True),
        # signed as name@digest: a tag pull is not an exact match (containers-policy rule)
        (f"{pinned}:v1", "matchRepoDigestOrExact", False, False),
    ]

    def run(check: tuple[str, str, bool, bool]) -> tuple[tuple[str, str, bool, bool], bool]:
        ref, rule, all_instances, _ = check
        return check, accepts(skopeo, ref, ours, rule, all_instances=all_instances)

    def rejected_by_other(ref: str) -> bool:
        return not accepts(skopeo, ref, other, "matchRepository", all_instances=True)

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(run, checks))
        wrong_key = list(pool.map(rejected_by_other, [f"{host}/batch/{n}:v1" for n in names]))
    assert [c for c, ok in results if ok != c[3]] == []
    assert all(wrong_key)


def test_skopeo_and_ocisign_signatures_coexist(
    registry: RunningRegistry, keys: dict[str, KeyPair], skopeo: Path, tmp_path: Path
) -> None:
    host, client = registry.host, registry.client()
    attacher = SigstoreAttacher(keys["ours"].key)
    both = [keys["ours"].pub, SKOPEO_PUB]
    # skopeo first, then ocisign appends; and ocisign first, then skopeo appends
    for name, archs, skopeo_first in (
        ("co/a", ("amd64",), True),
        ("co/b", ("amd64", "arm64"), False),
    ):
        ref = f"{host}/{name}:v1"
        push_test_image(registry, f"{name}:v1", archs)
        if skopeo_first:
            skopeo_sign(skopeo, ref, tmp_path / name, all_instances=len(archs) > 1)
        resolved = resolve(client, ref)
        assert {o.status for o in sign_all(attacher, [resolved])} == {Status.SIGNED}
        if not skopeo_first:
            skopeo_sign(skopeo, ref, tmp_path / name, all_instances=len(archs) > 1)
        for target in resolved.targets:
            layers = sig_layers(client, resolved.name, target.descriptor.digest)
            assert len(layers) == 2
            creators = sorted(
                (payload_of(registry, resolved.name, layer).creator or "").split()[0]
                for layer in layers
            )
            assert creators == ["containers/image", "ocisign"]
        multi = len(archs) > 1
        for pub in both:  # each signature verifies on its own
            assert accepts(skopeo, ref, [pub], "matchRepoDigestOrExact", all_instances=multi)
        # and ocisign still sees its own signature after skopeo rewrote the manifest
        again = sign_all(attacher, [resolved])
        assert {o.status for o in again} == {Status.ALREADY_SIGNED}


def test_eight_writers_with_different_keys_lose_nothing(
    registry: RunningRegistry, skopeo: Path, tmp_path: Path
) -> None:
    client = registry.client(jobs=8)
    push_test_image(registry, "race/img:v1", ("amd64", "arm64"))
    resolved = resolve(client, f"{registry.host}/race/img:v1")
    signers = [new_key(tmp_path, f"k{i}") for i in range(8)]

    def sign_with(pair: KeyPair) -> list[Status]:
        attacher = SigstoreAttacher(pair.key)
        return [attacher.sign(resolved, t).status for t in resolved.targets]

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(sign_with, signers))
    assert statuses == [[Status.SIGNED] * 3] * 8
    for target in resolved.targets:
        layers = sig_layers(client, resolved.name, target.descriptor.digest)
        assert len(layers) == 8
        results = ss.verify_layers(
            layers,
            lambda d: client.store(resolved.name).fetch_blob(d.digest),
            [p.key.public_key() for p in signers],
            target.descriptor.digest,
        )
        assert all(r.ok for r in results)
    # every key is accepted by skopeo, alone
    ref = f"{registry.host}/race/img:v1"
    with ThreadPoolExecutor(4) as pool:
        oks = list(
            pool.map(
                lambda p: accepts(
                    skopeo, ref, [p.pub], "matchRepoDigestOrExact", all_instances=True
                ),
                signers,
            )
        )
    assert all(oks)


def test_idempotent_and_force(registry: RunningRegistry, keys: dict[str, KeyPair]) -> None:
    client = registry.client()
    push_test_image(registry, "idem/img:v1")
    resolved = resolve(client, f"{registry.host}/idem/img:v1")
    (target,) = resolved.targets
    attacher = SigstoreAttacher(keys["ours"].key)
    first = attacher.sign(resolved, target)
    assert first.status is Status.SIGNED
    second = attacher.sign(resolved, target)
    assert second.status is Status.ALREADY_SIGNED
    assert second.signature_digest == first.signature_digest
    assert len(sig_layers(client, resolved.name, target.descriptor.digest)) == 1
    # another identity (by digest) or another key is not "already signed"
    by_digest = resolve(client, f"{registry.host}/idem/img@{target.descriptor.digest}")
    assert attacher.sign(by_digest, target).status is Status.SIGNED
    assert SigstoreAttacher(keys["other"].key).sign(resolved, target).status is (
        Status.SIGNED
    )
    assert len(sig_layers(client, resolved.name, target.descriptor.digest)) == 3
    forced = SigstoreAttacher(keys["ours"].key, force=True).sign(resolved, target)
    assert forced.status is Status.SIGNED
    assert len(sig_layers(client, resolved.name, target.descriptor.digest)) == 4


def test_cosign_identity(registry: RunningRegistry, keys: dict[str, KeyPair], skopeo: Path) -> None:
    client = registry.client()
    digest = push_test_image(registry, "cosignid/img:v1")
    resolved = resolve(client, f"{registry.host}/cosignid/img:v1")
    attacher = SigstoreAttacher(keys["ours"].key, identity="cosign")
    (outcome,) = sign_all(attacher, [resolved])
    assert outcome.identity == f"{registry.host}/cosignid/img"
    (layer,) = sig_layers(client, resolved.name, digest)
    raw = client.store(resolved.name).fetch_blob(layer.descriptor.digest)
    assert json.loads(raw)["optional"] is None
    assert ss.parse_payload(raw).docker_reference == f"{registry.host}/cosignid/img"
    pub = [keys["ours"].pub]
    tag_ref, digest_ref = (
        f"{registry.host}/cosignid/img:v1",
        f"{registry.host}/cosignid/img@{digest}",
    )
    assert accepts(skopeo, tag_ref, pub, "matchRepository")
    assert accepts(skopeo, digest_ref, pub, "matchRepository")
    assert not accepts(skopeo, tag_ref, pub, "matchRepoDigestOrExact")
    assert not accepts(skopeo, digest_ref, pub, "matchRepoDigestOrExact")
    # the containers identity is another identity: signing again adds it
    assert (
        SigstoreAttacher(keys["ours"].key).sign(resolved, resolved.targets[0]).status
        is Status.SIGNED
    )


def test_request_count_for_a_new_signature(
    registry: RunningRegistry, keys: dict[str, KeyPair]
) -> None:
    client = registry.client()
    for i in range(3):
        push_test_image(registry, f"count/img{i}:v1")
    attacher = SigstoreAttacher(keys["ours"].key)
    resolved = [resolve(client, f"{registry.host}/count/img{i}:v1") for i in range(3)]
    attacher.sign(resolved[0], resolved[0].targets[0])  # warm-up (upload mode)
    for r in resolved[1:]:
        with counting(client) as seen:
            assert attacher.sign(r, r.targets[0]).status is Status.SIGNED
        print(seen)
        methods = [s.split()[0] for s in seen]
        # GET .sig (404); payload POST+PUT; config POST+PUT; PUT manifest; HEAD read-back
        assert methods == ["GET", "POST", "PUT", "POST", "PUT", "PUT", "HEAD"], seen
        with counting(client) as seen:
            assert attacher.sign(r, r.targets[0]).status is Status.ALREADY_SIGNED
        assert [s.split()[0] for s in seen] == ["GET", "GET"], seen  # .sig + our payload


class OverwritingStore:
    """A real store with a rival writer: right after our first .sig PUT, it PUTs its own."""

    def __init__(self, store: LayoutStore, rival: bytes) -> None:
        self._store, self._rival, self.overwrites = store, rival, 0

    def __getattr__(self, name: str) -> object:
        return getattr(self._store, name)

    def push_manifest(self, data: bytes, media_type: str, tag: str | None = None) -> object:
        desc = self._store.push_manifest(data, media_type, tag)
        if tag and tag.endswith(".sig") and not self.overwrites:
            self.overwrites += 1
            self._store.push_manifest(self._rival, media_type, tag)
        return desc


def _layout_image(root: Path) -> Resolved:
    store = LayoutStore(root)
    config = store.push_blob(
        b'{"architecture":"amd64","os":"linux"}', "application/vnd.oci.image.config.v1+json"
    )
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": config.to_dict(),
            "layers": [],
        }
    ).encode()
    desc = store.push_manifest(manifest, "application/vnd.oci.image.manifest.v1+json", "v1")
    from ocisign.registry import StoreTarget
    from ocisign.resolve.targets import resolve_targets

    resolved = resolve_targets(StoreTarget(store, "v1", f"{root}:v1", str(root)), expand=True)
    assert resolved.root.digest == desc.digest
    return resolved


def test_layout_store_and_retry_after_overwrite(tmp_path: Path, keys: dict[str, KeyPair]) -> None:
    resolved = _layout_image(tmp_path / "layout")
    (target,) = resolved.targets
    digest = target.descriptor.digest
    # a rival writer's .sig (made with another key) replaces ours right after our push
    other = keys["other"].key
    payload = ss.build_payload("rival", digest, optional=None)
    rival = ss.append_signature(None, None, payload, ss.sign_payload(other, payload))
    store = LayoutStore(tmp_path / "layout")
    store.push_blob(payload, SIMPLESIGNING)
    store.push_blob(rival.config, "application/vnd.oci.image.config.v1+json")
    wrapped = OverwritingStore(store, rival.manifest)
    racy = Resolved(wrapped, resolved.name, resolved.user_ref, resolved.root, resolved.targets)  # type: ignore[arg-type]
    outcome = SigstoreAttacher(keys["ours"].key).sign(racy, target)
    assert outcome.status is Status.SIGNED and wrapped.overwrites == 1
    tag = sigstore_tag(digest)
    assert tag in store.list_tags()
    sig = store.fetch_manifest(tag)
    assert sig.digest == outcome.signature_digest
    layers = ss.parse_sig_manifest(sig.raw)
    assert len(layers) == 2  # the rival's and ours, appended on the retry
    results = ss.verify_layers(
        layers, lambda d: store.fetch_blob(d.digest), [keys["ours"].key.public_key()], digest
    )
    assert [r.ok for r in results] == [False, True]
    again = SigstoreAttacher(keys["ours"].key).sign(resolved, target)
    assert again.status is Status.ALREADY_SIGNED


def test_request_count_with_single_request_uploads(
    fake_registry: FakeRegistry, keys: dict[str, KeyPair]
) -> None:
    """On a registry that takes ``POST ?digest=`` uploads, a new signature costs 5 requests."""
    client = fake_registry.client()
    push_test_image(fake_registry, "count/fake:v1", client=client)
    resolved = resolve(client, f"{fake_registry.host}/count/fake:v1")
    with counting(client) as seen:
        outcome = SigstoreAttacher(keys["ours"].key).sign(
            resolved, resolved.targets[0]
        )
    assert outcome.status is Status.SIGNED
    assert [s.split()[0] for s in seen] == ["GET", "POST", "POST", "PUT", "HEAD"], seen
