"""Reading `CLUSTER NODES` lines for `GET /admin/v1/cluster`: roles, slots, up or down."""

from __future__ import annotations

from gameserver.admin.cluster import _node_view, _parse_line

PRIMARY = (
    "07c37dfeb235213a872192d90877d0cd55635b91 127.0.0.1:30004@31004,host-a "
    "myself,master - 0 1426238317239 4 connected 0-5460 5462 [5461->-e7d1eec]"
)
FAILED_REPLICA = (
    "e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 127.0.0.1:30002@31002 slave,fail "
    "07c37dfeb235213a872192d90877d0cd55635b91 0 1426238316232 2 disconnected"
)


def test_a_primary_line_gives_its_address_role_and_slot_ranges() -> None:
    link = _parse_line(PRIMARY)
    assert link.address == "127.0.0.1:30004"
    assert (link.role, link.primary_id, link.up) == ("primary", None, True)
    assert link.slots == [[0, 5460], [5462, 5462]]


def test_a_replica_flagged_failing_is_down_and_names_its_primary() -> None:
    link = _parse_line(FAILED_REPLICA)
    assert (link.role, link.up, link.slots) == ("replica", False, [])
    assert link.primary_id == "07c37dfeb235213a872192d90877d0cd55635b91"


def test_a_replica_lags_by_its_primary_offset_minus_its_own() -> None:
    replica = _parse_line(FAILED_REPLICA.replace("slave,fail", "slave").replace("dis", ""))
    primary_info = {
        "master_repl_offset": 1500,
        "slave0": {"ip": "127.0.0.1", "port": 30002, "state": "online", "lag": 1},
    }
    info = {"master_repl_offset": 1200, "slave_repl_offset": 1200, "used_memory": 10}
    view = _node_view(replica, info, primary_info)
    assert view["up"] is True
    assert (view["repl_lag_bytes"], view["repl_lag_s"], view["repl_offset"]) == (300, 1, 1200)
    # A node that did not answer INFO is down, whatever the listing node thinks.
    assert _node_view(replica, None, primary_info)["up"] is False
