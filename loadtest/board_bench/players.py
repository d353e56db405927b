"""The bench's players: ids and scores that any part of the run can regenerate.

Player i is `p` + i in 7 hex digits (8 characters, as docs/leaderboards.md measures memory
with); its score comes from a generator seeded by (seed, chunk), so the board load, the
raw sorted-set load and the checks all see the same scores without keeping them.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

CHUNK = 10_000
# Scores up to 2^30: integers as games use them, with a few ties at 10M players.
SCORE_BITS = 30
MAX_PLAYERS = 16**7


def player_id(index: int) -> str:
    return f"p{index:07x}"


def chunk_scores(seed: int, chunk: int, count: int) -> list[float]:
    rng = random.Random(f"{seed}:{chunk}")
    return [float(rng.getrandbits(SCORE_BITS)) for _ in range(count)]


def chunks(players: int, seed: int) -> Iterator[list[tuple[str, float]]]:
    """(player id, score) for every player, `CHUNK` at a time, always in the same order."""
    if not 0 < players <= MAX_PLAYERS:
        raise ValueError(f"players must be in 1..{MAX_PLAYERS}")
    for chunk, start in enumerate(range(0, players, CHUNK)):
        count = min(CHUNK, players - start)
        ids = [player_id(i) for i in range(start, start + count)]
        yield list(zip(ids, chunk_scores(seed, chunk, count), strict=True))


def random_score(rng: random.Random) -> float:
    return float(rng.getrandbits(SCORE_BITS))
