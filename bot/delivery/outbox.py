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


def fallback_alert(failed_key: str, user_id: int, rule: Rule, listing_id: int, of: int) -> NewAlert:
    """The alert-channel row that replaces a DM the user cannot receive."""
    key = alert_key(user_id, listing_id, "channel")
    return NewAlert(
        dedupe_key=key,
        user_id=user_id,
        channel="channel",
        nonce=nonce_for(key),
        guild_id=rule.guild_id,
        rule_id=rule.id,
        listing_id=listing_id,
        fallback_of=of,
        reason=f"fallback for {failed_key}",
    )


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
