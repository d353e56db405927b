"""The client address: the TCP peer, or the rightmost untrusted X-Forwarded-For hop."""

from __future__ import annotations

import pytest

from gameserver.http.client_address import ClientAddresses


def _scope(peer: str, *forwarded: str) -> dict[str, object]:
    headers = [(b"x-forwarded-for", value.encode()) for value in forwarded]
    return {"client": (peer, 5555), "headers": headers}


def test_without_trusted_proxies_the_peer_is_the_client() -> None:
    assert ClientAddresses([]).of(_scope("1.1.1.1", "9.9.9.9")) == "1.1.1.1"


def test_an_untrusted_peer_cannot_name_another_address() -> None:
    addresses = ClientAddresses(["10.0.0.0/8"])
    assert addresses.of(_scope("1.1.1.1", "9.9.9.9")) == "1.1.1.1"


@pytest.mark.parametrize(
    ("forwarded", "client"),
    [
        (["9.9.9.9"], "9.9.9.9"),
        (["6.6.6.6, 9.9.9.9, 10.0.0.2"], "9.9.9.9"),
        (["6.6.6.6", "9.9.9.9, 10.0.0.2"], "9.9.9.9"),  # several headers read as one list
        (["10.0.0.3, 10.0.0.2"], "10.0.0.3"),  # all trusted: the farthest
        (["not-an-ip, 10.0.0.2"], "10.0.0.2"),  # junk stops the walk at the last proxy
        ([], "10.0.0.1"),
    ],
)
def test_behind_trusted_proxies_the_rightmost_untrusted_hop_is_the_client(
    forwarded: list[str], client: str
) -> None:
    addresses = ClientAddresses(["10.0.0.0/8"])
    assert addresses.of(_scope("10.0.0.1", *forwarded)) == client


def test_ipv6_proxies_and_clients() -> None:
    addresses = ClientAddresses(["::1"])
    assert addresses.of(_scope("::1", "2001:db8::7")) == "2001:db8::7"


@pytest.mark.parametrize(
    ("peer", "limited_as"),
    [
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),
        ("::ffff:1.2.3.4", "1.2.3.4"),
        ("1.2.3.4", "1.2.3.4"),
    ],
)
def test_limits_count_an_ipv6_client_by_its_64(peer: str, limited_as: str) -> None:
    # A host given a /64 must not get a fresh limit for each of its 2^64 addresses.
    assert ClientAddresses([]).limited_as(_scope(peer)) == limited_as
