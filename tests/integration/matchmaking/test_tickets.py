from __future__ import annotations

import asyncio
import contextlib

import pytest
from valkey.asyncio.cluster import ValkeyCluster
from valkey.exceptions import ResponseError

from domain.clock import FixedClock
from domain.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    PartyNotFound,
    QueueNotFound,
    TicketNotFound,
)
from domain.matchmaking.models import QueueConfig, Ticket, TicketState
from domain.matchmaking.service import MatchmakingService
from domain.matchmaking.store import LIBRARY_CODE, PartitionKeys, code_of, partition_code
from domain.matchmaking.ticket_store import TicketStore
from domain.parties.service import PartyService
from domain.storage.function_library import FunctionLibrary
from tests.integration.matchmaking.conftest import LIMITS, OnlinePlayers, mm_store
from tests.integration.parties.helpers import party_of


async def key_count(valkey: ValkeyCluster) -> int:
    counts = await valkey.execute_command("DBSIZE", target_nodes=valkey.get_primaries())
    return sum(counts.values()) if isinstance(counts, dict) else int(counts)


async def test_a_joined_ticket_is_searching(service: MatchmakingService) -> None:
    ticket = await service.join("duel", "p1")
    assert await service.status(ticket) == "searching"
    found = await service.ticket(ticket)
    assert (found.queue, found.players) == ("duel", ("p1",))


async def test_a_join_where_the_nodes_lost_the_functions_loads_them_and_stores_one_ticket(
    service: MatchmakingService, admin_valkey: ValkeyCluster
) -> None:
    # What a promoted replica or a new node looks like: no matchmaking library.
    loaded = FunctionLibrary.from_source(LIBRARY_CODE).name
    for primary in admin_valkey.get_primaries():
        with contextlib.suppress(ResponseError):  # not loaded there
            await admin_valkey.execute_command("FUNCTION", "DELETE", loaded, target_nodes=primary)
    ticket_id = await service.join("duel", "p1")
    assert await service.status(ticket_id) == "searching"
    code = code_of(ticket_id)
    assert code is not None
    assert await admin_valkey.xlen(PartitionKeys(code).stream) == 1


async def test_a_player_is_never_in_two_live_tickets(
    service: MatchmakingService, parties: PartyService
) -> None:
    party_id = await party_of(parties, "p2", "p1")
    await service.join("duel", "p1")
    with pytest.raises(Conflict):
        await service.join("duel", "p1")
    with pytest.raises(Conflict):
        await service.join("open", "p1")
    with pytest.raises(Conflict):
        await service.join("two", "p2", party_id=party_id)
    # The failed party join left nothing behind: p2 is free.
    assert await service.status(await service.join("duel", "p2")) == "searching"


async def test_concurrent_joins_of_one_player_leave_one_ticket(
    service: MatchmakingService,
) -> None:
    outcomes = await asyncio.gather(
        *(service.join(q, "p1") for q in ("duel", "open", "solo", "duel")),
        return_exceptions=True,
    )
    tickets = [o for o in outcomes if isinstance(o, str)]
    assert len(tickets) == 1
    assert all(isinstance(o, Conflict) for o in outcomes if not isinstance(o, str))


async def test_a_cancelled_ticket_frees_the_player(service: MatchmakingService) -> None:
    ticket = await service.join("duel", "p1")
    await service.cancel("p1", ticket)
    assert await service.status(ticket) == "cancelled"
    await service.cancel("p1", ticket)  # cancelling again changes nothing
    assert await service.status(await service.join("duel", "p1")) == "searching"


async def test_any_member_of_a_partys_ticket_and_only_they_may_cancel_it(
    service: MatchmakingService, parties: PartyService
) -> None:
    ticket = await service.join("two", "a", party_id=await party_of(parties, "a", "b"))
    with pytest.raises(Forbidden):
        await service.cancel("c", ticket)
    await service.cancel("b", ticket)
    assert await service.status(ticket) == "cancelled"


async def test_unknown_tickets_are_not_found(service: MatchmakingService) -> None:
    for ticket in ("nope", "0123456789.abcdef0123456789", "0123456789."):
        with pytest.raises(TicketNotFound):
            await service.status(ticket)
        with pytest.raises(TicketNotFound):
            await service.cancel("p1", ticket)


