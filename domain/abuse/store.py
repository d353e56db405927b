"""The Valkey side of abuse limits: every key and function of the feature lives here.

A take is one FCALL of abuse.lua on the address's own slot, through its typed request
and reply (functions.py). It goes without WAIT: a limit counter lost in a failover only
lets an address start over with a full bucket.
"""

from __future__ import annotations

from importlib import resources

from domain.abuse.functions import Take, Taken
from domain.storage.library_store import NO_WAIT, LibraryStore
from domain.storage.shard_calls import ShardCaller

# The kind and the address are the hash tag: addresses spread over the whole cluster.
_LIMIT_KEY = "abuse:{{{kind}:{address}}}"

LIBRARY_CODE = resources.files("domain.abuse").joinpath("abuse.lua").read_text()


def limit_key(kind: str, address: str) -> str:
    return _LIMIT_KEY.format(kind=kind, address=address)


class AbuseStore(LibraryStore):
    def __init__(self, storage: ShardCaller) -> None:
        super().__init__(storage, LIBRARY_CODE)

    async def take(self, kind: str, address: str, rate_per_s: float, burst: int) -> float:
        """Count one request; 0.0 if allowed, else the seconds until one would be."""
        call = Take(limit_key(kind, address), rate_per_s, burst).call()
        # A retry after an unknown outcome at worst counts one request twice.
        taken = Taken.decode(await self._caller.write(call, *NO_WAIT, idempotent=True))
        return taken.retry_after_s
