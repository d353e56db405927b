"""The embedded cluster is locked down: who may log in, run what, on which keys; what
the data dir lets other local users read."""

from __future__ import annotations

import json
import stat
from collections.abc import Sequence
from pathlib import Path

import pytest
from valkey import Valkey
from valkey.asyncio.cluster import ValkeyCluster
from valkey.exceptions import AuthenticationError, NoPermissionError, ResponseError

from gameserver.embedded import EmbeddedCluster

# What a stolen gateway login must not do: read or change the server, wipe or list the
# data, stop others' work, run arbitrary Lua, change replication or the cluster.
FORBIDDEN: list[Sequence[str]] = [
    ("FLUSHALL",),
    ("FLUSHDB",),
    ("CONFIG", "GET", "maxmemory"),
    ("CONFIG", "SET", "maxmemory", "0"),
    ("KEYS", "*"),
    ("SCAN", "0"),
    ("DEBUG", "SLEEP", "0"),
    ("ACL", "LIST"),
    ("ACL", "SETUSER", "intruder", "on", ">pw", "+@all", "~*"),
    ("SHUTDOWN", "ABORT"),
    ("MODULE", "LIST"),
    ("SCRIPT", "KILL"),
    ("SCRIPT", "FLUSH"),
    ("FUNCTION", "FLUSH"),
    ("FUNCTION", "DELETE", "no_such_library"),
    ("FUNCTION", "KILL"),
    ("CLIENT", "LIST"),
    ("CLIENT", "KILL", "ID", "0"),
    ("EVAL", "return 1", "0"),
    ("CLUSTER", "FORGET", "0" * 40),
    ("REPLICAOF", "NO", "ONE"),
    ("BGREWRITEAOF",),
    ("MONITOR",),
    # Lua outside the function libraries, and commands that read or move keys by pattern
    # or whole, even on the features' own prefixes.
    ("SCRIPT", "LOAD", "return 1"),
    ("EVALSHA", "0" * 40, "0"),
    ("SORT", "lb:{acl-test}:k", "BY", "nosort", "GET", "*"),
    ("DUMP", "lb:{acl-test}:k"),
    ("RESTORE", "lb:{acl-test}:k", "0", "x"),
    ("MIGRATE", "127.0.0.1", "1", "lb:{acl-test}:k", "0", "1"),
    ("RANDOMKEY",),
    ("SAVE",),
    ("CLUSTER", "RESET"),
    ("CLUSTER", "SETSLOT", "0", "STABLE"),
    ("CLUSTER", "MEET", "127.0.0.1", "1"),
    ("CLUSTER", "FAILOVER"),
    ("CLIENT", "PAUSE", "1"),
]


@pytest.mark.parametrize("command", FORBIDDEN, ids=lambda c: " ".join(c[:2]))
async def test_the_gameserver_user_is_refused_administrative_commands(
    valkey: ValkeyCluster, command: Sequence[str]
) -> None:
    primary = valkey.get_primaries()[0]
    # DEBUG and MODULE are off for every user (enable-debug-command, enable-module-command).
    with pytest.raises(ResponseError, match="no permissions to run|command not allowed"):
        await valkey.execute_command(*command, target_nodes=primary)


async def test_a_function_the_gameserver_user_loads_runs_with_its_rights_only(
    valkey: ValkeyCluster, admin_valkey: ValkeyCluster
) -> None:
    # FUNCTION LOAD is granted (the gateways load their libraries): a stolen login's own
    # library can still do no more than the login itself.
    primary = valkey.get_primaries()[0]
    library = (
        "#!lua name=acl_intruder\n"
        "server.register_function('acl_flush', function() return server.call('FLUSHALL') end)\n"
        "server.register_function('acl_read', function(k) return server.call('GET', k[1]) end)"
    )
    await valkey.execute_command("FUNCTION", "LOAD", "REPLACE", library, target_nodes=primary)
    try:
        with pytest.raises(ResponseError, match="no permissions to run the 'flushall'"):
            await valkey.execute_command("FCALL", "acl_flush", 0, target_nodes=primary)
        with pytest.raises(ResponseError, match="access a key"):
            await valkey.execute_command("FCALL", "acl_read", 1, "config", target_nodes=primary)
    finally:
        await admin_valkey.execute_command(
            "FUNCTION", "DELETE", "acl_intruder", target_nodes=admin_valkey.get_primaries()[0]
        )


