"""Fixtures for the SMS channel: the Twilio stand-in on 127.0.0.1 (the real ``twilio`` client is
pointed at it through ``TWILIO_API_BASE``), a migrated database on SQLite or PostgreSQL, and the
sender and verification service over both, with an injected clock."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.crypto import Vault
from bot.delivery.senders.sms import SmsSender
from bot.services import Services, build_services
from bot.services.phone import PhoneVerificationService
from db.migrate import upgrade
from db.models import OutboxRow, PreferencesRow, RuleRow, SmsUsage, VerificationRow
from db.repositories.preferences import PreferencesRepository
from db.session import make_engine
from tests.dbutil import BACKENDS, database_url
from tests.fakes import RecordingSender
from tests.standins.twilio import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER, TwilioStandin

SECRET = "sms-test-secret-key"
NUMBER = "+14155550123"
DIGITS = "4155550123"


class FakeClock:
    """An injectable clock that only moves when told to."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class Notices:
    """Stands in for the DM the bot sends a notice by: records (user, text)."""

    def __init__(self) -> None:
        self.sent: list[tuple[int, str]] = []

    async def __call__(self, user_id: int, text: str) -> None:
        self.sent.append((user_id, text))

    def to(self, user_id: int) -> list[str]:
        return [text for user, text in self.sent if user == user_id]


@pytest.fixture
async def twilio() -> AsyncIterator[TwilioStandin]:
    standin = TwilioStandin()
    await standin.start()
    try:
        yield standin
    finally:
        await standin.stop()


def twilio_settings(twilio: TwilioStandin, **changes: Any) -> dict[str, Any]:
    return {
        "twilio_account_sid": ACCOUNT_SID,
        "twilio_auth_token": AUTH_TOKEN,
        "twilio_from_number": FROM_NUMBER,
        "twilio_api_base": twilio.base_url,
        **changes,
    }


@pytest.fixture(scope="session", params=BACKENDS)
def _migrated_database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """One migrated database per backend for the whole run (as tests/email does), on its own
    event loop because the tests' loops are per function."""
    loop = asyncio.new_event_loop()
    database = database_url(request.param, tmp_path_factory.mktemp("sms-db"))
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
def dm() -> RecordingSender:
    return RecordingSender("dm")


@pytest.fixture
async def services(
    _migrated_database: str, twilio: TwilioStandin, dm: RecordingSender
) -> AsyncIterator[Services]:
    """The services over the shared database (emptied first), SMS pointed at the stand-in, a
    recording DM sender, and notices recorded instead of DMed."""
    settings = Settings(
        database_url=_migrated_database,
        discord_token=None,
        _env_file=None,  # type: ignore[call-arg]
        migrate_on_start=False,
        secret_key=SecretStr(SECRET),
        **twilio_settings(twilio),
    )
    engine = make_engine(_migrated_database)
    async with engine.begin() as conn:  # before the index is built from the rules table
        for table in (VerificationRow, PreferencesRow, SmsUsage, OutboxRow, RuleRow):
            await conn.execute(delete(table))
    await engine.dispose()
    built = await build_services(settings, lambda _s: ({"dm": dm}, None))
    try:
        yield built
    finally:
        await built.close()


@pytest.fixture
def sessions(services: Services) -> async_sessionmaker[AsyncSession]:
    return services.sessions


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def notices(services: Services) -> Notices:
    recorder = Notices()
    services.notices.deliver = recorder
    return recorder


@pytest.fixture
def vault() -> Vault:
    return Vault(SECRET)


@pytest.fixture
def sender(services: Services, clock: FakeClock, notices: Notices) -> SmsSender:
    """The composition root's own SmsSender, on the test clock."""
    services.sms.clock = clock
    return services.sms


@pytest.fixture
def phone(
    services: Services, sender: SmsSender, vault: Vault, clock: FakeClock
) -> PhoneVerificationService:
    service = services.phone_verification
    service.clock = clock
    return service


def sender_on(services: Services, clock: FakeClock, **changes: Any) -> SmsSender:
    """An SmsSender whose settings differ from the fixture's (close it after use)."""
    return SmsSender(
        services.sessions,
        services.settings.model_copy(update=changes),
        Vault(SECRET),
        notify=services.notices.notify_once,
        clock=clock,
    )


async def set_verified_phone(
    sessions: async_sessionmaker[AsyncSession],
    user_id: int,
    number: str = NUMBER,
    **fields: Any,
) -> None:
    async with sessions.begin() as session:
        prefs = await PreferencesRepository(session).get_or_create(user_id)
        prefs.phone_encrypted = Vault(SECRET).encrypt(number)
        prefs.phone_last2 = number[-2:]
        prefs.phone_verified = True
        prefs.sms_opted_out = False
        for name, value in fields.items():
            setattr(prefs, name, value)


async def preferences(
    sessions: async_sessionmaker[AsyncSession], user_id: int
) -> PreferencesRow | None:
    async with sessions() as session:
        return await PreferencesRepository(session).get(user_id)
