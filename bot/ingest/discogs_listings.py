"""Where listing-level Discogs data for a release comes from: a small, pluggable interface.

Discogs has no API endpoint that lists every marketplace listing of a release. Listing-level
criteria (media/sleeve grade, seller rating, ships-from) therefore need an extra source, and the
only general one — scraping ``www.discogs.com/sell/release/{id}`` — sits behind Cloudflare and is
often blocked. It is opt-in, so the watcher talks to a :class:`ListingSource` and does not care
whether that is the sell-page adapter (:mod:`bot.ingest.discogs_sellpage`), a test double or
:class:`NoListingSource` when the adapter is off.

The one rule every source must keep: **a page we could not read is never "no listings"**. That is
why a :class:`SourceResult` carries a :class:`SourceStatus` next to its offers: only an ``OK``
result says anything about what is for sale, and an ``OK`` result with no offers means the page
itself said there were none. ``BLOCKED``, ``FAILED`` and ``DISABLED`` mean "unknown" — the caller
keeps what it knew and falls back to the marketplace-stats API.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from bot.domain.discogs import Grade, Money, SleeveState

DISCOGS_WEB_PREFIX = "https://www.discogs.com/"
"""The only link prefix an offer may carry: anything else could be a lookalike or a script link."""


class SourceStatus(enum.Enum):
    """Whether a source could see the listings at all — kept apart from *what* it saw."""

    OK = "ok"
    """The page was read: the offers are what is for sale (none means none)."""
    BLOCKED = "blocked"
    """Refused by Discogs or Cloudflare (403/429/503 or a challenge page): unknown, try later."""
    FAILED = "failed"
    """Network error, timeout, oversize body or a page we do not recognise: unknown."""
    DISABLED = "disabled"
    """No source is configured: unknown by choice."""


@dataclass(frozen=True, slots=True)
class SourceOffer:
    """One marketplace listing as a source saw it; ``None`` means the source did not say.

    The fields mirror what ``/marketplace/listings/{id}`` returns, so the watcher can evaluate a
    user's criteria on either (and confirm an offer through the API using ``listing_id``).
    ``seller_rating`` is a percentage (99.8 = 99.8 %); ``uri`` is only ever a
    ``https://www.discogs.com/`` link.
    """

    listing_id: int
    price: Money
    media: Grade | None
    sleeve: Grade | SleeveState | None
    ships_from: str | None
    seller: str | None
    seller_rating: float | None
    uri: str | None

    def __post_init__(self) -> None:
        if isinstance(self.listing_id, bool) or not isinstance(self.listing_id, int):
            raise ValueError("listing_id must be an int")
        if self.listing_id < 1:
            raise ValueError("listing_id must be positive")
        if not isinstance(self.price, Money):
            raise ValueError("price must be a Money")
        rating = self.seller_rating
        if rating is not None and not (math.isfinite(rating) and 0 <= rating <= 100):
            raise ValueError("seller_rating must be a percentage between 0 and 100")
        if self.uri is not None and not self.uri.startswith(DISCOGS_WEB_PREFIX):
            raise ValueError("uri must be a https://www.discogs.com/ link")


@dataclass(frozen=True, slots=True)
class SourceResult:
    """What a source answered for one release: a status, the offers, and a short human reason.

    Offers only come with ``OK``: a blocked or failed read carrying offers would be a half-truth
    the caller could mistake for the whole list, so it is refused at construction.
    """

    status: SourceStatus
    offers: tuple[SourceOffer, ...] = ()
    detail: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.offers, tuple):
            raise ValueError("offers must be a tuple")
        if self.offers and self.status is not SourceStatus.OK:
            raise ValueError(f"a {self.status.value} result cannot carry offers")

    @property
    def usable(self) -> bool:
        """True only when the offers can be believed — including "there are none"."""
        return self.status is SourceStatus.OK


@runtime_checkable
class ListingSource(Protocol):
    """Anything that can list the marketplace offers of one release.

    Implementations must not raise for the things that go wrong in normal operation (blocks,
    timeouts, odd pages): they answer with a non-OK :class:`SourceResult` instead. They may raise
    ``ValueError`` for arguments that are a programming error (a bad id or currency).
    """

    name: str

    async def offers(self, release_id: int, currency: str) -> SourceResult:
        """The offers for ``release_id``, with prices as the source shows them."""
        ...


class NoListingSource:
    """The default while the sell-page adapter is off: always "disabled", never "no listings"."""

    name: str = "none"

    async def offers(self, release_id: int, currency: str) -> SourceResult:
        """Answer DISABLED without looking at anything."""
        return SourceResult(SourceStatus.DISABLED, detail="sell-page adapter is off")
