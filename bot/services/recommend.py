"""Recommendations for /deals. (Being built; see issue 7.)"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.domain.matching import RuleIndex
from db.models import utcnow


class RecommendationService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        index: RuleIndex,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.sessions = sessions
        self.index = index
        self.clock = clock
