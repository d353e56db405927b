"""Random writes to a board with every rule, through two gateways, against a small model
of the rules: each write is taken or refused exactly as the model says."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import pytest

from domain.clock import FixedClock
from domain.errors import Conflict, DomainError, Forbidden, RateLimited
from domain.leaderboards.models import BoardConfig
from domain.leaderboards.service import LeaderboardService
from tests.integration.leaderboards.conftest import START

RULES = BoardConfig(
    "cup",
    operator="incr",
    min_score=-20,
    max_score=50,
    max_step=10,
    writes_per_minute=3,
    start_at=int(START) + 60,
    end_at=int(START) + 500,
    max_players=4,
    max_attempts=15,
)
PLAYERS = [f"p{i}" for i in range(6)]


@dataclass
class RulesModel:
    """The contract's rules, one write at a time (the board's operator is `incr`)."""

    config: BoardConfig
    scores: dict[str, float] = field(default_factory=dict)
    seats: set[str] = field(default_factory=set)
    attempts: dict[str, int] = field(default_factory=dict)
    minute: dict[str, list[float]] = field(default_factory=dict)
    done: dict[tuple[str, str], float] = field(default_factory=dict)

    def submit(
        self, player: str, step: int, now: float, trusted: bool, request: str
    ) -> float | type[DomainError]:
        c = self.config
        if (player, request) in self.done:
            return self.done[(player, request)]
        assert c.start_at is not None and c.end_at is not None
        if not c.start_at <= now < c.end_at:
            return Forbidden
        total = self.scores.get(player, 0) + step
        assert c.min_score is not None and c.max_score is not None and c.max_step is not None
        if not c.min_score <= total <= c.max_score or abs(step) > c.max_step:
            return DomainError  # any BadRequest
        if player not in self.seats:
            assert c.max_players is not None
            if len(self.seats) >= c.max_players:
                return Conflict
            self.seats.add(player)
        assert c.max_attempts is not None and c.writes_per_minute is not None
        if self.attempts.get(player, 0) >= c.max_attempts:
            return Forbidden
        recent = [t for t in self.minute.get(player, []) if t > now - 60]
        if not trusted and len(recent) >= c.writes_per_minute:
            return RateLimited
        if not trusted:
            self.minute[player] = [*recent, now]
        self.attempts[player] = self.attempts.get(player, 0) + 1
        self.scores[player] = total
        self.done[(player, request)] = total
        return total


@pytest.mark.parametrize("sub_boards", [1, 6])
async def test_random_writes_are_taken_or_refused_as_the_model_says(
    service: LeaderboardService,
    other_gateway: LeaderboardService,
    clock: FixedClock,
    sub_boards: int,
) -> None:
    config = BoardConfig(**{**RULES.to_dict(), "sub_boards": sub_boards})
    await service.create_board(config)
    model = RulesModel(config)
    rng = random.Random(20261207 + sub_boards)
    now = START
    seen: set[str] = set()
    for i in range(400):
        now += rng.choice([0, 0, 0.5, 1, 2, 5])
        clock.set(now)
        player = rng.choice(PLAYERS)
        trusted = rng.random() < 0.2
        # Some writes retry an earlier request of the player.
        request = f"r{rng.randrange(i + 1)}" if rng.random() < 0.2 else f"r{i}"
        step = rng.randint(-13, 13)
        expected = model.submit(player, step, now, trusted, request)
        gateway = rng.choice([service, other_gateway])
        try:
            got: float | type[DomainError] = (
                await gateway.submit("cup", player, step, request_id=request, trusted=trusted)
            ).score
        except DomainError as error:
            got = type(error)
            seen.add(type(error).__name__)
        if expected is DomainError:
            assert isinstance(got, type) and got.__name__ == "BadRequest", (i, got)
        else:
            assert got == expected, (i, player, step, now - START, trusted, request)
    assert seen == {"BadRequest", "Forbidden", "RateLimited", "Conflict"}
