"""The Discogs watch schedule, trigger and entry status (pure)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from bot.domain.discogs import Money, OfferSnapshot, WantedCriteria, evaluate
from bot.domain.discogs_schedule import (
    Closeness,
    EntryStatus,
    closeness,
    entry_status,
    failure_delay,
    listing_alert_key,
    next_delay,
    releases_per_hour,
    stats_alert_key,
    worth_a_closer_look,
)

D = Decimal


@pytest.mark.parametrize(
    ("lowest", "count", "maxima", "expected"),
    [
        (None, 0, [D(40)], Closeness.EMPTY),
        (D(10), 0, [D(40)], Closeness.EMPTY),  # a stale price with nothing for sale
        (D(45), 3, [D(40)], Closeness.NEAR),  # within 25 % above the maximum
        (D(50), 3, [D(40)], Closeness.NEAR),
        (D(50.01), 3, [D(40)], Closeness.FAR),
        (D(500), 3, [D(40), None], Closeness.NEAR),  # someone wants it at any price
        (D(500), 3, [D(40), D(450)], Closeness.NEAR),  # the highest maximum counts
        (D(10), 3, [], Closeness.FAR),  # nobody waits on it
    ],
)
def test_closeness(
    lowest: Decimal | None, count: int, maxima: list[Decimal | None], expected: Closeness
) -> None:
    assert closeness(lowest, count, maxima) is expected


def test_delays_are_ordered_and_jittered_within_ten_percent() -> None:
    near, far, empty = (next_delay(k) for k in Closeness)
    assert near == timedelta(minutes=10) and far == timedelta(minutes=45)
    assert empty == timedelta(minutes=90) and near < far < empty
    assert next_delay(Closeness.NEAR, rnd=0.0) == timedelta(minutes=9)
    assert next_delay(Closeness.NEAR, rnd=0.999999) < timedelta(minutes=11)


def test_failures_back_off_to_the_empty_interval() -> None:
    waits = [failure_delay(n).total_seconds() / 60 for n in range(1, 7)]
    assert waits == [5, 10, 20, 40, 80, 90]


@pytest.mark.parametrize(
    ("before", "now", "expected"),
    [
        ((None, None), (2, D(30)), True),  # first sighting
        ((2, D(30)), (3, D(30)), True),  # one more copy
        ((2, D(30)), (2, D(29)), True),  # cheaper
        ((2, D(30)), (2, D(30)), False),
        ((3, D(30)), (2, D(31)), False),  # one sold, dearer: nothing new
        ((0, None), (0, None), False),
    ],
)
def test_stats_trigger(
    before: tuple[int | None, Decimal | None], now: tuple[int, Decimal | None], expected: bool
) -> None:
    assert worth_a_closer_look(*before, *now) is expected


def test_entry_status() -> None:
    under = WantedCriteria(underpriced_percent=20)
    cheap = OfferSnapshot(
        Money(D(30), "USD"), reference_price=Money(D(50), "USD"), reference_name="median"
    )
    assert entry_status(evaluate(under, cheap), 3) is EntryStatus.underpriced
    capped = WantedCriteria(max_price=Money(D(40), "USD"))
    assert entry_status(evaluate(capped, cheap), 3) is EntryStatus.price_matched
    dear = OfferSnapshot(Money(D(60), "USD"))
    assert entry_status(evaluate(capped, dear), 3) is EntryStatus.monitoring
    assert entry_status(None, 0) is EntryStatus.no_listings
    assert entry_status(None, None) is EntryStatus.monitoring


def test_dedupe_keys_fit_the_column() -> None:
    key = stats_alert_key(2**63 - 1, "release", 2**31 - 1, 10**15, "USD")
    assert len(key) <= 160 and key != stats_alert_key(1, "release", 1, 1, "EUR")
    assert listing_alert_key(1, 5) == "wanted:1:listing:5"


def test_releases_per_hour_at_45_requests_a_minute() -> None:
    assert releases_per_hour(45, {Closeness.FAR: 1.0}) == pytest.approx(2025)
    mixed = releases_per_hour(45, {Closeness.NEAR: 0.2, Closeness.FAR: 0.5, Closeness.EMPTY: 0.3})
    assert 1000 < mixed < 2025
