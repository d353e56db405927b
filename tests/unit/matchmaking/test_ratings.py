from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from openskill.models import PlackettLuce

from domain.errors import BadRequest
from domain.matchmaking.ratings import (
    DEFAULT_RATING,
    Rating,
    fairness_gap,
    rate,
    win_probabilities,
)

MODEL = PlackettLuce()
mus = st.floats(min_value=0.0, max_value=60.0)
sigmas = st.floats(min_value=0.5, max_value=10.0)
teams = st.lists(st.lists(st.tuples(mus, sigmas), min_size=1, max_size=5), min_size=2, max_size=6)


def test_the_default_rating_is_openskills_default() -> None:
    assert DEFAULT_RATING == Rating(mu=MODEL.mu, sigma=MODEL.sigma)
    assert DEFAULT_RATING.ordinal() == pytest.approx(0.0)


@given(teams)
def test_win_probabilities_equal_openskills_prediction(
    lineup: list[list[tuple[float, float]]],
) -> None:
    expected = MODEL.predict_win(
        [[MODEL.rating(mu=mu, sigma=sigma) for mu, sigma in team] for team in lineup]
    )
    got = win_probabilities(
        [sum(mu for mu, _ in team) for team in lineup],
        [sum(sigma * sigma for _, sigma in team) for team in lineup],
    )
    assert got == pytest.approx(expected, abs=1e-9)


def test_the_winner_gains_and_the_loser_drops() -> None:
    [[winner], [loser]] = rate([[DEFAULT_RATING], [DEFAULT_RATING]], [1, 2])
    assert winner.mu > DEFAULT_RATING.mu > loser.mu
    assert winner.sigma < DEFAULT_RATING.sigma


def test_a_tie_between_equals_changes_no_mean() -> None:
    [[a], [b]] = rate([[DEFAULT_RATING], [DEFAULT_RATING]], [1, 1])
    assert a.mu == pytest.approx(DEFAULT_RATING.mu)
    assert b.mu == pytest.approx(DEFAULT_RATING.mu)


@pytest.mark.parametrize("ranks", [[1], [1, 2, 3]])
def test_ranks_must_match_the_teams(ranks: list[int]) -> None:
    with pytest.raises(BadRequest):
        rate([[DEFAULT_RATING], [DEFAULT_RATING]], ranks)


def test_fairness_gap_is_distance_from_an_even_match() -> None:
    assert fairness_gap([0.6, 0.4]) == pytest.approx(0.1)
    assert fairness_gap([0.25, 0.25, 0.25, 0.25]) == pytest.approx(0.0)
    assert fairness_gap([0.4, 0.3, 0.3]) == pytest.approx(0.4 - 1 / 3)
