"""Composition root: the one place that wires repositories, the index, the outbox and senders.

Nothing else constructs services, so tests and the demo build exactly what production builds,
with only the senders swapped.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.delivery.digests import DigestService
from bot.delivery.dispatcher import Dispatcher, DispatchSettings
from bot.delivery.outbox import Wakeup
from bot.delivery.senders.base import Sender
from bot.delivery.senders.email import EmailSender
from bot.domain.matching import RuleIndex
from bot.domain.rule import GeocodeFn
from bot.geo import geocode as offline_geocode
from bot.ingest.community import ListingService, MarketplacePublisher
from bot.security import effective_secret
from bot.services.admin import AdminService
from bot.services.feedback import FeedbackService
from bot.services.preferences import PreferencesService
from bot.services.rules import RuleService, build_index
from bot.services.verification import EmailVerificationService
from db.migrate import upgrade
from db.session import make_engine, make_sessionmaker


@dataclass
class Services:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    index: RuleIndex
    wakeup: Wakeup
    rules: RuleService
    listings: ListingService
    admin: AdminService
    feedback: FeedbackService
    digests: DigestService
    preferences: PreferencesService
    email_verification: EmailVerificationService
    dispatcher: Dispatcher
    secret: str

    async def close(self) -> None:
        self.dispatcher.stop()
        await self.engine.dispose()


def dispatch_settings(settings: Settings) -> DispatchSettings:
    return DispatchSettings(
        batch_size=settings.dispatch_batch_size,
        max_attempts=settings.dispatch_max_attempts,
        lease=timedelta(seconds=settings.dispatch_lease_seconds),
        idle_seconds=settings.dispatch_idle_seconds,
        concurrency=settings.dispatch_concurrency,
    )


SendersFactory = Callable[
    [async_sessionmaker[AsyncSession]], tuple[Mapping[str, Sender], MarketplacePublisher | None]
]
"""Builds the channel senders (and the marketplace publisher) once the database is open."""


async def build_services(
    settings: Settings,
    make_senders: SendersFactory,
    *,
    geocode: GeocodeFn = offline_geocode,
    engine: AsyncEngine | None = None,
) -> Services:
    """Open the database (migrating it if configured), rebuild the index, wire everything."""
    engine = engine or make_engine(settings.database_url, echo=settings.database_echo)
    if settings.migrate_on_start:
        await upgrade(engine)
    sessions = make_sessionmaker(engine)
    secret = effective_secret(settings)
    email = EmailSender(sessions, settings, secret)
    made, publisher = make_senders(sessions)
    senders: dict[str, Sender] = {"email": email, **made}  # a factory may replace email (tests)
    index = await build_index(sessions)
    wakeup = Wakeup()
    digests = DigestService(sessions, wakeup)
    return Services(
        settings=settings,
        engine=engine,
        sessions=sessions,
        index=index,
        wakeup=wakeup,
        rules=RuleService(sessions, index, geocode),
        listings=ListingService(
            sessions,
            index,
            geocode,
            wakeup,
            min_comparables=settings.min_comparables,
            publisher=publisher,
        ),
        admin=AdminService(sessions),
        feedback=FeedbackService(sessions),
        digests=digests,
        preferences=PreferencesService(sessions),
        email_verification=EmailVerificationService(sessions, email.send_code, secret),
        secret=secret,
        dispatcher=Dispatcher(
            sessions, senders, wakeup, dispatch_settings(settings), digests=digests
        ),
    )
