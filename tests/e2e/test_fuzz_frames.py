"""Hypothesis throws hostile frames at a real gateway over several sockets.

Valid envelopes with wrong types, huge and deep values, unicode, binary and empty frames
(all within the 16 KiB frame limit). Every frame is answered, none crashes the gateway
(`internal`, a logged traceback) or closes a socket, and nothing in Valkey changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from valkey.asyncio.cluster import ValkeyCluster

from tests.game_client import GameClient, game_clients
from tests.gateway_harness import Gateway, gateway_settings, running_gateway

SOCKETS = 4
MAX_FRAME_BYTES = 16 * 1024
# Names the built-in default creates: a frame naming one with the right types could
# write, so the fuzzer never names them (it probes refusals, not writes).
EXISTING = {"global", "weekly", "duel"}
OPS = [
    "ping",
    "score.submit",
    "board.top",
    "board.around",
    "board.rank",
    "board.players",
    "board.subscribe",
    "board.unsubscribe",
    "match.join",
    "match.cancel",
    "match.status",
    "session.get",
    "presence.get",
]
FIELDS = [
    "board",
    "score",
    "metadata",
    "request_id",
    "limit",
    "cursor",
    "player_id",
    "radius",
    "top",
    "player_ids",
    "queue",
    "party",
    "properties",
    "ticket",
    "keys",
    "values",
]
MAX_ID = 2**53

_UNICODE = st.text(alphabet=st.characters(codec="utf-8"), max_size=40)
_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _UNICODE,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(_UNICODE, children, max_size=5)
    ),
    max_leaves=20,
)


def _deep(depth: int, kind: str) -> str:
    if kind == "list":
        return "[" * depth + "1" + "]" * depth
    return '{"a":' * depth + "1" + "}" * depth


# Well-formed names and numbers reach past the type checks to the stores' refusals.
_WELL_TYPED = st.one_of(
    st.from_regex(r"[A-Za-z0-9_.-]{1,64}", fullmatch=True),
    st.integers(-5, 200),
    st.lists(st.from_regex(r"[a-z0-9]{1,8}", fullmatch=True), max_size=5),
)
# Raw JSON text of one value: ordinary, huge, deep or beyond what JSON numbers hold.
_VALUE = st.one_of(
    _JSON.map(lambda v: orjson.dumps(v).decode()),
    _WELL_TYPED.map(lambda v: orjson.dumps(v).decode()),
    _WELL_TYPED.map(lambda v: orjson.dumps(v).decode()),
    st.integers(min_value=2**64, max_value=10**400).map(str),
    st.sampled_from(["1e999", "-1e999", "-0", "1E400", "0.1e-400", "9007199254740993"]),
    st.builds(_deep, st.integers(200, 1500), st.sampled_from(["list", "object"])),
    st.integers(1_000, 12_000).map(lambda n: '"' + "x" * n + '"'),
    st.integers(100, 3_000).map(lambda n: "[" + ",".join(["1"] * n) + "]"),
)
_ID = st.one_of(
    st.integers(-(2**60), 2**60).map(str),
    st.text(max_size=80).map(lambda s: orjson.dumps(s).decode()),
    _VALUE,
)
_KNOWN_OP = st.sampled_from(OPS).map(lambda op: f'"{op}"')


def _mostly(usual: st.SearchStrategy[Any], rare: st.SearchStrategy[Any]) -> Any:
    # one_of() merges repeated branches, so the odds are drawn explicitly: 3 in 4.
    return st.integers(0, 3).flatmap(lambda i: usual if i else rare)


_OP = _mostly(_KNOWN_OP, _VALUE)
_FIELD = st.sampled_from(FIELDS)
_NAME = _mostly(_FIELD, _UNICODE)


@st.composite
def _envelope(draw: st.DrawFn) -> str:
    parts = [f'"op":{draw(_OP)}']
    if draw(st.booleans()):
        parts.append(f'"id":{draw(_ID)}')
    for _ in range(draw(st.integers(0, 4))):
        parts.append(f"{orjson.dumps(draw(_NAME)).decode()}:{draw(_VALUE)}")
    order = draw(st.permutations(parts))
    return "{" + ",".join(order) + "}"


_NAME_TEXT = st.from_regex(r"[A-Za-z0-9_.-]{1,64}", fullmatch=True)
# What each op needs to get past its type checks (names the cluster does not hold).
_REQUIRED: dict[str, dict[str, st.SearchStrategy[Any]]] = {
    "score.submit": {"board": _NAME_TEXT, "score": st.integers(-(10**9), 10**9)},
    "match.join": {"queue": _NAME_TEXT},
    "match.cancel": {"ticket": _NAME_TEXT},
    "match.status": {"ticket": _NAME_TEXT},
    "presence.get": {"player_ids": st.lists(_NAME_TEXT, max_size=3)},
    "board.players": {"board": _NAME_TEXT, "player_ids": st.lists(_NAME_TEXT, max_size=3)},
}


@st.composite
def _well_formed(draw: st.DrawFn) -> str:
    """A known op with well-typed fields: it passes the parser and the type checks and
    reaches the stores, which refuse it (no such board, queue or ticket) or answer."""
    op = draw(st.sampled_from(OPS))
    required = _REQUIRED.get(op, {"board": _NAME_TEXT} if op.startswith("board.") else {})
    fields = {name: draw(value) for name, value in required.items()}
    if draw(st.booleans()):
        fields[draw(_FIELD)] = draw(_WELL_TYPED)  # one more field, perhaps a wrong one
    request_id = draw(st.integers(-(2**53), 2**53))
    return orjson.dumps({"op": op, "id": request_id, **fields}).decode()


# Mostly nested deeper than a value can be stored (254 levels), not deeper than a frame
# can be parsed (1024): the values that once made `session.set` fail `internal`.
_SESSION_VALUE = _mostly(
    st.builds(_deep, st.integers(255, 1000), st.sampled_from(["list", "object"])), _VALUE
)


@st.composite
def _session_set(draw: st.DrawFn) -> str:
    # Always refused: the last key is empty, after the others were checked and encoded.
    pairs = [
        f"{orjson.dumps(draw(_UNICODE)).decode()}:{draw(_SESSION_VALUE)}"
        for _ in range(draw(st.integers(1, 3)))
    ]
    frame_id = f',"id":{draw(_ID)}' if draw(st.booleans()) else ""
    return '{"op":"session.set"' + frame_id + ',"values":{' + ",".join([*pairs, '"":0']) + "}}"


def _writes_nothing(frame: str | bytes) -> bool:
    """False for a frame that could pass as a write (an existing board or queue named)."""
    try:
        body = orjson.loads(frame)
    except orjson.JSONDecodeError:
        return True
    if not isinstance(body, dict):
        return True
    if body.get("op") == "session.set" and b'"":0}}' not in _as_bytes(frame):
        return False
    return not any(isinstance(body.get(n), str) and body[n] in EXISTING for n in ("board", "queue"))


def _as_bytes(frame: str | bytes) -> bytes:
    return frame.encode() if isinstance(frame, str) else frame


def _fits(frame: str | bytes) -> bool:
    return len(_as_bytes(frame)) <= MAX_FRAME_BYTES - 64


_ENVELOPE = _envelope()
# Envelopes most of the time: they reach the ops; the rest end at the parser.
FRAMES = _mostly(
    _mostly(_ENVELOPE, _well_formed()),
    st.one_of(
        _session_set(),
        _VALUE,  # valid JSON that is no object, or no JSON at all
        _UNICODE,
        st.binary(max_size=200),
        st.sampled_from(["", b"", "{}", "[]", "null", '{"op":""}', '{"op":null,"id":1}']),
    ),
).filter(lambda f: _fits(f) and _writes_nothing(f))


def _expected_id(frame: str | bytes) -> tuple[bool, Any]:
    """(echoed?, the id) as the contract has it."""
    try:
        body = orjson.loads(frame)
    except orjson.JSONDecodeError:
        return False, None
    if not isinstance(body, dict) or "id" not in body or body["id"] is None:
        return False, None
    value = body["id"]
    if isinstance(value, str) and len(value) <= 64:
        return True, value
    if type(value) is int and -MAX_ID <= value <= MAX_ID:
        return True, value
    return False, None


@dataclass
class FuzzRun:
    clients: list[GameClient]
    frames: int = 0
    codes: dict[str, int] = field(default_factory=dict)

    async def send(self, socket: int, frame: str | bytes) -> None:
        client = self.clients[socket]
        await client.send_raw(frame)
        reply = await asyncio.wait_for(client.orphan_replies.get(), 10)
        self.frames += 1
        echoed, request_id = _expected_id(frame)
        if echoed:
            assert reply.get("id") == request_id and type(reply["id"]) is type(request_id)
        else:
            assert "id" not in reply, (frame[:200], reply)
        if not reply["ok"]:
            code = reply["error"]["code"]
            self.codes[code] = self.codes.get(code, 0) + 1
            assert code != "internal", (frame[:200], reply)
        assert not client.closed.done(), f"closed with {client.closed.result()}"


async def _keys(valkey: ValkeyCluster) -> set[bytes]:
    # Limit counters come and go on their own; everything else must stay as it was.
    return {key async for key in valkey.scan_iter() if not key.startswith(b"abuse:")}


@contextlib.asynccontextmanager
async def _fuzz_target(seeds: tuple[tuple[str, int], ...]) -> AsyncIterator[FuzzRun]:
    # The per-socket rate limit would answer most frames `rate_limited` unread.
    settings_ = gateway_settings(seeds, "gw-fuzz", rate_limit_per_s=1e6, rate_limit_burst=10**6)
    async with running_gateway(settings_) as gw, contextlib.AsyncExitStack() as stack:
        players = [f"fuzz{i}" for i in range(SOCKETS)]
        clients = await game_clients(stack, gw.base_url, players)
        yield FuzzRun([clients[p] for p in players])
        await _check_nothing_changed(gw, list(clients.values()))


async def _check_nothing_changed(gw: Gateway, clients: list[GameClient]) -> None:
    for client in clients:
        assert (await client.ok("session.get"))["values"] == {}
    async with gw.admin() as admin:
        boards = (await admin.get("/admin/v1/boards")).json()["boards"]
        assert all(board["count"] == 0 for board in boards), boards
        queues = (await admin.get("/admin/v1/queues")).json()["queues"]
        assert all(queue["waiting"] == 0 for queue in queues), queues


def _draw_frames(count: int) -> list[tuple[int, str | bytes]]:
    """`count` (socket, frame) pairs drawn by hypothesis (used as a generator here:
    a failing frame is named whole in the assertion, so there is nothing to shrink)."""
    drawn: list[tuple[int, str | bytes]] = []

    @settings(
        max_examples=count,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(socket=st.integers(0, SOCKETS - 1), frame=FRAMES)
    def draw(socket: int, frame: str | bytes) -> None:
        drawn.append((socket, frame))

    draw()
    return drawn


@pytest.mark.parametrize(
    "count", [1_000, pytest.param(10_000, marks=[pytest.mark.slow, pytest.mark.timeout(900)])]
)
async def test_hostile_frames_are_all_answered_and_change_nothing(
    cluster_seeds: tuple[tuple[str, int], ...],
    clean_valkey: ValkeyCluster,
    admin_valkey: ValkeyCluster,
    caplog: pytest.LogCaptureFixture,
    count: int,
) -> None:
    frames = await asyncio.to_thread(_draw_frames, count)
    async with _fuzz_target(cluster_seeds) as run:
        # Listing keys (to see that nothing changed) is an operator's command.
        before = await _keys(admin_valkey)
        with caplog.at_level(logging.ERROR):
            for socket, frame in frames:
                await run.send(socket, frame)
        assert run.frames >= count
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
        assert await _keys(admin_valkey) == before
        for client in run.clients:
            await client.ok("ping")
    # Refusals of every kind were reached, not only unparsable frames.
    assert {"bad_request", "not_found"} <= run.codes.keys(), run.codes
