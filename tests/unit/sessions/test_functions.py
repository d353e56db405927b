"""The typed calls of sessions/functions.py mirror sessions.lua: one request per function,
named in the function's header, its arguments in the order the Lua reads them."""

from __future__ import annotations

from domain.sessions import functions
from domain.sessions.functions import Attached, Ended, SetValues, Touch, Touched
from domain.sessions.store import LIBRARY_CODE
from tests.unit.function_headers import check_library


def test_every_function_has_a_typed_request_that_its_lua_header_names() -> None:
    check_library(functions, LIBRARY_CODE, {"SetValues": {"fields": {}}})


def test_set_values_sends_each_field_and_value_after_the_limits() -> None:
    request = SetValues("sess:{p}", "s1", 60_000, 100, {"v:a": b"1", "v:b": b"2"})
    assert request.args() == ("s1", 60_000, 100, "v:a", b"1", "v:b", b"2")


def test_a_touch_goes_to_the_players_session_hash() -> None:
    call = Touch("sess:{p}", "s1", 5).call()
    assert call.route == "sess:{p}"
    assert call.args == ("FCALL", "session_touch", 1, "sess:{p}", "s1", 5)


def test_replies_read_what_the_lua_answered() -> None:
    assert Ended.decode([]) is None
    assert Ended.decode([b"s0", b""]) == Ended("s0", None)
    assert Ended.decode([b"s0", b"gw1"]) == Ended("s0", "gw1")
    assert Attached.decode(False) is None
    assert Attached.decode([b"sid", b"s1", b"gw", b"g"]) == Attached({"sid": b"s1", "gw": b"g"})
    assert Touched.decode(-1) is Touched.GONE
