"""Users' reachability, guild settings and feedback: the small per-account records."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Feedback, GuildSettings, RuleRow, User, utcnow


class UserRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get_or_create(self, user_id: int) -> User:
        user = await self.session.get(User, user_id)
        if user is None:
            user = User(id=user_id, dms_closed=False, created_at=utcnow())
            self.session.add(user)
            await self.session.flush()
        return user

    async def get(self, user_id: int) -> User | None:
        return await self.session.get(User, user_id)

    async def set_dm_channel(self, user_id: int, channel_id: int) -> None:
        user = await self.get_or_create(user_id)
        user.dm_channel_id = channel_id

    async def mark_dms_closed(self, user_id: int) -> None:
        user = await self.get_or_create(user_id)
        user.dms_closed = True
        user.dms_closed_at = utcnow()

    async def reopen_dms(self, user_id: int) -> None:
        user = await self.get(user_id)
        if user is not None and user.dms_closed:
            user.dms_closed = False
            user.dms_closed_at = None

    async def count_dms_closed(self, guild_id: int | None = None) -> int:
        """Users with DMs closed; with ``guild_id``, only those who own alerts in that server."""
        stmt = select(func.count(func.distinct(User.id))).where(User.dms_closed.is_(True))
        if guild_id is not None:
            stmt = stmt.join(RuleRow, RuleRow.user_id == User.id).where(
                RuleRow.guild_id == guild_id
            )
        return int(await self.session.scalar(stmt) or 0)


class GuildRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, guild_id: int) -> GuildSettings | None:
        return await self.session.get(GuildSettings, guild_id)

    async def get_or_create(self, guild_id: int) -> GuildSettings:
        settings = await self.session.get(GuildSettings, guild_id)
        if settings is None:
            settings = GuildSettings(guild_id=guild_id)
            self.session.add(settings)
            await self.session.flush()
        return settings


class FeedbackRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, user_id: int, listing_id: int, kind: str) -> bool:
        exists = await self.session.scalar(
            select(Feedback.id).where(
                Feedback.user_id == user_id,
                Feedback.listing_id == listing_id,
                Feedback.kind == kind,
            )
        )
        if exists is not None:
            return False
        self.session.add(Feedback(user_id=user_id, listing_id=listing_id, kind=kind))
        await self.session.flush()
        return True

    async def listings_with(self, user_id: int, listing_ids: list[int], kind: str) -> set[int]:
        if not listing_ids:
            return set()
        found = await self.session.scalars(
            select(Feedback.listing_id).where(
                Feedback.user_id == user_id,
                Feedback.kind == kind,
                Feedback.listing_id.in_(listing_ids),
            )
        )
        return set(found)

    async def has(self, user_id: int, listing_id: int, kind: str) -> bool:
        found = await self.session.scalar(
            select(Feedback.id).where(
                Feedback.user_id == user_id,
                Feedback.listing_id == listing_id,
                Feedback.kind == kind,
            )
        )
        return found is not None
