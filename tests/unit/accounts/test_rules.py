"""Pure account rules: credential formats, display names, ids and credential hashes."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.accounts import rules
from domain.accounts.models import Credential, CredentialKind
from domain.errors import BadRequest


def test_a_new_player_id_is_16_random_lowercase_letters_and_digits() -> None:
    ids = {rules.new_player_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(re.fullmatch(r"[a-z0-9]{16}", i) for i in ids)
    # Every character drawn from the whole alphabet, in every position.
    assert set("".join(ids)) == set(rules.PLAYER_ID_ALPHABET)
    assert all(len({i[k] for i in ids}) > 20 for k in range(rules.PLAYER_ID_CHARS))


@pytest.mark.parametrize(
    "device_id", ["a" * 15, "a" * 129, "has space 0123456", "slash/0123456789ab", 12, None]
)
def test_a_malformed_device_id_is_refused(device_id: object) -> None:
    with pytest.raises(BadRequest):
        rules.device_credential(device_id)


@given(st.from_regex(r"[A-Za-z0-9_.:-]{16,128}", fullmatch=True))
def test_every_well_formed_device_id_is_accepted(device_id: str) -> None:
    assert rules.device_credential(device_id).secret == device_id


@pytest.mark.parametrize("name", ["", " ", "x" * 33, "a\nb", "\u200bzero", 5])
def test_a_bad_display_name_is_refused(name: object) -> None:
    with pytest.raises(BadRequest):
        rules.display_name(name)


def test_a_display_name_may_hold_any_printable_characters() -> None:
    assert rules.display_name("Zoë 🎮 (2)") == "Zoë 🎮 (2)"


def test_credential_hashes_depend_on_the_secret_kind_and_provider() -> None:
    key, other_key = rules.credential_hash_key(b"s1"), rules.credential_hash_key(b"s2")
    device = Credential(CredentialKind.DEVICE, "sub-1")
    google = Credential(CredentialKind.PROVIDER, "sub-1", "google")
    apple = Credential(CredentialKind.PROVIDER, "sub-1", "apple")
    digests = {
        rules.credential_digest(key, device),
        rules.credential_digest(key, google),
        rules.credential_digest(key, apple),
        rules.credential_digest(other_key, device),
    }
    assert len(digests) == 4
    assert rules.credential_digest(key, device) == rules.credential_digest(key, device)
    assert "sub-1" not in repr(device)
