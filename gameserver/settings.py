"""One frozen settings object, read once from the environment and command-line flags."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from domain.storage.shard_calls import WritePolicy


def _parse_nodes(raw: str) -> tuple[tuple[str, int], ...]:
    nodes: list[tuple[str, int]] = []
    for part in raw.split(","):
        part = part.strip()
        if not part:
            continue
        host, _, port = part.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"VALKEY_NODES entry {part!r} is not host:port")
        nodes.append((host, int(port)))
    return tuple(nodes)


def _flag(raw: str | None, default: bool) -> bool:
    if raw is None or raw == "":
        return default
    return raw.strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class Settings:
    # Where the gateway listens.
    host: str = "127.0.0.1"
    port: int = 8000

    # The Valkey cluster: seeds plus credentials (PROTOCOL.md section 4).
    valkey_nodes: tuple[tuple[str, int], ...] = ()
    valkey_username: str | None = None
    valkey_password: str | None = None
    valkey_tls: bool = False
    # Per-command socket timeout and the retry window that covers a primary failover
    # (BASELINES.md: a promoted replica is writable again after ~2.9 s).
    valkey_timeout_s: float = 2.0
    valkey_failover_window_s: float = 6.0

    # The embedded cluster that `gameserver up` and `gameserver cluster` manage.
    data_dir: Path = Path(".gameserver")
    valkey_port: int = 7000
    cluster_node_timeout_ms: int = 2000

    # Secrets and keys.
    admin_key: str = ""
    secret: bytes = b""
    client_key: str | None = None
    config_path: Path | None = None

    # Logins (docs/accounts.md): identity-token providers as JSON (or a JSON file's path),
    # and the bare player_id login, for development only.
    auth_providers: str = ""
    dev_login: bool = False

    # Sessions.
    session_ttl_s: int = 60
    token_lifetime_s: int = 24 * 3600

    # The game socket.
    max_frame_bytes: int = 16 * 1024
    outgoing_queue_limit: int = 256
    rate_limit_per_s: float = 50.0
    rate_limit_burst: int = 100
    session_values_max_bytes: int = 4 * 1024

    # Parties: how long an invite may be accepted (the contract's 60 s).
    party_invite_ttl_s: float = 60.0

    # Durability: a write is acknowledged only once this many replicas hold it.
    wait_replicas: int = 1
    wait_timeout_ms: int = 1000

    # Push coalescing (PROTOCOL.md section 2).
    rank_push_interval_s: float = 0.1
    top_push_interval_s: float = 0.1

    # Identifies this gateway process for cross-gateway messages; set at start-up.
    gateway_id: str = ""
    # Gateway processes `gameserver up` runs on its port (one Python process uses one
    # core; the kernel spreads connections over them with SO_REUSEPORT).
    gateways: int = 1

    # The demo page at /demo (`gameserver up --demo`); off by default.
    demo: bool = False

    def write_policy(self) -> WritePolicy:
        """How the stores confirm acknowledged writes (WAIT and failover retries)."""
        return WritePolicy(self.wait_replicas, self.wait_timeout_ms, self.valkey_failover_window_s)

    def with_overrides(self, **changes: Any) -> Settings:
        """A copy with the given fields replaced; `None` values are ignored."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


def settings_from_env(env: Mapping[str, str] | None = None) -> Settings:
    """Settings from the environment (PROTOCOL.md section 4 plus GAMESERVER_* tuning)."""
    env = os.environ if env is None else env
    defaults = Settings()

    def number(name: str, default: float) -> float:
        raw = env.get(name)
        return default if raw in (None, "") else float(raw)

    secret = env.get("GAMESERVER_SECRET", "")
    config = env.get("GAMESERVER_CONFIG")
    return Settings(
        host=env.get("GAMESERVER_HOST", defaults.host),
        port=int(number("GAMESERVER_PORT", defaults.port)),
        valkey_nodes=_parse_nodes(env.get("VALKEY_NODES", "")),
        valkey_username=env.get("VALKEY_USERNAME") or None,
        valkey_password=env.get("VALKEY_PASSWORD") or None,
        valkey_tls=_flag(env.get("VALKEY_TLS"), False),
        data_dir=Path(env.get("GAMESERVER_DATA_DIR", str(defaults.data_dir))),
        valkey_port=int(number("GAMESERVER_VALKEY_PORT", defaults.valkey_port)),
        cluster_node_timeout_ms=int(
            number("GAMESERVER_CLUSTER_NODE_TIMEOUT_MS", defaults.cluster_node_timeout_ms)
        ),
        admin_key=env.get("GAMESERVER_ADMIN_KEY", ""),
        secret=secret.encode(),
        client_key=env.get("GAMESERVER_CLIENT_KEY") or None,
        config_path=Path(config) if config else None,
        auth_providers=env.get("GAMESERVER_AUTH_PROVIDERS", ""),
        dev_login=_flag(env.get("GAMESERVER_DEV_LOGIN"), False),
        session_ttl_s=int(number("GAMESERVER_SESSION_TTL_S", defaults.session_ttl_s)),
        max_frame_bytes=int(number("GAMESERVER_MAX_FRAME_BYTES", defaults.max_frame_bytes)),
        outgoing_queue_limit=int(
            number("GAMESERVER_OUTGOING_QUEUE_LIMIT", defaults.outgoing_queue_limit)
        ),
        rate_limit_per_s=number("GAMESERVER_RATE_LIMIT_PER_S", defaults.rate_limit_per_s),
        rate_limit_burst=int(number("GAMESERVER_RATE_LIMIT_BURST", defaults.rate_limit_burst)),
        wait_replicas=int(number("GAMESERVER_WAIT_REPLICAS", defaults.wait_replicas)),
        wait_timeout_ms=int(number("GAMESERVER_WAIT_TIMEOUT_MS", defaults.wait_timeout_ms)),
        rank_push_interval_s=number(
            "GAMESERVER_RANK_PUSH_INTERVAL_S", defaults.rank_push_interval_s
        ),
        top_push_interval_s=number("GAMESERVER_TOP_PUSH_INTERVAL_S", defaults.top_push_interval_s),
        demo=_flag(env.get("GAMESERVER_DEMO"), False),
        gateways=_at_least_one(int(number("GAMESERVER_GATEWAYS", defaults.gateways)), "GATEWAYS"),
    )


def _at_least_one(value: int, name: str) -> int:
    if value < 1:
        raise ValueError(f"GAMESERVER_{name} must be at least 1, not {value}")
    return value
