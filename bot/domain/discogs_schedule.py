"""When to poll a Discogs release next, when a poll is worth a closer look, and what to show.

Pure: the watcher (``bot/ingest/discogs_watch.py``) feeds it what ``/marketplace/stats`` said and
the thresholds of everyone who wants the release. The budget is about 45 requests a minute for
every user together, so a release nobody can afford right now is not polled as often as one
whose lowest price sits just above someone's maximum (see ../shared/reference/discogs.md).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from bot.domain.discogs import CheckStatus, Evaluation

NEAR_FACTOR = Decimal("1.25")
"""A lowest price within 25 % above someone's maximum counts as "near": it may drop under it."""

JITTER = 0.1
"""± 10 % spread, so releases added together do not fall due in the same second forever."""


@dataclass(frozen=True, slots=True)
class Intervals:
    """How long to wait before the next poll, by how close the release is to a match."""

    near: timedelta = timedelta(minutes=10)
    far: timedelta = timedelta(minutes=45)
    empty: timedelta = timedelta(minutes=90)
    failed: timedelta = timedelta(minutes=5)  # first retry; doubles per failure up to ``empty``


DEFAULT_INTERVALS = Intervals()


class Closeness(enum.Enum):
    NEAR = "near"  # someone's maximum is close, or someone has no maximum
    FAR = "far"  # listed, but well above every maximum
    EMPTY = "empty"  # nothing for sale


def closeness(
    lowest: Decimal | None, num_for_sale: int | None, max_prices: Sequence[Decimal | None]
) -> Closeness:
    """How close a release is to alerting anyone (``max_prices``: one per active entry, None =
    no maximum). No entries at all counts as far: nobody is waiting on it."""
    if not num_for_sale or lowest is None:
        return Closeness.EMPTY
    if not max_prices:
        return Closeness.FAR
    if any(m is None for m in max_prices):
        return Closeness.NEAR
    ceiling = max(m for m in max_prices if m is not None) * NEAR_FACTOR
    return Closeness.NEAR if lowest <= ceiling else Closeness.FAR


def next_delay(
    kind: Closeness, *, rnd: float = 0.5, intervals: Intervals = DEFAULT_INTERVALS
) -> timedelta:
    """The wait before the next poll; ``rnd`` in [0, 1) spreads it by ±``JITTER``."""
    base = {
        Closeness.NEAR: intervals.near,
        Closeness.FAR: intervals.far,
        Closeness.EMPTY: intervals.empty,
    }[kind]
    return base * (1 + JITTER * (2 * rnd - 1))


def failure_delay(failures: int, intervals: Intervals = DEFAULT_INTERVALS) -> timedelta:
    """Back off after failed polls (5, 10, 20 … minutes), never longer than an empty release."""
    exponent = max(0, min(failures - 1, 10))
    return min(intervals.failed * (2**exponent), intervals.empty)


def worth_a_closer_look(
    previous_num: int | None,
    previous_lowest: Decimal | None,
    num_for_sale: int | None,
    lowest: Decimal | None,
) -> bool:
    """The stats trigger: something new may be for sale (first sighting, more copies, or a
    lower price). Only then is listing-level data fetched, which costs more requests."""
    if not num_for_sale or lowest is None:
        return False
    if previous_num is None or previous_lowest is None:
        return True
    return num_for_sale > previous_num or lowest < previous_lowest


class EntryStatus(enum.StrEnum):
    """What ``/wanted list`` shows for an entry."""

    monitoring = "monitoring"
    price_matched = "price_matched"
    underpriced = "underpriced"
    no_listings = "no_listings"


def entry_status(evaluation: Evaluation | None, num_for_sale: int | None) -> EntryStatus:
    """``no_listings`` when nothing is for sale; ``underpriced`` when the underpriced check
    passed; ``price_matched`` when the lowest price meets the maximum; else ``monitoring``."""
    if num_for_sale == 0:
        return EntryStatus.no_listings
    if evaluation is None:
        return EntryStatus.monitoring
    if not evaluation.matched:
        return EntryStatus.monitoring
    passed = {c.name for c in evaluation.checks if c.status is CheckStatus.PASSED}
    if "underpriced" in passed:
        return EntryStatus.underpriced
    if "price" in passed:
        return EntryStatus.price_matched
    return EntryStatus.monitoring


def stats_alert_key(user_id: int, kind: str, target_id: int, cents: int, currency: str) -> str:
    """Stats-level alerts fire once per (user, release, lowest price)."""
    return f"wanted:{user_id}:{kind}:{target_id}:lowest:{cents}{currency}"


def listing_alert_key(user_id: int, listing_id: int) -> str:
    """Listing-level alerts fire once per (user, Discogs listing)."""
    return f"wanted:{user_id}:listing:{listing_id}"


def releases_per_hour(requests_per_minute: float, mix: dict[Closeness, float]) -> float:
    """How many distinct releases the schedule keeps fresh per hour within a budget, for a mix
    of closeness shares (summing to 1): each release costs 60/interval polls per hour."""
    polls_per_release = sum(
        share * (60 / (next_delay(kind).total_seconds() / 60)) for kind, share in mix.items()
    )
    if polls_per_release <= 0:
        return 0.0
    return requests_per_minute * 60 / polls_per_release
