"""Matchmaking over the game socket and the admin API, with a real worker running."""

from __future__ import annotations

import time

import pytest

from domain.matchmaking.worker import MatchmakingWorker
from tests.game_client import game_client
from tests.gateway_harness import Gateway

pytestmark = pytest.mark.usefixtures("clean_valkey")


async def test_two_players_in_duel_are_matched_and_both_told(
    gateway: Gateway, worker: MatchmakingWorker
) -> None:
    async with game_client(gateway.base_url, "a") as a, game_client(gateway.base_url, "b") as b:
        ticket_a = (await a.ok("match.join", queue="duel"))["ticket"]
        ticket_b = (await b.ok("match.join", queue="duel"))["ticket"]
        found_a = await a.next_event("match.found")
        found_b = await b.next_event("match.found")
        assert found_a["match_id"] == found_b["match_id"]
        assert found_a["queue"] == "duel" and found_a["ticket"] == ticket_a
        assert found_b["ticket"] == ticket_b
        assert sorted(p for team in found_a["teams"] for p in team) == ["a", "b"]
        assert all(len(team) == 1 for team in found_a["teams"])
        # The status tells the match too, for a player who missed the push.
        status = await a.ok("match.status", ticket=ticket_a)
        assert status["state"] == "matched"
        for field in ("match_id", "queue", "teams", "server"):
            assert status[field] == found_a[field], field
        presence = await a.ok("presence.get", player_ids=["a", "b"])
        assert presence["players"] == {"a": "in_match", "b": "in_match"}

        winner = found_a["teams"][0][0]
        async with gateway.admin() as admin:
            before = (await admin.get(f"/admin/v1/players/{winner}")).json()["rating"]
            result = await admin.post(
                f"/admin/v1/matches/{found_a['match_id']}/result", json={"ranks": [1, 2]}
            )
            assert result.status_code == 200, result.text
            again = await admin.post(
                f"/admin/v1/matches/{found_a['match_id']}/result", json={"ranks": [1, 2]}
            )
            assert again.json() == result.json()
            after = (await admin.get(f"/admin/v1/players/{winner}")).json()["rating"]
            assert after["mu"] > before["mu"]
            stats = (await admin.get("/admin/v1/queues")).json()["queues"]
            duel = next(q for q in stats if q["queue"] == "duel")
            assert duel["matches"] >= 1


async def test_join_errors(gateway: Gateway, worker: MatchmakingWorker) -> None:
    async with game_client(gateway.base_url, "a") as a:
        unknown = await a.call("match.join", queue="nope")
        assert unknown["error"]["code"] == "not_found"
        bad = await a.call("match.join", queue="bad name")
        assert bad["error"]["code"] == "bad_request"
        # Contract v2 dropped the party list: it queued others without their consent.
        old_party = await a.call("match.join", queue="duel", party=["a", "ghost"])
        assert old_party["error"]["code"] == "bad_request"
        ticket = (await a.ok("match.join", queue="duel"))["ticket"]
        twice = await a.call("match.join", queue="duel")
        assert twice["error"]["code"] == "conflict"
        await a.ok("match.cancel", ticket=ticket)
        assert (await a.ok("match.status", ticket=ticket))["state"] == "cancelled"
        missing = await a.call("match.status", ticket="0000000000.00000000")
        assert missing["error"]["code"] == "not_found"


async def test_only_a_member_may_cancel_a_ticket_or_ask_its_status(
    gateway: Gateway, worker: MatchmakingWorker
) -> None:
    async with gateway.admin() as admin:
        created = await admin.post(
            "/admin/v1/queues", json={"name": "solo3", "team_size": 1, "teams": 3}
        )
        assert created.status_code == 201, created.text
    async with game_client(gateway.base_url, "a") as a, game_client(gateway.base_url, "b") as b:
        ticket = (await a.ok("match.join", queue="solo3"))["ticket"]
        other = await b.call("match.cancel", ticket=ticket)
        assert other["error"]["code"] == "forbidden"
        peek = await b.call("match.status", ticket=ticket)
        assert peek["error"]["code"] == "forbidden"
        assert (await a.ok("match.status", ticket=ticket))["state"] == "searching"


async def test_a_ticket_past_its_wait_limit_expires_with_a_push(
    gateway: Gateway, worker: MatchmakingWorker
) -> None:
    async with gateway.admin() as admin:
        created = await admin.post(
            "/admin/v1/queues", json={"name": "quick", "team_size": 1, "teams": 2, "max_wait_s": 1}
        )
        assert created.status_code == 201, created.text
        assert (await admin.post("/admin/v1/queues", json={"name": "quick"})).status_code == 409
    async with game_client(gateway.base_url, "a") as a:
        ticket = (await a.ok("match.join", queue="quick"))["ticket"]
        expired = await a.next_event("match.expired", timeout=15)
        assert expired["ticket"] == ticket
        assert (await a.ok("match.status", ticket=ticket))["state"] == "expired"


