"""Parties on the real cluster: consent, one party per player, eight at most, handover."""

from __future__ import annotations

import asyncio

import pytest
from valkey.asyncio.cluster import ValkeyCluster

from domain.clock import FixedClock
from domain.errors import BadRequest, Conflict, Forbidden, NotFound, PartyNotFound, Unconfirmed
from domain.parties.rules import MAX_INVITES, MAX_MEMBERS, PartyLimits, make_claim
from domain.parties.service import PartyService
from domain.parties.store import PartyStore
from domain.storage.shard_calls import ShardCaller, WritePolicy
from tests.integration.parties.helpers import RecordingEvents, party_of


async def all_keys(valkey: ValkeyCluster) -> list[str]:
    """Every key of parties, scanned over all primaries."""
    return sorted([k.decode() async for k in valkey.scan_iter(match="party:*", count=1000)])


async def test_the_creator_leads_a_party_of_one(parties: PartyService) -> None:
    party_id = await parties.create("a")
    view = await parties.get("a", party_id)
    assert (view["leader"], view["members"], view["invited"]) == ("a", ["a"], [])
    assert await parties.party_of("a") == party_id


async def test_a_player_in_a_party_cannot_create_another(parties: PartyService) -> None:
    await parties.create("a")
    with pytest.raises(Conflict):
        await parties.create("a")


async def test_an_invited_player_joins_only_by_accepting(
    parties: PartyService, events: RecordingEvents
) -> None:
    party_id = await parties.create("a")
    await parties.invite("a", party_id, "b")
    assert events.to("b", "party.invited") == [
        {"event": "party.invited", "party_id": party_id, "from": "a"}
    ]
    view = await parties.get("a", party_id)
    assert (view["members"], view["invited"]) == (["a"], ["b"])
    with pytest.raises(Forbidden):  # invited is not a member
        await parties.get("b", party_id)
    await parties.accept("b", party_id)
    view = await parties.get("b", party_id)
    assert (view["leader"], view["members"], view["invited"]) == ("a", ["a", "b"], [])
    [*_, updated] = events.to("a", "party.updated")
    assert updated == {
        "event": "party.updated",
        "party_id": party_id,
        "leader": "a",
        "members": ["a", "b"],
        "invited": [],
    }
    assert events.to("b", "party.updated")[-1] == updated


async def test_a_decline_drops_the_invite(parties: PartyService) -> None:
    party_id = await parties.create("a")
    await parties.invite("a", party_id, "b")
    await parties.decline("b", party_id)
    assert (await parties.get("a", party_id))["invited"] == []
    with pytest.raises(Forbidden):
        await parties.accept("b", party_id)
    with pytest.raises(Forbidden):
        await parties.decline("b", party_id)


async def test_an_invite_expires_after_its_lifetime(
    parties: PartyService, clock: FixedClock
) -> None:
    party_id = await parties.create("a")
    await parties.invite("a", party_id, "b")
    clock.advance(60.001)  # the contract's lifetime, not the constant's (which could drift)
    assert (await parties.get("a", party_id))["invited"] == []
    with pytest.raises(Forbidden):
        await parties.accept("b", party_id)
    assert await parties.party_of("b") is None


async def test_the_party_itself_refuses_a_seat_without_a_running_invite(
    parties: PartyService, valkey: ValkeyCluster, clock: FixedClock
) -> None:
    # What the party's slot decides, whatever a gateway read before.
    store = PartyStore(ShardCaller(valkey))
    party_id = await parties.create("a")
    await parties.invite("a", party_id, "b")
    clock.advance(PartyLimits().invite_ttl_s)
    now_ms = round(clock.now() * 1000)
    for player in ("b", "stranger"):
        claim = make_claim(party_id, now_ms)
        change = await store.accept(party_id, player, claim, now_ms, 5000, MAX_MEMBERS)
        assert change.status == "not_invited"
    assert (await parties.get("a", party_id))["members"] == ["a"]


async def test_an_invite_accepted_just_in_time_counts(
    parties: PartyService, clock: FixedClock
) -> None:
    party_id = await parties.create("a")
    await parties.invite("a", party_id, "b")
    clock.advance(59.99)
    await parties.accept("b", party_id)
    assert (await parties.get("b", party_id))["members"] == ["a", "b"]


