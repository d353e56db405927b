"""Keeps the sessions of open sockets alive, and catches sessions ended elsewhere."""

from __future__ import annotations

import asyncio
import logging

from gameserver.errors import CLOSE_KICKED, CLOSE_REPLACED
from gameserver.push.events import push_event
from gameserver.services import Services

log = logging.getLogger(__name__)

_BATCH = 500


async def refresh_open_sessions(services: Services) -> None:
    """One pass: touch every open socket's session; close those replaced or ended.

    Control messages normally close those sockets at once; this pass is the backstop if a
    message was lost (pub/sub is at-most-once, e.g. during a failover).
    """
    connections = [c for c in services.registry if not c.closing]
    for start in range(0, len(connections), _BATCH):
        batch = connections[start : start + _BATCH]
        outcomes = await services.sessions.touch_many([(c.player_id, c.session_id) for c in batch])
        for connection, outcome in zip(batch, outcomes, strict=True):
            if outcome == 0:
                connection.send(push_event("session.replaced"))
                connection.close(CLOSE_REPLACED)
            elif outcome < 0:
                connection.send(push_event("session.kicked"))
                connection.close(CLOSE_KICKED)


async def keep_sessions_alive(services: Services, stop: asyncio.Event) -> None:
    # Three refreshes per TTL leave room for one slow or failed round.
    interval = max(0.5, services.settings.session_ttl_s / 3)
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), timeout=interval)
            return
        except TimeoutError:
            pass
        try:
            await refresh_open_sessions(services)
        except Exception:
            log.warning("session refresh failed; retrying next round", exc_info=True)
