"""The boards and queues a gateway starts with: the embedded default, or GAMESERVER_CONFIG."""

from __future__ import annotations

from pathlib import Path

import pytest

from gameserver.settings import settings_from_env
from tests.game_client import game_client
from tests.gateway_harness import Gateway, gateway_settings, running_gateway

pytestmark = pytest.mark.usefixtures("clean_valkey")


async def test_the_default_has_boards_global_and_weekly_and_queue_duel(gateway: Gateway) -> None:
    async with game_client(gateway.base_url, "p1") as client:
        boards = {b["name"]: b for b in (await client.ok("board.list"))["boards"]}
    shapes = {name: (b["order"], b["operator"], b["reset"]) for name, b in boards.items()}
    assert shapes == {"global": ("desc", "best", "never"), "weekly": ("desc", "best", "weekly")}
    async with gateway.admin() as admin:
        queues = (await admin.get("/admin/v1/queues")).json()["queues"]
    assert [(q["queue"], q["teams"], q["team_size"]) for q in queues] == [("duel", 2, 1)]


async def test_gameserver_config_names_the_boards_and_queues_to_create(
    cluster_seeds: tuple[tuple[str, int], ...], tmp_path: Path
) -> None:
    path = tmp_path / "game.toml"
    path.write_text(
        '[[boards]]\nname = "laps"\norder = "asc"\noperator = "best"\n\n'
        '[[queues]]\nname = "trio"\nteam_size = 3\nteams = 2\n'
    )
    config_path = settings_from_env({"GAMESERVER_CONFIG": str(path)}).config_path
    settings = gateway_settings(cluster_seeds, "gw-config", config_path=config_path)
    async with running_gateway(settings) as gateway:
        async with game_client(gateway.base_url, "p1") as client:
            boards = (await client.ok("board.list"))["boards"]
            assert [(b["name"], b["order"]) for b in boards] == [("laps", "asc")]
            unknown = await client.call("score.submit", board="global", score=1)
            assert unknown["error"]["code"] == "not_found"
        async with gateway.admin() as admin:
            queues = (await admin.get("/admin/v1/queues")).json()["queues"]
        assert [(q["queue"], q["teams"], q["team_size"]) for q in queues] == [("trio", 2, 3)]


@pytest.mark.parametrize(
    ("boards", "refusal"),
    [("", "no board named ladder"), ('[[boards]]\nname = "ladder"\n\n', "operator set")],
    ids=["missing", "not-set"],
)
async def test_a_configured_queue_ranked_on_a_missing_or_non_set_board_stops_the_start(
    cluster_seeds: tuple[tuple[str, int], ...],
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
    boards: str,
    refusal: str,
) -> None:
    path = tmp_path / "game.toml"
    path.write_text(boards + '[[queues]]\nname = "ranked"\nranked_board = "ladder"\n')
    config_path = settings_from_env({"GAMESERVER_CONFIG": str(path)}).config_path
    settings = gateway_settings(cluster_seeds, "gw-ranked", config_path=config_path)
    with pytest.raises(RuntimeError, match="did not start"):
        async with running_gateway(settings):
            pass
    # uvicorn logs why the start-up failed on the process's stderr.
    assert refusal in capfd.readouterr().err
