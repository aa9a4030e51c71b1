"""Proving a user owns a mobile number before the bot texts it, and one-time notices.

The flow mirrors :mod:`bot.services.verification` (email), with SMS's own costs in mind: the
number is validated and normalised to E.164 first (landlines, premium and toll-free numbers are
refused before anything is sent), a code is sent at most once a minute and five times an hour per
user, works for 10 minutes and survives five wrong guesses, and only its keyed hash is stored.
The number itself is stored encrypted (:class:`bot.crypto.Vault`), also while it is pending, and
is never logged or shown whole: replies show it masked, ``+*********23``.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, PhoneNumberType
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.crypto import CannotDecrypt, Vault
from bot.delivery.notices import notice_key
from bot.delivery.senders.base import SendError
from bot.delivery.senders.pacing import OneAtATime
from bot.delivery.senders.sms import LIMIT_REACHED, NOT_CONFIGURED, OPTED_OUT
from bot.errors import UserFacingError
from bot.security import check_code, hash_code, new_code
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

KIND = "phone"
DEFAULT_REGION = "US"
CODE_TTL = timedelta(minutes=10)
MAX_INPUT_LENGTH = 40
TEXTABLE = {PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE}
REFUSED_TYPES = {
    PhoneNumberType.FIXED_LINE: "that is a landline; text alerts need a mobile number",
    PhoneNumberType.TOLL_FREE: "that is a toll-free number; text alerts need a mobile number",
    PhoneNumberType.PREMIUM_RATE: "that is a premium-rate number; text alerts need a mobile number",
    PhoneNumberType.SHARED_COST: "that is a shared-cost number; text alerts need a mobile number",
    PhoneNumberType.VOIP: "that is an internet (VoIP) number; text alerts need a mobile number",
    PhoneNumberType.PAGER: "that is a pager number; text alerts need a mobile number",
}
NOTICES_CLEARED_ON_VERIFY = ("sms_opted_out", "sms_not_mobile", notice_key("sms"))
"""Notices about a previous number that a newly verified one may need to give again."""

SendCode = Callable[[int, str, str, int], Awaitable[None]]
"""``send_code(user_id, number, code, minutes)``: texts the code; raises ``SendError``."""


def mask(number: str) -> str:
    """A number as it may be shown: every digit but the last two starred (``+*********23``)."""
    digits = number.lstrip("+")
    return "+" + "*" * max(0, len(digits) - 2) + digits[-2:]


def normalise_number(raw: str, region: str = DEFAULT_REGION) -> str:
    """``raw`` in E.164 if it is a valid number that can take texts, else a UserFacingError on
    the ``number`` field. Numbers without a country code are read as US numbers. The error
    never repeats the number."""
    text = raw.strip()
    if not text or len(text) > MAX_INPUT_LENGTH:
        raise UserFacingError("type a phone number, e.g. (415) 555-0123", field="number")
    try:
        parsed = phonenumbers.parse(text, region)
    except NumberParseException:
        raise UserFacingError(
            "that is not a phone number; numbers outside the US need their country code, "
            "e.g. +44 7400 123456",
            field="number",
        ) from None
    if not phonenumbers.is_valid_number(parsed):
        raise UserFacingError(
            "that is not a valid phone number; check the digits (and the country code, "
            "for numbers outside the US)",
            field="number",
        )
    kind = phonenumbers.number_type(parsed)
    if kind not in TEXTABLE:
        raise UserFacingError(
            REFUSED_TYPES.get(kind, "text alerts need a mobile number"), field="number"
        )
    return phonenumbers.format_number(parsed, PhoneNumberFormat.E164)


@dataclass(frozen=True, slots=True)
class PhoneStatus:
    """What /prefs may show about a user's number (masked: the number itself never leaves)."""

    masked: str | None
    verified: bool
    opted_out: bool


