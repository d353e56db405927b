"""A board.top reply: a page reused whole is sent as the JSON it was encoded to once,
unless a player's display name changed since."""

from __future__ import annotations

from collections.abc import Sequence

import orjson

from domain.leaderboards.models import Page, RankedEntry
from gameserver.board_entries import named_entries
from gameserver.gateway.envelope import reply_ok
from gameserver.gateway.ops.leaderboards import EncodedPages, encoded_entries


class Names:
    def __init__(self, **names: str) -> None:
        self.names = names

    async def display_names(self, player_ids: Sequence[str]) -> dict[str, str | None]:
        return {p: self.names.get(p) for p in player_ids}


def page_of(*scores: float) -> Page:
    entries = [RankedEntry(i + 1, f"p{i}", score, {"n": i}) for i, score in enumerate(scores)]
    return Page(entries, None)


async def test_a_reused_page_is_encoded_once_and_replies_as_if_encoded_again() -> None:
    page, names = page_of(30, 20, 10), Names(p0="Ann")
    first = await encoded_entries(names, page)
    assert await encoded_entries(names, page) is first
    reply = orjson.loads(reply_ok(1, {"entries": first, "next_cursor": None}))
    entries = await named_entries(names, page.entries)
    assert reply == {"ok": True, "id": 1, "entries": entries, "next_cursor": None}
    assert [e["display_name"] for e in entries] == ["Ann", None, None]


async def sent(page: Page, names: Names) -> list[dict[str, object]]:
    entries: list[dict[str, object]] = orjson.loads(
        orjson.dumps(await encoded_entries(names, page))
    )
    return entries


async def test_every_new_page_is_encoded_anew() -> None:
    old, new, names = page_of(30, 20), page_of(31, 20), Names()
    assert [e["score"] for e in await sent(old, names)] == [30, 20]
    assert [e["score"] for e in await sent(new, names)] == [31, 20]
    assert [e["score"] for e in await sent(old, names)] == [30, 20]


async def test_a_renamed_player_shows_in_a_reused_page() -> None:
    page, names = page_of(30, 20), Names(p1="Bo")
    assert [e["display_name"] for e in await sent(page, names)] == [None, "Bo"]
    names.names["p1"] = "Bob"
    assert [e["display_name"] for e in await sent(page, names)] == [None, "Bob"]


async def test_kept_encodings_send_exactly_what_encoding_every_time_sends() -> None:
    kept, fresh = EncodedPages(), EncodedPages(enabled=False)
    pages, names = [page_of(30, 20), page_of(31, 20), page_of(5)], Names(p0="Ann")
    for step in range(12):
        page = pages[step % 3]
        if step == 5:
            names.names["p0"] = "Anna"
        if step == 8:
            pages[0] = page_of(30, 20)  # the same entries in a new page
        sent_kept = orjson.dumps(await encoded_entries(names, page, kept))
        assert sent_kept == orjson.dumps(await encoded_entries(names, page, fresh)), step
