"""The watchlist: price-drop alerts and price history for listings users watch. (Being built;
see issue 7.)"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.ingest.community import ListingService
from db.models import utcnow


class WatchService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        listings: ListingService,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.sessions = sessions
        self.listings = listings
        self.clock = clock
