"""The contract's socket ops as typed methods, one per op, named after it
(`board.top` -> `board_top`). Each takes a keyword `timeout` in seconds (default: the
client's) and raises the error class of a refusal's code."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from gameserver_client.models import (
    Account,
    BoardInfo,
    Entry,
    Page,
    Party,
    PlayerRank,
    Presence,
    SubmitResult,
    TicketState,
    entries_from_wire,
)
from gameserver_client.storage import Storage, device_id


class GameOps:
    """The op methods; `GameClient` supplies the connection they are sent on."""

    # Boards to subscribe again after a reconnect (board -> `top`).
    _subscriptions: dict[str, int]
    # The rank last told per watched board, to tell a change missed while away.
    _ranks: dict[str, int | None]
    # Tickets queued here and not yet matched, expired or cancelled: checked on reconnect.
    _tickets: set[str]

    @property
    def player_id(self) -> str:
        raise NotImplementedError

    async def _call(
        self, op: str, fields: Mapping[str, Any], timeout: float | None
    ) -> dict[str, Any]:
        raise NotImplementedError

    # -- sessions and presence ----------------------------------------------------------

    async def ping(self, *, timeout: float | None = None) -> int:
        """The server's time (Unix ms); also keeps the session alive."""
        return int((await self._call("ping", {}, timeout))["server_time"])

    async def session_set(self, values: Mapping[str, Any], *, timeout: float | None = None) -> None:
        await self._call("session.set", {"values": dict(values)}, timeout)

    async def session_get(
        self, keys: list[str] | None = None, *, timeout: float | None = None
    ) -> dict[str, Any]:
        fields: dict[str, Any] = {} if keys is None else {"keys": keys}
        values: dict[str, Any] = (await self._call("session.get", fields, timeout))["values"]
        return values

    async def presence_get(
        self, player_ids: list[str], *, timeout: float | None = None
    ) -> dict[str, Presence]:
        reply = await self._call("presence.get", {"player_ids": player_ids}, timeout)
        return cast(dict[str, Presence], reply["players"])

    # -- leaderboards -------------------------------------------------------------------

    async def score_submit(
        self,
        board: str,
        score: float,
        *,
        metadata: Mapping[str, Any] | None = None,
        request_id: str | None = None,
        timeout: float | None = None,
    ) -> SubmitResult:
        """Submit your score; `request_id` makes a retry apply once."""
        fields: dict[str, Any] = {"board": board, "score": score}
        if metadata is not None:
            fields["metadata"] = dict(metadata)
        if request_id is not None:
            fields["request_id"] = request_id
        r = await self._call("score.submit", fields, timeout)
        return SubmitResult(r["board"], r["score"], r["rank"], r.get("previous_rank"))

    async def board_top(
        self,
        board: str,
        limit: int = 10,
        *,
        cursor: str | None = None,
        timeout: float | None = None,
    ) -> Page:
        fields: dict[str, Any] = {"board": board, "limit": limit}
        if cursor is not None:
            fields["cursor"] = cursor
        r = await self._call("board.top", fields, timeout)
        return Page(entries_from_wire(r.get("entries")), r.get("next_cursor"))

    async def board_around(
        self,
        board: str,
        player_id: str | None = None,
        radius: int = 5,
        *,
        timeout: float | None = None,
    ) -> list[Entry]:
        fields: dict[str, Any] = {"board": board, "radius": radius}
        if player_id is not None:
            fields["player_id"] = player_id
        return entries_from_wire((await self._call("board.around", fields, timeout))["entries"])

    async def board_rank(
        self, board: str, player_id: str | None = None, *, timeout: float | None = None
    ) -> PlayerRank:
        """Your rank (or `player_id`'s); `NotFound` when not on the board."""
        fields: dict[str, Any] = {"board": board}
        if player_id is not None:
            fields["player_id"] = player_id
        r = await self._call("board.rank", fields, timeout)
        return PlayerRank(r.get("player_id") or player_id or self.player_id, r["rank"], r["score"])

    async def board_players(
        self, board: str, player_ids: list[str], *, timeout: float | None = None
    ) -> list[Entry]:
        reply = await self._call(
            "board.players", {"board": board, "player_ids": player_ids}, timeout
        )
        return entries_from_wire(reply["entries"])

    async def board_subscribe(
        self, board: str, top: int = 10, *, timeout: float | None = None
    ) -> int | None:
        """Watch `board`: `RankChanged` and (with `top` > 0) `BoardTop` pushes follow.
        Returns your current rank. The subscription is made again after a reconnect."""
        reply = await self._call("board.subscribe", {"board": board, "top": top}, timeout)
        self._subscriptions[board] = top
        rank: int | None = reply.get("rank")
        self._ranks[board] = rank
        return rank

    async def board_unsubscribe(self, board: str, *, timeout: float | None = None) -> None:
        self._subscriptions.pop(board, None)
        self._ranks.pop(board, None)
        await self._call("board.unsubscribe", {"board": board}, timeout)

    async def board_list(self, *, timeout: float | None = None) -> list[BoardInfo]:
        reply = await self._call("board.list", {}, timeout)
        return [BoardInfo.from_wire(item) for item in reply["boards"]]

    async def board_join(self, board: str, *, timeout: float | None = None) -> int:
        """Take a seat on a tournament board; returns the seats held now."""
        return int((await self._call("board.join", {"board": board}, timeout))["players"])

    # -- matchmaking --------------------------------------------------------------------

    async def match_join(
        self,
        queue: str,
        *,
        party_id: str | None = None,
        properties: Mapping[str, Any] | None = None,
        timeout: float | None = None,
    ) -> str:
        """Queue up (with your party, if you lead one); returns the ticket.
        A `MatchFound` (or `MatchExpired`) event follows."""
        fields: dict[str, Any] = {"queue": queue}
        if party_id is not None:
            fields["party_id"] = party_id
        if properties is not None:
            fields["properties"] = dict(properties)
        ticket = str((await self._call("match.join", fields, timeout))["ticket"])
        self._tickets.add(ticket)
        return ticket

    async def match_cancel(self, ticket: str, *, timeout: float | None = None) -> None:
        await self._call("match.cancel", {"ticket": ticket}, timeout)
        self._tickets.discard(ticket)

    async def match_status(self, ticket: str, *, timeout: float | None = None) -> TicketState:
        reply = await self._call("match.status", {"ticket": ticket}, timeout)
        return cast(TicketState, reply["state"])

    # -- parties ------------------------------------------------------------------------

    async def party_create(self, *, timeout: float | None = None) -> str:
        return str((await self._call("party.create", {}, timeout))["party_id"])

    async def party_invite(
        self, party_id: str, player_id: str, *, timeout: float | None = None
    ) -> None:
        await self._call("party.invite", {"party_id": party_id, "player_id": player_id}, timeout)

    async def party_accept(self, party_id: str, *, timeout: float | None = None) -> None:
        await self._call("party.accept", {"party_id": party_id}, timeout)

    async def party_decline(self, party_id: str, *, timeout: float | None = None) -> None:
        await self._call("party.decline", {"party_id": party_id}, timeout)

    async def party_leave(self, party_id: str, *, timeout: float | None = None) -> None:
        await self._call("party.leave", {"party_id": party_id}, timeout)

    async def party_kick(
        self, party_id: str, player_id: str, *, timeout: float | None = None
    ) -> None:
        await self._call("party.kick", {"party_id": party_id, "player_id": player_id}, timeout)

    async def party_get(self, party_id: str, *, timeout: float | None = None) -> Party:
        r = await self._call("party.get", {"party_id": party_id}, timeout)
        return Party(
            r.get("party_id", party_id), r["leader"], list(r["members"]), list(r.get("invited", []))
        )

    # -- accounts -----------------------------------------------------------------------

    async def account_get(self, *, timeout: float | None = None) -> Account:
        return Account.from_wire(await self._call("account.get", {}, timeout))

    async def account_update(self, display_name: str, *, timeout: float | None = None) -> Account:
        reply = await self._call("account.update", {"display_name": display_name}, timeout)
        return Account.from_wire(reply)

    async def account_link_device(
        self, storage: Storage, *, timeout: float | None = None
    ) -> Account:
        """Link this device (its id kept in `storage`) to the account."""
        reply = await self._call("account.link", {"device_id": device_id(storage)}, timeout)
        return Account.from_wire(reply)

    async def account_link_provider(
        self, provider: str, id_token: str, *, timeout: float | None = None
    ) -> Account:
        fields = {"provider": provider, "id_token": id_token}
        return Account.from_wire(await self._call("account.link", fields, timeout))

    async def account_unlink(
        self, kind: str, provider: str | None = None, *, timeout: float | None = None
    ) -> Account:
        fields: dict[str, Any] = {"kind": kind}
        if provider is not None:
            fields["provider"] = provider
        return Account.from_wire(await self._call("account.unlink", fields, timeout))
