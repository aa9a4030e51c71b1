"""Turn a watched listing's price drop (or its end) into a stored alert and its outbox rows.

A price-drop alert travels the deal-alert road, like a Discogs wanted alert: policy, outbox,
dispatcher, failover, digests, ``/alert history``. What happened is kept as a ``listings`` row of
its own (``source="watch"``, one per alert, its ``details`` holding the old and new price, the
target and the lowest price), so the alert shows the prices that triggered it even if the listing
changes again before delivery, and so each alert is a subject of its own for failover (a fallback
is keyed by user, listing row and channel; sharing the real listing with its deal alert, or with
an earlier drop, would make a fallback collide with theirs and be lost). The watch stands in for
the rule (:func:`watch_as_rule`); the outbox rows are of kind ``watch_alert``.

Once per drop: the snapshot's ``external_id`` and the outbox dedupe keys are per (user, listing,
price), and the end of a watch per (user, listing).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession

from bot.delivery.outbox import nonce_for
from bot.delivery.wanted_alerts import delivery_channels
from bot.domain.listing import Listing, format_money, from_cents, to_cents
from bot.domain.rule import Channel, Rule
from bot.domain.watch import Watch, WatchEvent
from db.models import WatchRow
from db.repositories.listings import ListingRepository
from db.repositories.outbox import NewAlert, OutboxRepository
from db.repositories.preferences import PreferencesRepository
from db.repositories.watches import WatchRepository

WATCH_ALERT: Final = "watch_alert"
WATCH_SOURCE: Final = "watch"
NAME_LIMIT = 80
DROPS: Final = frozenset({WatchEvent.TARGET_REACHED, WatchEvent.DROPPED_BY_PERCENT})
ENDINGS: Final = {WatchEvent.ENDED_SOLD: "sold", WatchEvent.ENDED_REMOVED: "removed"}


def watch_name(title: str) -> str:
    """The watched listing's title cut to the length alert names have."""
    title = " ".join(title.split()) or "listing"
    return title if len(title) <= NAME_LIMIT else title[: NAME_LIMIT - 1] + "…"


def watch_as_rule(
    row: WatchRow, title: str, channels: frozenset[Channel] = frozenset({Channel.dm})
) -> Rule:
    """The watch seen as the rule an alert belongs to. Always active: an ended watch still
    owes its owner the notice that it ended; a removed watch is gone (its alerts are dropped)."""
    return Rule(
        id=row.id,
        user_id=row.user_id,
        name=watch_name(title),
        channels=channels,
        guild_id=row.guild_id,
        active=True,
    )


def to_watch(row: WatchRow) -> Watch:
    return Watch(
        target_price=None if row.target_cents is None else from_cents(row.target_cents),
        drop_percent=row.drop_percent,
        price_at_start=from_cents(row.start_cents),
        lowest_seen=from_cents(row.lowest_cents),
        armed=row.armed,
        ended=row.ended,
    )


def write_watch(row: WatchRow, watch: Watch) -> None:
    row.lowest_cents = to_cents(watch.lowest_seen)
    row.armed = watch.armed
    row.ended = watch.ended


def alert_key(watch_id: int, listing_id: int, event: WatchEvent, price: Decimal | None) -> str:
    """Once per (watch, price) for a drop; once per watch for the end. Keyed by the watch, not
    the user: watching a listing again after /watch remove starts afresh."""
    what = "ended" if event in ENDINGS or price is None else str(to_cents(price))
    return f"watch:{watch_id}:{listing_id}:{what}"


def _cents(amount: Decimal | None) -> int | None:
    return None if amount is None else to_cents(amount)


def summary(event: WatchEvent, listing: Listing, old: Decimal | None, row: WatchRow) -> str:
    """One line of what happened, in the snapshot's description (emails and texts show it;
    the Discord embed is built from ``details`` in the reader's language)."""
    if event in ENDINGS:
        return f"This listing was {ENDINGS[event]}; your price watch has ended."
    money = format_money(listing.price, listing.currency)
    text = f"The price dropped from {format_money(old, listing.currency)} to {money}."
    if row.target_cents is not None:
        text += f" Your target: {format_money(from_cents(row.target_cents), listing.currency)}."
    if row.drop_percent is not None:
        text += f" You asked for a {row.drop_percent:g}% drop."
    return text


def watch_details(
    event: WatchEvent,
    row: WatchRow,
    listing: Listing,
    old: Decimal | None,
    previous_low: Decimal,
) -> dict[str, object]:
    """What the alert embed shows, as stored in the snapshot's ``details``."""
    return {
        "kind": "watch",
        "event": event.value,
        "watch_id": row.id,
        "listing_id": listing.id,
        "title": listing.title,
        "currency": listing.currency,
        "old_cents": _cents(old),
        "new_cents": _cents(listing.price),
        "start_cents": row.start_cents,
        "previous_low_cents": to_cents(previous_low),
        "lowest_cents": row.lowest_cents,
        "target_cents": row.target_cents,
        "drop_percent": row.drop_percent,
        "note": row.ended,
    }


async def record_watch_alert(
    session: AsyncSession,
    row: WatchRow,
    listing: Listing,
    event: WatchEvent,
    *,
    old_price: Decimal | None,
    previous_low: Decimal,
    now: datetime,
) -> list[NewAlert] | None:
    """Store the alert and queue its deliveries in the caller's transaction (the listing's
    revision); None when this (user, listing, price) — or this end — alerted before.

    ``row`` is the watch as it is after the event; ``listing`` the listing after the change."""
    from bot.delivery.planner import plan_deliveries  # planner imports outbox; avoid a cycle

    key = alert_key(row.id, listing.id, event, listing.price)
    if await WatchRepository(session).snapshot_exists(key):
        return None
    title = listing.title
    if event in ENDINGS:
        title = f"{ENDINGS[event].capitalize()}: {listing.title}"[:200]
    snapshot = await ListingRepository(session).add(
        Listing(
            id=0,
            title=title,
            price=listing.price,
            currency=listing.currency,
            description=summary(event, listing, old_price, row),
            seller_name=listing.seller_name,
            url=listing.url,
            image_url=listing.image_url,
            source=WATCH_SOURCE,
            created_at=now,
            details=watch_details(event, row, listing, old_price, previous_low),
        ),
        external_id=key,
    )
    prefs = await PreferencesRepository(session).get(row.user_id)
    channels = delivery_channels(prefs.channels if prefs else None, row.guild_id)
    rule = watch_as_rule(row, listing.title, channels)
    # The policy sees the watched listing's category (a /prefs categories filter applies as it
    # does to deal alerts); the snapshot itself has none, so it never counts as a comparable.
    planned = await plan_deliveries(
        session, replace(snapshot, category=listing.category), [rule], now
    )
    alerts = []
    for alert in planned:
        dedupe = f"{key}:{alert.channel}"
        alerts.append(replace(alert, kind=WATCH_ALERT, dedupe_key=dedupe, nonce=nonce_for(dedupe)))
    await OutboxRepository(session).enqueue(alerts, now)
    return alerts
