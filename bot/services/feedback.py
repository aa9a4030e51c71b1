"""What users tell us about listings ("Not interested"): recorded for ranking and used to
suppress any alert for that listing that is still waiting to go out."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.delivery.outbox import NOT_INTERESTED
from bot.errors import NotFoundError
from db.models import MAX_ID
from db.repositories.accounts import FeedbackRepository
from db.repositories.listings import ListingRepository


class FeedbackService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    async def not_interested(self, user_id: int, listing_id: int) -> bool:
        """Record it; returns False when it was already recorded."""
        if not 0 < listing_id <= MAX_ID:
            raise NotFoundError("that listing no longer exists")
        async with self.sessions.begin() as session:
            if await ListingRepository(session).get(listing_id) is None:
                raise NotFoundError("that listing no longer exists")
            return await FeedbackRepository(session).add(user_id, listing_id, NOT_INTERESTED)
