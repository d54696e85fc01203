"""Install story: man pages from the click definitions, the wheel under pipx in a clean venv,
the Dockerfile and the GitHub Action (parsed and checked; no docker daemon is needed)."""

from __future__ import annotations

import json
import os
import re
import runpy
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import click
import pytest
import yaml

from tests.conftest import ROOT, cli_commands

write_man_pages = runpy.run_path(str(ROOT / "scripts" / "manpages.py"))["write_man_pages"]


def _leaf_commands() -> dict[str, click.Command]:
    """Each command once, by its own name (an alias is the same command object)."""
    found: dict[str, click.Command] = {}
    for _, canonical, command in cli_commands():
        path = "-".join(["ocisign", *canonical])
        if all(id(command) != id(c) for c in found.values()):
            found[path] = command
    return found


def test_man_pages_cover_every_command_and_flag(tmp_path: Path) -> None:
    pages = {p.name: p.read_text() for p in write_man_pages(tmp_path)}
    assert "ocisign.1" in pages
    for path, command in _leaf_commands().items():
        page = pages.get(f"{path}.1")
        assert page is not None, f"no man page for {path}"
        for param in command.params:
            if isinstance(param, click.Option) and not param.hidden:
                for opt in param.opts:
                    assert opt.replace("-", "\\-") in page, (path, opt)
    if shutil.which("groff"):
        done = subprocess.run(["groff", "-man", "-ww", "-z", str(tmp_path / "ocisign-sign.1")],
                              capture_output=True, text=True, check=False)
        assert done.returncode == 0 and done.stderr == "", done.stderr


def _dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n\s*", " ", (ROOT / "Dockerfile").read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word, rest.strip()))
    return out


def test_dockerfile_is_small_non_root_and_complete() -> None:
    known = {"FROM", "RUN", "COPY", "WORKDIR", "LABEL", "USER", "ENTRYPOINT", "CMD", "ENV",
             "ARG"}
    steps = _dockerfile()
    assert all(word in known for word, _ in steps), steps
    assert steps[0][0] == "FROM"
    stages = [rest.split() for word, rest in steps if word == "FROM"]
    assert all(s[0].endswith("-slim") for s in stages)  # a small base, pinned to a version
    assert all(re.search(r":\d", s[0]) for s in stages)
    names = [s[2] for s in stages if len(s) == 3 and s[1].upper() == "AS"]
    final = steps[max(i for i, (w, _) in enumerate(steps) if w == "FROM"):]
    for word, rest in steps:
        if word == "COPY" and not rest.startswith("--from="):
            for source in rest.split()[:-1]:
                assert (ROOT / source).exists(), f"COPY source {source} is not in the repo"
        if word == "COPY" and rest.startswith("--from="):
            assert rest.split()[0].removeprefix("--from=") in names
    assert ("ENTRYPOINT", '["ocisign"]') in final
    users = [rest for word, rest in final if word == "USER"]
    assert users and users[-1] not in ("root", "0")
    assert not any(w == "RUN" and "pip install" in r and "--no-cache-dir" not in r
                   for w, r in steps)
    if shutil.which("hadolint"):
        subprocess.run(["hadolint", str(ROOT / "Dockerfile")], check=True)


def test_action_is_composite_and_uses_only_declared_inputs() -> None:
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    assert action["runs"]["using"] == "composite"
    inputs = set(action["inputs"])
    assert {"sign", "verify", "sigstore-key", "sigstore-pubkey", "key", "version"} <= inputs
    text = (ROOT / "action.yml").read_text()
    used = set(re.findall(r"\$\{\{\s*inputs\.([\w-]+)\s*\}\}", text))
    assert used <= inputs and {"sign", "verify"} <= used
    step_ids = {s.get("id") for s in action["runs"]["steps"]}
    for output in action["outputs"].values():
        step = re.search(r"steps\.([\w-]+)\.outputs", output["value"])
        assert step and step.group(1) in step_ids
    for step in action["runs"]["steps"]:
        assert step["shell"] == "bash" and "run" in step
        assert "${{" not in step["run"]  # inputs reach scripts through env, never spliced
        if shutil.which("bash"):
            subprocess.run(["bash", "-n"], input=step["run"], text=True, check=True)


@pytest.mark.integration
def test_wheel_installs_with_pipx_in_a_clean_venv(tmp_path: Path) -> None:
    """pipx from PyPI in a fresh venv installs the wheel: ocisign on PATH, man pages, and
    shell completion."""
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(dist),
                    str(ROOT)], check=True, timeout=600)
    wheel = next(dist.glob("ocisign-*.whl"))
    tools = tmp_path / "tools"
    venv.create(tools, with_pip=True)
    py = tools / "bin" / "python"
    subprocess.run([py, "-m", "pip", "install", "-q", "pipx"], check=True, timeout=600)
    env = {"PATH": f"{tmp_path / 'bin'}:/usr/bin:/bin", "HOME": str(tmp_path),
           "PIPX_HOME": str(tmp_path / "pipx"), "PIPX_BIN_DIR": str(tmp_path / "bin"),
           "PIPX_MAN_DIR": str(tmp_path / "man")}
    for name in ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "PIP_CONFIG_FILE"):
        if name in os.environ:  # the machine's package index settings, if any
            env[name] = os.environ[name]
    subprocess.run([py, "-m", "pipx", "install", str(wheel)], env=env, check=True,
                   timeout=900, capture_output=True)
    version = subprocess.run(["ocisign", "--version"], env=env, capture_output=True,
                             text=True, check=True)
    assert version.stdout.startswith("ocisign")
    page = tmp_path / "man" / "man1" / "ocisign-sign.1"
    assert page.exists() and "\\-\\-sigstore\\-key" in page.read_text()
    if shutil.which("man"):
        shown = subprocess.run(["man", "-l", str(page)], env={**env, "MANPAGER": "cat"},
                               capture_output=True, text=True, check=True)
        assert "ocisign-sign" in shown.stdout
    completion = subprocess.run(["ocisign", "completion", "bash"], env=env,
                                capture_output=True, text=True, check=True)
    assert "complete" in completion.stdout and "ocisign" in completion.stdout
    listed = subprocess.run([py, "-m", "pipx", "list", "--json"], env=env, capture_output=True,
                            text=True, check=True)
    assert "ocisign" in json.loads(listed.stdout)["venvs"]
