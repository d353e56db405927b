"""Push frames become the SDK's typed events, as the contract names their fields."""

from __future__ import annotations

from gameserver_client import (
    BoardPeriodEnded,
    BoardTop,
    Entry,
    MatchExpired,
    MatchFound,
    PartyInvited,
    PartyUpdated,
    RankChanged,
    SessionKicked,
    SessionReplaced,
    UnknownEvent,
)
from gameserver_client.events import event_from_wire


def test_match_found_carries_server_backfill_and_properties() -> None:
    event = event_from_wire(
        {
            "event": "match.found",
            "match_id": "m1",
            "queue": "duel",
            "teams": [["a"], ["b"]],
            "ticket": "t1",
            "server": {"address": "10.0.0.1", "port": 7777, "token": "s"},
            "backfill": True,
            "properties": {"mode": "ctf"},
            "ts": 5,
        }
    )
    assert event == MatchFound(
        "m1",
        "duel",
        [["a"], ["b"]],
        "t1",
        {"address": "10.0.0.1", "port": 7777, "token": "s"},
        True,
        {"mode": "ctf"},
        5,
    )


def test_match_found_without_the_v2_extras_defaults_them() -> None:
    event = event_from_wire(
        {"event": "match.found", "match_id": "m", "queue": "q", "teams": [], "ticket": "t"}
    )
    assert isinstance(event, MatchFound)
    assert (event.server, event.backfill, event.properties) == (None, False, None)


def test_board_pushes() -> None:
    assert event_from_wire(
        {"event": "rank.changed", "board": "g", "rank": 2, "previous_rank": 1, "score": 9}
    ) == RankChanged("g", 2, 1, 9)
    assert event_from_wire(
        {"event": "rank.changed", "board": "g", "rank": None, "previous_rank": 1, "score": None}
    ) == RankChanged("g", None, 1, None)
    top = event_from_wire(
        {
            "event": "board.top",
            "board": "g",
            "entries": [{"rank": 1, "player_id": "a", "display_name": "Ann", "score": 9}],
        }
    )
    assert top == BoardTop("g", [Entry(1, "a", 9, "Ann", None)])
    ended = event_from_wire(
        {"event": "board.period_ended", "board": "w", "period": "2026-W49", "rank": 3, "score": 7}
    )
    assert ended == BoardPeriodEnded("w", "2026-W49", 3, 7)


def test_party_match_and_session_pushes() -> None:
    assert event_from_wire({"event": "match.expired", "ticket": "t"}) == MatchExpired("t")
    assert event_from_wire(
        {"event": "party.invited", "party_id": "p", "from": "a"}
    ) == PartyInvited("p", "a")
    assert event_from_wire(
        {"event": "party.updated", "party_id": "p", "leader": "a", "members": ["a", "b"]}
    ) == PartyUpdated("p", "a", ["a", "b"], [])
    assert event_from_wire({"event": "session.replaced"}) == SessionReplaced()
    assert event_from_wire({"event": "session.kicked"}) == SessionKicked()


def test_unknown_and_malformed_pushes_are_kept_whole() -> None:
    new = {"event": "tournament.started", "board": "cup"}
    assert event_from_wire(new) == UnknownEvent("tournament.started", new)
    broken = {"event": "match.found", "match_id": "m"}
    assert event_from_wire(broken) == UnknownEvent("match.found", broken)
