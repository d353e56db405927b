"""Why a process is not ready: the gateway's and the worker's `/readyz`."""

from __future__ import annotations

import asyncio

from domain.matchmaking.service import MatchmakingService
from gameserver.valkey_client import cluster_problem

_CHECK_TIMEOUT_S = 2.0

__all__ = ["cluster_problem", "worker_problem"]


async def worker_problem(matchmaking: MatchmakingService, bound_s: float) -> str | None:
    """None when a matchmaking worker beat its heartbeat within `bound_s` (0: not asked)."""
    if bound_s <= 0:
        return None
    try:
        age = await asyncio.wait_for(matchmaking.worker_heartbeat_age(), _CHECK_TIMEOUT_S)
    except Exception as exc:
        return f"the matchmaking workers' heartbeats are unreadable ({type(exc).__name__})"
    if age is None:
        return "no matchmaking worker has beaten its heartbeat"
    if age > bound_s:
        return f"no matchmaking worker has beaten its heartbeat for {age:.1f} s"
    return None
