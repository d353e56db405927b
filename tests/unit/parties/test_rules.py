from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import BadRequest
from domain.parties.rules import (
    MAX_MEMBERS,
    Invite,
    Party,
    claim_holds,
    make_claim,
    new_party_id,
    parse_claim,
    require_party_id,
)

LIMIT_MS = 5_000
NOW_MS = 1_000_000


def test_new_party_ids_are_valid_and_distinct() -> None:
    ids = {new_party_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(require_party_id(i) == i for i in ids)


@pytest.mark.parametrize(
    "value", [None, 7, "", "0123456789abcde", "0123456789ABCDEF", "0123456789abcdef0", ["x"]]
)
def test_anything_but_a_party_id_is_a_bad_request(value: object) -> None:
    with pytest.raises(BadRequest):
        require_party_id(value)


def test_the_leader_is_the_longest_standing_member() -> None:
    assert Party("0123456789abcdef", ("a", "b", "c")).leader == "a"


def test_a_party_of_eight_is_full() -> None:
    assert not Party("p", tuple(f"m{i}" for i in range(MAX_MEMBERS - 1))).is_full()
    assert Party("p", tuple(f"m{i}" for i in range(MAX_MEMBERS))).is_full()


def test_only_running_invites_count_oldest_first() -> None:
    party = Party(
        "p",
        ("a",),
        invites={
            "late": Invite(NOW_MS + 2, "a"),
            "early": Invite(NOW_MS + 1, "a"),
            "gone": Invite(NOW_MS, "a"),
        },
    )
    assert party.invited(NOW_MS) == ["early", "late"]
    assert party.is_invited("late", NOW_MS)
    assert not party.is_invited("gone", NOW_MS)
    assert not party.is_invited("stranger", NOW_MS)


@given(st.from_regex(r"[0-9a-f]{16}", fullmatch=True), st.integers(0, 2**53))
def test_a_claim_reads_back_as_made(party_id: str, at: int) -> None:
    assert parse_claim(make_claim(party_id, at)) == (party_id, at)


def test_a_members_claim_holds_however_old() -> None:
    claim = make_claim("p", 0)
    assert claim_holds(claim, "a", Party("p", ("a",)), NOW_MS, LIMIT_MS)


def test_a_claim_without_a_seat_holds_for_twice_the_limit() -> None:
    claim = make_claim("p", NOW_MS - 2 * LIMIT_MS)
    assert claim_holds(claim, "a", None, NOW_MS, LIMIT_MS)
    assert claim_holds(claim, "a", Party("p", ("b",)), NOW_MS, LIMIT_MS)
    assert not claim_holds(claim, "a", None, NOW_MS + 1, LIMIT_MS)
    # Membership counts only in the party the claim names.
    assert not claim_holds(claim, "a", Party("q", ("a",)), NOW_MS + 1, LIMIT_MS)


def test_a_malformed_claim_holds_no_one() -> None:
    assert not claim_holds("garbage", "a", None, NOW_MS, LIMIT_MS)
