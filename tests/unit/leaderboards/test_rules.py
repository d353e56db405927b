"""Pure rules: scores, operators, tie encoding, merging and who a write moves."""

from __future__ import annotations

import math

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import BadRequest
from domain.leaderboards.models import ChangeEvent, Position
from domain.leaderboards.rules import (
    MAX_SCORE,
    apply_operator,
    cut_short,
    decode_member,
    denormalise,
    encode_member,
    encode_metadata,
    first_fetch,
    merge,
    moved_subscribers,
    normalise,
    rank_shift,
    require_player_ids,
    require_score,
    touches_top,
)

scores = st.floats(min_value=-MAX_SCORE, max_value=MAX_SCORE, allow_nan=False)
small_scores = st.integers(min_value=-5, max_value=5).map(float)
stamps = st.integers(min_value=0, max_value=2**53)
player_ids = st.text(
    alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-",
    min_size=1,
    max_size=64,
)
positions = st.builds(Position, small_scores, st.integers(0, 20), player_ids)


@pytest.mark.parametrize("value", [0, 1, -7, 2**53, -(2**53), 0.5, 1e-300, float(2**53)])
def test_scores_within_2_pow_53_are_accepted(value: float) -> None:
    assert require_score(value) == value


@pytest.mark.parametrize(
    "value", [True, None, "1", [1], 2**53 + 1, float(2**54), math.inf, -math.inf, math.nan, 1e300]
)
def test_other_scores_are_bad_requests(value: object) -> None:
    with pytest.raises(BadRequest):
        require_score(value)


def test_negative_zero_is_stored_as_zero() -> None:
    assert math.copysign(1.0, require_score(-0.0)) == 1.0
    assert math.copysign(1.0, normalise("desc", 0.0)) == 1.0


@given(scores)
def test_normalising_is_exact_and_reversible(score: float) -> None:
    for order in ("desc", "asc"):
        assert denormalise(order, normalise(order, score)) == score


@given(scores, scores)
def test_normalised_order_is_smaller_is_better(a: float, b: float) -> None:
    assert (normalise("desc", a) < normalise("desc", b)) == (a > b)
    assert (normalise("asc", a) < normalise("asc", b)) == (a < b)


def test_integral_scores_come_back_as_ints() -> None:
    assert denormalise("desc", -990.0) == 990
    assert isinstance(denormalise("desc", -990.0), int)
    assert denormalise("asc", 1.5) == 1.5


@given(st.one_of(st.none(), small_scores), small_scores)
def test_operators_follow_their_definitions(old: float | None, value: float) -> None:
    base = old or 0.0
    assert apply_operator("set", "desc", old, value) == value
    assert apply_operator("incr", "desc", old, value) == base + value
    assert apply_operator("decr", "asc", old, value) == base - value
    best_desc = apply_operator("best", "desc", old, value)
    best_asc = apply_operator("best", "asc", old, value)
    assert best_desc == (value if old is None else max(old, value))
    assert best_asc == (value if old is None else min(old, value))


def test_incr_beyond_2_pow_53_is_a_bad_request() -> None:
    # 2^53 + 1 is no double: its double sum rounds back to 2^53, and is refused all the same.
    for old, step in ((MAX_SCORE, 1.0), (MAX_SCORE - 1, 2.0), (MAX_SCORE, 2.0)):
        with pytest.raises(BadRequest):
            apply_operator("incr", "desc", old, step)
    assert apply_operator("incr", "desc", MAX_SCORE - 1, 1.0) == MAX_SCORE
    with pytest.raises(BadRequest):
        apply_operator("decr", "desc", -MAX_SCORE, 2.0)


@given(stamps, player_ids)
def test_members_round_trip(stamp: int, player_id: str) -> None:
    assert decode_member(encode_member(stamp, player_id)) == (stamp, player_id)


@given(st.lists(st.tuples(small_scores, stamps, player_ids), max_size=40))
def test_member_byte_order_is_position_order(entries: list[tuple[float, int, str]]) -> None:
    # Valkey orders a sorted set by (score, member bytes); that must be the board order.
    by_valkey = sorted(entries, key=lambda e: (e[0], encode_member(e[1], e[2])))
    by_position = sorted(entries, key=lambda e: Position(*e))
    assert by_valkey == by_position


@given(st.lists(positions, max_size=60), st.integers(1, 8), st.integers(0, 70))
def test_merge_is_the_sorted_union(items: list[Position], k: int, limit: int) -> None:
    sources = [sorted(items[i::k]) for i in range(k)]
    assert merge(sources, key=lambda p: p, limit=limit) == sorted(items)[:limit]


