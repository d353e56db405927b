"""Admin board endpoints: create, list, inspect, delete, submit, remove, reset."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.gateway_harness import Gateway, gateway_settings, running_gateway


async def _scores(admin: httpx.AsyncClient, board: str, scores: dict[str, float]) -> None:
    for player, score in scores.items():
        response = await admin.post(
            f"/admin/v1/boards/{board}/scores", json={"player_id": player, "score": score}
        )
        assert response.status_code == 200, response.text


async def test_board_endpoints_need_the_admin_key(gateway: Gateway) -> None:
    async with httpx.AsyncClient(base_url=gateway.base_url) as anonymous:
        assert (await anonymous.get("/admin/v1/boards")).status_code == 401
        wrong = {"Authorization": "Bearer wrong"}
        assert (
            await anonymous.post("/admin/v1/boards/global/reset", headers=wrong)
        ).status_code == 403


async def test_create_list_inspect_and_delete_a_board(gateway: Gateway) -> None:
    async with gateway.admin() as admin:
        body = {"name": "laps", "order": "asc", "operator": "best", "reset": "daily"}
        created = await admin.post("/admin/v1/boards", json=body)
        assert created.status_code == 201, created.text
        assert created.json()["order"] == "asc"
        assert (await admin.post("/admin/v1/boards", json=body)).status_code == 409

        await _scores(admin, "laps", {"a": 61.5, "b": 59.25, "c": 70})
        listed = {b["name"]: b for b in (await admin.get("/admin/v1/boards")).json()["boards"]}
        assert set(listed) == {"global", "weekly", "laps"}
        assert listed["laps"]["count"] == 3 and listed["global"]["count"] == 0

        view = (await admin.get("/admin/v1/boards/laps", params={"limit": 2})).json()
        assert view["count"] == 3
        assert [e["player_id"] for e in view["entries"]] == ["b", "a"]
        rest = await admin.get("/admin/v1/boards/laps", params={"cursor": view["next_cursor"]})
        assert [e["player_id"] for e in rest.json()["entries"]] == ["c"]

        assert (await admin.delete("/admin/v1/boards/laps")).status_code == 204
        assert (await admin.get("/admin/v1/boards/laps")).status_code == 404
        assert (await admin.delete("/admin/v1/boards/laps")).status_code == 404


async def test_removing_a_player_closes_up_the_ranks(gateway: Gateway) -> None:
    async with gateway.admin() as admin:
        await _scores(admin, "global", {"a": 3, "b": 2, "c": 1})
        assert (await admin.delete("/admin/v1/boards/global/players/a")).status_code == 204
        view = (await admin.get("/admin/v1/boards/global")).json()
        assert [(e["player_id"], e["rank"]) for e in view["entries"]] == [("b", 1), ("c", 2)]
        assert (await admin.delete("/admin/v1/boards/global/players/a")).status_code == 404


async def test_a_reset_archives_the_period_and_starts_empty(gateway: Gateway) -> None:
    async with gateway.admin() as admin:
        await _scores(admin, "weekly", {"a": 3, "b": 2})
        before = (await admin.get("/admin/v1/boards/weekly")).json()
        assert (await admin.post("/admin/v1/boards/weekly/reset")).status_code == 204
        after = (await admin.get("/admin/v1/boards/weekly")).json()
        assert after["count"] == 0 and after["period"] != before["period"]
        archived = await admin.get("/admin/v1/boards/weekly", params={"period": before["period"]})
        assert [e["player_id"] for e in archived.json()["entries"]] == ["a", "b"]


async def test_the_player_view_lists_boards(gateway: Gateway) -> None:
    async with gateway.admin() as admin:
        await _scores(admin, "global", {"a": 3, "b": 5})
        view = (await admin.get("/admin/v1/players/a")).json()
        assert view["boards"] == [{"board": "global", "rank": 2, "score": 3}]
        assert view["rating"]["mu"] > 0


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"name": "bad name"},
        {"name": "x", "order": "up"},
        {"name": "x", "operator": "max"},
        {"name": "x", "reset": "hourly"},
    ],
)
async def test_bad_board_definitions_are_refused(gateway: Gateway, body: dict[str, object]) -> None:
    async with gateway.admin() as admin:
        response = await admin.post("/admin/v1/boards", json=body)
        assert response.status_code == 400, response.text
        assert {b["name"] for b in (await admin.get("/admin/v1/boards")).json()["boards"]} == {
            "global",
            "weekly",
        }


@pytest.mark.parametrize(
    "body",
    [
        {"player_id": "a"},
        {"player_id": "a", "score": "1"},
        {"score": 1},
        {"player_id": 1, "score": 1},
        # A misspelt field is refused, not dropped: a retry without its id applies twice.
        {"player_id": "a", "score": 1, "requestId": "r1"},
        {"player_id": "a", "score": 1, "meta": {"kills": 3}},
    ],
)
async def test_bad_admin_submits_are_refused(gateway: Gateway, body: dict[str, object]) -> None:
    async with gateway.admin() as admin:
        response = await admin.post("/admin/v1/boards/global/scores", json=body)
        assert response.status_code == 400, response.text
        assert response.json()["error"]["code"] == "bad_request"
        assert (await admin.get("/admin/v1/boards/global")).json()["count"] == 0


async def test_a_config_file_creates_its_boards_and_queues_at_start_up(
    cluster_seeds: tuple[tuple[str, int], ...], clean_valkey: object
) -> None:
    example = Path(__file__).parents[2] / "examples" / "gameserver.toml"
    settings = gateway_settings(cluster_seeds, "gw-config", config_path=example)
    async with running_gateway(settings) as configured, configured.admin() as admin:
        listed = (await admin.get("/admin/v1/boards")).json()["boards"]
        boards = {b["name"]: b for b in listed}
        assert set(boards) == {"global", "weekly", "laps", "spring-cup", "ranked"}
        assert (boards["laps"]["min_score"], boards["spring-cup"]["max_attempts"]) == (20, 3)
        queues = {q["queue"] for q in (await admin.get("/admin/v1/queues")).json()["queues"]}
        assert queues == {"duel", "squads", "arena", "royale"}