async def test_accepting_without_an_invite_is_forbidden_and_changes_nothing(
    parties: PartyService, valkey: ValkeyCluster, admin_valkey: ValkeyCluster
) -> None:
    party_id = await parties.create("a")
    before = await all_keys(admin_valkey)
    with pytest.raises(Forbidden):
        await parties.accept("b", party_id)
    with pytest.raises(PartyNotFound):
        await parties.accept("b", "0123456789abcdef")
    assert await all_keys(admin_valkey) == before
    assert (await parties.get("a", party_id))["members"] == ["a"]


async def test_only_the_leader_invites_and_kicks(parties: PartyService) -> None:
    party_id = await party_of(parties, "a", "b", "c")
    with pytest.raises(Forbidden):
        await parties.invite("b", party_id, "d")
    with pytest.raises(Forbidden):
        await parties.kick("b", party_id, "c")
    with pytest.raises(Forbidden):  # not even a member
        await parties.invite("x", party_id, "d")
    view = await parties.get("a", party_id)
    assert (view["members"], view["invited"]) == (["a", "b", "c"], [])


async def test_a_kicked_member_is_out_and_told(
    parties: PartyService, events: RecordingEvents
) -> None:
    party_id = await party_of(parties, "a", "b", "c")
    await parties.kick("a", party_id, "b")
    assert (await parties.get("a", party_id))["members"] == ["a", "c"]
    assert events.to("b", "party.updated")[-1]["members"] == ["a", "c"]
    assert await parties.party_of("b") is None
    # Free to start their own party at once.
    await parties.create("b")
    with pytest.raises(NotFound):
        await parties.kick("a", party_id, "b")
    with pytest.raises(BadRequest):
        await parties.kick("a", party_id, "a")


async def test_a_leaving_leader_hands_over_to_the_longest_member(
    parties: PartyService, events: RecordingEvents
) -> None:
    party_id = await party_of(parties, "a", "b", "c")
    await parties.leave("a", party_id)
    view = await parties.get("c", party_id)
    assert (view["leader"], view["members"]) == ("b", ["b", "c"])
    assert events.to("c", "party.updated")[-1]["leader"] == "b"
    await parties.invite("b", party_id, "d")  # the new leader leads
    with pytest.raises(Forbidden):
        await parties.get("a", party_id)


async def test_the_last_member_out_disbands_the_party(
    parties: PartyService, valkey: ValkeyCluster, admin_valkey: ValkeyCluster
) -> None:
    party_id = await party_of(parties, "a", "b")
    await parties.leave("b", party_id)
    await parties.leave("a", party_id)
    with pytest.raises(PartyNotFound):
        await parties.get("a", party_id)
    assert [k for k in await all_keys(admin_valkey) if not k.endswith(":inv")] == []
    with pytest.raises(PartyNotFound):
        await parties.leave("a", party_id)


async def test_a_party_holds_at_most_eight(parties: PartyService) -> None:
    members = [f"m{i}" for i in range(1, MAX_MEMBERS)]
    party_id = await party_of(parties, "lead", *members)
    await parties.invite("lead", party_id, "ninth")
    with pytest.raises(Conflict):
        await parties.accept("ninth", party_id)
    assert len((await parties.get("lead", party_id))["members"]) == MAX_MEMBERS
    assert await parties.party_of("ninth") is None


async def test_a_party_holds_a_bounded_number_of_running_invites(
    parties: PartyService, clock: FixedClock
) -> None:
    party_id = await parties.create("a")
    for i in range(MAX_INVITES):
        await parties.invite("a", party_id, f"i{i}")
    with pytest.raises(Conflict):
        await parties.invite("a", party_id, "one-more")
    await parties.invite("a", party_id, "i0")  # renewing a running invite is fine
    clock.advance(PartyLimits().invite_ttl_s)
    await parties.invite("a", party_id, "one-more")  # the expired ones no longer count
    assert (await parties.get("a", party_id))["invited"] == ["one-more"]


