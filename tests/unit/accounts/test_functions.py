"""The typed calls of accounts/functions.py mirror accounts.lua: one request per function,
named in the function's header, its arguments in the order the Lua reads them."""

from __future__ import annotations

from domain.accounts import functions
from domain.accounts.functions import (
    AccountBan,
    AccountEnsure,
    Ensured,
    Linked,
    Resolved,
    Unlinked,
    UnlinkRefused,
)
from domain.accounts.models import Ban
from domain.accounts.store import LIBRARY_CODE
from tests.unit.function_headers import check_library


def test_every_function_has_a_typed_request_that_its_lua_header_names() -> None:
    check_library(functions, LIBRARY_CODE)


def test_ensure_sends_rename_as_a_flag_between_the_name_and_the_link() -> None:
    request = AccountEnsure("acct:{p}", 1.5, "Ann", True, "l:device", "d1")
    assert request.args() == (1.5, "Ann", "1", "l:device", "d1")
    assert request.call().args[:4] == ("FCALL", "account_ensure", 1, "acct:{p}")


def test_a_ban_without_an_end_sends_an_empty_until() -> None:
    assert AccountBan("acct:{p}", None, "x").args() == ("", "x")
    assert AccountBan("acct:{p}", 10.0, "x").args() == ("10.0", "x")


def test_replies_read_what_the_lua_answered() -> None:
    assert Resolved.decode([b"p1", 1]) == Resolved("p1", True)
    assert Ensured.decode([0, 0, b"", b""]) == Ensured(False, None)
    assert Ensured.decode([1, 1, b"", b"spam"]) == Ensured(True, Ban(None, "spam"))
    assert Ensured.decode([0, 1, b"9.5", b""]) == Ensured(False, Ban(9.5, ""))
    assert Linked.decode(None) is None
    assert Linked.decode(b"") == Linked("")
    assert Unlinked.decode(-2) is UnlinkRefused.LAST_CREDENTIAL
    assert Unlinked.decode(b"d1") == Unlinked("d1")
