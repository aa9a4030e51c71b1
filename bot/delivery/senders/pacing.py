"""At most one Discord request in flight per rate-limit bucket the senders use.

Discord limits message creation per channel (and DM opening per bot). discord.py tracks those
buckets, but with several requests in flight its ``Ratelimit.update`` trusts the first response's
``X-RateLimit-Remaining`` after a reset, so concurrent sends to one bucket overshoot and earn
429s — which count toward the 10,000-invalid-requests Cloudflare ban. Sending one at a time per
bucket lets discord.py's own accounting be exact, while different channels still go in parallel.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Hashable
from contextlib import asynccontextmanager

OPEN_DM = "open-dm"
"""The key for ``POST /users/@me/channels`` (one bucket for the whole bot)."""


class OneAtATime:
    def __init__(self) -> None:
        self._locks: dict[Hashable, asyncio.Lock] = {}
        self._users: dict[Hashable, int] = {}

    @asynccontextmanager
    async def hold(self, key: Hashable) -> AsyncIterator[None]:
        """Wait for ``key``'s turn; idle keys are forgotten so memory stays flat."""
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._users[key] = self._users.get(key, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._users[key] -= 1
            if self._users[key] == 0:
                del self._users[key], self._locks[key]
