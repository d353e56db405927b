"""The storage layer's error model: each error a call can meet, named by its kind."""

from __future__ import annotations

import pytest
from valkey.asyncio.cluster import ClusterParser
from valkey.exceptions import BusyLoadingError, ResponseError, SlotNotCoveredError
from valkey.exceptions import ConnectionError as LinkError
from valkey.exceptions import TimeoutError as ReplyTimeout

from domain.storage.errors import NOT_RUN, OUTCOME_UNKNOWN, Failure, classify
from domain.storage.node_link import NotSent


@pytest.mark.parametrize(
    ("reply", "kind"),
    [
        ("MOVED 3999 127.0.0.1:6381", Failure.MOVED),
        ("ASK 3999 127.0.0.1:6381", Failure.ASK),
        ("TRYAGAIN Multiple keys request during rehashing of slot", Failure.TRY_AGAIN),
        ("CLUSTERDOWN The cluster is down", Failure.CLUSTER_DOWN),
        ("READONLY You can't write against a read only replica.", Failure.READ_ONLY),
        ("LOADING Valkey is loading the dataset in memory", Failure.LOADING),
        ("ERR Function not found", Failure.NO_FUNCTION),
        ("NOSCRIPT No matching script.", Failure.NO_FUNCTION),
        ("WRONGTYPE Operation against a key holding the wrong kind of value", Failure.REFUSED),
        (
            "NOPERM User gameserver has no permissions to run the 'flushall' command",
            Failure.REFUSED,
        ),
        ("ERR user_script:3: Script attempted to access a non local key", Failure.REFUSED),
        ("OOM command not allowed when used memory > 'maxmemory'.", Failure.FULL),
        ("MISCONF Errors writing to the AOF file: No space left on device", Failure.FULL),
    ],
)
def test_an_error_reply_is_named_by_its_kind(reply: str, kind: Failure) -> None:
    assert classify(ClusterParser.parse_error(reply)) is kind


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (NotSent("link to 127.0.0.1:1 is closed"), Failure.NOT_SENT),
        (LinkError("Error 111 connecting to 127.0.0.1:1. Connection refused."), Failure.NOT_SENT),
        (LinkError("connection to 127.0.0.1:1 lost"), Failure.CONNECTION),
        (ReplyTimeout("Timeout reading from 127.0.0.1:1"), Failure.TIMEOUT),
        (TimeoutError(), Failure.TIMEOUT),
        (ConnectionResetError(), Failure.CONNECTION),
        (BusyLoadingError("loading"), Failure.LOADING),
        (SlotNotCoveredError("no node serves k"), Failure.CLUSTER_DOWN),
        (ResponseError("ERR wrong number of arguments"), Failure.REFUSED),
        (ValueError("not a Valkey error"), Failure.REFUSED),
    ],
)
def test_a_failure_to_send_or_to_hear_back_is_named_by_its_kind(
    error: BaseException, kind: Failure
) -> None:
    assert classify(error) is kind


def test_only_a_lost_answer_leaves_the_outcome_unknown() -> None:
    assert OUTCOME_UNKNOWN == {Failure.CONNECTION, Failure.TIMEOUT}
    assert not NOT_RUN & OUTCOME_UNKNOWN
    # What ran and failed is neither: never sent again; nor is a full node's refusal
    # (answered `Unavailable` at once: a retry would not free memory).
    assert Failure.REFUSED not in NOT_RUN | OUTCOME_UNKNOWN
    assert Failure.FULL not in NOT_RUN | OUTCOME_UNKNOWN
    assert NOT_RUN | OUTCOME_UNKNOWN | {Failure.REFUSED, Failure.FULL} == set(Failure)
