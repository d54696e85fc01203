"""Batch output streams: lines as they finish (piped), a clean bar on a terminal (tmux).

The piped test holds the last image's registry requests until the test has read the
earlier lines, so their order of events proves the streaming without timing thresholds.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import threading
from pathlib import Path

from tests.conftest import cli_env, run_ocisign
from tests.fixtures.fake_registry import FakeRegistry
from tests.fixtures.registry import push_test_image, wait_until

PASSPHRASE = "stream-test-passphrase"
SIGNED = 6  # images 0..5 are signed, 6..10 are not, "held" comes last


def _setup(fake: FakeRegistry, tmp_path: Path) -> tuple[Path, Path, list[str]]:
    """A cosign key pair, 11 images (half of them signed) and an image list ending in 'held'."""
    (tmp_path / "pass").write_text(PASSPHRASE)
    env = cli_env(OCISIGN_CONFIG_DIR=str(tmp_path / "config"))
    made = run_ocisign("key", "generate-pair", "--output-prefix", str(tmp_path / "cosign"),
                       "--passphrase-file", str(tmp_path / "pass"), env=env)
    assert made.returncode == 0, made.stderr
    refs = []
    for i in range(11):
        digest = push_test_image(fake, f"stream/app{i}:v1")
        refs.append(f"{fake.host}/stream/app{i}@{digest}")
    refs.append(f"{fake.host}/stream/held@{push_test_image(fake, 'stream/held:v1')}")
    signed = tmp_path / "signed.txt"
    signed.write_text("\n".join(refs[:SIGNED]) + "\n")
    done = run_ocisign("sign", "-f", str(signed), "--insecure-registry", "--sigstore-key",
                       str(tmp_path / "cosign.key"), "--sigstore-passphrase-file",
                       str(tmp_path / "pass"), "-o", str(tmp_path / "sign-failed.txt"), env=env)
    assert done.returncode == 0, done.stderr
    listing = tmp_path / "list.txt"
    listing.write_text("\n".join(refs) + "\n")
    return listing, tmp_path / "cosign.pub", refs


def test_piped_lines_stream_as_they_finish(fake_registry: FakeRegistry, tmp_path: Path) -> None:
    listing, pub, refs = _setup(fake_registry, tmp_path)
    failed = tmp_path / "failed.txt"
    release = fake_registry.holds["/stream/held/"] = threading.Event()
    proc = subprocess.Popen(
        [sys.executable, "-m", "ocisign", "validate", "-f", str(listing), "-j", "1",
         "--insecure-registry", "--sigstore-pubkey", str(pub), "-o", str(failed)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=cli_env(OCISIGN_CONFIG_DIR=str(tmp_path / "config"), NO_COLOR=""),
    )
    assert proc.stdout is not None and proc.stderr is not None
    events: list[tuple[str, str]] = []  # (what, text) in the order the test saw them
    lock = threading.Lock()

    def read_stderr() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            with lock:
                events.append(("stderr", line.rstrip("\n")))

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    early = [proc.stdout.readline().rstrip("\n") for _ in refs[:-1]]
    with lock:
        events.append(("stdout-before-release", ""))
    failed_during_run = failed.read_text()
    wait_until(lambda: any("10/12 lines done" in text for _, text in events), what="heartbeat")
    with lock:
        events.append(("release", ""))
    release.set()
    rest = proc.stdout.read()
    assert proc.wait(timeout=120) == 1
    reader.join(timeout=30)
    # the first 11 lines were read while the last job was still held by the registry
    assert early == [f"PASS: {r}" for r in refs[:SIGNED]] + [
        f"FAIL: {r}: no sigstore signature" for r in refs[SIGNED:-1]]
    assert rest.startswith(f"FAIL: {refs[-1]}: no sigstore signature")
    # the failed file was current while the run went on, and complete at the end
    assert failed_during_run == "".join(f"{r}\n" for r in refs[SIGNED:-1])
    assert failed.read_text() == "".join(f"{r}\n" for r in refs[SIGNED:])
    # a heartbeat off a TTY, before the held line was released; no control codes in a log
    order = ["heartbeat" if what == "stderr" else what for what, text in events
             if what == "release" or "10/12 lines done" in text]
    assert order.index("heartbeat") < order.index("release")
    assert all("\x1b" not in text and "\r" not in text for _, text in events)
    assert "\x1b" not in "".join(early) + rest


def _terminal(script: Path, env: dict[str, str]) -> list[list[tuple[str, str]]]:
    """Run ``script`` on a pseudo-terminal (pexpect) and render what it wrote in a terminal
    emulator (pyte) with scrollback: every row, as (character, colour) pairs."""
    import pexpect
    import pyte

    columns, rows = 200, 50
    child = pexpect.spawn("bash", [str(script)], env=env, dimensions=(rows, columns),
                          cwd=str(script.parent), timeout=240)
    child.expect(pexpect.EOF)
    child.close()
    screen = pyte.HistoryScreen(columns, rows, history=5000)
    pyte.ByteStream(screen).feed(child.before)
    history = list(screen.history.top) + [screen.buffer[y] for y in range(rows)]
    return [[(row[x].data, row[x].fg) for x in range(columns)] for row in history]


def test_terminal_bar_and_lines_without_stale_fragments(
    fake_registry: FakeRegistry, tmp_path: Path
) -> None:
    listing, pub, refs = _setup(fake_registry, tmp_path)
    tagged = tmp_path / "tagged.txt"  # tags: notation's tag warning on every line
    tagged.write_text("".join(f"{fake_registry.host}/stream/app{i}:v1\n" for i in range(6, 11)))
    key_flags = f"--sigstore-key {tmp_path / 'cosign.key'} --sigstore-passphrase-file " \
                f"{tmp_path / 'pass'}"
    ocisign = f"{shlex.quote(sys.executable)} -m ocisign"
    script = tmp_path / "run.sh"
    script.write_text(
        f"{ocisign} sign -f {tagged} --insecure-registry {key_flags} -j 2\n"
        f"{ocisign} validate {refs[0]} --insecure-registry --sigstore-pubkey {pub}\n"
        f"{ocisign} validate -f {listing} -j 3 --insecure-registry --sigstore-pubkey {pub}\n"
        f"NO_COLOR=1 {ocisign} validate {refs[1]} --insecure-registry --sigstore-pubkey {pub}\n"
    )
    env = cli_env(OCISIGN_CONFIG_DIR=str(tmp_path / "config"), TERM="xterm-256color")
    env.pop("NO_COLOR", None)
    cells = _terminal(script, env)
    plain = ["".join(c for c, _ in row).rstrip() for row in cells]
    screen = "\n".join(plain)
    # sign: every line's result once, the tag warning once with a count, one final bar
    for i in range(6, 11):
        assert len(re.findall(rf"Successfully signed \S+/stream/app{i}@sha256:", screen)) == 1
    assert screen.count("rather than a tag because tags are mutable") == 1
    assert screen.count("the warning above was given for 5 lines") == 1
    bars = [line for line in plain if line.startswith("signing")]
    assert len(bars) == 1 and "5/5" in bars[0], screen  # no stale fragment of the bar
    # validate of one reference: no bar; of a list: every line once, one bar
    bars = [line for line in plain if line.startswith("validating")]
    assert len(bars) == 1 and "12/12" in bars[0], screen
    for ref in refs[2:SIGNED]:
        assert len(re.findall(rf"^PASS: {re.escape(ref)}( \(line \d+\))?$", screen, re.M)) == 1
    assert len(re.findall(rf"^PASS: {re.escape(refs[0])}", screen, re.M)) == 2
    assert len(re.findall(rf"^PASS: {re.escape(refs[1])}", screen, re.M)) == 2
    # PASS/FAIL coloured on the terminal, not with NO_COLOR (the last run)
    verdicts = [(row[0][1], "".join(c for c, _ in row[:4])) for row in cells
                if "".join(c for c, _ in row[:5]) in ("PASS:", "FAIL:")]
    assert verdicts[0] == ("green", "PASS") and ("red", "FAIL") in verdicts
    assert verdicts[-1] == ("default", "PASS")
