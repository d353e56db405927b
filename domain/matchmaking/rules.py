"""The match-forming pass: pure functions from a pool of waiting tickets to matches.

One pass sorts the pool by skill once, then takes anchors oldest first. An anchor grows
its match from its nearest neighbours in skill order, outwards in both directions, while
every member stays inside every other member's skill window. A full set is split into
teams (parties whole) balanced towards even win chances. Matched tickets are unlinked
from the sorted order, so later anchors skip them in O(1).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

from domain.matchmaking.balance import assign_teams
from domain.matchmaking.models import QueueConfig, Ticket
from domain.matchmaking.ratings import fairness_gap, win_probabilities

# How many neighbours an anchor may look at and reject before it gives up this tick; keeps
# a pass linear when many tickets are incompatible (latency, party sizes).
DEFAULT_SCAN_LIMIT = 64


@dataclass(slots=True, eq=False)
class Candidate:
    """A waiting ticket as the pass sees it."""

    ticket_id: str
    players: tuple[str, ...]
    mu_sum: float
    sigma2_sum: float
    created_at: float
    region: str | None = None
    # Regions the ticket may be hosted in under the latency rule; None: anywhere.
    regions: frozenset[str] | None = None
    latency_ms: dict[str, float] | None = None
    # The properties the ticket carries into `match.found`.
    carried: dict[str, Any] | None = None
    # Derived once, since a ticket goes through many passes: players, and mean mu.
    size: int = field(init=False)
    skill: float = field(init=False)

    def __post_init__(self) -> None:
        self.size = len(self.players)
        self.skill = self.mu_sum / self.size

    @classmethod
    def from_ticket(cls, ticket: Ticket, queue: QueueConfig) -> Candidate:
        props = ticket.properties
        return cls(
            ticket_id=ticket.ticket_id,
            players=ticket.players,
            mu_sum=sum(r.mu for r in ticket.ratings),
            sigma2_sum=sum(r.sigma * r.sigma for r in ticket.ratings),
            created_at=ticket.created_at,
            region=props.region,
            regions=props.acceptable_regions(queue),
            latency_ms=dict(props.latency_ms) or None,
            carried=dict(props.carried) or None,
        )


@dataclass(slots=True, eq=False)
class MatchPlan:
    teams: tuple[tuple[Candidate, ...], ...]
    win_probabilities: tuple[float, ...]
    region: str | None

    @property
    def tickets(self) -> tuple[Candidate, ...]:
        return tuple(c for team in self.teams for c in team)

    @property
    def player_teams(self) -> tuple[tuple[str, ...], ...]:
        return tuple(tuple(p for c in team for p in c.players) for team in self.teams)

    @property
    def fairness_gap(self) -> float:
        return fairness_gap(self.win_probabilities)


def expired(pool: Sequence[Candidate], now: float, max_wait_s: float) -> list[Candidate]:
    """Tickets that have waited the queue's maximum or longer."""
    return [c for c in pool if now - c.created_at >= max_wait_s]


def form_matches(
    queue: QueueConfig,
    pool: Sequence[Candidate],
    now: float,
    scan_limit: int = DEFAULT_SCAN_LIMIT,
) -> list[MatchPlan]:
    """Matches for as many waiting tickets as the queue's rules allow; no ticket twice."""
    if not queue.same_region:
        return _form_in_group(queue, pool, now, scan_limit, None)
    groups: dict[str | None, list[Candidate]] = defaultdict(list)
    for c in pool:
        groups[c.region].append(c)
    plans: list[MatchPlan] = []
    for region, group in groups.items():
        if region is not None:
            plans.extend(_form_in_group(queue, group, now, scan_limit, region))
    return plans


