"""``/prefs webhook``: set, test and remove the user's own Discord webhook.

The URL is validated without any request (``bot.domain.webhooks``), stored encrypted
(``bot.crypto.Vault``), and only its id is ever shown; the test post goes through the same
sender as alerts, which talks to Discord's API and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.crypto import Vault
from bot.delivery.notices import WEBHOOK_GONE, notice_key
from bot.delivery.senders.base import SendError
from bot.domain.webhooks import WebhookURLError, parse_webhook_url
from bot.errors import UserFacingError
from db.repositories.preferences import PreferencesRepository

SET_ONE = "you have no webhook; set one with /prefs webhook set"


@dataclass(frozen=True, slots=True)
class WebhookStatus:
    webhook_id: int | None  # None: no webhook set
    disabled: bool = False  # Discord said it was deleted


class WebhookService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        vault: Vault,
        sender: object | None,
    ) -> None:
        self.sessions = sessions
        self.vault = vault
        self.sender = sender  # the webhook sender: it posts the test (it has the client)

    async def status(self, user_id: int) -> WebhookStatus:
        async with self.sessions() as session:
            row = await PreferencesRepository(session).get(user_id)
        if row is None or not row.webhook_encrypted:
            return WebhookStatus(None)
        return WebhookStatus(row.webhook_id, row.webhook_disabled)

    async def set(self, user_id: int, raw_url: str) -> WebhookStatus:
        """Store the webhook ``raw_url`` names (replacing any other), enabled."""
        try:
            target = parse_webhook_url(raw_url)
        except WebhookURLError as exc:
            raise UserFacingError(exc.message, field=exc.field) from None
        async with self.sessions.begin() as session:
            prefs = PreferencesRepository(session)
            row = await prefs.get_or_create(user_id)
            row.webhook_encrypted = self.vault.encrypt(target.url)
            row.webhook_id = target.id
            row.webhook_disabled = False
            # A webhook that breaks again later is worth telling about again.
            await prefs.forget_notices(user_id, [notice_key("webhook")])
        return WebhookStatus(target.id)

    async def test(self, user_id: int, locale: str) -> WebhookStatus:
        """Post a sample alert to the user's webhook; errors say what to do about it."""
        send_test = getattr(self.sender, "send_test", None)
        if send_test is None:
            raise UserFacingError("webhook alerts are not available on this bot")
        try:
            await send_test(user_id, locale)
        except SendError as exc:
            if exc.reason == WEBHOOK_GONE:
                raise UserFacingError(
                    "Discord says this webhook was deleted; set a new one with /prefs webhook set"
                ) from None
            if exc.unreachable:
                raise UserFacingError(SET_ONE) from None
            raise UserFacingError(
                f"the test post did not go through ({exc.reason}); try again in a moment"
            ) from None
        return await self.status(user_id)

    async def remove(self, user_id: int) -> bool:
        """Forget the webhook; False if there was none."""
        async with self.sessions.begin() as session:
            row = await PreferencesRepository(session).get(user_id)
            if row is None or not row.webhook_encrypted:
                return False
            row.webhook_encrypted = None
            row.webhook_id = None
            row.webhook_disabled = False
            return True
