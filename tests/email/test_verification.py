"""Email verification: the code travels by real SMTP; the clock is injected."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.delivery.senders.base import SendError
from bot.delivery.senders.email import EmailSender
from bot.errors import UserFacingError
from bot.services.verification import EmailVerificationService
from db.models import PreferencesRow, VerificationRow
from db.repositories.preferences import PreferencesRepository
from tests.email.conftest import SECRET, FakeClock, SmtpServer

USER = 77
ADDRESS = "alice@example.com"


@pytest.fixture
def service(
    sessions: async_sessionmaker[AsyncSession], sender: EmailSender, clock: FakeClock
) -> EmailVerificationService:
    return EmailVerificationService(sessions, sender.send_code, SECRET, clock=clock)


def received_code(smtp: SmtpServer) -> str:
    msg = smtp.handler.last()
    assert msg["Subject"] == "Your Deal Scout verification code"
    text = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    match = re.search(r"\b(\d{6})\b", text)
    assert match, text
    return match.group(1)


def other_than(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


async def stored(
    sessions: async_sessionmaker[AsyncSession], user_id: int = USER
) -> tuple[PreferencesRow | None, VerificationRow | None]:
    async with sessions() as session:
        repo = PreferencesRepository(session)
        return await repo.get(user_id), await repo.verification(user_id, "email")


async def test_code_arrives_by_smtp_and_verifies_the_normalised_address(
    service: EmailVerificationService,
    sessions: async_sessionmaker[AsyncSession],
    smtp: SmtpServer,
) -> None:
    assert await service.start(USER, "  Alice@EXAMPLE.com ") == "Alice@example.com"
    [envelope] = smtp.handler.envelopes
    assert envelope.rcpt_tos == ["Alice@example.com"]
    code = received_code(smtp)
    _, pending = await stored(sessions)
    assert pending is not None and code not in pending.code_hash and pending.attempts == 0

    assert await service.verify(USER, f"{code[:3]} {code[3:]}") == "Alice@example.com"
    prefs, pending = await stored(sessions)
    assert prefs is not None and prefs.email == "Alice@example.com" and prefs.email_verified
    assert pending is None


async def test_five_wrong_codes_kill_the_code(
    service: EmailVerificationService, smtp: SmtpServer, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await service.start(USER, ADDRESS)
    code = received_code(smtp)
    messages = []
    for _ in range(5):
        with pytest.raises(UserFacingError) as caught:
            await service.verify(USER, other_than(code))
        messages.append(caught.value.message)
    assert messages == [
        "wrong code; 4 tries left",
        "wrong code; 3 tries left",
        "wrong code; 2 tries left",
        "wrong code; 1 try left",
        "wrong code, and that was the last try; request a new code",
    ]
    with pytest.raises(UserFacingError, match="request a new code"):
        await service.verify(USER, code)  # even the right code is dead now
    prefs, pending = await stored(sessions)
    assert prefs is None and pending is not None and pending.attempts == 5


async def test_a_new_code_after_a_dead_one_works(
    service: EmailVerificationService, smtp: SmtpServer, clock: FakeClock
) -> None:
    await service.start(USER, ADDRESS)
    first = received_code(smtp)
    for _ in range(5):
        with pytest.raises(UserFacingError):
            await service.verify(USER, other_than(first))
    clock.advance(seconds=61)
    await service.start(USER, ADDRESS)
    assert await service.verify(USER, received_code(smtp)) == ADDRESS


async def test_not_a_code_does_not_use_an_attempt(
    service: EmailVerificationService, smtp: SmtpServer, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await service.start(USER, ADDRESS)
    for bad in ("12345", "abcdef", "1234567", "١٢٣٤٥٦"):
        with pytest.raises(UserFacingError) as caught:
            await service.verify(USER, bad)
        assert caught.value.field == "code"
    _, pending = await stored(sessions)
    assert pending is not None and pending.attempts == 0


async def test_expired_code_is_refused(
    service: EmailVerificationService,
    smtp: SmtpServer,
    clock: FakeClock,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await service.start(USER, ADDRESS)
    code = received_code(smtp)
    clock.advance(minutes=15)
    with pytest.raises(UserFacingError, match="expired; request a new code"):
        await service.verify(USER, code)
    prefs, _ = await stored(sessions)
    assert prefs is None


async def test_no_pending_code(service: EmailVerificationService) -> None:
    with pytest.raises(UserFacingError, match="no code waiting"):
        await service.verify(USER, "123456")


MALFORMED = [
    "not-an-email",
    "a@b",
    "user@@x.com",
    "",
    "x@example.com\r\nBcc: y@example.com",
    "a b@c.com",
]


async def test_malformed_address_is_refused_and_nothing_is_stored(
    service: EmailVerificationService,
    smtp: SmtpServer,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    for address in MALFORMED:  # one database for all of them: each setup costs more than a check
        with pytest.raises(UserFacingError) as caught:
            await service.start(USER, address)
        assert caught.value.field == "address", address
        assert "not a valid email address" in caught.value.message
    assert await stored(sessions) == (None, None)
    assert smtp.handler.envelopes == []


async def test_one_code_a_minute(service: EmailVerificationService, clock: FakeClock) -> None:
    await service.start(USER, ADDRESS)
    clock.advance(seconds=15)
    with pytest.raises(UserFacingError, match="ask again in 45 seconds"):
        await service.start(USER, ADDRESS)
    clock.advance(seconds=45)
    await service.start(USER, ADDRESS)


async def test_five_codes_an_hour(
    service: EmailVerificationService, clock: FakeClock, smtp: SmtpServer
) -> None:
    for _ in range(5):
        await service.start(USER, ADDRESS)
        clock.advance(seconds=61)
    with pytest.raises(
        UserFacingError, match="5 codes in the last hour; you can ask again in 55 minutes"
    ):
        await service.start(USER, ADDRESS)
    assert len(smtp.handler.envelopes) == 5
    clock.advance(minutes=55)
    await service.start(USER, ADDRESS)
    assert len(smtp.handler.envelopes) == 6
    # Only the latest code works.
    assert await service.verify(USER, received_code(smtp)) == ADDRESS


async def test_rate_limits_are_per_user(service: EmailVerificationService) -> None:
    await service.start(USER, ADDRESS)
    await service.start(USER + 1, ADDRESS)


def failing(error: BaseException) -> Callable[[str, str], Awaitable[None]]:
    async def send_code(address: str, code: str) -> None:
        raise error

    return send_code


async def test_failed_first_send_leaves_nothing(
    sessions: async_sessionmaker[AsyncSession], clock: FakeClock
) -> None:
    service = EmailVerificationService(
        sessions, failing(SendError("could not connect", permanent=False)), SECRET, clock=clock
    )
    with pytest.raises(UserFacingError, match="could not send the code; try again later"):
        await service.start(USER, ADDRESS)
    assert await stored(sessions) == (None, None)


async def test_failed_resend_keeps_the_earlier_code_and_counts(
    sessions: async_sessionmaker[AsyncSession],
    sender: EmailSender,
    smtp: SmtpServer,
    clock: FakeClock,
) -> None:
    ok = EmailVerificationService(sessions, sender.send_code, SECRET, clock=clock)
    await ok.start(USER, ADDRESS)
    code = received_code(smtp)
    _, before = await stored(sessions)
    clock.advance(seconds=61)
    broken = EmailVerificationService(
        sessions, failing(OSError("connection refused")), SECRET, clock=clock
    )
    with pytest.raises(UserFacingError, match="could not send the code"):
        await broken.start(USER, "someone.else@example.com")
    _, after = await stored(sessions)
    assert before is not None and after is not None
    assert (after.target, after.code_hash, after.sends, after.last_sent_at) == (
        before.target,
        before.code_hash,
        before.sends,
        before.last_sent_at,
    )
    assert await ok.verify(USER, code) == ADDRESS


async def test_a_refused_address_is_named(
    service: EmailVerificationService, smtp: SmtpServer, sessions: async_sessionmaker[AsyncSession]
) -> None:
    smtp.handler.rcpt_replies["gone@example.com"] = "550 5.1.1 no such user"
    with pytest.raises(UserFacingError) as caught:
        await service.start(USER, "gone@example.com")
    assert caught.value.field == "address" and "refused" in caught.value.message
    assert await stored(sessions) == (None, None)


async def test_remove_clears_address_and_pending_code(
    service: EmailVerificationService,
    smtp: SmtpServer,
    clock: FakeClock,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await service.start(USER, ADDRESS)
    await service.verify(USER, received_code(smtp))
    clock.advance(seconds=61)
    await service.start(USER, "new@example.com")
    await service.remove(USER)
    prefs, pending = await stored(sessions)
    assert prefs is not None and prefs.email is None and not prefs.email_verified
    assert pending is None
    await service.remove(USER + 5)  # nobody: nothing to do, no error


async def test_never_logs_the_address_or_the_code(
    service: EmailVerificationService,
    smtp: SmtpServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("INFO")  # the production default; our own modules even at DEBUG
    caplog.set_level("DEBUG", logger="bot")
    smtp.handler.rcpt_replies["gone@example.com"] = "550 5.1.1 <gone@example.com> no such user"
    with pytest.raises(UserFacingError):
        await service.start(USER, "gone@example.com")
    await service.start(USER + 1, ADDRESS)
    code = received_code(smtp)
    with pytest.raises(UserFacingError):
        await service.verify(USER + 1, other_than(code))
    await service.verify(USER + 1, code)
    # Everything the bot's process logs (not the stand-in SMTP server's own log).
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name != "mail.log")
    assert "verification code not sent" in ours
    assert "gone@example.com" not in ours and ADDRESS not in ours and code not in ours
