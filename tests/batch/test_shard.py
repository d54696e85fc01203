"""``--shard K/N`` (issue 17 item 5): each line in exactly one shard, stable under reordering."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from ocisign.batch import in_shard, parse_shard
from ocisign.errors import UsageError
from ocisign.resolve.imagelist import batch_jobs
from tests.conftest import run_ocisign

LINES = [f"reg.example/team/app{i}:v{i % 7}" for i in range(400)]


def test_every_line_in_exactly_one_shard() -> None:
    for n in (1, 2, 3, 8):
        owners = [[k for k in range(n) if in_shard(line, (k, n))] for line in LINES]
        assert all(len(o) == 1 for o in owners)
        sizes = [sum(o == [k] for o in owners) for k in range(n)]
        assert min(sizes) > len(LINES) / n / 2  # spread, not all in one


def test_shards_do_not_depend_on_order_or_spacing(tmp_path: Path) -> None:
    listing = tmp_path / "a.txt"
    listing.write_text("\n".join(LINES) + "\n")
    shuffled = LINES[:]
    random.Random(3).shuffle(shuffled)
    other = tmp_path / "b.txt"
    other.write_text("# comment\n" + "\n".join(f"  {line} " for line in shuffled) + "\n")
    for k in range(4):
        first = {job.line.strip() for job in batch_jobs([], listing, shard=(k, 4))}
        second = {job.line.strip() for job in batch_jobs([], other, shard=(k, 4))}
        assert first == second and first


@pytest.mark.parametrize("text", ["4/4", "-1/3", "1", "a/b", "1/0", "2/x"])
def test_bad_shard_is_a_usage_error(text: str) -> None:
    with pytest.raises(UsageError, match="--shard"):
        parse_shard(text)
    assert parse_shard("2/5") == (2, 5) and parse_shard(None) is None


def test_sharded_validate_runs_only_its_lines(tmp_path: Path) -> None:
    layouts: list[str] = []  # absent layouts: each line fails; every shard gets two
    while any(sum(in_shard(f"{p}:v1", (k, 3)) for p in layouts) < 2 for k in range(3)):
        layouts.append(str(tmp_path / f"lay{len(layouts)}"))
    listing = tmp_path / "list.txt"
    listing.write_text("\n".join(f"{path}:v1" for path in layouts) + "\n")
    seen: list[str] = []
    for k in range(3):
        proc = run_ocisign("validate", "--oci-layout", "-f", str(listing), "--shard", f"{k}/3",
                           "--sigstore-pubkey", str(_pub(tmp_path)), "--output", "json",
                           "-o", str(tmp_path / f"failed-{k}.txt"))
        assert proc.returncode == 1, proc.stderr
        lines = [r["reference"] for r in json.loads(proc.stdout)["results"]]
        failed = (tmp_path / f"failed-{k}.txt").read_text().splitlines()
        assert sorted(failed) == sorted(lines)  # each shard its own failed file
        seen.extend(lines)
    assert sorted(seen) == sorted(f"{path}:v1" for path in layouts)


def _pub(tmp_path: Path) -> Path:
    from tests.validate.conftest import make_sigstore_key

    path = tmp_path / "k.pub"
    if not path.exists():
        make_sigstore_key(path)
    return path
