"""Splitting a chosen set of tickets into teams: parties whole, team strengths even.

Two teams win equally often when their summed mu are equal: the denominator of the
Plackett-Luce prediction is the same for every split of one set of players. So balancing
is number partitioning on summed mu, with tickets as indivisible items. A greedy start
(largest, then strongest ticket first, each to the weakest team with room) followed by
improving exchanges of equal-sized tickets gets within a fraction of one player's mu of
the best split.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Protocol, TypeVar

# Search budget of the exact packer, in placements tried; only parties of awkward sizes
# ever need more than one per ticket, and giving up just leaves the anchor for the next
# tick.
PACK_BUDGET = 2_000
# Rounds of exchanges after the greedy start; a round is one exchange per team but one.
SWAP_ROUNDS = 8
# Below this mu gap a 5v5 is within a hair of even; exchanging pairs is not worth its cost.
PAIR_SWAP_GAP = 0.25


class Member(Protocol):
    @property
    def size(self) -> int: ...

    @property
    def mu_sum(self) -> float: ...


M = TypeVar("M", bound=Member)


def assign_teams(
    members: Sequence[M],
    teams: int,
    team_size: int,
    *,
    swap_rounds: int = SWAP_ROUNDS,
    pack_budget: int = PACK_BUDGET,
) -> list[list[M]] | None:
    """Split `members` into `teams` teams of exactly `team_size` players, or None.

    `members` hold `teams * team_size` players in all, as the pass chooses them.

    The start is greedy: tickets largest, then strongest first (in their given order when
    equal), each to the weakest team with room (the first of equally weak ones). When that
    leaves a ticket without room, a search tries the other teams, giving up (None) after
    `pack_budget` placements. Then each of `swap_rounds` rounds makes, once per team but
    one, the exchange of equal-sized tickets between the strongest and the weakest team
    that narrows their gap most (the first found of equally good ones; for two teams of
    single players from 4v4 up, two players for two when no single exchange helps and the
    gap is above PAIR_SWAP_GAP). The rounds stop early once no exchange helps.
    """
    if team_size == 1:
        return [[m] for m in sorted(members, key=lambda m: -m.mu_sum)]
    if teams == 2 and all(m.size == 1 for m in members):
        return _two_solo_teams(members, team_size, swap_rounds)
    lineup: list[list[M]] = [[] for _ in range(teams)]
    strength = [0.0] * teams
    order = sorted(members, key=lambda m: (-m.size, -m.mu_sum))
    if not _greedy_pack(order, lineup, team_size, strength):
        lineup = [[] for _ in range(teams)]
        strength = [0.0] * teams
        if not _pack(order, 0, lineup, [team_size] * teams, strength, [pack_budget]):
            return None
    _improve(lineup, strength, swap_rounds * (teams - 1))
    return lineup


def _two_solo_teams(members: Sequence[M], team_size: int, rounds: int) -> list[list[M]]:
    """The common case (1v1 aside: 2 teams of single players), kept lean for speed."""
    order = sorted(members, key=lambda m: -m.mu_sum)
    a: list[M] = []
    b: list[M] = []
    gap = 0.0  # strength(a) - strength(b)
    for m in order:
        if len(b) == team_size or (gap <= 0.0 and len(a) < team_size):
            a.append(m)
            gap += m.mu_sum
        else:
            b.append(m)
            gap -= m.mu_sum
    for _ in range(rounds):
        strong, weak, g = (a, b, gap) if gap > 0.0 else (b, a, -gap)
        best, bx, by = g, -1, -1
        for x, s in enumerate(strong):
            mu_s = s.mu_sum
            for y, w in enumerate(weak):
                d = abs(g - 2.0 * (mu_s - w.mu_sum))
                if d < best:
                    best, bx, by = d, x, y
        if bx >= 0:
            delta = strong[bx].mu_sum - weak[by].mu_sum
            strong[bx], weak[by] = weak[by], strong[bx]
        elif team_size >= 4 and g > PAIR_SWAP_GAP:
            # In a 3v3 a pair exchange is the single exchange of the other two players.
            delta = _swap_pairs(strong, weak, g)
            if not delta:
                break
        else:
            break
        gap += -2.0 * delta if gap > 0.0 else 2.0 * delta
    return [a, b]


def _swap_pairs(strong: list[M], weak: list[M], gap: float) -> float:
    """The best exchange of two players for two when no single exchange helps; 0 if none."""
    best = gap
    chosen: tuple[int, int, int, int, float] | None = None
    weak_pairs = [
        (y1, y2, weak[y1].mu_sum + weak[y2].mu_sum)
        for y1, y2 in itertools.combinations(range(len(weak)), 2)
    ]
    for x1, x2 in itertools.combinations(range(len(strong)), 2):
        mu_x = strong[x1].mu_sum + strong[x2].mu_sum
        for y1, y2, mu_y in weak_pairs:
            d = abs(gap - 2.0 * (mu_x - mu_y))
            if d < best:
                best, chosen = d, (x1, x2, y1, y2, mu_x - mu_y)
    if chosen is None:
        return 0.0
    x1, x2, y1, y2, delta = chosen
    strong[x1], weak[y1] = weak[y1], strong[x1]
    strong[x2], weak[y2] = weak[y2], strong[x2]
    return delta


def _greedy_pack(
    order: Sequence[M], lineup: list[list[M]], team_size: int, strength: list[float]
) -> bool:
    """_pack's first descent without its bookkeeping, for speed; False where it would search."""
    room = [team_size] * len(lineup)
    for m in order:
        size = m.size
        best = -1
        for t, left in enumerate(room):
            if left >= size and (best < 0 or strength[t] < strength[best]):
                best = t
        if best < 0:
            return False
        lineup[best].append(m)
        room[best] -= size
        strength[best] += m.mu_sum
    return True


