"""The circuit breaker (bot/delivery/breaker.py) as a state machine, driven by a fake clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from bot.delivery.breaker import Breakers, BreakerSettings, BreakerState, CircuitBreaker

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
SETTINGS = BreakerSettings(failures=5, cooldown=timedelta(seconds=60), window=timedelta(minutes=5))


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def make() -> tuple[CircuitBreaker, Clock]:
    clock = Clock()
    return CircuitBreaker("email", SETTINGS, clock), clock


def test_opens_after_k_consecutive_transient_failures() -> None:
    breaker, clock = make()
    for _ in range(4):
        assert breaker.allow()
        assert not breaker.record_failure()
        clock.advance(1)
    assert breaker.state is BreakerState.closed
    assert breaker.record_failure(), "the fifth failure opens it"
    assert breaker.state is BreakerState.open
    assert not breaker.allow()
    assert breaker.retry_at() == clock.now + timedelta(seconds=60)


def test_a_success_resets_the_streak() -> None:
    breaker, _ = make()
    for _ in range(4):
        breaker.record_failure()
    assert not breaker.record_success(), "it was not open"
    for _ in range(4):
        assert not breaker.record_failure()
    assert breaker.state is BreakerState.closed


def test_failures_outside_the_window_do_not_count() -> None:
    breaker, clock = make()
    for _ in range(4):
        breaker.record_failure()
    clock.advance(5 * 60)
    assert not breaker.record_failure()
    assert breaker.snapshot().failures == 1
    assert breaker.state is BreakerState.closed


def test_half_open_lets_one_probe_through_and_success_closes() -> None:
    breaker, clock = make()
    for _ in range(5):
        breaker.record_failure()
    clock.advance(59)
    assert not breaker.allow(), "still cooling down"
    clock.advance(1)
    assert breaker.state is BreakerState.half_open
    assert breaker.allow(), "the probe"
    assert not breaker.allow(), "only one probe at a time"
    assert breaker.retry_at() == clock.now + timedelta(seconds=60)
    assert breaker.record_success(), "the probe closed it"
    assert breaker.state is BreakerState.closed
    assert breaker.allow() and breaker.allow()


def test_a_failed_probe_opens_it_for_another_cool_down() -> None:
    breaker, clock = make()
    for _ in range(5):
        breaker.record_failure()
    clock.advance(60)
    assert breaker.allow()
    assert not breaker.record_failure()
    assert breaker.state is BreakerState.open
    assert breaker.retry_at() == clock.now + timedelta(seconds=60)
    clock.advance(60)
    assert breaker.allow()


def test_a_neutral_outcome_frees_the_probe_without_deciding() -> None:
    breaker, clock = make()
    for _ in range(5):
        breaker.record_failure()
    clock.advance(60)
    assert breaker.allow()
    breaker.record_neutral()
    assert breaker.state is BreakerState.half_open
    assert breaker.allow(), "another probe may go"


def test_snapshots_per_channel() -> None:
    clock = Clock()
    breakers = Breakers(SETTINGS, clock)
    for _ in range(5):
        breakers["email"].record_failure()
    snaps = {s.channel: s for s in breakers.snapshots(["dm", "email"])}
    assert snaps["dm"].state is BreakerState.closed and snaps["dm"].retry_at is None
    assert snaps["email"].state is BreakerState.open
    assert snaps["email"].retry_at == T0 + timedelta(seconds=60)
    assert breakers["email"] is breakers["email"]


@given(st.lists(st.sampled_from(["ok", "fail", "neutral", "wait"]), max_size=60))
def test_property_never_more_than_one_probe_and_open_means_refused(events: list[str]) -> None:
    clock = Clock()
    settings = BreakerSettings(failures=5, cooldown=timedelta(seconds=60), window=timedelta(days=1))
    breaker = CircuitBreaker("dm", settings, clock)
    streak = 0
    for event in events:
        if event == "wait":
            clock.advance(30)
            continue
        state = breaker.state
        allowed = breaker.allow()
        if state is BreakerState.open:
            assert not allowed
            continue
        if state is BreakerState.half_open and allowed:
            assert not breaker.allow(), "a second probe while the first is out"
        if not allowed:
            continue
        if event == "ok":
            breaker.record_success()
            streak = 0
            assert breaker.state is BreakerState.closed
        elif event == "fail":
            was_closed = state is BreakerState.closed
            opened = breaker.record_failure()
            streak = streak + 1 if was_closed else 0
            if was_closed:
                assert opened == (streak >= SETTINGS.failures)
                if opened:
                    streak = 0
            assert breaker.state is (BreakerState.open if opened or not was_closed else state)
        else:
            breaker.record_neutral()
