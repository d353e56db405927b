"""Pure rules at their edges: exact limits, the messages clients read, which sub-boards a
page still needs, and whose rank a write cannot have moved."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytest

from domain.errors import BadRequest
from domain.leaderboards.models import ChangeEvent, Position
from domain.leaderboards.rules import (
    MAX_PLAYER_IDS,
    apply_operator,
    cut_short,
    decode_member,
    decode_metadata,
    encode_member,
    encode_metadata,
    first_fetch,
    member_of,
    merge,
    position_of,
    rank_shift,
    require_int,
    require_player_ids,
    require_score,
    touches_top,
)


def _message(exc: pytest.ExceptionInfo[BadRequest]) -> str:
    return exc.value.message


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("1", "score must be a number"),
        (True, "score must be a number"),
        (2**53 + 1, "score must be within ±2^53"),
        (math.nan, "score must be a finite number within ±2^53"),
        (math.inf, "score must be a finite number within ±2^53"),
    ],
)
def test_a_refused_score_says_why_and_names_the_field(value: object, message: str) -> None:
    with pytest.raises(BadRequest) as exc:
        require_score(value)
    assert _message(exc) == message
    with pytest.raises(BadRequest) as exc:
        require_score(value, "value")
    assert _message(exc) == "value" + message.removeprefix("score")


def test_integers_are_checked_against_inclusive_bounds() -> None:
    assert require_int(1, 1, 100, "limit") == 1
    assert require_int(100, 1, 100, "limit") == 100
    for bad in (0, 101, True, 1.0, "5", None):
        with pytest.raises(BadRequest) as exc:
            require_int(bad, 1, 100, "limit")
        assert _message(exc) == "limit must be an integer in 1..100"


def test_player_id_lists_hold_at_most_the_limit() -> None:
    ids = [f"p{i}" for i in range(MAX_PLAYER_IDS)]
    assert require_player_ids(ids) == ids
    assert require_player_ids(("a", "b")) == ["a", "b"]
    with pytest.raises(BadRequest) as exc:
        require_player_ids([*ids, "one-more"])
    assert _message(exc) == "player_ids may hold at most 100 ids"
    with pytest.raises(BadRequest) as exc:
        require_player_ids(["a", "b", "c"], limit=2)
    assert _message(exc) == "player_ids may hold at most 2 ids"


def test_a_bad_player_id_list_names_the_field() -> None:
    with pytest.raises(BadRequest) as exc:
        require_player_ids("a")
    assert _message(exc) == "player_ids must be a list"
    with pytest.raises(BadRequest) as exc:
        require_player_ids(["ok", "not ok"])
    assert _message(exc).startswith("player_ids must match ")


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        ([1], "metadata must be an object"),
        ("x", "metadata must be an object"),
        ({1: 2}, "metadata must be a JSON object"),
        ({"a": {1, 2}}, "metadata must be a JSON object"),
        ({"a": "x" * 1100}, "metadata must be at most 1024 bytes as JSON"),
    ],
)
def test_refused_metadata_says_why(metadata: object, message: str) -> None:
    with pytest.raises(BadRequest) as exc:
        encode_metadata(metadata)
    assert _message(exc) == message


def test_stored_metadata_decodes_to_an_object_or_none() -> None:
    assert decode_metadata(None) is None
    assert decode_metadata(b"") is None
    assert decode_metadata(b'{"a":[1,"x"]}') == {"a": [1, "x"]}
    assert decode_metadata(b"[1,2]") is None
    assert decode_metadata(b"3") is None


def test_a_best_write_that_ties_keeps_the_score() -> None:
    assert apply_operator("best", "desc", 7.0, 7.0) == 7.0
    assert apply_operator("best", "asc", 7.0, 7.0) == 7.0


def test_operators_never_produce_negative_zero() -> None:
    for result in (
        apply_operator("incr", "desc", -0.0, -0.0),
        apply_operator("decr", "desc", -0.0, 0.0),
        apply_operator("incr", "asc", None, -0.0),
    ):
        assert result == 0.0 and math.copysign(1.0, result) == 1.0


def test_leaving_2_pow_53_says_so() -> None:
    with pytest.raises(BadRequest) as exc:
        apply_operator("incr", "desc", 2.0**53, 2.0)
    assert _message(exc) == "the score would leave ±2^53"


def test_a_member_is_the_big_endian_stamp_then_the_player_id() -> None:
    assert encode_member(1, "p") == b"\x00" * 7 + b"\x01p"
    assert decode_member(b"\x00" * 7 + b"\x02abc") == (2, "abc")


@pytest.mark.parametrize("member", [b"", b"\x00" * 7, b"\x00" * 8])
def test_a_member_without_a_player_id_is_refused(member: bytes) -> None:
    with pytest.raises(ValueError, match="^a member holds a stamp and a player id$"):
        decode_member(member)


def test_a_stored_entry_is_read_back_as_its_position() -> None:
    member = encode_member(12345, "p1")
    assert position_of(-990.0, member) == Position(-990.0, 12345, "p1")
    assert member_of(Position(-990.0, 12345, "p1")) == member
    zero = position_of(-0.0, member).score
    assert math.copysign(1.0, zero) == 1.0


@dataclass(frozen=True)
class Row:
    name: str
    score: int


def test_merge_orders_by_the_given_key() -> None:
    by_score = [[Row("z", 1), Row("a", 5)], [Row("m", 3)]]
    merged = merge(by_score, key=lambda r: r.score)
    assert [r.name for r in merged] == ["z", "m", "a"]
    assert [r.name for r in merge(by_score, key=lambda r: r.score, limit=2)] == ["z", "m"]


def test_two_sub_boards_are_asked_for_a_share_not_the_whole_page() -> None:
    assert first_fetch(100, 2) == 79
    assert first_fetch(100, 1) == 100


def _ident(x: int) -> int:
    return x


def test_a_full_page_needs_only_sub_boards_whose_last_fetched_entry_made_it() -> None:
    fetched = [[1, 2], [3, 10], [4, 5], [6]]
    remaining = [5, 5, 2, 1]  # sub-boards 2 and 3 returned all they have
    page = merge(fetched, key=_ident, limit=4)
    assert page == [1, 2, 3, 4]
    # Sub-board 0's last fetched entry (2) is on the page: its next ones might be too.
    # Sub-board 1's last fetched entry (10) is not: nothing after it can be.
    assert cut_short(fetched, remaining, page, 4, key=_ident) == [0]


def test_a_sub_board_whose_last_fetched_entry_ends_the_page_is_needed() -> None:
    fetched = [[1, 4], [2, 3]]
    page = merge(fetched, key=_ident, limit=3)
    assert page == [1, 2, 3]
    assert cut_short(fetched, [9, 9], page, 3, key=_ident) == [1]


def test_a_page_that_is_not_full_needs_every_sub_board_with_more() -> None:
    fetched = [[1, 2], [], [7], [9]]
    remaining = [3, 0, 1, 4]
    page = merge(fetched, key=_ident, limit=10)
    assert cut_short(fetched, remaining, page, 10, key=_ident) == [0, 3]


def _write(player_id: str, old: Position | None, new: Position | None) -> ChangeEvent:
    return ChangeEvent("write", "all", player_id, old, new, 1)


def test_the_writer_s_own_old_position_has_no_rank_shift() -> None:
    old, new = Position(5.0, 1, "me"), Position(-5.0, 2, "me")
    assert rank_shift(_write("me", old, new), old) == 0
    assert rank_shift(_write("me", new, old), new) == 0
    # Anyone between the two positions moves by one.
    assert rank_shift(_write("me", old, new), Position(0.0, 1, "you")) == 1


LAST = Position(1.0, 5, "last")


def test_a_write_below_a_full_top_does_not_touch_it() -> None:
    event = _write("w", Position(5.0, 1, "w"), Position(4.0, 2, "w"))
    assert not touches_top(event, LAST, top_is_full=True)
    assert touches_top(_write("w", None, Position(1.0, 5, "a")), LAST, True)
    assert touches_top(_write("w", Position(0.0, 1, "w"), None), LAST, True)


def test_a_top_that_is_not_full_is_touched_by_any_write() -> None:
    event = _write("w", Position(5.0, 1, "w"), Position(4.0, 2, "w"))
    assert touches_top(event, LAST, top_is_full=False)
    assert touches_top(event, None, top_is_full=True)


@pytest.mark.parametrize("kind", ["reset", "delete"])
def test_a_reset_or_delete_touches_every_top(kind: str) -> None:
    event = ChangeEvent(kind, "all")  # type: ignore[arg-type]
    assert touches_top(event, LAST, top_is_full=True)
