"""Leaderboards: exact ranks over boards sharded across the cluster (docs/leaderboards.md).

`service.LeaderboardService` is the entry point; `models` holds the values it returns,
`rules` and `codec` the pure rules the push layer shares.
"""
