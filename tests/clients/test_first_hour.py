"""The first hour against a real `gameserver up`: the README's raw frames and Python
programs as a newcomer runs them, and every op and push of docs/protocol.md through the
Python SDK.

One `gameserver up` (cluster, gateway and worker, as the README starts it) serves the
whole module; the tests run in file order and share its boards.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from gameserver_client import (
    BoardPeriodEnded,
    BoardTop,
    Conflict,
    Forbidden,
    GameClient,
    MatchExpired,
    MatchFound,
    MemoryStorage,
    NotFound,
    PartyUpdated,
    RankChanged,
    SessionKicked,
    SessionReplaced,
)
from gameserver_client import events as sdk_events
from gameserver_client.errors import ServerError, error_from_wire

from gameserver.embedded import find_free_base_port
from tests.gateway_harness import env_without_settings, free_port, running_up, up_command
from tests.identity_tokens import SigningKey, provider, write_jwks

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
PROTOCOL = (ROOT / "docs" / "protocol.md").read_text(encoding="utf-8")
SDK_SOURCE = ROOT / "clients" / "python" / "src"
ADMIN_KEY = "first-hour-admin-key-0123456789"
_READY_TIMEOUT_S = 60.0
_WAIT_S = 20.0

pytestmark = pytest.mark.timeout(180)


def contract_ops() -> list[str]:
    """The game socket's ops: the first cells of docs/protocol.md's op tables."""
    section = PROTOCOL[PROTOCOL.index("## The game socket") : PROTOCOL.index("## Operators")]
    return re.findall(r"^\| `([a-z_]+(?:\.[a-z_]+)?)` \|", section, re.M)


def contract_error_codes() -> list[str]:
    """The game socket's error codes (docs/protocol.md, "Error codes: ..."), asides cut."""
    section = PROTOCOL[PROTOCOL.index("## The game socket") :]
    paragraph = section[section.index("Error codes:") :]
    paragraph = re.sub(r"\([^)]*\)", "", paragraph[: paragraph.index("\n\n")])
    return re.findall(r"`([a-z_]+)`", paragraph)


def contract_pushes() -> list[str]:
    """Every push docs/protocol.md names as `{"event": "..."}`."""
    return sorted(set(re.findall(r'\{"event": "([a-z_.]+)"', PROTOCOL)))


# What the SDK tests below did: ops answered through the SDK's methods, and typed events
# delivered. The module's last test checks both against docs/protocol.md.
ANSWERED_OPS: set[str] = set()
HEARD_PUSHES: set[str] = set()
TYPED_EVENTS = [
    kind
    for kind in vars(sdk_events).values()
    if isinstance(kind, type) and kind.__module__ == sdk_events.__name__ and "name" in vars(kind)
]


@dataclass
class Up:
    base_url: str
    key: SigningKey

    def admin(self) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
        return httpx.AsyncClient(base_url=self.base_url, headers=headers, timeout=30)


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    folder = tmp_path_factory.mktemp("first-hour")
    key = SigningKey.make("k-first-hour")
    jwks = write_jwks(folder / "jwks.json", key)
    port = free_port()
    env = env_without_settings(
        GAMESERVER_ADMIN_KEY=ADMIN_KEY,
        GAMESERVER_AUTH_PROVIDERS=json.dumps(provider("studio", jwks_file=str(jwks))),
    )
    command = up_command(folder / "d", port, find_free_base_port())
    with running_up(command, env, "Ctrl-C stops everything", _READY_TIMEOUT_S):
        yield Up(f"http://127.0.0.1:{port}", key)


# --- The README, as a newcomer follows it ----------------------------------------------


def _readme_section(title: str) -> str:
    start = README.index(title)
    end = re.compile(r"^#{2,3} ", re.M).search(README, start + len(title))
    return README[start : end.start() if end else len(README)]


def _same_shape(got: Any, shown: Any, where: str) -> None:
    """`got` has the README's keys and its values, except those the README elides."""
    if isinstance(shown, dict):
        assert isinstance(got, dict) and set(got) == set(shown), (where, got, shown)
        for name, value in shown.items():
            _same_shape(got[name], value, f"{where}.{name}")
    elif isinstance(shown, list):
        assert isinstance(got, list) and len(got) == len(shown), (where, got, shown)
        for index, (item, value) in enumerate(zip(got, shown, strict=True)):
            _same_shape(item, value, f"{where}[{index}]")
    elif isinstance(shown, str) and (shown.endswith("...") or shown == "eyJ..."):
        assert isinstance(got, str), (where, got)
    else:
        assert got == shown, (where, got, shown)


