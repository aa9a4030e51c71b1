"""Signed tokens and hashed codes: the only cryptography the bot does itself.

Unsubscribe links must work without a login, so they carry the user id signed with the server's
secret (HMAC-SHA256) instead of a database-stored token; a forged or edited link fails the check.
Verification codes are stored as keyed hashes so a copy of the database does not reveal live
codes. Every comparison is constant-time so response timing leaks nothing about a correct value.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import secrets
from datetime import UTC, datetime, timedelta

from bot.config import Settings

log = logging.getLogger(__name__)

UNSUBSCRIBE_PURPOSE = "unsubscribe"
UNSUBSCRIBE_MAX_AGE = timedelta(days=365)
"""Unsubscribe links keep working for a year: mail gets read late, and a stale link only lets
someone turn email *off*. Older links get a page pointing at /prefs email remove instead."""

CODE_DIGITS = 6
CODE_TTL = timedelta(minutes=15)
"""How long a verification code works (the email says so too)."""
_CODE_PURPOSE = b"verification-code"

_process_secret: str | None = None


class BadSignature(ValueError):
    """The token was not made by us for this purpose, was altered, or is too old."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise BadSignature("malformed token") from exc


def _mac(purpose: str, payload: str, secret: str) -> str:
    # The purpose is part of the MAC (not of the token) so a token minted for one use
    # can never be replayed for another, even though it names no purpose itself.
    message = purpose.encode() + b"\x00" + payload.encode()
    return _b64(hmac.new(secret.encode(), message, hashlib.sha256).digest())


def sign(purpose: str, value: str, secret: str, *, now: datetime | None = None) -> str:
    """A URL-safe token ``value.timestamp.mac`` that proves we issued ``value`` for ``purpose``.

    The value is only encoded, not encrypted: never sign anything the holder must not read.
    """
    issued = int((now or datetime.now(UTC)).timestamp())
    payload = f"{_b64(value.encode())}.{issued}"
    return f"{payload}.{_mac(purpose, payload, secret)}"


def unsign(
    purpose: str,
    token: str,
    secret: str,
    max_age: timedelta | None,
    *,
    now: datetime | None = None,
) -> str:
    """The value inside ``token``; raises :class:`BadSignature` if it is forged, altered, made
    for another purpose, or older than ``max_age`` (``None``: never expires)."""
    parts = token.split(".")
    if len(parts) != 3:
        raise BadSignature("malformed token")
    encoded, issued_text, mac = parts
    payload = f"{encoded}.{issued_text}"
    if not hmac.compare_digest(mac.encode(), _mac(purpose, payload, secret).encode()):
        raise BadSignature("signature does not match")
    try:
        issued = datetime.fromtimestamp(int(issued_text), UTC)
    except (ValueError, OverflowError, OSError) as exc:
        raise BadSignature("malformed timestamp") from exc
    if max_age is not None and (now or datetime.now(UTC)) - issued > max_age:
        raise BadSignature("token expired")
    try:
        return _unb64(encoded).decode()
    except UnicodeDecodeError as exc:
        raise BadSignature("malformed token") from exc


def unsubscribe_token(user_id: int, secret: str, *, now: datetime | None = None) -> str:
    """The token in a user's unsubscribe links."""
    return sign(UNSUBSCRIBE_PURPOSE, str(user_id), secret, now=now)


def user_from_unsubscribe_token(
    token: str,
    secret: str,
    *,
    max_age: timedelta | None = UNSUBSCRIBE_MAX_AGE,
    now: datetime | None = None,
) -> int:
    """The user an unsubscribe token was issued to; raises :class:`BadSignature`."""
    value = unsign(UNSUBSCRIBE_PURPOSE, token, secret, max_age, now=now)
    if not value.isdigit():
        raise BadSignature("not a user id")
    return int(value)


def hash_code(code: str, secret: str) -> str:
    """A keyed hash of a verification code (hex). Keyed, because six digits are trivially
    brute-forced from a plain hash."""
    return hmac.new(secret.encode(), _CODE_PURPOSE + b"\x00" + code.encode(), "sha256").hexdigest()


def check_code(code: str, hashed: str, secret: str) -> bool:
    """Whether ``code`` is the one ``hashed`` was made from (constant-time)."""
    return hmac.compare_digest(hash_code(code, secret).encode(), hashed.encode())


def new_code() -> str:
    """A fresh 6-digit code from the OS's CSPRNG (leading zeros kept)."""
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def effective_secret(settings: Settings) -> str:
    """``DEALSCOUT_SECRET_KEY``, or a random key for this process when it is unset.

    The bot must run without configuration, so a missing key is not fatal; but links signed with
    a per-process key stop working after a restart, so the operator is warned (once). The key
    itself is never logged.
    """
    global _process_secret
    if settings.secret_key is not None and settings.secret_key.get_secret_value():
        return settings.secret_key.get_secret_value()
    if _process_secret is None:
        _process_secret = secrets.token_urlsafe(32)
        log.warning(
            "DEALSCOUT_SECRET_KEY is not set: using a random key for this process. "
            "Unsubscribe links in emails sent now will stop working after a restart."
        )
    return _process_secret
