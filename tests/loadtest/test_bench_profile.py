"""`gameserver bench --profile`: py-spy's raw stacks summed into areas of the gateway."""

from __future__ import annotations

from pathlib import Path

from loadtest.bench.profile import OTHER, area_of, parse_frame, read_raw, render

LOOP = "run (uvloop/__init__.py:82);Runner.run (/usr/lib/python3.11/asyncio/runners.py:118)"
SEND = (
    "WebSocketsSansIOProtocol.send "
    "(/v/lib/python3.11/site-packages/uvicorn/protocols/websockets/websockets_sansio_impl.py:350)"
)
VALKEY = "NodeLink._write (/repo/domain/storage/node_link.py:196)"
RANK = "Ranker._find (/repo/domain/leaderboards/ranking.py:150)"


def test_a_frame_names_its_function_and_file() -> None:
    assert parse_frame(RANK) == ("Ranker._find", "/repo/domain/leaderboards/ranking.py")
    assert parse_frame("<module>") == ("<module>", "")


def test_samples_count_to_the_area_of_their_innermost_frame() -> None:
    assert area_of(parse_frame(SEND)).startswith("client socket writes")
    assert area_of(parse_frame(VALKEY)) == "Valkey socket writes"
    assert area_of(parse_frame(RANK)) == "feature code (domain/)"
    assert area_of(parse_frame("Runner.run (/usr/lib/python3.11/asyncio/runners.py:118)"))
    assert area_of(("__init__", "<string>")) == OTHER


def test_phases_are_summed_over_every_gateway_process(tmp_path: Path) -> None:
    first, second = tmp_path / "a.txt", tmp_path / "b.txt"
    first.write_text(f"{LOOP} 60\n{LOOP};{SEND} 20\n")
    second.write_text(f"{LOOP};{VALKEY} 15\n{LOOP};{RANK} 5\n\n")
    profile = read_raw([first, second])
    assert profile.samples == 100
    assert profile.areas["Valkey socket writes"] == 15
    assert profile.areas["event loop: polling, socket reads, callbacks (uvloop)"] == 60
    table = render([("board.rank (1 sub-board)", profile)])
    assert "| Valkey socket writes | 15.0% |" in table
    assert "- 60.0% Runner.run (asyncio/runners.py)" in table
