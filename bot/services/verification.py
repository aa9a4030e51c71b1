"""Proving a user owns an email address before the bot mails it.

The bot can be asked to mail any address, so the flow is built against abuse: a code is sent at
most once a minute and five times an hour per user, a code works for 15 minutes and survives five
wrong guesses, and only its keyed hash is stored. Addresses and codes are never logged.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from email_validator import EmailNotValidError, validate_email
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.delivery.senders.base import SendError
from bot.delivery.senders.pacing import OneAtATime
from bot.errors import UserFacingError
from bot.security import CODE_TTL, check_code, hash_code, new_code
from bot.services.codes import (
    RESEND_INTERVAL,
    SEND_WINDOW,
    Snapshot,
    check_rate,
    entered_code,
    live_code,
    pending,
    spend_attempt,
    undo,
    wait_text,
    why,
)
from db.models import VerificationRow, utcnow
from db.repositories.preferences import PreferencesRepository

log = logging.getLogger(__name__)

KIND = "email"

SendCode = Callable[[str, str], Awaitable[None]]
"""``send_code(address, code)``: delivers the code; raises (e.g. ``SendError``) on failure."""


def normalise_address(address: str) -> str:
    """The canonical form of ``address``, or a UserFacingError naming what is wrong with it.
    Deliverability (DNS) is not checked: the code email itself is the real test."""
    try:
        return validate_email(address.strip(), check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise UserFacingError(
            f"that is not a valid email address: {exc}", field="address"
        ) from None


class EmailVerificationService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        send_code: SendCode,
        secret: str,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.sessions = sessions
        self.send_code = send_code
        self.secret = secret
        self.clock = clock
        self._turns = OneAtATime()  # see bot.services.codes: claims take turns per user

    async def start(self, user_id: int, address: str) -> str:
        """Send a code to ``address``; returns the normalised address it went to.

        The new code is stored before the send (so the database is never held open across SMTP)
        and undone if the send fails, leaving the previous state exactly as it was.
        """
        async with self._turns.hold(user_id):
            return await self._start(user_id, address)

    async def _start(self, user_id: int, address: str) -> str:
        normalised = normalise_address(address)
        code = new_code()
        now = self.clock()
        try:
            async with self.sessions.begin() as session:
                row = await pending(session, user_id, KIND)
                before = None if row is None else Snapshot.of(row)
                if row is None:
                    row = VerificationRow(
                        user_id=user_id, kind=KIND, sends=0, window_started_at=now
                    )
                    session.add(row)
                check_rate(row, now)
                if now - row.window_started_at >= SEND_WINDOW:
                    row.window_started_at, row.sends = now, 0
                row.target = normalised
                row.code_hash = hash_code(code, self.secret)
                row.expires_at = now + CODE_TTL
                row.attempts = 0
                row.sends += 1
                row.last_sent_at = now
        except IntegrityError:
            # Another request for this user inserted the row first: it is sending a code now.
            raise UserFacingError(
                f"a code is already on its way; you can ask again in {wait_text(RESEND_INTERVAL)}"
            ) from None
        try:
            await self.send_code(normalised, code)
        except Exception as exc:
            await undo(self.sessions, user_id, KIND, row.code_hash, before)
            log.warning("verification code not sent for user %s (%s)", user_id, why(exc))
            if isinstance(exc, SendError) and exc.unreachable:
                raise UserFacingError(
                    "the mail server refused that address; check it and try again",
                    field="address",
                ) from None
            raise UserFacingError("could not send the code; try again later") from None
        return normalised

    async def verify(self, user_id: int, code: str) -> str:
        """Check ``code``; on success the pending address becomes the user's verified email
        (returned). Each wrong code uses up one of five attempts."""
        async with self._turns.hold(user_id):
            return await self._verify(user_id, code)

    async def _verify(self, user_id: int, code: str) -> str:
        entered = entered_code(code, "email")
        async with self.sessions.begin() as session:
            row = await live_code(session, user_id, KIND, self.clock())
            if check_code(entered, row.code_hash, self.secret):
                prefs = await PreferencesRepository(session).get_or_create(user_id)
                prefs.email, prefs.email_verified = row.target, True
                await session.delete(row)
                return row.target
            failure = spend_attempt(row)
        raise failure  # after the commit, so the used attempt is counted

    async def remove(self, user_id: int) -> None:
        """Forget the user's email address and any pending verification."""
        async with self.sessions.begin() as session:
            repo = PreferencesRepository(session)
            prefs = await repo.get(user_id)
            if prefs is not None:
                prefs.email, prefs.email_verified = None, False
            pending = await repo.verification(user_id, KIND)
            if pending is not None:
                await repo.delete_verification(pending)
