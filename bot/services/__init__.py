"""Composition root: the one place that wires repositories, the index, the outbox and senders.

Nothing else constructs services, so tests and the demo build exactly what production builds,
with only the senders swapped.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta

import aiohttp
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.crypto import Vault
from bot.delivery.digests import DigestService
from bot.delivery.dispatcher import Dispatcher, DispatchSettings
from bot.delivery.outbox import Wakeup
from bot.delivery.senders.base import Sender
from bot.delivery.senders.email import EmailSender
from bot.delivery.senders.sms import SmsSender
from bot.domain.failover import known_channels
from bot.domain.matching import RuleIndex
from bot.domain.rule import GeocodeFn
from bot.geo import geocode as offline_geocode
from bot.ingest.community import ListingService, MarketplacePublisher
from bot.ingest.discogs_client import DiscogsClient
from bot.ingest.discogs_listings import ListingSource, NoListingSource
from bot.ingest.discogs_sellpage import SellPageSource
from bot.ingest.discogs_watch import DiscogsWatcher
from bot.ingest.feed_fetch import FeedFetcher
from bot.ingest.feeds import FeedService
from bot.ingest.ratelimit import PriorityRateLimiter
from bot.security import effective_secret
from bot.services.admin import AdminService
from bot.services.deliveries import DeliveryReportService
from bot.services.feedback import FeedbackService
from bot.services.notices import NoticeService
from bot.services.phone import PhoneVerificationService
from bot.services.preferences import PreferencesService
from bot.services.recommend import RecommendationService
from bot.services.rules import RuleService, build_index
from bot.services.verification import EmailVerificationService
from bot.services.wanted import WantedService
from bot.services.watchlist import WatchService
from bot.services.webhooks import WebhookService
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
    phone_verification: PhoneVerificationService
    notices: NoticeService
    """One-time notices by DM; the bot sets ``notices.deliver`` (it needs the client)."""
    sms: SmsSender
    webhooks: WebhookService
    deliveries: DeliveryReportService
    wanted: WantedService
    discogs_watcher: DiscogsWatcher
    http: aiohttp.ClientSession
    """The one HTTP session for Discogs (API and, when enabled, sell pages) and feeds."""
    feeds: FeedService
    watchlist: WatchService
    recommend: RecommendationService

    async def close(self) -> None:
        self.dispatcher.stop()
        self.discogs_watcher.stop()
        self.feeds.stop()
        await self.sms.close()
        await self.http.close()
        await self.engine.dispose()


def dispatch_settings(settings: Settings) -> DispatchSettings:
    return DispatchSettings(
        batch_size=settings.dispatch_batch_size,
        max_attempts=settings.dispatch_max_attempts,
        lease=timedelta(seconds=settings.dispatch_lease_seconds),
        idle_seconds=settings.dispatch_idle_seconds,
        concurrency=settings.dispatch_concurrency,
        breaker_failures=settings.breaker_failures,
        breaker_cooldown=timedelta(seconds=settings.breaker_cooldown_seconds),
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
    vault = Vault(secret)
    notices = NoticeService(sessions)
    sms = SmsSender(sessions, settings, vault, notify=notices.notify_once)
    made, publisher = make_senders(sessions)
    # A factory may replace email or sms (tests).
    senders: dict[str, Sender] = {"email": email, "sms": sms, **made}
    index = await build_index(sessions)
    wakeup = Wakeup()
    digests = DigestService(sessions, wakeup)
    dispatcher = Dispatcher(
        sessions,
        senders,
        wakeup,
        dispatch_settings(settings),
        digests=digests,
        notify=notices.notify_once,
    )
    http = aiohttp.ClientSession()
    watcher, wanted = discogs_parts(settings, sessions, http, wakeup)
    listings = ListingService(
        sessions,
        index,
        geocode,
        wakeup,
        min_comparables=settings.min_comparables,
        publisher=publisher,
    )
    fetcher = FeedFetcher(
        http, settings.feed_user_agent, allow_private=settings.feed_allow_private_hosts
    )
    return Services(
        settings=settings,
        engine=engine,
        sessions=sessions,
        index=index,
        wakeup=wakeup,
        rules=RuleService(sessions, index, geocode),
        listings=listings,
        admin=AdminService(sessions),
        feedback=FeedbackService(sessions),
        digests=digests,
        preferences=PreferencesService(sessions),
        email_verification=EmailVerificationService(sessions, email.send_code, secret),
        phone_verification=PhoneVerificationService(sessions, sms.send_code, secret, vault),
        notices=notices,
        sms=sms,
        secret=secret,
        dispatcher=dispatcher,
        webhooks=WebhookService(sessions, vault, senders.get("webhook")),
        deliveries=DeliveryReportService(
            sessions, dispatcher.breakers, [c for c in known_channels() if c in senders]
        ),
        wanted=wanted,
        discogs_watcher=watcher,
        http=http,
        feeds=FeedService(sessions, listings, fetcher, geocode),
        watchlist=WatchService(sessions, listings),
        recommend=RecommendationService(sessions, index),
    )


UNAUTHENTICATED_PER_MINUTE = 25
"""Discogs allows 25 requests a minute without a token (60 with one)."""


def discogs_parts(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    http: aiohttp.ClientSession,
    wakeup: Wakeup,
) -> tuple[DiscogsWatcher, WantedService]:
    """The Discogs client (one process-wide rate limiter), the watcher and the wanted list."""
    per_minute = settings.discogs_requests_per_minute
    if settings.discogs_token is None:
        per_minute = min(per_minute, UNAUTHENTICATED_PER_MINUTE)
    reserve = min(settings.discogs_interactive_reserve, per_minute // 2)
    limiter = PriorityRateLimiter(per_minute, reserve)
    client = DiscogsClient(http, settings, limiter)
    source: ListingSource = NoListingSource()
    if settings.discogs_sell_page:
        source = SellPageSource(
            http, base_url=settings.discogs_web_base, user_agent=settings.discogs_user_agent
        )
    watcher = DiscogsWatcher(
        sessions,
        client,
        source=source,
        wakeup=wakeup,
        can_suggest=settings.discogs_token is not None,
    )
    sell_page = "on" if settings.discogs_sell_page else "off"
    cooldown = timedelta(seconds=settings.discogs_check_cooldown_seconds)
    wanted = WantedService(sessions, client, watcher, sell_page=sell_page, check_cooldown=cooldown)
    return watcher, wanted