def _region_masks(
    queue: QueueConfig, cands: Sequence[Candidate], region: str | None
) -> list[int] | None:
    """Each ticket's acceptable regions as a bit set, so a compatibility test is one AND."""
    if queue.max_latency_ms is None:
        return None
    bits: dict[str, int] = {}
    masks: list[int] = []
    for c in cands:
        if c.regions is None:
            masks.append(-1)
            continue
        if region is not None and region not in c.regions:
            masks.append(0)
            continue
        mask = 0
        for r in c.regions:
            mask |= 1 << bits.setdefault(r, len(bits))
        masks.append(mask)
    return masks


def _form_in_group(
    queue: QueueConfig,
    group: Sequence[Candidate],
    now: float,
    scan_limit: int,
    region: str | None,
) -> list[MatchPlan]:
    need = queue.players_per_match
    cands = sorted(group, key=attrgetter("skill"))
    n = len(cands)
    skills = [c.skill for c in cands]
    sizes = [c.size for c in cands]
    created = [c.created_at for c in cands]
    start, widen, cap = queue.window.start, queue.window.widen_per_s, queue.window.max
    wins = [min(start + widen * max(now - t, 0.0), cap) for t in created]
    masks = _region_masks(queue, cands, region)
    # Doubly linked list over the sorted order: prev/next of each still-unmatched ticket.
    prev = list(range(-1, n - 1))
    nxt = list(range(1, n + 1))
    anchors = sorted(range(n), key=created.__getitem__)
    # Free-for-all: fewer than `need` will do once the anchor has waited `fill_wait_s`.
    fewest = queue.fewest_players
    fill_after = now - queue.fill_wait_s
    if need == 2:
        return _pairs(cands, skills, wins, masks, prev, nxt, anchors, scan_limit, region)
    taken = bytearray(n)
    plans: list[MatchPlan] = []
    teams_n, team_size = queue.teams, queue.team_size
    for a in anchors:
        if taken[a]:
            continue
        chosen = [a]
        count = sizes[a]
        s_a = skills[a]
        lo, hi = s_a - wins[a], s_a + wins[a]  # intersection of the members' windows
        mn = mx = s_a
        mask = -1 if masks is None else masks[a]
        left, right = prev[a], nxt[a]
        rejected = 0
        while count < need and rejected < scan_limit:
            dl = s_a - skills[left] if left >= 0 and skills[left] >= lo else -1.0
            dr = skills[right] - s_a if right < n and skills[right] <= hi else -1.0
            if dl < 0.0 and dr < 0.0:
                break
            if dr < 0.0 or 0.0 <= dl <= dr:
                c, left = left, prev[left]
            else:
                c, right = right, nxt[right]
            s_c, w_c = skills[c], wins[c]
            if (
                count + sizes[c] > need
                or s_c - w_c > mn
                or s_c + w_c < mx
                or (masks is not None and not mask & masks[c])
            ):
                rejected += 1
                continue
            chosen.append(c)
            count += sizes[c]
            if s_c - w_c > lo:
                lo = s_c - w_c
            if s_c + w_c < hi:
                hi = s_c + w_c
            if s_c < mn:
                mn = s_c
            elif s_c > mx:
                mx = s_c
            if masks is not None:
                mask &= masks[c]
        if count < need and (count < fewest or created[a] > fill_after):
            continue
        if queue.free_for_all:
            teams_n = count
        teams = assign_teams([cands[k] for k in chosen], teams_n, team_size)
        if teams is None:
            continue
        for k in chosen:
            taken[k] = 1
            p, q = prev[k], nxt[k]
            if p >= 0:
                nxt[p] = q
            if q < n:
                prev[q] = p
        plans.append(_plan(teams, region, masks is not None))
    return plans