async def test_accepts_racing_for_the_last_seat_fill_it_once(
    valkey: ValkeyCluster, clock: FixedClock
) -> None:
    # Several gateways: each its own service and connection pool over the same cluster.
    gateways = [PartyService(PartyStore(ShardCaller(valkey)), clock) for _ in range(4)]
    await gateways[0].ensure_ready()
    party_id = await party_of(gateways[0], "lead", *(f"m{i}" for i in range(1, MAX_MEMBERS - 1)))
    racers = [f"r{i}" for i in range(12)]
    for racer in racers:
        await gateways[0].invite("lead", party_id, racer)
    outcomes = await asyncio.gather(
        *(gateways[i % 4].accept(r, party_id) for i, r in enumerate(racers)),
        return_exceptions=True,
    )
    winners = [r for r, o in zip(racers, outcomes, strict=True) if o is None]
    assert len(winners) == 1
    assert all(isinstance(o, Conflict) for o in outcomes if o is not None)
    members = (await gateways[1].get("lead", party_id))["members"]
    assert len(members) == MAX_MEMBERS and members[-1] == winners[0]
    losers = [r for r in racers if r not in winners]
    assert [await gateways[2].party_of(r) for r in losers] == [None] * len(losers)


async def test_one_player_accepting_two_invites_at_once_joins_one_party(
    parties: PartyService, valkey: ValkeyCluster, clock: FixedClock
) -> None:
    other = PartyService(PartyStore(ShardCaller(valkey)), clock)
    first, second = await parties.create("a"), await parties.create("b")
    await parties.invite("a", first, "p")
    await parties.invite("b", second, "p")
    outcomes = await asyncio.gather(
        parties.accept("p", first), other.accept("p", second), return_exceptions=True
    )
    assert sorted(type(o).__name__ for o in outcomes) == ["Conflict", "NoneType"]
    joined = first if outcomes[0] is None else second
    assert await parties.party_of("p") == joined
    in_first = "p" in (await parties.get("a", first))["members"]
    in_second = "p" in (await parties.get("b", second))["members"]
    assert (in_first, in_second) == (joined == first, joined == second)


async def test_a_member_cannot_accept_another_invite(
    parties: PartyService, clock: FixedClock
) -> None:
    first = await party_of(parties, "a", "p")
    second = await parties.create("b")
    # However long ago they joined: membership holds, not the age of the claim.
    clock.advance(3600)
    await parties.invite("b", second, "p")
    with pytest.raises(Conflict):
        await parties.accept("p", second)
    with pytest.raises(Conflict):
        await parties.accept("p", first)
    assert (await parties.get("b", second))["members"] == ["b"]
    await parties.leave("p", first)
    await parties.accept("p", second)
    assert await parties.party_of("p") == second


async def test_a_dead_joins_claim_holds_the_player_only_briefly(
    parties: PartyService, valkey: ValkeyCluster, clock: FixedClock
) -> None:
    store = PartyStore(ShardCaller(valkey))
    party_id = await parties.create("a")
    await parties.invite("a", party_id, "p")
    # A gateway claimed p for some party and died before seating them.
    dead_party = "00000000deadbeef"
    dead_claim = make_claim(dead_party, round(clock.now() * 1000))
    assert await store.claim("p", dead_claim) is None
    with pytest.raises(Conflict):
        await parties.accept("p", party_id)
    limit_s = PartyLimits().claim_limit_s
    clock.advance(2 * limit_s + 0.01)
    await parties.invite("a", party_id, "p")
    await parties.accept("p", party_id)
    # The dead join can no longer seat p anywhere: its claim is past the limit.
    change = await store.accept(
        party_id, "p", dead_claim, round(clock.now() * 1000), round(limit_s * 1000), MAX_MEMBERS
    )
    assert change.status == "member"
    other = await parties.create("b")
    await parties.invite("b", other, "p")
    late = await store.accept(
        other, "p", dead_claim, round(clock.now() * 1000), round(limit_s * 1000), MAX_MEMBERS
    )
    assert late.status == "stale"
    assert (await parties.get("b", other))["members"] == ["b"]


