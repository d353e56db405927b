"""The embedded cluster's users: what each may run, as `user` lines of valkey.conf.

- `default`: off. A connection that has not authenticated can run nothing.
- `admin`: every command, every key and channel: operators, forming the cluster,
  replication (`masteruser`).
- `gameserver`: the gateways and workers. Only the commands they send (listed below,
  from the stores, their Lua and valkey-py's cluster client; the suite runs as this
  user) on the keys and shard channels of domain/storage/keyspace.py. Of the server's
  own state it reads only INFO and CLUSTER NODES, and changes nothing (CONFIG, DEBUG,
  ACL, SHUTDOWN, MODULE, ...); nothing that wipes data
  (FLUSHALL, FLUSHDB, FUNCTION FLUSH/DELETE), lists keys (KEYS, SCAN) or stops others'
  work (SCRIPT KILL, FUNCTION KILL, CLIENT KILL).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

from domain.storage.keyspace import CHANNEL_PREFIXES, KEY_PREFIXES
from gameserver.embedded.credentials import ClusterCredentials, Credential

# valkey-py's cluster client: logging in, naming its library, learning the slot map and
# the commands' key positions; our own node links: ASKING on a slot being migrated.
_CLIENT_COMMANDS = (
    "auth",
    "ping",
    "client|setinfo",
    "asking",
    "cluster|slots",
    "cluster|info",
    "command",
)
# Acknowledged writes wait for a replica, or for AOF fsyncs with the `fsync` durability
# class (domain/storage/shard_calls.py WritePolicy).
_DURABILITY_COMMANDS = ("wait", "waitaof")
# The admin API's `GET /admin/v1/cluster` (gameserver/admin/cluster.py): the node list
# and each node's memory, ops/s and replication offsets. Both only read; the rights are
# granted here rather than giving every gateway the `admin` login, which could change
# or wipe the cluster. INFO shows no keys, values or passwords.
_INTROSPECTION_COMMANDS = ("info", "cluster|nodes")
# Valkey Functions: loaded at start-up and on a node that lacks them (no EVAL scripts).
# They run with this user's rights, so the commands they call are listed below too.
_SCRIPT_COMMANDS = ("fcall", "fcall_ro", "function|load")
_PUBSUB_COMMANDS = ("spublish", "ssubscribe", "sunsubscribe")
# Data commands sent directly or from the features' Lua, on the keys above only.
_DATA_COMMANDS = (
    "del",
    "exists",
    "expire",
    "get",
    "hdel",
    "hexists",
    "hget",
    "hgetall",
    "hincrby",
    "hincrbyfloat",
    "hlen",
    "hmget",
    "hpexpire",
    "hset",
    "hsetex",
    "hsetnx",
    "incr",
    "lpush",
    "lrange",
    "ltrim",
    "pexpire",
    "sadd",
    "set",
    "smembers",
    "srandmember",
    "srem",
    "time",
    "unlink",
    "xack",
    "xadd",
    "xautoclaim",
    "xdel",
    "xgroup|create",
    "xrange",
    "xreadgroup",
    "zadd",
    "zcard",
    "zcount",
    "zrange",
    "zrank",
    "zrem",
    "zremrangebyscore",
    "zscore",
)
GAMESERVER_COMMANDS = (
    *_CLIENT_COMMANDS,
    *_DURABILITY_COMMANDS,
    *_INTROSPECTION_COMMANDS,
    *_SCRIPT_COMMANDS,
    *_PUBSUB_COMMANDS,
    *_DATA_COMMANDS,
)


def gameserver_rules() -> str:
    """The ACL rules of the `gameserver` user, without its password."""
    keys = " ".join(f"~{prefix}:*" for prefix in KEY_PREFIXES)
    channels = " ".join(f"&{prefix}:*" for prefix in CHANNEL_PREFIXES)
    commands = " ".join(f"+{command}" for command in GAMESERVER_COMMANDS)
    return f"resetkeys {keys} resetchannels {channels} -@all {commands}"


def granting_rules(rules: str) -> list[str]:
    """The rules of an ACL rule line that grant something: key patterns (`~`, `%`),
    channel patterns (`&`) and commands or categories (`+`), in order."""
    granted: list[str] = []
    for token in rules.split():
        if token.startswith("("):
            break  # selectors: not ours, and not split by spaces alone
        if token[:1] in ("~", "%", "&", "+"):
            granted.append(token)
    return granted


def rules_of_user(acl_list: Iterable[str], username: str) -> str | None:
    """The rules of `username` in an `ACL LIST` reply, or None if it has no such user."""
    prefix = f"user {username} "
    for line in acl_list:
        if line.startswith(prefix):
            return line[len(prefix) :]
    return None


def grants_beyond_release(rules: str) -> list[str]:
    """What a node's rules for the `gameserver` user grant beyond this release's rules:
    a running node of an earlier (or later) release's cluster may grant commands or
    prefixes that release's processes still use (docs/operations.md "Rolling upgrades")."""
    ours = set(granting_rules(gameserver_rules()))
    return [rule for rule in granting_rules(rules) if rule not in ours]


def _password_rule(credential: Credential) -> str:
    # The config holds a SHA-256 of the password, never the password itself.
    return "#" + hashlib.sha256(credential.password.encode()).hexdigest()


def acl_config_lines(
    credentials: ClusterCredentials, extra_grants: Sequence[str] = ()
) -> list[str]:
    """valkey.conf lines: the three users, and replication logging in as `admin`.

    `extra_grants` are added to the `gameserver` user's rules: what the cluster's running
    nodes grant beyond this release's (`grants_beyond_release`), so that a node started
    again while others run keeps granting what they grant."""
    admin, gameserver = credentials.admin, credentials.gameserver
    rules = " ".join([gameserver_rules(), *extra_grants])
    return [
        "user default off resetpass resetkeys resetchannels -@all",
        f"user {admin.username} on {_password_rule(admin)} ~* &* +@all",
        f"user {gameserver.username} on {_password_rule(gameserver)} {rules}",
        f"masteruser {admin.username}",
        f"masterauth {admin.password}",
    ]
