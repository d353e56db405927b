"""What every feature's store starts from: the process's one storage object, its own
function library kept loaded on it, and its write policy's WAIT."""

from __future__ import annotations

from typing import Any

from domain.storage.auto_pipeline import Wait
from domain.storage.function_call import FunctionCall
from domain.storage.shard_calls import DEFAULT_WRITES, ShardCaller, WritePolicy

# A write sent without WAIT: what it changes is repeated or rebuilt if a failover loses it.
NO_WAIT: Wait = (0, 0, False)


class LibraryStore:
    def __init__(
        self, storage: ShardCaller, library_code: str, writes: WritePolicy = DEFAULT_WRITES
    ) -> None:
        self._caller = storage
        self._library = storage.use_library(library_code)
        self._wait: Wait = writes.wait

    async def load_functions(self) -> None:
        """Load the function library on every primary; replicas and the AOF keep it."""
        await self._caller.load(self._library)

    async def _write(
        self, request: FunctionCall, *, idempotent: bool, wait: Wait | None = None
    ) -> Any:
        """Run the function call as a write, then the store's WAIT (or `wait`)."""
        wait = self._wait if wait is None else wait
        return await self._caller.write(request.call(), *wait, idempotent=idempotent)
