"""The storage layer's one error model: what went wrong with a call, and what may follow.

Every error a call to Valkey can meet is one `Failure`, named by `classify`. The kind
decides what the shard caller does next (domain/storage/shard_calls.py):

- the call certainly did not run (`NOT_RUN`): the slot moved (MOVED, ASK), is being
  migrated (TRYAGAIN), has no owner (CLUSTERDOWN), the node is a replica now (READONLY)
  or still loading (LOADING), it lacks the function library (NO_FUNCTION: a promoted
  replica's or a new node's; the library is loaded and the call sent again), or the
  batch never left this process (NOT_SENT). Read or write, it is sent again on a fresh
  slot map, until the failover window closes (`Unavailable`);
- the call was sent and its answer is lost (`OUTCOME_UNKNOWN`: the connection dropped,
  or no reply in time). A read is sent again; a write only when the caller says it is
  idempotent, else the answer is `Unconfirmed`;
- a node that cannot take writes (`FULL`: over `maxmemory` with `noeviction`, or
  `MISCONF`: it cannot write its AOF or RDB, a full or failing disk) refused a write: it
  did not run; the caller answers `Unavailable` at once (retrying in milliseconds frees
  neither memory nor disk), so clients get a clear `unavailable`, not an internal error;
- anything else (`REFUSED`: a wrong type, a function's own error, a missing permission)
  ran and failed: it is raised as is, never retried.

valkey-py names most of these by class, a node link by `NotSent`. Two have no class and
are told by their text, here only: Valkey answers an FCALL of an unknown function with a
plain `ERR Function not found`, and valkey-py's own pipeline (the TLS path) reports a
connection it could not make as "Error ... connecting to ...".
"""

from __future__ import annotations

import enum

from valkey.exceptions import (
    AskError,
    BusyLoadingError,
    ClusterDownError,
    MovedError,
    NoScriptError,
    OutOfMemoryError,
    ReadOnlyError,
    ResponseError,
    SlotNotCoveredError,
    TryAgainError,
)
from valkey.exceptions import ConnectionError as LinkError
from valkey.exceptions import TimeoutError as ReplyTimeout

from domain.storage.node_link import NotSent


class Failure(enum.Enum):
    MOVED = "moved"
    ASK = "ask"
    TRY_AGAIN = "tryagain"
    CLUSTER_DOWN = "clusterdown"
    READ_ONLY = "readonly"
    LOADING = "loading"
    NO_FUNCTION = "nofunction"
    NOT_SENT = "notsent"
    CONNECTION = "connection"
    TIMEOUT = "timeout"
    FULL = "full"
    REFUSED = "refused"


NOT_RUN = frozenset(
    {
        Failure.MOVED,
        Failure.ASK,
        Failure.TRY_AGAIN,
        Failure.CLUSTER_DOWN,
        Failure.READ_ONLY,
        Failure.LOADING,
        Failure.NO_FUNCTION,
        Failure.NOT_SENT,
    }
)
OUTCOME_UNKNOWN = frozenset({Failure.CONNECTION, Failure.TIMEOUT})


def classify(error: BaseException) -> Failure:
    """The kind of `error`, raised by a call or returned as a call's reply."""
    # Order matters: MovedError is an AskError, BusyLoadingError a ConnectionError.
    if isinstance(error, MovedError):
        return Failure.MOVED
    if isinstance(error, AskError):
        return Failure.ASK
    if isinstance(error, TryAgainError):
        return Failure.TRY_AGAIN
    if isinstance(error, ClusterDownError | SlotNotCoveredError):
        return Failure.CLUSTER_DOWN
    if isinstance(error, ReadOnlyError):
        return Failure.READ_ONLY
    if isinstance(error, BusyLoadingError):
        return Failure.LOADING
    if isinstance(error, NoScriptError):
        return Failure.NO_FUNCTION
    if isinstance(error, NotSent):
        return Failure.NOT_SENT
    if isinstance(error, LinkError):
        return Failure.NOT_SENT if "connecting" in str(error) else Failure.CONNECTION
    if isinstance(error, ReplyTimeout | TimeoutError):
        return Failure.TIMEOUT
    if isinstance(error, OSError):
        return Failure.CONNECTION
    if isinstance(error, OutOfMemoryError):
        return Failure.FULL
    if isinstance(error, ResponseError) and str(error).startswith("MISCONF"):
        return Failure.FULL
    if isinstance(error, ResponseError) and "function not found" in str(error).lower():
        return Failure.NO_FUNCTION
    return Failure.REFUSED
