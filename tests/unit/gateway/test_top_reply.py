"""A board.top reply: a page reused whole is sent as the JSON it was encoded to once."""

from __future__ import annotations

import orjson

from domain.leaderboards.models import Page, RankedEntry
from gameserver.gateway.envelope import reply_ok
from gameserver.gateway.ops.leaderboards import encoded_entries, entries_reply


def page_of(*scores: float) -> Page:
    entries = [RankedEntry(i + 1, f"p{i}", score, {"n": i}) for i, score in enumerate(scores)]
    return Page(entries, None)


def test_a_reused_page_is_encoded_once_and_replies_as_if_encoded_again() -> None:
    page = page_of(30, 20, 10)
    first = encoded_entries(page)
    assert encoded_entries(page) is first
    reply = orjson.loads(reply_ok(1, {"entries": first, "next_cursor": None}))
    expected = {"ok": True, "id": 1, "entries": entries_reply(page.entries), "next_cursor": None}
    assert reply == expected


def sent(page: Page) -> list[dict[str, object]]:
    entries: list[dict[str, object]] = orjson.loads(orjson.dumps(encoded_entries(page)))
    return entries


def test_every_new_page_is_encoded_anew() -> None:
    old, new = page_of(30, 20), page_of(31, 20)
    assert [e["score"] for e in sent(old)] == [30, 20]
    assert [e["score"] for e in sent(new)] == [31, 20]
    assert [e["score"] for e in sent(old)] == [30, 20]
