"""The demo (`gameserver up --demo`) in two headless Chromium pages: login, score, duel, party.

Needs Debian's `chromium` (`apt-get install -y chromium`), Playwright for Python (the
`[test]` extra; no browser download) and Node's npm to build the TypeScript SDK once.
Set `DEMO_SCREENSHOT=<path>` to save a screenshot of the first page (docs/demo.png).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gameserver.embedded import find_free_base_port
from tests.browser import CHROMIUM, CHROMIUM_ARGS, PAGE_TEST_MARKS, PAGE_TIMEOUT_MS
from tests.gateway_harness import env_without_settings, free_port, running_up, up_command

SDK_DIR = Path(__file__).resolve().parents[2] / "clients" / "typescript"
_READY_TIMEOUT_S = 60.0
_ADMIN_KEY = "demo-test-admin-key"
_RANK_MATCHES_MY_ROW = (
    "(() => { const cell = document.querySelector('#top tr.me td');"
    " return cell !== null"
    " && cell.textContent === document.getElementById('my-rank').textContent; })()"
)

pytestmark = PAGE_TEST_MARKS


def _built_sdk() -> None:
    if (SDK_DIR / "dist" / "index.js").is_file():
        return
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("the demo needs the TypeScript SDK built, and npm is missing")
    subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=SDK_DIR, check=True)
    subprocess.run([npm, "run", "build"], cwd=SDK_DIR, check=True)


@pytest.fixture
def demo_url(tmp_path: Path) -> Iterator[str]:
    _built_sdk()
    port = free_port()
    env = env_without_settings(GAMESERVER_ADMIN_KEY=_ADMIN_KEY)
    command = up_command(tmp_path / "d", port, find_free_base_port(), "--demo")
    # The banner's last line (the admin key is ours, so `up` does not print it).
    with running_up(command, env, "Ctrl-C stops everything", _READY_TIMEOUT_S):
        yield f"http://127.0.0.1:{port}/demo/"


def test_two_browser_pages_log_in_score_see_each_other_on_the_board_duel_and_party(
    demo_url: str,
) -> None:
    from playwright.sync_api import Page, sync_playwright

    def play_one_round(page: Page) -> None:
        page.click("#start")
        page.wait_for_selector("#target.go")
        page.click("#target")
        page.wait_for_function("document.getElementById('my-rank').textContent !== '–'")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            # Two contexts: two localStorages, so two devices and two players.
            pages = [browser.new_context().new_page() for _ in range(2)]
            # What a player's console would show: the page must stay clean throughout.
            console_errors: list[str] = []
            for page in pages:
                page.on(
                    "console",
                    lambda message: message.type == "error" and console_errors.append(message.text),
                )
                page.on("pageerror", lambda error: console_errors.append(f"uncaught: {error}"))
            for page in pages:
                page.set_default_timeout(PAGE_TIMEOUT_MS)
                page.goto(demo_url)
                page.wait_for_selector("body[data-ready='true']")
            ids = [page.evaluate("document.body.dataset.playerId") for page in pages]
            assert len(set(ids)) == 2

            # The device id is kept: a reload logs into the same account.
            pages[0].reload()
            pages[0].wait_for_selector("body[data-ready='true']")
            assert pages[0].evaluate("document.body.dataset.playerId") == ids[0]

            for page, name in zip(pages, ["Ann", "Bob"], strict=True):
                page.fill("#name", name)
                page.click("#save-name")
                page.wait_for_function(
                    "document.getElementById('log').textContent.includes('name saved')"
                )
            for page in pages:
                play_one_round(page)
            # Each page sees both players in its live top 10, the other one by a push.
            for page in pages:
                for player_id in ids:
                    page.wait_for_selector(f"#top tr[data-player-id='{player_id}']")

            # The board moves by pushes alone: a trusted server puts a new leader on top;
            # both pages show it in their top 10 and their own rank one lower.
            for page in pages:
                # Your rank (told by rank.changed) agrees with your row of the top 10.
                page.wait_for_function(_RANK_MATCHES_MY_ROW)
            ranks = [int(page.text_content("#my-rank") or "0") for page in pages]
            assert sorted(ranks) == [1, 2]
            leader = httpx.post(
                demo_url.removesuffix("/demo/") + "/admin/v1/boards/global/scores",
                json={"player_id": "trusted-leader", "score": 10**6},
                headers={"Authorization": f"Bearer {_ADMIN_KEY}"},
            )
            assert leader.status_code == 200, leader.text
            for page, rank in zip(pages, ranks, strict=True):
                page.wait_for_selector("#top tr[data-player-id='trusted-leader']")
                page.wait_for_function(
                    f"document.getElementById('my-rank').textContent === '{rank + 1}'"
                )
                page.wait_for_function(_RANK_MATCHES_MY_ROW)

            for page in pages:
                page.click("#duel")
            match_ids = []
            for page in pages:
                page.wait_for_selector("#duel-state[data-match-id]")
                match_ids.append(page.get_attribute("#duel-state", "data-match-id"))
            assert match_ids[0] == match_ids[1]
            assert ids[1] in (pages[0].text_content("#duel-state") or "")

            # A party: the first invites the second by player id, the second accepts.
            pages[0].fill("#invite-id", ids[1])
            pages[0].click("#invite")
            pages[1].click("#invites button.accept")
            for page in pages:
                page.wait_for_function(
                    "ids => ids.every(id => document.getElementById('party-info')"
                    ".textContent.includes(id))",
                    arg=ids,
                )
            # A reload finds the party again; a member's refused invite shows in the log.
            pages[1].reload()
            pages[1].wait_for_selector("body[data-ready='true']")
            assert ids[0] in (pages[1].text_content("#party-info") or "")
            pages[1].fill("#invite-id", "somebody-else")
            pages[1].click("#invite")
            pages[1].wait_for_function(
                "document.getElementById('log').textContent.includes('invite failed: forbidden')"
            )
            assert console_errors == []

            screenshot = os.environ.get("DEMO_SCREENSHOT")
            if screenshot:
                pages[0].set_viewport_size({"width": 1200, "height": 820})
                pages[0].screenshot(path=screenshot, full_page=True)
        finally:
            browser.close()
