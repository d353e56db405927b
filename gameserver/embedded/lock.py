"""The owner lock on a data directory: one process at a time manages its cluster."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path


class DataDirLock:
    """An exclusive `flock` on `<data_dir>/valkey/cluster.lock`.

    The kernel drops the lock when the owner exits, even on kill -9, so a crashed owner
    never blocks the next one.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        if self._fd is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise RuntimeError(
                f"{self.path.parent} is managed by another running process (pid {owner}); "
                "stop it first or use another data dir"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        os.ftruncate(fd, 0)
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)

    def __del__(self) -> None:
        # An owner dropped without stop(): closing the descriptor frees the lock as exit would.
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
