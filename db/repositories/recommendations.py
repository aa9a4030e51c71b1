"""The queries behind ``/deals``: one user's candidate listings, what they reacted to, and
why a listing would be left out.

Everything here is about ONE user (``user_id`` is in every filter), so nothing another user
alerted, watched or dismissed can reach a reply.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.listing import Listing
from db.models import Feedback, ListingRow, OutboxRow, WatchRow
from db.repositories import LIKE_ESCAPE, contains_pattern
from db.repositories.listings import SNAPSHOT_SOURCES, to_listing
from db.repositories.outbox import ALERT_KINDS

PRIVATE_SOURCES = SNAPSHOT_SOURCES
"""Listings that exist because one user's Discogs wanted entry fired (``bot.delivery.
wanted_alerts``): recommending them to someone else would say what that user wants."""


@dataclass(frozen=True, slots=True)
class Standing:
    """What stands between one user and one listing (all False: nothing)."""

    own: bool
    alerted: bool
    not_interested: bool
    watching: bool


class RecommendationRepository:
    def __init__(self, session: AsyncSession, *, dismissed_kind: str) -> None:
        """``dismissed_kind``: the feedback kind of the "Not interested" button."""
        self.session = session
        self.dismissed_kind = dismissed_kind

    # ---- per-listing facts, as correlated conditions ------------------------------------

    @staticmethod
    def _alerted(user_id: int) -> ColumnElement[bool]:
        """An alert about the listing (deal or wanted, any status) exists for the user: it was
        sent, is on its way (held, in a digest), failed over, or was deliberately held back."""
        return exists().where(
            OutboxRow.user_id == user_id,
            OutboxRow.listing_id == ListingRow.id,
            OutboxRow.kind.in_(ALERT_KINDS),
        )

    def _dismissed(self, user_id: int) -> ColumnElement[bool]:
        return exists().where(
            Feedback.user_id == user_id,
            Feedback.listing_id == ListingRow.id,
            Feedback.kind == self.dismissed_kind,
        )

    @staticmethod
    def _watched(user_id: int) -> ColumnElement[bool]:
        return exists().where(WatchRow.user_id == user_id, WatchRow.listing_id == ListingRow.id)

    @staticmethod
    def _not_own(user_id: int) -> ColumnElement[bool]:
        return or_(ListingRow.seller_id.is_(None), ListingRow.seller_id != user_id)

    # ---- queries ----------------------------------------------------------------------------

    async def candidates(self, user_id: int, since: datetime, limit: int) -> list[Listing]:
        """The newest active listings since ``since`` the user could be recommended: not their
        own, not alerted to them, not dismissed, not watched, not private."""
        rows = await self.session.scalars(
            select(ListingRow)
            .where(
                ListingRow.status == "active",
                ListingRow.created_at >= since,
                ListingRow.source.not_in(PRIVATE_SOURCES),
                self._not_own(user_id),
                ~self._alerted(user_id),
                ~self._dismissed(user_id),
                ~self._watched(user_id),
            )
            .order_by(ListingRow.created_at.desc(), ListingRow.id.desc())
            .limit(limit)
        )
        return [to_listing(r) for r in rows]

    async def watched_titles(self, user_id: int, limit: int) -> list[tuple[int, str]]:
        """(listing id, title) of the listings the user watches, newest watch first."""
        rows = await self.session.execute(
            select(ListingRow.id, ListingRow.title)
            .join(WatchRow, WatchRow.listing_id == ListingRow.id)
            .where(WatchRow.user_id == user_id)
            .order_by(WatchRow.created_at.desc(), WatchRow.id.desc())
            .limit(limit)
        )
        return [(i, title) for i, title in rows]

    async def dismissed_titles(self, user_id: int, limit: int) -> list[tuple[int, str]]:
        """(listing id, title) of the listings the user marked "Not interested", newest first."""
        rows = await self.session.execute(
            select(ListingRow.id, ListingRow.title)
            .join(Feedback, Feedback.listing_id == ListingRow.id)
            .where(Feedback.user_id == user_id, Feedback.kind == self.dismissed_kind)
            .order_by(Feedback.created_at.desc(), Feedback.id.desc())
            .limit(limit)
        )
        return [(i, title) for i, title in rows]

    async def visible(self, user_id: int, listing_id: int) -> Listing | None:
        """The listing, if this user may see it: any public listing, or a private one they were
        alerted about. Anything else looks exactly like a listing that does not exist."""
        row = await self.session.scalar(
            select(ListingRow).where(
                ListingRow.id == listing_id,
                or_(ListingRow.source.not_in(PRIVATE_SOURCES), self._alerted(user_id)),
            )
        )
        return None if row is None else to_listing(row)

    async def standing(self, user_id: int, listing_id: int) -> Standing:
        row = (
            await self.session.execute(
                select(
                    ListingRow.seller_id == user_id,
                    self._alerted(user_id),
                    self._dismissed(user_id),
                    self._watched(user_id),
                ).where(ListingRow.id == listing_id)
            )
        ).one_or_none()
        if row is None:
            return Standing(False, False, False, False)
        own, alerted, dismissed, watching = row
        return Standing(bool(own), bool(alerted), bool(dismissed), bool(watching))

    async def search(self, typed: str, since: datetime, limit: int) -> list[Listing]:
        """Recent active public listings whose title contains ``typed`` (or whose id it is),
        newest first: the ``listing`` autocomplete."""
        stmt = select(ListingRow).where(
            ListingRow.status == "active",
            ListingRow.created_at >= since,
            ListingRow.source.not_in(PRIVATE_SOURCES),
        )
        text = typed.strip().lstrip("#").strip()
        if text:
            by_title = func.lower(ListingRow.title).like(
                contains_pattern(text.lower()), escape=LIKE_ESCAPE
            )
            stmt = stmt.where(
                or_(by_title, ListingRow.id == int(text)) if _small_id(text) else by_title
            )
        rows = await self.session.scalars(
            stmt.order_by(ListingRow.created_at.desc(), ListingRow.id.desc()).limit(limit)
        )
        return [to_listing(r) for r in rows]


def _small_id(text: str) -> bool:
    return text.isascii() and text.isdigit() and len(text) <= 18
