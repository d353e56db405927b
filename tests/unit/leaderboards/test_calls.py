"""Folding a node's function reads into one `lb_multi` call."""

from __future__ import annotations

from domain.leaderboards.calls import FUNCTION_READS
from domain.storage.shard_calls import Call


def test_function_reads_fold_into_one_call_with_each_functions_key_and_arg_counts() -> None:
    first = Call("z1", ("FCALL_RO", "lb_count", 1, "z1", "5", "m"))
    second = Call("z2", ("FCALL_RO", "lb_page", 2, "z2", "meta2", "1", 10))
    assert FUNCTION_READS.accepts(first) and FUNCTION_READS.accepts(second)
    merged = FUNCTION_READS.combine([first, second])
    assert merged == Call(
        "z1",
        (
            "FCALL_RO", "lb_multi", 0,
            "lb_count", 1, "z1", 2, "5", "m",
            "lb_page", 2, "z2", "meta2", 2, "1", 10,
        ),
    )  # fmt: skip


def test_plain_commands_are_not_folded() -> None:
    assert not FUNCTION_READS.accepts(Call("z", ("ZCARD", "z")))
    assert not FUNCTION_READS.accepts(Call("s", ("FCALL", "lb_submit", 1, "s")))
