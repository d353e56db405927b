"""A data dir is made private on start: gameserver's own folder entirely, a shared one
only in its gameserver parts."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from gameserver.embedded.private_dir import make_private


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_data_dir_of_an_earlier_release_is_made_private(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    aof = data_dir / "valkey" / "7000" / "appendonlydir" / "appendonly.aof.1.incr.aof"
    aof.parent.mkdir(parents=True)
    aof.write_text("")
    (data_dir / "secret").write_text("s")
    for path in (data_dir, aof.parent, aof.parent.parent, data_dir / "valkey"):
        path.chmod(0o755)
    aof.chmod(0o644)
    (data_dir / "secret").chmod(0o644)

    make_private(data_dir)

    assert _mode(data_dir) == 0o700
    assert _mode(data_dir / "secret") == 0o600
    assert _mode(aof) == 0o600
    assert _mode(aof.parent) == _mode(aof.parent.parent) == 0o700


def test_a_shared_folder_keeps_its_mode_and_its_gameserver_parts_go_private(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "notes.txt").write_text("someone else's")
    shared.chmod(0o755)

    make_private(shared)

    assert _mode(shared) == 0o755
    assert _mode(shared / "valkey") == 0o700
    assert "open to other users" in caplog.text


def test_a_new_data_dir_is_created_private(tmp_path: Path) -> None:
    make_private(tmp_path / "new" / "data")
    assert _mode(tmp_path / "new" / "data") == 0o700
