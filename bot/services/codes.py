"""What email and phone verification share: the resend limits, undoing a code whose send failed,
and one-at-a-time handling per user.

Codes arrive at most once a minute and five times an hour per user, so the bot cannot be used to
spam an address or a number. Claims take turns per user in this process because SQLite does not
honour FOR UPDATE (PostgreSQL locks the row as well), so two clicks cannot both pass a limit or
both spend the last attempt.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.delivery.senders.base import SendError
from bot.errors import UserFacingError
from bot.security import CODE_DIGITS
from db.models import VerificationRow

RESEND_INTERVAL = timedelta(seconds=60)
SEND_WINDOW = timedelta(hours=1)
MAX_SENDS_PER_WINDOW = 5
MAX_ATTEMPTS = 5


def wait_text(delta: timedelta) -> str:
    seconds = max(1, math.ceil(delta.total_seconds()))
    if seconds < 90:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = math.ceil(seconds / 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def why(exc: BaseException) -> str:
    """A failure described without its message (which may quote the address or number)."""
    return exc.reason if isinstance(exc, SendError) else type(exc).__name__


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A verification row's state before a new code replaced it, to undo a failed send."""

    target: str
    code_hash: str
    expires_at: datetime
    attempts: int
    sends: int
    window_started_at: datetime
    last_sent_at: datetime

    @classmethod
    def of(cls, row: VerificationRow) -> Snapshot:
        return cls(
            row.target,
            row.code_hash,
            row.expires_at,
            row.attempts,
            row.sends,
            row.window_started_at,
            row.last_sent_at,
        )

    def restore(self, row: VerificationRow) -> None:
        row.target, row.code_hash, row.expires_at = self.target, self.code_hash, self.expires_at
        row.attempts, row.sends = self.attempts, self.sends
        row.window_started_at, row.last_sent_at = self.window_started_at, self.last_sent_at


async def pending(session: AsyncSession, user_id: int, kind: str) -> VerificationRow | None:
    """The user's waiting code of ``kind``, locked on PostgreSQL."""
    return await session.scalar(
        select(VerificationRow)
        .where(VerificationRow.user_id == user_id, VerificationRow.kind == kind)
        .with_for_update()
    )


def check_rate(row: VerificationRow, now: datetime) -> None:
    """Refuse a new code sent too soon after the last, or beyond five an hour."""
    if row.sends == 0:
        return
    wait = row.last_sent_at + RESEND_INTERVAL - now
    if wait > timedelta(0):
        raise UserFacingError(
            f"a code was sent less than a minute ago; you can ask again in {wait_text(wait)}"
        )
    window_ends = row.window_started_at + SEND_WINDOW
    if row.sends >= MAX_SENDS_PER_WINDOW and window_ends > now:
        raise UserFacingError(
            f"you have asked for {MAX_SENDS_PER_WINDOW} codes in the last hour; "
            f"you can ask again in {wait_text(window_ends - now)}"
        )


async def undo(
    sessions: async_sessionmaker[AsyncSession],
    user_id: int,
    kind: str,
    code_hash: str,
    before: Snapshot | None,
) -> None:
    """Put the row back as it was before a code whose send failed (unless changed since)."""
    async with sessions.begin() as session:
        row = await pending(session, user_id, kind)
        if row is None or row.code_hash != code_hash:
            return  # someone else has changed it since; theirs stands
        if before is None:
            await session.delete(row)
        else:
            before.restore(row)


def entered_code(code: str, medium: str) -> str:
    """The code as typed, spaces removed; refused (without using an attempt) unless it is the
    right number of digits. ``medium`` says where it came from ("email", "text")."""
    entered = "".join(code.split())
    if not (entered.isascii() and entered.isdigit() and len(entered) == CODE_DIGITS):
        raise UserFacingError(
            f"the code is the {CODE_DIGITS} digits in the {medium} we sent", field="code"
        )
    return entered


async def live_code(
    session: AsyncSession, user_id: int, kind: str, now: datetime
) -> VerificationRow:
    """The waiting code of ``kind`` if it can still be tried: not expired, attempts left."""
    row = await pending(session, user_id, kind)
    if row is None:
        raise UserFacingError("there is no code waiting; ask for one first")
    if row.attempts >= MAX_ATTEMPTS:
        raise UserFacingError(
            "this code was entered wrong too often; request a new code", field="code"
        )
    if now >= row.expires_at:
        raise UserFacingError("this code has expired; request a new code", field="code")
    return row


def spend_attempt(row: VerificationRow) -> UserFacingError:
    """Count a wrong code; the error to raise after the commit (so the attempt is kept)."""
    row.attempts += 1
    left = MAX_ATTEMPTS - row.attempts
    if left:
        return UserFacingError(
            f"wrong code; {left} {'try' if left == 1 else 'tries'} left", field="code"
        )
    return UserFacingError(
        "wrong code, and that was the last try; request a new code", field="code"
    )
