"""``/listing``: a seller changes the price of a listing they posted with ``/sell``, or marks it
sold or removed. Whoever watches it hears about a price drop that meets what they asked for, or
that the listing ended.

Thin: the watchlist service finds the seller's own listing (another user's is "no such listing
of yours") and changes it through ``ListingService.revise``, which records the price history
and tells the watchers in the same transaction.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.app_commands import locale_str
from discord.ext import commands

from bot.delivery.render import clean
from bot.domain.listing import format_money
from bot.i18n import locale_of, t
from bot.services.watchlist import ListingChange
from cogs.ui.options import CHOICE_LIMIT, MAX_CHOICES, services_of
from cogs.ui.replies import defer, respond

if TYPE_CHECKING:
    from bot.client import DealScoutBot

log = logging.getLogger(__name__)

Choice = app_commands.Choice

YOUR_LISTING = locale_str("One of your listings still for sale: its title or number")


async def own_listing_autocomplete(
    interaction: discord.Interaction, current: str
) -> list[Choice[str]]:
    """The caller's own /sell listings still for sale (never anyone else's)."""
    try:
        refs = await services_of(interaction).watchlist.own_listings(interaction.user.id, current)
    except Exception:
        log.exception("listing autocomplete failed")
        return []
    choices = []
    for ref in refs[:MAX_CHOICES]:
        label = f"#{ref.id} {' '.join(ref.title.split())} — {format_money(ref.price, ref.currency)}"
        choices.append(Choice(name=label[:CHOICE_LIMIT], value=str(ref.id)))
    return choices


def _title(change: ListingChange) -> str:
    return clean(change.listing.title, 200)


class Listings(commands.Cog):
    """Sellers: keep your listings up to date."""

    listing = app_commands.Group(
        name="listing", description=locale_str("Change or end the listings you posted with /sell")
    )

    def __init__(self, bot: DealScoutBot) -> None:
        self.bot = bot

    @listing.command(name="edit", description=locale_str("Change the price of your listing"))
    @app_commands.describe(
        listing=YOUR_LISTING, price=locale_str("The new price, e.g. 250, $250 or 1,199.99")
    )
    @app_commands.autocomplete(listing=own_listing_autocomplete)
    async def edit(
        self,
        interaction: discord.Interaction,
        listing: app_commands.Range[str, 1, 200],
        price: app_commands.Range[str, 1, 40],
    ) -> None:
        await defer(interaction)
        change = await self.bot.services.watchlist.edit_price(interaction.user.id, listing, price)
        after = change.listing
        await respond(
            interaction,
            t(
                "✅ **{title}** now costs {price} (was {old}). Anyone watching it for a drop "
                "like this hears about it.",
                locale_of(interaction),
                title=_title(change),
                price=format_money(after.price, after.currency),
                old=format_money(change.old_price, after.currency),
            ),
        )

    @listing.command(name="sold", description=locale_str("Mark your listing as sold"))
    @app_commands.describe(listing=YOUR_LISTING)
    @app_commands.autocomplete(listing=own_listing_autocomplete)
    async def sold(
        self, interaction: discord.Interaction, listing: app_commands.Range[str, 1, 200]
    ) -> None:
        await defer(interaction)
        change = await self.bot.services.watchlist.mark_sold(interaction.user.id, listing)
        await respond(
            interaction,
            t(
                "🏷️ **{title}** is marked as sold. Anyone watching it is told.",
                locale_of(interaction),
                title=_title(change),
            ),
        )

    @listing.command(name="remove", description=locale_str("Take your listing off the market"))
    @app_commands.describe(listing=YOUR_LISTING)
    @app_commands.autocomplete(listing=own_listing_autocomplete)
    async def remove(
        self, interaction: discord.Interaction, listing: app_commands.Range[str, 1, 200]
    ) -> None:
        await defer(interaction)
        change = await self.bot.services.watchlist.remove_listing(interaction.user.id, listing)
        await respond(
            interaction,
            t(
                "🗑️ **{title}** was removed. Anyone watching it is told.",
                locale_of(interaction),
                title=_title(change),
            ),
        )


async def setup(bot: DealScoutBot) -> None:
    await bot.add_cog(Listings(bot))
