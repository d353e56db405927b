"""Ranks that change events move equal the board's true ranks.

A model board on a few sub-boards takes writes and removals; their events reach the
marks late, in order; re-queries start and are answered at any moment in between, with
the board's exact ranks and stamps as of the answer. Once every event is delivered and
every marked player re-queried, the rank the marks hold for each watched player is its
true rank, so the pushes built from them end exact.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.leaderboards.keys import sub_board_of
from domain.leaderboards.models import ChangeEvent, PlayerRank, Position
from gameserver.push.board_marks import BoardMarks, Settled

SUB_BOARDS = 3
PLAYERS = [f"p{i}" for i in range(5)]
WATCHED = set(PLAYERS[:3])


@dataclass
class ModelBoard:
    entries: dict[str, Position] = field(default_factory=dict)
    stamps: list[int] = field(default_factory=lambda: [0] * SUB_BOARDS)
    clock: int = 0

    def write(self, player_id: str, score: float) -> ChangeEvent:
        self.clock += 1
        old = self.entries.get(player_id)
        new = (
            old
            if old is not None and old.score == score
            else Position(score, self.clock, player_id)
        )
        self.entries[player_id] = new
        self.stamps[sub_board_of(player_id, SUB_BOARDS)] = self.clock
        return ChangeEvent("write", "all", player_id, old, new, self.clock)

    def remove(self, player_id: str) -> ChangeEvent | None:
        old = self.entries.pop(player_id, None)
        if old is None:
            return None
        self.clock += 1
        self.stamps[sub_board_of(player_id, SUB_BOARDS)] = self.clock
        return ChangeEvent("remove", "all", player_id, old, None, self.clock)

    def rank(self, player_id: str) -> int:
        mine = _key(self.entries[player_id])
        return 1 + sum(_key(p) < mine for p in self.entries.values())

    def answer(self, player_id: str) -> PlayerRank | None:
        if player_id not in self.entries:
            return None
        position = self.entries[player_id]
        stamps = dict(enumerate(self.stamps))
        return PlayerRank(player_id, self.rank(player_id), -position.score, position, "all", stamps)


def _key(position: Position) -> tuple[float, int, str]:
    return (position.score, position.stamp, position.player_id)


Step = tuple[str, int, int]
steps = st.lists(
    st.tuples(
        st.sampled_from(
            ["write"] * 3 + ["remove"] + ["deliver"] * 3 + ["begin", "snapshot", "reply"]
        ),
        st.integers(0, len(PLAYERS) - 1),
        st.integers(0, 3),
    ),
    min_size=20,
    max_size=60,
)

Answers = dict[str, PlayerRank | None]


@dataclass
class Query:
    seqs: dict[str, int]
    since: int
    # The board's answer, computed at some moment after the query went out.
    answers: Answers | None = None


class Feed:
    """The flusher's part, reduced to what the marks need: queries out and answered."""

    def __init__(self) -> None:
        self.board = ModelBoard()
        self.marks = BoardMarks("asc", "all", SUB_BOARDS)
        self.undelivered: deque[ChangeEvent] = deque()
        # Whom to re-query (the state machine's STALE, reduced to a set).
        self.dirty: set[str] = set()
        self.queries: deque[Query] = deque()
        self.begin(sorted(WATCHED))
        self.settle()

    def begin(self, player_ids: list[str]) -> None:
        self.dirty.difference_update(player_ids)
        seqs = {p: self.marks.seq(p) for p in player_ids}
        self.queries.append(Query(seqs, self.marks.begin_query()))

    def snapshot(self) -> None:
        """The oldest unanswered query is answered by the board as it is now."""
        for query in self.queries:
            if query.answers is None:
                query.answers = {p: self.board.answer(p) for p in query.seqs}
                return

    def reply(self) -> None:
        """The oldest answered query's answer reaches the marks."""
        if self.queries and self.queries[0].answers is not None:
            query = self.queries.popleft()
            assert query.answers is not None
            for player_id, found in query.answers.items():
                settled = self.marks.requeried(player_id, found, query.seqs[player_id], query.since)
                if settled is Settled.UNSURE:
                    self.dirty.add(player_id)
            self.marks.end_query()

    def settle(self) -> None:
        while self.queries:
            self.snapshot()
            self.reply()

    def deliver(self) -> None:
        event = self.undelivered.popleft()
        moves = self.marks.apply(event, WATCHED)
        self.dirty |= moves.unanchored
        if moves.own_write:
            self.dirty.add(event.player_id)


@settings(max_examples=400, deadline=None)
@given(steps)
def test_moved_ranks_end_equal_to_the_true_ranks(plan: list[Step]) -> None:
    feed = Feed()
    for kind, who, score in plan:
        player_id = PLAYERS[who]
        if kind == "write":
            feed.undelivered.append(feed.board.write(player_id, float(score)))
        elif kind == "remove":
            event = feed.board.remove(player_id)
            if event is not None:
                feed.undelivered.append(event)
        elif kind == "deliver" and feed.undelivered:
            feed.deliver()
        elif kind == "begin":
            # Whoever is marked, and now and then everyone (the quiet re-check).
            everyone = score % 2 == 0
            feed.begin(sorted(WATCHED if everyone else feed.dirty | {player_id} & WATCHED))
        elif kind == "snapshot":
            feed.snapshot()
        elif kind == "reply":
            feed.reply()
    while feed.undelivered:
        feed.deliver()
    feed.settle()
    for _ in range(3):  # the flusher re-queries whoever is still marked
        if feed.dirty:
            feed.begin(sorted(feed.dirty))
            feed.settle()
    assert not feed.dirty
    for player_id in WATCHED:
        if player_id in feed.board.entries:
            assert feed.marks.ranks[player_id] == feed.board.rank(player_id), player_id
        else:
            assert player_id not in feed.marks.ranks
