"""The admin dashboard (`/admin`) in headless Chromium: log in, watch boards live, act.

Needs Debian's `chromium` (`apt-get install -y chromium`) and Playwright for Python (the
`[test]` extra; no browser download). Set `DASHBOARD_SCREENSHOT=<path>` to save a
screenshot of the main view (docs/dashboard.png).
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

import pytest

from gameserver.supervisor.restarts import STATE_ENV, write_restarts
from tests.browser import CHROMIUM, CHROMIUM_ARGS, PAGE_TEST_MARKS, PAGE_TIMEOUT_MS
from tests.cluster_helpers import until
from tests.game_client import create_session, game_client, game_clients
from tests.gateway_harness import (
    ADMIN_KEY,
    Gateway,
    free_port,
    gateway_settings,
    running_gateway,
)

pytestmark = PAGE_TEST_MARKS

GLOBAL_TOP = "[data-board='global'] .top"


async def test_an_operator_logs_in_watches_global_live_resets_it_and_bans_a_player(
    gateway: Gateway, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from playwright.async_api import Route, async_playwright

    # As under `gameserver up`: the supervisor's restart counts, read at each scrape.
    restarts = tmp_path / "supervisor.json"
    write_restarts(restarts, {"gateway": 2, "worker": 0, "valkey": 1})
    monkeypatch.setenv(STATE_ENV, str(restarts))

    async with gateway.admin() as admin:
        for n in range(12):
            response = await admin.post(
                "/admin/v1/boards/global/scores", json={"player_id": f"p{n:02}", "score": n * 10}
            )
            assert response.status_code == 200, response.text

    async with contextlib.AsyncExitStack() as stack:
        waiting = await game_clients(stack, gateway.base_url, ["q1", "q2", "q3"])
        for client in waiting.values():
            await client.ok("match.join", queue="duel", properties={"region": "eu"})
        playwright = await stack.enter_async_context(async_playwright())
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        stack.push_async_callback(browser.close)
        page = await browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(PAGE_TIMEOUT_MS)
        await page.goto(gateway.base_url + "/admin")

        # A wrong key: the API's refusal is shown, and the dashboard stays shut.
        await page.fill("#key", "not-the-key")
        await page.click("#login button[type=submit]")
        await page.wait_for_selector("body[data-state='login-failed']")
        assert "403 forbidden" in await page.inner_text("#login-error")
        assert await page.is_hidden("#dashboard")

        await page.fill("#key", ADMIN_KEY)
        await page.click("#login button[type=submit]")
        await page.wait_for_selector("body[data-state='ready'][data-socket='live']")
        # The charts start from the gateway's samples taken before the page opened.
        assert int(await page.get_attribute("body", "data-history") or 0) >= 1
        # The key is held in the tab's memory only.
        assert ADMIN_KEY not in page.url
        stored = await page.evaluate(
            "[localStorage.length, sessionStorage.length, document.cookie, location.href]"
        )
        assert stored[:3] == [0, 0, ""] and ADMIN_KEY not in stored[3]

        # `global` with its top 10, pushed over the admin socket.
        await page.wait_for_function(
            f'() => document.querySelectorAll("{GLOBAL_TOP} li[data-player]").length === 10'
        )
        first = page.locator(f"{GLOBAL_TOP} li").first
        assert await first.get_attribute("data-player") == "p11"
        # Its player count, and per period.
        await page.wait_for_selector("[data-board='global'] .meta:has-text('12 players')")
        await page.wait_for_selector("[data-board='global'] .periods:has-text('all (live): 12')")

        # Sessions over every gateway, supervisor restarts, queues with their figures.
        await page.wait_for_function(
            "() => document.getElementById('sessions-online').textContent === '3'"
        )
        assert await page.inner_text("#logins-per-min") == "3"
        assert await page.inner_text("#gateway-count") == "1"
        await page.wait_for_selector("#restarts:has-text('gateway: 2')")
        assert "valkey: 1" in await page.inner_text("#restarts")
        duel = "[data-queue='duel']"
        await page.wait_for_selector(f"{duel} .meta:has-text('waiting 3')")
        assert "oldest wait" in await page.inner_text(f"{duel} .meta")

        # Create a tournament board with score rules: it shows with its window.
        now = int(time.time())
        form = "#create-board"
        await page.fill(f"{form} input[name=name]", "spring-cup")
        await page.fill(f"{form} input[name=max_score]", "5000")
        await page.fill(f"{form} input[name=start_at]", str(now - 3600))
        await page.fill(f"{form} input[name=end_at]", str(now + 7 * 86400))
        await page.fill(f"{form} input[name=sub_boards]", "4")
        await page.fill(f"{form} input[name=on_period_end]", "https://results.example/cup")
        await page.fill(f"{form} input[name=on_period_end_top]", "50")
        await page.click(f"{form} button")
        cup = "[data-board='spring-cup']"
        await page.wait_for_selector(f"{cup} .window:has-text('tournament')")
        assert "(open)" in await page.inner_text(f"{cup} .window")
        meta = await page.inner_text(f"{cup} .meta")
        assert "max_score 5000" in meta and "4 sub-boards" in meta
        assert "webhook https://results.example/cup (top 50)" in meta
        async with gateway.admin() as admin:
            response = await admin.post(
                "/admin/v1/boards/spring-cup/scores", json={"player_id": "p05", "score": 4200}
            )
            assert response.status_code == 200, response.text
        await page.wait_for_selector(f"{cup} .top li[data-player='p05']")

        # A score from a game client appears without a reload, pushed over the admin
        # socket: every HTTP call of the page fails meanwhile, so no re-fetch can show it.
        async def refuse(route: Route) -> None:
            await route.abort()

        await page.route("**/*", refuse)
        async with game_client(gateway.base_url, "zed") as zed:
            await zed.ok("score.submit", board="global", score=1000)
            await page.wait_for_selector(f"{GLOBAL_TOP} li[data-player='zed']")
        await page.unroute("**/*", refuse)
        assert await first.get_attribute("data-player") == "zed"
        assert await first.locator(".rank").inner_text() == "1"
        # The counts are read again once the page can: spring-cup's one player.
        await page.wait_for_selector(f"{cup} .meta:has-text('1 player ')")
        await page.wait_for_selector(f"{cup} .periods:has-text('all (live): 1')")

        # Look a player up: where they stand and the export of everything held.
        await page.fill("#player-actions input[name=player]", "p05")
        await page.click("#player-actions button[value=lookup]")
        await page.click("#player-view summary")
        await page.wait_for_selector("#player-export:has-text('spring-cup')")
        boards_of = await page.inner_text("#player-summary dd[data-field='boards']")
        assert "global #" in boards_of and "spring-cup #1 (4200)" in boards_of
        # Remove a player from a board: the pushed top closes up.
        await page.fill("#remove-player input[name=board]", "global")
        await page.fill("#remove-player input[name=player]", "p10")
        await page.click("#remove-player button")
        await page.wait_for_selector(f"{GLOBAL_TOP} li[data-player='p10']", state="detached")
        await page.wait_for_selector(f"{GLOBAL_TOP} li[data-player='p02']")
        await page.wait_for_selector("[data-board='global'] .meta:has-text('12 players')")

        await page.wait_for_selector("#cluster tr td.up")
        await page.wait_for_selector("[data-queue='duel'] svg polyline", state="attached")
        screenshot = os.environ.get("DASHBOARD_SCREENSHOT")
        if screenshot:
            await page.wait_for_function(
                "() => document.getElementById('logins-per-min').textContent !== '–'"
            )
            await page.screenshot(path=screenshot, full_page=True)

        # Reset: the pushed top empties.
        await page.click("[data-board='global'] button.reset")
        await page.wait_for_selector(f"{GLOBAL_TOP} li.empty")
        assert "reset" in await page.inner_text("#action-result")
        # The form resets a board by name; the archived period is counted beside the live one.
        await page.fill("#reset-board input[name=board]", "spring-cup")
        await page.click("#reset-board button")
        await page.wait_for_selector(f"{cup} .top li.empty")
        await page.wait_for_selector("#action-result:has-text('board spring-cup reset')")
        await page.wait_for_selector(f"{cup} .periods:has-text('all.1 (live): 0')")
        assert "all: 1" in await page.inner_text(f"{cup} .periods")

        # Ban a connected player: the page shows the ban, the socket is closed with 4403.
        async with game_client(gateway.base_url, "vic") as vic:
            await page.fill("#player-actions input[name=player]", "vic")
            await page.fill("#player-actions input[name=reason]", "cheating")
            await page.click("#player-actions button[value=ban]")
            await page.wait_for_selector("#player-id:has-text('vic')")
            await page.wait_for_selector("#player-summary dd[data-field='ban']:has-text('until')")
            ban = await page.inner_text("#player-summary dd[data-field='ban']")
            assert ban.startswith("banned until lifted") and "cheating" in ban
            assert await vic.wait_closed() == 4403
        await page.click("#player-actions button[value=unban]")
        await page.wait_for_function(
            "() => document.querySelector(\"#player-summary dd[data-field='ban']\")"
            ".textContent === 'not banned'"
        )

        # Kick: the player's socket is closed with 4403.
        async with game_client(gateway.base_url, "kim") as kim:
            await page.fill("#player-actions input[name=player]", "kim")
            await page.click("#player-actions button[value=kick]")
            await page.wait_for_selector("#action-result:has-text('kim kicked')")
            assert await kim.wait_closed() == 4403

        # An API error is shown on the page.
        await page.fill("#remove-player input[name=board]", "no-such-board")
        await page.fill("#remove-player input[name=player]", "vic")
        await page.click("#remove-player button")
        await page.wait_for_function(
            "() => document.getElementById('errors').textContent.includes('404 not_found')"
        )


async def test_every_board_is_watched_even_past_the_socket_rate_limits_burst(
    gateway: Gateway,
) -> None:
    """More boards than the admin socket takes subscribes in one burst (100): the page
    subscribes the rest as the limit refills, and every board shows its pushed top."""
    from playwright.async_api import async_playwright

    names = [f"event-{n:03}" for n in range(120)]
    async with gateway.admin() as admin:
        for name in names:
            response = await admin.post("/admin/v1/boards", json={"name": name})
            assert response.status_code == 201, response.text
        response = await admin.post(
            "/admin/v1/boards/event-119/scores", json={"player_id": "last", "score": 7}
        )
        assert response.status_code == 200, response.text
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        try:
            page = await browser.new_page()
            page.set_default_timeout(PAGE_TIMEOUT_MS)
            await page.goto(gateway.base_url + "/admin")
            await page.fill("#key", ADMIN_KEY)
            await page.click("#login button[type=submit]")
            await page.wait_for_selector("body[data-state='ready'][data-socket='live']")
            await page.wait_for_function(
                "() => document.querySelectorAll('article.board').length === 122 && "
                "document.querySelectorAll('article.board[data-pushed]').length === 122"
            )
            await page.wait_for_selector("[data-board='event-119'] .top li[data-player='last']")
        finally:
            await browser.close()


async def test_on_the_admin_listener_the_page_works_whole(
    cluster_seeds: tuple[tuple[str, int], ...], clean_valkey: object
) -> None:
    """With --admin-port the page, its API calls, /metrics and its push socket all go to
    the admin port (the page names no host), and the game port serves none of them."""
    from playwright.async_api import async_playwright

    admin_port = free_port()
    settings = gateway_settings(cluster_seeds, "gw-admin-page", admin_port=admin_port)
    async with running_gateway(settings) as gw, async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        try:
            page = await browser.new_page()
            page.set_default_timeout(PAGE_TIMEOUT_MS)
            assert (await page.goto(gw.base_url + "/admin")).status == 404  # type: ignore[union-attr]
            await page.goto(f"http://127.0.0.1:{admin_port}/admin")
            await page.fill("#key", ADMIN_KEY)
            await page.click("#login button[type=submit]")
            await page.wait_for_selector("body[data-state='ready'][data-socket='live']")
            await page.wait_for_selector("#restarts:not(:has-text('–'))")
            await page.wait_for_selector("#gateways tr[data-gateway='gw-admin-page']")
            # The trusted login is an admin call: on the admin port too.
            login = await create_session(f"http://127.0.0.1:{admin_port}", "ann")
            async with game_client(gw.base_url, "ann", token=login["token"]) as ann:
                await ann.ok("score.submit", board="global", score=5)
                await page.wait_for_selector(f"{GLOBAL_TOP} li[data-player='ann']")
            assert await page.inner_text("#errors") == ""
        finally:
            await browser.close()


async def test_the_page_follows_its_gateway_through_a_restart(
    cluster_seeds: tuple[tuple[str, int], ...], clean_valkey: object
) -> None:
    """A rolling upgrade restarts the gateway under an open dashboard: its push socket
    comes back on its own, watches the boards again, and pushes resume."""
    from playwright.async_api import async_playwright

    settings = gateway_settings(cluster_seeds, "gw-restarted")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        try:
            page = await browser.new_page()
            page.set_default_timeout(PAGE_TIMEOUT_MS)
            async with running_gateway(settings) as gw:
                await page.goto(gw.base_url + "/admin")
                await page.fill("#key", ADMIN_KEY)
                await page.click("#login button[type=submit]")
                await page.wait_for_selector("body[data-socket='live']")
            await page.wait_for_selector("body[data-socket='offline']")
            async with running_gateway(settings) as gw:
                await page.wait_for_selector("body[data-socket='live']")
                async with game_client(gw.base_url, "ann") as ann:
                    await ann.ok("score.submit", board="global", score=5)
                    await page.wait_for_selector(f"{GLOBAL_TOP} li[data-player='ann']")
                # Forgetting the key shuts the dashboard and its socket.
                watch = gw.services.board_watch
                assert watch is not None and "global" in watch.watched_boards()
                await page.click("#logout")
                await page.wait_for_selector("body[data-socket='offline'] #login-view")
                assert await page.is_hidden("#dashboard")
                await until(lambda: not watch.watched_boards(), "the board watch to stop", 10)
                assert watch.watched_boards() == []
        finally:
            await browser.close()
