"""What the dashboard reads: `GET /admin/v1/cluster`, the admin socket, the page itself."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import httpx
import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from gameserver.gateway import figures
from tests.game_client import game_client, game_clients
from tests.gateway_harness import ADMIN_KEY, Gateway, free_port, gateway_settings, running_gateway

Seeds = tuple[tuple[str, int], ...]
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
_TIMEOUT_S = 10.0


def _socket_url(base_url: str) -> str:
    return base_url.replace("http://", "ws://") + "/admin/v1/ws"


async def _call(socket: ClientConnection, request: dict[str, Any]) -> dict[str, Any]:
    await socket.send(orjson.dumps(request).decode())
    while True:
        message: dict[str, Any] = orjson.loads(await asyncio.wait_for(socket.recv(), _TIMEOUT_S))
        if message.get("id") == request.get("id") and "ok" in message:
            return message


async def _next_top(socket: ClientConnection, board: str) -> list[dict[str, Any]]:
    while True:
        message = orjson.loads(await asyncio.wait_for(socket.recv(), _TIMEOUT_S))
        if message.get("event") == "board.top" and message["board"] == board:
            entries: list[dict[str, Any]] = message["entries"]
            return entries


async def _close_code(socket: ClientConnection) -> int | None:
    with pytest.raises(ConnectionClosed):
        while True:
            await asyncio.wait_for(socket.recv(), _TIMEOUT_S)
    return socket.close_code


async def test_cluster_lists_every_node_with_role_slots_memory_and_up(gateway: Gateway) -> None:
    async with gateway.admin() as admin:
        response = await admin.get("/admin/v1/cluster")
    assert response.status_code == 200, response.text
    nodes = response.json()["nodes"]
    primaries = [node for node in nodes if node["role"] == "primary"]
    replicas = [node for node in nodes if node["role"] == "replica"]
    assert primaries and replicas
    covered = sum(end - start + 1 for node in primaries for start, end in node["slots"])
    assert covered == 16384
    ids = {node["id"] for node in primaries}
    for node in nodes:
        assert node["up"] is True, node
        assert node["used_memory"] > 0 and node["ops_per_s"] >= 0
        assert node["repl_offset"] is not None
    for replica in replicas:
        assert replica["primary_id"] in ids and replica["slots"] == []
        assert replica["repl_lag_bytes"] >= 0 and replica["link"] == "up"


async def _gateway_figures(gateway: Gateway, done: Any) -> dict[str, Any]:
    """`GET /admin/v1/gateways` once `done(figures)` holds: the other gateways report
    every 2 s, and this waits less than a report is kept (10 s)."""
    async with gateway.admin() as admin:
        for _ in range(24):
            response = await admin.get("/admin/v1/gateways")
            assert response.status_code == 200, response.text
            figures: dict[str, Any] = response.json()
            if done(figures):
                return figures
            await asyncio.sleep(0.25)
    raise AssertionError(f"gateway figures never settled: {figures}")


async def test_gateways_sum_sessions_online_and_logins_over_every_gateway(
    gateway: Gateway, cluster_seeds: Seeds
) -> None:
    settings = gateway_settings(cluster_seeds, "gw-figures")
    async with running_gateway(settings) as other:
        async with (
            game_client(gateway.base_url, "ann"),
            game_client(other.base_url, "bob"),
            game_client(other.base_url, "cat"),
        ):
            figures = await _gateway_figures(
                gateway,
                lambda f: len(f["gateways"]) == 2 and f["sessions_online"] == 3,
            )
        rows = {row["gateway_id"]: row for row in figures["gateways"]}
        assert rows["gw-a"]["sessions_online"] == 1
        assert rows["gw-figures"]["sessions_online"] == 2
        assert rows["gw-a"]["logins_last_minute"] == 1
        assert rows["gw-figures"]["logins_last_minute"] == 2
        assert figures["logins_last_minute"] == 3
    # A gateway that stops withdraws its figures at once (a killed one's expire).
    figures = await _gateway_figures(gateway, lambda f: len(f["gateways"]) == 1)
    assert [row["gateway_id"] for row in figures["gateways"]] == ["gw-a"]
    assert figures["sessions_online"] == 0 and figures["logins_last_minute"] == 1


async def test_history_holds_samples_of_the_queues_and_sessions_over_the_last_minutes(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A sample every round (2 s) instead of every 10 s.
    monkeypatch.setattr(figures, "SAMPLE_INTERVAL_S", 0.0)
    async with contextlib.AsyncExitStack() as stack:
        clients = await game_clients(stack, gateway.base_url, ["q1", "q2", "q3"])
        for client in clients.values():
            await client.ok("match.join", queue="duel", properties={"region": "eu"})
        async with gateway.admin() as admin:
            for _ in range(24):
                response = await admin.get("/admin/v1/history")
                assert response.status_code == 200, response.text
                history = response.json()
                last = history["samples"][-1]
                if last["queues"]["duel"]["waiting"] == 3 and last["sessions_online"] == 3:
                    break
                await asyncio.sleep(0.25)
            else:
                raise AssertionError(f"no sample saw the three tickets: {history}")
    samples = history["samples"]
    # The sample taken as the gateway started comes first, before anyone logged in.
    assert samples[0]["sessions_online"] == 0 and samples[0]["queues"]["duel"]["waiting"] == 0
    assert last["logins_last_minute"] == 3 and last["queues"]["duel"]["oldest_wait_s"] >= 0
    times = [sample["at"] for sample in samples]
    assert times == sorted(times) and times[-1] <= history["now"]


async def test_gateways_and_history_need_the_admin_key(gateway: Gateway) -> None:
    async with httpx.AsyncClient(base_url=gateway.base_url) as http:
        assert (await http.get("/admin/v1/gateways")).status_code == 401
        assert (await http.get("/admin/v1/history")).status_code == 401


async def test_cluster_needs_the_admin_key(gateway: Gateway) -> None:
    async with httpx.AsyncClient(base_url=gateway.base_url) as http:
        assert (await http.get("/admin/v1/cluster")).status_code == 401
        wrong = {"Authorization": "Bearer not-the-key"}
        assert (await http.get("/admin/v1/cluster", headers=wrong)).status_code == 403


async def test_admin_socket_without_the_key_in_its_first_frame_is_closed_4401(
    gateway: Gateway,
) -> None:
    async with connect(_socket_url(gateway.base_url)) as socket:
        await socket.send('{"id": 1, "op": "board.subscribe", "board": "global"}')
        assert await _close_code(socket) == 4401


async def test_admin_socket_takes_no_key_from_the_url(gateway: Gateway) -> None:
    url = _socket_url(gateway.base_url) + f"?token={ADMIN_KEY}&key={ADMIN_KEY}"
    async with connect(url, additional_headers={"Authorization": "Basic x"}) as socket:
        assert await _close_code(socket) == 4401


async def test_admin_socket_with_a_wrong_key_is_closed_4403(gateway: Gateway) -> None:
    async with connect(_socket_url(gateway.base_url)) as socket:
        await socket.send('{"id": 1, "op": "admin.auth", "key": "not-the-key"}')
        assert await _close_code(socket) == 4403
    # A wrong key in the upgrade's header is refused the same way.
    wrong = {"Authorization": "Bearer not-the-key"}
    async with connect(_socket_url(gateway.base_url), additional_headers=wrong) as socket:
        assert await _close_code(socket) == 4403


async def test_wrong_admin_socket_keys_are_throttled_like_http_ones(
    cluster_seeds: Seeds, clean_valkey: object
) -> None:
    settings = gateway_settings(cluster_seeds, "gw-throttle", admin_failure_burst=2)
    async with running_gateway(settings) as gw:
        for _ in range(2):
            async with connect(_socket_url(gw.base_url)) as socket:
                await socket.send('{"id": 1, "op": "admin.auth", "key": "guess"}')
                assert await _close_code(socket) == 4403
        with pytest.raises(InvalidStatus) as refused:
            async with connect(_socket_url(gw.base_url)):
                pass
        assert refused.value.response.status_code == 429
        async with httpx.AsyncClient(base_url=gw.base_url, headers=ADMIN) as http:
            assert (await http.get("/admin/v1/boards")).status_code == 429


async def test_admin_socket_takes_the_key_from_the_upgrade_header(gateway: Gateway) -> None:
    async with connect(_socket_url(gateway.base_url), additional_headers=ADMIN) as socket:
        reply = await _call(socket, {"id": 1, "op": "board.subscribe", "board": "global"})
        assert reply["ok"] is True, reply


async def test_admin_socket_pushes_the_top_of_a_subscribed_board_as_scores_arrive(
    gateway: Gateway,
) -> None:
    async with connect(_socket_url(gateway.base_url)) as socket:
        auth = await _call(socket, {"id": 0, "op": "admin.auth", "key": ADMIN_KEY})
        assert auth["ok"] is True
        reply = await _call(socket, {"id": 1, "op": "board.subscribe", "board": "global"})
        assert reply["ok"] is True, reply
        assert await _next_top(socket, "global") == []
        async with gateway.admin() as admin:
            for player, score in (("ann", 30), ("bob", 50)):
                response = await admin.post(
                    "/admin/v1/boards/global/scores", json={"player_id": player, "score": score}
                )
                assert response.status_code == 200, response.text
        for _ in range(5):
            entries = await _next_top(socket, "global")
            if len(entries) == 2:
                break
        assert [(e["player_id"], e["rank"]) for e in entries] == [("bob", 1), ("ann", 2)]
        missing = await _call(socket, {"id": 2, "op": "board.subscribe", "board": "nope"})
        assert missing["ok"] is False and missing["error"]["code"] == "not_found"


async def test_an_admin_socket_watches_more_boards_than_a_game_socket(gateway: Gateway) -> None:
    async with gateway.admin() as admin:
        for n in range(25):
            response = await admin.post("/admin/v1/boards", json={"name": f"event-{n:02}"})
            assert response.status_code == 201, response.text
    async with connect(_socket_url(gateway.base_url), additional_headers=ADMIN) as socket:
        for n in range(25):
            request = {"id": n, "op": "board.subscribe", "board": f"event-{n:02}"}
            reply = await _call(socket, request)
            assert reply["ok"] is True, reply


async def test_the_page_is_served_with_a_strict_policy_and_only_on_the_admin_listener(
    cluster_seeds: Seeds, clean_valkey: object
) -> None:
    admin_port = free_port()
    settings = gateway_settings(cluster_seeds, "gw-page", admin_port=admin_port)
    async with running_gateway(settings) as gw:
        async with httpx.AsyncClient() as http:
            page = await http.get(f"http://127.0.0.1:{admin_port}/admin")
            assert page.status_code == 200 and "Admin key" in page.text
            assert "script-src 'self'" in page.headers["content-security-policy"]
            script = await http.get(f"http://127.0.0.1:{admin_port}/admin/static/dashboard.js")
            assert script.status_code == 200
            assert (await http.get(gw.base_url + "/admin")).status_code == 404
            assert (await http.get(gw.base_url + "/admin/static/dashboard.js")).status_code == 404
        with pytest.raises(InvalidStatus) as refused:
            async with connect(_socket_url(gw.base_url)):
                pass
        assert refused.value.response.status_code == 404
