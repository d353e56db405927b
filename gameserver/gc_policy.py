"""How the gateway and worker processes run Python's cyclic garbage collector.

With the default thresholds (700, 10, 10) a gateway under load collected its youngest
generation ~80 times a second and ran a full collection of 60-100 ms every few seconds:
10-15% of its CPU and most of the p99 of its replies (docs/benchmarks.md, round 3).
Those collections found next to nothing to free: nearly all of the gateway's garbage is
freed by reference counting as soon as a request is done. So collections are made rare,
and what start-up built (modules, the app, its services) is frozen out of them.
"""

from __future__ import annotations

import gc

# A young collection every 50,000 net allocations of tracked objects instead of 700;
# the older generations after 20 and 100 of the one below instead of 10 and 10.
THRESHOLDS = (50_000, 20, 100)


def tune_collector() -> None:
    gc.set_threshold(*THRESHOLDS)


def freeze_startup_objects() -> None:
    """Collect once, then keep every object alive now out of all later collections
    (they stay freed by reference counting; only cycles among them are never freed)."""
    gc.collect()
    gc.freeze()
