"""``/watch``: watch a listing's price and hear when it drops; the "Watch price" button on every
deal alert and "Stop watching" on every price-drop alert (both survive restarts).

Thin: parse the options, call :class:`bot.services.watchlist.WatchService`, render. The service
checks every option and names the one at fault; another user's watch, and a listing the user
cannot see, look exactly like ones that do not exist.
"""

from __future__ import annotations

import asyncio
import io
import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.app_commands import locale_str
from discord.ext import commands

from bot.delivery.render import (
    NO_PINGS,
    clean,
)
from bot.delivery.render_watch import (
    UNWATCH_ID,
    UNWATCH_PATTERN,
    WATCH_PRICE_ID,
    WATCH_PRICE_PATTERN,
)
from bot.i18n import N_, locale_of, t
from bot.services.watchlist import (
    DEFAULT_DROP_PERCENT,
)
from cogs.ui.buttons import IdButton
from cogs.ui.options import services_of
from cogs.ui.paginator import Paginator
from cogs.ui.replies import defer, respond
from cogs.ui.watch_embeds import (
    CHART_FILE,
    added_text,
    chart_target,
    history_embed,
    list_pages,
    ref_choices,
    render_chart,
)

if TYPE_CHECKING:
    from bot.client import DealScoutBot

log = logging.getLogger(__name__)

Choice = app_commands.Choice

ADD_DESCRIPTIONS: dict[str, locale_str] = {
    "listing": locale_str("A listing for sale: start typing its title, or give its number"),
    "target_price": locale_str("Tell me when it costs this much or less, e.g. 80 or $79.99"),
    "drop_percent": locale_str(
        "Tell me when it drops by this %, 1 to 99 (default 10 without a target price)"
    ),
}
WATCHED = locale_str("A listing you watch")
ANY_LISTING = locale_str("A listing you watch or can see: its title or number")


async def listing_autocomplete(interaction: discord.Interaction, current: str) -> list[Choice[str]]:
    """Recent listings for sale the caller can see (never their own)."""
    try:
        refs = await services_of(interaction).watchlist.listing_choices(
            interaction.user.id, interaction.guild_id, current
        )
    except Exception:
        log.exception("watch listing autocomplete failed")
        return []
    return ref_choices(refs, locale_of(interaction))


async def watched_autocomplete(interaction: discord.Interaction, current: str) -> list[Choice[str]]:
    """The caller's own watches (never anyone else's)."""
    try:
        found = await services_of(interaction).watchlist.watch_choices(interaction.user.id, current)
    except Exception:
        log.exception("watch autocomplete failed")
        return []
    return ref_choices([w.listing for w, _ in found], locale_of(interaction))


async def history_autocomplete(interaction: discord.Interaction, current: str) -> list[Choice[str]]:
    try:
        refs = await services_of(interaction).watchlist.history_choices(
            interaction.user.id, interaction.guild_id, current
        )
    except Exception:
        log.exception("watch history autocomplete failed")
        return []
    return ref_choices(refs, locale_of(interaction))


class Watchlist(commands.Cog):
    """Price watches: hear when a listing you like gets cheaper."""

    watch = app_commands.Group(
        name="watch", description=locale_str("Watch listings and hear when their price drops")
    )

    def __init__(self, bot: DealScoutBot) -> None:
        self.bot = bot

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(WatchPriceButton, StopWatchingButton)

    @watch.command(
        name="add", description=locale_str("Watch a listing and hear when its price drops")
    )
    @app_commands.describe(**ADD_DESCRIPTIONS)
    @app_commands.autocomplete(listing=listing_autocomplete)
    async def add(
        self,
        interaction: discord.Interaction,
        listing: app_commands.Range[str, 1, 200],
        target_price: app_commands.Range[str, 1, 40] | None = None,
        drop_percent: app_commands.Range[float, 1, 99] | None = None,
    ) -> None:
        await defer(interaction)
        added = await self.bot.services.watchlist.add(
            interaction.user.id,
            listing,
            target_price,
            drop_percent,
            guild_id=interaction.guild_id,
        )
        await respond(interaction, added_text(added, locale_of(interaction)))

    @watch.command(name="list", description=locale_str("The listings you watch"))
    async def list_watches(self, interaction: discord.Interaction) -> None:
        await defer(interaction)
        locale = locale_of(interaction)
        watches = await self.bot.services.watchlist.watches(interaction.user.id)
        if not watches:
            await respond(
                interaction,
                t(
                    "You aren't watching any listings. Use `/watch add`, or the **Watch price** "
                    "button on an alert.",
                    locale,
                ),
            )
            return
        await Paginator(interaction.user.id, list_pages(watches, locale), locale=locale).start(
            interaction
        )

    @watch.command(name="remove", description=locale_str("Stop watching a listing"))
    @app_commands.describe(listing=WATCHED)
    @app_commands.autocomplete(listing=watched_autocomplete)
    async def remove(
        self, interaction: discord.Interaction, listing: app_commands.Range[str, 1, 200]
    ) -> None:
        await defer(interaction)
        removed = await self.bot.services.watchlist.remove(interaction.user.id, listing)
        await respond(
            interaction,
            t(
                "🗑️ Stopped watching **{title}**.",
                locale_of(interaction),
                title=clean(removed.listing.title, 200),
            ),
        )

    @watch.command(
        name="history", description=locale_str("A listing's price over time, as a chart")
    )
    @app_commands.describe(listing=ANY_LISTING)
    @app_commands.autocomplete(listing=history_autocomplete)
    async def history(
        self, interaction: discord.Interaction, listing: app_commands.Range[str, 1, 200]
    ) -> None:
        await defer(interaction)
        locale = locale_of(interaction)
        view = await self.bot.services.watchlist.history(
            interaction.user.id, listing, guild_id=interaction.guild_id
        )
        png = await asyncio.to_thread(
            render_chart,
            view.points,
            now=view.now,
            currency=view.listing.currency,
            title=view.listing.title,
            target=chart_target(view.watch),
            locale=locale,
        )
        await interaction.followup.send(
            embed=history_embed(view, locale),
            file=discord.File(io.BytesIO(png), filename=CHART_FILE),
            ephemeral=True,
            allowed_mentions=NO_PINGS,
            wait=True,
        )


class WatchPriceButton(IdButton, template=WATCH_PRICE_PATTERN):
    """ "Watch price" on a deal alert: watch that listing for a 10% drop. Anyone who can see
    the alert may press it; the watch is theirs."""

    button_label = N_("Watch price")
    id_format = WATCH_PRICE_ID

    async def answer(self, interaction: discord.Interaction, locale: str) -> str:
        added = await services_of(interaction).watchlist.add(
            interaction.user.id,
            self.item_id,
            drop_percent=DEFAULT_DROP_PERCENT,
            guild_id=interaction.guild_id,
            from_button=True,
        )
        return added_text(added, locale)


class StopWatchingButton(IdButton, template=UNWATCH_PATTERN):
    """ "Stop watching" on a price-drop alert; only the watch's owner finds it."""

    button_label = N_("Stop watching")
    id_format = UNWATCH_ID

    async def answer(self, interaction: discord.Interaction, locale: str) -> str:
        removed = await services_of(interaction).watchlist.remove_by_id(
            interaction.user.id, self.item_id
        )
        return t("🗑️ Stopped watching **{title}**.", locale, title=clean(removed.listing.title, 200))


async def setup(bot: DealScoutBot) -> None:
    await bot.add_cog(Watchlist(bot))
    bot.add_dynamic_items(WatchPriceButton, StopWatchingButton)
