"""How the load test reads replies and pushes (pure functions, no Locust in this process)."""

from __future__ import annotations

from loadtest.protocol import (
    FinishedMatch,
    match_from_push,
    op_is_known,
    push_lag_ms,
    push_stat_name,
    reporter_of,
)


def test_push_lag_runs_from_the_server_timestamp_to_receipt() -> None:
    assert push_lag_ms({"event": "rank.changed", "ts": 1_000}, 1_012.5) == 12.5


def test_a_push_without_a_timestamp_has_no_lag() -> None:
    assert push_lag_ms({"event": "board.top"}, 5_000) is None
    assert push_lag_ms({"event": "board.top", "ts": True}, 5_000) is None
    assert push_lag_ms({"event": "board.top", "ts": "1000"}, 5_000) is None


def test_a_timestamp_slightly_in_the_future_counts_as_no_lag() -> None:
    assert push_lag_ms({"event": "match.found", "ts": 1_001}, 1_000) == 0.0


def test_pushes_without_a_timestamp_are_reported_under_a_name_of_their_own() -> None:
    assert push_stat_name({"event": "rank.changed", "ts": 1}) == "rank.changed"
    assert push_stat_name({"event": "rank.changed"}) == "rank.changed (no ts)"


def test_only_the_unknown_op_answer_marks_an_op_missing() -> None:
    unknown = {"ok": False, "error": {"code": "bad_request", "message": "unknown op 'x'"}}
    refused = {"ok": False, "error": {"code": "bad_request", "message": "board must match"}}
    assert not op_is_known(unknown)
    assert op_is_known(refused)
    assert op_is_known({"ok": True})


def test_a_match_found_push_gives_the_match_and_its_teams() -> None:
    push = {"event": "match.found", "match_id": "m1", "teams": [["p2"], ["p1"]], "ticket": "t"}
    assert match_from_push(push) == FinishedMatch("m1", (("p2",), ("p1",)))


def test_a_malformed_match_found_push_gives_no_match() -> None:
    assert match_from_push({"event": "match.found", "match_id": "m1"}) is None
    assert match_from_push({"event": "match.found", "match_id": "m1", "teams": []}) is None
    assert match_from_push({"event": "match.found", "match_id": 1, "teams": [["a"]]}) is None
    assert match_from_push({"event": "match.found", "match_id": "m", "teams": ["a"]}) is None


def test_exactly_one_player_of_a_match_reports_it() -> None:
    match = FinishedMatch("m1", (("lt-us-b",), ("lt-eu-a",)))
    assert reporter_of(match) == "lt-eu-a"
