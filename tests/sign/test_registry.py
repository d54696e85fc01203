"""``ocisign sign`` against the real registry (distribution: referrers tag schema)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ocisign.envelopes.notary import THUMBPRINT_ANNOTATION, parse_envelope
from ocisign.oci import NOTARY_SIGNATURE
from ocisign.registry.store import referrers_tag
from tests.fixtures.fake_registry import FakeRegistry
from tests.fixtures.registry import RunningRegistry, push_test_image
from tests.sign.conftest import Env

pytestmark = pytest.mark.integration

TAG_WARNING = (
    "Warning: Always sign the artifact using digest(@sha256:...) rather than a tag(:v1) "
    "because tags are mutable and a tag reference can point to a different artifact than "
    "the one signed."
)


def _sigs(registry: RunningRegistry | FakeRegistry, repo: str, digest: str) -> list[str]:
    store = registry.client().store(f"{registry.host}/{repo}")
    return [d.digest for d in store.referrers(digest, NOTARY_SIGNATURE)]


@pytest.mark.parametrize("fmt", ["jws", "cose"])
def test_sign_by_digest_and_tag_local_key(env: Env, registry: RunningRegistry, fmt: str) -> None:
    repo = f"sign/local-{fmt}"
    digest = push_test_image(registry, f"{repo}:v1")
    env.ok("key", "generate", "gen", "--type", "ecdsa-p256")
    by_digest = env.ok("sign", "-k", "gen", "--signature-format", fmt,
                       f"{registry.host}/{repo}@{digest}")
    assert by_digest.stdout == f"Successfully signed {registry.host}/{repo}@{digest}\n"
    assert "Warning" not in by_digest.stderr
    by_tag = env.ok("sign", "--signature-format", fmt, f"{registry.host}/{repo}:v1", "-v")
    assert by_tag.stdout == f"Successfully signed {registry.host}/{repo}@{digest}\n"
    assert TAG_WARNING in by_tag.stderr
    assert "indexed by tag-schema" in by_tag.stderr  # which mechanism (notation #926)

    # two keys, two signatures on one subject, both in the referrers tag index
    store = registry.client().store(f"{registry.host}/{repo}")
    index = store.fetch_manifest(referrers_tag(digest))
    assert len(index.manifests) == 2
    assert {d.artifact_type for d in index.manifests} == {NOTARY_SIGNATURE}
    prints = {json.loads(d.annotations[THUMBPRINT_ANNOTATION])[0] for d in index.manifests}
    assert len(prints) == 2
    for desc in index.manifests:
        manifest = store.fetch_manifest(desc.digest)
        assert manifest.subject is not None and manifest.subject.digest == digest
        layer = manifest.layers[0]
        assert parse_envelope(layer.media_type, store.fetch_blob(layer.digest)).target[
            "digest"] == digest
    tags = store.list_tags()
    assert referrers_tag(digest) in tags


def test_jws_and_cose_on_one_subject_then_idempotent(env: Env, registry: RunningRegistry) -> None:
    repo = "sign/both"
    digest = push_test_image(registry, f"{repo}:v1")
    ref = f"{registry.host}/{repo}@{digest}"
    env.ok("sign", ref)
    env.ok("sign", "--signature-format", "cose", ref)
    assert len(_sigs(registry, repo, digest)) == 2
    again = env.ok("sign", ref, "--output", "json")
    target = json.loads(again.stdout)["results"][0]["targets"][0]
    assert target["status"] == "already signed" and target["signatureDigest"]
    assert len(_sigs(registry, repo, digest)) == 2  # nothing new pushed
    text = env.ok("sign", "--signature-format", "cose", ref)
    assert text.stdout == f"Already signed {ref}\n"
    forced = env.ok("sign", "--force", ref)
    assert forced.stdout.startswith("Successfully signed")
    assert len(_sigs(registry, repo, digest)) == 3


@pytest.mark.parametrize("mode", ["raw", "envelope"])
def test_plugin_key(env: Env, registry: RunningRegistry, plugin_key: str, mode: str) -> None:
    repo = f"sign/plugin-{mode}"
    digest = push_test_image(registry, f"{repo}:v1")
    ref = f"{registry.host}/{repo}@{digest}"
    out = env.ok("sign", "-k", plugin_key, "--plugin-config", f"mode={mode}", ref,
                 "--output", "json")
    target = json.loads(out.stdout)["results"][0]["targets"][0]
    assert target["status"] == "signed" and target["key"] == "pk"
    assert len(_sigs(registry, repo, digest)) == 1
    again = env.ok("sign", "-k", plugin_key, "--plugin-config", f"mode={mode}", ref)
    assert again.stdout == f"Already signed {ref}\n"
    assert len(_sigs(registry, repo, digest)) == 1
    failing = env.run("sign", "-k", plugin_key, "--plugin-config", "mode=error", "--force", ref)
    assert failing.returncode == 1 and "ACCESS_DENIED" in failing.stderr
    assert "Traceback" not in failing.stderr


def test_on_demand_plugin_key(env: Env, registry: RunningRegistry, plugin_key: str) -> None:
    repo = "sign/ondemand"
    digest = push_test_image(registry, f"{repo}:v1")
    stored = json.loads((env.config / "signingkeys.json").read_text())
    config = next(k for k in stored["keys"] if k["name"] == "pk")["pluginConfig"]
    args = [f"--plugin-config={k}={v}" for k, v in config.items()]
    out = env.ok("sign", "--plugin", "pytest", "--id", "key-1", *args,
                 f"{registry.host}/{repo}@{digest}", "--output", "json")
    assert json.loads(out.stdout)["results"][0]["targets"][0]["key"] == "pytest:key-1"


def test_basic_auth(env: Env, registry_basic: RunningRegistry) -> None:
    reg = registry_basic
    digest = push_test_image(reg, "sign/auth:v1")
    ref = f"{reg.host}/sign/auth@{digest}"
    assert reg.username and reg.password
    denied = env.run("sign", ref)
    assert denied.returncode == 1 and "Hint:" in denied.stderr
    assert "Traceback" not in denied.stderr
    env.ok("sign", "-u", reg.username, "-p", reg.password, ref)
    env.ok("sign", "--signature-format", "cose", ref,
           env=env.env(OCISIGN_USERNAME=reg.username, OCISIGN_PASSWORD=reg.password))
    assert len(_sigs(reg, "sign/auth", digest)) == 2


def test_referrers_api_when_asked(env: Env, fake_registry: FakeRegistry) -> None:
    digest = push_test_image(fake_registry, "sign/api:v1")
    ref = f"{fake_registry.host}/sign/api@{digest}"
    out = env.ok("sign", "--force-referrers-tag=false", ref, "--output", "json")
    assert json.loads(out.stdout)["results"][0]["targets"][0]["mechanism"] == "referrers-api"
    assert not any(t.startswith("sign/api:sha256-") for t in fake_registry.tags)
    deprecated = env.ok("sign", "--allow-referrers-api", "--force", ref, "--output", "json")
    assert "'--allow-referrers-api' is deprecated" in deprecated.stderr
    assert json.loads(deprecated.stdout)["results"][0]["targets"][0]["mechanism"] == (
        "referrers-api")
    default = env.ok("sign", "--force", ref, "--output", "json")  # notation v1.3 default
    assert json.loads(default.stdout)["results"][0]["targets"][0]["mechanism"] == "tag-schema"
    flag = env.ok("sign", "--force", "--force-referrers-tag", ref, "--output", "json")
    assert json.loads(flag.stdout)["results"][0]["targets"][0]["mechanism"] == "tag-schema"
    assert len(_sigs(fake_registry, "sign/api", digest)) == 4


@pytest.fixture
def jws_attacher(env: Env, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The library's JWS attacher (no CLI) over ``env``'s key store."""
    from ocisign.formats import SignOptions
    from ocisign.notary.attach import NotaryAttacher

    monkeypatch.setenv("OCISIGN_CONFIG_DIR", str(env.config))
    return NotaryAttacher("jws", SignOptions(), lambda message: None)


