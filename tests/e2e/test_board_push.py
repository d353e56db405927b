"""Live board pushes: board.subscribe, rank.changed and board.top, on one and two gateways."""

from __future__ import annotations

import asyncio
import random
import time
from contextlib import AsyncExitStack
from typing import Any

import httpx
from valkey.asyncio.cluster import ValkeyCluster

from domain.leaderboards.keys import sub_board_of
from tests.cluster_helpers import spublish
from tests.game_client import GameClient, game_client, game_clients
from tests.gateway_harness import Gateway, gateway_process, gateway_settings

# The default pacing is 100 ms; ts are whole milliseconds of two clock readings.
MIN_GAP_MS = 95
# Long enough for a flush, the quiet-board backstop (300 ms) and a second flush.
SETTLE_S = 1.0


def drain(client: GameClient) -> list[dict[str, Any]]:
    """Every push received so far, in order."""
    events = []
    while not client.events.empty():
        events.append(client.events.get_nowait())
    return events


def named(events: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [event for event in events if event["event"] == name]


async def admin_scores(admin: httpx.AsyncClient, board: str, scores: dict[str, float]) -> None:
    for player, score in scores.items():
        response = await admin.post(
            f"/admin/v1/boards/{board}/scores", json={"player_id": player, "score": score}
        )
        assert response.status_code == 200, response.text


async def create_board(
    gateway: Gateway, name: str, operator: str = "best", sub_boards: int = 1
) -> None:
    body = {"name": name, "operator": operator, "sub_boards": sub_boards}
    async with gateway.admin() as admin:
        response = await admin.post("/admin/v1/boards", json=body)
        assert response.status_code == 201, response.text


async def eventually_unwatched(gateway: Gateway) -> None:
    watch = gateway.services.board_watch
    assert watch is not None
    for _ in range(100):
        if not watch.watched_boards():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"still watching {watch.watched_boards()}")


def assert_paced(events: list[dict[str, Any]]) -> None:
    stamps = [event["ts"] for event in events]
    gaps = [b - a for a, b in zip(stamps, stamps[1:], strict=False)]
    assert all(gap >= MIN_GAP_MS for gap in gaps), (gaps, events)


def assert_chained(reply_rank: int | None, pushes: list[dict[str, Any]]) -> None:
    """Each push's previous_rank is the rank the subscriber was told before."""
    told = reply_rank
    for push in pushes:
        assert push["previous_rank"] == told and push["rank"] != told, (reply_rank, pushes)
        told = push["rank"]


async def test_subscribe_answers_the_own_rank_or_null(gateway: Gateway) -> None:
    async with game_client(gateway.base_url, "p1") as p1, game_client(gateway.base_url, "p2") as p2:
        await p1.ok("score.submit", board="global", score=10)
        assert (await p1.ok("board.subscribe", board="global"))["rank"] == 1
        assert (await p2.ok("board.subscribe", board="global", top=0))["rank"] is None
        assert gateway.services.board_watch is not None
        assert gateway.services.board_watch.watched_boards() == ["global"]


async def test_a_subscribe_with_top_is_followed_by_the_current_top(gateway: Gateway) -> None:
    async with gateway.admin() as admin:
        await admin_scores(admin, "global", {"a": 30, "b": 20, "c": 10})
    async with game_client(gateway.base_url, "p1") as p1, game_client(gateway.base_url, "p2") as p2:
        await p1.ok("board.subscribe", board="global", top=2)
        pushed = await p1.next_event("board.top")
        expected = (await p1.ok("board.top", board="global", limit=2))["entries"]
        assert pushed["board"] == "global" and pushed["entries"] == expected
        assert [e["player_id"] for e in pushed["entries"]] == ["a", "b"]
        assert isinstance(pushed["ts"], int)

        await p2.ok("board.subscribe", board="global", top=0)
        await asyncio.sleep(0.4)
        assert named(drain(p2), "board.top") == []


async def test_an_own_submit_pushes_rank_changed(gateway: Gateway) -> None:
    async with game_client(gateway.base_url, "p1") as p1:
        assert (await p1.ok("board.subscribe", board="global", top=0))["rank"] is None
        await p1.ok("score.submit", board="global", score=42)
        pushed = await p1.next_event("rank.changed")
        assert {k: v for k, v in pushed.items() if k != "ts"} == {
            "event": "rank.changed",
            "board": "global",
            "rank": 1,
            "previous_rank": None,
            "score": 42,
        }
        assert isinstance(pushed["ts"], int)


