"""Where a client keeps its device id: a tiny key-value protocol and two implementations."""

from __future__ import annotations

import json
import os
import secrets
import tempfile
from pathlib import Path
from typing import Protocol

DEVICE_ID_KEY = "gameserver.device_id"


class Storage(Protocol):
    """A small key-value store the caller provides (a file, a keychain, a save game)."""

    def get(self, key: str) -> str | None: ...

    def set(self, key: str, value: str) -> None: ...


class MemoryStorage:
    """Keeps values for the life of the object (tests, short-lived tools)."""

    def __init__(self) -> None:
        self._values: dict[str, str] = {}

    def get(self, key: str) -> str | None:
        return self._values.get(key)

    def set(self, key: str, value: str) -> None:
        self._values[key] = value


class JsonFileStorage:
    """Keeps values in a JSON object file, written atomically and readable by its owner only."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def _read(self) -> dict[str, str]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        if not isinstance(data, dict):
            raise ValueError(f"{self.path} does not hold a JSON object")
        return {str(k): str(v) for k, v in data.items()}

    def get(self, key: str) -> str | None:
        return self._read().get(key)

    def set(self, key: str, value: str) -> None:
        data = self._read()
        data[key] = value
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # The device id is a secret: write a 0600 temporary file, then rename it over.
        fd, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as file:
                json.dump(data, file)
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise


def new_device_id() -> str:
    """A fresh device id: 43 random URL-safe characters (256 bits), within 16..128."""
    return secrets.token_urlsafe(32)


def device_id(storage: Storage) -> str:
    """The device id kept in `storage`, made and stored on first use."""
    held = storage.get(DEVICE_ID_KEY)
    if held:
        return held
    made = new_device_id()
    storage.set(DEVICE_ID_KEY, made)
    return made
