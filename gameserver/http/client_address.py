"""Which address a request comes from, believing `X-Forwarded-For` only from our proxies."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from starlette.types import Scope

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

UNKNOWN = "unknown"
# The prefix one IPv6 client is counted by in the per-address limits.
_IPV6_PREFIX = 64


class ClientAddresses:
    """The client address of a request or upgrade.

    Without trusted proxies (the default) it is the TCP peer, whatever the headers say.
    When the peer is a trusted proxy, `X-Forwarded-For` is read from the right: each
    trusted hop is skipped and the first untrusted one is the client (anything left of
    it was written by the client itself and proves nothing).
    """

    def __init__(self, trusted_proxies: Iterable[str]) -> None:
        self._trusted: tuple[IPNetwork, ...] = tuple(
            ipaddress.ip_network(proxy, strict=False) for proxy in trusted_proxies
        )

    def of(self, scope: Scope) -> str:
        client = scope.get("client")
        peer = str(client[0]) if client else UNKNOWN
        if not self._trusted or not self._is_trusted(peer):
            return peer
        hops = [
            hop.strip()
            for name, value in scope.get("headers", ())
            if name == b"x-forwarded-for"
            for hop in value.decode("latin-1").split(",")
        ]
        nearest = peer
        for hop in reversed(hops):
            if not _is_address(hop):
                # A trusted proxy passed on something that is no address: stop at it.
                return nearest
            if not self._is_trusted(hop):
                return str(ipaddress.ip_address(hop))
            nearest = hop
        return nearest

    def limited_as(self, scope: Scope) -> str:
        """The address the per-address limits count by: an IPv6 client by its /64.

        One IPv6 host is routinely given a whole /64 (2^64 addresses); counted one by
        one, it could spend a fresh address on every request.
        """
        address = self.of(scope)
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return address
        if isinstance(ip, ipaddress.IPv6Address):
            if ip.ipv4_mapped is not None:
                return str(ip.ipv4_mapped)
            return str(ipaddress.ip_network(f"{ip}/{_IPV6_PREFIX}", strict=False))
        return str(ip)

    def _is_trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self._trusted)


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
