"""``/admin``: per-server settings and delivery health, for people who can manage the server.

``default_permissions`` only hides the commands (server admins can override it in the
integration settings), so every command also checks ``manage_guild`` when it runs."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

import discord
from discord import app_commands
from discord.app_commands import locale_str
from discord.ext import commands

from bot.delivery.breaker import BreakerSnapshot, BreakerState
from bot.delivery.notices import channel_name
from bot.delivery.render import BRAND_COLOUR, FIELD_VALUE_LIMIT, clean, cut
from bot.errors import PermissionDeniedError
from bot.i18n import N_, locale_of, t, tn
from bot.ingest.feeds import MAX_INTERVAL, MIN_INTERVAL
from bot.services.deliveries import DeliveryHealth
from cogs.ui.embeds import stats_embed
from cogs.ui.feed_embeds import added_embed, feed_list_pages
from cogs.ui.options import CHOICE_LIMIT, MAX_CHOICES, category_autocomplete, services_of
from cogs.ui.paginator import Paginator
from cogs.ui.replies import defer, respond
from cogs.ui.wanted_embeds import discogs_status_embed

if TYPE_CHECKING:
    from bot.client import DealScoutBot

log = logging.getLogger(__name__)

Choice = app_commands.Choice
T = TypeVar("T")

SCOPES = [
    Choice(name=locale_str("guild (copy global commands to this server; instant)"), value="guild"),
    Choice(name=locale_str("global (every server; can take a while)"), value="global"),
]


FEED = locale_str("One of this server's feeds")


async def feed_autocomplete(interaction: discord.Interaction, current: str) -> list[Choice[str]]:
    """This server's feeds (never another server's), for those who may manage them; the value
    is the feed id. (Autocompletes run no command checks, so the permission is checked here.)"""
    if interaction.guild_id is None or not interaction.permissions.manage_guild:
        return []
    try:
        feeds = await services_of(interaction).feeds.autocomplete(interaction.guild_id, current)
    except Exception:
        log.exception("feed autocomplete failed")
        return []
    locale = locale_of(interaction)
    choices = []
    for feed in feeds[:MAX_CHOICES]:
        label = f"#{feed.id} {feed.name}"
        if feed.paused:
            label = t("{name} (paused)", locale, name=label)
        choices.append(Choice(name=label[:CHOICE_LIMIT], value=str(feed.id)))
    return choices


def in_guild() -> Callable[[T], T]:
    """Runtime guard: ``guild_only`` only tells Discord where to show the command."""

    def predicate(interaction: discord.Interaction) -> bool:
        if interaction.guild_id is None:
            raise app_commands.NoPrivateMessage()
        return True

    return app_commands.check(predicate)


manage_guild = app_commands.checks.has_permissions(manage_guild=True)

BREAKER_LABELS = {
    BreakerState.closed: N_("✅ closed"),
    BreakerState.open: N_("⛔ open"),
    BreakerState.half_open: N_("🟡 half-open (probing)"),
}


def _lines(lines: list[str], empty: str) -> str:
    """Whole lines up to a field's limit."""
    out: list[str] = []
    for line in lines:
        if len("\n".join([*out, line])) > FIELD_VALUE_LIMIT:
            break
        out.append(line)
    return "\n".join(out) or empty


def breaker_text(snapshot: BreakerSnapshot, locale: str) -> str:
    name, state = channel_name(snapshot.channel, locale), t(BREAKER_LABELS[snapshot.state], locale)
    if snapshot.retry_at is not None:
        when = discord.utils.format_dt(snapshot.retry_at, "T")
        return t("{channel}: {state} until {time}", locale, channel=name, state=state, time=when)
    return t("{channel}: {state}", locale, channel=name, state=state)


def deliveries_embed(health: DeliveryHealth, locale: str) -> discord.Embed:
    """``/admin deliveries``: what failed in this server lately, and why (reasons never hold
    contact details), and whether any channel's circuit breaker is open."""
    embed = discord.Embed(
        title=t("📬 Delivery health", locale),
        description=t(
            "Failed alerts of this server's members since {since}, by channel and reason.",
            locale,
            since=discord.utils.format_dt(health.since, "f"),
        ),
        colour=BRAND_COLOUR,
    )
    counts = [
        f"**{channel_name(c, locale)}** · {cut(clean(r, 200), 200)}: {n}"
        for c, r, n in health.by_channel
    ]
    recent = [
        f"{discord.utils.format_dt(f.at, 'R')} · {channel_name(f.channel, locale)} · "
        f"{cut(clean(f.reason, 200), 200)}"
        for f in health.recent
    ]
    none = t("No failed alerts. 🎉", locale)
    embed.add_field(name=t("Last 24 hours", locale), value=_lines(counts, none), inline=False)
    embed.add_field(
        name=t("Most recent failures", locale), value=_lines(recent, none), inline=False
    )
    breakers = [breaker_text(b, locale) for b in health.breakers]
    embed.add_field(
        name=t("Circuit breakers", locale),
        value=_lines(breakers, t("none yet", locale)),
        inline=False,
    )
    return embed


