"""Queue statistics for operators: waiting, oldest wait, matches, wait percentiles, fairness."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from domain.matchmaking.ticket_store import TicketStore


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100.0 * len(ordered)))
    return ordered[rank - 1]


async def queue_stats(tickets: TicketStore, now: float) -> list[dict[str, Any]]:
    queues = await tickets.queues()
    partitions = await tickets.partitions()
    by_queue: dict[str, list[str]] = {name: [] for name in queues}
    for code, (queue, _) in partitions.items():
        by_queue.setdefault(queue, []).append(code)
    rows = {s.code: s for s in await tickets.partition_stats(list(partitions))}
    out: list[dict[str, Any]] = []
    for name in sorted(queues):
        parts = [rows[c] for c in by_queue[name]]
        oldest = [p.oldest_created_s for p in parts if p.oldest_created_s is not None]
        waits = [w for p in parts for w in p.waits_s]
        matches = sum(p.matches for p in parts)
        config = queues[name]
        out.append(
            {
                "queue": name,
                "team_size": config.team_size,
                "teams": config.teams,
                "max_players": config.max_players,
                "partitions": len(parts),
                "waiting": sum(p.waiting for p in parts),
                "oldest_wait_s": max(0.0, now - min(oldest)) if oldest else None,
                "matches": matches,
                "cancelled": sum(p.cancelled for p in parts),
                "expired": sum(p.expired for p in parts),
                "allocator_failures": sum(p.allocator_failures for p in parts),
                # Tickets added to running matches by backfills.
                "backfilled": sum(p.backfilled for p in parts),
                "wait_p50_s": percentile(waits, 50),
                "wait_p95_s": percentile(waits, 95),
                # Mean |P(win) - 0.5| over all matches made (for n teams: max |p - 1/n|).
                "mean_win_gap": sum(p.gap_sum for p in parts) / matches if matches else None,
            }
        )
    return out
