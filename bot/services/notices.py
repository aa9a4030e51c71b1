"""One-time notices to a user, by DM: "your webhook was deleted", "SMS budget reached".

The key is recorded in ``PreferencesRow.notices_sent`` before the DM goes out, so two failures at
once cannot both tell; the DM itself needs the Discord client, which the bot wires in as
``deliver`` when it starts.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.delivery.senders.pacing import OneAtATime
from db.models import PreferencesRow
from db.repositories.preferences import PreferencesRepository

log = logging.getLogger(__name__)

NoticeHook = Callable[[int, str], Awaitable[None]]
"""``deliver(user_id, text)``: puts a notice in front of the user (a DM); raises on failure."""


class NoticeService:
    """Tells a user something once, by DM: ``notify_once(user_id, key, text)``.

    The key is recorded in ``PreferencesRow.notices_sent`` before the DM goes out (so two
    alerts failing at once cannot both tell), and a key of the form ``name:period`` (e.g.
    ``sms_budget:2026-11-22``) replaces the same name's earlier periods, so the list stays short.

    The DM needs the Discord client, which services do not have: the bot sets :attr:`deliver`
    when it starts (see the report in the SMS change). Until it is set, nothing is recorded,
    so the notice is given once the hook exists.
    """

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], deliver: NoticeHook | None = None
    ) -> None:
        self.sessions = sessions
        self.deliver = deliver
        # PostgreSQL serialises claims with the row lock; SQLite ignores FOR UPDATE and reads
        # outside the write lock, so within the (single) process claims take turns per user.
        self._turns = OneAtATime()

    async def notify_once(self, user_id: int, key: str, text: str) -> bool:
        """Deliver ``text`` unless the user already got notice ``key``; True if delivered."""
        deliver = self.deliver
        if deliver is None:
            log.info("notice %s for user %s not given: no DM hook", key.split(":")[0], user_id)
            return False
        async with self._turns.hold(user_id):
            claimed = await self._claim(user_id, key)
        if not claimed:
            return False
        try:
            await deliver(user_id, text)
        except Exception as exc:
            # Recorded all the same: a notice is worth one try, never a storm of DMs.
            log.info("notice %s for user %s not delivered (%s)", key, user_id, type(exc).__name__)
            return False
        return True

    async def _claim(self, user_id: int, key: str) -> bool:
        for _ in range(2):
            try:
                async with self.sessions.begin() as session:
                    row = await session.scalar(
                        select(PreferencesRow)
                        .where(PreferencesRow.user_id == user_id)
                        .with_for_update()
                    )
                    if row is None:
                        row = await PreferencesRepository(session).get_or_create(user_id)
                    sent = list(row.notices_sent or [])
                    if key in sent:
                        return False
                    name, colon, _ = key.partition(":")
                    if colon:
                        sent = [n for n in sent if not n.startswith(f"{name}:")]
                    row.notices_sent = [*sent, key]
                    return True
            except IntegrityError:
                continue  # the preferences row was created concurrently: read it again
        return False

    async def sent(self, user_id: int) -> list[str]:
        async with self.sessions() as session:
            row = await PreferencesRepository(session).get(user_id)
        return list(row.notices_sent or []) if row is not None else []
