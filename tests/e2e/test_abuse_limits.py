"""Abuse limits at the gateway's edge: logins, sockets, floods, bodies, admin keys, origins."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import httpx
import orjson
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.game_client import create_session, game_client
from tests.gateway_harness import ADMIN_KEY, Gateway, gateway_settings, running_gateway

pytestmark = pytest.mark.usefixtures("clean_valkey")

Seeds = tuple[tuple[str, int], ...]


def refusals(gw: Gateway, reason: str) -> float:
    """The gateway's count of refusals for `reason` (gameserver_edge_refusals_total)."""
    registry = gw.services.metrics.registry
    value = registry.get_sample_value("gameserver_edge_refusals_total", {"reason": reason})
    return float(value or 0.0)


async def _login_attempts(base_url: str, count: int, **headers: str) -> list[httpx.Response]:
    # Any body: the limit counts attempts before it looks at the credential.
    async with httpx.AsyncClient(base_url=base_url) as http:
        return [await http.post("/v1/sessions", json={}, headers=headers) for _ in range(count)]


async def test_logins_over_the_burst_are_429_with_retry_after(cluster_seeds: Seeds) -> None:
    settings = gateway_settings(cluster_seeds, "gw-login", login_rate_per_s=0.5, login_burst=3)
    async with running_gateway(settings) as gw:
        replies = await _login_attempts(gw.base_url, 4)
        assert refusals(gw, "login_rate") == 1
    assert [r.status_code != 429 for r in replies] == [True, True, True, False]
    refused = replies[-1]
    assert refused.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(refused.headers["Retry-After"]) <= 2


async def test_the_login_limit_holds_across_gateways(cluster_seeds: Seeds) -> None:
    limits = {"login_rate_per_s": 0.5, "login_burst": 2}
    async with (
        running_gateway(gateway_settings(cluster_seeds, "gw-l1", **limits)) as one,
        running_gateway(gateway_settings(cluster_seeds, "gw-l2", **limits)) as two,
    ):
        assert all(r.status_code != 429 for r in await _login_attempts(one.base_url, 2))
        (refused,) = await _login_attempts(two.base_url, 1)
    assert refused.status_code == 429


async def test_x_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy(
    cluster_seeds: Seeds,
) -> None:
    limits = {"login_rate_per_s": 0.5, "login_burst": 2}
    async with running_gateway(gateway_settings(cluster_seeds, "gw-xff", **limits)) as gw:
        spoofed = [
            (await _login_attempts(gw.base_url, 1, **{"X-Forwarded-For": f"10.0.0.{i}"}))[0]
            for i in range(3)
        ]
    assert spoofed[-1].status_code == 429


async def test_behind_a_trusted_proxy_each_client_address_has_its_own_limit(
    cluster_seeds: Seeds,
) -> None:
    settings = gateway_settings(
        cluster_seeds,
        "gw-proxy",
        login_rate_per_s=0.5,
        login_burst=2,
        trusted_proxies=("127.0.0.1", "10.9.0.0/16"),
    )
    async with running_gateway(settings) as gw:
        # The client wrote the left part itself; the proxies (trusted) appended the rest.
        first = await _login_attempts(gw.base_url, 3, **{"X-Forwarded-For": "1.2.3.4, 10.9.0.1"})
        forged = await _login_attempts(
            gw.base_url, 1, **{"X-Forwarded-For": "7.7.7.7, 1.2.3.4, 10.9.0.1"}
        )
        other = await _login_attempts(gw.base_url, 1, **{"X-Forwarded-For": "5.6.7.8"})
    assert [r.status_code == 429 for r in first] == [False, False, True]
    assert forged[0].status_code == 429  # still 1.2.3.4: the rightmost untrusted hop
    assert other[0].status_code != 429


async def test_sockets_beyond_the_cap_per_address_are_refused(cluster_seeds: Seeds) -> None:
    settings = gateway_settings(cluster_seeds, "gw-cap", max_sockets_per_address=2)
    async with running_gateway(settings) as gw:
        async with game_client(gw.base_url, "p1"), game_client(gw.base_url, "p2"):
            token = (await create_session(gw.base_url, "p3"))["token"]
            url = gw.base_url.replace("http://", "ws://") + f"/v1/ws?token={token}"
            with pytest.raises(InvalidStatus) as refused:
                await connect(url)
            assert refused.value.response.status_code == 429
            assert refusals(gw, "sockets_per_address") == 1
        # Closed sockets free their places, once the gateway has seen them end (a busy
        # machine may take a while: polled, within a bound).
        for _ in range(100):
            try:
                async with game_client(gw.base_url, "p3") as third:
                    await third.ok("ping")
                break
            except InvalidStatus as still_refused:
                assert still_refused.response.status_code == 429
                await asyncio.sleep(0.1)
        else:
            pytest.fail("the closed sockets' places were not freed within 10 s")


