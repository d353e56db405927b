"""Players of a real-time game and its trusted game server, as Locust users (tasks only).

    locust -f loadtest/locustfile.py --host http://127.0.0.1:8000

Options (`--gs-*`, or `GS_*` variables) are in loadtest/settings.py; the ramp-up, steady
state and spike shape is loadtest/shapes.py:
`-f loadtest/locustfile.py,loadtest/shapes.py`.
"""

from __future__ import annotations

# isort: off
import locust  # noqa: F401 - first: Locust monkey-patches the standard library for gevent
# isort: on

import random

import gevent
from locust import tag, task

from loadtest.behaviour import LIMITS_OF_TOP, loadout, match_ranks, round_score, score_metadata
from loadtest.match_results import hand_over, next_finished
from loadtest.protocol import reporter_of
from loadtest.users import GameServerUser, GameUser, known_players, uses


class LeaderboardPlayer(GameUser):
    """Plays rounds, posts each result to every board and follows the boards live."""

    mix_key = "leaderboard"
    subscribes = True

    @tag("score.submit")
    @uses("score.submit")
    @task(4)
    def finish_round(self) -> None:
        score = round_score(self.skill)
        for board in self.settings.boards:
            self.submit_score(board, score, score_metadata(self.region))

    @tag("board.top")
    @uses("board.top")
    @task(2)
    def view_top(self) -> None:
        board = random.choice(self.settings.boards)
        self.client.call("board.top", board=board, limit=random.choice(LIMITS_OF_TOP))

    @tag("board.around")
    @uses("board.around", "score.submit")
    @task(2)
    def view_around_me(self) -> None:
        board = self.played_board()
        if board is None:
            return self.finish_round()
        self.client.call("board.around", board=board, radius=5)

    @tag("board.rank")
    @uses("board.rank", "score.submit")
    @task(2)
    def view_my_rank(self) -> None:
        board = self.played_board()
        if board is None:
            return self.finish_round()
        self.client.call("board.rank", board=board)

    @tag("board.players")
    @uses("board.players")
    @task(1)
    def view_friends(self) -> None:
        friends = list(dict.fromkeys([*known_players(10), self.player_id]))
        self.client.call("board.players", board=self.settings.boards[0], player_ids=friends)

    @tag("ping")
    @uses("ping")
    @task(1)
    def ping(self) -> None:
        self.client.call("ping")


class DuelPlayer(GameUser):
    """Queues for duels, plays them, and between duels checks who of its friends is online."""

    mix_key = "duel"

    @tag("match")
    @uses("match.join", "match.status", "match.cancel")
    @task(5)
    def play_duel(self) -> None:
        match = self.find_match()
        if match is None:
            return
        if reporter_of(match) == self.player_id:
            hand_over(match)
        gevent.sleep(self.settings.match_play_s)

    @tag("presence.get")
    @uses("presence.get")
    @task(1)
    def see_friends_online(self) -> None:
        self.client.call("presence.get", player_ids=known_players(20) or [self.player_id])

    @tag("ping")
    @uses("ping")
    @task(1)
    def ping(self) -> None:
        self.client.call("ping")


class CasualPlayer(GameUser):
    """Spends time in menus: saves its loadout, reads it back, glances at the top."""

    mix_key = "casual"

    @tag("session.set")
    @uses("session.set")
    @task(2)
    def save_loadout(self) -> None:
        self.client.call("session.set", values=loadout(self.region))

    @tag("session.get")
    @uses("session.get")
    @task(2)
    def load_loadout(self) -> None:
        self.client.call("session.get", keys=["character", "skin", "settings"])

    @tag("presence.get")
    @uses("presence.get")
    @task(1)
    def see_friends_online(self) -> None:
        self.client.call("presence.get", player_ids=known_players(20) or [self.player_id])

    @tag("board.top")
    @uses("board.top")
    @task(1)
    def view_top(self) -> None:
        self.client.call("board.top", board=self.settings.boards[0], limit=10)

    @tag("ping")
    @uses("ping")
    @task(2)
    def ping(self) -> None:
        self.client.call("ping")


class TrustedGameServer(GameServerUser):
    """The game's own server: reports match results and awards scores through the admin API."""

    @tag("admin")
    @uses("admin:match-result")
    @task(8)
    def report_match_result(self) -> None:
        match = next_finished(timeout_s=1.0)
        if match is None:
            return
        self.client.post(
            f"/admin/v1/matches/{match.match_id}/result",
            json={"ranks": match_ranks(len(match.teams))},
            name="/admin/v1/matches/[id]/result",
        )

    @tag("admin")
    @uses("admin:scores")
    @task(1)
    def award_bonus(self) -> None:
        for player_id in known_players(1):
            self.client.post(
                f"/admin/v1/boards/{self.settings.boards[0]}/scores",
                json={"player_id": player_id, "score": random.randrange(100, 5000)},
                name="/admin/v1/boards/[name]/scores",
            )

    @tag("admin")
    @uses("admin:queues")
    @task(1)
    def watch_queues(self) -> None:
        self.client.get("/admin/v1/queues")

    @tag("admin")
    @uses("admin:players")
    @task(1)
    def inspect_player(self) -> None:
        for player_id in known_players(1):
            self.client.get(f"/admin/v1/players/{player_id}", name="/admin/v1/players/[id]")