async def _login(up: Up, body: dict[str, Any]) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=up.base_url) as http:
        answer = await http.post("/v1/sessions", content=json.dumps(body))
    assert answer.status_code == 201, answer.text
    result: dict[str, Any] = answer.json()
    return result


async def test_the_readme_raw_frames_log_in_score_read_the_top_subscribe_and_get_matched(
    up: Up,
) -> None:
    section = _readme_section("### Log in and play with raw frames")
    curl = re.search(r"curl -s -XPOST \S+/v1/sessions -d '([^']+)'\n# (\{.*\})", section)
    assert curl is not None, "the README's login line"
    session = await _login(up, json.loads(curl.group(1)))
    _same_shape(session, json.loads(curl.group(2)), "login")
    assert session["created"] is True and session["expires_in"] == 60

    sent = [json.loads(line[2:]) for line in section.splitlines() if line.startswith("> ")]
    shown = [line[2:] for line in section.splitlines() if line.startswith("< ")]
    assert [frame["op"] for frame in sent] == [
        "score.submit",
        "board.top",
        "board.subscribe",
        "match.join",
    ]
    url = up.base_url.replace("http://", "ws://") + "/v1/ws?token=" + session["token"]
    async with websockets.connect(url) as ann:
        replies: dict[int, dict[str, Any]] = {}
        pushes: list[dict[str, Any]] = []
        for frame in sent:
            await ann.send(json.dumps(frame))
        shown_pushes = [line for line in shown if '"event"' in line]
        while len(replies) < len(sent) or len(pushes) < len(shown_pushes):
            message = json.loads(await asyncio.wait_for(ann.recv(), _WAIT_S))
            if "event" in message:
                pushes.append(message)
            else:
                replies[message["id"]] = message
        # Every line the README shows arrives: each reply (by its id) and each push.
        for line in shown:
            if '"event"' in line:
                event = re.search(r'"event":"([a-z_.]+)"', line)
                assert event is not None
                push = next(p for p in pushes if p["event"] == event.group(1))
                assert push["board"] == "global" and push["entries"][0]["display_name"] == "Ann"
            else:
                reply = json.loads(line)
                _same_shape(replies[reply["id"]], reply, f"reply {reply['id']}")

        # "Log a second device in ... and match.join the duel queue too: both get match.found".
        bob = await _login(up, {"device_id": "bob-device-0123456789"})
        bob_url = up.base_url.replace("http://", "ws://") + "/v1/ws?token=" + bob["token"]
        async with websockets.connect(bob_url) as second:
            await second.send(json.dumps({"op": "match.join", "id": 1, "queue": "duel"}))
            found = []
            for socket in (ann, second):
                while True:
                    message = json.loads(await asyncio.wait_for(socket.recv(), _WAIT_S))
                    if message.get("event") == "match.found":
                        found.append(message)
                        break
        listed = {"match_id", "queue", "teams", "ticket", "server", "backfill"}
        assert all(listed <= set(message) for message in found)
        assert found[0]["match_id"] == found[1]["match_id"]
        assert sorted(sum(found[0]["teams"], [])) == sorted(
            [session["player_id"], bob["player_id"]]
        )


