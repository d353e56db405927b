"""The gateway and worker processes collect cyclic garbage rarely, and never what
start-up built: nearly all their garbage is freed by reference counting."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from gameserver import runner
from gameserver.gc_policy import THRESHOLDS, freeze_startup_objects


@pytest.fixture
def restored_collector() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.set_threshold(*thresholds)
    gc.unfreeze()


@pytest.mark.usefixtures("restored_collector")
def test_a_process_runs_its_event_loop_with_rare_collections() -> None:
    seen: list[tuple[int, int, int]] = []

    async def main() -> None:
        seen.append(gc.get_threshold())

    runner._run(main())
    assert seen == [THRESHOLDS]


@pytest.mark.usefixtures("restored_collector")
def test_what_start_up_built_is_frozen_out_of_later_collections() -> None:
    built_at_start_up = [[i] for i in range(1000)]
    freeze_startup_objects()
    assert gc.get_freeze_count() >= len(built_at_start_up)