def _pack(
    order: Sequence[M],
    i: int,
    lineup: list[list[M]],
    room: list[int],
    strength: list[float],
    budget: list[int],
) -> bool:
    """Place order[i:], each to the weakest team with room first; backtrack when stuck.

    Its first descent is the greedy start; it searches further only when that leaves a
    ticket without room, and gives up once `budget[0]` placements have been tried.
    """
    if i == len(order):
        return True
    budget[0] -= 1
    if budget[0] < 0:
        return False
    m = order[i]
    size = m.size
    tried: set[tuple[int, float]] = set()
    for t in sorted(range(len(lineup)), key=lambda t: strength[t]):
        # Two teams with the same room and strength are interchangeable: try one of them.
        if room[t] < size or (room[t], strength[t]) in tried:
            continue
        tried.add((room[t], strength[t]))
        lineup[t].append(m)
        room[t] -= size
        strength[t] += m.mu_sum
        if _pack(order, i + 1, lineup, room, strength, budget):
            return True
        lineup[t].pop()
        room[t] += size
        strength[t] -= m.mu_sum
    return False


def _improve(lineup: list[list[M]], strength: list[float], exchanges: int) -> None:
    """Exchange equal-sized tickets between the strongest and weakest team while it helps."""
    k = len(lineup)
    for _ in range(exchanges):
        if k == 2:
            hi, lo = (0, 1) if strength[0] >= strength[1] else (1, 0)
        else:
            hi = max(range(k), key=strength.__getitem__)
            lo = min(range(k), key=strength.__getitem__)
        gap = strength[hi] - strength[lo]
        best, bx, by = gap, -1, -1
        weak = lineup[lo]
        for x, a in enumerate(lineup[hi]):
            size, mu = a.size, a.mu_sum
            for y, b in enumerate(weak):
                if b.size == size:
                    d = abs(gap - 2.0 * (mu - b.mu_sum))
                    if d < best:
                        best, bx, by = d, x, y
        if bx < 0:
            return
        a, b = lineup[hi][bx], weak[by]
        lineup[hi][bx], weak[by] = b, a
        delta = a.mu_sum - b.mu_sum
        strength[hi] -= delta
        strength[lo] += delta