@pytest.mark.parametrize(
    "command",
    [
        ("SET", "other:{x}", "1"),
        ("GET", "config"),
        ("HGETALL", "lbx:{x}"),  # a prefix is a whole word
        ("DEL", "{lb}:names"),
    ],
    ids=lambda c: c[1],
)
async def test_keys_outside_the_features_prefixes_are_refused(
    valkey: ValkeyCluster, command: Sequence[str]
) -> None:
    with pytest.raises(NoPermissionError, match="access a key"):
        await valkey.execute_command(*command)


async def test_the_features_prefixes_are_granted(valkey: ValkeyCluster) -> None:
    for prefix in ("lb", "sess", "mm", "acct", "party", "abuse"):
        key = f"{prefix}:{{acl-test}}:k"
        assert await valkey.execute_command("SET", key, "1")
        assert await valkey.execute_command("GET", key) == b"1"


async def test_shard_channels_outside_the_features_prefixes_are_refused(
    valkey: ValkeyCluster,
) -> None:
    assert await valkey.execute_command("SPUBLISH", "gw:{acl-test}", "hi") == 0
    with pytest.raises(NoPermissionError, match="channel"):
        await valkey.execute_command("SPUBLISH", "news:{acl-test}", "hi")


def test_a_connection_without_a_login_can_run_nothing(embedded_cluster: EmbeddedCluster) -> None:
    for node in embedded_cluster.nodes:
        anonymous = Valkey(host=node.host, port=node.port, socket_timeout=2)
        try:
            with pytest.raises(AuthenticationError, match="Authentication required"):
                anonymous.execute_command("GET", "lb:{x}:s")  # type: ignore[no-untyped-call]
            with pytest.raises((AuthenticationError, ResponseError)):
                anonymous.execute_command("AUTH", "default", "")  # type: ignore[no-untyped-call]
        finally:
            anonymous.close()  # type: ignore[no-untyped-call]


def test_a_wrong_password_is_refused(embedded_cluster: EmbeddedCluster) -> None:
    node = embedded_cluster.nodes[0]
    for user in ("admin", "gameserver", "default"):
        client = Valkey(host=node.host, port=node.port, username=user, password="guess")
        try:
            with pytest.raises(AuthenticationError):
                client.ping()
        finally:
            client.close()  # type: ignore[no-untyped-call]


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_credentials_are_kept_for_their_owner_alone(embedded_cluster: EmbeddedCluster) -> None:
    path = embedded_cluster.data_dir / "credentials.json"
    assert _mode(path) == 0o600
    users = json.loads(path.read_text())
    assert {role: users[role]["username"] for role in users} == {
        "admin": "admin",
        "gameserver": "gameserver",
    }
    assert users["gameserver"]["password"] == embedded_cluster.credentials.gameserver.password
    # The nodes' own config holds hashes of the passwords, never the gameserver one.
    for node in embedded_cluster.nodes:
        assert users["gameserver"]["password"] not in node.config_path.read_text()


def test_the_data_dir_and_every_file_the_nodes_write_are_private(
    embedded_cluster: EmbeddedCluster,
) -> None:
    assert _mode(embedded_cluster.data_dir) == 0o700
    written = [p for p in embedded_cluster.valkey_dir.rglob("*")]
    aof = [p for p in written if p.parent.name == "appendonlydir"]
    assert aof, "no AOF files found"
    assert any(p.name == "nodes.conf" for p in written)
    exposed = [(str(p), oct(_mode(p))) for p in written if _mode(p) & 0o077]
    assert exposed == []
