"""The typed calls of matchmaking/functions.py mirror matchmaking.lua: one request per
function, named in the function's header, its arguments in the order the Lua reads them.
(Beside the other unit tests, not in tests/unit/matchmaking/, which covers the rules.)"""

from __future__ import annotations

from domain.matchmaking import functions
from domain.matchmaking.functions import (
    BackfillFill,
    Entries,
    Entry,
    ReadEntries,
    Saved,
    SaveResult,
    Settle,
    Settled,
)
from domain.matchmaking.store import LIBRARY_CODE
from tests.unit.function_headers import check_library


def test_every_function_has_a_typed_request_that_its_lua_header_names() -> None:
    check_library(functions, LIBRARY_CODE)


def test_a_settle_puts_the_plans_keys_after_the_six_fixed_ones() -> None:
    call = Settle("l", "s", "w", "st", "wt", "o", ("m1", "t1"), "me", "g", 5, b"{}").call()
    assert call.route == "l"
    assert call.args[3 + Settle.first_plan_key - 1] == "m1"
    assert call.args == (
        "FCALL", "mm_settle", 8, "l", "s", "w", "st", "wt", "o", "m1", "t1", "me", "g", 5, b"{}",
    )  # fmt: skip


def test_a_backfill_fill_puts_the_tickets_after_the_match_and_its_backfills() -> None:
    fill = BackfillFill("l", "s", "w", "st", "wt", "o", "m", "bf", ("t1",), "me", "g", 5, b"{}")
    assert fill.keys() == ("l", "s", "w", "st", "wt", "o", "m", "bf", "t1")
    assert fill.keys()[BackfillFill.first_ticket - 1] == "t1"


def test_a_read_sends_the_backfill_count_before_the_delivered_outbox_ids() -> None:
    read = ReadEntries("l", "s", "o", "bf", "m:", "me", 100, "g", 10, 64, ("1-0", "2-0"))
    assert read.args() == ("me", 100, "g", 10, 64, "1-0", "2-0")


def test_a_save_result_sends_the_count_then_players_reads_and_new_ratings() -> None:
    save = SaveResult("r", "res", 9, b"{}", ("a", "b"), ("", "1 2"), ("3 4", "5 6"))
    assert save.args() == (9, b"{}", 2, "a", "b", "", "1 2", "3 4", "5 6")
    assert Saved.decode([2]) == Saved(2, None)
    assert Saved.decode([0, b'{"w": 1}']) == Saved(0, {"w": 1})


def test_replies_read_entries_and_settle_results() -> None:
    raw = [[(b"1-0", [b"k", b"j", b"t", b"t1", b"d", b"x"]), (b"2-0", None)], []]
    assert Entries.decode(raw) == Entries([Entry("1-0", "j", "t1", b"x")], [])
    assert Entries.decode(None) is None
    assert Settled.decode([[b"", b"x", [b"t2"]], [b"9-0"]]) == Settled(["", "x", ["t2"]], ["9-0"])
