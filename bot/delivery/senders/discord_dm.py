"""Alerts by direct message. The DM channel id is remembered per user, so a background send
needs no member cache (``Intents.default()`` has none) and one fewer request."""

from __future__ import annotations

import discord
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.delivery.render import NO_PINGS, AlertContext, alert_buttons, alert_embed
from bot.delivery.render_digest import digest_buttons, digest_embed, page_count
from bot.delivery.senders.base import OutgoingAlert, OutgoingDigest
from bot.delivery.senders.discord_errors import classify
from bot.delivery.senders.pacing import OPEN_DM, OneAtATime
from db.repositories.accounts import UserRepository
from db.repositories.preferences import PreferencesRepository

TIMEZONE_TIP = (
    "Tip: quiet hours and digests use your time zone, UTC until you set it with "
    "/prefs timezone. (Shown once.)"
)


class DiscordDMSender:
    def __init__(
        self,
        client: discord.Client,
        sessions: async_sessionmaker[AsyncSession],
        pacing: OneAtATime,
    ) -> None:
        self.client = client
        self.sessions = sessions
        self.pacing = pacing

    async def _dm_channel_id(self, user_id: int) -> int:
        async with self.sessions() as session:
            user = await UserRepository(session).get(user_id)
            if user is not None and user.dm_channel_id:
                return user.dm_channel_id
        async with self.pacing.hold(OPEN_DM):
            channel = await self.client.create_dm(discord.Object(id=user_id))
        async with self.sessions.begin() as session:
            await UserRepository(session).set_dm_channel(user_id, channel.id)
        return channel.id

    async def send_digest(self, digest: OutgoingDigest) -> int | None:
        pages = page_count(digest.entries)
        try:
            channel_id = await self._dm_channel_id(digest.user_id)
            channel = self.client.get_partial_messageable(
                channel_id, type=discord.ChannelType.private
            )
            view = digest_buttons(digest.outbox_id, 0, pages)
            async with self.pacing.hold(channel_id):
                message = await channel.send(
                    embed=digest_embed(digest.period, digest.entries, 0, digest.held_by_cap),
                    nonce=digest.nonce,
                    allowed_mentions=NO_PINGS,
                    view=view,
                )
        except Exception as exc:
            raise classify(exc) from exc
        return message.id

    async def _needs_timezone_tip(self, user_id: int) -> bool:
        async with self.sessions() as session:
            row = await PreferencesRepository(session).get(user_id)
        return row is None or (row.timezone is None and not row.timezone_tip_sent)

    async def _tip_sent(self, user_id: int) -> None:
        async with self.sessions.begin() as session:
            (await PreferencesRepository(session).get_or_create(user_id)).timezone_tip_sent = True

    async def send(self, alert: OutgoingAlert) -> int | None:
        try:
            channel_id = await self._dm_channel_id(alert.user_id)
            channel = self.client.get_partial_messageable(
                channel_id, type=discord.ChannelType.private
            )
            rule_name = discord.utils.escape_markdown(alert.rule.name)
            content = f"New match for your alert **{rule_name}**"
            tip = await self._needs_timezone_tip(alert.user_id)
            if tip:
                content += f"\n-# {TIMEZONE_TIP}"
            async with self.pacing.hold(channel_id):
                message = await channel.send(
                    content=content,
                    embed=alert_embed(
                        alert.listing,
                        AlertContext(alert.rule, alert.distance_mi, alert.listing.url),
                    ),
                    view=alert_buttons(alert.rule.id, alert.listing.id),
                    nonce=alert.nonce,
                    allowed_mentions=NO_PINGS,
                )
        except Exception as exc:
            raise classify(exc) from exc
        if tip:
            await self._tip_sent(alert.user_id)
        return message.id
