"""The Discord client: builds the services in ``setup_hook``, loads one cog per feature and runs
the dispatcher beside the gateway connection. Commands are never synced on start (Discord rate
limits global syncs); use ``python -m bot sync-commands`` or ``/admin sync``."""

from __future__ import annotations

import asyncio
import logging

import discord
import yarl
from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from discord.ext import commands
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.crypto import Vault
from bot.delivery.senders.base import Sender
from bot.delivery.senders.discord_channel import DiscordChannelSender, DiscordMarketplacePublisher
from bot.delivery.senders.discord_dm import DiscordDMSender
from bot.delivery.senders.pacing import OneAtATime
from bot.delivery.senders.webhook import WebhookSender
from bot.i18n import DealScoutTranslator
from bot.ingest.community import MarketplacePublisher
from bot.jobs import start_scheduler
from bot.security import effective_secret
from bot.services import Services, build_services
from bot.web import build_web_app, start_web

log = logging.getLogger(__name__)

EXTENSIONS = (
    "cogs.errors",
    "cogs.alerts",
    "cogs.sell",
    "cogs.admin",
    "cogs.digests",
    "cogs.preferences",
    "cogs.wanted",
    "cogs.watch",
    "cogs.listing",
    "cogs.deals",
)


def apply_endpoints(settings: Settings) -> None:
    """Point discord.py at a Discord-compatible endpoint (documented for testing only)."""
    if settings.discord_api_base:
        discord.http.Route.BASE = settings.discord_api_base.rstrip("/")
    if settings.discord_gateway_url:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.discord_gateway_url)


discord.VoiceClient.warn_nacl = False  # a text-only bot: no voice, no warning about it


class DealScoutBot(commands.AutoShardedBot):
    services: Services

    def __init__(self, settings: Settings) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=discord.Intents.default(),
            help_command=None,
            allowed_mentions=discord.AllowedMentions.none(),
            owner_ids=set(settings.owner_ids) or None,
        )
        self.settings = settings
        self._dispatcher_task: asyncio.Task[None] | None = None
        self._watch_task: asyncio.Task[None] | None = None
        self._feeds_task: asyncio.Task[None] | None = None
        self._scheduler: AsyncIOScheduler | None = None
        self._web: web.AppRunner | None = None

    def make_senders(
        self, sessions: async_sessionmaker[AsyncSession]
    ) -> tuple[dict[str, Sender], MarketplacePublisher]:
        pacing = OneAtATime()  # shared: DMs, alert and marketplace posts use the same buckets
        self._dm = DiscordDMSender(self, sessions, pacing)
        senders: dict[str, Sender] = {
            "dm": self._dm,
            "channel": DiscordChannelSender(self, sessions, pacing),
            # discord.py paces each webhook itself (one request at a time, 429s retried).
            "webhook": WebhookSender(self, sessions, Vault(effective_secret(self.settings))),
        }
        return senders, DiscordMarketplacePublisher(self, sessions, pacing)

    async def setup_hook(self) -> None:
        await self.tree.set_translator(DealScoutTranslator())
        self.services = await build_services(self.settings, self.make_senders)
        self.services.notices.deliver = self._dm.notify  # one-time notices go by DM
        for extension in EXTENSIONS:
            await self.load_extension(extension)
        self._dispatcher_task = asyncio.create_task(
            self.services.dispatcher.run_forever(), name="dispatcher"
        )
        if self.settings.feeds_enabled:
            self._feeds_task = asyncio.create_task(self.services.feeds.run_forever(), name="feeds")
        if self.settings.discogs_watch:
            self._watch_task = asyncio.create_task(
                self.services.discogs_watcher.run_forever(), name="discogs-watcher"
            )
        self._scheduler = start_scheduler(self.services, self.settings.scheduler_interval_seconds)
        if self.settings.http_port is not None:
            app = build_web_app(self.services.sessions, self.services.secret)
            self._web = await start_web(app, self.settings.http_host, self.settings.http_port)
        log.info("ready to match: %d rules in the index", len(self.services.index))

    async def on_ready(self) -> None:
        log.info("connected as %s to %d servers", self.user, len(self.guilds))

    async def close(self) -> None:
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
        if self._web is not None:
            await self._web.cleanup()
        if hasattr(self, "services"):
            self.services.discogs_watcher.stop()
            for task in (self._watch_task, self._feeds_task):
                if task is not None:
                    task.cancel()
            self.services.dispatcher.stop()
            if self._dispatcher_task is not None:
                try:
                    await asyncio.wait_for(self._dispatcher_task, 10)
                except (TimeoutError, asyncio.CancelledError):
                    self._dispatcher_task.cancel()
        await super().close()
        if hasattr(self, "services"):
            await self.services.close()
