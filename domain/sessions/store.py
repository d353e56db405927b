"""The Valkey side of sessions: every key, channel and function of the feature lives here.

Every call goes through the process's one storage object (domain/storage/shard_calls.py):
the writes run a function of sessions.lua through its typed request and reply
(functions.py), the reads are plain reads. The writes a client is told succeeded
(`create`: the login's 201; `set_values`; `end`: the admin kick) are confirmed by WAIT
on the same connection before they return; a WAIT that falls short raises
`Unconfirmed`. `touch`, `attach` and `detach` only extend or annotate a session and go
without WAIT.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from importlib import resources
from typing import Any

import orjson

from domain.sessions.functions import (
    Attach,
    Attached,
    Create,
    Detach,
    Detached,
    End,
    Ended,
    SetValues,
    Touch,
    Touched,
    ValuesSet,
)
from domain.sessions.models import GatewayFigures, Session
from domain.storage.batch_reads import which_exist
from domain.storage.library_store import NO_WAIT, LibraryStore
from domain.storage.resp import text
from domain.storage.shard_calls import DEFAULT_WRITES, Call, ShardCaller, WritePolicy

# The player id is the hash tag, so everything about one player's session sits in one slot.
_SESSION_KEY = "sess:{{{player}}}"
# Each gateway listens on its own sharded channel for control messages and pushes.
_GATEWAY_CHANNEL = "gw:{{{gateway}}}"
_VALUE_PREFIX = "v:"
# Each gateway process's own figures, one hash field per gateway that expires unless the
# gateway renews it (HSETEX): the admin API sums the fields still there. Never a session
# key: those are `sess:{player}`.
_GATEWAY_FIGURES_KEY = "sess:gateways:{figures}"

LIBRARY_CODE = resources.files("domain.sessions").joinpath("sessions.lua").read_text()


def session_key(player_id: str) -> str:
    return _SESSION_KEY.format(player=player_id)


def gateway_channel(gateway_id: str) -> str:
    return _GATEWAY_CHANNEL.format(gateway=gateway_id)


class SessionStore(LibraryStore):
    def __init__(self, storage: ShardCaller, *, writes: WritePolicy = DEFAULT_WRITES) -> None:
        super().__init__(storage, LIBRARY_CODE, writes)

    async def create(
        self, player_id: str, session_id: str, region: str | None, created: float, ttl_ms: int
    ) -> tuple[str, str | None] | None:
        """Store a new session, ending any other; returns the old (session id, gateway)."""
        request = Create(session_key(player_id), session_id, region or "", created, ttl_ms)
        # Not idempotent: a second run would report the first run's session as replaced.
        old = Ended.decode(await self._write(request, idempotent=False))
        return None if old is None else (old.sid, old.gateway)

    async def attach(
        self, player_id: str, session_id: str, gateway_id: str, ttl_ms: int
    ) -> tuple[Session, dict[str, Any]] | None:
        request = Attach(session_key(player_id), session_id, gateway_id, ttl_ms)
        attached = Attached.decode(await self._write(request, idempotent=True, wait=NO_WAIT))
        return None if attached is None else self._parse(player_id, attached.fields)

    async def touch(self, player_id: str, session_id: str, ttl_ms: int) -> int:
        """1 if refreshed, 0 if another session replaced it, -1 if it is gone."""
        request = Touch(session_key(player_id), session_id, ttl_ms)
        return Touched.decode(await self._write(request, idempotent=True, wait=NO_WAIT))

    async def touch_many(self, sessions: Sequence[tuple[str, str]], ttl_ms: int) -> list[int]:
        """`touch` for many sessions in one pipelined round per node."""
        if not sessions:
            return []
        calls = [Touch(session_key(p), s, ttl_ms).call() for p, s in sessions]
        # Idempotent and never waited for: safe to send and retry the way reads are.
        return [Touched.decode(r) for r in await self._caller.read(calls)]

    async def detach(self, player_id: str, session_id: str, gateway_id: str, ttl_ms: int) -> None:
        request = Detach(session_key(player_id), session_id, gateway_id, ttl_ms)
        Detached.decode(await self._write(request, idempotent=True, wait=NO_WAIT))

    async def gateways_of(self, player_ids: Sequence[str]) -> dict[str, str]:
        """The gateway holding each player's socket, for players that have one open."""
        ids = list(dict.fromkeys(player_ids))
        if not ids:
            return {}
        keys = [session_key(player_id) for player_id in ids]
        found = await self._caller.read([Call(key, ("HGET", key, "gw")) for key in keys])
        return {pid: text(gw) for pid, gw in zip(ids, found, strict=True) if gw}

    async def set_values(
        self, player_id: str, session_id: str, values: dict[str, bytes], ttl_ms: int, max_bytes: int
    ) -> int:
        """1 on success, -1 if the session is gone, -2 if the total would exceed `max_bytes`."""
        fields = {_VALUE_PREFIX + key: encoded for key, encoded in values.items()}
        request = SetValues(session_key(player_id), session_id, ttl_ms, max_bytes, fields)
        # Not retried after an unknown outcome: it could overwrite a later set of the same key.
        return ValuesSet.decode(await self._write(request, idempotent=False))

    async def end(self, player_id: str, session_id: str = "") -> tuple[str, str | None] | None:
        request = End(session_key(player_id), session_id)
        # Not idempotent: a second run would find nothing to end and say so.
        ended = Ended.decode(await self._write(request, idempotent=False))
        return None if ended is None else (ended.sid, ended.gateway)

    async def get(self, player_id: str) -> tuple[Session, dict[str, Any]] | None:
        key = session_key(player_id)
        fields = await self._caller.read_one(key, "HGETALL", key)
        if not fields:
            return None
        return self._parse(player_id, {text(k): v for k, v in fields.items()})

    async def live_players(self, player_ids: Iterable[str]) -> set[str]:
        return await which_exist(self._caller, player_ids, session_key)

    async def report_gateway(self, figures: GatewayFigures, ttl_ms: int) -> None:
        """Write this gateway's figures, kept `ttl_ms` unless reported again. Not
        confirmed by WAIT: a report lost in a failover is repeated by the next one."""
        key = _GATEWAY_FIGURES_KEY
        value = orjson.dumps(
            [figures.sessions_online, figures.logins_last_minute, figures.reported_at]
        )
        command = ("HSETEX", key, "PX", ttl_ms, "FIELDS", 1, figures.gateway_id, value)
        await self._caller.write(Call(key, command), *NO_WAIT, idempotent=True)

    async def forget_gateway(self, gateway_id: str) -> None:
        key = _GATEWAY_FIGURES_KEY
        await self._caller.write(Call(key, ("HDEL", key, gateway_id)), *NO_WAIT, idempotent=True)

    async def gateway_reports(self) -> list[GatewayFigures]:
        """The figures of every gateway whose report has not expired."""
        key = _GATEWAY_FIGURES_KEY
        fields = await self._caller.read_one(key, "HGETALL", key)
        reports = []
        for gateway_id, raw in (fields or {}).items():
            sessions, logins, reported_at = orjson.loads(raw)
            reports.append(GatewayFigures(text(gateway_id), sessions, logins, reported_at))
        return sorted(reports, key=lambda report: report.gateway_id)

    async def publish_to_gateway(self, gateway_id: str, message: bytes) -> None:
        await self._caller.publish(gateway_channel(gateway_id), message)

    @staticmethod
    def _parse(player_id: str, raw: dict[str, Any]) -> tuple[Session, dict[str, Any]]:
        values = {
            k[len(_VALUE_PREFIX) :]: orjson.loads(v)
            for k, v in raw.items()
            if k.startswith(_VALUE_PREFIX)
        }
        session = Session(
            player_id=player_id,
            session_id=text(raw.get("sid", b"")),
            region=text(raw.get("region", b"")) or None,
            created_at=float(text(raw.get("created", b"0"))),
            gateway_id=text(raw.get("gw", b"")) or None,
        )
        return session, values
