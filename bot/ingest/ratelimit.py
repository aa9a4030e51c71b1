"""A priority rate limiter for one shared request budget (Discogs: 60 requests per moving minute).

Every request takes a slot first::

    async with limiter.slot(Priority.POLL):
        await session.get(...)

* A moving 60-second window never holds more than ``per_minute`` granted slots.
* The last ``reserve_for_interactive`` of those are for :attr:`Priority.INTERACTIVE` only, so a
  user's command is answered promptly however busy the background polling is.
* Waiting requests are served by priority (lower value first), then first come, first served.
* :meth:`update_from_headers` tightens the local view from what the server says it has counted
  (it never loosens it); :meth:`penalise` stops everyone until a ``Retry-After`` has passed.

The clock and sleep are injectable so tests run on a fake clock without real sleeping.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import heapq
import itertools
import math
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable

WINDOW_SECONDS = 60.0


class Priority(enum.IntEnum):
    """Lower is served first."""

    INTERACTIVE = 0
    LISTING = 1
    POLL = 2
    IMPORT = 3


class PriorityRateLimiter:
    def __init__(
        self,
        per_minute: int,
        reserve_for_interactive: int = 0,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        if per_minute < 1:
            raise ValueError("per_minute must be at least 1")
        self.per_minute = per_minute
        # Background work always keeps at least one slot a minute.
        self.reserve = max(0, min(reserve_for_interactive, per_minute - 1))
        self._clock = clock
        self._sleep = sleep
        self._server_limit: int | None = None
        self._stamps: deque[float] = deque()  # grant times (and phantom ones from headers), sorted
        self._blocked_until = -math.inf
        self._heap: list[tuple[int, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()
        self._pump_task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None

    # ------------------------------------------------------------------------------ public API

    @contextlib.asynccontextmanager
    async def slot(self, priority: Priority | int) -> AsyncIterator[None]:
        """Wait for a slot of this priority; the request counts from the moment it is granted."""
        await self.acquire(priority)
        yield

    async def acquire(self, priority: Priority | int) -> None:
        priority = int(priority)
        self._drop_cancelled()
        if (not self._heap or self._heap[0][0] > priority) and self._wait_for(priority) <= 0:
            self._grant()
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._heap, (priority, next(self._seq), future))
        self._kick()
        try:
            await future
        except asyncio.CancelledError:
            if not future.done():
                future.cancel()
            self._kick()
            raise

    def update_from_headers(
        self, remaining: int | None, used: int | None = None, limit: int | None = None
    ) -> None:
        """Take the server's X-Discogs-Ratelimit(-Used/-Remaining) into account.

        Only ever tightens: if the server has counted more than we have, phantom grants are
        added now (they expire a full window later, which is conservative); a server that has
        counted fewer never frees a slot early.
        """
        if limit is not None and limit > 0:
            self._server_limit = limit
        cap = self._limit()
        server_used: int | None = None
        if remaining is not None and remaining >= 0:
            server_used = max(0, (limit if limit and limit > 0 else cap) - remaining)
        elif used is not None and used >= 0:
            server_used = used
        if server_used is None:
            return
        server_used = min(server_used, cap)
        now = self._clock()
        self._prune(now)
        missing = server_used - len(self._stamps)
        for _ in range(missing):
            self._stamps.append(now)
        self._kick()

    def penalise(self, retry_after_seconds: float) -> None:
        """Nobody gets a slot until ``retry_after_seconds`` from now (a 429's Retry-After)."""
        if not math.isfinite(retry_after_seconds) or retry_after_seconds <= 0:
            return
        self._blocked_until = max(self._blocked_until, self._clock() + retry_after_seconds)
        self._kick()

    def estimate_wait(self, priority: Priority | int) -> float:
        """Seconds until a request of this priority, queued now, would be granted.

        Takes the window, any penalty and everyone already waiting ahead of it into account
        (later arrivals of a higher priority could still delay it).
        """
        priority = int(priority)
        now = self._clock()
        self._prune(now)
        stamps = list(self._stamps)
        ahead = sorted((p, s) for p, s, f in self._heap if not f.done() and p <= priority)
        t = now
        for p, _ in [*ahead, (priority, -1)]:
            t = max(t, self._blocked_until, self._window_ready(stamps, self._capacity(p)))
            stamps.append(t)
        return max(0.0, t - now)

    @property
    def waiting(self) -> int:
        return sum(1 for _, _, f in self._heap if not f.done())

    def used_in_window(self) -> int:
        self._prune(self._clock())
        return len(self._stamps)

    # ------------------------------------------------------------------------------ internals

    def _limit(self) -> int:
        if self._server_limit is None:
            return self.per_minute
        return min(self.per_minute, self._server_limit)

    def _capacity(self, priority: int) -> int:
        limit = self._limit()
        if priority <= Priority.INTERACTIVE:
            return limit
        return max(1, limit - self.reserve)

    def _prune(self, now: float) -> None:
        while self._stamps and now - self._stamps[0] >= WINDOW_SECONDS:
            self._stamps.popleft()

    @staticmethod
    def _window_ready(stamps: list[float], capacity: int) -> float:
        """Earliest time at which fewer than ``capacity`` of ``stamps`` are in the window."""
        if len(stamps) < capacity:
            return -math.inf
        return stamps[len(stamps) - capacity] + WINDOW_SECONDS

    def _wait_for(self, priority: int) -> float:
        now = self._clock()
        self._prune(now)
        ready = max(
            self._blocked_until, self._window_ready(list(self._stamps), self._capacity(priority))
        )
        return ready - now

    def _grant(self) -> None:
        now = self._clock()
        if self._stamps and self._stamps[-1] > now:  # keep sorted even with a clock that jumps
            now = self._stamps[-1]
        self._stamps.append(now)

    def _drop_cancelled(self) -> None:
        while self._heap and self._heap[0][2].done():
            heapq.heappop(self._heap)

    def _kick(self) -> None:
        if self._wake is not None:
            self._wake.set()
        if self._heap and (self._pump_task is None or self._pump_task.done()):
            self._wake = asyncio.Event()
            self._pump_task = asyncio.get_running_loop().create_task(self._pump())

    async def _pump(self) -> None:
        """Serves the queue head whenever it may go; sleeps until then or until woken."""
        assert self._wake is not None
        wake = self._wake
        while True:
            self._drop_cancelled()
            if not self._heap:
                return
            priority, _, future = self._heap[0]
            wait = self._wait_for(priority)
            if wait <= 0:
                heapq.heappop(self._heap)
                self._grant()
                future.set_result(None)
                continue
            wake.clear()
            sleeper = asyncio.ensure_future(self._sleep(wait))
            woken = asyncio.ensure_future(wake.wait())
            try:
                await asyncio.wait({sleeper, woken}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in (sleeper, woken):
                    if not task.done():
                        task.cancel()
