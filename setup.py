"""Build hook: man pages generated from the click definitions go into the wheel
(``share/man/man1``, where pipx and pip --prefix installs put them). Metadata is in
pyproject.toml."""

from __future__ import annotations

import runpy
from pathlib import Path

from setuptools import setup

HERE = Path(__file__).resolve().parent
MAN_DIR = Path("build") / "man"
pages = runpy.run_path(str(HERE / "scripts" / "manpages.py"))["write_man_pages"](HERE / MAN_DIR)
setup(data_files=[("share/man/man1", sorted(str(p.relative_to(HERE)) for p in pages))])