@given(
    st.lists(st.integers(0, 10**6), max_size=300, unique=True),
    st.integers(1, 8),
    st.integers(1, 120),
    st.integers(0, 3),
)
def test_a_page_fetched_by_shares_then_topped_up_is_the_exact_page(
    scores: list[int], sub_boards: int, limit: int, skew: int
) -> None:
    # `skew` piles entries onto sub-board 0, the case the second round exists for.
    subs: list[list[int]] = [[] for _ in range(sub_boards)]
    for n, score in enumerate(scores):
        subs[0 if n % 4 < skew else score % sub_boards].append(score)
    subs = [sorted(entries) for entries in subs]
    fetch = first_fetch(limit, sub_boards)
    fetched = [entries[:fetch] for entries in subs]
    page = merge(fetched, key=lambda x: x, limit=limit)
    short = cut_short(fetched, [len(e) for e in subs], page, limit, key=lambda x: x)
    for i in short:
        fetched[i] = subs[i][:limit]
    assert merge(fetched, key=lambda x: x, limit=limit) == sorted(scores)[:limit]


def test_first_fetch_asks_each_sub_board_for_a_share_with_margin() -> None:
    assert first_fetch(100, 6) == 29
    assert first_fetch(10, 6) == 7
    assert first_fetch(100, 1) == 100
    assert first_fetch(3, 6) == 3


def _ranks(board: list[Position]) -> dict[str, int]:
    return {p.player_id: i + 1 for i, p in enumerate(sorted(board))}


@st.composite
def boards_and_moves(draw: st.DrawFn) -> tuple[list[Position], ChangeEvent]:
    ids = draw(st.lists(player_ids, min_size=1, max_size=12, unique=True))
    board = [Position(draw(small_scores), draw(st.integers(0, 5)), pid) for pid in ids[1:]]
    mover = ids[0]
    old = draw(st.one_of(st.none(), small_scores))
    new = draw(st.one_of(st.none(), small_scores))
    old_p = None if old is None else Position(old, draw(st.integers(0, 5)), mover)
    new_p = None if new is None else Position(new, draw(st.integers(6, 9)), mover)
    if new_p is None:
        return board, ChangeEvent("remove", "all", mover, old_p, None, 1)
    return board, ChangeEvent("write", "all", mover, old_p, new_p, 1)


@given(boards_and_moves())
def test_rank_shift_matches_a_recount(case: tuple[list[Position], ChangeEvent]) -> None:
    others, event = case
    before = _ranks(others + ([event.old] if event.old else []))
    after = _ranks(others + ([event.new] if event.new else []))
    watched = {p.player_id: p for p in others}
    for position in others:
        shift = after[position.player_id] - before[position.player_id]
        assert rank_shift(event, position) == shift
    moved = {pid for pid, p in watched.items() if after[pid] != before[pid]}
    assert moved_subscribers(event, watched) == moved


def test_the_writer_is_among_the_moved_when_its_position_changed() -> None:
    me = Position(-5.0, 1, "me")
    event = ChangeEvent("write", "all", "me", me, Position(-7.0, 2, "me"), 2)
    assert moved_subscribers(event, {"me": me}) == {"me"}
    same = ChangeEvent("write", "all", "me", me, me, 2)
    assert moved_subscribers(same, {"me": me}) == set()


@given(boards_and_moves(), st.integers(1, 5))
def test_a_write_that_changes_the_top_touches_it(
    case: tuple[list[Position], ChangeEvent], size: int
) -> None:
    others, event = case
    before = sorted(others + ([event.old] if event.old else []))
    after = sorted(others + ([event.new] if event.new else []))
    top_before = before[:size]
    last = top_before[-1] if top_before else None
    if top_before != after[:size]:
        assert touches_top(event, last, len(top_before) == size)


def test_metadata_must_be_a_small_object() -> None:
    assert encode_metadata(None) is None
    assert encode_metadata({"a": [1, "x"]}) == b'{"a":[1,"x"]}'
    bad_values: list[object] = [[], "x", {"a": "x" * 1100}, {1: 2}, {"a": {1, 2}}]
    for bad in bad_values:
        with pytest.raises(BadRequest):
            encode_metadata(bad)


def test_player_id_lists_are_checked_and_deduplicated() -> None:
    assert require_player_ids(["b", "a", "b"]) == ["b", "a"]
    for bad in ("ab", ["a b"], [1], ["x"] * 101):
        with pytest.raises(BadRequest):
            require_player_ids(bad)


def _metadata_of_json_bytes(size: int) -> dict[str, str]:
    metadata = {"k": "x" * (size - len(b'{"k":""}'))}
    assert len(orjson.dumps(metadata)) == size
    return metadata


def test_metadata_of_exactly_1024_bytes_is_accepted() -> None:
    assert len(encode_metadata(_metadata_of_json_bytes(1024)) or b"") == 1024


def test_metadata_of_1025_bytes_is_refused() -> None:
    with pytest.raises(BadRequest, match="1024 bytes"):
        encode_metadata(_metadata_of_json_bytes(1025))