@pytest.mark.parametrize(
    "body", [{}, {"name": "bad name"}, {"name": "q", "teams": 0}, {"name": "q", "team_size": "x"}]
)
async def test_bad_queue_definitions_are_refused(gateway: Gateway, body: dict[str, object]) -> None:
    async with gateway.admin() as admin:
        response = await admin.post("/admin/v1/queues", json=body)
        assert response.status_code == 400, response.text


async def test_a_queue_ranked_on_a_missing_or_non_set_board_is_refused(
    gateway: Gateway, worker: MatchmakingWorker
) -> None:
    async with gateway.admin() as admin:
        missing = await admin.post(
            "/admin/v1/queues", json={"name": "rq", "ranked_board": "no-such-board"}
        )
        assert missing.status_code == 404, missing.text
        assert missing.json()["error"]["code"] == "not_found"
        # `global` keeps the best score: an ordinal that went down would never show.
        best = await admin.post("/admin/v1/queues", json={"name": "rq", "ranked_board": "global"})
        assert best.status_code == 400, best.text
        queues = (await admin.get("/admin/v1/queues")).json()["queues"]
        assert "rq" not in [queue["queue"] for queue in queues]


async def test_a_result_is_checked_first_and_answered_even_when_the_ranked_board_is_gone(
    gateway: Gateway, worker: MatchmakingWorker
) -> None:
    async with gateway.admin() as admin:
        board = await admin.post("/admin/v1/boards", json={"name": "ranked", "operator": "set"})
        assert board.status_code == 201, board.text
        queue = await admin.post("/admin/v1/queues", json={"name": "rq", "ranked_board": "ranked"})
        assert queue.status_code == 201, queue.text
    async with game_client(gateway.base_url, "a") as a, game_client(gateway.base_url, "b") as b:
        await a.ok("match.join", queue="rq")
        await b.ok("match.join", queue="rq")
        found = await a.next_event("match.found")
    async with gateway.admin() as admin:
        assert (await admin.delete("/admin/v1/boards/ranked")).status_code == 204
        path = f"/admin/v1/matches/{found['match_id']}/result"
        misspelt = await admin.post(path, json={"ranks": [1, 2], "draw": True})
        assert misspelt.status_code == 400, misspelt.text
        view = (await admin.get(f"/admin/v1/matches/{found['match_id']}")).json()
        assert view["state"] == "started"
        result = await admin.post(path, json={"ranks": [1, 2]})
        # The ratings are committed before the board is fed: the answer says so.
        assert result.status_code == 200, result.text
        again = await admin.post(path, json={"ranks": [1, 2]})
        assert again.status_code == 200 and again.json() == result.json()
        winner = found["teams"][0][0]
        player = (await admin.get(f"/admin/v1/players/{winner}")).json()
        assert player["rating"] == result.json()["ratings"][winner]


async def test_a_ranked_queue_feeds_rating_ordinals_to_its_board(
    gateway: Gateway, worker: MatchmakingWorker
) -> None:
    async with gateway.admin() as admin:
        board = await admin.post("/admin/v1/boards", json={"name": "ranked", "operator": "set"})
        assert board.status_code == 201, board.text
        queue = await admin.post(
            "/admin/v1/queues",
            json={"name": "rq", "team_size": 1, "teams": 2, "ranked_board": "ranked"},
        )
        assert queue.status_code == 201, queue.text
    async with game_client(gateway.base_url, "a") as a, game_client(gateway.base_url, "b") as b:
        await a.ok("match.join", queue="rq")
        await b.ok("match.join", queue="rq")
        found = await a.next_event("match.found")
        await b.next_event("match.found")
    async with gateway.admin() as admin:
        result = await admin.post(
            f"/admin/v1/matches/{found['match_id']}/result", json={"ranks": [1, 2]}
        )
        assert result.status_code == 200, result.text
        ratings = result.json()["ratings"]
        view = (await admin.get("/admin/v1/boards/ranked")).json()
    winner, loser = found["teams"][0][0], found["teams"][1][0]
    assert [e["player_id"] for e in view["entries"]] == [winner, loser]
    assert [e["score"] for e in view["entries"]] == pytest.approx(
        [ratings[winner]["ordinal"], ratings[loser]["ordinal"]]
    )


async def test_an_operator_reads_a_match_with_its_queue_teams_server_state_and_start(
    gateway: Gateway, worker: MatchmakingWorker
) -> None:
    before = time.time()
    async with game_client(gateway.base_url, "a") as a, game_client(gateway.base_url, "b") as b:
        await a.ok("match.join", queue="duel")
        await b.ok("match.join", queue="duel")
        found = await a.next_event("match.found")
    async with gateway.admin() as admin:
        view = (await admin.get(f"/admin/v1/matches/{found['match_id']}")).json()
    assert (view["match_id"], view["queue"], view["teams"]) == (
        found["match_id"],
        "duel",
        found["teams"],
    )
    assert (view["server"], view["state"], view["backfill"]) == (None, "started", None)
    assert before - 1 <= view["created_at"] <= time.time() + 1
