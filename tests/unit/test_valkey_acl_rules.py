"""The `gameserver` user's grant covers every command the features' Lua calls; the
TLS settings of an external cluster.

Functions and scripts run with the caller's rights: a command missing from the grant
fails only when that line of Lua runs. This catches it when the Lua changes.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from domain.storage.keyspace import CHANNEL_PREFIXES, KEY_PREFIXES
from gameserver.embedded.acl import (
    GAMESERVER_COMMANDS,
    gameserver_rules,
    grants_beyond_release,
    rules_of_user,
)
from gameserver.settings import Settings, settings_from_env
from gameserver.valkey_client import tls_options

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


def test_tls_files_come_from_the_environment() -> None:
    settings = settings_from_env(
        {
            "VALKEY_TLS": "1",
            "VALKEY_TLS_CA": "/etc/ca.pem",
            "VALKEY_TLS_CERT": "/etc/client.pem",
            "VALKEY_TLS_KEY": "/etc/client.key",
        }
    )
    assert settings.valkey_tls
    assert (settings.valkey_tls_ca, settings.valkey_tls_cert, settings.valkey_tls_key) == (
        Path("/etc/ca.pem"),
        Path("/etc/client.pem"),
        Path("/etc/client.key"),
    )
    assert settings_from_env({}).valkey_tls_ca is None


def test_tls_files_without_tls_are_a_mistake_said_at_start(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("")
    with pytest.raises(RuntimeError, match="VALKEY_TLS is not"):
        tls_options(Settings(valkey_tls_ca=ca))
    with pytest.raises(RuntimeError, match="go together"):
        tls_options(Settings(valkey_tls=True, valkey_tls_cert=ca))
    with pytest.raises(RuntimeError, match="does not exist"):
        tls_options(Settings(valkey_tls=True, valkey_tls_ca=tmp_path / "missing.pem"))
    options = tls_options(Settings(valkey_tls=True, valkey_tls_ca=ca))
    assert options["ssl"] and options["ssl_cert_reqs"] == "required"
    assert options["ssl_ca_certs"] == str(ca)


def test_what_a_node_grants_beyond_this_release_is_only_what_it_adds() -> None:
    ours = gameserver_rules()
    # A node of this release grants nothing more; its password and resets are no grants.
    assert grants_beyond_release(f"on #{'0' * 64} sanitize-payload {ours}") == []
    earlier = f"on #{'0' * 64} {ours} +evalsha +script|load ~old:* &old:* -flushall"
    assert grants_beyond_release(earlier) == ["+evalsha", "+script|load", "~old:*", "&old:*"]
    # Selectors are not split into rules.
    assert grants_beyond_release(f"{ours} (~sel:* +get)") == []


def test_the_rules_of_a_user_are_found_in_an_acl_list() -> None:
    listing = ["user admin on ~* &* +@all", "user gameserver on ~lb:* +get"]
    assert rules_of_user(listing, "gameserver") == "on ~lb:* +get"
    assert rules_of_user(listing, "game") is None
