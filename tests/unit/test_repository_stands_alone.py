"""The repository stands on its own: no file points outside it or at a machine's paths."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Documents that live beside the repository on the machines it was written on, and
# absolute paths of those machines: a reader of the repository has neither.
OUTSIDE = re.compile(r"\.\./shared|PROTOCOL\.md|BASELINES\.md|STYLE\.md|/work/|/root/")


def _tracked_text_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.split(b"\0")
    files = [ROOT / name.decode() for name in listed if name]
    return [f for f in files if f.is_file() and f.suffix not in {".png", ".jpg", ".ico"}]


def test_no_file_points_outside_the_repository() -> None:
    this_file = Path(__file__).resolve()
    offenders: list[str] = []
    for path in _tracked_text_files():
        if path.resolve() == this_file:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            if OUTSIDE.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()[:120]}")
    assert offenders == []
