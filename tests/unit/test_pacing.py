"""OneAtATime: one request per Discord bucket in flight, different buckets in parallel."""

from __future__ import annotations

import asyncio

from bot.delivery.senders.pacing import OneAtATime


async def test_same_key_is_serialised_and_other_keys_run_alongside() -> None:
    pacing = OneAtATime()
    in_flight: dict[str, int] = {"a": 0, "b": 0}
    peak: dict[str, int] = {"a": 0, "b": 0}
    overlap = asyncio.Event()

    async def send(key: str) -> None:
        async with pacing.hold(key):
            in_flight[key] += 1
            peak[key] = max(peak[key], in_flight[key])
            if in_flight["a"] and in_flight["b"]:
                overlap.set()
            await asyncio.sleep(0.01)
            in_flight[key] -= 1

    await asyncio.gather(*(send(k) for k in "abababab"))
    assert peak == {"a": 1, "b": 1}
    assert overlap.is_set(), "different buckets are not held up by each other"
    assert pacing._locks == {}, "idle keys are forgotten"
