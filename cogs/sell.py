"""``/sell``: list an item. The listing service validates, stores, matches and queues the alerts,
and posts the listing in the server's marketplace channel when there is one (never from a DM)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.app_commands import locale_str
from discord.ext import commands

from bot.i18n import locale_of
from bot.ingest.community import SellInput
from cogs.ui.embeds import sold_embed, sold_text
from cogs.ui.options import CONDITIONS, category_autocomplete
from cogs.ui.replies import defer, respond

if TYPE_CHECKING:
    from bot.client import DealScoutBot

Choice = app_commands.Choice

DESCRIPTIONS: dict[str, locale_str] = {
    "title": locale_str("What you are selling, 3 to 200 characters"),
    "price": locale_str("Asking price, e.g. 350, $350 or 1,299.99"),
    "condition": locale_str("The item's condition"),
    "category": locale_str("A category, e.g. Furniture or Electronics"),
    "location": locale_str('Where the item is: a US ZIP code or "City, ST"'),
    "description": locale_str("Details buyers should know (up to 4000 characters)"),
    "photo": locale_str("A photo of the item (PNG, JPEG, GIF or WebP)"),
}


class Sell(commands.Cog):
    """Selling to the community."""

    def __init__(self, bot: DealScoutBot) -> None:
        self.bot = bot

    @app_commands.command(
        name="sell",
        description=locale_str("List an item for sale; matching alerts hear about it"),
    )
    @app_commands.describe(**DESCRIPTIONS)
    @app_commands.choices(condition=CONDITIONS)
    @app_commands.autocomplete(category=category_autocomplete)
    async def sell(
        self,
        interaction: discord.Interaction,
        title: app_commands.Range[str, 1, 200],
        price: app_commands.Range[str, 1, 40],
        condition: Choice[str] | None = None,
        category: app_commands.Range[str, 1, 100] | None = None,
        location: app_commands.Range[str, 1, 100] | None = None,
        description: app_commands.Range[str, 1, 4000] | None = None,
        photo: discord.Attachment | None = None,
    ) -> None:
        await defer(interaction)
        data = SellInput(
            title=title,
            price=price,
            condition=None if condition is None else condition.value,
            category=category,
            location=location,
            description=description,
            photo_url=None if photo is None else photo.url,
            photo_content_type=None if photo is None else photo.content_type,
        )
        result = await self.bot.services.listings.sell(
            data,
            seller_id=interaction.user.id,
            seller_name=interaction.user.display_name,
            guild_id=interaction.guild_id,
        )
        locale = locale_of(interaction)
        await respond(interaction, sold_text(result, locale), embed=sold_embed(result, locale))


async def setup(bot: DealScoutBot) -> None:
    await bot.add_cog(Sell(bot))
