"""Which local ports an embedded cluster can listen on."""

from __future__ import annotations

import random
import socket
from collections.abc import Iterable

NODE_COUNT = 6
# Valkey's cluster bus listens on the client port plus this offset.
BUS_PORT_OFFSET = 10000
# `gameserver up` defaults: its Valkey nodes, their bus ports and the gateway.
RESERVED_PORTS = frozenset([*range(7000, 7006), *range(17000, 17006), 8000])


def node_ports(base_port: int, count: int = NODE_COUNT) -> list[int]:
    """The client ports of a cluster whose first node listens on `base_port`."""
    return list(range(base_port, base_port + count))


def all_ports(base_port: int, count: int = NODE_COUNT) -> list[int]:
    """Client ports and cluster-bus ports of such a cluster."""
    ports = node_ports(base_port, count)
    return ports + [port + BUS_PORT_OFFSET for port in ports]


def port_is_free(host: str, port: int) -> bool:
    """True when valkey-server could bind `host:port` (it binds with SO_REUSEADDR)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def ports_in_use(host: str, ports: Iterable[int]) -> list[int]:
    return [port for port in ports if not port_is_free(host, port)]


def find_free_base_port(
    host: str = "127.0.0.1",
    count: int = NODE_COUNT,
    low: int = 11000,
    high: int = 22000,
    attempts: int = 200,
) -> int:
    """A base port whose `count` client ports and their bus ports are all free.

    The default range keeps both sets below Linux's ephemeral range (32768+), where an
    outgoing connection could take the port between this check and the bind.
    """
    if high + count + BUS_PORT_OFFSET > 65535:
        raise ValueError(f"port range up to {high} leaves no room for bus ports")
    # A random start makes two test sessions running at once unlikely to pick the same ports.
    rng = random.Random()
    for _ in range(attempts):
        base = rng.randrange(low, high)
        wanted = all_ports(base, count)
        if RESERVED_PORTS.intersection(wanted):
            continue
        if not ports_in_use(host, wanted):
            return base
    raise RuntimeError(f"no {count} free consecutive ports on {host} in {low}-{high}")