async def _run_python(*args: str, cwd: Path) -> str:
    """A Python program with the SDK importable, as after `pip install ./clients/python`."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *args,
        cwd=cwd,
        env=env_without_settings(PYTHONPATH=str(SDK_SOURCE), TMPDIR=str(cwd)),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 90)
    assert process.returncode == 0, output.decode()
    return output.decode()


async def test_the_readme_python_quick_start_and_its_program_log_in_score_and_get_matched(
    up: Up, tmp_path: Path
) -> None:
    section = _readme_section("### With an SDK")
    quickstart = re.search(r"^python (clients/python/examples/quickstart\.py)", section, re.M)
    assert quickstart is not None
    output = await _run_python(str(ROOT / quickstart.group(1)), up.base_url, cwd=tmp_path)
    for name in ("Ann", "Bob"):
        assert re.search(rf"^{name} is [a-z0-9]{{16}} \(new account: True\)$", output, re.M)
        assert re.search(rf"^{name} submitted \d+: rank \d+$", output, re.M)
    matches = re.findall(r"^(?:Ann|Bob) is in match (\S+):", output, re.M)
    assert len(matches) == 2 and matches[0] == matches[1], output

    # The README's `play.py`, run as `python play.py Ann` and `python play.py Bob`.
    program = re.search(r"save this as `play.py`.*?```python\n(.*?)```", section, re.S)
    assert program is not None
    (tmp_path / "play.py").write_text(
        program.group(1).replace("http://127.0.0.1:8000", up.base_url), encoding="utf-8"
    )
    outputs = await asyncio.gather(
        *(_run_python("play.py", name, cwd=tmp_path) for name in ("Ann", "Bob"))
    )
    found = [re.search(r"MatchFound\(match_id='([^']+)'", text) for text in outputs]
    assert all(found), outputs
    assert found[0] and found[1] and found[0].group(1) == found[1].group(1)
    assert all("SubmitResult(board='global', score=120" in text for text in outputs)


# --- Every op and push of the contract through the Python SDK ----------------------------


def _recorded(client: GameClient) -> GameClient:
    """`client`, noting each op its methods got an answer to and each typed event it got."""
    call: Callable[..., Awaitable[dict[str, Any]]] = client._call

    async def noting(op: str, fields: dict[str, Any], timeout: float | None) -> dict[str, Any]:
        reply = await call(op, fields, timeout)
        ANSWERED_OPS.add(op)
        return reply

    client._call = noting  # type: ignore[method-assign]
    for kind in TYPED_EVENTS:
        client.on(kind, lambda event: HEARD_PUSHES.add(type(event).name))
    return client


async def _player(up: Up, storage: MemoryStorage | None = None) -> GameClient:
    client = _recorded(GameClient(up.base_url))
    await client.login_device(storage or MemoryStorage())
    return client


async def test_sessions_and_presence_through_the_sdk(up: Up) -> None:
    one, two = await _player(up), await _player(up)
    try:
        assert await one.ping() > 0
        await one.session_set({"level": 3, "hat": "red"})
        assert await one.session_get(["level"]) == {"level": 3}
        assert await one.session_get() == {"level": 3, "hat": "red"}
        presence = await one.presence_get([two.player_id, "nobody-here"])
        assert presence == {two.player_id: "online", "nobody-here": "offline"}
    finally:
        await one.close()
        await two.close()


async def test_leaderboard_ops_and_a_period_end_through_the_sdk(up: Up) -> None:
    one, two = await _player(up), await _player(up)
    try:
        await one.score_submit("global", 40)
        await two.score_submit("global", 30)
        assert (await one.board_top("global", limit=100)).entries
        assert (await one.board_rank("global")).score == 40
        assert await one.board_around("global", radius=1)
        picked = await one.board_players("global", [two.player_id, one.player_id])
        assert [entry.player_id for entry in picked] == [one.player_id, two.player_id]
        watched = one.events(RankChanged, BoardTop)
        rank = await one.board_subscribe("global", top=3)
        await two.score_submit("global", 10**6)
        seen: dict[type[Any], Any] = {}
        while len(seen) < 2:
            event = await watched.next(timeout=_WAIT_S)
            if isinstance(event, RankChanged) or any(
                entry.player_id == two.player_id for entry in event.entries
            ):
                seen[type(event)] = event
        assert rank is not None and seen[RankChanged].rank == rank + 1
        await one.board_unsubscribe("global")
        assert "global" not in one.subscriptions

        cup = "first-hour-cup"
        async with up.admin() as admin:
            made = await admin.post(
                "/admin/v1/boards", json={"name": cup, "join_required": True, "max_players": 8}
            )
            assert made.status_code == 201, made.text
        with pytest.raises(Forbidden):
            await one.score_submit(cup, 5)
        assert await one.board_join(cup) == 1
        await one.score_submit(cup, 5)
        listed = {board.name: board for board in await one.board_list()}
        assert listed[cup].joined and listed[cup].join_required

        ended = one.events(BoardPeriodEnded)
        async with up.admin() as admin:
            assert (await admin.post(f"/admin/v1/boards/{cup}/reset")).status_code == 204
        push = await ended.next(timeout=_WAIT_S)
        assert (push.board, push.rank, push.score) == (cup, 1, 5)
    finally:
        await one.close()
        await two.close()


async def test_matchmaking_ops_and_an_expired_ticket_through_the_sdk(up: Up) -> None:
    one, two = await _player(up), await _player(up)
    try:
        ticket = await one.match_join("duel")
        await one.match_cancel(ticket)
        assert await one.match_status(ticket) == "cancelled"

        async with up.admin() as admin:
            made = await admin.post(
                "/admin/v1/queues",
                json={"name": "first-hour-lonely", "team_size": 1, "teams": 2, "max_wait_s": 1},
            )
            assert made.status_code == 201, made.text
        expired = one.events(MatchExpired)
        waiting = await one.match_join("first-hour-lonely")
        assert (await expired.next(timeout=_WAIT_S)).ticket == waiting
        assert await one.match_status(waiting) == "expired"

        found = [client.events(MatchFound) for client in (one, two)]
        await one.match_join("duel")
        await two.match_join("duel")
        matched = [await stream.next(timeout=_WAIT_S) for stream in found]
        assert matched[0].match_id == matched[1].match_id
    finally:
        await one.close()
        await two.close()


async def test_party_ops_through_the_sdk(up: Up) -> None:
    leader, friend = await _player(up), await _player(up)
    try:
        party_id = await leader.party_create()
        await leader.party_invite(party_id, friend.player_id)
        await friend.party_decline(party_id)
        assert (await leader.party_get(party_id)).invited == []
        await leader.party_invite(party_id, friend.player_id)
        await friend.party_accept(party_id)
        updates = friend.events(PartyUpdated)
        await leader.party_kick(party_id, friend.player_id)
        for _ in range(5):
            update = await updates.next(timeout=_WAIT_S)
            if friend.player_id not in update.members:
                break
        assert update.members == [leader.player_id]
        await leader.party_leave(party_id)
        with pytest.raises(NotFound):
            await leader.party_get(party_id)
    finally:
        await leader.close()
        await friend.close()


async def test_account_ops_and_session_ends_through_the_sdk(up: Up) -> None:
    storage = MemoryStorage()
    one = await _player(up, storage)
    try:
        assert (await one.account_get()).player_id == one.player_id
        assert (await one.account_update("Renamed")).display_name == "Renamed"
        linked = await one.account_link_provider("studio", up.key.token("first-hour-1"))
        assert [(link.kind, link.provider) for link in linked.links] == [
            ("device", None),
            ("provider", "studio"),
        ]
        unlinked = await one.account_unlink("provider", "studio")
        assert [link.kind for link in unlinked.links] == ["device"]
        with pytest.raises(Conflict):
            await one.account_unlink("device")
        second_device = MemoryStorage()
        relinked = await one.account_link_device(second_device)
        assert [link.kind for link in relinked.links] == ["device"]

        # A newer login of the same device replaces the session; an operator's kick ends one.
        replaced = one.events(SessionReplaced)
        newer = await _player(up, second_device)
        assert isinstance(await replaced.next(timeout=_WAIT_S), SessionReplaced)
        kicked = newer.events(SessionKicked)
        async with up.admin() as admin:
            ended = await admin.delete(f"/admin/v1/players/{newer.player_id}/session")
            assert ended.status_code == 204
        assert isinstance(await kicked.next(timeout=_WAIT_S), SessionKicked)
        await newer.close()

        last = await _player(up, second_device)
        await last.session_logout()
    finally:
        await one.close()


def test_every_op_and_push_of_docs_protocol_went_through_the_python_sdk() -> None:
    # Last in the module: what the tests above did, against the contract's own list.
    ops = contract_ops()
    assert len(ops) >= 28, ops
    assert [op for op in ops if op not in ANSWERED_OPS] == []
    typed = {vars(kind)["name"] for kind in TYPED_EVENTS}
    assert [name for name in contract_pushes() if name not in typed] == []
    assert [name for name in contract_pushes() if name not in HEARD_PUSHES] == []
    # Each error code of the contract is an exception class of its own with that code.
    codes = contract_error_codes()
    assert len(codes) >= 8, codes
    for code in codes:
        error = error_from_wire({"code": code, "message": "m"})
        assert error.code == code and type(error) is not ServerError, code
