"""Fixtures for the email channel: a real SMTP server (aiosmtpd, in its own thread), a migrated
database on SQLite or PostgreSQL, and an EmailSender pointed at the server."""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any, cast

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.delivery.senders.email import EmailSender
from bot.services import Services, build_services
from db.migrate import upgrade
from db.models import PreferencesRow, VerificationRow
from db.repositories.preferences import PreferencesRepository
from db.session import make_engine
from tests.dbutil import BACKENDS, database_url

SECRET = "test-secret-key"
FROM = "Deal Scout <alerts@dealscout.example>"
BASE_URL = "https://deals.example"


def free_port() -> int:
    """A port nothing listens on (bound and released at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RecordingHandler:
    """An aiosmtpd handler that keeps every message and can refuse chosen recipients."""

    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []
        self.rcpt_replies: dict[str, str] = {}

    def reset(self) -> None:
        self.envelopes.clear()
        self.rcpt_replies.clear()

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        reply = self.rcpt_replies.get(address)
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    def messages(self) -> list[EmailMessage]:
        return [
            cast(
                EmailMessage,
                email.message_from_bytes(cast(bytes, e.content), policy=email.policy.default),
            )
            for e in self.envelopes
        ]

    def last(self) -> EmailMessage:
        assert self.envelopes, "no message reached the SMTP server"
        return self.messages()[-1]


@dataclass
class SmtpServer:
    handler: RecordingHandler
    port: int


@pytest.fixture(scope="session")
def _smtp_controller() -> Iterator[SmtpServer]:
    handler = RecordingHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield SmtpServer(handler, port)
    finally:
        controller.stop()


@pytest.fixture
def smtp(_smtp_controller: SmtpServer) -> SmtpServer:
    """The SMTP server, with no messages and no refusals left over from earlier tests."""
    _smtp_controller.handler.reset()
    return _smtp_controller


@pytest.fixture(scope="session", params=BACKENDS)
def _migrated_database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """One migrated database per backend for the whole run (as tests/delivery makes them, but
    once: creating and migrating a PostgreSQL database per test would cost most of the run).
    Runs on its own event loop because the tests' loops are per function."""
    loop = asyncio.new_event_loop()
    database = database_url(request.param, tmp_path_factory.mktemp("email-db"))
    try:
        url = loop.run_until_complete(database.__aenter__())
        engine = make_engine(url)
        loop.run_until_complete(upgrade(engine))
        loop.run_until_complete(engine.dispose())
        yield url
    finally:
        loop.run_until_complete(database.__aexit__(None, None, None))
        loop.close()


@pytest.fixture
async def services(_migrated_database: str, smtp: SmtpServer) -> AsyncIterator[Services]:
    """The services over the shared database, emptied of what these tests write."""
    settings = Settings(
        database_url=_migrated_database,
        discord_token=None,
        _env_file=None,  # type: ignore[call-arg]
        migrate_on_start=False,
        smtp_host="127.0.0.1",
        smtp_port=smtp.port,
        smtp_security="none",
        smtp_from=FROM,
        smtp_timeout_seconds=5,
        public_base_url=BASE_URL,
    )
    built = await build_services(settings, lambda _s: ({}, None))
    try:
        async with built.sessions.begin() as session:
            await session.execute(delete(VerificationRow))
            await session.execute(delete(PreferencesRow))
        yield built
    finally:
        await built.close()


@pytest.fixture
def sessions(services: Services) -> async_sessionmaker[AsyncSession]:
    return services.sessions


@pytest.fixture
def sender(services: Services) -> EmailSender:
    return EmailSender(services.sessions, services.settings, SECRET)


def sender_on(services: Services, **changes: Any) -> EmailSender:
    """An EmailSender whose settings differ from the fixture's (e.g. another SMTP port)."""
    return EmailSender(services.sessions, services.settings.model_copy(update=changes), SECRET)


async def set_verified_email(
    sessions: async_sessionmaker[AsyncSession], user_id: int, address: str, *, daily_limit: int = 10
) -> None:
    async with sessions.begin() as session:
        prefs = await PreferencesRepository(session).get_or_create(user_id)
        prefs.email, prefs.email_verified, prefs.daily_limit = address, True, daily_limit


class FakeClock:
    """An injectable clock that only moves when told to."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
