"""Option choices and autocompletes shared by several commands."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, cast

import discord
from discord import app_commands
from discord.app_commands import locale_str

from bot.domain.discogs import CURRENCIES, Grade

if TYPE_CHECKING:
    from bot.client import DealScoutBot
    from bot.services import Services

log = logging.getLogger(__name__)

Choice = app_commands.Choice

# Choice labels are locale_str: bot.i18n.DealScoutTranslator translates them for Discord.
CONDITIONS: list[Choice[str]] = [
    Choice(name=locale_str("New"), value="new"),
    Choice(name=locale_str("Like new"), value="like_new"),
    Choice(name=locale_str("Excellent"), value="excellent"),
    Choice(name=locale_str("Good"), value="good"),
    Choice(name=locale_str("Fair"), value="fair"),
    Choice(name=locale_str("Poor"), value="poor"),
]

DEFAULT_CATEGORIES = (
    "Furniture",
    "Electronics",
    "Computers",
    "Video Games",
    "Records",
    "Clothing",
    "Sports",
    "Home & Garden",
)

CURRENCY_CHOICES: list[Choice[str]] = [Choice(name=c, value=c) for c in sorted(CURRENCIES)]
"""The currencies Discogs prices in (/wanted, /prefs currency)."""
GRADE_CHOICES: list[Choice[str]] = [
    Choice(name=g.label, value=g.abbreviation) for g in sorted(Grade, reverse=True)
]
"""The Discogs grading scale, best first, with its exact strings."""

MAX_CHOICES = 25
CHOICE_LIMIT = 100  # Discord's limit on a choice's name and string value


def services_of(interaction: discord.Interaction) -> Services:
    return cast("DealScoutBot", interaction.client).services


async def category_autocomplete(
    interaction: discord.Interaction, current: str
) -> list[Choice[str]]:
    """Categories listings already use, then the defaults; containing what was typed."""
    typed = current.strip().casefold()
    try:
        known = await services_of(interaction).listings.categories(current.strip())
    except Exception:
        log.exception("category autocomplete failed")
        known = []
    seen: dict[str, str] = {}
    for name in (*known, *DEFAULT_CATEGORIES):
        name = " ".join(name.split())[:CHOICE_LIMIT]
        key = name.casefold()
        if name and key not in seen and typed in key:
            seen[key] = name
    return [Choice(name=n, value=n) for n in list(seen.values())[:MAX_CHOICES]]
