"""A request that names its `key_fields` calls its function with exactly the FCALL
arguments its written-out `keys()` and `args()` gave: the keys in the order named, then
every other field in declaration order. The expected calls are written out literally."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import pytest

from domain.accounts.functions import AccountErase
from domain.leaderboards.functions import Archive
from domain.matchmaking.functions import Ack, ClaimPlayer, Enqueue, LeaseRelease
from domain.parties.functions import SendInvite
from domain.sessions.functions import Create
from domain.storage.function_call import FunctionCall
from domain.storage.shard_calls import Call


def test_a_request_with_key_fields_calls_with_its_keys_then_its_other_fields() -> None:
    assert ClaimPlayer("ptr", "hist", "t1 5", 900, "", 60).call() == Call(
        "ptr", ("FCALL", "mm_claim_player", 2, "ptr", "hist", "t1 5", 900, "", 60)
    )
    assert Enqueue("tk", "st", "wt", "t1", 5, 6, 7, b"{}", 8).call() == Call(
        "tk", ("FCALL", "mm_enqueue", 3, "tk", "st", "wt", "t1", 5, 6, 7, b"{}", 8)
    )
    assert Archive("s", "z", "m", "t", 1, 2, 3, "b:", "ch", "p2").call() == Call(
        "s", ("FCALL", "lb_archive", 4, "s", "z", "m", "t", 1, 2, 3, "b:", "ch", "p2")
    )


def test_a_one_key_request_calls_with_its_key_then_its_other_fields() -> None:
    assert LeaseRelease("lease", "me").call() == Call(
        "lease", ("FCALL", "mm_lease_release", 1, "lease", "me")
    )
    assert SendInvite("party", "lead", "guest", 1, 2, 3).call() == Call(
        "party", ("FCALL", "party_invite", 1, "party", "lead", "guest", 1, 2, 3)
    )
    assert Create("sess", "sid", "eu", "c", 30).call() == Call(
        "sess", ("FCALL", "session_create", 1, "sess", "sid", "eu", "c", 30)
    )
    assert AccountErase("acct").call() == Call("acct", ("FCALL", "account_erase", 1, "acct"))


def test_a_request_that_writes_its_args_out_keeps_them() -> None:
    assert Ack("lease", "st", "me", "g", ("1-0", "2-0")).call() == Call(
        "lease", ("FCALL", "mm_ack", 2, "lease", "st", "me", "g", "1-0", "2-0")
    )


def test_a_request_without_key_fields_or_written_keys_is_refused_when_declared() -> None:
    with pytest.raises(TypeError, match="key_fields"):

        @dataclass(frozen=True, slots=True)
        class Keyless(FunctionCall):
            function: ClassVar[str] = "keyless"

            key: str
