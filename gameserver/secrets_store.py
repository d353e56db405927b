"""Secrets that `gameserver up` keeps under its data dir when the environment has none."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path

# The token-signing secret's file in the data dir (`gameserver up`, backup and restore).
SECRET_FILE = "secret"


def _url_safe() -> str:
    return secrets.token_urlsafe(32)


def load_or_create_secret(data_dir: Path, name: str, make: Callable[[], str] = _url_safe) -> str:
    """The secret stored in `data_dir/name`, made by `make` (mode 0600) on first use."""
    path = data_dir / name
    if path.exists():
        value = path.read_text().strip()
        if value:
            return value
    data_dir.mkdir(parents=True, exist_ok=True)
    value = make()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value + "\n")
    return value
