"""Sharded pub/sub (SSUBSCRIBE) on a cluster, following the slots as they move.

valkey-py's asyncio cluster client has no pub/sub, so this keeps one plain connection
per primary that owns a watched channel, with a reader task on each, and one supervisor
task that makes the server-side subscriptions match the channels asked for.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from valkey.asyncio.cluster import ValkeyCluster
from valkey.asyncio.connection import Connection
from valkey.asyncio.retry import Retry
from valkey.backoff import NoBackoff
from valkey.crc import key_slot
from valkey.exceptions import AskError, ValkeyError

log = logging.getLogger(__name__)

OnMessage = Callable[[bytes, bytes], None]
# A channel subscribed again after its link broke or its slot moved: messages published
# in between were lost (pub/sub delivers at most once).
OnResubscribed = Callable[[bytes], None]
Address = tuple[str, int]

CLUSTER_SLOTS = 16384

# Connection settings taken over from the cluster client (credentials, TLS, timeouts).
_INHERITED_KWARGS = (
    "username password credential_provider socket_timeout socket_connect_timeout parser_class"
    " socket_keepalive socket_keepalive_options client_name lib_name lib_version"
).split()


@dataclass(eq=False)
class _Link:
    """One subscriber connection to one primary."""

    address: Address
    connection: Connection
    subscribed: set[bytes] = field(default_factory=set)
    # SSUBSCRIBE / SUNSUBSCRIBE sent, confirmation not yet read.
    subscribing: set[bytes] = field(default_factory=set)
    unsubscribing: set[bytes] = field(default_factory=set)
    reader: asyncio.Task[None] | None = None
    broken: bool = False
    ping_outstanding: bool = False

    @property
    def busy(self) -> bool:
        return bool(self.subscribed or self.subscribing or self.unsubscribing)


class ShardedSubscriber:
    """Delivers ("smessage", channel, data) of the watched shard channels to `on_message`.

    On a lost connection, a MOVED reply, or a `sunsubscribe` the server sends by itself
    (a slot moved, a failover), it refreshes the slot map and subscribes again on the new
    owner, with a backoff capped at `backoff_max_s`, for as long as it runs. Messages
    published while a channel has no subscription are lost (at most once).
    """

    def __init__(
        self,
        cluster: ValkeyCluster,
        on_message: OnMessage,
        *,
        backoff_max_s: float = 1.0,
        health_check_interval_s: float = 10.0,
        on_resubscribed: OnResubscribed | None = None,
    ) -> None:
        self._cluster = cluster
        self._on_message = on_message
        self._on_resubscribed = on_resubscribed
        # Channels confirmed at least once since they were asked for.
        self._confirmed: set[bytes] = set()
        self._backoff_max_s = backoff_max_s
        self._health_check_interval_s = health_check_interval_s
        self._wanted: set[bytes] = set()
        self._links: dict[Address, _Link] = {}
        self._wakeup = asyncio.Event()
        self._changed = asyncio.Condition()
        self._refresh_needed = False
        # Slot ranges and owners from our own CLUSTER SLOTS once the cluster client's map
        # has proven stale (refreshing the client's own map from here races with it).
        self._slot_map: list[tuple[int, int, Address]] | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._closed = False

    async def start(self) -> None:
        if self._supervisor is not None or self._closed:
            raise RuntimeError("ShardedSubscriber.start() may be called once, before aclose()")
        await self._cluster.initialize()
        self._supervisor = asyncio.create_task(self._supervise(), name="sharded-subscriber")

    async def subscribe(self, *channels: bytes | str) -> None:
        """Watch these channels; returns at once (see `wait_subscribed`)."""
        self._require_running()
        self._wanted.update(_encode(channels))
        self._wakeup.set()

    async def unsubscribe(self, *channels: bytes | str) -> None:
        self._require_running()
        dropped = _encode(channels)
        self._wanted.difference_update(dropped)
        self._confirmed.difference_update(dropped)
        self._wakeup.set()

    async def wait_subscribed(self, timeout_s: float = 10.0) -> None:
        """Wait until the servers confirm exactly the channels asked for."""
        async with self._changed:
            try:
                await asyncio.wait_for(self._changed.wait_for(self._settled), timeout_s)
            except TimeoutError:
                missing = sorted(self._wanted - set(self.subscriptions()))
                raise TimeoutError(
                    f"shard channels not subscribed after {timeout_s} s: {missing}"
                ) from None

    def subscriptions(self) -> dict[bytes, Address]:
        """Each confirmed channel and the address of the primary it is subscribed on."""
        return {
            channel: link.address
            for link in self._links.values()
            if not link.broken
            for channel in link.subscribed
        }

    async def aclose(self) -> None:
        self._closed = True
        tasks = [self._supervisor] if self._supervisor else []
        tasks += [link.reader for link in self._links.values() if link.reader]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for link in self._links.values():
            await link.connection.disconnect(nowait=True)
        self._links.clear()

    def _require_running(self) -> None:
        if self._supervisor is None or self._closed:
            raise RuntimeError("ShardedSubscriber is not running: call start() first")

    def _settled(self) -> bool:
        links = [link for link in self._links.values() if not link.broken]
        if any(link.subscribing or link.unsubscribing for link in links):
            return False
        subscribed = [channel for link in links for channel in link.subscribed]
        return len(subscribed) == len(self._wanted) and set(subscribed) == self._wanted

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def _resync(self) -> None:
        """Have the supervisor fetch a new slot map and subscribe what is missing."""
        self._refresh_needed = True
        self._wakeup.set()
        await self._notify()

    async def _supervise(self) -> None:
        failures = 0
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            try:
                await self._reconcile()
                failures = 0
            except Exception as exc:  # any failure: new slot map, then try again
                failures += 1
                delay = min(self._backoff_max_s, 0.05 * 2 ** min(failures, 10))
                log.warning("sharded subscriber: %r; retry %d in %.2f s", exc, failures, delay)
                self._refresh_needed = True
                await asyncio.sleep(delay)
                self._wakeup.set()
            await self._notify()

    async def _reconcile(self) -> None:
        for address, link in list(self._links.items()):
            if link.broken:
                del self._links[address]
                await self._close_link(link)
        if self._refresh_needed:
            self._slot_map = await self._fetch_slot_map()
            self._refresh_needed = False
        plan: dict[Address, set[bytes]] = defaultdict(set)
        for channel in self._wanted:
            plan[self._owner(key_slot(channel))].add(channel)
        for address, link in list(self._links.items()):
            stale = (link.subscribed | link.subscribing) - plan.get(address, set())
            stale -= link.unsubscribing
            if stale:
                link.unsubscribing |= stale
                await self._send(link, "SUNSUBSCRIBE", stale)
        for address, channels in plan.items():
            link = self._links.get(address) or await self._open_link(address)
            missing = channels - link.subscribed - link.subscribing
            if missing:
                link.subscribing |= missing
                await self._send(link, "SSUBSCRIBE", missing)
        for address, link in list(self._links.items()):
            if not link.busy:
                del self._links[address]
                await self._close_link(link)

    def _owner(self, slot: int) -> Address:
        if self._slot_map is None:
            node = self._cluster.nodes_manager.get_node_from_slot(slot)
            return (node.host, int(node.port))
        index = bisect.bisect_right(self._slot_map, (slot, CLUSTER_SLOTS, ("", 0))) - 1
        if index >= 0:
            first, last, address = self._slot_map[index]
            if first <= slot <= last:
                return address
        raise LookupError(f"slot {slot} has no owner in the cluster's slot map")

    async def _fetch_slot_map(self) -> list[tuple[int, int, Address]]:
        """CLUSTER SLOTS from the first node that answers, as sorted (first, last, owner)."""
        known = [(node.host, int(node.port)) for node in self._cluster.get_nodes()]
        candidates = list(dict.fromkeys([*known, *self._links]))
        for address in candidates:
            connection = self._connection(address)
            try:
                await connection.connect()  # type: ignore[no-untyped-call]
                await connection.send_command("CLUSTER", "SLOTS", check_health=False)
                reply = await connection.read_response()
            except (ValkeyError, OSError) as exc:
                log.debug("CLUSTER SLOTS from %s failed: %s", address, exc)
                continue
            finally:
                await connection.disconnect(nowait=True)
            ranges = []
            for first, last, primary, *_replicas in reply:
                host = primary[0].decode() or address[0]
                ranges.append((int(first), int(last), (host, int(primary[1]))))
            return sorted(ranges)
        raise ConnectionError(f"no cluster node answered CLUSTER SLOTS (tried {candidates})")

    async def _send(self, link: _Link, command: str, channels: Iterable[bytes]) -> None:
        # A shard (un)subscribe takes channels of one slot only.
        by_slot: dict[int, list[bytes]] = defaultdict(list)
        for channel in channels:
            by_slot[key_slot(channel)].append(channel)
        try:
            for group in by_slot.values():
                await link.connection.send_command(command, *group, check_health=False)
        except Exception:
            link.broken = True
            raise

    async def _open_link(self, address: Address) -> _Link:
        connection = self._connection(address)
        try:
            await connection.connect()  # type: ignore[no-untyped-call]
        except BaseException:
            await connection.disconnect(nowait=True)
            raise
        link = _Link(address, connection)
        link.reader = asyncio.create_task(self._read(link), name=f"sharded-reader-{address}")
        self._links[address] = link
        return link

    async def _close_link(self, link: _Link) -> None:
        try:
            if link.reader is not None and link.reader is not asyncio.current_task():
                link.reader.cancel()
                await asyncio.gather(link.reader, return_exceptions=True)
        finally:
            # Even when aclose() cancels the supervisor mid-way: the link is already out
            # of self._links, so nothing else would close its socket.
            await link.connection.disconnect(nowait=True)

    def _connection(self, address: Address) -> Connection:
        inherited = self._cluster.nodes_manager.connection_kwargs
        kwargs: dict[str, Any] = {k: inherited[k] for k in _INHERITED_KWARGS if k in inherited}
        kwargs.update({k: v for k, v in inherited.items() if k.startswith("ssl_")})
        connection_class = inherited.get("connection_class", Connection)
        return connection_class(  # type: ignore[no-any-return]
            host=address[0],
            port=address[1],
            decode_responses=False,
            protocol=2,
            # The supervisor owns retrying, with its own backoff and a fresh slot map.
            retry=Retry(NoBackoff(), 0),
            **kwargs,
        )

    async def _read(self, link: _Link) -> None:
        try:
            while True:
                try:
                    response = await link.connection.read_response(
                        timeout=self._health_check_interval_s, disconnect_on_error=False
                    )
                except AskError as exc:  # MOVED too: the node no longer owns that slot
                    # It answers one SSUBSCRIBE, whose channels all share one slot.
                    moved = {c for c in link.subscribing if key_slot(c) == exc.slot_id}
                    log.info("shard channels %r moved away from %s", moved, link.address)
                    link.subscribing -= moved
                    await self._resync()
                    continue
                if response is None:
                    # Quiet for a whole interval: a PING proves the server still there.
                    if link.ping_outstanding:
                        raise ConnectionError(f"no answer to PING from {link.address}")
                    link.ping_outstanding = True
                    await link.connection.send_command("PING", check_health=False)
                    continue
                link.ping_outstanding = False
                await self._handle(link, response)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if not self._closed:
                log.warning("sharded subscriber link %s lost: %s", link.address, exc)
            link.broken = True
            await self._resync()

    async def _handle(self, link: _Link, response: Any) -> None:
        kind = bytes(response[0]).lower()
        if kind == b"smessage":
            try:
                self._on_message(response[1], response[2])
            except Exception:
                log.exception("on_message failed for shard channel %r", response[1])
            return
        channel = response[1]
        if kind == b"ssubscribe":
            link.subscribing.discard(channel)
            link.subscribed.add(channel)
            if channel in self._confirmed and self._on_resubscribed is not None:
                try:
                    self._on_resubscribed(channel)
                except Exception:
                    log.exception("on_resubscribed failed for shard channel %r", channel)
            self._confirmed.add(channel)
            await self._notify()
        elif kind == b"sunsubscribe":
            link.subscribed.discard(channel)
            link.subscribing.discard(channel)
            if channel in link.unsubscribing:
                link.unsubscribing.discard(channel)
                self._wakeup.set()
                await self._notify()
            else:
                log.info("server dropped shard channel %r on %s", channel, link.address)
                await self._resync()


def _encode(channels: Iterable[bytes | str]) -> set[bytes]:
    return {c.encode() if isinstance(c, str) else bytes(c) for c in channels}
