"""Driving operations: closed loops (each worker back to back) and paced loops (a fixed rate).

An operation is an async callable returning None on success or an error kind. Only calls
that start after the warm-up and end before the stop count, so the rate is exact.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence

from loadtest.bench.latency import Samples
from loadtest.bench.processes import CpuMeter, PhaseCpu

Operation = Callable[[], Awaitable[str | None]]
# After an exception (say a closed socket) a worker pauses, so it cannot spin.
_ERROR_PAUSE_S = 0.01


async def _call(operation: Operation) -> str | None:
    try:
        return await operation()
    except Exception as exc:
        await asyncio.sleep(_ERROR_PAUSE_S)
        return type(exc).__name__


async def _metered(meter: CpuMeter | None, warmup_s: float, duration_s: float) -> PhaseCpu | None:
    if meter is None:
        return None
    await asyncio.sleep(max(0.0, warmup_s))
    meter.start()
    await asyncio.sleep(duration_s)
    return meter.stop()


async def closed_loop(
    operations: Sequence[Operation],
    *,
    warmup_s: float,
    duration_s: float,
    meter: CpuMeter | None = None,
    start_at: float | None = None,
) -> tuple[Samples, PhaseCpu | None]:
    """Every operation runs back to back in its own task; returns samples and CPU use."""
    begin = time.perf_counter()
    if start_at is not None:
        # Client processes of one phase share a start (wall clock), so their windows align.
        begin += max(0.0, start_at - time.time())
    measure_from, stop_at = begin + warmup_s, begin + warmup_s + duration_s

    async def worker(operation: Operation) -> Samples:
        await asyncio.sleep(max(0.0, begin - time.perf_counter()))
        samples = Samples()
        while (started := time.perf_counter()) < stop_at:
            error = await _call(operation)
            ended = time.perf_counter()
            if started < measure_from or ended > stop_at:
                continue
            if error is None:
                samples.latencies.append(ended - started)
            else:
                samples.add_error(error)
        return samples

    lead_s = measure_from - time.perf_counter()
    cpu_task = asyncio.create_task(_metered(meter, lead_s, duration_s))
    results = await asyncio.gather(*(worker(op) for op in operations))
    total = Samples()
    for samples in results:
        total.merge(samples)
    return total, await cpu_task


async def paced_loop(
    operations: Sequence[Operation],
    *,
    rate_per_s: float,
    warmup_s: float,
    duration_s: float,
    meter: CpuMeter | None = None,
    start_at: float | None = None,
) -> tuple[Samples, PhaseCpu | None]:
    """All operations together at `rate_per_s`, spread evenly over the workers.

    Latency counts from the moment a call was due, not when it was sent, so a stall shows
    as the wait it causes (no coordinated omission).
    """
    interval = len(operations) / rate_per_s
    begin = time.perf_counter()
    if start_at is not None:
        begin += max(0.0, start_at - time.time())
    measure_from, stop_at = begin + warmup_s, begin + warmup_s + duration_s

    async def worker(index: int, operation: Operation) -> Samples:
        samples = Samples()
        due = begin + index * interval / len(operations)
        while due < stop_at:
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            error = await _call(operation)
            ended = time.perf_counter()
            if due >= measure_from and ended <= stop_at:
                if error is None:
                    samples.latencies.append(ended - due)
                else:
                    samples.add_error(error)
            due += interval
        return samples

    lead_s = measure_from - time.perf_counter()
    cpu_task = asyncio.create_task(_metered(meter, lead_s, duration_s))
    results = await asyncio.gather(*(worker(i, op) for i, op in enumerate(operations)))
    total = Samples()
    for samples in results:
        total.merge(samples)
    return total, await cpu_task