def _pairs(
    cands: list[Candidate],
    skills: list[float],
    wins: list[float],
    masks: list[int] | None,
    prev: list[int],
    nxt: list[int],
    anchors: list[int],
    scan_limit: int,
    region: str | None,
) -> list[MatchPlan]:
    """The pass for one-on-one queues: the same rules, with the bookkeeping of a pair."""
    n = len(cands)
    taken = bytearray(n)
    plans: list[MatchPlan] = []
    for a in anchors:
        if taken[a]:
            continue
        s_a = skills[a]
        lo, hi = s_a - wins[a], s_a + wins[a]
        left, right = prev[a], nxt[a]
        rejected, b = 0, -1
        while rejected < scan_limit:
            dl = s_a - skills[left] if left >= 0 and skills[left] >= lo else -1.0
            dr = skills[right] - s_a if right < n and skills[right] <= hi else -1.0
            if dl < 0.0 and dr < 0.0:
                break
            if dr < 0.0 or 0.0 <= dl <= dr:
                c, d, left = left, dl, prev[left]
            else:
                c, d, right = right, dr, nxt[right]
            if d > wins[c] or (masks is not None and not masks[a] & masks[c]):
                rejected += 1
                continue
            b = c
            break
        if b < 0:
            continue
        for k in (a, b):
            taken[k] = 1
            p, q = prev[k], nxt[k]
            if p >= 0:
                nxt[p] = q
            if q < n:
                prev[q] = p
        x, y = cands[a], cands[b]
        if x.mu_sum < y.mu_sum:
            x, y = y, x
        plans.append(_plan([[x], [y]], region, masks is not None))
    return plans


def _plan(teams: list[list[Candidate]], region: str | None, by_latency: bool) -> MatchPlan:
    mu_sums: list[float] = []
    sigma2_sums: list[float] = []
    for team in teams:
        if len(team) == 1:
            mu_sums.append(team[0].mu_sum)
            sigma2_sums.append(team[0].sigma2_sum)
            continue
        mu = sigma2 = 0.0
        for c in team:
            mu += c.mu_sum
            sigma2 += c.sigma2_sum
        mu_sums.append(mu)
        sigma2_sums.append(sigma2)
    probs = tuple(win_probabilities(mu_sums, sigma2_sums))
    host = _host_region(teams) if region is None and by_latency else region
    return MatchPlan(tuple(map(tuple, teams)), probs, host)


def _host_region(teams: Sequence[Sequence[Candidate]]) -> str | None:
    """The region acceptable to all with the lowest worst latency; None if unconstrained."""
    members = [c for team in teams for c in team]
    common: frozenset[str] | None = None
    for c in members:
        if c.regions is not None:
            common = c.regions if common is None else common & c.regions
    if not common:
        return None
    return min(
        sorted(common),
        key=lambda r: max((c.latency_ms or {}).get(r, 0.0) for c in members),
    )


def plan_backfill(
    queue: QueueConfig,
    open_slots: Sequence[tuple[int, int]],
    skill: float,
    region: str | None,
    oldest_first: Sequence[Candidate],
    now: float,
) -> tuple[list[tuple[int, Candidate]], list[tuple[int, int]]]:
    """Waiting tickets that fill a running match's open slots, oldest first.

    A ticket fits when the match's mean skill is inside its own window at its wait, the
    match's region is acceptable to it, and a team has room for all of its players (the
    partition already gives it the match's `match_on` values and, with `same_region`, its
    region). -> (team index, ticket) pairs and the (team, slots) still open.
    """
    room: dict[int, int] = {}
    for team, slots in open_slots:
        room[team] = room.get(team, 0) + slots
    added: list[tuple[int, Candidate]] = []
    left = sum(room.values())
    for c in oldest_first:
        if left <= 0:
            break
        if abs(c.skill - skill) > queue.window.at(now - c.created_at):
            continue
        if region is not None and c.regions is not None and region not in c.regions:
            continue
        fits = [t for t, n in room.items() if n >= c.size]
        if not fits:
            continue
        team = max(fits, key=lambda t: (room[t], -t))
        room[team] -= c.size
        left -= c.size
        added.append((team, c))
    return added, [(t, n) for t, n in room.items() if n > 0]
