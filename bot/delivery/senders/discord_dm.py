"""Alerts by direct message. The DM channel id is remembered per user, so a background send
needs no member cache (``Intents.default()`` has none) and one fewer request."""

from __future__ import annotations

import discord
from sqlalchemy.exc import IntegrityError

from bot.delivery.render import NO_PINGS
from bot.delivery.render_digest import digest_buttons, digest_embed, page_count
from bot.delivery.render_wanted import buttons_for, embed_for, headline_for
from bot.delivery.senders.base import OutgoingAlert, OutgoingDigest
from bot.delivery.senders.discord_base import DiscordSender
from bot.delivery.senders.discord_errors import classify
from bot.delivery.senders.pacing import OPEN_DM
from bot.i18n import N_, t
from db.repositories.accounts import UserRepository
from db.repositories.preferences import PreferencesRepository

TIMEZONE_TIP = N_(
    "Tip: quiet hours and digests use your time zone, UTC until you set it with "
    "/prefs timezone. (Shown once.)"
)


class DiscordDMSender(DiscordSender):
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

    async def notify(self, user_id: int, text: str) -> None:
        """A one-time notice (e.g. "your webhook was deleted"): plain text that pings nobody."""
        channel_id = await self._dm_channel_id(user_id)
        channel = self.client.get_partial_messageable(channel_id, type=discord.ChannelType.private)
        async with self.pacing.hold(channel_id):
            await channel.send(content=text[:2000], allowed_mentions=NO_PINGS)

    async def send_digest(self, digest: OutgoingDigest) -> int | None:
        pages = page_count(digest.entries)
        try:
            channel_id = await self._dm_channel_id(digest.user_id)
            channel = self.client.get_partial_messageable(
                channel_id, type=discord.ChannelType.private
            )
            _, locale = await self._reader_settings(digest.user_id)
            view = digest_buttons(digest.outbox_id, 0, pages, locale)
            async with self.pacing.hold(channel_id):
                message = await channel.send(
                    embed=digest_embed(
                        digest.period, digest.entries, 0, digest.held_by_cap, locale
                    ),
                    nonce=digest.nonce,
                    allowed_mentions=NO_PINGS,
                    view=view,
                )
        except Exception as exc:
            raise classify(exc) from exc
        return message.id

    async def _reader_settings(self, user_id: int) -> tuple[bool, str]:
        """(whether to add the one-time time zone tip, the user's language)."""
        async with self.sessions() as session:
            row = await PreferencesRepository(session).get(user_id)
        if row is None:
            return True, "en"
        return row.timezone is None and not row.timezone_tip_sent, row.language

    async def _tip_sent(self, user_id: int) -> None:
        """Remember the tip was given. Two alerts sent at once may both create the row: the
        loser retries on the row the winner made (the DM itself was already posted)."""
        for attempt in range(2):
            try:
                async with self.sessions.begin() as session:
                    prefs = await PreferencesRepository(session).get_or_create(user_id)
                    prefs.timezone_tip_sent = True
                return
            except IntegrityError:
                if attempt:
                    raise

    async def send(self, alert: OutgoingAlert) -> int | None:
        try:
            channel_id = await self._dm_channel_id(alert.user_id)
            channel = self.client.get_partial_messageable(
                channel_id, type=discord.ChannelType.private
            )
            tip, locale = await self._reader_settings(alert.user_id)
            content = headline_for(alert, locale)
            if alert.notice:
                content += "\n-# " + alert.notice
            if tip:
                content += "\n-# " + t(TIMEZONE_TIP, locale)
            async with self.pacing.hold(channel_id):
                message = await channel.send(
                    content=content,
                    embed=embed_for(alert, locale),
                    view=buttons_for(alert, locale),
                    nonce=alert.nonce,
                    allowed_mentions=NO_PINGS,
                )
        except Exception as exc:
            raise classify(exc) from exc
        if tip:
            await self._tip_sent(alert.user_id)
        return message.id
