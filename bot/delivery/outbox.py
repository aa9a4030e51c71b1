"""Plan the outbox rows for a listing's matches, and wake the dispatcher when there are some.

One row per (user, listing, channel): a user whose several alerts match the same listing hears
about it once per channel, naming the first matching alert. The dedupe key makes a second
enqueue of the same match (a retried ingest, a re-match after an edit) a no-op.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import Iterable

from bot.domain.listing import Listing
from bot.domain.rule import Rule
from db.repositories.outbox import NewAlert

NOT_INTERESTED = "not_interested"
"""The feedback kind recorded by the "Not interested" button."""


def alert_key(user_id: int, listing_id: int, channel: str) -> str:
    return f"deal:{user_id}:{listing_id}:{channel}"


def nonce_for(dedupe_key: str) -> str:
    """A Discord nonce (<= 25 chars) derived from the dedupe key, so a resend reuses it."""
    return "ds" + hashlib.sha256(dedupe_key.encode()).hexdigest()[:22]


def plan_alerts(listing: Listing, rules: Iterable[Rule]) -> list[NewAlert]:
    """Outbox rows for every (owner, channel) of the matched ``rules``, first rule winning."""
    planned: dict[str, NewAlert] = {}
    for rule in sorted(rules, key=lambda r: r.id):
        if rule.seller_is_owner(listing):
            continue
        for channel in sorted(c.value for c in rule.channels):
            key = alert_key(rule.user_id, listing.id, channel)
            if key not in planned:
                planned[key] = NewAlert(
                    dedupe_key=key,
                    user_id=rule.user_id,
                    channel=channel,
                    nonce=nonce_for(key),
                    guild_id=rule.guild_id,
                    rule_id=rule.id,
                    listing_id=listing.id,
                )
    return list(planned.values())


def fallback_alert(
    failed_key: str,
    user_id: int,
    rule: Rule,
    listing_id: int,
    of: int,
    channel: str,
    kind: str = "deal_alert",
) -> NewAlert:
    """The row that replaces an alert its channel could not deliver (same kind)."""
    key = alert_key(user_id, listing_id, channel)
    return NewAlert(
        kind=kind,
        dedupe_key=key,
        user_id=user_id,
        channel=channel,
        nonce=nonce_for(key),
        guild_id=rule.guild_id,
        rule_id=rule.id,
        listing_id=listing_id,
        fallback_of=of,
        reason=f"fallback for {failed_key}",
    )


def suppression_reason(rule: Rule | None, listing: Listing | None, not_wanted: bool) -> str | None:
    """Why a queued alert must no longer go out, or None. Checked at delivery time, because
    the world changes while an alert waits (quiet hours, digests, retries)."""
    if rule is None:
        return "alert deleted before delivery"
    if not rule.active:
        return "alert paused before delivery"
    if listing is None:
        return "listing removed before delivery"
    if not_wanted:
        return "user marked the listing not interested"
    return None


class Wakeup:
    """Tells the dispatcher that rows are due now, so alerts go out within milliseconds
    instead of at the next idle poll."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def set(self) -> None:
        self._event.set()

    async def wait(self, seconds: float) -> None:
        """Return when woken, or after ``seconds``, whichever comes first."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), seconds)
        self._event.clear()
