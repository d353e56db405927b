"""What a player sends: scores, loadouts and match preferences that look like a game's."""

from __future__ import annotations

import random
from typing import Any

CHARACTERS = ("knight", "ranger", "mage", "rogue", "cleric")
LIMITS_OF_TOP = (10, 10, 10, 50, 100)
# Round-trip times a player sees to each region's servers, in milliseconds.
_LATENCY_MS = {
    ("eu", "eu"): 20,
    ("eu", "us"): 90,
    ("eu", "ap"): 180,
    ("us", "eu"): 90,
    ("us", "us"): 25,
    ("us", "ap"): 140,
    ("ap", "eu"): 180,
    ("ap", "us"): 140,
    ("ap", "ap"): 30,
}


def round_score(skill: float) -> int:
    """A round's score: a player's skill plus luck, never negative."""
    return max(0, int(random.gauss(skill, skill * 0.25)))


def player_skill() -> float:
    """A player's typical score; a few players are far better than most."""
    return random.lognormvariate(7.5, 0.6)


def score_metadata(region: str) -> dict[str, Any]:
    return {"character": random.choice(CHARACTERS), "region": region}


def loadout(region: str) -> dict[str, Any]:
    """Session values a game keeps for a player (well below the 4 KiB limit)."""
    return {
        "character": random.choice(CHARACTERS),
        "skin": random.randrange(40),
        "region": region,
        "settings": {"sensitivity": round(random.uniform(0.5, 2.0), 2), "voice": True},
    }


def match_properties(region: str) -> dict[str, Any]:
    latency = {
        other: _LATENCY_MS.get((region, other), 150) + random.randrange(10)
        for other in ("eu", "us", "ap")
    }
    return {"region": region, "latency": latency, "mode": "ranked"}


def match_ranks(team_count: int) -> list[int]:
    """Final ranks of a match's teams as a game server reports them (1 = winner)."""
    ranks = list(range(1, team_count + 1))
    random.shuffle(ranks)
    return ranks
