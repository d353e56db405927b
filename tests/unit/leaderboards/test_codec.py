"""Cursors and change events: round trips, and damage answered with BadRequest."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import BadRequest
from domain.leaderboards.codec import decode_cursor, decode_event, encode_cursor, encode_event
from domain.leaderboards.models import ChangeEvent, Position
from domain.leaderboards.rules import MAX_SCORE

player_ids = st.text(
    alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-",
    min_size=1,
    max_size=64,
)
labels = st.sampled_from(["all", "all.3", "2026-11-26", "2026-W48.1", "2026-11"])
positions = st.builds(
    Position,
    st.floats(min_value=-MAX_SCORE, max_value=MAX_SCORE, allow_nan=False).map(lambda x: x + 0.0),
    st.integers(0, 2**53),
    player_ids,
)


@given(labels, positions)
def test_cursors_round_trip(label: str, position: Position) -> None:
    cursor = encode_cursor("global", label, position)
    assert decode_cursor("global", cursor) == (label, position)


@given(labels, positions, st.data())
def test_a_damaged_cursor_is_a_bad_request_or_another_place(
    label: str, position: Position, data: st.DataObject
) -> None:
    cursor = encode_cursor("global", label, position)
    i = data.draw(st.integers(0, len(cursor) - 1))
    char = data.draw(st.sampled_from("AZaz09-_=+/!"))
    damaged = cursor[:i] + char + cursor[i + 1 :]
    try:
        decoded = decode_cursor("global", damaged)
    except BadRequest:
        return
    assert isinstance(decoded[1], Position)


@pytest.mark.parametrize("junk", ["", "x", "!!!!", "a" * 300, None, 5, "AAAAAAAAAAAAAAAAAAAAAAAA"])
def test_junk_cursors_are_bad_requests(junk: object) -> None:
    with pytest.raises(BadRequest):
        decode_cursor("global", junk)


def test_a_cursor_of_another_board_is_a_bad_request() -> None:
    cursor = encode_cursor("weekly", "all", Position(-3.0, 7, "p1"))
    with pytest.raises(BadRequest):
        decode_cursor("global", cursor)


@given(
    labels,
    player_ids,
    st.one_of(st.none(), positions),
    st.one_of(st.none(), positions),
    st.integers(0, 2**60),
)
def test_events_round_trip(
    label: str, player: str, old: Position | None, new: Position | None, at: int
) -> None:
    old = None if old is None else Position(old.score, old.stamp, player)
    new = None if new is None else Position(new.score, new.stamp, player)
    event = ChangeEvent("write" if new else "remove", label, player, old, new, at)
    assert decode_event(encode_event(event)) == event


def test_the_server_event_line_decodes() -> None:
    # As leaderboards.lua prints it: stored scores as Valkey prints doubles.
    event = decode_event(
        b"w 2026-W48 p7 -5 1764000000000001 -1e+16 1764000000000009 1764000000000009"
    )
    assert event.kind == "write"
    assert event.old == Position(-5.0, 1764000000000001, "p7")
    assert event.new == Position(-1e16, 1764000000000009, "p7")
    reset = decode_event(b"r all.1 - - - - - 17")
    assert reset.kind == "reset" and reset.period == "all.1" and reset.player_id == ""


@pytest.mark.parametrize("junk", [b"", b"w a b", b"q 1 2 3 4 5 6 7", b"w a p x 1 - - 1"])
def test_malformed_events_raise_value_error(junk: bytes) -> None:
    with pytest.raises(ValueError):
        decode_event(junk)
