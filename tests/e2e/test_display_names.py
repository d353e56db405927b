"""Display names in every board entry: top, around, players, the top push, the admin view."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from domain.accounts.service import NAME_CACHE_TTL_S
from tests.game_client import game_client, game_clients
from tests.gateway_harness import Gateway, gateway_settings, running_gateway

pytestmark = pytest.mark.usefixtures("clean_valkey")


def names(entries: list[dict[str, object]]) -> dict[object, object]:
    return {entry["player_id"]: entry["display_name"] for entry in entries}


async def test_every_entry_read_names_its_player(gateway: Gateway) -> None:
    async with contextlib.AsyncExitStack() as stack:
        clients = await game_clients(stack, gateway.base_url, ["ann", "bob"])
        await clients["ann"].ok("account.update", display_name="Ann")
        for score, client in enumerate(clients.values()):
            await client.ok("score.submit", board="global", score=score)
        ann = clients["ann"]
        expected = {"ann": "Ann", "bob": None}
        top = await ann.ok("board.top", board="global")
        assert names(top["entries"]) == expected
        assert list(top["entries"][0]) == [
            "rank", "player_id", "display_name", "score", "metadata"
        ]  # fmt: skip
        around = await ann.ok("board.around", board="global")
        assert names(around["entries"]) == expected
        players = await ann.ok("board.players", board="global", player_ids=["ann", "bob"])
        assert names(players["entries"]) == expected
    async with gateway.admin() as admin:
        view = (await admin.get("/admin/v1/boards/global")).json()
    assert names(view["entries"]) == expected


async def test_a_rename_shows_in_the_next_top_page(
    gateway: Gateway, cluster_seeds: tuple[tuple[str, int], ...]
) -> None:
    async with running_gateway(gateway_settings(cluster_seeds, "gw-b")) as other:
        async with game_client(gateway.base_url, "ann") as ann:
            await ann.ok("score.submit", board="global", score=5)
            async with game_client(other.base_url, "bob") as bob:
                before = await bob.ok("board.top", board="global")
                assert names(before["entries"]) == {"ann": None}
                await ann.ok("account.update", display_name="Ann")
                # The reading gateway learns the name within its name cache's lifetime.
                assert names((await ann.ok("board.top", board="global"))["entries"]) == {
                    "ann": "Ann"
                }
                await asyncio.sleep(NAME_CACHE_TTL_S + 0.1)
                after = await bob.ok("board.top", board="global")
                assert names(after["entries"]) == {"ann": "Ann"}


async def test_the_top_push_names_its_players(gateway: Gateway) -> None:
    async with contextlib.AsyncExitStack() as stack:
        clients = await game_clients(stack, gateway.base_url, ["ann", "bob"])
        await clients["ann"].ok("account.update", display_name="Ann")
        await clients["bob"].ok("board.subscribe", board="global", top=5)
        await clients["ann"].ok("score.submit", board="global", score=7)
        for _ in range(20):
            event = await clients["bob"].next_event("board.top")
            if event["entries"]:
                break
        assert names(event["entries"]) == {"ann": "Ann"}
