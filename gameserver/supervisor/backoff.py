"""When to start a dead process again: exponential backoff with a cap, reset once the
process has run for a stable period."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Backoff:
    base_s: float
    cap_s: float
    stable_s: float
    # Deaths in a row, each within `stable_s` of its start.
    failures: int = 0

    def delay_after_exit(self, ran_s: float) -> float:
        """The pause before the next start of a process that exited after `ran_s`."""
        if ran_s >= self.stable_s:
            self.failures = 0
        delay = min(self.cap_s, self.base_s * float(2**self.failures))
        self.failures += 1
        return delay
