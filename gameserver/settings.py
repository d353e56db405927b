"""One frozen settings object, read once from the environment and command-line flags."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from domain.storage.shard_calls import DURABILITY_CLASSES, WritePolicy, durability_policy

# The write classes that each take a durability class (docs/durability.md): scores and
# board changes, sessions, matchmaking (tickets, matches, results and ratings),
# accounts and credentials, parties.
WRITE_CLASSES = ("scores", "sessions", "matches", "accounts", "parties")
DEFAULT_DURABILITY = {name: "replicated" for name in WRITE_CLASSES}


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


def _list(raw: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (raw or "").split(",") if part.strip())


def _networks(raw: str | None) -> tuple[str, ...]:
    networks = _list(raw)
    for network in networks:
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError:
            raise ValueError(
                f"GAMESERVER_TRUSTED_PROXIES entry {network!r} is not an address or network"
            ) from None
    return networks


def _flag(raw: str | None, default: bool) -> bool:
    if raw is None or raw == "":
        return default
    return raw.strip().lower() in ("1", "true", "yes", "on")


def _path(raw: str | None) -> Path | None:
    return Path(raw) if raw else None


@dataclass(frozen=True)
class Settings:
    # Where the gateway listens.
    host: str = "127.0.0.1"
    port: int = 8000
    # With both, the listeners speak https and wss with this certificate.
    certfile: Path | None = None
    keyfile: Path | None = None
    # With it, the admin API and /metrics are served only on this second port.
    admin_port: int | None = None
    # With it, this process alone also serves /healthz, /readyz and /metrics here (the game
    # and admin ports may be shared by several gateway processes: `up --gateways N`).
    metrics_port: int | None = None

    # The Valkey cluster: seeds plus credentials (docs/protocol.md).
    valkey_nodes: tuple[tuple[str, int], ...] = ()
    valkey_username: str | None = None
    valkey_password: str | None = None
    valkey_tls: bool = False
    # With TLS: the CA that signed the nodes' certificates (default: the system's), and
    # this client's certificate and key where the cluster asks for one (tls-auth-clients).
    valkey_tls_ca: Path | None = None
    valkey_tls_cert: Path | None = None
    valkey_tls_key: Path | None = None
    # Per-command socket timeout and the retry window that covers a primary failover
    # (docs/baselines.md: a promoted replica is writable again after ~2.9 s).
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
    # Abuse limits (docs/security.md). Logins per client address, over
    # the whole cluster.
    login_rate_per_s: float = 10.0
    login_burst: int = 50
    # Proxies (addresses or networks) whose X-Forwarded-For names the client's address.
    trusted_proxies: tuple[str, ...] = ()
    # Open game sockets per client address on one gateway process; 0 turns the cap off.
    max_sockets_per_address: int = 1024
    # Admin push sockets per client address on one gateway process that have not sent
    # the admin key yet (each may wait 10 s for it); 0 turns the cap off.
    max_admin_sockets_awaiting_key_per_address: int = 8
    # A socket refused messages for its rate without a pause of a second for this long
    # is closed with 1008.
    rate_limit_close_after_s: float = 5.0
    # Origins allowed to open the game socket; empty allows every origin.
    allowed_origins: tuple[str, ...] = ()
    # HTTP request bodies, refused with 413 beyond this size before they are read.
    max_body_bytes: int = 64 * 1024
    # A connection must send a request's headers within this time; an idle keep-alive
    # connection is closed after idle_timeout_s.
    header_timeout_s: float = 10.0
    idle_timeout_s: int = 5
    # The game socket's keepalive: a ping every interval, closed (1011) without a pong.
    ws_ping_interval_s: float = 20.0
    ws_ping_timeout_s: float = 20.0
    # Wrong admin keys per address and gateway process: a burst, then this many a minute.
    admin_failures_per_min: float = 6.0
    admin_failure_burst: int = 10

    # Durability: a write is acknowledged only once this many replicas hold it.
    wait_replicas: int = 1
    wait_timeout_ms: int = 1000
    # Durability class per write class (docs/durability.md): "fast" (no wait),
    # "replicated" (WAIT for `wait_replicas`) or "fsync" (WAITAOF: fsynced to the AOF of
    # the primary and of `wait_replicas` replicas). GAMESERVER_DURABILITY_<CLASS>.
    durability: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_DURABILITY))

    # Matchmaking: how long the worker waits for a queue's allocator (docs/matchmaking.md).
    allocator_timeout_s: float = 2.0

    # Push coalescing (docs/protocol.md).
    rank_push_interval_s: float = 0.1
    top_push_interval_s: float = 0.1

    # Period ends (docs/leaderboards.md): how often the worker looks for ended periods and
    # due jobs, how long it holds a job, and the webhook's timeout and retry backoff
    # (doubling from `webhook_backoff_s` up to `webhook_backoff_max_s`). Webhooks are
    # signed with `webhook_secret`, or with the admin key when it is empty.
    period_check_s: float = 1.0
    period_lease_s: float = 30.0
    webhook_timeout_s: float = 10.0
    webhook_backoff_s: float = 1.0
    webhook_backoff_max_s: float = 300.0
    webhook_secret: str = ""

    # Identifies this gateway process for cross-gateway messages; set at start-up.
    gateway_id: str = ""
    # Gateway processes `gameserver up` runs on its port (one Python process uses one
    # core; the kernel spreads connections over them with SO_REUSEPORT).
    gateways: int = 1

    # The demo page at /demo (`gameserver up --demo`); off by default.
    demo: bool = False

    # /readyz fails when no matchmaking worker has beaten its heartbeat for this long
    # (0: readiness does not ask for a worker).
    worker_heartbeat_s: float = 10.0
    # `gameserver up` restarts a dead process after this delay, doubled at each death in a
    # row up to the cap; a process that ran `restart_stable_s` starts again from the delay.
    restart_backoff_s: float = 1.0
    restart_backoff_max_s: float = 30.0
    restart_stable_s: float = 30.0
    # How the gateways and worker `up` starts learn of its death: "both" (a parent-death
    # signal on Linux and the watchdog pipe), "signal" or "pipe". Nodes: the signal.
    parent_death: str = "both"
    # `gameserver up` runs `cluster prune-functions` this often (0: never), deleting the
    # function library versions no process has heartbeated for ten minutes.
    prune_functions_s: float = 3600.0

    def write_policy(self, write_class: str = "") -> WritePolicy:
        """How the stores of a write class (WRITE_CLASSES) confirm acknowledged writes;
        without a class, the `replicated` policy."""
        name = self.durability.get(write_class, "replicated") if write_class else "replicated"
        return durability_policy(
            name, self.wait_replicas, self.wait_timeout_ms, self.valkey_failover_window_s
        )

    def with_overrides(self, **changes: Any) -> Settings:
        """A copy with the given fields replaced; `None` values are ignored."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