def _resolved(client: Any, host: str, repo: str, digest: str) -> Any:
    """``host/repo@digest`` resolved to its one target, as sign does."""
    from ocisign.registry import open_store
    from ocisign.resolve.targets import resolve_targets

    return resolve_targets(open_store(f"{host}/{repo}@{digest}", client=client), expand=False)


def test_requests_per_new_signature(registry: RunningRegistry, jws_attacher: Any) -> None:
    """The `{}` config blob is mounted (one request) into each new repository of a run."""
    from ocisign.batch import Status
    from tests.sigstore.conftest import counting

    client = registry.client()
    for i in range(3):
        repo = f"count/notary-{i}"
        digest = push_test_image(registry, f"{repo}:v1")
        resolved = _resolved(client, registry.host, repo, digest)
        with counting(client) as seen:
            assert jws_attacher.sign(resolved, resolved.targets[0]).status is Status.SIGNED
        blob_steps = [s for s in seen if "/blobs/" in s]
        mounts = [s for s in blob_steps if "mount=" in s]
        if i == 0:  # nothing to mount from yet: HEAD, then upload the `{}` config
            assert not mounts and blob_steps[0].startswith("POST"), seen
            assert len([s for s in blob_steps if s.startswith("HEAD")]) == 1, seen
        else:  # the envelope upload (POST + PUT) and one mount of the config
            assert [s.split()[0] for s in blob_steps] == ["POST", "PUT", "POST"], seen
            assert len(mounts) == 1 and "from=count%2Fnotary-0" in mounts[0], seen
            assert len(seen) <= 8, seen
        index_reads = [s for s in seen if s.startswith("GET") and "/manifests/sha256-" in s]
        assert len(index_reads) == 2, seen  # the listing, and the append's read just before
        if i:  # distribution has no Referrers API: asked once per host
            assert not any("/referrers/" in s for s in seen), seen
        assert _sigs(registry, repo, digest)
        manifest = client.store(f"{registry.host}/{repo}").fetch_manifest(
            _sigs(registry, repo, digest)[0])
        assert manifest.config is not None
        assert client.store(f"{registry.host}/{repo}").blob_exists(manifest.config.digest)


def test_refused_config_mount_falls_back_to_an_upload(
    fake_registry: FakeRegistry, jws_attacher: Any
) -> None:
    """A registry that refuses the mount (here 403: no pull on the source) gets the upload."""
    from ocisign.batch import Status

    client = fake_registry.client()
    for i in range(2):
        repo = f"mount/refused-{i}"
        digest = push_test_image(fake_registry, f"{repo}:v1", client=client)
        resolved = _resolved(client, fake_registry.host, repo, digest)
        if i == 1:  # the referrers list, the envelope upload, then the mount: refused
            fake_registry.faults = [None, None, ("status", 403, 0)]
        fake_registry.seen.clear()
        assert jws_attacher.sign(resolved, resolved.targets[0]).status is Status.SIGNED
        assert _sigs(fake_registry, repo, digest)
    mounts = [s for s in fake_registry.seen if "mount=" in s]
    assert len(mounts) == 1 and not fake_registry.faults, fake_registry.seen
    after = fake_registry.seen[fake_registry.seen.index(mounts[0]) + 1]
    assert after.startswith("HEAD ") and "/blobs/sha256:" in after, fake_registry.seen
