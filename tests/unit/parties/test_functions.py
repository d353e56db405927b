"""The typed calls of parties/functions.py mirror parties.lua: one request per function,
named in the function's header, its arguments in the order the Lua reads them."""

from __future__ import annotations

from domain.parties import functions
from domain.parties.functions import Accept, Held, PartyChange
from domain.parties.rules import Invite
from domain.parties.store import LIBRARY_CODE
from tests.unit.function_headers import check_library


def test_every_function_has_a_typed_request_that_its_lua_header_names() -> None:
    check_library(functions, LIBRARY_CODE)


def test_an_accept_goes_to_the_partys_slot_with_the_limits_last() -> None:
    call = Accept("party:{x}", "p2", "x 5", 7, 100, 4).call()
    assert call.route == "party:{x}"
    assert call.args == ("FCALL", "party_accept", 1, "party:{x}", "p2", "x 5", 7, 100, 4)


def test_a_party_change_reads_the_status_the_party_and_a_removed_claim() -> None:
    raw = [b"ok", b'{"m":["a","b"],"c":{"a":"x 1"},"i":{"c":[9,"a"]}}', b"x 2"]
    change = PartyChange.decode(raw, "x")
    assert change.status == "ok" and change.removed_claim == "x 2"
    assert change.party is not None and change.party.members == ("a", "b")
    assert change.party.invites == {"c": Invite(9, "a")}
    assert PartyChange.decode([b"missing", b"", b""], "x") == PartyChange("missing", None)
    assert Held.decode(b"") == Held(None)
