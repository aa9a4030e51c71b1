"""Price-drop watches: tell a user once when a listing they watch gets cheap enough.

PURE: a :class:`Watch` is an immutable value; :func:`on_price` and :func:`on_status` take one and
an observation and return the next watch plus what, if anything, to tell the user. The caller
stores the watch and delivers the event. Keeping the state machine here, free of the feed and the
database, lets every sequence (drop, repeat, rise, new low, sold) be tested by hand.

The condition: the price is at or below ``target_price``, or has fallen by at least
``drop_percent`` from ``price_at_start`` (either one; at least one must be set). When both are met
the event is :attr:`WatchEvent.TARGET_REACHED`, because that is the number the user typed.

Once per drop, exactly: **a price alerts when it meets the condition and is strictly below every
price seen so far** (``lowest_seen``, which starts at ``price_at_start``). So:

* a repeat of the alerted price, or a rise, never alerts (feeds re-send unchanged listings all
  the time; a user must not be told twice about the same price);
* a rise and a fall back to the old low does not alert either (nothing new happened);
* a new low that still meets the condition alerts again (it is news: the deal got better). A
  seller cutting a cent at a time alerts each time; rate-limiting is the delivery policy's job.

``armed`` is True while the condition has never been met and False from the first alert on. After
an alert the watch could only "re-arm" at a new low below the alerted price, and any such price
meets the condition too (both conditions are thresholds), so re-arming and firing are one step:
``armed`` stays False and ``lowest_seen`` is the last alerted low. A watch started at a price that
already meets the condition starts disarmed: the user is looking at that price right now, and an
alert about it would tell them nothing (the caller can say "already below your target" instead).

An ended watch (sold, removed) is final: it ignores prices and further statuses.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Final

__all__ = ["Watch", "WatchEvent", "condition_met", "on_price", "on_status", "start_watch"]

ENDED_SOLD: Final = "the listing was sold"
ENDED_REMOVED: Final = "the listing was removed"


class WatchEvent(enum.Enum):
    """What one observation means for the user: nothing, an alert, or the end of the watch."""

    NONE = "none"
    TARGET_REACHED = "target_reached"
    DROPPED_BY_PERCENT = "dropped_by_percent"
    ENDED_SOLD = "ended_sold"
    ENDED_REMOVED = "ended_removed"


_ENDINGS: Final = {
    "sold": (ENDED_SOLD, WatchEvent.ENDED_SOLD),
    "removed": (ENDED_REMOVED, WatchEvent.ENDED_REMOVED),
}


@dataclass(frozen=True, slots=True)
class Watch:
    """One user's watch on one listing. Build it with :func:`start_watch`, not directly.

    ``lowest_seen`` is the lowest known price since the watch started (the last alerted low once
    an alert has fired); ``armed`` and the alert rule are explained in the module docstring;
    ``ended`` is ``None`` while the watch runs, else a note saying why it ended.
    """

    target_price: Decimal | None
    drop_percent: float | None
    price_at_start: Decimal
    lowest_seen: Decimal
    armed: bool
    ended: str | None = None

    @property
    def active(self) -> bool:
        return self.ended is None

    @property
    def drop_price(self) -> Decimal | None:
        """The price at or below which ``drop_percent`` is met ("alerts at $90 or less")."""
        if self.drop_percent is None:
            return None
        kept = (Decimal(100) - Decimal(str(self.drop_percent))) / Decimal(100)
        return self.price_at_start * kept


def start_watch(
    price: Decimal, target_price: Decimal | None = None, drop_percent: float | None = None
) -> Watch:
    """A new watch on a listing now priced ``price``; raises ``ValueError`` naming a bad field."""
    _check_price("price", price)
    if target_price is None and drop_percent is None:
        raise ValueError("target_price or drop_percent: a watch needs at least one")
    if target_price is not None and not target_price > 0:
        raise ValueError("target_price must be greater than 0")
    if drop_percent is not None and not (math.isfinite(drop_percent) and 0 < drop_percent < 100):
        raise ValueError("drop_percent must be between 0 and 100 (exclusive)")
    watch = Watch(target_price, drop_percent, price, lowest_seen=price, armed=True)
    met = condition_met(watch, price) is not WatchEvent.NONE
    return replace(watch, armed=not met)


def condition_met(watch: Watch, price: Decimal) -> WatchEvent:
    """Which condition ``price`` meets, ignoring history: for display and for :func:`on_price`."""
    if watch.target_price is not None and price <= watch.target_price:
        return WatchEvent.TARGET_REACHED
    drop_price = watch.drop_price
    if drop_price is not None and price <= drop_price:
        return WatchEvent.DROPPED_BY_PERCENT
    return WatchEvent.NONE


def on_price(watch: Watch, new_price: Decimal | None) -> tuple[Watch, WatchEvent]:
    """The watch after seeing ``new_price``, and the alert to send (usually ``NONE``).

    ``None`` (price unknown: not given, or failed to parse) changes nothing: an unknown price is
    neither a drop nor a rise.
    """
    if watch.ended is not None or new_price is None:
        return watch, WatchEvent.NONE
    _check_price("new_price", new_price)
    if new_price >= watch.lowest_seen:
        return watch, WatchEvent.NONE
    event = condition_met(watch, new_price)
    armed = watch.armed and event is WatchEvent.NONE
    return replace(watch, lowest_seen=new_price, armed=armed), event


def on_status(watch: Watch, status: str) -> tuple[Watch, WatchEvent]:
    """The watch after the listing's status changed; "sold" or "removed" end it for good.

    Other statuses ("active", "pending", ...) change nothing: only these two are final. An ended
    watch stays as it ended, without a second event, so a user hears about a sale once.
    """
    ending = _ENDINGS.get(status.strip().casefold())
    if watch.ended is not None or ending is None:
        return watch, WatchEvent.NONE
    note, event = ending
    return replace(watch, ended=note, armed=False), event


def _check_price(field: str, price: Decimal) -> None:
    """Reject what no parsed price can be: feeds go through ``parse_money`` first."""
    if not price.is_finite() or price < 0:
        raise ValueError(f"{field} must be a finite amount of 0 or more")