class PhoneVerificationService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        send_code: SendCode,
        secret: str,
        vault: Vault,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.sessions = sessions
        self.send_code = send_code
        self.secret = secret
        self.vault = vault
        self.clock = clock
        self._turns = OneAtATime()  # see bot.services.codes: claims take turns per user

    async def start(self, user_id: int, raw_number: str) -> str:
        """Text a code to the number; returns it masked (``+*********23``).

        The new code is stored before the send (the database is never held open across the
        Twilio request) and undone if the send fails, leaving the previous state as it was.
        """
        async with self._turns.hold(user_id):
            return await self._start(user_id, raw_number)

    async def _start(self, user_id: int, raw_number: str) -> str:
        number = normalise_number(raw_number)
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
                row.target = self.vault.encrypt(number)
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
            await self.send_code(user_id, number, code, int(CODE_TTL.total_seconds() // 60))
        except Exception as exc:
            await undo(self.sessions, user_id, KIND, row.code_hash, before)
            log.warning("phone code not sent for user %s (%s)", user_id, why(exc))
            raise _send_failure(exc) from None
        return mask(number)

    async def verify(self, user_id: int, code: str) -> str:
        """Check ``code``; on success the pending number becomes the user's verified number
        (returned masked). Each wrong code uses up one of five attempts."""
        async with self._turns.hold(user_id):
            return await self._verify(user_id, code)

    async def _verify(self, user_id: int, code: str) -> str:
        entered = entered_code(code, "text")
        async with self.sessions.begin() as session:
            row = await live_code(session, user_id, KIND, self.clock())
            if check_code(entered, row.code_hash, self.secret):
                try:
                    number = self.vault.decrypt(row.target)
                except CannotDecrypt:
                    await session.delete(row)
                    raise UserFacingError(
                        "this code can no longer be checked; request a new code", field="code"
                    ) from None
                prefs = await PreferencesRepository(session).get_or_create(user_id)
                prefs.phone_encrypted = row.target
                prefs.phone_last2 = number[-2:]
                prefs.phone_verified, prefs.sms_opted_out = True, False
                prefs.notices_sent = [
                    n for n in prefs.notices_sent or [] if n not in NOTICES_CLEARED_ON_VERIFY
                ]
                await session.delete(row)
                return mask(number)
            failure = spend_attempt(row)
        raise failure  # after the commit, so the used attempt is counted

    async def remove(self, user_id: int) -> None:
        """Forget the user's number and any pending verification."""
        async with self.sessions.begin() as session:
            repo = PreferencesRepository(session)
            prefs = await repo.get(user_id)
            if prefs is not None:
                prefs.phone_encrypted, prefs.phone_last2 = None, None
                prefs.phone_verified, prefs.sms_opted_out = False, False
            pending = await repo.verification(user_id, KIND)
            if pending is not None:
                await repo.delete_verification(pending)

    async def status(self, user_id: int) -> PhoneStatus:
        async with self.sessions() as session:
            prefs = await PreferencesRepository(session).get(user_id)
        if prefs is None or not prefs.phone_encrypted:
            return PhoneStatus(None, False, False)
        masked = "+" + "*" * 9 + (prefs.phone_last2 or "**")
        with contextlib.suppress(CannotDecrypt):  # a changed key: the stored last two digits
            masked = mask(self.vault.decrypt(prefs.phone_encrypted))
        return PhoneStatus(masked, prefs.phone_verified, prefs.sms_opted_out)


def _send_failure(exc: BaseException) -> UserFacingError:
    """What the user is told when the code could not be texted (never the number itself)."""
    if isinstance(exc, SendError):
        if exc.reason == NOT_CONFIGURED:
            return UserFacingError("text messages are not set up on this bot; ask its owner")
        if exc.reason == LIMIT_REACHED:
            return UserFacingError(
                "the bot has sent all the text messages it can today; try again tomorrow"
            )
        if exc.reason == OPTED_OUT:
            return UserFacingError(
                "that number has opted out of our texts (it replied STOP); text START to our "
                "number, then try again",
                field="number",
            )
        if exc.unreachable:
            return UserFacingError(
                "the carrier says that number cannot receive text messages; use a mobile number",
                field="number",
            )
    return UserFacingError("could not send the code; try again later")
