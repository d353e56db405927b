"""Player ratings: openskill's Plackett-Luce model, and its win prediction made fast.

`rate` delegates to openskill. `win_probabilities` is the same formula as
`PlackettLuce.predict_win` computed from team sums, because the match-forming pass
calls it thousands of times per tick and openskill's version allocates rating objects.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from openskill.models import PlackettLuce

from domain.errors import BadRequest

_MODEL = PlackettLuce()
BETA_SQUARED: float = _MODEL.beta**2
_SQRT2 = math.sqrt(2.0)


@dataclass(frozen=True, slots=True)
class Rating:
    """A player's skill belief: mean `mu` and uncertainty `sigma`."""

    mu: float
    sigma: float

    def ordinal(self) -> float:
        """The conservative single-number skill (mu - 3 sigma) used for ranked boards."""
        return self.mu - 3.0 * self.sigma

    def to_dict(self) -> dict[str, float]:
        return {"mu": self.mu, "sigma": self.sigma, "ordinal": self.ordinal()}


DEFAULT_RATING = Rating(mu=float(_MODEL.mu), sigma=float(_MODEL.sigma))


def rate(teams: Sequence[Sequence[Rating]], ranks: Sequence[int]) -> list[list[Rating]]:
    """New ratings after a match; `ranks` has one entry per team, 1 = winner, ties allowed."""
    if len(teams) < 2 or len(ranks) != len(teams):
        raise BadRequest("ranks must have one entry per team")
    if any(not team for team in teams):
        raise BadRequest("every team needs at least one player")
    model_teams = [[_MODEL.rating(mu=r.mu, sigma=r.sigma) for r in team] for team in teams]
    rated = _MODEL.rate(model_teams, ranks=[float(rank) for rank in ranks])
    return [[Rating(mu=float(p.mu), sigma=float(p.sigma)) for p in team] for team in rated]


def _phi(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / _SQRT2))


def win_probabilities(mu_sums: Sequence[float], sigma2_sums: Sequence[float]) -> list[float]:
    """Each team's chance to win, from its summed mu and summed sigma squared.

    Same result as `PlackettLuce.predict_win` on the teams' players.
    """
    n = len(mu_sums)
    if n == 2:
        p = _phi(
            (mu_sums[0] - mu_sums[1])
            / math.sqrt(2.0 * BETA_SQUARED + sigma2_sums[0] + sigma2_sums[1])
        )
        return [p, 1.0 - p]
    wins: list[float] = []
    for i in range(n):
        total = 0.0
        for j in range(n):
            if i != j:
                total += _phi(
                    (mu_sums[i] - mu_sums[j])
                    / math.sqrt(2.0 * BETA_SQUARED + sigma2_sums[i] + sigma2_sums[j])
                )
        wins.append(total / (n - 1))
    norm = sum(wins)
    return [w / norm for w in wins]


def fairness_gap(probabilities: Sequence[float]) -> float:
    """How far a match is from even: |P(win) - 0.5| for two teams, max |p - 1/n| beyond."""
    if len(probabilities) == 2:
        return abs(probabilities[0] - 0.5)
    even = 1.0 / len(probabilities)
    return max(abs(p - even) for p in probabilities)
