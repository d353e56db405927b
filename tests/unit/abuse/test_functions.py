"""The typed calls of abuse/functions.py mirror abuse.lua: one request per function,
named in the function's header, its arguments in the order the Lua reads them."""

from __future__ import annotations

from domain.abuse import functions
from domain.abuse.functions import Take, Taken
from domain.abuse.store import LIBRARY_CODE
from tests.unit.function_headers import check_library


def test_every_function_has_a_typed_request_that_its_lua_header_names() -> None:
    check_library(functions, LIBRARY_CODE)


def test_a_take_sends_the_rate_then_the_burst() -> None:
    call = Take("abuse:{login:1.2.3.4}", 0.5, 3).call()
    assert call.args == ("FCALL", "abuse_take", 1, "abuse:{login:1.2.3.4}", 0.5, 3)


def test_a_refused_take_says_when_one_would_be_allowed() -> None:
    assert Taken.decode([1, 0]).retry_after_s == 0.0
    assert Taken.decode([0, 1500]).retry_after_s == 1.5
