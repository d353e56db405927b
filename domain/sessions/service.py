"""Sessions: creating them, holding them open from a socket, their values."""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from domain.clock import Clock
from domain.errors import BadRequest, PlayerNotFound, Unauthorized
from domain.ids import require_id
from domain.sessions.models import AttachResult, GatewayFigures, NewSession, Session
from domain.sessions.store import SessionStore
from domain.sessions.tokens import TokenClaims, sign_token, verify_token

MAX_VALUE_KEY_CHARS = 128


class SessionService:
    def __init__(
        self,
        store: SessionStore,
        *,
        secret: bytes,
        clock: Clock,
        ttl_s: int,
        token_lifetime_s: int,
        values_max_bytes: int,
    ) -> None:
        self._store = store
        self._secret = secret
        self._clock = clock
        self.ttl_s = ttl_s
        self._ttl_ms = ttl_s * 1000
        self._token_lifetime_s = token_lifetime_s
        self._values_max_bytes = values_max_bytes

    async def ensure_ready(self) -> None:
        await self._store.load_functions()

    async def create(self, player_id: object, region: object = None) -> NewSession:
        player = require_id(player_id, "player_id")
        region_name = None if region is None else require_id(region, "region")
        session_id = secrets.token_urlsafe(16)
        now = self._clock.now()
        replaced = await self._store.create(player, session_id, region_name, now, self._ttl_ms)
        # The token outlives an idle session on purpose: a token is only accepted while its
        # session still exists, so the session's TTL is what ends an idle login.
        claims = TokenClaims(player, session_id, int(now) + self._token_lifetime_s)
        old = None
        if replaced is not None:
            old = Session(player, replaced[0], None, 0.0, replaced[1])
        return NewSession(
            token=sign_token(self._secret, claims),
            session_id=session_id,
            player_id=player,
            expires_in=self.ttl_s,
            replaced=old,
        )

    def verify(self, token: object) -> TokenClaims:
        if not isinstance(token, str) or not token:
            raise Unauthorized("missing token")
        return verify_token(self._secret, token, self._clock.now())

    async def attach(self, claims: TokenClaims, gateway_id: str) -> AttachResult:
        found = await self._store.attach(
            claims.player_id, claims.session_id, gateway_id, self._ttl_ms
        )
        if found is None:
            raise Unauthorized("session expired or replaced")
        session, values = found
        return AttachResult(session=session, values=values)

    async def touch(self, player_id: str, session_id: str) -> int:
        """1 if still live, 0 if replaced by a newer session, -1 if gone."""
        return await self._store.touch(player_id, session_id, self._ttl_ms)

    async def touch_many(self, sessions: Sequence[tuple[str, str]]) -> list[int]:
        return await self._store.touch_many(sessions, self._ttl_ms)

    async def detach(self, player_id: str, session_id: str, gateway_id: str) -> None:
        await self._store.detach(player_id, session_id, gateway_id, self._ttl_ms)

    async def report_gateway(self, figures: GatewayFigures, keep_s: float) -> None:
        """Publish a gateway's own figures to the cluster, kept `keep_s` unless renewed."""
        await self._store.report_gateway(figures, max(1, int(keep_s * 1000)))

    async def forget_gateway(self, gateway_id: str) -> None:
        await self._store.forget_gateway(gateway_id)

    async def gateway_reports(self) -> list[GatewayFigures]:
        """Every gateway's last figures still kept, by gateway id."""
        return await self._store.gateway_reports()

    async def gateways_of(self, player_ids: Sequence[str]) -> dict[str, str]:
        return await self._store.gateways_of(player_ids)

    async def set_values(self, player_id: str, session_id: str, values: object) -> None:
        if not isinstance(values, Mapping) or not values:
            raise BadRequest("values must be a non-empty object")
        encoded: dict[str, bytes] = {}
        for key, value in values.items():
            if not isinstance(key, str) or not key or len(key) > MAX_VALUE_KEY_CHARS:
                raise BadRequest(f"value keys must be 1..{MAX_VALUE_KEY_CHARS} characters")
            try:
                encoded[key] = orjson.dumps(value)
            except orjson.JSONEncodeError:
                # orjson refuses nesting deeper than 254 levels: a client error, not ours.
                raise BadRequest(f"value of {key[:64]!r} nests too deep") from None
        if sum(len(k.encode()) + len(v) for k, v in encoded.items()) > self._values_max_bytes:
            raise BadRequest(f"session values exceed {self._values_max_bytes} bytes")
        outcome = await self._store.set_values(
            player_id, session_id, encoded, self._ttl_ms, self._values_max_bytes
        )
        if outcome == -1:
            raise Unauthorized("session expired or replaced")
        if outcome == -2:
            raise BadRequest(f"session values exceed {self._values_max_bytes} bytes in total")

    async def get_values(self, player_id: str, keys: object = None) -> dict[str, Any]:
        if keys is not None and (
            not isinstance(keys, list) or not all(isinstance(k, str) for k in keys)
        ):
            raise BadRequest("keys must be a list of strings")
        found = await self._store.get(player_id)
        if found is None:
            raise Unauthorized("session expired or replaced")
        values = found[1]
        if keys is None:
            return values
        return {k: values[k] for k in keys if k in values}

    async def get(self, player_id: object) -> Session | None:
        found = await self._store.get(require_id(player_id, "player_id"))
        return None if found is None else found[0]

    async def snapshot(self, player_id: str) -> tuple[Session, dict[str, Any]] | None:
        """The player's session and its values, if one is live (the export)."""
        return await self._store.get(player_id)

    async def end(self, player_id: object) -> Session:
        """End a player's session (admin kick); the caller tells its gateway."""
        player = require_id(player_id, "player_id")
        ended = await self._store.end(player)
        if ended is None:
            raise PlayerNotFound(f"player {player} has no session")
        return Session(player, ended[0], None, 0.0, ended[1])

    async def logout(self, player_id: str, session_id: str) -> None:
        """End this session (the player's own logout); a newer session is left alone."""
        await self._store.end(player_id, session_id)

    async def live_players(self, player_ids: Sequence[str]) -> set[str]:
        return await self._store.live_players(player_ids)

    async def publish_to_gateway(self, gateway_id: str, message: bytes) -> None:
        await self._store.publish_to_gateway(gateway_id, message)
