"""The prefixes of every key and channel the game server uses: its whole keyspace.

Each feature's store spells its names under its own prefix (`lb:` boards, `sess:`
sessions, ...). The embedded cluster's ACL grants the `gameserver` user exactly these
prefixes, so a feature with a new prefix is one line here.
"""

from __future__ import annotations

# Boards, sessions, matchmaking, accounts, parties, per-address abuse limits, and the
# function library versions the processes use (domain/storage/library_versions.py).
KEY_PREFIXES = ("lb", "sess", "mm", "acct", "party", "abuse", "fn")
# Shard channels: the features' own prefixes, plus `gw` for messages to one gateway.
CHANNEL_PREFIXES = (*KEY_PREFIXES, "gw")
