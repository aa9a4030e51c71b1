"""Alerts and verification codes by SMS, through Twilio's own (async) client.

Only a *verified* number that has not opted out is ever texted, and every text is counted in
``sms_usage`` against two daily limits (per user and for the whole bot, UTC days) before it is
sent; beyond either the alert fails as unreachable, so the dispatcher hands it to the next
channel, and the user is told once that day. Twilio's answers are sorted by meaning: 21610 (the
number replied STOP) and 21614 (not a mobile number) switch SMS off for the user and tell them
once; 429 and 5xx are retried, after ``Retry-After`` when Twilio sends one.

Phone numbers are decrypted only to hand them to Twilio and are never logged: reasons carry
Twilio's error *codes* only, because Twilio's messages quote the number, and no Twilio exception
is chained onto what this module raises.
"""

from __future__ import annotations

import asyncio
import base64
import email.utils
import logging
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, cast
from urllib.parse import urlsplit

import aiohttp
from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from twilio.base.exceptions import TwilioException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from bot.config import Settings
from bot.crypto import CannotDecrypt, Vault
from bot.delivery.senders.base import OutgoingAlert, SendError
from bot.delivery.sms_text import render_alert_sms, render_verification_sms
from bot.i18n import N_, t
from db.models import PreferencesRow, SmsUsage, utcnow
from db.repositories.preferences import PreferencesRepository

log = logging.getLogger(__name__)

DEFAULT_API_BASE = "https://api.twilio.com"
REQUEST_TIMEOUT_SECONDS = 15.0
CONFIG_RETRY_SECONDS = 300.0
"""Bad credentials are the operator's to fix: retry slowly rather than fail every alert."""

NOT_CONFIGURED = "SMS is not configured (TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, a sender)"
NO_NUMBER = "no verified phone number"
OPTED_OUT = "the phone number opted out of SMS (STOP)"
NOT_MOBILE = "the phone number cannot receive SMS (21614: not a mobile number)"
LIMIT_REACHED = "SMS daily limit reached"
UNREADABLE = "the stored phone number cannot be decrypted (was DEALSCOUT_SECRET_KEY changed?)"

STOPPED = 21610
NOT_A_MOBILE = 21614
UNREACHABLE_CODES = {
    21211: "invalid 'To' number",
    21408: "sending to this region is not enabled",
    21612: "the number cannot be reached from the sender",
    21635: "the number cannot receive SMS",
}

# Notices (each given once: the key is stored in PreferencesRow.notices_sent).
BUDGET_NOTICE_PREFIX = "sms_budget:"
OPTED_OUT_NOTICE = "sms_opted_out"
NOT_MOBILE_NOTICE = "sms_not_mobile"
USER_LIMIT_TEXT = N_(
    "📵 You have had {limit} text alerts today, the most Deal Scout sends one person in a day. "
    "Today's other alerts come here instead; texts start again tomorrow (UTC)."
)
BUDGET_TEXT = N_(
    "📵 Deal Scout has sent all the text messages it can today. Today's other alerts come here "
    "instead; texts start again tomorrow (UTC)."
)
OPTED_OUT_TEXT = N_(
    "📵 Your phone number replied STOP to our texts, so SMS alerts are off and your alerts come "
    "here instead. To get texts again, text START to our number, then run `/prefs phone set`."
)
NOT_MOBILE_TEXT = N_(
    "📵 Your carrier says your phone number cannot receive text messages, so SMS alerts are off "
    "and your alerts come here instead. `/prefs phone set` adds a mobile number."
)

Notify = Callable[[int, str, str], Awaitable[bool]]
"""``notify(user_id, key, text)``: tell the user ``text`` once (see ``NoticeService``)."""

_retry_after: ContextVar[str | None] = ContextVar("twilio_retry_after", default=None)
"""The Retry-After header of this task's last Twilio response (Twilio's exceptions drop it).
A ContextVar, because concurrent sends share the HTTP client but each runs in its own task."""


