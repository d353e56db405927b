"""Leaderboard ops over the game socket, as a game client sees them."""

from __future__ import annotations

import pytest

from tests.game_client import GameClient, game_client
from tests.gateway_harness import Gateway


async def _submit(client: GameClient, score: float, board: str = "global") -> dict[str, object]:
    return await client.ok("score.submit", board=board, score=score)


async def test_a_submit_answers_stored_score_rank_and_previous_rank(gateway: Gateway) -> None:
    async with game_client(gateway.base_url, "p1") as p1:
        first = await _submit(p1, 100)
        assert (first["board"], first["score"], first["rank"]) == ("global", 100, 1)
        assert first["previous_rank"] is None
        worse = await _submit(p1, 50)  # `best` keeps the better score
        assert (worse["score"], worse["rank"], worse["previous_rank"]) == (100, 1, 1)


async def test_others_passing_change_your_rank(gateway: Gateway) -> None:
    async with game_client(gateway.base_url, "p1") as p1, game_client(gateway.base_url, "p2") as p2:
        await _submit(p1, 10)
        passed = await _submit(p2, 20)
        assert passed["rank"] == 1
        mine = await p1.ok("board.rank", board="global")
        assert (mine["rank"], mine["score"]) == (2, 10)
        theirs = await p1.ok("board.rank", board="global", player_id="p2")
        assert theirs["rank"] == 1


async def test_only_an_absent_player_id_means_yourself(gateway: Gateway) -> None:
    async with game_client(gateway.base_url, "p1") as p1:
        await _submit(p1, 3)
        rank = await p1.ok("board.rank", board="global", player_id=None)
        assert (rank["player_id"], rank["rank"]) == ("p1", 1)
        around = await p1.ok("board.around", board="global", player_id=None)
        assert [e["player_id"] for e in around["entries"]] == ["p1"]
        for op in ("board.rank", "board.around"):
            empty = await p1.call(op, board="global", player_id="")
            assert empty["error"]["code"] == "bad_request", (op, empty)


async def test_a_player_submits_only_their_own_scores(gateway: Gateway) -> None:
    async with game_client(gateway.base_url, "p1") as p1:
        await _submit(p1, 3)
        other = await p1.call("score.submit", board="global", score=10, player_id="p2")
        assert other["error"]["code"] == "forbidden", other
        assert "admin API" in other["error"]["message"]
        own = await p1.ok("score.submit", board="global", score=4, player_id="p1")
        assert (own["score"], own["rank"], own["previous_rank"]) == (4, 1, 1)
        top = await p1.ok("board.top", board="global")
        assert [(e["player_id"], e["score"]) for e in top["entries"]] == [("p1", 4)]


async def test_a_cursor_from_before_a_reset_is_a_bad_request(gateway: Gateway) -> None:
    async with game_client(gateway.base_url, "reader") as reader, gateway.admin() as admin:
        for i in range(3):
            response = await admin.post(
                "/admin/v1/boards/global/scores", json={"player_id": f"p{i}", "score": i}
            )
            assert response.status_code == 200
        page = await reader.ok("board.top", board="global", limit=2)
        view = (await admin.get("/admin/v1/boards/global", params={"limit": 2})).json()
        assert (await admin.post("/admin/v1/boards/global/reset")).status_code == 204

        stale = await reader.call("board.top", board="global", limit=2, cursor=page["next_cursor"])
        assert stale["error"]["code"] == "bad_request", stale
        assert "without a cursor" in stale["error"]["message"]
        listed = await admin.get("/admin/v1/boards/global", params={"cursor": view["next_cursor"]})
        assert listed.status_code == 400 and listed.json()["error"]["code"] == "bad_request"
        # Naming the archived period still pages it.
        archived = await admin.get(
            "/admin/v1/boards/global",
            params={"cursor": view["next_cursor"], "period": view["period"]},
        )
        assert [(e["rank"], e["player_id"]) for e in archived.json()["entries"]] == [(3, "p0")]


async def test_equal_scores_rank_by_who_reached_them_first(gateway: Gateway) -> None:
    async with (
        game_client(gateway.base_url, "late") as late,
        game_client(gateway.base_url, "early") as early,
    ):
        await _submit(early, 7)
        await _submit(late, 7)
        top = await early.ok("board.top", board="global")
        assert [e["player_id"] for e in top["entries"]] == ["early", "late"]


