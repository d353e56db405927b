"""The display-name cache: fresh for its TTL, then read again; bounded, oldest out first."""

from __future__ import annotations

from domain.accounts.names import NameCache


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_name_is_served_until_its_ttl_then_read_again() -> None:
    clock = Clock()
    cache = NameCache(1.0, 10, clock)
    cache.put({"ann": "Ann", "bob": None})
    assert cache.lookup(["ann", "bob", "cy"]) == ({"ann": "Ann", "bob": None}, ["cy"])
    clock.now += 1.0
    assert cache.lookup(["ann", "bob"]) == ({}, ["ann", "bob"])


def test_the_oldest_names_leave_first_beyond_the_size() -> None:
    cache = NameCache(60.0, 2, Clock())
    cache.put({"a": "A"})
    cache.put({"b": "B"})
    cache.put({"a": "A2"})  # refreshed: now the newest
    cache.put({"c": "C"})
    assert cache.lookup(["a", "b", "c"]) == ({"a": "A2", "c": "C"}, ["b"])


def test_a_dropped_name_is_read_again() -> None:
    cache = NameCache(60.0, 10, Clock())
    cache.put({"a": "A"})
    cache.drop("a")
    assert cache.lookup(["a"]) == ({}, ["a"])
