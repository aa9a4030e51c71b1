"""Alerts, digests and verification codes by email (SMTP through aiosmtplib).

Only a *verified* address is ever mailed; without one the alert fails as unreachable, so the
dispatcher records why instead of retrying. SMTP failures are sorted by meaning: a mailbox the
server says does not exist (5xx to RCPT) is permanent, a busy or unreachable server is not.
Reasons carry reply codes only, never the server's text: that text often echoes the address,
and reasons are logged and shown (invariant 7).
"""

from __future__ import annotations

import logging
from email.message import EmailMessage
from urllib.parse import quote

import aiosmtplib
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.delivery.email_render import (
    render_alert_email,
    render_digest_email,
    render_verification_email,
)
from bot.delivery.senders.base import OutgoingAlert, OutgoingDigest, SendError
from bot.security import unsubscribe_token
from db.models import PreferencesRow
from db.repositories.preferences import PreferencesRepository

log = logging.getLogger(__name__)

NOT_CONFIGURED = "email is not configured (SMTP_HOST is unset)"
CONFIG_RETRY_SECONDS = 300.0
"""Login or TLS problems are the operator's to fix; retry slowly rather than fail every alert."""


def unsubscribe_url(base_url: str, user_id: int, secret: str) -> str:
    """The one-click unsubscribe link for ``user_id`` (served by ``bot.web``)."""
    token = quote(unsubscribe_token(user_id, secret), safe="")
    return f"{base_url.rstrip('/')}/unsubscribe?token={token}"


def classify(exc: Exception) -> SendError:
    """What an aiosmtplib (or socket) failure means for the outbox."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        codes = [r.code for r in exc.recipients] or [550]
        return _refused(max(codes))
    if isinstance(exc, aiosmtplib.SMTPRecipientRefused):
        return _refused(exc.code)
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        return SendError(
            f"the mail server rejected the SMTP login ({exc.code})",
            permanent=False,
            retry_after=CONFIG_RETRY_SECONDS,
        )
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        if 400 <= exc.code < 500:
            return SendError(f"the mail server is busy ({exc.code})", permanent=False)
        what = "sender address" if isinstance(exc, aiosmtplib.SMTPSenderRefused) else "email"
        return SendError(f"the mail server refused the {what} ({exc.code})", permanent=True)
    if isinstance(exc, aiosmtplib.SMTPNotSupported):
        return SendError(
            "the mail server does not support the configured SMTP_SECURITY",
            permanent=False,
            retry_after=CONFIG_RETRY_SECONDS,
        )
    if isinstance(exc, aiosmtplib.SMTPServerDisconnected):
        return SendError("the mail server disconnected", permanent=False)
    if isinstance(exc, TimeoutError):
        return SendError("the mail server timed out", permanent=False)
    if isinstance(exc, OSError):
        return SendError("could not connect to the mail server", permanent=False)
    return SendError(f"email failed ({type(exc).__name__})", permanent=False)


def _refused(code: int) -> SendError:
    if code >= 500:
        return SendError(f"email address refused ({code})", permanent=True, unreachable=True)
    return SendError(f"the mail server deferred the address ({code})", permanent=False)


class EmailSender:
    """Implements ``Sender`` and ``DigestSender`` for the email channel, and sends codes for
    :class:`bot.services.verification.EmailVerificationService`."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], settings: Settings, secret: str
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.secret = secret

    async def _verified(self, user_id: int) -> tuple[str, PreferencesRow]:
        """The user's verified address (read fresh: an unsubscribe takes effect at once)."""
        async with self.sessions() as session:
            row = await PreferencesRepository(session).get(user_id)
        if row is None or not row.email or not row.email_verified:
            raise SendError("no verified email address", permanent=True, unreachable=True)
        return row.email, row

    def _unsubscribe_url(self, user_id: int) -> str:
        return unsubscribe_url(self.settings.public_base_url, user_id, self.secret)

    async def send(self, alert: OutgoingAlert) -> int | None:
        address, _ = await self._verified(alert.user_id)
        message = render_alert_email(
            alert, address, self._unsubscribe_url(alert.user_id), self.settings.smtp_from
        )
        await self._deliver(message, address)
        return None

    async def send_digest(self, digest: OutgoingDigest) -> int | None:
        address, prefs = await self._verified(digest.user_id)
        message = render_digest_email(
            digest,
            address,
            self._unsubscribe_url(digest.user_id),
            self.settings.smtp_from,
            daily_limit=prefs.daily_limit,
        )
        await self._deliver(message, address)
        return None

    async def send_code(self, address: str, code: str) -> None:
        """Mail a verification code to an address that is not verified yet (by definition)."""
        if not self.settings.smtp_host:
            # Not "unreachable": that would tell the user their address was refused.
            raise SendError(NOT_CONFIGURED, permanent=True)
        await self._deliver(
            render_verification_email(address, code, self.settings.smtp_from), address
        )

    async def _deliver(self, message: EmailMessage, to: str) -> None:
        s = self.settings
        if not s.smtp_host:
            # Unreachable, so the dispatcher falls back to Discord instead of failing the alert.
            raise SendError(NOT_CONFIGURED, permanent=True, unreachable=True)
        try:
            await aiosmtplib.send(
                message,
                recipients=[to],
                hostname=s.smtp_host,
                port=s.smtp_port,
                use_tls=s.smtp_security == "tls",
                start_tls=s.smtp_security == "starttls",
                username=s.smtp_username,
                password=s.smtp_password.get_secret_value() if s.smtp_password else None,
                timeout=s.smtp_timeout_seconds,
            )
        except Exception as exc:
            error = classify(exc)
            log.info("email not sent: %s (%s)", error.reason, type(exc).__name__)
            # Not chained: aiosmtplib's errors quote the recipient, and a traceback logged
            # upstream would carry the address with it.
            raise error from None