async def test_a_party_joins_as_one_ticket(
    service: MatchmakingService, parties: PartyService
) -> None:
    ticket = await service.join("two", "a", party_id=await party_of(parties, "a", "b"))
    assert (await service.ticket(ticket)).players == ("a", "b")
    with pytest.raises(Conflict):
        await service.join("duel", "b")


async def test_every_party_member_needs_a_live_session(
    service: MatchmakingService,
    online: OnlinePlayers,
    admin_valkey: ValkeyCluster,
    parties: PartyService,
) -> None:
    party_id = await party_of(parties, "a", "b")
    online.offline.add("b")
    before = await key_count(admin_valkey)
    with pytest.raises(Conflict):
        await service.join("two", "a", party_id=party_id)
    assert await key_count(admin_valkey) == before


@pytest.mark.parametrize(
    ("queue", "party", "properties", "error"),
    [
        ("no-such", None, None, QueueNotFound),
        ("bad name", None, None, BadRequest),
        (7, None, None, BadRequest),
        ("two", ("b", "c"), None, Forbidden),  # the caller is not in the party
        ("two", ("b", "a"), None, Forbidden),  # the caller does not lead it
        ("two", ("a", "b", "c"), None, BadRequest),  # larger than a team
        ("two", "a,b", None, BadRequest),
        ("two", ["a", "b"], None, BadRequest),  # the v1 list of players is gone
        ("two", "ffffffffffffffff", None, PartyNotFound),
        ("solo", ("a", "b"), None, BadRequest),  # the queue takes no parties
        ("regional", None, None, BadRequest),  # the queue needs a region
        ("duel", None, {"latency": {"eu": "fast"}}, BadRequest),
        ("duel", None, ["eu"], BadRequest),
    ],
)
async def test_bad_joins_change_nothing(
    service: MatchmakingService,
    parties: PartyService,
    admin_valkey: ValkeyCluster,
    queue: object,
    party: object,
    properties: object,
    error: type[Exception],
) -> None:
    # A tuple stands for the party those players form (the leader first).
    party_id = await party_of(parties, *party) if isinstance(party, tuple) else party
    before = await key_count(admin_valkey)
    with pytest.raises(error):
        await service.join(queue, "a", party_id=party_id, properties=properties)
    assert await key_count(admin_valkey) == before


async def test_tickets_survive_a_gateway_restart(
    service: MatchmakingService, valkey: ValkeyCluster, clock: FixedClock, online: OnlinePlayers
) -> None:
    ticket = await service.join("duel", "p1")
    restarted = MatchmakingService(mm_store(valkey), clock, online, limits=LIMITS)
    await restarted.ensure_ready()
    assert await restarted.status(ticket) == "searching"
    with pytest.raises(Conflict):
        await restarted.join("duel", "p1")
    await restarted.cancel("p1", ticket)
    assert await service.status(ticket) == "cancelled"


async def test_queues_are_created_once(service: MatchmakingService) -> None:
    config = QueueConfig.from_dict({"name": "five", "team_size": 5, "teams": 2})
    await service.create_queue(config)
    with pytest.raises(Conflict):
        await service.create_queue(config)
    with pytest.raises(Conflict):
        await service.create_queue(QueueConfig(name="duel"))
    assert (await service.queue("five")).team_size == 5
    assert await service.status(await service.join("five", "p1")) == "searching"


async def test_a_dead_joins_claim_holds_the_player_only_briefly(
    service: MatchmakingService, valkey: ValkeyCluster, clock: FixedClock
) -> None:
    # A gateway died after claiming p1 for a ticket it never stored.
    store = TicketStore(mm_store(valkey))
    code = partition_code("duel", "any")
    dead_id = f"{code}.00000000deadbeef"
    claim = f"{dead_id} {round(clock.now() * 1000)}"
    assert await store.claim_player("p1", claim, 60_000, 600_000) is None
    with pytest.raises(Conflict):
        await service.join("duel", "p1")
    clock.advance(LIMITS.claim_limit_s + 1)
    ticket = await service.join("duel", "p1")
    # The dead join can no longer store its ticket.
    dead = Ticket(
        dead_id,
        "duel",
        "any",
        ("p1",),
        (),
        clock.now() - LIMITS.claim_limit_s - 1,
        TicketState.SEARCHING,
    )
    now_ms = round(clock.now() * 1000)
    assert not await store.enqueue(dead, now_ms, round(LIMITS.claim_limit_s * 1000), 60_000)
    with pytest.raises(TicketNotFound):
        await service.status(dead_id)
    assert await service.status(ticket) == "searching"
