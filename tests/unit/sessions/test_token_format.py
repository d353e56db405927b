"""The token's format and its refusals: unpadded base64url of compact JSON, one message
for every way a token can be wrong, and its exact length limit."""

from __future__ import annotations

import base64
import hashlib
import hmac

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import Unauthorized
from domain.sessions.tokens import TokenClaims, sign_token, verify_token

SECRET = b"s3cret"
CLAIMS = TokenClaims("p1", "sess-1", 2_000)

claims = st.builds(
    TokenClaims,
    st.text(min_size=1, max_size=40),
    st.text(min_size=1, max_size=40),
    st.integers(1_001, 2**40),
)


def _unpadded(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@given(claims)
def test_a_token_is_unpadded_base64url_json_and_its_hmac(value: TokenClaims) -> None:
    token = sign_token(SECRET, value)
    body = {"p": value.player_id, "s": value.session_id, "e": value.expires_at}
    payload = _unpadded(orjson.dumps(body))
    mac = _unpadded(hmac.new(SECRET, payload.encode(), hashlib.sha256).digest())
    assert token == f"{payload}.{mac}"
    assert "=" not in token
    assert verify_token(SECRET, token, now=1_000) == value


def test_signing_with_an_empty_secret_names_the_setting() -> None:
    with pytest.raises(RuntimeError) as exc:
        sign_token(b"", CLAIMS)
    assert str(exc.value) == "the token secret is empty: set GAMESERVER_SECRET"


@pytest.mark.parametrize("token", [None, 5, b"a.b", ["a.b"]])
def test_a_token_that_is_not_a_string_is_refused(token: object) -> None:
    with pytest.raises(Unauthorized) as exc:
        verify_token(SECRET, token, now=1_000)  # type: ignore[arg-type]
    assert exc.value.message == "invalid token"


def _token_of_length(length: int) -> str:
    for n in range(1, length):
        token = sign_token(SECRET, TokenClaims("p1", "s" * n, 2_000))
        if len(token) == length:
            return token
    raise AssertionError(f"no token of {length} characters")


def test_a_token_of_exactly_1024_characters_is_accepted() -> None:
    token = _token_of_length(1024)
    assert verify_token(SECRET, token, now=1_000).player_id == "p1"
    with pytest.raises(Unauthorized):
        verify_token(SECRET, token + "A", now=1_000)


def _signed(payload: str) -> str:
    return f"{payload}.{_unpadded(hmac.new(SECRET, payload.encode(), hashlib.sha256).digest())}"


@pytest.mark.parametrize(
    "token",
    [
        "",
        "no-separator",
        "x" * 2000,
        "caf\u00e9.mac",
        sign_token(b"other", CLAIMS),
        sign_token(SECRET, CLAIMS)[:-1],
        _signed(_unpadded(b"not json")),
        _signed(_unpadded(b'{"p":"p1","s":"s"}')),
        _signed(_unpadded(b'{"p":"p1","s":"s","e":"soon"}')),
        _signed(_unpadded(b"[1,2,3]")),
        _signed("%%%"),
    ],
)
def test_every_bad_token_gets_the_same_message(token: str) -> None:
    # Which check failed is not for the client to learn.
    with pytest.raises(Unauthorized) as exc:
        verify_token(SECRET, token, now=1_000)
    assert exc.value.message == "invalid token"


def test_an_expired_token_says_it_expired() -> None:
    with pytest.raises(Unauthorized) as exc:
        verify_token(SECRET, sign_token(SECRET, CLAIMS), now=2_000.5)
    assert exc.value.message == "token expired"
    assert verify_token(SECRET, sign_token(SECRET, CLAIMS), now=1_999.5) == CLAIMS
