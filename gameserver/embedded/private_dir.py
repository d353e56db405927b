"""Keeping a data dir readable by its owner alone: it holds passwords and player data."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger(__name__)

# What `gameserver up` keeps in a data dir. A folder holding anything else may be shared
# (someone's home, /tmp): only its gameserver parts are made private then.
_OWN_ENTRIES = frozenset(
    {
        "valkey",
        "credentials.json",
        "credentials.json.tmp",
        "secret",
        "admin_key",
        "supervisor.json",
        "supervisor.tmp",
    }
)


def make_private(data_dir: Path) -> None:
    """Create `data_dir` (0700) and drop group and other access from what it holds.

    Files that the nodes wrote before (a data dir from an earlier release) lose their
    group and world bits too; what the nodes write from now on is private by their umask.
    """
    created = not data_dir.exists()
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    if created or {entry.name for entry in data_dir.iterdir()} <= _OWN_ENTRIES:
        _restrict(data_dir)
    elif stat.S_IMODE(data_dir.stat().st_mode) & 0o077:
        log.warning(
            "%s holds other files and is open to other users; only its gameserver files "
            "are made private",
            data_dir,
        )
    for name in ("credentials.json", "secret", "admin_key"):
        if (data_dir / name).exists():
            _restrict(data_dir / name)
    valkey_dir = data_dir / "valkey"
    valkey_dir.mkdir(mode=0o700, exist_ok=True)
    for root, dirs, files in os.walk(valkey_dir):
        _restrict(Path(root))
        for name in files:
            _restrict(Path(root) / name)
        dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(root, d))]


def _restrict(path: Path) -> None:
    mode = stat.S_IMODE(path.lstat().st_mode)
    if path.is_symlink() or not mode & 0o077:
        return
    path.chmod(0o700 if path.is_dir() else mode & 0o700)