async def test_being_passed_pushes_rank_changed_and_a_new_top(gateway: Gateway) -> None:
    async with game_client(gateway.base_url, "p1") as p1, game_client(gateway.base_url, "p2") as p2:
        await p1.ok("score.submit", board="global", score=10)
        await p1.ok("board.subscribe", board="global", top=1)
        first_top = await p1.next_event("board.top")
        assert [e["player_id"] for e in first_top["entries"]] == ["p1"]

        await p2.ok("score.submit", board="global", score=20)
        pushed = await p1.next_event("rank.changed")
        assert (pushed["rank"], pushed["previous_rank"], pushed["score"]) == (2, 1, 10)
        top = await p1.next_event("board.top")
        assert [(e["rank"], e["player_id"], e["score"]) for e in top["entries"]] == [(1, "p2", 20)]

        await p2.ok("score.submit", board="global", score=5)  # `best`: nothing changes
        await asyncio.sleep(0.5)
        assert drain(p1) == []
        metrics = gateway.services.metrics.render().decode()
        assert 'gameserver_pushes_total{event="rank.changed"} 1.0' in metrics
        assert 'gameserver_pushes_total{event="board.top"} 2.0' in metrics


async def test_a_burst_of_passes_is_coalesced_and_ends_at_the_true_rank(
    gateway: Gateway,
) -> None:
    async with game_client(gateway.base_url, "me") as me, gateway.admin() as admin:
        await me.ok("score.submit", board="global", score=1000)
        assert (await me.ok("board.subscribe", board="global", top=3))["rank"] == 1
        await admin_scores(admin, "global", {f"w{i:02d}": 1001 + i for i in range(50)})
        await asyncio.sleep(SETTLE_S)
        events = drain(me)
        pushes = named(events, "rank.changed")
        assert 1 <= len(pushes) < 25, pushes
        assert pushes[-1]["rank"] == 51
        assert_chained(1, pushes)
        assert_paced(pushes)
        tops = named(events, "board.top")
        assert_paced(tops)
        expected = (await me.ok("board.top", board="global", limit=3))["entries"]
        assert tops[-1]["entries"] == expected


async def test_own_submits_among_others_passes_are_paced_and_each_push_was_true(
    gateway: Gateway,
) -> None:
    """A subscriber that writes while others pass it gets one push per interval, never
    an event-moved rank beside the new score of its own write (a pair that never was)."""
    await create_board(gateway, "mixed", operator="set")
    rng = random.Random(7)
    writers = [f"w{i}" for i in range(3)]
    async with AsyncExitStack() as stack:
        clients = await game_clients(stack, gateway.base_url, ["me", *writers])
        me = clients["me"]
        await me.ok("score.submit", board="mixed", score=500)
        for writer in writers:
            await clients[writer].ok("score.submit", board="mixed", score=rng.randint(0, 1000))
        told = (await me.ok("board.subscribe", board="mixed", top=0))["rank"]
        mine = [500]

        async def write_own() -> None:
            for _ in range(8):
                await asyncio.sleep(0.1 + rng.random() * 0.1)
                mine.append(rng.randint(0, 1000))
                await me.ok("score.submit", board="mixed", score=mine[-1])

        async def write_other(writer: str) -> None:
            for _ in range(40):
                await clients[writer].ok("score.submit", board="mixed", score=rng.randint(0, 1000))
                await asyncio.sleep(0.03)

        await asyncio.gather(write_own(), *(write_other(writer) for writer in writers))
        await asyncio.sleep(SETTLE_S)
        pushes = named(drain(me), "rank.changed")
        assert pushes
        assert_paced(pushes)
        assert_chained(told, pushes)
        # With three others on the board, the true rank at a score is within the range
        # below; a moved rank shown beside a new score is often outside it.
        assert all(push["score"] in mine for push in pushes), (mine, pushes)
        # The contract promises the last push equals the true rank; an own write that
        # changes the score but not the rank needs no push, so the score may be older.
        final = await me.ok("board.rank", board="mixed")
        assert pushes[-1]["rank"] == final["rank"]
        assert final["score"] == mine[-1]


