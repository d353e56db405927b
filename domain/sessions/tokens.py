"""Session tokens: HMAC-SHA256 over player id, session id and expiry. Pure, no I/O."""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass

import orjson

from domain.errors import Unauthorized

# Tokens are `<payload>.<mac>`, both unpadded base64url; the payload is compact JSON.
_SEPARATOR = "."
_MAX_TOKEN_CHARS = 1024


@dataclass(frozen=True)
class TokenClaims:
    player_id: str
    session_id: str
    expires_at: int  # Unix seconds


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    padded = text + "=" * (-len(text) % 4)
    return base64.urlsafe_b64decode(padded.encode("ascii"))


def _mac(secret: bytes, payload: str) -> str:
    return _b64encode(hmac.new(secret, payload.encode("ascii"), hashlib.sha256).digest())


def sign_token(secret: bytes, claims: TokenClaims) -> str:
    if not secret:
        raise RuntimeError("the token secret is empty: set GAMESERVER_SECRET")
    body = {"p": claims.player_id, "s": claims.session_id, "e": claims.expires_at}
    payload = _b64encode(orjson.dumps(body))
    return payload + _SEPARATOR + _mac(secret, payload)


def verify_token(secret: bytes, token: str, now: float) -> TokenClaims:
    """The claims of a token signed with `secret` that has not expired at `now`.

    Raises `Unauthorized` for anything else, without saying which check failed.
    """
    if (
        not isinstance(token, str)
        or len(token) > _MAX_TOKEN_CHARS
        or not token.isascii()
        or _SEPARATOR not in token
    ):
        raise Unauthorized("invalid token")
    payload, _, mac = token.partition(_SEPARATOR)
    if not hmac.compare_digest(_mac(secret, payload), mac):
        raise Unauthorized("invalid token")
    try:
        body = orjson.loads(_b64decode(payload))
        claims = TokenClaims(str(body["p"]), str(body["s"]), int(body["e"]))
    except (ValueError, KeyError, TypeError, orjson.JSONDecodeError):
        raise Unauthorized("invalid token") from None
    if claims.expires_at <= now:
        raise Unauthorized("token expired")
    return claims
