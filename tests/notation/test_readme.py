"""README's quick start, run as written (the example reference replaced by a real one)."""

from __future__ import annotations

import re
import shlex

import pytest

from tests.conftest import ROOT
from tests.fixtures.registry import RunningRegistry, push_test_image
from tests.notation.conftest import Run

pytestmark = pytest.mark.integration


def quick_start() -> list[list[str]]:
    text = (ROOT / "README.md").read_text()
    block = re.search(r"## Quick start.*?```sh\n(.*?)```", text, re.S)
    assert block, "README has a Quick start sh block"
    return [shlex.split(line, comments=True) for line in block[1].splitlines() if line.strip()]


def test_readme_quick_start(notation: Run, registry: RunningRegistry) -> None:
    digest = push_test_image(registry, "app:v1")
    commands = quick_start()
    assert [c[1] for c in commands] == ["key", "policy", "sign", "list", "verify"]
    outputs = []
    for command in commands:
        args = [a.replace("registry.example.com/app@sha256:...", f"{registry.host}/app@{digest}")
                for a in command[1:]]
        out = notation(*args)
        assert out.returncode == 0, (args, out.stderr)
        outputs.append(out.stdout)
    assert outputs[3].splitlines()[1] == "└── application/vnd.cncf.notary.signature"
    assert outputs[4] == f"Successfully verified signature for {registry.host}/app@{digest}\n"