def rebase(url: str, base: str) -> str:
    """``url`` with its scheme and host (``https://api.twilio.com``) replaced by ``base``."""
    if base.rstrip("/") == DEFAULT_API_BASE:
        return url
    parts = urlsplit(url)
    query = f"?{parts.query}" if parts.query else ""
    return f"{base.rstrip('/')}{parts.path}{query}"


class RebasedTwilioHttpClient(AsyncTwilioHttpClient):
    """Twilio's aiohttp client, sending to ``TWILIO_API_BASE`` (the one place it is applied),
    with a timeout on every request, and remembering ``Retry-After``."""

    def __init__(self, base: str, timeout: float = REQUEST_TIMEOUT_SECONDS) -> None:
        super().__init__(timeout=timeout)
        self.base = base

    async def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 (twilio's HttpClient signature)
        allow_redirects: bool = False,
    ) -> Response:
        _retry_after.set(None)
        if auth is not None:
            # As a header: aiohttp deprecates its ``auth=``. (Twilio never logs this header.)
            token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode("ascii")
            headers = {**(headers or {}), "Authorization": f"Basic {token}"}
        response = cast(
            Response,
            await super().request(
                method,
                rebase(url, self.base),
                params=params,
                data=data,
                headers=headers,
                auth=None,
                timeout=timeout if timeout is not None else self.timeout,
                allow_redirects=allow_redirects,
            ),
        )
        if response.headers is not None:
            _retry_after.set(response.headers.get("Retry-After"))
        return response


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date); None if absent/bad."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return max(1.0, seconds) if seconds == seconds else None  # NaN → None


def classify(status: int | None, code: int | None, retry_after: str | None = None) -> SendError:
    """What a Twilio error response means for the outbox (codes only: never Twilio's text)."""
    wait = retry_after_seconds(retry_after)
    if code == STOPPED:
        return SendError(OPTED_OUT, permanent=True, unreachable=True)
    if code == NOT_A_MOBILE:
        return SendError(NOT_MOBILE, permanent=True, unreachable=True)
    if status == 429 or code == 20429:
        return SendError("Twilio is rate limiting (429)", permanent=False, retry_after=wait)
    if status is not None and status >= 500:
        return SendError(f"Twilio failed ({status})", permanent=False, retry_after=wait)
    if status == 401 or code == 20003:
        return SendError(
            "Twilio rejected the credentials (20003)",
            permanent=False,
            retry_after=CONFIG_RETRY_SECONDS,
        )
    if code in UNREACHABLE_CODES:
        return SendError(
            f"the phone number cannot be texted ({code}: {UNREACHABLE_CODES[code]})",
            permanent=True,
            unreachable=True,
        )
    # Anything else (a bad From number, a suspended account...) will not fix itself by retrying;
    # unreachable, so the alert still reaches the user on the next channel.
    return SendError(
        f"Twilio refused the message ({code or status})", permanent=True, unreachable=True
    )


