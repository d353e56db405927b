"""Messages between gateways: replace or kick a session, deliver an event to players.

Each gateway listens on its own channel (named by the sessions store); whoever needs to
reach a player's socket looks up the player's gateway and publishes there.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import orjson

from domain.sessions.service import SessionService
from domain.sessions.store import gateway_channel
from gameserver.errors import CLOSE_KICKED, CLOSE_REPLACED
from gameserver.gateway.registry import ConnectionRegistry
from gameserver.metrics import Metrics
from gameserver.push.events import push_event
from gameserver.push.hub import PushHub

log = logging.getLogger(__name__)

_REPLACED = "replaced"
_KICKED = "kicked"
_EVENT = "event"
_EVENTS = "events"


def encode_session_end(kind: str, player_id: str, session_id: str) -> bytes:
    return orjson.dumps({"k": kind, "p": player_id, "s": session_id})


def encode_event(player_ids: Sequence[str], event: dict[str, Any]) -> bytes:
    return orjson.dumps({"k": _EVENT, "ps": list(player_ids), "e": event})


def _stamped(event: dict[str, Any]) -> dict[str, Any]:
    """Every push carries the server time `ts` (Unix ms): the sender's where it set one
    (matchmaking's), else this gateway's as it delivers (parties, period ends)."""
    if "ts" in event:
        return event
    return {**event, "ts": int(time.time() * 1000)}


class PlayerMessenger:
    """Reaches players' sockets on whichever gateway holds them."""

    def __init__(self, sessions: SessionService) -> None:
        self._sessions = sessions

    async def session_replaced(self, gateway_id: str, player_id: str, session_id: str) -> None:
        message = encode_session_end(_REPLACED, player_id, session_id)
        await self._sessions.publish_to_gateway(gateway_id, message)

    async def session_kicked(self, gateway_id: str, player_id: str, session_id: str) -> None:
        message = encode_session_end(_KICKED, player_id, session_id)
        await self._sessions.publish_to_gateway(gateway_id, message)

    async def push(self, player_ids: Iterable[str], event: dict[str, Any]) -> None:
        """One message per gateway that holds any of the players, not one per player."""
        by_gateway: dict[str, list[str]] = {}
        for player_id, gateway_id in (await self._sessions.gateways_of(list(player_ids))).items():
            by_gateway.setdefault(gateway_id, []).append(player_id)
        for gateway_id, players in by_gateway.items():
            await self._sessions.publish_to_gateway(gateway_id, encode_event(players, event))

    async def push_each(self, events: Mapping[str, dict[str, Any]]) -> None:
        """A different event for each player (who is online); one message per gateway."""
        by_gateway: dict[str, dict[str, dict[str, Any]]] = {}
        for player_id, gateway_id in (await self._sessions.gateways_of(list(events))).items():
            by_gateway.setdefault(gateway_id, {})[player_id] = events[player_id]
        for gateway_id, each in by_gateway.items():
            message = orjson.dumps({"k": _EVENTS, "es": each})
            await self._sessions.publish_to_gateway(gateway_id, message)


class GatewayInbox:
    """Acts on the messages other processes send to this gateway."""

    def __init__(
        self, gateway_id: str, registry: ConnectionRegistry, hub: PushHub, metrics: Metrics
    ) -> None:
        self._gateway_id = gateway_id
        self._registry = registry
        self._hub = hub
        self._metrics = metrics

    async def start(self) -> None:
        await self._hub.listen(gateway_channel(self._gateway_id), self.handle)

    def handle(self, data: bytes) -> None:
        message = orjson.loads(data)
        kind = message.get("k")
        if kind == _EVENT:
            event = _stamped(message["e"])
            payload = orjson.dumps(event)
            for player_id in message["ps"]:
                if self._registry.deliver(player_id, payload):
                    self._metrics.count_push(event.get("event", "?"))
        elif kind == _EVENTS:
            for player_id, event in message["es"].items():
                event = _stamped(event)
                if self._registry.deliver(player_id, orjson.dumps(event)):
                    self._metrics.count_push(event.get("event", "?"))
        elif kind in (_REPLACED, _KICKED):
            self.end_local_session(kind, message["p"], message["s"])
        else:
            log.warning("unknown gateway message kind %r", kind)

    def end_local_session(self, kind: str, player_id: str, session_id: str) -> None:
        connection = self._registry.get(player_id)
        if connection is None or connection.session_id != session_id:
            return
        if kind == _REPLACED:
            connection.send(push_event("session.replaced"))
            connection.close(CLOSE_REPLACED)
        else:
            connection.send(push_event("session.kicked"))
            connection.close(CLOSE_KICKED)
        self._registry.remove(connection)