async def test_admin_sockets_that_have_not_sent_the_key_are_capped_per_address(
    cluster_seeds: Seeds,
) -> None:
    settings = gateway_settings(
        cluster_seeds, "gw-admin-cap", max_admin_sockets_awaiting_key_per_address=2
    )
    auth = orjson.dumps({"id": 1, "op": "admin.auth", "key": ADMIN_KEY}).decode()
    async with running_gateway(settings) as gw:
        url = gw.base_url.replace("http://", "ws://") + "/admin/v1/ws"
        async with connect(url) as first, connect(url):
            with pytest.raises(InvalidStatus) as refused:
                await connect(url)
            assert refused.value.response.status_code == 429
            body = orjson.loads(refused.value.response.body or b"{}")
            assert body["error"]["code"] == "rate_limited"
            assert refusals(gw, "sockets_per_address") == 1
            # A socket that gave the key no longer counts against its address.
            await first.send(auth)
            assert orjson.loads(await asyncio.wait_for(first.recv(), 10))["ok"]
            async with connect(url) as third:
                await third.send(auth)
                assert orjson.loads(await asyncio.wait_for(third.recv(), 10))["ok"]


# 5 messages a second; over that without a pause for a second, the socket is closed.
FLOOD_LIMITS = {"rate_limit_per_s": 5.0, "rate_limit_burst": 5, "rate_limit_close_after_s": 1.0}


async def test_a_socket_that_keeps_flooding_is_closed_with_1008(cluster_seeds: Seeds) -> None:
    settings = gateway_settings(cluster_seeds, "gw-flood", **FLOOD_LIMITS)
    async with running_gateway(settings) as gw, game_client(gw.base_url, "p1") as client:
        for _ in range(400):  # bounded: 4 s of pings at 100 a second
            if client.closed.done():
                break
            await client.send_raw('{"op": "ping"}')
            await asyncio.sleep(0.01)
        assert await client.wait_closed() == 1008
        assert refusals(gw, "message_flood") == 1


async def test_a_short_burst_over_the_rate_is_refused_but_not_closed(
    cluster_seeds: Seeds,
) -> None:
    settings = gateway_settings(cluster_seeds, "gw-burst", **FLOOD_LIMITS)
    async with running_gateway(settings) as gw, game_client(gw.base_url, "p1") as client:
        for _ in range(3):
            replies = [await client.call("ping") for _ in range(10)]
            assert any(not r["ok"] for r in replies)
            await asyncio.sleep(1.5)  # backs off: the bucket refills
        await client.ok("ping")
        assert not client.closed.done()


@pytest.fixture
async def small_bodies(cluster_seeds: Seeds) -> AsyncIterator[Gateway]:
    settings = gateway_settings(cluster_seeds, "gw-body", max_body_bytes=1024)
    async with running_gateway(settings) as gw:
        yield gw


@pytest.mark.parametrize("path", ["/v1/sessions", "/admin/v1/boards", "/healthz"])
async def test_a_declared_body_over_the_cap_is_413_before_it_is_read(
    small_bodies: Gateway, path: str
) -> None:
    body = orjson.dumps({"pad": "x" * 5000})
    async with small_bodies.admin() as http:
        response = await http.post(path, content=body)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "bad_request"
    assert refusals(small_bodies, "body_too_large") == 1


