"""TEST-ONLY helper: put test images and ``.sig`` manifests on the shared registry fixture.

A thin layer over ``ocisign.registry`` (our client) and ``tests.fixtures.registry``; the
``.sig`` manifests it pushes are built by ``ocisign.envelopes.simplesigning`` directly (the
signing path itself is ``ocisign.sigstore.attach``, tested in tests/sigstore).
"""

from __future__ import annotations

from dataclasses import dataclass

from ocisign.envelopes import simplesigning as ss
from ocisign.errors import NotFoundError
from ocisign.oci import OCI_CONFIG, OCI_MANIFEST, SIMPLESIGNING
from ocisign.registry.store import Store, sigstore_tag
from tests.fixtures.registry import RunningRegistry, push_test_image


@dataclass
class Pusher:
    """Test-image and signature pushes on one running registry."""

    registry: RunningRegistry

    def __post_init__(self) -> None:
        self.client = self.registry.client()

    @property
    def host(self) -> str:
        return self.registry.host

    def store(self, repo: str) -> Store:
        return self.client.store(f"{self.host}/{repo}")

    def get_blob(self, repo: str, digest: str) -> bytes:
        return self.store(repo).fetch_blob(digest)

    def push_test_image(self, repo: str, tag: str, archs: list[str]) -> tuple[str, dict[str, str]]:
        """A tiny OCI image (an index for several archs); returns (digest, {arch: digest})."""
        digest = push_test_image(self.registry, f"{repo}:{tag}", archs, client=self.client)
        if len(archs) == 1:
            return digest, {archs[0]: digest}
        index = self.store(repo).fetch_manifest(digest)
        return digest, {
            d.platform.architecture: d.digest for d in index.manifests if d.platform is not None
        }

    def sig_manifest(self, repo: str, digest: str) -> tuple[bytes | None, bytes | None]:
        """The current ``.sig`` manifest of ``digest`` and its config blob (None, None if none)."""
        store = self.store(repo)
        try:
            manifest = store.fetch_manifest(sigstore_tag(digest))
        except NotFoundError:
            return None, None
        assert manifest.config is not None
        return manifest.raw, store.fetch_blob(manifest.config.digest)

    def attach_signature(self, repo: str, digest: str, payload: bytes, signature: str) -> bool:
        """Append one signature with ``simplesigning.append_signature`` and push the result."""
        old_manifest, old_config = self.sig_manifest(repo, digest)
        manifest, config, changed = ss.append_signature(
            old_manifest, old_config, payload, signature
        )
        if changed:
            store = self.store(repo)
            store.push_blob(payload, SIMPLESIGNING)
            store.push_blob(config, OCI_CONFIG)
            store.push_manifest(manifest, OCI_MANIFEST, sigstore_tag(digest))
        return changed
