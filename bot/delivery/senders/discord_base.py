"""What every sender that talks to Discord holds: the client, the database, and the shared
per-bucket pacing (see pacing.py)."""

from __future__ import annotations

import discord
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.delivery.senders.pacing import OneAtATime


class DiscordSender:
    def __init__(
        self,
        client: discord.Client,
        sessions: async_sessionmaker[AsyncSession],
        pacing: OneAtATime,
    ) -> None:
        self.client = client
        self.sessions = sessions
        self.pacing = pacing
