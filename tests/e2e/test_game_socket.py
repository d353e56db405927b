"""The game socket: authentication, the envelope, errors, limits, values and presence."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from tests.game_client import create_session, game_client
from tests.gateway_harness import Gateway, gateway_settings, running_gateway

pytestmark = pytest.mark.usefixtures("clean_valkey")


@pytest.mark.parametrize("token", ["", "garbage", "a.b", "x" * 5000])
async def test_a_bad_token_is_closed_with_4401(gateway: Gateway, token: str) -> None:
    async with game_client(gateway.base_url, "p1", token=token or "none") as client:
        assert await client.wait_closed() == 4401


async def test_a_tampered_token_is_closed_with_4401(gateway: Gateway) -> None:
    token = (await create_session(gateway.base_url, "p1"))["token"]
    payload, mac = token.split(".")
    tampered = payload + "." + ("A" if mac[0] != "A" else "B") + mac[1:]
    async with game_client(gateway.base_url, "p1", token=tampered) as client:
        assert await client.wait_closed() == 4401


async def test_a_token_with_its_mac_cut_off_is_closed_with_4401(gateway: Gateway) -> None:
    payload, mac = (await create_session(gateway.base_url, "p1"))["token"].split(".")
    for forged in (payload + ".", f"{payload}.{mac[:10]}"):
        async with game_client(gateway.base_url, "p1", token=forged) as client:
            assert await client.wait_closed() == 4401


async def test_an_expired_token_is_closed_with_4401(
    cluster_seeds: tuple[tuple[str, int], ...],
) -> None:
    async with running_gateway(
        gateway_settings(cluster_seeds, "gw-short", token_lifetime_s=1)
    ) as short:
        token = (await create_session(short.base_url, "p1"))["token"]
        await asyncio.sleep(2.1)
        async with game_client(short.base_url, "p1", token=token) as client:
            assert await client.wait_closed() == 4401


async def test_an_idle_session_without_socket_expires(
    cluster_seeds: tuple[tuple[str, int], ...],
) -> None:
    async with running_gateway(gateway_settings(cluster_seeds, "gw-ttl", session_ttl_s=1)) as gw:
        token = (await create_session(gw.base_url, "p1"))["token"]
        await asyncio.sleep(1.5)
        async with game_client(gw.base_url, "p1", token=token) as client:
            assert await client.wait_closed() == 4401


async def test_an_open_socket_keeps_its_session_alive(
    cluster_seeds: tuple[tuple[str, int], ...],
) -> None:
    async with running_gateway(gateway_settings(cluster_seeds, "gw-ttl2", session_ttl_s=1)) as gw:
        async with game_client(gw.base_url, "p1") as client:
            await asyncio.sleep(2.5)
            reply = await client.ok("session.get")
            assert reply["values"] == {}


async def test_ping_answers_server_time_and_echoes_the_id(gateway: Gateway) -> None:
    async with game_client(gateway.base_url, "p1") as client:
        reply = await client.ok("ping")
        assert isinstance(reply["server_time"], int) and reply["id"].startswith("r")


@pytest.mark.parametrize(
    "frame", ["not json", "[1, 2]", '"text"', '{"op": "ping", "x": 1e999}', "{}", '{"id": {}}']
)
async def test_an_unparsable_frame_gets_one_error_without_id(gateway: Gateway, frame: str) -> None:
    async with game_client(gateway.base_url, "p1") as client:
        await client.send_raw(frame)
        reply = await asyncio.wait_for(client.orphan_replies.get(), 5)
        assert reply["ok"] is False and reply["error"]["code"] == "bad_request"
        assert "id" not in reply
        await client.ok("ping")  # the socket stays open


async def test_an_unknown_op_is_a_bad_request_with_the_id(gateway: Gateway) -> None:
    async with game_client(gateway.base_url, "p1") as client:
        reply = await client.call("no.such.op")
        assert reply["ok"] is False and reply["error"]["code"] == "bad_request"


async def test_a_frame_over_the_size_limit_closes_with_1009(gateway: Gateway) -> None:
    async with game_client(gateway.base_url, "p1") as client:
        await client.send_raw(orjson.dumps({"op": "ping", "pad": "x" * 20_000}).decode())
        assert await client.wait_closed() == 1009


async def test_a_flood_is_rate_limited_without_closing(
    cluster_seeds: tuple[tuple[str, int], ...],
) -> None:
    settings = gateway_settings(cluster_seeds, "gw-rl", rate_limit_per_s=1.0, rate_limit_burst=3)
    async with running_gateway(settings) as gw, game_client(gw.base_url, "p1") as client:
        replies = [await client.call("ping") for _ in range(6)]
        codes = [r["error"]["code"] for r in replies if not r["ok"]]
        assert codes and set(codes) == {"rate_limited"}
        await asyncio.sleep(1.2)
        await client.ok("ping")


async def test_session_values_round_trip_and_merge(gateway: Gateway) -> None:
    async with game_client(gateway.base_url, "p1") as client:
        await client.ok("session.set", values={"deck": [1, 2, 3], "skin": "red"})
        await client.ok("session.set", values={"skin": "blue", "level": {"n": 3}})
        everything = await client.ok("session.get")
        assert everything["values"] == {"deck": [1, 2, 3], "skin": "blue", "level": {"n": 3}}
        some = await client.ok("session.get", keys=["skin", "absent"])
        assert some["values"] == {"skin": "blue"}


async def test_a_new_login_starts_with_no_session_values(gateway: Gateway) -> None:
    async with game_client(gateway.base_url, "p1") as first:
        await first.ok("session.set", values={"deck": [1, 2, 3]})
        async with game_client(gateway.base_url, "p1") as second:
            assert await first.wait_closed() == 4409
            assert (await second.ok("session.get"))["values"] == {}


@pytest.mark.parametrize(
    "values", [None, {}, [1], "x", {"big": "x" * 5000}, {"": 1}, {"k" * 200: 1}]
)
async def test_bad_session_values_are_refused_and_change_nothing(
    gateway: Gateway, values: object
) -> None:
    async with game_client(gateway.base_url, "p1") as client:
        await client.ok("session.set", values={"keep": 1})
        reply = await client.call("session.set", values=values)
        assert reply["ok"] is False and reply["error"]["code"] == "bad_request"
        assert (await client.ok("session.get"))["values"] == {"keep": 1}


async def test_session_values_are_limited_in_total_not_just_per_call(gateway: Gateway) -> None:
    async with game_client(gateway.base_url, "p1") as client:
        await client.ok("session.set", values={"a": "x" * 3000})
        reply = await client.call("session.set", values={"b": "y" * 3000})
        assert reply["ok"] is False and reply["error"]["code"] == "bad_request"
        assert (await client.ok("session.get"))["values"] == {"a": "x" * 3000}


async def test_presence_reports_online_and_offline(gateway: Gateway) -> None:
    async with game_client(gateway.base_url, "p1") as p1, game_client(gateway.base_url, "p2"):
        reply = await p1.ok("presence.get", player_ids=["p1", "p2", "ghost"])
        assert reply["players"] == {"p1": "online", "p2": "online", "ghost": "offline"}


@pytest.mark.parametrize("player_ids", [None, "p1", ["bad id"], [f"p{i}" for i in range(101)]])
async def test_bad_presence_requests_are_refused(gateway: Gateway, player_ids: object) -> None:
    async with game_client(gateway.base_url, "p1") as client:
        reply = await client.call("presence.get", player_ids=player_ids)
        assert reply["ok"] is False and reply["error"]["code"] == "bad_request"


async def test_session_values_may_total_4_kib_and_not_a_byte_more(gateway: Gateway) -> None:
    async with game_client(gateway.base_url, "p1") as client:
        # The key "a" and the JSON string '"x...x"': 1 + 4095 bytes.
        await client.ok("session.set", values={"a": "x" * 4093})
        reply = await client.call("session.set", values={"a": "x" * 4094})
        assert reply["ok"] is False and reply["error"]["code"] == "bad_request"


async def test_presence_takes_100_players(gateway: Gateway) -> None:
    async with game_client(gateway.base_url, "p1") as client:
        reply = await client.ok("presence.get", player_ids=[f"p{i}" for i in range(100)])
        assert len(reply["players"]) == 100 and reply["players"]["p1"] == "online"


async def test_a_frame_of_exactly_16_kib_is_taken_and_one_byte_more_closes_with_1009(
    gateway: Gateway,
) -> None:
    empty = orjson.dumps({"op": "ping", "pad": ""}).decode()
    async with game_client(gateway.base_url, "p1") as client:
        await client.send_raw(
            orjson.dumps({"op": "ping", "pad": "x" * (16384 - len(empty))}).decode()
        )
        assert (await asyncio.wait_for(client.orphan_replies.get(), 5))["ok"] is True
        await client.send_raw(
            orjson.dumps({"op": "ping", "pad": "x" * (16385 - len(empty))}).decode()
        )
        assert await client.wait_closed() == 1009
