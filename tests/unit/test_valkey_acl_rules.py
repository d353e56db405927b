"""The `gameserver` user's grant covers every command the features' Lua calls.

Functions and scripts run with the caller's rights: a command missing from the grant
fails only when that line of Lua runs. This catches it when the Lua changes.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from domain.storage.keyspace import CHANNEL_PREFIXES, KEY_PREFIXES
from gameserver.embedded.acl import GAMESERVER_COMMANDS, gameserver_rules

ROOT = Path(__file__).resolve().parents[2]
LUA_FILES = sorted((ROOT / "domain").rglob("*.lua"))
_CALL = re.compile(
    r"(?:redis|server)\.p?call\(\s*['\"]([A-Za-z_]+)['\"](?:\s*,\s*['\"]([A-Za-z_]+)['\"])?"
)


def _granted(command: str, subcommand: str | None) -> bool:
    name = command.lower()
    if name in GAMESERVER_COMMANDS:
        return True
    return subcommand is not None and f"{name}|{subcommand.lower()}" in GAMESERVER_COMMANDS


@pytest.mark.parametrize("path", LUA_FILES, ids=lambda p: p.name)
def test_every_command_the_lua_calls_is_granted(path: Path) -> None:
    calls = _CALL.findall(path.read_text())
    assert calls, f"no server.call found in {path.name}"
    missing = sorted({c for c, sub in calls if not _granted(c, sub or None)})
    assert missing == []


def test_the_grant_names_every_prefix_and_starts_from_nothing() -> None:
    rules = gameserver_rules().split()
    assert rules.index("-@all") < rules.index("+fcall")
    assert {r[1:-2] for r in rules if r.startswith("~")} == set(KEY_PREFIXES)
    assert {r[1:-2] for r in rules if r.startswith("&")} == set(CHANNEL_PREFIXES)
    assert not [r for r in rules if r.startswith("+@") or r in ("allkeys", "allchannels")]
