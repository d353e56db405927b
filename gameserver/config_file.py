"""The boards and queues a deployment starts with: a TOML or JSON file, or the default."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

# The embedded default of docs/protocol.md: two boards and a 1v1 queue.
DEFAULT_CONFIG: dict[str, Any] = {
    "boards": [
        {"name": "global", "order": "desc", "operator": "best", "reset": "never"},
        {"name": "weekly", "order": "desc", "operator": "best", "reset": "weekly"},
    ],
    "queues": [{"name": "duel", "team_size": 1, "teams": 2}],
}


@dataclass(frozen=True)
class StartupConfig:
    boards: tuple[dict[str, Any], ...]
    queues: tuple[dict[str, Any], ...]


def load_startup_config(path: Path | None) -> StartupConfig:
    """Read `path` (.toml or .json) or return the default; raises ValueError when malformed."""
    raw = DEFAULT_CONFIG if path is None else _read(path)
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: the top level must be a table/object")
    boards = raw.get("boards", [])
    queues = raw.get("queues", [])
    for name, section in (("boards", boards), ("queues", queues)):
        if not isinstance(section, list) or not all(isinstance(i, dict) for i in section):
            raise ValueError(f"{path}: `{name}` must be a list of tables/objects")
    return StartupConfig(tuple(boards), tuple(queues))


def _read(path: Path) -> Any:
    text = path.read_bytes()
    if path.suffix == ".json":
        return orjson.loads(text)
    if path.suffix == ".toml":
        return tomllib.loads(text.decode())
    raise ValueError(f"{path}: the config file must end in .toml or .json")
