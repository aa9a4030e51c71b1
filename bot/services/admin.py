"""Server administration: where alerts and listings are posted, and how delivery is doing."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.repositories.accounts import GuildRepository, UserRepository
from db.repositories.listings import ListingRepository
from db.repositories.outbox import OutboxCounts, OutboxRepository
from db.repositories.rules import RuleRepository


@dataclass(frozen=True, slots=True)
class GuildStats:
    rules: int
    listings: int
    alerts: OutboxCounts
    dms_closed_users: int
    top_failures: list[tuple[str, int]]
    alert_channel_id: int | None
    marketplace_channel_id: int | None


class AdminService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    async def set_alert_channel(self, guild_id: int, channel_id: int | None) -> None:
        async with self.sessions.begin() as session:
            (await GuildRepository(session).get_or_create(guild_id)).alert_channel_id = channel_id

    async def set_marketplace_channel(self, guild_id: int, channel_id: int | None) -> None:
        async with self.sessions.begin() as session:
            settings = await GuildRepository(session).get_or_create(guild_id)
            settings.marketplace_channel_id = channel_id

    async def stats(self, guild_id: int) -> GuildStats:
        async with self.sessions() as session:
            settings = await GuildRepository(session).get(guild_id)
            return GuildStats(
                rules=await RuleRepository(session).count(guild_id),
                listings=await ListingRepository(session).count(guild_id),
                alerts=await OutboxRepository(session).counts(guild_id),
                dms_closed_users=await UserRepository(session).count_dms_closed(guild_id),
                top_failures=await OutboxRepository(session).failure_reasons(guild_id),
                alert_channel_id=settings.alert_channel_id if settings else None,
                marketplace_channel_id=settings.marketplace_channel_id if settings else None,
            )
