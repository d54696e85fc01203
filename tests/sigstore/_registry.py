"""TEST-ONLY helpers: a loopback distribution registry and a minimal requests-based pusher.

Not part of ocisign (the real client is ``ocisign.registry``); just enough HTTP to put test
images and ``.sig`` manifests built by ``ocisign.envelopes.simplesigning`` on a registry.
"""

from __future__ import annotations

import gzip
import io
import json
import socket
import subprocess
import tarfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin

import requests

from ocisign.envelopes import simplesigning as ss
from ocisign.oci import OCI_CONFIG, OCI_INDEX, OCI_MANIFEST, sha256_digest

ACCEPT = ", ".join(
    [OCI_MANIFEST, OCI_INDEX, "application/vnd.docker.distribution.manifest.v2+json"]
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running_registry(workdir: Path) -> Iterator[str]:
    """Run distribution (``docker-registry``) on 127.0.0.1; yields ``127.0.0.1:PORT``."""
    workdir.mkdir(parents=True, exist_ok=True)
    for _attempt in range(3):
        port = _free_port()
        config = workdir / "config.yml"
        config.write_text(
            "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\n"
            f"storage:\n  filesystem:\n    rootdirectory: {workdir / 'data'}\n"
            f"  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n"
        )
        log = (workdir / "registry.log").open("wb")
        proc = subprocess.Popen(
            ["docker-registry", "serve", str(config)],
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        try:
            if _wait_ready(proc, f"http://127.0.0.1:{port}/v2/"):
                yield f"127.0.0.1:{port}"
                return
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            log.close()
    raise RuntimeError(f"registry did not start: {(workdir / 'registry.log').read_text()[-500:]}")


def _wait_ready(proc: subprocess.Popen[bytes], url: str) -> bool:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return True
        except requests.ConnectionError:
            pass
        time.sleep(0.05)  # polling interval
    return False


@dataclass
class Pusher:
    """Plain-HTTP distribution API calls on one registry host."""

    host: str

    def _url(self, path: str) -> str:
        return f"http://{self.host}/v2/{path}"

    def put_blob(self, repo: str, data: bytes) -> str:
        digest = sha256_digest(data)
        r = requests.post(self._url(f"{repo}/blobs/uploads/"), timeout=30)
        assert r.status_code == 202, r.text
        location = urljoin(self._url(""), r.headers["Location"])
        sep = "&" if "?" in location else "?"
        r = requests.put(
            f"{location}{sep}digest={digest}",
            data=data,
            headers={"Content-Type": "application/octet-stream"},
            timeout=30,
        )
        assert r.status_code == 201, r.text
        return digest

    def put_manifest(self, repo: str, ref: str, data: bytes, media_type: str) -> str:
        r = requests.put(
            self._url(f"{repo}/manifests/{ref}"),
            data=data,
            headers={"Content-Type": media_type},
            timeout=30,
        )
        assert r.status_code == 201, r.text
        return sha256_digest(data)

    def get_manifest(self, repo: str, ref: str) -> bytes | None:
        r = requests.get(
            self._url(f"{repo}/manifests/{ref}"), headers={"Accept": ACCEPT}, timeout=30
        )
        if r.status_code == 404:
            return None
        assert r.status_code == 200, r.text
        return r.content

    def get_blob(self, repo: str, digest: str) -> bytes:
        r = requests.get(self._url(f"{repo}/blobs/{digest}"), timeout=30)
        assert r.status_code == 200, r.text
        return r.content

    def push_test_image(self, repo: str, tag: str, archs: list[str]) -> tuple[str, dict[str, str]]:
        """A tiny OCI image (an index for several archs); returns (digest, {arch: digest})."""
        instances: dict[str, str] = {}
        entries = []
        for arch in archs:
            raw = io.BytesIO()
            with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
                content = f"hello from {arch}\n".encode()
                info = tarfile.TarInfo("hello.txt")
                info.size, info.mtime, info.mode = len(content), 0, 0o644
                tar.addfile(info, io.BytesIO(content))
            layer = gzip.compress(raw.getvalue(), mtime=0)
            config = json.dumps(
                {
                    "architecture": arch,
                    "os": "linux",
                    "config": {},
                    "rootfs": {"type": "layers", "diff_ids": [sha256_digest(raw.getvalue())]},
                },
                separators=(",", ":"),
            ).encode()
            manifest = json.dumps(
                {
                    "schemaVersion": 2,
                    "mediaType": OCI_MANIFEST,
                    "config": {
                        "mediaType": OCI_CONFIG,
                        "digest": self.put_blob(repo, config),
                        "size": len(config),
                    },
                    "layers": [
                        {
                            "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                            "digest": self.put_blob(repo, layer),
                            "size": len(layer),
                        }
                    ],
                },
                separators=(",", ":"),
            ).encode()
            ref = tag if len(archs) == 1 else sha256_digest(manifest)
            instances[arch] = self.put_manifest(repo, ref, manifest, OCI_MANIFEST)
            entries.append(
                {
                    "mediaType": OCI_MANIFEST,
                    "digest": instances[arch],
                    "size": len(manifest),
                    "platform": {"architecture": arch, "os": "linux"},
                }
            )
        if len(archs) == 1:
            return instances[archs[0]], instances
        index = json.dumps(
            {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries},
            separators=(",", ":"),
        ).encode()
        return self.put_manifest(repo, tag, index, OCI_INDEX), instances

    def sig_manifest(self, repo: str, digest: str) -> tuple[bytes | None, bytes | None]:
        """The current ``.sig`` manifest of ``digest`` and its config blob (None, None if none)."""
        manifest = self.get_manifest(repo, ss.sig_tag(digest))
        if manifest is None:
            return None, None
        config_digest = json.loads(manifest)["config"]["digest"]
        return manifest, self.get_blob(repo, config_digest)

    def attach_signature(self, repo: str, digest: str, payload: bytes, signature: str) -> bool:
        """Append one signature with ``simplesigning.append_signature`` and push the result."""
        old_manifest, old_config = self.sig_manifest(repo, digest)
        manifest, config, changed = ss.append_signature(
            old_manifest, old_config, payload, signature
        )
        if changed:
            self.put_blob(repo, payload)
            self.put_blob(repo, config)
            self.put_manifest(repo, ss.sig_tag(digest), manifest, OCI_MANIFEST)
        return changed