async def test_a_declared_length_over_the_cap_is_refused_without_waiting_for_the_body(
    small_bodies: Gateway,
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", small_bodies.settings.port)
    writer.write(b"POST /v1/sessions HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n")
    await writer.drain()  # and not one byte of the body
    status_line = await asyncio.wait_for(reader.readline(), 5)
    writer.close()
    assert status_line.startswith(b"HTTP/1.1 413")


async def test_a_streamed_body_over_the_cap_is_413(small_bodies: Gateway) -> None:
    # Chunked: no Content-Length to judge by, so the cap counts the bytes as they come.
    reader, writer = await asyncio.open_connection("127.0.0.1", small_bodies.settings.port)
    writer.write(
        b"POST /v1/sessions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
        b"Content-Type: application/json\r\n\r\n"
    )
    for _ in range(4):
        writer.write(b"200\r\n" + b"x" * 512 + b"\r\n")
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line == b"HTTP/1.1 413 Request Entity Too Large"
    assert orjson.loads(rest.partition(b"\r\n\r\n")[2])["error"]["code"] == "bad_request"


async def test_a_body_within_the_cap_still_reaches_the_handler(small_bodies: Gateway) -> None:
    async with small_bodies.admin() as http:
        response = await http.post("/admin/v1/boards", json={"name": "small"})
    assert response.status_code == 201, response.text


async def test_a_connection_that_never_finishes_its_headers_is_closed(
    cluster_seeds: Seeds,
) -> None:
    settings = gateway_settings(cluster_seeds, "gw-slow", header_timeout_s=0.5)
    async with running_gateway(settings):
        reader, writer = await asyncio.open_connection("127.0.0.1", settings.port)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # no blank line: unfinished
        await writer.drain()
        assert await asyncio.wait_for(reader.read(), 5) == b""
        writer.close()


async def test_an_idle_keep_alive_connection_is_closed(cluster_seeds: Seeds) -> None:
    settings = gateway_settings(cluster_seeds, "gw-idle", idle_timeout_s=1)
    async with running_gateway(settings):
        reader, writer = await asyncio.open_connection("127.0.0.1", settings.port)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        await writer.drain()
        answer = await asyncio.wait_for(reader.readuntil(b'{"status":"ok"}'), 5)
        assert answer.startswith(b"HTTP/1.1 200")
        assert await asyncio.wait_for(reader.read(), 5) == b""
        writer.close()


async def test_wrong_admin_keys_are_throttled_per_address(cluster_seeds: Seeds) -> None:
    settings = gateway_settings(
        cluster_seeds,
        "gw-keys",
        admin_failure_burst=3,
        admin_failures_per_min=1.0,
        trusted_proxies=("127.0.0.1",),
    )
    wrong = {"Authorization": "Bearer guess", "X-Forwarded-For": "6.6.6.6"}
    right = {"Authorization": f"Bearer {ADMIN_KEY}"}
    async with running_gateway(settings) as gw, httpx.AsyncClient(base_url=gw.base_url) as http:
        guesses = [
            (await http.get("/admin/v1/boards", headers=wrong)).status_code for _ in range(4)
        ]
        blocked = await http.get(
            "/admin/v1/boards", headers={**right, "X-Forwarded-For": "6.6.6.6"}
        )
        elsewhere = await http.get("/admin/v1/boards", headers=right)
        assert refusals(gw, "admin_key_throttle") == 2
    assert guesses == [403, 403, 403, 429]
    assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) >= 1
    assert elsewhere.status_code == 200


async def test_every_admin_call_is_logged_without_the_key(
    gateway: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="gameserver.access"):
        async with gateway.admin() as http:
            await http.get("/admin/v1/boards")
            await http.get("/admin/v1/boards", headers={"Authorization": "Bearer not-it"})
    lines = [r.getMessage() for r in caplog.records if r.name == "gameserver.access"]
    assert len(lines) == 2
    assert "GET /admin/v1/boards 200 from 127.0.0.1" in lines[0]
    assert "GET /admin/v1/boards 403 from 127.0.0.1" in lines[1]
    assert not any(ADMIN_KEY in line or "not-it" in line for line in lines)


async def test_an_admin_key_in_the_url_is_refused_and_never_logged(
    gateway: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    # The key goes in the Authorization header only: a URL ends up in proxies' logs.
    with caplog.at_level(logging.INFO, logger="gameserver.access"):
        async with httpx.AsyncClient(base_url=gateway.base_url) as http:
            for name in ("key", "admin_key", "token", "access_token"):
                response = await http.get(f"/admin/v1/boards?{name}={ADMIN_KEY}")
                assert response.status_code == 401, name
    lines = [r.getMessage() for r in caplog.records if r.name == "gameserver.access"]
    assert len(lines) == 4
    assert not any(ADMIN_KEY in line for line in lines)


async def test_an_upgrade_from_an_origin_not_allowed_is_403(cluster_seeds: Seeds) -> None:
    settings = gateway_settings(
        cluster_seeds, "gw-origin", allowed_origins=("https://game.example",)
    )
    async with running_gateway(settings) as gw:
        token = (await create_session(gw.base_url, "p1"))["token"]
        url = gw.base_url.replace("http://", "ws://") + f"/v1/ws?token={token}"
        with pytest.raises(InvalidStatus) as refused:
            await connect(url, origin="https://evil.example")  # type: ignore[arg-type]
        assert refused.value.response.status_code == 403
        assert refusals(gw, "origin") == 1
        async with connect(url, origin="https://game.example") as allowed:  # type: ignore[arg-type]
            await allowed.send('{"op": "ping", "id": 1}')
            assert orjson.loads(await allowed.recv())["ok"] is True


async def test_the_token_may_come_in_an_authorization_header(gateway: Gateway) -> None:
    token = (await create_session(gateway.base_url, "p1"))["token"]
    url = gateway.base_url.replace("http://", "ws://") + "/v1/ws"
    async with connect(url, additional_headers={"Authorization": f"Bearer {token}"}) as socket:
        await socket.send('{"op": "ping", "id": 1}')
        assert orjson.loads(await socket.recv())["ok"] is True
    async with connect(url, additional_headers={"Authorization": "Bearer forged"}) as socket:
        await socket.wait_closed()
        assert socket.close_code == 4401
