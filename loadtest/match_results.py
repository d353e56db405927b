"""Matches waiting for their result: duel players hand them to this process's game server."""

from __future__ import annotations

# isort: off
import locust  # noqa: F401 - first: Locust monkey-patches the standard library for gevent
# isort: on

import gevent.queue

from loadtest.protocol import FinishedMatch

# Matches finished faster than the game servers report them are dropped past this many.
MAX_PENDING = 10_000

_pending: gevent.queue.Queue[FinishedMatch] = gevent.queue.Queue(maxsize=MAX_PENDING)


def hand_over(match: FinishedMatch) -> bool:
    """Queue `match` for its result; False when the queue is full (it is dropped)."""
    try:
        _pending.put_nowait(match)
    except gevent.queue.Full:
        return False
    return True


def next_finished(timeout_s: float) -> FinishedMatch | None:
    try:
        match: FinishedMatch = _pending.get(timeout=timeout_s)
    except gevent.queue.Empty:
        return None
    return match