@pytest.mark.parametrize(
    ("op", "args", "error"),
    [
        ("invite", ("a", "PARTY", "bad id!"), BadRequest),
        ("invite", ("a", "PARTY", None), BadRequest),
        ("invite", ("a", "not-a-party", "b"), BadRequest),
        ("invite", ("a", 12, "b"), BadRequest),
        ("invite", ("a", "PARTY", "a"), Conflict),  # already a member
        ("accept", ("b", None), BadRequest),
        ("decline", ("b", ["x"]), BadRequest),
        ("leave", ("a", "ffffffffffffffff"), PartyNotFound),
        ("leave", ("x", "PARTY"), Forbidden),
        ("kick", ("a", "PARTY", 7), BadRequest),
        ("get", ("a", "ffffffffffffffff"), PartyNotFound),
        ("get", ("x", "PARTY"), Forbidden),
    ],
)
async def test_bad_requests_change_nothing(
    parties: PartyService,
    valkey: ValkeyCluster,
    op: str,
    args: tuple[object, ...],
    error: type[Exception],
    admin_valkey: ValkeyCluster,
) -> None:
    party_id = await parties.create("a")
    before = await all_keys(admin_valkey)
    snapshot = await parties.get("a", party_id)
    call = getattr(parties, op)
    with pytest.raises(error):
        await call(*(party_id if a == "PARTY" else a for a in args))
    assert await all_keys(admin_valkey) == before
    assert await parties.get("a", party_id) == snapshot


async def test_a_party_reads_the_same_from_another_gateway(
    parties: PartyService, valkey: ValkeyCluster, clock: FixedClock
) -> None:
    other = PartyService(PartyStore(ShardCaller(valkey)), clock)
    party_id = await parties.create("a")
    await parties.invite("a", party_id, "b")
    await other.accept("b", party_id)
    assert (await other.get("a", party_id))["members"] == ["a", "b"]
    assert await other.members_led_by(party_id, "a") == ("a", "b")
    with pytest.raises(Forbidden):
        await other.members_led_by(party_id, "b")


async def test_forgetting_a_player_takes_them_out_of_party_and_invites(
    parties: PartyService,
    valkey: ValkeyCluster,
    events: RecordingEvents,
    admin_valkey: ValkeyCluster,
) -> None:
    led = await party_of(parties, "p", "b")
    elsewhere = await parties.create("c")
    await parties.invite("c", elsewhere, "p")
    await parties.forget_player("p")
    assert (await parties.get("b", led))["leader"] == "b"
    assert (await parties.get("b", led))["members"] == ["b"]
    assert (await parties.get("c", elsewhere))["invited"] == []
    assert events.to("b", "party.updated")[-1]["members"] == ["b"]
    assert not [k for k in await all_keys(admin_valkey) if "pl.p}" in k]
    # Idempotent: again, nothing to do and no error.
    await parties.forget_player("p")
    await parties.forget_player("never-seen")
    assert (await parties.get("b", led))["members"] == ["b"]


async def test_forgetting_the_last_member_disbands_the_party(
    parties: PartyService, valkey: ValkeyCluster, admin_valkey: ValkeyCluster
) -> None:
    party_id = await parties.create("p")
    await parties.forget_player("p")
    with pytest.raises(PartyNotFound):
        await parties.get("p", party_id)
    assert await all_keys(admin_valkey) == []


async def test_party_writes_are_acknowledged_only_once_a_replica_has_them(
    parties: PartyService, valkey: ValkeyCluster, clock: FixedClock
) -> None:
    # Each shard has one replica: waiting for two falls short, and says so.
    impatient = PartyService(PartyStore(ShardCaller(valkey), writes=WritePolicy(2, 50)), clock)
    with pytest.raises(Unconfirmed):
        await impatient.create("a")
    # An unconfirmed claim may have run: it holds the player, but only briefly.
    with pytest.raises(Conflict):
        await parties.create("a")
    clock.advance(2 * PartyLimits().claim_limit_s + 0.01)
    party_id = await parties.create("a")
    assert (await parties.get("a", party_id))["members"] == ["a"]
