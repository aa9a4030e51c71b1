"""Alerts posted through the user's own Discord webhook (a channel of theirs, any server).

The URL was checked against Discord's hosts when it was set (``bot.domain.webhooks``) and is
stored encrypted; it is decrypted only here, just before the post, and never logged or put in
an error (exceptions are not chained, since aiohttp's can quote the URL). discord.py builds the
request from its own API base and the webhook's id and token, waits on each webhook's rate-limit
bucket and retries 429s itself; what is still failing after that becomes a transient
``SendError`` with its ``retry_after``. A webhook that answers 404 (10015 Unknown Webhook) or 401
(50027 Invalid Webhook Token) was deleted: it is disabled, so it is never called again, and the
alert moves on to the user's next channel, which tells them once (see ``notices.py``).

Webhook messages carry no buttons (Discord only allows them on webhooks an application owns)
and no nonce (webhooks have none), so a crash between the post and recording it can repeat one
alert; the footer says how to pause it.
"""

from __future__ import annotations

import logging
from decimal import Decimal

import discord
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.crypto import CannotDecrypt, Vault
from bot.delivery.notices import WEBHOOK_GONE
from bot.delivery.render import NO_PINGS, AlertContext, alert_embed
from bot.delivery.render_wanted import embed_for, headline_for
from bot.delivery.senders.base import OutgoingAlert, SendError
from bot.delivery.senders.discord_errors import classify
from bot.domain.listing import Condition, Listing
from bot.domain.rule import Rule
from bot.i18n import t
from db.repositories.preferences import PreferencesRepository

log = logging.getLogger(__name__)

USERNAME = "Deal Scout"
NO_WEBHOOK = "no webhook set"
UNREADABLE = "the stored webhook cannot be read; set it again"
UNKNOWN_WEBHOOK = 10015
INVALID_WEBHOOK_TOKEN = 50027
CONTENT_LIMIT = 2000


def is_gone(exc: BaseException) -> bool:
    """Discord says the webhook no longer exists (or its token no longer works)."""
    if isinstance(exc, discord.NotFound):
        return True
    return (
        isinstance(exc, discord.HTTPException)
        and exc.status == 401
        and exc.code == INVALID_WEBHOOK_TOKEN
    )


def sample_alert(user_id: int, locale: str) -> tuple[Listing, Rule]:
    """What ``/prefs webhook test`` posts: a made-up listing for a made-up alert."""
    listing = Listing(
        id=0,
        title=t("Sample: vintage oak desk", locale),
        price=Decimal("120"),
        description=t("A test alert from Deal Scout: real alerts look like this.", locale),
        category="Furniture",
        condition=Condition.good,
    )
    return listing, Rule(id=0, user_id=user_id, name=t("Sample alert", locale))


class WebhookSender:
    """Implements ``Sender`` for the webhook channel (digests go by DM and email only)."""

    def __init__(
        self, client: discord.Client, sessions: async_sessionmaker[AsyncSession], vault: Vault
    ) -> None:
        self.client = client
        self.sessions = sessions
        self.vault = vault

    async def _target(self, user_id: int) -> tuple[str, int | None, str]:
        """(the webhook URL, its id, the user's language), read fresh for every send."""
        async with self.sessions() as session:
            row = await PreferencesRepository(session).get(user_id)
        if row is None or not row.webhook_encrypted:
            raise SendError(NO_WEBHOOK, permanent=True, unreachable=True)
        if row.webhook_disabled:
            raise SendError(WEBHOOK_GONE, permanent=True, unreachable=True)
        try:
            url = self.vault.decrypt(row.webhook_encrypted)
        except CannotDecrypt:
            raise SendError(UNREADABLE, permanent=True, unreachable=True) from None
        return url, row.webhook_id, row.language

    async def send(self, alert: OutgoingAlert) -> int | None:
        url, webhook_id, locale = await self._target(alert.user_id)
        content = headline_for(alert, locale)
        if alert.notice:
            content += "\n-# " + alert.notice
        embed = embed_for(alert, locale)
        return await self._post(alert.user_id, url, webhook_id, content, embed)

    async def send_test(self, user_id: int, locale: str) -> int | None:
        """Post a sample alert to the user's webhook (``/prefs webhook test``)."""
        url, webhook_id, _ = await self._target(user_id)
        listing, rule = sample_alert(user_id, locale)
        content = t("🧪 A test from Deal Scout: your alerts will arrive here like this.", locale)
        embed = alert_embed(listing, AlertContext(rule), locale)
        return await self._post(user_id, url, webhook_id, content, embed)

    async def _post(
        self,
        user_id: int,
        url: str,
        webhook_id: int | None,
        content: str,
        embed: discord.Embed,
    ) -> int:
        user = self.client.user
        try:
            webhook = discord.Webhook.from_url(url, client=self.client)
            message = await webhook.send(
                content=content[:CONTENT_LIMIT],
                embed=embed,
                username=USERNAME,
                avatar_url=user.display_avatar.url if user is not None else discord.utils.MISSING,
                allowed_mentions=NO_PINGS,
                wait=True,
            )
        except ValueError:
            raise SendError(UNREADABLE, permanent=True, unreachable=True) from None
        except Exception as exc:
            if is_gone(exc):
                await self._disable(user_id, webhook_id)
                log.info("webhook %s of user %s is gone: disabled", webhook_id, user_id)
                raise SendError(WEBHOOK_GONE, permanent=True, unreachable=True) from None
            raise classify(exc) from None
        return message.id

    async def _disable(self, user_id: int, webhook_id: int | None) -> None:
        """Disable the webhook that failed (not one the user set meanwhile)."""
        async with self.sessions.begin() as session:
            row = await PreferencesRepository(session).get(user_id)
            if row is not None and row.webhook_id == webhook_id:
                row.webhook_disabled = True
