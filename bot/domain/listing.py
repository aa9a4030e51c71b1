"""Listings and the values they are made of (money, condition, place).

Pure values: no I/O. Money is ``Decimal`` with a currency code; the matching index works in integer
cents so comparisons are exact.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

MAX_PRICE = Decimal("10000000")  # $10M: anything above is a typo or abuse, never a real listing
DEFAULT_CURRENCY = "USD"


class Condition(enum.IntEnum):
    """Item condition, ordered so that a larger value is better (rule minimum <= listing)."""

    poor = 0
    fair = 1
    good = 2
    excellent = 3
    like_new = 4
    new = 5

    @property
    def label(self) -> str:
        return self.name.replace("_", " ").capitalize()

    @classmethod
    def parse(cls, value: str | None) -> Condition | None:
        """Parse "Like new", "like_new" or "like-new"; ``None``/empty gives ``None``."""
        if value is None or not str(value).strip():
            return None
        key = str(value).strip().casefold().replace("-", "_").replace(" ", "_")
        try:
            return cls[key]
        except KeyError:
            raise ValueError(f"unknown condition {value!r}") from None


def parse_money(value: str | int | float | Decimal | None) -> Decimal | None:
    """Parse a user-typed price ("$1,299.99", "300") to a 2-place Decimal; ``None`` for empty.

    Raises ``ValueError`` for anything that is not a finite non-negative amount below MAX_PRICE.
    """
    if value is None:
        return None
    if isinstance(value, float):
        value = repr(value)
    text = str(value).strip().replace(",", "").removeprefix("$").strip()
    if not text:
        return None
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{value!r} is not a price") from None
    if not amount.is_finite():
        raise ValueError(f"{value!r} is not a price")
    if amount < 0:
        raise ValueError("a price cannot be negative")
    if amount > MAX_PRICE:
        raise ValueError(f"a price above {MAX_PRICE:,} is not accepted")
    return amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def to_cents(amount: Decimal) -> int:
    return int((amount * 100).to_integral_value(rounding=ROUND_HALF_UP))


def from_cents(cents: int) -> Decimal:
    return (Decimal(cents) / 100).quantize(Decimal("0.01"))


def format_money(amount: Decimal | None, currency: str = DEFAULT_CURRENCY) -> str:
    if amount is None:
        return "no price"
    symbol = "$" if currency == "USD" else ""
    suffix = "" if currency == "USD" else f" {currency}"
    return f"{symbol}{amount:,.2f}{suffix}"


@dataclass(frozen=True, slots=True)
class GeoPoint:
    lat: float
    lon: float

    def distance_mi(self, other: GeoPoint) -> float:
        """Great-circle distance in statute miles (haversine)."""
        r = 3958.7613
        p1, p2 = math.radians(self.lat), math.radians(other.lat)
        dp = p2 - p1
        dl = math.radians(other.lon - self.lon)
        a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
        return 2 * r * math.asin(min(1.0, math.sqrt(a)))


@dataclass(frozen=True, slots=True)
class Listing:
    """An item for sale, from /sell, a feed or Discogs. ``price`` None means "no price given"."""

    id: int
    title: str
    price: Decimal | None
    currency: str = DEFAULT_CURRENCY
    description: str = ""
    category: str | None = None
    condition: Condition | None = None
    location_text: str | None = None
    point: GeoPoint | None = None
    deal_score: float | None = None
    deal_reason: str | None = None  # why that score, or why none ("only 3 similar listings")
    seller_id: int | None = None
    seller_name: str | None = None
    guild_id: int | None = None
    url: str | None = None
    image_url: str | None = None
    source: str = "community"
    status: str = "active"  # "sold" / "removed" end it (watchers are told)
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    # Source-specific facts for the alert (Discogs: grades, seller, checks); see render_wanted.
    details: Mapping[str, Any] | None = field(default=None, compare=False, hash=False)
