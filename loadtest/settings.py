"""The load test's own options: Locust command-line flags, each also an environment variable.

Every option has a `--gs-...` flag and a `GS_...` variable (or the server's own variable
for keys), so the same values work headless, in the web UI, in `locust.conf` and in the
deploy manifests. Workers receive the master's values with each spawn message.
"""

from __future__ import annotations

from argparse import Namespace
from dataclasses import dataclass
from typing import Any

# The three regions players come from, with their share of players.
DEFAULT_REGIONS = "eu:0.4,us:0.35,ap:0.25"
# Relative weights of the concrete player classes (keys are their `mix_key`).
DEFAULT_MIX = "leaderboard:6,duel:3,casual:1"


@dataclass(frozen=True)
class LoadSettings:
    admin_key: str = ""
    client_key: str = ""
    regions: tuple[tuple[str, float], ...] = (("eu", 0.4), ("us", 0.35), ("ap", 0.25))
    mix: tuple[tuple[str, float], ...] = (("leaderboard", 6.0), ("duel", 3.0), ("casual", 1.0))
    admin_users: int = 1
    boards: tuple[str, ...] = ("global", "weekly")
    queue: str = "duel"
    think_min_s: float = 0.5
    think_max_s: float = 2.0
    call_timeout_s: float = 5.0
    match_timeout_s: float = 30.0
    match_play_s: float = 2.0
    subscribe_top: int = 10
    # "auto": probe the server once per process and disable tasks whose ops it lacks;
    # "all": run every task, so a missing op shows up as failures.
    ops: str = "auto"
    player_prefix: str = "lt"
    # Thresholds that make the exit code non-zero (None: not checked).
    max_fail_ratio: float | None = None
    max_p95_ms: float | None = None
    max_push_p95_ms: float | None = None


def parse_weights(raw: str) -> tuple[tuple[str, float], ...]:
    """`"eu:0.4,us:0.35"` -> `(("eu", 0.4), ("us", 0.35))`; a bare name weighs 1."""
    pairs: list[tuple[str, float]] = []
    for part in raw.split(","):
        part = part.strip()
        if not part:
            continue
        name, _, weight = part.partition(":")
        value = float(weight) if weight else 1.0
        if value < 0:
            raise ValueError(f"weight of {name!r} must not be negative")
        pairs.append((name.strip(), value))
    if not pairs:
        raise ValueError(f"no weights in {raw!r}")
    return tuple(pairs)


def _optional_float(raw: Any) -> float | None:
    if raw is None or raw == "":
        return None
    return float(raw)


def add_arguments(parser: Any) -> None:
    """Register the `--gs-*` flags on Locust's (configargparse) parser."""

    def option(flag: str, env: str, default: Any, help: str, **extra: Any) -> None:
        # Locust's own add_argument (not a group's): it knows is_secret and the web UI.
        parser.add_argument(flag, env_var=env, default=default, help=help, **extra)

    option("--gs-admin-key", "GAMESERVER_ADMIN_KEY", "", "admin bearer key", is_secret=True)
    option(
        "--gs-client-key",
        "GAMESERVER_CLIENT_KEY",
        "",
        "client key for POST /v1/sessions",
        is_secret=True,
    )
    option("--gs-regions", "GS_REGIONS", DEFAULT_REGIONS, "regions and their share of players")
    option("--gs-mix", "GS_MIX", DEFAULT_MIX, "weights of the player classes")
    option(
        "--gs-admin-users", "GS_ADMIN_USERS", 1, "trusted game servers (one per process)", type=int
    )
    option("--gs-boards", "GS_BOARDS", "global,weekly", "boards players submit to")
    option("--gs-queue", "GS_QUEUE", "duel", "matchmaking queue duel players join")
    option("--gs-think", "GS_THINK", "0.5:2.0", "min:max seconds between a player's actions")
    option("--gs-call-timeout", "GS_CALL_TIMEOUT", 5.0, "seconds until a call fails", type=float)
    option(
        "--gs-match-timeout",
        "GS_MATCH_TIMEOUT",
        30.0,
        "seconds to wait for match.found",
        type=float,
    )
    option("--gs-match-play", "GS_MATCH_PLAY", 2.0, "seconds a duel lasts", type=float)
    option(
        "--gs-subscribe-top", "GS_SUBSCRIBE_TOP", 10, "top entries a subscription follows", type=int
    )
    option(
        "--gs-ops",
        "GS_OPS",
        "auto",
        "auto: skip ops the server lacks; all: run them all",
        choices=["auto", "all"],
    )
    option("--gs-player-prefix", "GS_PLAYER_PREFIX", "lt", "prefix of generated player ids")
    option("--gs-shape", "GS_SHAPE", "", "stages users@rate/seconds of loadtest/shapes.py")
    option("--gs-max-fail-ratio", "GS_MAX_FAIL_RATIO", None, "exit 1 above this failure ratio")
    option("--gs-max-p95-ms", "GS_MAX_P95_MS", None, "exit 1 above this p95 of all calls")
    option("--gs-max-push-p95-ms", "GS_MAX_PUSH_P95_MS", None, "exit 1 above this push lag p95")


def settings_from_options(options: Namespace | None) -> LoadSettings:
    """Settings from Locust's parsed options (defaults when run without the CLI)."""
    if options is None or not hasattr(options, "gs_mix"):
        return LoadSettings()
    think_min, _, think_max = str(options.gs_think).partition(":")
    return LoadSettings(
        admin_key=options.gs_admin_key or "",
        client_key=options.gs_client_key or "",
        regions=parse_weights(options.gs_regions),
        mix=parse_weights(options.gs_mix),
        admin_users=int(options.gs_admin_users),
        boards=tuple(b.strip() for b in str(options.gs_boards).split(",") if b.strip()),
        queue=options.gs_queue,
        think_min_s=float(think_min),
        think_max_s=float(think_max or think_min),
        call_timeout_s=float(options.gs_call_timeout),
        match_timeout_s=float(options.gs_match_timeout),
        match_play_s=float(options.gs_match_play),
        subscribe_top=int(options.gs_subscribe_top),
        ops=options.gs_ops,
        player_prefix=options.gs_player_prefix,
        max_fail_ratio=_optional_float(options.gs_max_fail_ratio),
        max_p95_ms=_optional_float(options.gs_max_p95_ms),
        max_push_p95_ms=_optional_float(options.gs_max_push_p95_ms),
    )
