"""Named bounds and durations of matchmaking, with their defaults."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class MatchmakingLimits:
    # A join claims every member, then stores its ticket; a claim whose ticket still does
    # not exist after this long belongs to a join that died, and no longer holds the player.
    claim_limit_s: float = 10.0
    # How long a finished ticket's state stays readable through `status`.
    ticket_retention_s: float = 3600.0
    # How long a match can still get its result reported.
    match_ttl_s: float = 7 * 24 * 3600.0
    # Longer than a match lives, so that a repeated report never rates a match twice.
    result_ttl_s: float = 8 * 24 * 3600.0
    # A player counts as "in_match" from the match until its result, at most this long.
    in_match_s: float = 3600.0
    # Worker leases: a dead worker's partitions move after at most this long.
    lease_s: float = 5.0
    tick_s: float = 0.5
    # Registered workers unheard of for this long no longer count in the fair share.
    worker_stale_s: float = 15.0
    # Stream entries read per partition and tick, and per takeover call.
    read_count: int = 2000
    # Matches committed per `mm_settle` call: bounds how long one call holds its shard.
    commit_batch: int = 64
    # Recent waits kept per partition for the p50/p95 statistics.
    waits_kept: int = 1000
    # Optimistic retries of a result whose players' ratings change concurrently.
    rate_retries: int = 8
    max_party: int = 50
    # How long the worker waits for a queue's allocator; less than `lease_s`, so a slow
    # allocator never costs the partition its lease.
    allocator_timeout_s: float = 2.0
    # After a tick with a failed allocation, the partition forms no match for one tick,
    # then 2, 4, ... ticks, at most this long: a failing allocator is not hammered.
    allocator_backoff_max_s: float = 10.0
    # Open backfills a partition serves per tick.
    backfills_per_tick: int = 64
