"""Why a process is not ready: the gateway's and the worker's `/readyz`."""

from __future__ import annotations

import asyncio

from valkey.asyncio.cluster import ValkeyCluster

from domain.matchmaking.service import MatchmakingService
from gameserver.valkey_client import CLUSTER_SLOTS, cluster_info_fields

_CHECK_TIMEOUT_S = 2.0


async def cluster_problem(client: ValkeyCluster) -> str | None:
    """None when every primary answers and says all slots are assigned, served and ok;
    else why not (a shard without a primary, slots not covered, a node not answering)."""
    primaries = client.get_primaries()
    if not primaries:
        return "no Valkey primary is known"
    try:
        infos = await asyncio.wait_for(
            asyncio.gather(
                *(client.execute_command("CLUSTER INFO", target_nodes=n) for n in primaries)
            ),
            _CHECK_TIMEOUT_S,
        )
    except Exception as exc:  # any failure to answer means not ready
        return f"a Valkey primary does not answer ({type(exc).__name__})"
    for node, info in zip(primaries, infos, strict=True):
        fields = cluster_info_fields(info)
        state = fields.get("cluster_state")
        if state != "ok":
            return f"Valkey node {node.name} reports cluster_state:{state}"
        slots_ok = int(fields.get("cluster_slots_ok", "0"))
        if slots_ok != CLUSTER_SLOTS:
            return f"Valkey node {node.name} sees {slots_ok} of {CLUSTER_SLOTS} slots served"
    return None


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
