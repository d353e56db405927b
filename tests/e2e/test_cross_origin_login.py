"""A browser game served from another origin logs in: `POST /v1/sessions` answers CORS.

The browser sends a preflight (`OPTIONS`) before a JSON login; the login's reply must name
the page's origin or the page never sees its token. The admin API stays same-origin.
"""

from __future__ import annotations

import httpx

from tests.game_client import device_id_for
from tests.gateway_harness import Gateway, gateway_settings, running_gateway

Seeds = tuple[tuple[str, int], ...]
GAME = "https://game.example"
PREFLIGHT = {
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "content-type",
}


async def test_any_origin_may_log_in_when_no_origins_are_listed(gateway: Gateway) -> None:
    async with httpx.AsyncClient(base_url=gateway.base_url) as http:
        preflight = await http.options("/v1/sessions", headers={"Origin": GAME, **PREFLIGHT})
        assert preflight.status_code == 204
        assert preflight.headers["access-control-allow-origin"] == GAME
        assert preflight.headers["access-control-allow-methods"] == "POST"
        assert "content-type" in preflight.headers["access-control-allow-headers"]
        assert "origin" in preflight.headers["vary"].lower()
        login = await http.post(
            "/v1/sessions", json={"device_id": device_id_for("cors")}, headers={"Origin": GAME}
        )
        assert login.status_code == 201 and login.json()["token"]
        assert login.headers["access-control-allow-origin"] == GAME


async def test_a_refused_login_still_names_the_origin_so_the_page_reads_the_error(
    gateway: Gateway,
) -> None:
    async with httpx.AsyncClient(base_url=gateway.base_url) as http:
        login = await http.post("/v1/sessions", json={"device_id": 5}, headers={"Origin": GAME})
    assert login.status_code == 400
    assert login.json()["error"]["code"] == "bad_request"
    assert login.headers["access-control-allow-origin"] == GAME


async def test_only_listed_origins_may_log_in_from_a_browser(cluster_seeds: Seeds) -> None:
    settings = gateway_settings(cluster_seeds, "gw-cors", allowed_origins=(GAME,))
    async with running_gateway(settings) as gw, httpx.AsyncClient(base_url=gw.base_url) as http:
        evil = {"Origin": "https://evil.example"}
        refused = await http.options("/v1/sessions", headers={**evil, **PREFLIGHT})
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "forbidden"
        assert "access-control-allow-origin" not in refused.headers
        login = await http.post(
            "/v1/sessions", json={"device_id": device_id_for("evil")}, headers=evil
        )
        assert "access-control-allow-origin" not in login.headers
        allowed = await http.options("/v1/sessions", headers={"Origin": GAME, **PREFLIGHT})
        assert allowed.headers["access-control-allow-origin"] == GAME


async def test_the_admin_api_answers_no_cross_origin_headers(gateway: Gateway) -> None:
    async with httpx.AsyncClient(base_url=gateway.base_url) as http:
        preflight = await http.options("/admin/v1/boards", headers={"Origin": GAME, **PREFLIGHT})
        listing = await http.get("/admin/v1/boards", headers={"Origin": GAME})
    assert "access-control-allow-origin" not in preflight.headers
    assert "access-control-allow-origin" not in listing.headers
