"""Progress: a rich bar on a TTY's stderr, and no control codes at all in a log."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.registry import RunningRegistry, push_test_image
from tests.sign.conftest import Env

pytestmark = pytest.mark.integration


def _image_list(registry: RunningRegistry, tmp_path: Path, name: str) -> Path:
    refs = [f"{registry.host}/progress/{name}{i}:v1" for i in range(3)]
    for ref in refs:
        push_test_image(registry, ref.split("/", 1)[1])
    path = tmp_path / f"{name}.txt"
    path.write_text("\n".join(refs) + "\n")
    return path


def test_no_control_codes_in_a_log(env: Env, registry: RunningRegistry, tmp_path: Path) -> None:
    result = env.ok("sign", "-f", str(_image_list(registry, tmp_path, "log")))
    for stream in (result.stdout, result.stderr):
        assert "\x1b" not in stream and "\r" not in stream
    assert result.stdout.count("Successfully signed") == 3


def test_progress_bar_on_a_tty(env: Env, registry: RunningRegistry, tmp_path: Path) -> None:
    images = _image_list(registry, tmp_path, "tty")
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "ocisign", "sign", "-f", str(images)],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=follower,
        env={**env.env(), "TERM": "xterm", "COLUMNS": "120"}, cwd=env.root,
    )
    os.close(follower)
    seen = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    stdout, _ = proc.communicate(timeout=120)
    os.close(leader)
    assert proc.returncode == 0, seen.decode(errors="replace")
    assert stdout.decode().count("Successfully signed") == 3  # results stay on stdout
    assert b"\x1b[" in seen and b"3/3" in seen  # the bar, drawn on the terminal