def settings_from_env(env: Mapping[str, str] | None = None) -> Settings:
    """Settings from the environment (docs/protocol.md plus GAMESERVER_* tuning)."""
    env = os.environ if env is None else env
    defaults = Settings()

    def number(name: str, default: float) -> float:
        raw = env.get(name)
        return default if raw in (None, "") else float(raw)

    secret = env.get("GAMESERVER_SECRET", "")
    config = env.get("GAMESERVER_CONFIG")
    admin_port = env.get("GAMESERVER_ADMIN_PORT")
    metrics_port = env.get("GAMESERVER_METRICS_PORT")
    certfile, keyfile = env.get("GAMESERVER_CERTFILE"), env.get("GAMESERVER_KEYFILE")
    return Settings(
        host=env.get("GAMESERVER_HOST", defaults.host),
        port=int(number("GAMESERVER_PORT", defaults.port)),
        certfile=Path(certfile) if certfile else None,
        keyfile=Path(keyfile) if keyfile else None,
        admin_port=int(admin_port) if admin_port else None,
        metrics_port=int(metrics_port) if metrics_port else None,
        login_rate_per_s=number("GAMESERVER_LOGIN_RATE_PER_S", defaults.login_rate_per_s),
        login_burst=int(number("GAMESERVER_LOGIN_BURST", defaults.login_burst)),
        trusted_proxies=_networks(env.get("GAMESERVER_TRUSTED_PROXIES")),
        max_sockets_per_address=int(
            number("GAMESERVER_MAX_SOCKETS_PER_ADDRESS", defaults.max_sockets_per_address)
        ),
        max_admin_sockets_awaiting_key_per_address=int(
            number(
                "GAMESERVER_MAX_ADMIN_SOCKETS_AWAITING_KEY_PER_ADDRESS",
                defaults.max_admin_sockets_awaiting_key_per_address,
            )
        ),
        rate_limit_close_after_s=number(
            "GAMESERVER_RATE_LIMIT_CLOSE_AFTER_S", defaults.rate_limit_close_after_s
        ),
        allowed_origins=_list(env.get("GAMESERVER_ALLOWED_ORIGINS")),
        max_body_bytes=int(number("GAMESERVER_MAX_BODY_BYTES", defaults.max_body_bytes)),
        header_timeout_s=number("GAMESERVER_HEADER_TIMEOUT_S", defaults.header_timeout_s),
        idle_timeout_s=int(number("GAMESERVER_IDLE_TIMEOUT_S", defaults.idle_timeout_s)),
        ws_ping_interval_s=number("GAMESERVER_WS_PING_INTERVAL_S", defaults.ws_ping_interval_s),
        ws_ping_timeout_s=number("GAMESERVER_WS_PING_TIMEOUT_S", defaults.ws_ping_timeout_s),
        admin_failures_per_min=number(
            "GAMESERVER_ADMIN_FAILURES_PER_MIN", defaults.admin_failures_per_min
        ),
        admin_failure_burst=int(
            number("GAMESERVER_ADMIN_FAILURE_BURST", defaults.admin_failure_burst)
        ),
        valkey_nodes=_parse_nodes(env.get("VALKEY_NODES", "")),
        valkey_username=env.get("VALKEY_USERNAME") or None,
        valkey_password=env.get("VALKEY_PASSWORD") or None,
        valkey_tls=_flag(env.get("VALKEY_TLS"), False),
        valkey_tls_ca=_path(env.get("VALKEY_TLS_CA")),
        valkey_tls_cert=_path(env.get("VALKEY_TLS_CERT")),
        valkey_tls_key=_path(env.get("VALKEY_TLS_KEY")),
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
        durability=durability_from_env(env),
        allocator_timeout_s=number("GAMESERVER_ALLOCATOR_TIMEOUT_S", defaults.allocator_timeout_s),
        rank_push_interval_s=number(
            "GAMESERVER_RANK_PUSH_INTERVAL_S", defaults.rank_push_interval_s
        ),
        top_push_interval_s=number("GAMESERVER_TOP_PUSH_INTERVAL_S", defaults.top_push_interval_s),
        period_check_s=number("GAMESERVER_PERIOD_CHECK_S", defaults.period_check_s),
        period_lease_s=number("GAMESERVER_PERIOD_LEASE_S", defaults.period_lease_s),
        webhook_timeout_s=number("GAMESERVER_WEBHOOK_TIMEOUT_S", defaults.webhook_timeout_s),
        webhook_backoff_s=number("GAMESERVER_WEBHOOK_BACKOFF_S", defaults.webhook_backoff_s),
        webhook_backoff_max_s=number(
            "GAMESERVER_WEBHOOK_BACKOFF_MAX_S", defaults.webhook_backoff_max_s
        ),
        webhook_secret=env.get("GAMESERVER_WEBHOOK_SECRET", ""),
        demo=_flag(env.get("GAMESERVER_DEMO"), False),
        gateways=_at_least_one(int(number("GAMESERVER_GATEWAYS", defaults.gateways)), "GATEWAYS"),
        worker_heartbeat_s=number("GAMESERVER_WORKER_HEARTBEAT_S", defaults.worker_heartbeat_s),
        restart_backoff_s=number("GAMESERVER_RESTART_BACKOFF_S", defaults.restart_backoff_s),
        restart_backoff_max_s=number(
            "GAMESERVER_RESTART_BACKOFF_MAX_S", defaults.restart_backoff_max_s
        ),
        restart_stable_s=number("GAMESERVER_RESTART_STABLE_S", defaults.restart_stable_s),
        parent_death=_parent_death(env.get("GAMESERVER_PARENT_DEATH") or defaults.parent_death),
        prune_functions_s=number("GAMESERVER_PRUNE_FUNCTIONS_S", defaults.prune_functions_s),
    )


def _parent_death(value: str) -> str:
    if value not in ("both", "signal", "pipe"):
        raise ValueError(f"GAMESERVER_PARENT_DEATH is both, signal or pipe, not {value!r}")
    return value


def _at_least_one(value: int, name: str) -> int:
    if value < 1:
        raise ValueError(f"GAMESERVER_{name} must be at least 1, not {value}")
    return value


def durability_from_env(env: Mapping[str, str]) -> dict[str, str]:
    """GAMESERVER_DURABILITY_<CLASS>=fast|replicated|fsync per write class."""
    chosen = dict(DEFAULT_DURABILITY)
    for write_class in WRITE_CLASSES:
        name = f"GAMESERVER_DURABILITY_{write_class.upper()}"
        raw = env.get(name, "").strip().lower()
        if not raw:
            continue
        if raw not in DURABILITY_CLASSES:
            raise ValueError(f"{name}={raw!r}: choose one of {', '.join(DURABILITY_CLASSES)}")
        chosen[write_class] = raw
    return chosen
