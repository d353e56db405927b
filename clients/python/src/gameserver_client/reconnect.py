"""How long to wait between reconnect attempts: bounded exponential backoff with jitter."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class ReconnectPolicy:
    """Attempt n (from 0) waits between `(1 - jitter) * d` and `d`, where
    `d = min(max_delay_s, initial_delay_s * factor ** n)`; the jitter spreads the clients of
    a restarted gateway over time. `max_attempts` None retries until `close()`."""

    initial_delay_s: float = 0.5
    max_delay_s: float = 30.0
    factor: float = 2.0
    jitter: float = 0.5
    max_attempts: int | None = None
    enabled: bool = True

    def __post_init__(self) -> None:
        if self.initial_delay_s < 0 or self.max_delay_s < self.initial_delay_s:
            raise ValueError("need 0 <= initial_delay_s <= max_delay_s")
        if self.factor < 1 or not 0 <= self.jitter <= 1:
            raise ValueError("need factor >= 1 and 0 <= jitter <= 1")

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        # Cap the exponent so a long outage cannot overflow the float.
        ceiling = min(self.max_delay_s, self.initial_delay_s * self.factor ** min(attempt, 64))
        draw = (rng or random).random()
        return ceiling * (1 - self.jitter * draw)