async def test_an_event_moves_ranks_and_the_quiet_board_re_query_has_the_last_word(
    gateway: Gateway, clean_valkey: ValkeyCluster
) -> None:
    async with game_client(gateway.base_url, "p1") as p1:
        await p1.ok("score.submit", board="global", score=10)
        await p1.ok("board.subscribe", board="global", top=0)
        channels = await gateway.services.leaderboards.channels("global")
        # An event already counted in the subscriber's rank (stamped before the last
        # write it counted in the event's sub-board, here p1's own) moves nothing.
        old = next(
            f"old{i}"
            for i in range(100)
            if sub_board_of(f"old{i}", len(channels)) == sub_board_of("p1", len(channels))
        )
        assert await spublish(clean_valkey, channels[0], f"w all {old} - - -99 1 1") == 1
        await spublish(clean_valkey, channels[-1], "not an event")
        await asyncio.sleep(0.6)  # past a flush and the quiet-board re-query
        assert drain(p1) == []
        # A forged event stamped now: "ghost" jumped above p1 (stored scores of desc boards
        # are negated). The gateway moves p1's rank by it; the re-query once the board is
        # quiet finds no ghost and tells p1 its true rank again.
        now_us = int(time.time() * 1e6)
        forged = f"w all ghost - - -99 {now_us} {now_us}"
        assert await spublish(clean_valkey, channels[0], forged) == 1
        moved = await p1.next_event("rank.changed")
        corrected = await p1.next_event("rank.changed")
        assert (moved["rank"], corrected["rank"]) == (2, 1)


async def test_unsubscribe_stops_the_pushes(gateway: Gateway) -> None:
    async with game_client(gateway.base_url, "p1") as p1, game_client(gateway.base_url, "p2") as p2:
        await p1.ok("score.submit", board="global", score=10)
        await p1.ok("board.subscribe", board="global", top=0)
        reply = await p1.ok("board.unsubscribe", board="global")
        assert set(reply) == {"ok", "id"}
        await eventually_unwatched(gateway)
        await p2.ok("score.submit", board="global", score=20)
        await asyncio.sleep(0.5)
        assert drain(p1) == []
        # Not subscribed (any more) to a board that exists: nothing to do.
        await p1.ok("board.unsubscribe", board="global")


async def test_a_closed_socket_stops_watching(gateway: Gateway) -> None:
    async with game_client(gateway.base_url, "p1") as p1:
        await p1.ok("board.subscribe", board="global")
        await p1.ok("board.subscribe", board="weekly")
        assert gateway.services.board_watch is not None
        assert gateway.services.board_watch.watched_boards() == ["global", "weekly"]
    await eventually_unwatched(gateway)


async def test_bad_input_is_refused_and_changes_nothing(gateway: Gateway) -> None:
    async with game_client(gateway.base_url, "p1") as p1, game_client(gateway.base_url, "p2") as p2:
        await p1.ok("score.submit", board="global", score=10)
        refused: dict[str, list[dict[str, Any]]] = {
            "not_found": [{"board": "nope"}],
            "bad_request": [
                {},
                {"board": "bad name"},
                {"board": 7},
                {"board": "x" * 65},
                {"board": "global", "top": 101},
                {"board": "global", "top": -1},
                {"board": "global", "top": 1.5},
                {"board": "global", "top": "5"},
                {"board": "global", "top": True},
            ],
        }
        for code, bodies in refused.items():
            for body in bodies:
                reply = await p1.call("board.subscribe", **body)
                assert reply["ok"] is False and reply["error"]["code"] == code, (body, reply)
        assert (await p1.call("board.unsubscribe", board="nope"))["error"]["code"] == "not_found"
        bad = await p1.call("board.unsubscribe", board="bad name")
        assert bad["error"]["code"] == "bad_request"

        assert gateway.services.board_watch is not None
        assert gateway.services.board_watch.watched_boards() == []
        await p2.ok("score.submit", board="global", score=20)
        await asyncio.sleep(0.5)
        assert drain(p1) == []


