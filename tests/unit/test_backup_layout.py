"""`gameserver backup` reads the cluster's layout from CLUSTER NODES: a backup that would
miss some slots' data (their primary failed, no replica promoted yet) is refused."""

from __future__ import annotations

import pytest

from gameserver.embedded.backup import _primaries

_NODES = """\
a1 127.0.0.1:7000@17000 myself,master - 0 0 1 connected 0-5460
b2 127.0.0.1:7001@17001 {flags} - 0 0 2 connected 5461-10922
c3 127.0.0.1:7002@17002 master - 0 0 3 connected 10923-16383
d4 127.0.0.1:7003@17003 slave a1 0 0 1 connected
e5 127.0.0.1:7004@17004 slave b2 0 0 2 connected
f6 127.0.0.1:7005@17005 slave c3 0 0 3 connected
"""


def test_the_layout_names_each_primary_its_slots_and_replicas() -> None:
    primaries = _primaries(_NODES.format(flags="master"))
    assert primaries["127.0.0.1:7001"] == ("b2", [[5461, 10922]], ["127.0.0.1:7004"])
    assert len(primaries) == 3


def test_a_backup_is_refused_while_some_slots_have_no_primary_up() -> None:
    with pytest.raises(RuntimeError, match="5462 slots have no primary"):
        _primaries(_NODES.format(flags="master,fail"))
