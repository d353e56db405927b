"""Session tokens are signed, tamper-evident and expire."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import Unauthorized
from domain.sessions.tokens import TokenClaims, sign_token, verify_token

SECRET = b"s3cret"
CLAIMS = TokenClaims("p1", "sess-1", 2_000)


def test_a_signed_token_verifies_to_its_claims() -> None:
    assert verify_token(SECRET, sign_token(SECRET, CLAIMS), now=1_000) == CLAIMS


def test_an_expired_token_is_refused() -> None:
    with pytest.raises(Unauthorized, match="expired"):
        verify_token(SECRET, sign_token(SECRET, CLAIMS), now=2_000)


def test_a_token_signed_with_another_secret_is_refused() -> None:
    with pytest.raises(Unauthorized):
        verify_token(SECRET, sign_token(b"other", CLAIMS), now=1_000)


def test_changing_the_payload_breaks_the_signature() -> None:
    token = sign_token(SECRET, CLAIMS)
    forged = sign_token(SECRET, TokenClaims("p2", "sess-1", 2_000)).split(".")[0]
    with pytest.raises(Unauthorized):
        verify_token(SECRET, forged + "." + token.split(".")[1], now=1_000)


@given(st.text(max_size=300))
def test_arbitrary_strings_are_refused_never_crash(garbage: str) -> None:
    with pytest.raises(Unauthorized):
        verify_token(SECRET, garbage, now=1_000)


@given(st.integers(min_value=0, max_value=200), st.characters())
def test_any_single_character_change_is_refused(position: int, replacement: str) -> None:
    token = sign_token(SECRET, CLAIMS)
    position %= len(token)
    if token[position] == replacement:
        return
    tampered = token[:position] + replacement + token[position + 1 :]
    with pytest.raises(Unauthorized):
        verify_token(SECRET, tampered, now=1_000)


def test_a_token_with_an_empty_mac_is_refused() -> None:
    payload = sign_token(SECRET, CLAIMS).split(".")[0]
    with pytest.raises(Unauthorized):
        verify_token(SECRET, payload + ".", now=1_000)


def test_a_token_whose_mac_is_cut_short_is_refused() -> None:
    payload, mac = sign_token(SECRET, CLAIMS).split(".")
    for length in range(len(mac)):
        with pytest.raises(Unauthorized):
            verify_token(SECRET, f"{payload}.{mac[:length]}", now=1_000)


def test_a_token_with_characters_added_to_its_mac_is_refused() -> None:
    token = sign_token(SECRET, CLAIMS)
    with pytest.raises(Unauthorized):
        verify_token(SECRET, token + "A", now=1_000)
