"""Digest DMs: the Previous/Next page buttons. Each click re-reads the digest from the database
(only the owner's own digest), so the buttons work after a restart."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import discord
from discord.ext import commands

from bot.delivery.render_digest import (
    DIGEST_PAGE_ID,
    DIGEST_PAGE_PATTERN,
    digest_buttons,
    digest_embed,
    page_count,
)
from bot.errors import NotFoundError
from bot.i18n import locale_of
from cogs.ui.options import services_of
from cogs.ui.replies import send_error

if TYPE_CHECKING:
    from bot.client import DealScoutBot


class DigestPageButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=DIGEST_PAGE_PATTERN,
):
    def __init__(self, digest_id: int, page: int) -> None:
        # Only used to answer clicks (digest_buttons builds the visible, translated buttons).
        super().__init__(
            discord.ui.Button(custom_id=DIGEST_PAGE_ID.format(digest_id=digest_id, page=page))
        )
        self.digest_id = digest_id
        self.page = page

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> DigestPageButton:
        return cls(int(match["digest_id"]), int(match["page"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        try:
            found = None
            if self.digest_id < 1 << 63:
                found = await services_of(interaction).digests.view(
                    interaction.user.id, self.digest_id
                )
            if found is None:
                raise NotFoundError("that digest is no longer available")
            period, entries, held = found
            pages = page_count(entries)
            page = min(self.page, pages - 1)
            locale = locale_of(interaction)
            await interaction.response.edit_message(
                embed=digest_embed(period, entries, page, held, locale),
                view=digest_buttons(self.digest_id, page, pages, locale),
            )
        except Exception as exc:
            await send_error(interaction, exc)


class Digests(commands.Cog):
    def __init__(self, bot: DealScoutBot) -> None:
        self.bot = bot

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(DigestPageButton)

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(DigestPageButton)


async def setup(bot: DealScoutBot) -> None:
    await bot.add_cog(Digests(bot))
