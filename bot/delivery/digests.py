"""Digests: alerts the policy put aside (daily/weekly frequency, or over the daily limit) are
gathered, when their digest time comes, into one digest per user and period.

Creating the digest rows and linking their member alerts happens in one transaction, and the
digest rows go through the same outbox as alerts (dedupe key, nonce, retries), so a restart in
the middle of a run can neither lose a digest nor send it twice.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.delivery.outbox import NOT_INTERESTED, Wakeup, nonce_for, suppression_reason
from bot.delivery.senders.base import DigestEntry
from bot.delivery.subjects import rules_for
from bot.domain.listing import Listing
from bot.domain.rule import Rule
from db.models import OutboxRow, utcnow
from db.repositories.accounts import FeedbackRepository
from db.repositories.listings import ListingRepository
from db.repositories.outbox import NewAlert, OutboxRepository
from db.repositories.preferences import PreferencesRepository

log = logging.getLogger(__name__)

CAP_REASON_PREFIX = "daily limit"


def digest_key(user_id: int, period: str, channel: str, batch: int) -> str:
    return f"digest:{user_id}:{period}:{channel}:{batch}"


def order_entries(entries: Sequence[DigestEntry]) -> list[DigestEntry]:
    """Best deals first (highest score; unscored after scored), then cheapest, then newest."""

    def key(e: DigestEntry) -> tuple[float, float, int]:
        score = e.listing.deal_score if e.listing.deal_score is not None else -1.0
        price = float(e.listing.price) if e.listing.price is not None else float("inf")
        return (-score, price, -e.listing.id)

    return sorted(entries, key=key)


def build_entries(
    members: Sequence[OutboxRow],
    listings: dict[int, Listing],
    rules: dict[int, Rule],
    not_wanted: set[int],
) -> tuple[list[DigestEntry], list[tuple[int, str]]]:
    """Each listing once, best first; and the members that must be suppressed, with why.
    ``rules`` maps each member row's id to its rule (see ``bot.delivery.subjects``)."""
    by_listing: OrderedDict[int, list[Rule]] = OrderedDict()
    dropped: list[tuple[int, str]] = []
    for row in members:
        rule = rules.get(row.id)
        listing = listings.get(row.listing_id or 0)
        reason = suppression_reason(rule, listing, (row.listing_id or 0) in not_wanted)
        if reason is not None or rule is None or listing is None:
            dropped.append((row.id, reason or "nothing to send"))
            continue
        found = by_listing.setdefault(listing.id, [])
        if rule not in found:
            found.append(rule)
    entries = [
        DigestEntry(
            listing=listings[lid],
            rule_names=tuple(r.name for r in found),
            rule_ids=tuple(r.id for r in found),
        )
        for lid, found in by_listing.items()
    ]
    return order_entries(entries), dropped


class DigestService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        wakeup: Wakeup,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.sessions = sessions
        self.wakeup = wakeup
        self.clock = clock

    async def run_due(self) -> int:
        """Create the digests whose time has come. Returns how many (user, period) were made."""
        made, now = 0, self.clock()
        async with self.sessions.begin() as session:
            outbox = OutboxRepository(session)
            for user_id, period in await outbox.due_digest_groups(now):
                prefs = await PreferencesRepository(session).get(user_id)
                channels = ["dm"] + (
                    ["email"] if prefs is not None and prefs.email_verified else []
                )
                batch = await outbox.first_digest_member(user_id, period)
                rows = [
                    NewAlert(
                        dedupe_key=(key := digest_key(user_id, period, ch, batch)),
                        user_id=user_id,
                        channel=ch,
                        nonce=nonce_for(key),
                        kind="digest",
                        digest_period=period,
                    )
                    for ch in channels
                ]
                await outbox.enqueue(rows, now)
                await outbox.link_digest(user_id, period, [r.dedupe_key for r in rows])
                made += 1
        if made:
            self.wakeup.set()
            log.info("%d digests queued", made)
        return made

    async def view(self, user_id: int, digest_id: int) -> tuple[str, list[DigestEntry], int] | None:
        """(period, entries, held) of the user's own digest row, for the page buttons."""
        async with self.sessions() as session:
            row = await OutboxRepository(session).get(digest_id)
        if row is None or row.user_id != user_id or row.kind != "digest":
            return None
        entries, held, _ = await self.prepare(row)
        return row.digest_period or "", entries, held

    async def prepare(
        self, digest: OutboxRow
    ) -> tuple[list[DigestEntry], int, list[tuple[int, str]]]:
        """The listings a digest row carries (best first), how many the daily limit held, and
        the members that are no longer wanted (with the reason to record)."""
        async with self.sessions() as session:
            members = await OutboxRepository(session).digest_members(digest)
            listings = {
                li.id: li
                for li in await ListingRepository(session).get_many(
                    [m.listing_id for m in members if m.listing_id]
                )
            }
            rules = await rules_for(session, members)
            not_wanted = await FeedbackRepository(session).listings_with(
                digest.user_id, list(listings), NOT_INTERESTED
            )
        entries, dropped = build_entries(members, listings, rules, not_wanted)
        gone = {member_id for member_id, _ in dropped}
        held = sum(
            1
            for m in members
            if m.id not in gone and (m.reason or "").startswith(CAP_REASON_PREFIX)
        )
        return entries, held, dropped
