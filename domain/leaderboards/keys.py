"""Every Valkey key and channel name of the leaderboard feature.

One board is split into `sub_boards` sub-boards. Sub-board i of board N has the hash tag
`{N.i.j}`, with the smallest j whose slot lies in the middle half of the i-th of
`sub_boards` equal slot ranges: the sub-boards spread over any even split of the slots
among primaries. All keys of one sub-board share its tag (one slot):

    lb:{T}:s                  hash: v = write fence (board version), t = last stamp
    lb:{T}:ev                 shard channel of the sub-board's change events
    lb:{T}:<gen>:<period>:z   sorted set: stored score -> stamp(8 bytes) + player id
    lb:{T}:<gen>:<period>:b:<k>  hash bucket k: player id -> stamp (small, listpack)
    lb:{T}:<gen>:<period>:m   hash: player id -> updated stamp(8 bytes) + metadata JSON
    lb:{T}:<gen>:r:<player>   hash: request id -> the outcome of an idempotent submit
                              (each field expires on its own)
    lb:{T}:<gen>:<period>:p   hash: a:<player> -> attempts, j:<player> -> 1 (holds a seat)
    lb:{T}:<gen>:w:<player>   sorted set: the player's writes of the last minute (times)

Seats of boards with `join_required` or `max_players` are counted board-wide on a slot of
their own (a join is rare: one per player and period); `/` cannot occur in a board name:

    lb:{N/seats}:<gen>:<period>  hash: player id -> 1 for every player holding a seat

The board registry lives on one slot, read through a cache:

    lb:{lb}:names             set of board names
    lb:{lb}:board:<name>      hash: the board's config and state
    lb:{lb}:seq               counter behind board gens and versions
    lb:{lb}:ended:<name>      hash: "<gen>:<label>" -> ended_at of each label that ended,
                              "<gen>:<id>!<reason>" -> a rollover or window end claimed
    lb:{lb}:period_ends       hash: the outbox of period ends, "<name>:<gen>:<period>"
                              -> job JSON (pushes and webhook still to do, lease)
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from functools import lru_cache

from valkey.crc import VALKEY_CLUSTER_HASH_SLOTS, key_slot

# Bounds the search for a tag; the expected number of tries is 2 * sub-boards.
_MAX_TAG_TRIES = 1_000_000

REGISTRY_NAMES = "lb:{lb}:names"
REGISTRY_SEQ = "lb:{lb}:seq"
PERIOD_END_OUTBOX = "lb:{lb}:period_ends"


def period_ends_claimed(name: str) -> str:
    return f"lb:{{lb}}:ended:{name}"


def registry_board(name: str) -> str:
    return f"lb:{{lb}}:board:{name}"


def seats(name: str, gen: int, period: str) -> str:
    return f"lb:{{{name}/seats}}:{gen}:{period}"


def sub_board_of(player_id: str, sub_boards: int) -> int:
    """The sub-board a player always lives in."""
    return zlib.crc32(player_id.encode()) % sub_boards


def bucket_of(player_id: str, sub_boards: int, buckets: int) -> int:
    # Uses the hash bits that `sub_board_of` leaves unused, so buckets fill evenly.
    return (zlib.crc32(player_id.encode()) // sub_boards) % buckets


@lru_cache(maxsize=4096)
def sub_board_tags(name: str, sub_boards: int) -> tuple[str, ...]:
    tags: list[str] = []
    for index in range(sub_boards):
        low = index * VALKEY_CLUSTER_HASH_SLOTS // sub_boards
        high = (index + 1) * VALKEY_CLUSTER_HASH_SLOTS // sub_boards
        margin = (high - low) // 4
        for attempt in range(_MAX_TAG_TRIES):
            tag = f"{name}.{index}.{attempt}"
            if low + margin <= key_slot(tag.encode()) < high - margin:
                tags.append(tag)
                break
        else:
            raise RuntimeError(f"no hash tag for sub-board {index} of {name}")
    return tuple(tags)


@dataclass(frozen=True)
class SubBoardKeys:
    """The names of one sub-board's keys."""

    index: int
    tag: str

    @property
    def state(self) -> str:
        return f"lb:{{{self.tag}}}:s"

    @property
    def channel(self) -> str:
        return f"lb:{{{self.tag}}}:ev"

    def zset(self, gen: int, period: str) -> str:
        return f"lb:{{{self.tag}}}:{gen}:{period}:z"

    def meta(self, gen: int, period: str) -> str:
        return f"lb:{{{self.tag}}}:{gen}:{period}:m"

    def bucket_prefix(self, gen: int, period: str) -> str:
        return f"lb:{{{self.tag}}}:{gen}:{period}:b:"

    def bucket(self, gen: int, period: str, bucket: int) -> str:
        return f"{self.bucket_prefix(gen, period)}{bucket}"

    def tally(self, gen: int, period: str) -> str:
        return f"lb:{{{self.tag}}}:{gen}:{period}:p"

    def rate(self, gen: int, player_id: str) -> str:
        return f"lb:{{{self.tag}}}:{gen}:w:{player_id}"

    def requests(self, gen: int, player_id: str) -> str:
        return f"lb:{{{self.tag}}}:{gen}:r:{player_id}"


@lru_cache(maxsize=4096)
def sub_boards_of(name: str, sub_boards: int) -> tuple[SubBoardKeys, ...]:
    return tuple(
        SubBoardKeys(index, tag) for index, tag in enumerate(sub_board_tags(name, sub_boards))
    )
