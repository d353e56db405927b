"""The dashboard's chart history a gateway keeps (gameserver/figure_history.py)."""

from __future__ import annotations

from gameserver.figure_history import FigureHistory, FigureSample


def _sample(at: float) -> FigureSample:
    return FigureSample(at=at, sessions_online=1, logins_last_minute=0, queues={})


def test_samples_older_than_the_kept_span_are_dropped() -> None:
    history = FigureHistory(kept_s=600.0)
    for at in (1000.0, 1300.0, 1600.0):
        history.add(_sample(at))
    assert [s.at for s in history.samples()] == [1000.0, 1300.0, 1600.0]
    history.add(_sample(1601.0))
    assert [s.at for s in history.samples()] == [1300.0, 1600.0, 1601.0]
