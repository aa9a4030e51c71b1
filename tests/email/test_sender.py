"""EmailSender against a real SMTP server, and the unsubscribe link in what it sent."""

from __future__ import annotations

from urllib.parse import urlsplit

import aiosmtplib
import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.delivery.senders.base import SendError
from bot.delivery.senders.email import EmailSender, classify
from bot.services import Services
from bot.web import build_web_app
from db.repositories.preferences import PreferencesRepository
from tests.email.conftest import FROM, SECRET, SmtpServer, free_port, sender_on, set_verified_email
from tests.email.factories import EVIL_TITLE, USER, alert, digest

ADDRESS = "buyer@example.com"


def unsubscribe_path(header: str) -> str:
    url = urlsplit(header.strip("<>"))
    assert url.scheme == "https" and url.netloc == "deals.example"
    return f"{url.path}?{url.query}"


async def test_alert_arrives_and_its_unsubscribe_link_works(
    services: Services, sender: EmailSender, smtp: SmtpServer
) -> None:
    await set_verified_email(services.sessions, USER, ADDRESS)
    assert await sender.send(alert()) is None

    [envelope] = smtp.handler.envelopes
    assert envelope.rcpt_tos == [ADDRESS]
    msg = smtp.handler.last()
    assert msg["Subject"] == "Deal Alert: Gaming chairs"
    assert msg["From"] == FROM and msg["To"] == ADDRESS
    assert msg["Message-ID"] == "<alert.dsalert0001@dealscout.example>"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = msg.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert EVIL_TITLE in text and "<script>" not in html and "&lt;script&gt;" in html
    path = unsubscribe_path(msg["List-Unsubscribe"])
    assert path in text and path in html

    # RFC 8058 one-click, as a mail provider sends it.
    async with TestClient(TestServer(build_web_app(services.sessions, SECRET))) as client:
        response = await client.post(
            path,
            data="List-Unsubscribe=One-Click",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert response.status == 200
        assert "You will get no more emails from Deal Scout" in await response.text()

    async with services.sessions() as session:
        prefs = await PreferencesRepository(session).get(USER)
        assert prefs is not None
        assert prefs.email_verified is False and prefs.email == ADDRESS

    with pytest.raises(SendError) as caught:
        await sender.send(alert(nonce="dsalert0002"))
    assert caught.value.permanent and caught.value.unreachable
    assert caught.value.reason == "no verified email address"
    assert len(smtp.handler.envelopes) == 1


async def test_digest_arrives_grouped_with_the_cap_line(
    services: Services, sender: EmailSender, smtp: SmtpServer
) -> None:
    await set_verified_email(services.sessions, USER, ADDRESS, daily_limit=10)
    assert await sender.send_digest(digest()) is None
    msg = smtp.handler.last()
    assert msg["Subject"] == "Your Deal Scout daily digest (3 deals)"
    assert msg["Message-ID"] == "<digest.dsdigest0001@dealscout.example>"
    assert msg["List-Unsubscribe"].startswith("<https://deals.example/unsubscribe?token=")
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    text = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "3 alerts over your daily limit of 10 are in this digest" in text


@pytest.mark.parametrize("state", ["no row", "no address", "unverified"])
async def test_no_verified_address_is_permanent_and_unreachable(
    sessions: async_sessionmaker[AsyncSession], sender: EmailSender, smtp: SmtpServer, state: str
) -> None:
    if state != "no row":
        async with sessions.begin() as session:
            prefs = await PreferencesRepository(session).get_or_create(USER)
            prefs.email = None if state == "no address" else ADDRESS
            prefs.email_verified = state == "no address"
    for send in (sender.send(alert()), sender.send_digest(digest())):
        with pytest.raises(SendError) as caught:
            await send
        assert caught.value.permanent and caught.value.unreachable
    assert smtp.handler.envelopes == []


async def test_smtp_down_is_transient(services: Services) -> None:
    await set_verified_email(services.sessions, USER, ADDRESS)
    down = sender_on(services, smtp_port=free_port(), smtp_timeout_seconds=2)
    with pytest.raises(SendError) as caught:
        await down.send(alert())
    assert not caught.value.permanent and not caught.value.unreachable
    assert "connect" in caught.value.reason


async def test_550_for_the_recipient_is_permanent_and_unreachable(
    services: Services, sender: EmailSender, smtp: SmtpServer
) -> None:
    await set_verified_email(services.sessions, USER, ADDRESS)
    smtp.handler.rcpt_replies[ADDRESS] = f"550 5.1.1 <{ADDRESS}>: no such user"
    with pytest.raises(SendError) as caught:
        await sender.send(alert())
    assert caught.value.permanent and caught.value.unreachable
    assert caught.value.reason == "email address refused (550)"
    assert ADDRESS not in caught.value.reason and caught.value.__cause__ is None
    assert smtp.handler.envelopes == []


async def test_451_for_the_recipient_is_transient(
    services: Services, sender: EmailSender, smtp: SmtpServer
) -> None:
    await set_verified_email(services.sessions, USER, ADDRESS)
    smtp.handler.rcpt_replies[ADDRESS] = "451 4.3.0 try again later"
    with pytest.raises(SendError) as caught:
        await sender.send_digest(digest())
    assert not caught.value.permanent and not caught.value.unreachable
    assert "451" in caught.value.reason


async def test_unconfigured_smtp_makes_email_unreachable(services: Services) -> None:
    """Alerts fall back to Discord; a code request fails without blaming the address."""
    await set_verified_email(services.sessions, USER, ADDRESS)
    unconfigured = sender_on(services, smtp_host=None)
    with pytest.raises(SendError) as caught:
        await unconfigured.send(alert())
    assert caught.value.permanent and caught.value.unreachable
    assert "SMTP_HOST" in caught.value.reason
    with pytest.raises(SendError) as caught:
        await unconfigured.send_code(ADDRESS, "123456")
    assert caught.value.permanent and not caught.value.unreachable


@pytest.mark.parametrize(
    ("error", "permanent", "unreachable", "reason"),
    [
        (aiosmtplib.SMTPConnectError("refused"), False, False, "could not connect"),
        (aiosmtplib.SMTPConnectTimeoutError("slow"), False, False, "timed out"),
        (aiosmtplib.SMTPReadTimeoutError("slow"), False, False, "timed out"),
        (aiosmtplib.SMTPServerDisconnected("bye"), False, False, "disconnected"),
        (ConnectionRefusedError(), False, False, "could not connect"),
        (aiosmtplib.SMTPRecipientRefused(550, "no such user", ADDRESS), True, True, "(550)"),
        (aiosmtplib.SMTPRecipientRefused(452, "mailbox full", ADDRESS), False, False, "(452)"),
        (aiosmtplib.SMTPSenderRefused(553, "not yours", "x@y"), True, False, "sender address"),
        (aiosmtplib.SMTPDataError(554, "spam"), True, False, "(554)"),
        (aiosmtplib.SMTPDataError(421, "later"), False, False, "(421)"),
        (aiosmtplib.SMTPAuthenticationError(535, "bad login"), False, False, "login"),
        (aiosmtplib.SMTPNotSupported("no STARTTLS"), False, False, "SMTP_SECURITY"),
    ],
)
def test_smtp_errors_are_classified_by_meaning(
    error: Exception, permanent: bool, unreachable: bool, reason: str
) -> None:
    result = classify(error)
    assert (result.permanent, result.unreachable) == (permanent, unreachable)
    assert reason in result.reason
    assert ADDRESS not in result.reason and "spam" not in result.reason


def test_configuration_errors_retry_slowly() -> None:
    assert classify(aiosmtplib.SMTPAuthenticationError(535, "x")).retry_after == 300
