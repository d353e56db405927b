"""The board registry in Valkey, so every gateway sees the same boards; read through a
cache (`BoardConfigs` in caches.py: a board is kept for `ttl_s`)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from domain.leaderboards import keys
from domain.leaderboards.caches import BoardConfigs
from domain.leaderboards.functions import (
    BoardCreate,
    BoardCreated,
    BoardDelete,
    BoardDeleted,
    BoardReset,
    BoardResetReply,
)
from domain.leaderboards.models import RULE_FIELDS, Board, BoardConfig
from domain.storage.auto_pipeline import Wait
from domain.storage.shard_calls import Call, ShardCaller

_INT_FIELDS = ("sub_boards", "buckets", "retention_s")
_OPTIONAL_INT_FIELDS = ("on_period_end_top",)
_TEXT_FIELDS = ("on_period_end",)
_FLAG_FIELDS = ("client_writes", "join_required")
_NUMBER_FIELDS = tuple(name for name in RULE_FIELDS if name not in _FLAG_FIELDS)


class BoardRegistry:
    def __init__(self, caller: ShardCaller, wait: Wait, ttl_s: float = 1.0) -> None:
        self._caller = caller
        self._wait = wait
        self._cache = BoardConfigs(ttl_s)
        # Reads of a board's config under way: every request that finds the cached copy
        # expired waits for the same one (dozens at once under load, every `ttl_s`).
        self._loading: dict[str, asyncio.Future[Board | None]] = {}

    async def get(self, name: str) -> Board | None:
        """The board named `name`, from the cache when fresh."""
        cached = self._cache.get(name)
        if cached is not None:
            return cached[0]
        loading = self._loading.get(name)
        if loading is None:
            loading = asyncio.ensure_future(self.load(name))
            self._loading[name] = loading
            loading.add_done_callback(lambda done: self._loaded(name, done))
        # One caller cancelled must not cancel the read the others wait for.
        return await asyncio.shield(loading)

    def _loaded(self, name: str, done: asyncio.Future[Board | None]) -> None:
        if self._loading.get(name) is done:
            del self._loading[name]
        if not done.cancelled():
            done.exception()  # retrieved: a failed read is every waiter's error, not a log line

    def invalidate(self, name: str | None = None) -> None:
        self._cache.forget(name)
        if name is None:
            self._loading.clear()
        else:
            self._loading.pop(name, None)

    async def load(self, name: str) -> Board | None:
        epoch = self._cache.epoch
        (raw,) = await self._caller.read([_read("HGETALL", keys.registry_board(name))])
        board = _board(name, raw) if raw else None
        self._cache.keep(name, board, epoch)
        return board

    async def load_all(self) -> list[Board]:
        epoch = self._cache.epoch
        (names,) = await self._caller.read([_read("SMEMBERS", keys.REGISTRY_NAMES)])
        ordered = sorted(name.decode() for name in names)
        raws = await self._caller.read([_read("HGETALL", keys.registry_board(n)) for n in ordered])
        boards = [_board(n, raw) for n, raw in zip(ordered, raws, strict=True) if raw]
        for board in boards:
            self._cache.keep(board.name, board, epoch)
        return boards

    async def create(self, config: BoardConfig, now: float) -> Board | None:
        """The new board, or None when one of that name exists."""
        fields: list[Any] = []
        for name, value in config.to_dict().items():
            if name != "name" and value is not None:
                fields += [name, _field_value(value)]
        fields += ["created_at", repr(now)]
        name = config.name
        call = BoardCreate(
            keys.registry_board(name), keys.REGISTRY_NAMES, keys.REGISTRY_SEQ, name, tuple(fields)
        )
        # Admin writes: not retried after an unknown outcome.
        raw = await self._caller.write(call.call(), *self._wait, idempotent=False)
        self.invalidate(name)
        gen = BoardCreated.decode(raw).gen
        if gen is None:
            return None
        return Board(config, gen=gen, version=gen, created_at=now)

    async def reset(self, name: str, period: str, now: float) -> BoardResetReply | None:
        """Start a new label in `period`: the new version and the old reset state. The
        archived label's end is claimed in the same call (its job put in the outbox)."""
        call = BoardReset(
            keys.registry_board(name),
            keys.REGISTRY_SEQ,
            keys.period_ends_claimed(name),
            keys.PERIOD_END_OUTBOX,
            period,
            name,
            now,
        )
        raw = await self._caller.write(call.call(), *self._wait, idempotent=False)
        self.invalidate(name)
        return BoardResetReply.decode(raw)

    async def delete(self, name: str) -> tuple[int, Board] | None:
        """The fence version that retires the board, and the board as it was."""
        call = BoardDelete(
            keys.registry_board(name),
            keys.REGISTRY_NAMES,
            keys.REGISTRY_SEQ,
            keys.period_ends_claimed(name),
            name,
        )
        raw = await self._caller.write(call.call(), *self._wait, idempotent=False)
        self.invalidate(name)
        deleted = BoardDeleted.decode(raw)
        if deleted is None:
            return None
        return deleted.version, _board(name, deleted.fields)


def _read(command: str, key: str) -> Call:
    return Call(key, (command, key))


def _field_value(value: object) -> object:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return repr(value)
    return value


def _number(raw: str) -> int | float:
    try:
        return int(raw)
    except ValueError:
        return float(raw)


def _board(name: str, raw: Mapping[bytes, bytes]) -> Board:
    fields = {k.decode(): v.decode() for k, v in raw.items()}
    rules: dict[str, Any] = {f: fields[f] == "1" for f in _FLAG_FIELDS if f in fields}
    rules.update((f, _number(fields[f])) for f in _NUMBER_FIELDS if f in fields)
    rules.update((field, int(fields[field])) for field in _INT_FIELDS)
    rules.update((f, int(fields[f])) for f in _OPTIONAL_INT_FIELDS if f in fields)
    rules.update((f, fields[f]) for f in _TEXT_FIELDS if f in fields)
    config = BoardConfig(
        name=name,
        order=fields["order"],  # type: ignore[arg-type]
        operator=fields["operator"],  # type: ignore[arg-type]
        reset=fields["reset"],  # type: ignore[arg-type]
        **rules,
    )
    return Board(
        config,
        gen=int(fields["gen"]),
        version=int(fields["version"]),
        reset_period=fields.get("reset_period", ""),
        reset_count=int(fields.get("reset_count") or 0),
        created_at=float(fields.get("created_at") or 0.0),
    )
