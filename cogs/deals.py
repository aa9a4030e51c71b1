"""``/deals``: recommendations for the caller, and why any listing ranks where it does.

Thin: call :class:`bot.services.recommend.RecommendationService`, render with
``cogs/ui/deals_embeds.py``. Every reply is ephemeral and about the caller only.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.app_commands import locale_str
from discord.ext import commands

from bot.delivery.render import cut
from bot.domain.listing import format_money
from bot.i18n import locale_of
from cogs.ui.deals_embeds import for_you_pages, nothing_text, why_embed
from cogs.ui.options import CHOICE_LIMIT, MAX_CHOICES, services_of
from cogs.ui.paginator import Paginator
from cogs.ui.replies import defer, respond

if TYPE_CHECKING:
    from bot.client import DealScoutBot

log = logging.getLogger(__name__)

Choice = app_commands.Choice


async def listing_autocomplete(interaction: discord.Interaction, current: str) -> list[Choice[str]]:
    """Recent listings whose title contains what was typed (or whose number it is)."""
    try:
        listings = await services_of(interaction).recommend.search(current)
    except Exception:
        log.exception("listing autocomplete failed")
        return []
    choices = []
    for listing in listings[:MAX_CHOICES]:
        title = " ".join(listing.title.split())
        price = format_money(listing.price, listing.currency)
        label = cut(f"#{listing.id} {title}", CHOICE_LIMIT - len(price) - 3) + f" · {price}"
        choices.append(Choice(name=label[:CHOICE_LIMIT], value=str(listing.id)))
    return choices


class Deals(commands.Cog):
    """Recommendations: the listings that fit what you told Deal Scout you want."""

    deals = app_commands.Group(
        name="deals", description=locale_str("Listings picked for you, and why")
    )

    def __init__(self, bot: DealScoutBot) -> None:
        self.bot = bot

    @deals.command(
        name="for-me",
        description=locale_str("The best recent listings for you, each with the reason"),
    )
    async def for_me(self, interaction: discord.Interaction) -> None:
        await defer(interaction)
        locale = locale_of(interaction)
        result = await self.bot.services.recommend.for_me(interaction.user.id)
        if not result.items:
            await respond(interaction, nothing_text(result, locale))
            return
        pages = for_you_pages(result, locale)
        await Paginator(interaction.user.id, pages, locale=locale).start(interaction)

    @deals.command(
        name="why", description=locale_str("Why a listing is, or is not, recommended to you")
    )
    @app_commands.describe(listing=locale_str("A listing: pick one, or type its number like 123"))
    @app_commands.autocomplete(listing=listing_autocomplete)
    async def why(
        self, interaction: discord.Interaction, listing: app_commands.Range[str, 1, 200]
    ) -> None:
        await defer(interaction)
        locale = locale_of(interaction)
        explanation = await self.bot.services.recommend.why(interaction.user.id, listing)
        await respond(interaction, embed=why_embed(explanation, locale))


async def setup(bot: DealScoutBot) -> None:
    await bot.add_cog(Deals(bot))
