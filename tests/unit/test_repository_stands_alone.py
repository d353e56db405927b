"""The repository stands on its own: every document it cites is in it, and no file names
a folder of the machine it was written on."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# A document cited by name: a Markdown path with a folder (relative ones included), or a
# bare name in capitals as documents are named (README.md). A bare lower-case name is a
# file some command writes (a report), not a citation.
_CITED_DOCUMENT = re.compile(r"(?<![\w/.-])((?:\.\./|[\w.-]+/)+[\w.-]+\.md|[A-Z][A-Z0-9_-]*\.md)\b")


def _tracked_text() -> dict[Path, str]:
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.split(b"\0")
    texts: dict[Path, str] = {}
    for name in filter(None, listed):
        path = ROOT / name.decode()
        if path.is_file():
            try:
                texts[path] = path.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                continue
    return texts


def _in_repository(cited: str, by: Path, tracked: set[str]) -> bool:
    for base in (by.parent, ROOT):
        resolved = (base / cited).resolve()
        if resolved.is_relative_to(ROOT) and resolved.exists():
            return True
    # A name cited without its folder ("the package's README.md"): some file of ours.
    return "/" not in cited and not cited.startswith("..") and cited in tracked


def test_every_document_a_file_cites_is_in_the_repository() -> None:
    texts = _tracked_text()
    names = {path.name for path in texts}
    missing = [
        f"{path.relative_to(ROOT)}: {cited}"
        for path, text in texts.items()
        for cited in _CITED_DOCUMENT.findall(text)
        if not _in_repository(cited, path, names)
    ]
    assert missing == []


def test_no_file_names_a_folder_of_this_machine() -> None:
    # The checkout's parent and the home folder differ from machine to machine: a file
    # naming either only makes sense where it was written.
    machine_folders = {str(ROOT.parent) + "/", str(Path.home()) + "/"}
    named = [
        f"{path.relative_to(ROOT)}: {folder}"
        for path, text in _tracked_text().items()
        for folder in machine_folders
        if folder in text
    ]
    assert named == []
