"""The match-forming pass against a plain model of its rules.

The model walks the same rules with lists instead of a linked list and bit masks: oldest
anchor first; the nearest neighbour in skill next (the lower one on a tie); a neighbour
joins when it fits the team sizes, its window covers every member and every member's
window covers it, and a region suits them all; `scan_limit` rejections end the search.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.matchmaking.balance import assign_teams
from domain.matchmaking.models import QueueConfig, SkillWindow
from domain.matchmaking.ratings import win_probabilities
from domain.matchmaking.rules import Candidate, form_matches

NOW = 1_000.0
REGIONS = ("ap", "eu", "us")
ANY = None

Plan = tuple[tuple[tuple[str, ...], ...], str | None, tuple[float, ...]]


def _fits(common: frozenset[str] | None, regions: frozenset[str] | None) -> bool:
    if common is ANY:
        return regions is ANY or bool(regions)
    if regions is ANY:
        return bool(common)
    return bool(common & regions)


def _meet(common: frozenset[str] | None, regions: frozenset[str] | None) -> frozenset[str] | None:
    if common is ANY:
        return regions
    return common if regions is ANY else common & regions


def _host(teams: Sequence[Sequence[Candidate]]) -> str | None:
    members = [c for team in teams for c in team]
    shared: frozenset[str] | None = None
    for c in members:
        shared = _meet(shared, c.regions)
    if not shared:
        return None
    worst = {r: max((c.latency_ms or {}).get(r, 0.0) for c in members) for r in shared}
    return min(sorted(shared), key=worst.__getitem__)


def _group(
    queue: QueueConfig, group: list[Candidate], scan_limit: int, region: str | None
) -> list[Plan]:
    need = queue.players_per_match
    cands = sorted(group, key=lambda c: c.skill)
    n = len(cands)
    wins = [queue.window.at(NOW - c.created_at) for c in cands]
    by_latency = queue.max_latency_ms is not None
    regions: list[frozenset[str] | None] = []
    for cand in cands:
        if not by_latency or cand.regions is None:
            regions.append(ANY)
        elif region is not None and region not in cand.regions:
            regions.append(frozenset())
        else:
            regions.append(cand.regions)
    taken = [False] * n
    plans: list[Plan] = []
    for a in sorted(range(n), key=lambda i: cands[i].created_at):
        if taken[a]:
            continue
        s_a = cands[a].skill
        lo, hi, mn, mx = s_a - wins[a], s_a + wins[a], s_a, s_a
        common, chosen, count = regions[a], [a], cands[a].size
        left = [i for i in range(a - 1, -1, -1) if not taken[i]]
        right = [i for i in range(a + 1, n) if not taken[i]]
        rejected = 0
        while count < need and rejected < scan_limit:
            near_left = bool(left) and cands[left[0]].skill >= lo
            near_right = bool(right) and cands[right[0]].skill <= hi
            if not near_left and not near_right:
                break
            if not near_right or (
                near_left and s_a - cands[left[0]].skill <= cands[right[0]].skill - s_a
            ):
                c = left.pop(0)
            else:
                c = right.pop(0)
            s_c, w_c = cands[c].skill, wins[c]
            if (
                count + cands[c].size > need
                or s_c - w_c > mn
                or s_c + w_c < mx
                or (by_latency and not _fits(common, regions[c]))
            ):
                rejected += 1
                continue
            chosen.append(c)
            count += cands[c].size
            lo, hi = max(lo, s_c - w_c), min(hi, s_c + w_c)
            mn, mx = min(mn, s_c), max(mx, s_c)
            common = _meet(common, regions[c])
        if count < need:
            continue
        teams = assign_teams([cands[k] for k in chosen], queue.teams, queue.team_size)
        if teams is None:
            continue
        for k in chosen:
            taken[k] = True
        host = region if region is not None or not by_latency else _host(teams)
        probs = win_probabilities(
            [sum(c.mu_sum for c in team) for team in teams],
            [sum(c.sigma2_sum for c in team) for team in teams],
        )
        plans.append((tuple(tuple(c.ticket_id for c in t) for t in teams), host, tuple(probs)))
    return plans


def model(queue: QueueConfig, pool: list[Candidate], scan_limit: int) -> list[Plan]:
    if not queue.same_region:
        return _group(queue, pool, scan_limit, None)
    groups: dict[str | None, list[Candidate]] = defaultdict(list)
    for c in pool:
        groups[c.region].append(c)
    return [
        plan
        for region, group in groups.items()
        if region is not None
        for plan in _group(queue, group, scan_limit, region)
    ]


def _plans(queue: QueueConfig, pool: list[Candidate], scan_limit: int) -> list[Plan]:
    return [
        (tuple(tuple(c.ticket_id for c in t) for t in p.teams), p.region, p.win_probabilities)
        for p in form_matches(queue, pool, NOW, scan_limit)
    ]


quarters = st.integers(0, 16).map(lambda q: q / 4)


@st.composite
def cases(draw: st.DrawFn, duel: bool) -> tuple[QueueConfig, list[Candidate], int]:
    team_size = 1 if duel else draw(st.integers(1, 3))
    start = draw(quarters)
    queue = QueueConfig(
        name="q",
        team_size=team_size,
        teams=2 if duel else draw(st.integers(2, 3)),
        window=SkillWindow(start, draw(quarters) / 4, start + draw(quarters)),
        same_region=draw(st.booleans()),
        max_latency_ms=draw(st.sampled_from([None, 100.0])),
    )
    count = draw(st.integers(0, 24))
    # Skills on a grid of quarters: equal skills and equal distances to both sides happen.
    skills = draw(st.lists(st.integers(0, 80), min_size=count, max_size=count))
    pool = []
    for i, skill in enumerate(skills):
        size = 1 if duel else draw(st.sampled_from([1, 1, *range(1, team_size + 1)]))
        regions = draw(st.none() | st.frozensets(st.sampled_from(REGIONS), max_size=3))
        latency = {r: float(draw(st.integers(0, 100))) for r in regions or ()}
        pool.append(
            Candidate(
                ticket_id=f"t{i}",
                players=tuple(f"t{i}.{k}" for k in range(size)),
                mu_sum=skill / 4 * size,
                sigma2_sum=draw(st.sampled_from([4.0, 9.0])) * size,
                created_at=NOW - draw(st.integers(0, 30)),
                region=draw(st.sampled_from([None, *REGIONS])),
                regions=regions,
                latency_ms=draw(st.sampled_from([None, latency])),
            )
        )
    return queue, pool, draw(st.sampled_from([1, 2, 3, 64]))


@settings(max_examples=120, deadline=None)
@given(cases(duel=True))
def test_a_duel_pass_forms_exactly_the_model_s_pairs(
    case: tuple[QueueConfig, list[Candidate], int],
) -> None:
    queue, pool, scan_limit = case
    assert _plans(queue, pool, scan_limit) == model(queue, pool, scan_limit)


@settings(max_examples=120, deadline=None)
@given(cases(duel=False))
def test_a_team_pass_forms_exactly_the_model_s_matches(
    case: tuple[QueueConfig, list[Candidate], int],
) -> None:
    queue, pool, scan_limit = case
    assert _plans(queue, pool, scan_limit) == model(queue, pool, scan_limit)
