"""Transport: https and wss with a certificate, and the admin API on its own listener."""

from __future__ import annotations

from pathlib import Path

import httpx
import orjson
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.game_client import create_session
from tests.gateway_harness import (
    ADMIN_KEY,
    free_port,
    gateway_process,
    gateway_settings,
    running_gateway,
)
from tests.tls_helpers import self_signed_certificate

pytestmark = pytest.mark.usefixtures("clean_valkey")

Seeds = tuple[tuple[str, int], ...]
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}


async def test_with_a_certificate_the_gateway_speaks_https_and_wss(
    cluster_seeds: Seeds, tmp_path: Path
) -> None:
    certificate = self_signed_certificate(tmp_path)
    settings = gateway_settings(
        cluster_seeds, "gw-tls", certfile=certificate.certfile, keyfile=certificate.keyfile
    )
    context = certificate.client_context()
    async with running_gateway(settings) as gw:
        assert gw.base_url.startswith("https://")
        async with httpx.AsyncClient(base_url=gw.base_url, verify=context) as https:
            assert (await https.get("/healthz")).status_code == 200
        token = (await create_session(gw.base_url, "p1", tls=context))["token"]
        url = f"wss://127.0.0.1:{settings.port}/v1/ws?token={token}"
        async with connect(url, ssl=context) as socket:
            await socket.send('{"op": "ping", "id": 1}')
            assert orjson.loads(await socket.recv())["ok"] is True
        # Plain http on the TLS port gets no answer a client could take for a reply.
        async with httpx.AsyncClient() as plain:
            with pytest.raises(httpx.HTTPError):
                await plain.get(f"http://127.0.0.1:{settings.port}/healthz")


async def test_with_an_admin_port_admin_and_metrics_are_served_only_there(
    cluster_seeds: Seeds,
) -> None:
    admin_port = free_port()
    settings = gateway_settings(cluster_seeds, "gw-split", admin_port=admin_port)
    admin_url = f"http://127.0.0.1:{admin_port}"
    async with running_gateway(settings) as gw:
        async with httpx.AsyncClient(base_url=gw.base_url, headers=ADMIN) as main:
            for path in ("/admin/v1/boards", "/metrics", "/admin/v1/players/p1"):
                response = await main.get(path)
                assert response.status_code == 404, path
                assert response.json()["error"]["code"] == "not_found"
            assert (await main.get("/healthz")).status_code == 200
        async with httpx.AsyncClient(base_url=admin_url, headers=ADMIN) as admin:
            assert (await admin.get("/admin/v1/boards")).status_code == 200
            assert (await admin.get("/metrics")).status_code == 200
            # Served here (no worker runs beside this gateway: not ready, and says why).
            ready = await admin.get("/readyz")
            assert ready.status_code == 503 and ready.json()["reasons"]
            assert (await admin.post("/v1/sessions", json={})).status_code == 404
        # A trusted server's login is an admin call too: only on the admin listener.
        async with httpx.AsyncClient(base_url=gw.base_url, headers=ADMIN) as main:
            login = await main.post("/admin/v1/sessions", json={"player_id": "p1"})
            assert login.status_code == 404
        token = (await create_session(admin_url, "p1"))["token"]
        # The game socket is not served on the admin listener either.
        with pytest.raises(InvalidStatus) as refused:
            await connect(f"ws://127.0.0.1:{admin_port}/v1/ws?token={token}")
        assert refused.value.response.status_code == 404


def test_serve_takes_a_certificate_and_an_admin_port(cluster_seeds: Seeds, tmp_path: Path) -> None:
    certificate = self_signed_certificate(tmp_path)
    admin_port = free_port()
    settings = gateway_settings(
        cluster_seeds,
        "gw-serve-tls",
        certfile=certificate.certfile,
        keyfile=certificate.keyfile,
        admin_port=admin_port,
    )
    context = certificate.client_context()
    with (
        gateway_process(settings, verify=context) as gw,
        httpx.Client(verify=context, headers=ADMIN) as https,
    ):
        assert https.get(f"{gw.base_url}/metrics").status_code == 404
        assert https.get(f"https://127.0.0.1:{admin_port}/metrics").status_code == 200
        assert https.get(f"https://127.0.0.1:{admin_port}/admin/v1/boards").status_code == 200