class Admin(commands.Cog):
    """Server settings for Deal Scout."""

    admin = app_commands.Group(
        name="admin",
        description=locale_str("Deal Scout settings for this server"),
        guild_only=True,
        allowed_contexts=app_commands.AppCommandContext(guild=True),
        default_permissions=discord.Permissions(manage_guild=True),
    )

    feed = app_commands.Group(
        name="feed",
        description=locale_str("Listing feeds (RSS, Atom, JSON Feed) that bring in listings"),
        parent=admin,
    )

    def __init__(self, bot: DealScoutBot) -> None:
        self.bot = bot

    @admin.command(name="alert-channel", description=locale_str("Where channel alerts are posted"))
    @app_commands.describe(
        channel=locale_str("The channel for alerts; leave empty to stop channel alerts")
    )
    @manage_guild
    @in_guild()
    async def alert_channel(
        self, interaction: discord.Interaction, channel: discord.TextChannel | None = None
    ) -> None:
        assert interaction.guild_id is not None
        await defer(interaction)
        await self.bot.services.admin.set_alert_channel(
            interaction.guild_id, None if channel is None else channel.id
        )
        locale = locale_of(interaction)
        if channel is None:
            text = t("Channel alerts are off for this server: no alert channel is set.", locale)
        else:
            text = t(
                "✅ Channel alerts will be posted in {channel}.", locale, channel=channel.mention
            )
        await respond(interaction, text)

    @admin.command(
        name="marketplace-channel", description=locale_str("Where /sell listings are posted")
    )
    @app_commands.describe(
        channel=locale_str("The channel for listings; leave empty to stop posting them")
    )
    @manage_guild
    @in_guild()
    async def marketplace_channel(
        self, interaction: discord.Interaction, channel: discord.TextChannel | None = None
    ) -> None:
        assert interaction.guild_id is not None
        await defer(interaction)
        await self.bot.services.admin.set_marketplace_channel(
            interaction.guild_id, None if channel is None else channel.id
        )
        locale = locale_of(interaction)
        if channel is None:
            text = t("Listings from /sell will not be posted in this server any more.", locale)
        else:
            text = t(
                "✅ Listings from /sell will be posted in {channel}.",
                locale,
                channel=channel.mention,
            )
        await respond(interaction, text)

    @admin.command(
        name="stats", description=locale_str("Rules, listings and how alert delivery is doing")
    )
    @manage_guild
    @in_guild()
    async def stats(self, interaction: discord.Interaction) -> None:
        assert interaction.guild_id is not None
        await defer(interaction)
        stats = await self.bot.services.admin.stats(interaction.guild_id)
        name = interaction.guild.name if interaction.guild is not None else None
        await respond(interaction, embed=stats_embed(stats, name, locale_of(interaction)))

    @admin.command(
        name="deliveries",
        description=locale_str("Recent failed alerts by channel and reason, and circuit breakers"),
    )
    @manage_guild
    @in_guild()
    async def deliveries(self, interaction: discord.Interaction) -> None:
        assert interaction.guild_id is not None
        await defer(interaction)
        health = await self.bot.services.deliveries.health(interaction.guild_id)
        await respond(interaction, embed=deliveries_embed(health, locale_of(interaction)))

    @admin.command(
        name="discogs",
        description=locale_str("Discogs watcher: request budget, queue, releases and next checks"),
    )
    @manage_guild
    @in_guild()
    async def discogs(self, interaction: discord.Interaction) -> None:
        await defer(interaction)
        status = await self.bot.services.wanted.status()
        await respond(interaction, embed=discogs_status_embed(status, locale_of(interaction)))

    # ---- /admin feed ----------------------------------------------------------------------------

    @feed.command(name="add", description=locale_str("Add a listing feed to this server"))
    @app_commands.describe(
        url=locale_str("The feed's address (RSS, Atom or JSON Feed), http:// or https://"),
        category=locale_str("The category its listings get, e.g. Computers"),
        interval=locale_str("Seconds between fetches, at least 60 (default 900: 15 minutes)"),
    )
    @app_commands.autocomplete(category=category_autocomplete)
    @manage_guild
    @in_guild()
    async def feed_add(
        self,
        interaction: discord.Interaction,
        url: app_commands.Range[str, 1, 2048],
        category: app_commands.Range[str, 1, 100] | None = None,
        interval: app_commands.Range[int, MIN_INTERVAL, MAX_INTERVAL] | None = None,
    ) -> None:
        assert interaction.guild_id is not None
        await defer(interaction)  # fetching the feed can take a few seconds
        added = await self.bot.services.feeds.add(
            interaction.guild_id,
            interaction.user.id,
            url,
            category=category,
            interval=interval,
        )
        await respond(interaction, embed=added_embed(added, locale_of(interaction)))

    @feed.command(
        name="list", description=locale_str("This server's feeds: status, interval, last success")
    )
    @manage_guild
    @in_guild()
    async def feed_list(self, interaction: discord.Interaction) -> None:
        assert interaction.guild_id is not None
        await defer(interaction)
        locale = locale_of(interaction)
        feeds = await self.bot.services.feeds.list_for_guild(interaction.guild_id)
        if not feeds:
            text = t("This server has no feeds yet. Add one with `/admin feed add`.", locale)
            await respond(interaction, text)
            return
        pages = feed_list_pages(feeds, locale)
        await Paginator(interaction.user.id, pages, locale=locale).start(interaction)

    @feed.command(name="pause", description=locale_str("Stop fetching a feed for now"))
    @app_commands.describe(feed=FEED)
    @app_commands.autocomplete(feed=feed_autocomplete)
    @manage_guild
    @in_guild()
    async def feed_pause(self, interaction: discord.Interaction, feed: str) -> None:
        assert interaction.guild_id is not None
        await defer(interaction)
        view = await self.bot.services.feeds.set_paused(interaction.guild_id, feed, True)
        text = t(
            "⏸️ Paused **{name}**: it is not fetched until you resume it.",
            locale_of(interaction),
            name=clean(view.name, 200),
        )
        await respond(interaction, text)

    @feed.command(name="resume", description=locale_str("Start fetching a paused feed again"))
    @app_commands.describe(feed=FEED)
    @app_commands.autocomplete(feed=feed_autocomplete)
    @manage_guild
    @in_guild()
    async def feed_resume(self, interaction: discord.Interaction, feed: str) -> None:
        assert interaction.guild_id is not None
        await defer(interaction)
        view = await self.bot.services.feeds.set_paused(interaction.guild_id, feed, False)
        text = t(
            "▶️ Resumed **{name}**: it is fetched again now.",
            locale_of(interaction),
            name=clean(view.name, 200),
        )
        await respond(interaction, text)

    @feed.command(name="remove", description=locale_str("Remove a feed from this server"))
    @app_commands.describe(feed=FEED)
    @app_commands.autocomplete(feed=feed_autocomplete)
    @manage_guild
    @in_guild()
    async def feed_remove(self, interaction: discord.Interaction, feed: str) -> None:
        assert interaction.guild_id is not None
        await defer(interaction)
        view = await self.bot.services.feeds.remove(interaction.guild_id, feed)
        text = t(
            "🗑️ Removed **{name}**. Listings it already brought in stay.",
            locale_of(interaction),
            name=clean(view.name, 200),
        )
        await respond(interaction, text)

    @admin.command(
        name="sync", description=locale_str("Bot owner only: publish the slash commands")
    )
    @app_commands.describe(
        scope=locale_str("guild (default): this server, instantly; global: every server")
    )
    @app_commands.choices(scope=SCOPES)
    @in_guild()
    async def sync(
        self, interaction: discord.Interaction, scope: Choice[str] | None = None
    ) -> None:
        assert interaction.guild_id is not None
        await defer(interaction)
        locale = locale_of(interaction)
        if not await self.bot.is_owner(interaction.user):
            raise PermissionDeniedError(t("only the bot's owner can sync commands", locale))
        tree = self.bot.tree
        if scope is not None and scope.value == "global":
            synced = await tree.sync()
            text = tn(
                "✅ Synced {n} command globally "
                "(Discord can take up to an hour to show them everywhere).",
                "✅ Synced {n} commands globally "
                "(Discord can take up to an hour to show them everywhere).",
                len(synced),
                locale,
            )
        else:
            guild = discord.Object(id=interaction.guild_id)
            tree.copy_global_to(guild=guild)
            synced = await tree.sync(guild=guild)
            text = tn(
                "✅ Synced {n} command to this server.",
                "✅ Synced {n} commands to this server.",
                len(synced),
                locale,
            )
        await respond(interaction, text)


async def setup(bot: DealScoutBot) -> None:
    await bot.add_cog(Admin(bot))
