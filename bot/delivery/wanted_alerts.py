"""Turn a Discogs offer that meets a wanted entry into a stored alert and its outbox rows.

A wanted alert travels the same road as a deal alert (policy, outbox, dispatcher, senders, digests,
/alert history): the offer becomes a ``listings`` row with ``source="discogs"`` whose ``details``
hold what the Discord embed shows (grades, seller and rating, ships from, each criterion's check),
and the wanted entry stands in for the rule (:func:`wanted_as_rule`). The outbox rows are of kind
``wanted_alert`` so nothing mistakes the entry id for a rule id. ``alert_notifications`` keeps the
history and, through its unique dedupe key, guarantees an offer alerts a user once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.discogs import Evaluation, Money
from bot.domain.listing import Listing, to_cents
from bot.domain.rule import Channel, Rule
from db.models import AlertNotificationRow, WantedRow
from db.repositories.listings import ListingRepository
from db.repositories.outbox import NewAlert, OutboxRepository
from db.repositories.preferences import PreferencesRepository
from db.repositories.wanted import WantedRepository

WANTED_ALERT = "wanted_alert"
NAME_LIMIT = 80
DISCOGS = "https://www.discogs.com"


@dataclass(frozen=True, slots=True)
class OfferFacts:
    """What the watcher knows about the offer it alerts on (stats level: price only)."""

    level: str  # "stats" | "listing"
    price: Money
    num_for_sale: int | None = None
    discogs_listing_id: int | None = None
    media: str | None = None
    sleeve: str | None = None
    seller: str | None = None
    seller_rating: float | None = None
    ships_from: str | None = None
    uri: str | None = None


def entry_name(row: WantedRow) -> str:
    """ "Artist – Title" cut to the length alert names have."""
    name = f"{row.artists} – {row.title}" if row.artists else row.title
    return name if len(name) <= NAME_LIMIT else name[: NAME_LIMIT - 1] + "…"


def target_url(kind: str, target_id: int) -> str:
    return f"{DISCOGS}/{'master' if kind == 'master' else 'release'}/{target_id}"


def wanted_as_rule(row: WantedRow, channels: frozenset[Channel] = frozenset({Channel.dm})) -> Rule:
    """The wanted entry seen as the rule an alert belongs to (name, owner, channels, paused)."""
    return Rule(
        id=row.id,
        user_id=row.user_id,
        name=entry_name(row),
        channels=channels,
        guild_id=row.guild_id,
        active=row.active,
    )


def delivery_channels(saved: Sequence[str] | None, guild_id: int | None) -> frozenset[Channel]:
    """The user's default channels (/prefs channels); the server channel needs a server."""
    known = {c.value for c in Channel}
    chosen = {Channel(c) for c in (saved or ("dm",)) if c in known}
    if guild_id is None:
        chosen.discard(Channel.channel)
    return frozenset(chosen or {Channel.dm})


def offer_details(entry: WantedRow, offer: OfferFacts, evaluation: Evaluation) -> dict[str, object]:
    """The facts the alert embed shows, as stored in ``listings.details``."""
    details: dict[str, object] = {
        "kind": "discogs",
        "level": offer.level,
        "release": entry_name(entry),
        "target_url": target_url(entry.target_kind, entry.target_id),
        "year": entry.year,
        "formats": entry.formats,
        "checks": evaluation.lines,
        "num_for_sale": offer.num_for_sale,
    }
    if evaluation.underpriced is not None:
        details["reference"] = evaluation.underpriced.text
    for name in ("media", "sleeve", "seller", "seller_rating", "ships_from"):
        value = getattr(offer, name)
        if value is not None:
            details[name] = value
    return details


async def record_wanted_alert(
    session: AsyncSession,
    entry: WantedRow,
    offer: OfferFacts,
    evaluation: Evaluation,
    dedupe_key: str,
    now: datetime,
) -> list[NewAlert] | None:
    """Store the alert and queue its deliveries in the caller's transaction; None when this
    offer already alerted this user (the dedupe key fired before)."""
    from bot.delivery.planner import plan_deliveries  # planner imports outbox; avoid a cycle

    notification = await WantedRepository(session).add_notification(
        AlertNotificationRow(
            dedupe_key=dedupe_key,
            wanted_id=entry.id,
            user_id=entry.user_id,
            level=offer.level,
            discogs_listing_id=offer.discogs_listing_id,
            price_cents=to_cents(offer.price.amount),
            currency=offer.price.currency,
            checks=evaluation.lines,
            reference=evaluation.underpriced.text if evaluation.underpriced else None,
            created_at=now,
        )
    )
    if notification is None:
        return None
    listing = await ListingRepository(session).add(
        Listing(
            id=0,
            title=entry_name(entry),
            price=offer.price.amount,
            currency=offer.price.currency,
            seller_name=offer.seller,
            url=offer.uri or target_url(entry.target_kind, entry.target_id),
            image_url=entry.cover_url or entry.thumb_url,
            source="discogs",
            created_at=now,
            details=offer_details(entry, offer, evaluation),
        ),
        external_id=dedupe_key[:200],
    )
    notification.listing_id = listing.id
    prefs = await PreferencesRepository(session).get(entry.user_id)
    channels = delivery_channels(prefs.channels if prefs else None, entry.guild_id)
    planned = await plan_deliveries(session, listing, [wanted_as_rule(entry, channels)], now)
    alerts = [replace(a, kind=WANTED_ALERT) for a in planned]
    await OutboxRepository(session).enqueue(alerts, now)
    return alerts