async def test_a_socket_watches_a_bounded_number_of_boards(gateway: Gateway) -> None:
    async with game_client(gateway.base_url, "p1") as p1:
        names = ["global", "weekly", *(f"b{i:02d}" for i in range(19))]
        for name in names[2:]:
            await create_board(gateway, name)
        for name in names[:20]:
            await p1.ok("board.subscribe", board=name, top=0)
        again = await p1.call("board.subscribe", board=names[0], top=1)
        assert again["ok"] is True  # the same board again only changes `top`
        over = await p1.call("board.subscribe", board=names[20], top=0)
        assert over["error"]["code"] == "conflict"
        await p1.ok("board.unsubscribe", board=names[0])
        await p1.ok("board.subscribe", board=names[20], top=0)


async def test_reset_and_delete_empty_the_subscribers_view(gateway: Gateway) -> None:
    await create_board(gateway, "season")
    async with game_client(gateway.base_url, "p1") as p1, gateway.admin() as admin:
        await p1.ok("score.submit", board="season", score=10)
        await p1.ok("board.subscribe", board="season", top=5)
        assert len((await p1.next_event("board.top"))["entries"]) == 1

        assert (await admin.post("/admin/v1/boards/season/reset")).status_code == 204
        pushed = await p1.next_event("rank.changed")
        assert (pushed["rank"], pushed["previous_rank"], pushed["score"]) == (None, 1, None)
        assert (await p1.next_event("board.top"))["entries"] == []

        await p1.ok("score.submit", board="season", score=3)
        assert (await p1.next_event("rank.changed"))["rank"] == 1
        assert len((await p1.next_event("board.top"))["entries"]) == 1
        assert (await admin.delete("/admin/v1/boards/season")).status_code == 204
        pushed = await p1.next_event("rank.changed")
        assert (pushed["rank"], pushed["previous_rank"]) == (None, 1)
        assert (await p1.next_event("board.top"))["entries"] == []
        await eventually_unwatched(gateway)
        gone = await p1.call("board.subscribe", board="season")
        assert gone["error"]["code"] == "not_found"


async def _write_randomly(client: GameClient, board: str, writes: int, seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(writes):
        await client.ok("score.submit", board=board, score=rng.randrange(0, 700))
        await asyncio.sleep(rng.uniform(0, 0.012))


async def test_subscribers_converge_while_another_gateway_process_writes(
    gateway: Gateway, cluster_seeds: tuple[tuple[str, int], ...]
) -> None:
    await create_board(gateway, "race", operator="set")
    tops = {f"s{i}": 5 for i in range(6)} | {"watcher": 10}
    with gateway_process(gateway_settings(cluster_seeds, "gw-writers")) as writers_gateway:
        async with AsyncExitStack() as stack:
            subscribers = await game_clients(stack, gateway.base_url, tops)
            writers_by_id = await game_clients(
                stack, writers_gateway.base_url, [f"w{i}" for i in range(4)]
            )
            writers = list(writers_by_id.values())
            replies: dict[str, int | None] = {}
            for i, (pid, client) in enumerate(subscribers.items()):
                if pid != "watcher":
                    await client.ok("score.submit", board="race", score=100 * i + 50)
            for pid, client in subscribers.items():
                drain(client)
                reply = await client.ok("board.subscribe", board="race", top=tops[pid])
                replies[pid] = reply["rank"]

            await asyncio.gather(
                *(_write_randomly(w, "race", 80, seed) for seed, w in enumerate(writers))
            )
            await asyncio.sleep(2.0)

            reader = subscribers["watcher"]
            moved_by_others = 0
            for pid, client in subscribers.items():
                events = drain(client)
                pushes = named(events, "rank.changed")
                assert_chained(replies[pid], pushes)
                assert_paced(pushes)
                moved_by_others += len(pushes)
                last_rank = pushes[-1]["rank"] if pushes else replies[pid]
                if pid == "watcher":
                    assert last_rank is None
                else:
                    truth = await reader.ok("board.rank", board="race", player_id=pid)
                    assert last_rank == truth["rank"], (pid, pushes[-3:], truth)
                top_pushes = named(events, "board.top")
                assert_paced(top_pushes)
                expected = await reader.ok("board.top", board="race", limit=tops[pid])
                assert top_pushes[-1]["entries"] == expected["entries"], pid
            assert moved_by_others > 0
