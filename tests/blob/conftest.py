"""Fixtures for `ocisign blob`: an isolated config dir with a test key and a blob policy."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import DATA, cli_env, run_ocisign

BLOB_DATA = DATA / "blob"
E2E_KEY = DATA / "keys" / "notation-e2e"


@dataclass
class BlobHost:
    """A config dir (key ``e2e`` as default, trust store ``ca:e2e``) and a work dir."""

    config: Path
    work: Path

    def run(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        return run_ocisign(*args, env=cli_env(OCISIGN_CONFIG_DIR=str(self.config)),
                           input=input, cwd=self.work)

    def policy(self, text: str) -> Path:
        path = self.config / "trustpolicy.blob.json"
        path.write_text(text)
        return path


@pytest.fixture
def host(tmp_path: Path) -> BlobHost:
    config, work = tmp_path / "config", tmp_path / "work"
    work.mkdir()
    h = BlobHost(config, work)
    done = h.run("key", "add", "e2e", "--key-file", str(E2E_KEY / "e2e.key"),
                 "--cert-file", str(E2E_KEY / "e2e.crt"), "--default")
    assert done.returncode == 0, done.stderr
    store = config / "truststore" / "x509" / "ca" / "e2e"
    store.mkdir(parents=True)
    shutil.copy(E2E_KEY / "e2e.crt", store / "e2e.crt")
    shutil.copy(BLOB_DATA / "notation" / "trustpolicy.blob.json", config)
    (work / "blobFile.txt").write_text("test blob commands")
    return h
