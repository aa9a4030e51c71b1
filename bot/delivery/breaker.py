"""A circuit breaker per delivery channel: stop hammering a service that is down.

Pure logic with an injected clock (no I/O, no sleeping), so tests drive it exactly.

closed     every send goes through; ``failures`` consecutive transient failures within
           ``window`` open the circuit.
open       no send goes through; the dispatcher reschedules rows for :meth:`retry_at` with the
           reason "circuit open: <channel>". After ``cooldown`` the circuit is half-open.
half-open  one probe goes through (the others wait): success closes the circuit, a transient
           failure opens it again for another cool-down.

Only transient failures count. A permanent one (DMs closed, an address refused) is about one
user, not the service, so it neither opens the circuit nor proves the service healthy; it just
lets the next probe through.

State is per process: with several processes (PostgreSQL) each keeps its own breakers.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta


class BreakerState(enum.StrEnum):
    closed = "closed"
    open = "open"
    half_open = "half-open"


@dataclass(frozen=True, slots=True)
class BreakerSettings:
    failures: int = 5
    cooldown: timedelta = timedelta(seconds=60)
    window: timedelta = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class BreakerSnapshot:
    """What ``/admin deliveries`` shows for one channel."""

    channel: str
    state: BreakerState
    failures: int  # consecutive transient failures counted now
    retry_at: datetime | None  # when an open circuit lets a probe through


class CircuitBreaker:
    def __init__(
        self, channel: str, settings: BreakerSettings, clock: Callable[[], datetime]
    ) -> None:
        self.channel = channel
        self.settings = settings
        self.clock = clock
        self._failures: list[datetime] = []  # times of the current streak, oldest first
        self._opened_at: datetime | None = None
        self._probing = False

    @property
    def state(self) -> BreakerState:
        if self._opened_at is None:
            return BreakerState.closed
        if self.clock() >= self._opened_at + self.settings.cooldown:
            return BreakerState.half_open
        return BreakerState.open

    def allow(self) -> bool:
        """May a send go out now? In half-open state this admits exactly one probe."""
        state = self.state
        if state is BreakerState.closed:
            return True
        if state is BreakerState.half_open and not self._probing:
            self._probing = True
            return True
        return False

    def retry_at(self) -> datetime:
        """When a refused send should be tried again: the end of the cool-down, or (while a
        probe is out) one cool-down from now — a successful probe releases them earlier."""
        now = self.clock()
        if self._opened_at is not None and self.state is BreakerState.open:
            return self._opened_at + self.settings.cooldown
        return now + self.settings.cooldown

    def record_success(self) -> bool:
        """The service delivered. Returns True if this closed an open (or half-open) circuit."""
        was_open = self._opened_at is not None
        self._failures.clear()
        self._opened_at = None
        self._probing = False
        return was_open

    def record_failure(self) -> bool:
        """A transient failure. Returns True if this opened the circuit."""
        now = self.clock()
        if self._opened_at is not None:
            # A failed probe (or a send that started before the circuit opened): another
            # full cool-down from now.
            self._opened_at = now
            self._probing = False
            return False
        self._failures = [t for t in self._failures if now - t < self.settings.window]
        self._failures.append(now)
        if len(self._failures) >= self.settings.failures:
            self._opened_at = now
            self._failures.clear()
            return True
        return False

    def record_neutral(self) -> None:
        """An outcome that says nothing about the service (a permanent, per-user failure)."""
        self._probing = False

    def snapshot(self) -> BreakerSnapshot:
        state = self.state
        return BreakerSnapshot(
            channel=self.channel,
            state=state,
            failures=len(self._failures),
            retry_at=self.retry_at() if state is BreakerState.open else None,
        )


class Breakers:
    """One breaker per channel, made on first use."""

    def __init__(self, settings: BreakerSettings, clock: Callable[[], datetime]) -> None:
        self.settings = settings
        self.clock = clock
        self._by_channel: dict[str, CircuitBreaker] = {}

    def __getitem__(self, channel: str) -> CircuitBreaker:
        breaker = self._by_channel.get(channel)
        if breaker is None:
            breaker = self._by_channel[channel] = CircuitBreaker(channel, self.settings, self.clock)
        return breaker

    def snapshots(self, channels: list[str]) -> list[BreakerSnapshot]:
        return [self[c].snapshot() for c in channels]
