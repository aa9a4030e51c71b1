"""Alerts posted in a server's alert channel, and listings posted in its marketplace channel.

Channel alerts mention their owner (and only them); listing text can ping nobody.
"""

from __future__ import annotations

from bot.delivery.render import (
    NO_PINGS,
    listing_embed,
    only_owner_pings,
)
from bot.delivery.render_wanted import buttons_for, embed_for, headline_for
from bot.delivery.senders.base import OutgoingAlert, SendError
from bot.delivery.senders.discord_base import DiscordSender
from bot.delivery.senders.discord_errors import classify
from bot.domain.listing import Listing
from db.repositories.accounts import GuildRepository


class DiscordChannelSender(DiscordSender):
    async def _alert_channel_id(self, guild_id: int | None) -> int:
        if guild_id is None:
            raise SendError("the alert was created outside a server", permanent=True)
        async with self.sessions() as session:
            settings = await GuildRepository(session).get(guild_id)
        if settings is None or settings.alert_channel_id is None:
            raise SendError("the server has no alert channel set", permanent=True)
        return settings.alert_channel_id

    async def send(self, alert: OutgoingAlert) -> int | None:
        channel_id = await self._alert_channel_id(alert.guild_id)
        content = f"<@{alert.user_id}> " + headline_for(alert)
        if alert.notice:  # why it came here and not on the user's own channel (told once)
            content += f"\n-# {alert.notice}"
        try:
            async with self.pacing.hold(channel_id):
                message = await self.client.get_partial_messageable(channel_id).send(
                    content=content,
                    embed=embed_for(alert),
                    view=buttons_for(alert),
                    nonce=alert.nonce,
                    allowed_mentions=only_owner_pings(alert.user_id),
                )
        except Exception as exc:
            raise classify(exc) from exc
        return message.id


class DiscordMarketplacePublisher(DiscordSender):
    """Posts a /sell listing in the server's marketplace channel; returns the post's URL."""

    async def publish(self, listing: Listing) -> tuple[int, int, str] | None:
        if listing.guild_id is None:
            return None
        async with self.sessions() as session:
            settings = await GuildRepository(session).get(listing.guild_id)
        if settings is None or settings.marketplace_channel_id is None:
            return None
        channel_id = settings.marketplace_channel_id
        async with self.pacing.hold(channel_id):
            message = await self.client.get_partial_messageable(channel_id).send(
                content=f"New listing from <@{listing.seller_id}>" if listing.seller_id else None,
                embed=listing_embed(listing),
                nonce=f"dsl{listing.id}",
                allowed_mentions=NO_PINGS,
            )
        url = f"https://discord.com/channels/{listing.guild_id}/{channel_id}/{message.id}"
        return channel_id, message.id, url