async def test_top_pages_with_a_cursor_cover_the_board_once(gateway: Gateway) -> None:
    async with game_client(gateway.base_url, "reader") as reader:
        async with gateway.admin() as admin:
            for i in range(25):
                response = await admin.post(
                    "/admin/v1/boards/global/scores", json={"player_id": f"p{i}", "score": i}
                )
                assert response.status_code == 200
        seen: list[dict[str, object]] = []
        cursor = None
        for _ in range(10):
            page = await reader.ok("board.top", board="global", limit=10, cursor=cursor)
            seen += page["entries"]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert [e["rank"] for e in seen] == list(range(1, 26))
        assert [e["player_id"] for e in seen] == [f"p{i}" for i in range(24, -1, -1)]

        around = await reader.ok("board.around", board="global", player_id="p10", radius=2)
        assert [e["player_id"] for e in around["entries"]] == ["p12", "p11", "p10", "p9", "p8"]
        subset = await reader.ok("board.players", board="global", player_ids=["p3", "p20", "zz"])
        assert [(e["player_id"], e["rank"]) for e in subset["entries"]] == [("p20", 5), ("p3", 22)]


async def test_metadata_is_kept_with_the_entry(gateway: Gateway) -> None:
    async with game_client(gateway.base_url, "p1") as p1:
        await p1.ok("score.submit", board="global", score=5, metadata={"car": "red"})
        top = await p1.ok("board.top", board="global")
        assert top["entries"][0]["metadata"] == {"car": "red"}


async def test_a_retried_submit_with_the_same_request_id_applies_once(gateway: Gateway) -> None:
    async with gateway.admin() as admin:
        created = await admin.post(
            "/admin/v1/boards", json={"name": "kills", "operator": "incr", "order": "desc"}
        )
        assert created.status_code == 201, created.text
    async with game_client(gateway.base_url, "p1") as p1:
        for _ in range(3):
            await p1.ok("score.submit", board="kills", score=2, request_id="kill-1")
        await p1.ok("score.submit", board="kills", score=2, request_id="kill-2")
        assert (await p1.ok("board.rank", board="kills"))["score"] == 4


async def test_unknown_boards_and_absent_players_are_not_found(gateway: Gateway) -> None:
    async with game_client(gateway.base_url, "p1") as p1:
        for op, fields in [
            ("score.submit", {"board": "nope", "score": 1}),
            ("board.top", {"board": "nope"}),
            ("board.rank", {"board": "global"}),
            ("board.around", {"board": "global"}),
        ]:
            reply = await p1.call(op, **fields)
            assert reply["error"]["code"] == "not_found", (op, reply)


@pytest.mark.parametrize(
    ("op", "fields"),
    [
        ("score.submit", {"board": "global"}),
        ("score.submit", {"board": "global", "score": "10"}),
        ("score.submit", {"board": "global", "score": True}),
        ("score.submit", {"board": "global", "score": 1e300}),
        ("score.submit", {"board": "global", "score": 1, "metadata": [1]}),
        ("score.submit", {"board": "global", "score": 1, "metadata": {"x": "y" * 1100}}),
        ("score.submit", {"board": "bad board", "score": 1}),
        ("score.submit", {"board": "global", "score": 1, "request_id": "no spaces"}),
        ("board.top", {"board": "global", "limit": 0}),
        ("board.top", {"board": "global", "limit": 101}),
        ("board.top", {"board": "global", "cursor": "forged"}),
        ("board.around", {"board": "global", "radius": 51}),
        ("board.players", {"board": "global", "player_ids": [f"p{i}" for i in range(101)]}),
        ("board.players", {"board": "global", "player_ids": "p1"}),
        ("board.rank", {"board": "global", "player_id": "bad id"}),
        ("board.rank", {"board": "global", "player_id": ""}),
        ("board.around", {"board": "global", "player_id": ""}),
        ("board.around", {"board": "global", "player_id": 7}),
        ("score.submit", {"board": "global", "score": 1, "player_id": ""}),
    ],
)
async def test_bad_input_is_refused_and_changes_nothing(
    gateway: Gateway, op: str, fields: dict[str, object]
) -> None:
    async with game_client(gateway.base_url, "p1") as p1:
        await _submit(p1, 3)
        reply = await p1.call(op, **fields)
        assert reply["ok"] is False and reply["error"]["code"] == "bad_request", reply
        top = await p1.ok("board.top", board="global")
        assert [(e["player_id"], e["score"]) for e in top["entries"]] == [("p1", 3)]
