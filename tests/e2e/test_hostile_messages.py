"""Messages an attacker would send: each gets a plain `bad_request`, never `internal`."""

from __future__ import annotations

import asyncio
import logging

import orjson
import pytest

from tests.game_client import game_client
from tests.gateway_harness import Gateway

pytestmark = pytest.mark.usefixtures("clean_valkey")


def _nested(depth: int) -> str:
    # Built as text: orjson itself refuses to encode more than 254 levels.
    return "[" * depth + "1" + "]" * depth


async def test_a_deeply_nested_session_value_is_a_bad_request_without_a_traceback(
    gateway: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    async with game_client(gateway.base_url, "p1") as client:
        await client.ok("session.set", values={"keep": 1})
        with caplog.at_level(logging.ERROR):
            await client.send_raw(
                '{"op": "session.set", "id": 1, "values": {"deep": ' + _nested(300) + "}}"
            )
            reply = await asyncio.wait_for(client.orphan_replies.get(), 5)
        assert reply["ok"] is False and reply["error"]["code"] == "bad_request", reply
        assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"
        assert (await client.ok("session.get"))["values"] == {"keep": 1}


@pytest.mark.parametrize("request_id", [0, 7, -(2**53), 2**53, "", "r" * 64])
async def test_an_id_in_range_is_echoed_exactly(gateway: Gateway, request_id: object) -> None:
    async with game_client(gateway.base_url, "p1") as client:
        frame = b'{"op": "ping", "id": ' + orjson.dumps(request_id) + b"}"
        await client.send_raw(frame.decode())
        reply = await asyncio.wait_for(client.orphan_replies.get(), 5)
        assert reply["ok"] is True
        assert reply["id"] == request_id and type(reply["id"]) is type(request_id)


@pytest.mark.parametrize(
    "raw_id", ["9007199254740993", "-9007199254740993", "1e300", "1.5", "3.0", '"' + "r" * 65 + '"']
)
async def test_an_id_that_would_not_come_back_exactly_is_a_bad_request(
    gateway: Gateway, raw_id: str
) -> None:
    async with game_client(gateway.base_url, "p1") as client:
        await client.send_raw('{"op": "ping", "id": ' + raw_id + "}")
        reply = await asyncio.wait_for(client.orphan_replies.get(), 5)
        assert reply["ok"] is False and reply["error"]["code"] == "bad_request"
        assert "id" not in reply
        await client.ok("ping")


async def test_a_huge_unknown_op_is_not_echoed_back_whole(gateway: Gateway) -> None:
    async with game_client(gateway.base_url, "p1") as client:
        reply = await client.call("x" * 16_000)
        assert reply["ok"] is False and reply["error"]["code"] == "bad_request"
        assert len(reply["error"]["message"]) < 200
