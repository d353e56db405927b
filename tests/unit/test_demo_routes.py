"""The demo page's routes (`gameserver up --demo`): off by default, static when on."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from gameserver.app import create_app
from gameserver.cli import _settings, build_parser
from gameserver.http.demo import demo_routes
from gameserver.settings import Settings, settings_from_env


def _paths(app: Starlette) -> list[str]:
    return [
        route.path for route in app.routes if isinstance(route, Mount) or hasattr(route, "path")
    ]


def test_the_demo_is_off_unless_a_flag_turns_it_on() -> None:
    assert settings_from_env({}).demo is False
    assert _settings(build_parser().parse_args(["up"])).demo is False
    assert _settings(build_parser().parse_args(["up", "--demo"])).demo is True
    assert settings_from_env({"GAMESERVER_DEMO": "1"}).demo is True


def test_up_passes_the_demo_flag_to_every_gateway_process_it_starts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from gameserver.runner import _child_env

    monkeypatch.delenv("GAMESERVER_DEMO", raising=False)
    settings = _settings(build_parser().parse_args(["up", "--demo", "--gateways", "2"]))
    assert settings_from_env(_child_env(settings)).demo is True
    assert "GAMESERVER_DEMO" not in _child_env(settings.with_overrides(demo=False))


def test_the_gateway_mounts_the_demo_only_when_it_is_on() -> None:
    settings = Settings(secret=b"s" * 32)
    assert not [path for path in _paths(create_app(settings)) if path.startswith("/demo")]
    demo_on = _paths(create_app(settings.with_overrides(demo=True)))
    assert "/demo" in demo_on and "/demo/sdk" in demo_on


async def test_demo_routes_serve_the_page_and_the_built_sdk(tmp_path: Path) -> None:
    page, sdk = tmp_path / "web", tmp_path / "dist"
    page.mkdir()
    sdk.mkdir()
    (page / "index.html").write_text("<title>demo</title>")
    (sdk / "index.js").write_text("export const x = 1;")
    transport = httpx.ASGITransport(app=Starlette(routes=demo_routes(page, sdk)))
    async with httpx.AsyncClient(transport=transport, base_url="http://demo.test") as client:
        await _check_served(client)


async def _check_served(client: httpx.AsyncClient) -> None:
    bare = await client.get("/demo")
    assert (bare.status_code, bare.headers["location"]) == (307, "/demo/")
    assert (await client.get("/demo/")).text == "<title>demo</title>"
    sdk_file = await client.get("/demo/sdk/index.js")
    assert sdk_file.status_code == 200
    assert "javascript" in sdk_file.headers["content-type"]
