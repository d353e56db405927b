"""The typed calls of functions.py mirror leaderboards.lua: one request per function, in
the order the Lua reads its keys and arguments, named in the function's header."""

from __future__ import annotations

import re

import pytest

from domain.errors import BadRequest
from domain.leaderboards import functions
from domain.leaderboards.calls import FUNCTION_READS, LIBRARY_CODE
from domain.leaderboards.functions import (
    FunctionCall,
    StaleBoard,
    Submit,
    SubmitReply,
    WriteRefused,
)
from domain.leaderboards.models import Position
from domain.leaderboards.rules import member_of
from domain.storage.shard_calls import Call

_REGISTERED = re.compile(
    r"function_name = '(\w+)', callback = (\w+)(?:, flags = (\w+))?", re.MULTILINE
)
# Called only through calls.py, which folds the reads of one node into it.
_FOLDING = "lb_multi"


def _requests() -> dict[str, type[FunctionCall]]:
    found = {}
    for value in vars(functions).values():
        if (
            isinstance(value, type)
            and issubclass(value, FunctionCall)
            and value is not FunctionCall
        ):
            found[value.function] = value
    return found


def _header(callback: str) -> str:
    """The comment lines right above `local function <callback>`."""
    lines = LIBRARY_CODE[: LIBRARY_CODE.index(f"local function {callback}(")].splitlines()
    header = []
    for line in reversed(lines):
        if not line.startswith("--"):
            break
        header.append(line)
    return "\n".join(reversed(header))


def test_every_function_has_a_typed_request_that_its_lua_header_names() -> None:
    registered = {
        name: (callback, flags) for name, callback, flags in _REGISTERED.findall(LIBRARY_CODE)
    }
    requests = _requests()
    assert set(requests) == set(registered) - {_FOLDING}
    for name, request in requests.items():
        callback, flags = registered[name]
        assert f"functions.{request.__name__} ->" in _header(callback), name
        # Only reads go as FCALL_RO (and only those are folded into lb_multi).
        assert request.read_only == flags.startswith("READ"), name


def _submit(**fields: object) -> Submit:
    base: dict[str, object] = dict(
        zset="z", bucket="b", meta="m", state="s", version=3, operator="best", order="desc",
        player_id="p", value=1.5, metadata=None, ttl_s=60, channel="ev", period="all",
    )  # fmt: skip
    base.update(fields)
    return Submit(**base)  # type: ignore[arg-type]


def test_a_submit_names_the_rule_and_request_keys_only_when_it_has_them() -> None:
    assert _submit().keys() == ("z", "b", "m", "s")
    assert _submit(request_id="q", requests="r").keys() == ("z", "b", "m", "s", "r")
    ruled = _submit(rules="client=1", tally="t", rate="w", request_id="q", requests="r")
    assert ruled.keys() == ("z", "b", "m", "s", "t", "w", "r")


def test_a_submit_puts_the_request_id_fourteenth_and_the_siblings_after_it() -> None:
    args = _submit(request_id="q", request_ttl_ms=9, siblings=("z2", "z3")).args()
    assert args[10] == 9  # ARGV[11]: request ttl ms
    assert args[13] == "q"  # ARGV[14]: request id
    assert args[14:] == ("z2", "z3")  # ARGV[15...]: sibling sorted sets
    assert args[5:7] == ("0", b"")  # no metadata
    call = _submit().call()
    assert call.route == "z" and call.args[:3] == ("FCALL", "lb_submit", 4)


def test_a_submit_reply_reads_positions_and_each_siblings_counts() -> None:
    new, old = Position(-5.0, 7, "p"), Position(-2.0, 3, "p")
    raw = [
        b"OK", b"-5", member_of(new), b"-2", member_of(old), 0, 4, 1,
        2, 6, None, None,
    ]  # fmt: skip
    reply = SubmitReply.decode(raw)
    assert (reply.new, reply.old, reply.own_new, reply.own_old) == (new, old, 0, 4)
    assert reply.changed and not reply.duplicate
    assert reply.siblings == ((2, 6), (None, None))


@pytest.mark.parametrize(
    ("raw", "error"),
    [([b"STALE"], StaleBoard), ([b"RANGE"], BadRequest), ([b"REFUSED", b"rate"], WriteRefused)],
)
def test_a_refused_submit_raises_what_refused_it(raw: list[bytes], error: type[Exception]) -> None:
    with pytest.raises(error):
        SubmitReply.decode(raw)


def test_only_this_librarys_reads_fold_into_lb_multi() -> None:
    # The process's one shard caller also carries other features' function reads.
    own = Call("lb:{g.0.1}:s", ("FCALL_RO", "lb_count", 1, "lb:{g.0.1}:1:all:z", "0"))
    other = Call("sess:{p1}", ("FCALL_RO", "session_get", 1, "sess:{p1}"))
    write = Call("lb:{g.0.1}:s", ("FCALL", "lb_submit", 1, "lb:{g.0.1}:1:all:z"))
    assert FUNCTION_READS.accepts(own)
    assert not FUNCTION_READS.accepts(other)
    assert not FUNCTION_READS.accepts(write)
