"""Reference -> targets against a real registry and an OCI layout."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ocisign.errors import UsageError
from ocisign.registry import open_store
from ocisign.resolve.targets import resolve_targets
from tests.conftest import DATA
from tests.fixtures.registry import RunningRegistry, push_test_image

pytestmark = pytest.mark.integration


def test_index_expands_to_index_plus_filtered_platforms(registry: RunningRegistry) -> None:
    digest = push_test_image(registry, "targets/multi:v1", ("amd64", "arm64", "s390x"))
    opened = open_store(f"{registry.host}/targets/multi:v1", client=registry.client())
    resolved = resolve_targets(opened, expand=True, archs=("amd64", "arm64"), oses=("linux",))
    assert resolved.root.digest == digest
    assert resolved.targets[0].is_index and resolved.targets[0].descriptor.digest == digest
    assert [str(t.platform) for t in resolved.targets[1:]] == ["linux/amd64", "linux/arm64"]
    assert resolved.name == f"{registry.host}/targets/multi"
    assert resolved.by_tag and resolved.user_reference == f"{registry.host}/targets/multi:v1"

    no_index = resolve_targets(opened, expand=True, archs=("arm64",), include_index=False)
    assert [str(t.platform) for t in no_index.targets] == ["linux/arm64"]

    single = resolve_targets(opened, expand=False)
    assert [t.descriptor.digest for t in single.targets] == [digest]


def test_single_image_platform_filter(registry: RunningRegistry) -> None:
    digest = push_test_image(registry, "targets/single:v1", ("arm64",))
    opened = open_store(f"{registry.host}/targets/single@{digest}", client=registry.client())
    kept = resolve_targets(opened, expand=True, archs=("arm64",), oses=("linux",))
    assert [str(t.platform) for t in kept.targets] == ["linux/arm64"]
    assert not kept.by_tag
    skipped = resolve_targets(opened, expand=True, archs=("amd64",), oses=("linux",))
    assert skipped.targets == []


def test_layout_artifact_is_not_platform_filtered(tmp_path: Path) -> None:
    layout = tmp_path / "e2e"
    shutil.copytree(DATA / "notation" / "oci-layouts" / "e2e", layout)
    opened = open_store(f"{layout}:v1", oci_layout=True)
    resolved = resolve_targets(opened, expand=True, archs=("amd64",), oses=("linux",))
    assert [t.descriptor.digest for t in resolved.targets] == [
        "sha256:b8479de3f88fb259a0a9ea82a5b2a052a1ef3c4ebbcfc61482d5ae4c831f8af9"
    ]
    assert resolved.name == str(layout)


def test_reference_without_tag_or_digest(tmp_path: Path) -> None:
    layout = tmp_path / "e2e"
    shutil.copytree(DATA / "notation" / "oci-layouts" / "e2e", layout)
    with pytest.raises(UsageError):
        resolve_targets(open_store(str(layout), oci_layout=True), expand=False)