def utc_day(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y-%m-%d")


class SmsUsageCounter:
    """Counts texts in ``sms_usage`` and enforces the two daily limits without overshooting.

    The user's count goes up in one conditional UPDATE (atomic on SQLite and PostgreSQL); the
    day's total is read *after* that commit, and a send that finds it over the budget takes its
    count back. Every send that goes ahead saw all earlier-committed counts, so even several
    processes never exceed the budget; within one process reservations also take turns, so
    racing sends at the boundary cannot all take their counts back and leave the budget unused.
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions
        self._turns = asyncio.Lock()

    async def reserve(
        self, user_id: int, day: str, *, user_limit: int | None, budget: int
    ) -> str | None:
        """Count one text; returns None, or which limit refused it ("user" or "budget")."""
        if user_limit is not None and user_limit <= 0:
            return "user"
        if budget <= 0:
            return "budget"
        async with self._turns:
            return await self._reserve(user_id, day, user_limit, budget)

    async def _reserve(
        self, user_id: int, day: str, user_limit: int | None, budget: int
    ) -> str | None:
        if not await self._increment(user_id, day, user_limit):
            return "user"
        async with self.sessions() as session:
            total = await session.scalar(
                select(func.coalesce(func.sum(SmsUsage.count), 0)).where(SmsUsage.day == day)
            )
        if int(total or 0) > budget:
            await self.release(user_id, day)
            return "budget"
        return None

    async def _increment(self, user_id: int, day: str, user_limit: int | None) -> bool:
        for _ in range(3):
            try:
                async with self.sessions.begin() as session:
                    where = [SmsUsage.user_id == user_id, SmsUsage.day == day]
                    if user_limit is not None:
                        where.append(SmsUsage.count < user_limit)
                    result = await session.execute(
                        update(SmsUsage).where(*where).values(count=SmsUsage.count + 1)
                    )
                    if cast(CursorResult[Any], result).rowcount:
                        return True
                    exists = await session.scalar(
                        select(SmsUsage.id).where(SmsUsage.user_id == user_id, SmsUsage.day == day)
                    )
                    if exists is not None:
                        return False  # at the limit
                    session.add(SmsUsage(user_id=user_id, day=day, count=1))
                    await session.flush()
                    return True
            except IntegrityError:
                continue  # another send made today's row first: count on it
        raise SendError("could not count the text", permanent=False)

    async def release(self, user_id: int, day: str) -> None:
        """Take back a counted text that was not sent."""
        async with self.sessions.begin() as session:
            await session.execute(
                update(SmsUsage)
                .where(SmsUsage.user_id == user_id, SmsUsage.day == day, SmsUsage.count > 0)
                .values(count=SmsUsage.count - 1)
            )

    async def count(self, user_id: int, day: str) -> int:
        async with self.sessions() as session:
            found = await session.scalar(
                select(SmsUsage.count).where(SmsUsage.user_id == user_id, SmsUsage.day == day)
            )
        return int(found or 0)


class SmsSender:
    """Implements ``Sender`` for the SMS channel, and sends the codes of
    :class:`bot.services.phone.PhoneVerificationService`."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        settings: Settings,
        vault: Vault,
        *,
        notify: Notify | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.vault = vault
        self.notify = notify
        self.clock = clock
        self.usage = SmsUsageCounter(sessions)
        self._http: RebasedTwilioHttpClient | None = None
        self._client: Client | None = None

    # ---- configuration ---------------------------------------------------------------------

    @property
    def configured(self) -> bool:
        s = self.settings
        return bool(
            s.twilio_account_sid
            and s.twilio_account_sid.get_secret_value()
            and s.twilio_auth_token
            and s.twilio_auth_token.get_secret_value()
            and (s.twilio_from_number or s.twilio_messaging_service_sid)
        )

    def _twilio(self) -> Client:
        """The Twilio client, made on first use (inside the event loop, which its aiohttp
        session needs) and shared by every send."""
        if self._client is None:
            s = self.settings
            assert s.twilio_account_sid is not None and s.twilio_auth_token is not None
            sid = s.twilio_account_sid.get_secret_value()
            self._http = RebasedTwilioHttpClient(s.twilio_api_base)
            self._client = Client(
                sid,
                s.twilio_auth_token.get_secret_value(),
                account_sid=sid,
                http_client=self._http,
            )
        return self._client

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http, self._client = None, None

    # ---- sending ---------------------------------------------------------------------------

    async def _create(self, to: str, body: str) -> tuple[str, int | None]:
        """Hand one text to Twilio; returns its sid and segment count, or raises SendError."""
        s = self.settings
        kwargs: dict[str, Any] = {"to": to, "body": body}
        if s.twilio_messaging_service_sid:
            kwargs["messaging_service_sid"] = s.twilio_messaging_service_sid
        else:
            kwargs["from_"] = s.twilio_from_number
        try:
            message = await self._twilio().messages.create_async(**kwargs)
        except TwilioException as exc:
            error = classify(
                getattr(exc, "status", None), getattr(exc, "code", None), _retry_after.get()
            )
            log.info("sms not sent: %s", error.reason)
            raise error from None  # Twilio's message quotes the number
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            log.info("sms not sent: could not reach Twilio (%s)", type(exc).__name__)
            raise SendError("could not reach Twilio", permanent=False) from None
        if message.error_code:  # accepted, but already known to be undeliverable
            error = classify(None, int(message.error_code))
            log.info("sms not sent: %s", error.reason)
            raise error
        segments = int(message.num_segments) if message.num_segments else None
        return str(message.sid), segments

    async def send(self, alert: OutgoingAlert) -> int | None:
        prefs = await self._prefs(alert.user_id)
        if prefs is None or not prefs.phone_encrypted or not prefs.phone_verified:
            raise SendError(NO_NUMBER, permanent=True, unreachable=True)
        if prefs.sms_opted_out:
            raise SendError(OPTED_OUT, permanent=True, unreachable=True)
        if not self.configured:
            # Unreachable, so the dispatcher falls back to a DM instead of failing the alert.
            raise SendError(NOT_CONFIGURED, permanent=True, unreachable=True)
        try:
            number = self.vault.decrypt(prefs.phone_encrypted)
        except CannotDecrypt:
            raise SendError(UNREADABLE, permanent=True, unreachable=True) from None
        body = render_alert_sms(alert.listing)
        day = utc_day(self.clock())
        refused = await self.usage.reserve(
            alert.user_id,
            day,
            user_limit=self.settings.sms_daily_limit_per_user,
            budget=self.settings.sms_daily_budget,
        )
        if refused is not None:
            text = USER_LIMIT_TEXT if refused == "user" else BUDGET_TEXT
            await self._tell(
                alert.user_id,
                f"{BUDGET_NOTICE_PREFIX}{day}",
                t(text, prefs.language, limit=self.settings.sms_daily_limit_per_user),
            )
            raise SendError(LIMIT_REACHED, permanent=True, unreachable=True)
        try:
            sid, segments = await self._create(number, body)
        except SendError as exc:
            await self.usage.release(alert.user_id, day)
            await self._switch_off(alert.user_id, exc, prefs.language)
            raise
        except BaseException:
            await asyncio.shield(self.usage.release(alert.user_id, day))
            raise
        log.info("sms %s sent for outbox row %s (%s segments)", sid, alert.outbox_id, segments)
        return None

    async def send_code(self, user_id: int, number: str, code: str, minutes: int) -> None:
        """Text a verification code to a number that is not verified yet (by definition). The
        code counts towards the bot's daily budget and the user's daily count."""
        if not self.configured:
            raise SendError(NOT_CONFIGURED, permanent=True)  # not "unreachable": not the number
        day = utc_day(self.clock())
        refused = await self.usage.reserve(
            user_id, day, user_limit=None, budget=self.settings.sms_daily_budget
        )
        if refused is not None:
            raise SendError(LIMIT_REACHED, permanent=True)
        try:
            await self._create(number, render_verification_sms(code, minutes))
        except BaseException:
            await asyncio.shield(self.usage.release(user_id, day))
            raise

    # ---- what Twilio's answers change ------------------------------------------------------

    async def _prefs(self, user_id: int) -> PreferencesRow | None:
        """The user's preferences, read fresh (a STOP or a removal takes effect at once)."""
        async with self.sessions() as session:
            return await PreferencesRepository(session).get(user_id)

    async def _switch_off(self, user_id: int, error: SendError, language: str) -> None:
        """21610: the number opted out; 21614: it is no mobile. Either way SMS stops for this
        user (until they verify a number again) and they are told once."""
        if error.reason == OPTED_OUT:
            change, key, text = {"sms_opted_out": True}, OPTED_OUT_NOTICE, OPTED_OUT_TEXT
        elif error.reason == NOT_MOBILE:
            change, key, text = {"phone_verified": False}, NOT_MOBILE_NOTICE, NOT_MOBILE_TEXT
        else:
            return
        async with self.sessions.begin() as session:
            await session.execute(
                update(PreferencesRow).where(PreferencesRow.user_id == user_id).values(**change)
            )
        log.info("sms switched off for user %s: %s", user_id, error.reason)
        await self._tell(user_id, key, t(text, language))

    async def _tell(self, user_id: int, key: str, text: str) -> None:
        if self.notify is None:
            return
        try:
            await self.notify(user_id, key, text)
        except Exception:  # a notice must never decide an alert's fate
            log.exception("notice %s for user %s failed", key.split(":")[0], user_id)
