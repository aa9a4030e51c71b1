"""The Discord message for a Discogs wanted-list alert, and the one entry point senders use to
render any alert (deal or wanted).

Everything shown from Discogs (titles, seller names, countries) is untrusted and goes through
:func:`bot.delivery.render.clean`; the alert's ``listing.details`` (written by
``bot.delivery.wanted_alerts``) carry the grades, seller, ships-from and each criterion's check.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import discord

from bot.delivery.render import (
    FIELD_VALUE_LIMIT,
    FOOTER_LIMIT,
    TITLE_LIMIT,
    AlertContext,
    alert_buttons,
    alert_embed,
    clean,
    cut,
    safe_url,
)
from bot.delivery.render_watch import watch_buttons, watch_embed, watch_headline
from bot.delivery.senders.base import OutgoingAlert
from bot.delivery.watch_alerts import WATCH_ALERT
from bot.domain.listing import Listing
from bot.i18n import t

PAUSE_WANTED_ID = "ds:wpause:{wanted_id}"
PAUSE_WANTED_PATTERN = r"ds:wpause:(?P<wanted_id>[0-9]{1,19})"
CHECK_LINE = 200
RECORD_COLOUR = discord.Colour(0xE67E22)


def _money(listing: Listing) -> str:
    if listing.price is None:
        return "?"
    return f"{listing.price:,.2f} {listing.currency}"


def wanted_embed(listing: Listing, name: str, locale: str = "en") -> discord.Embed:
    """Cover, price in the entry's currency, grades, seller and rating, ships from, the checks
    (✅ / ❌ / ❔ could not check) and which reference price "underpriced" used."""
    details: Mapping[str, Any] = listing.details or {}
    url = safe_url(listing.url)
    checks = [clean(str(line), CHECK_LINE) for line in details.get("checks") or ()][:8]
    embed = discord.Embed(
        title=clean(listing.title, TITLE_LIMIT) or t("Wanted release", locale),
        url=url,
        description="\n".join(checks),
        colour=RECORD_COLOUR,
        timestamp=listing.created_at,
    )
    embed.add_field(name=t("Price", locale), value=_money(listing))
    for key, label in (("media", "Media"), ("sleeve", "Sleeve"), ("ships_from", "Ships from")):
        if details.get(key):
            embed.add_field(name=t(label, locale), value=clean(str(details[key]), 100))
    seller = clean(listing.seller_name, 100)
    if seller:
        rating = details.get("seller_rating")
        if isinstance(rating, int | float):
            seller = f"{seller} ({rating:g}%)"
        embed.add_field(name=t("Seller", locale), value=seller)
    count = details.get("num_for_sale")
    if isinstance(count, int):
        embed.add_field(name=t("For sale", locale), value=str(count))
    if details.get("reference"):
        embed.add_field(
            name=t("Compared with", locale),
            value=clean(str(details["reference"]), FIELD_VALUE_LIMIT),
            inline=False,
        )
    if url:
        embed.add_field(
            name=t("Listing", locale),
            value=t("[Open on Discogs]({url})", locale, url=url),
            inline=False,
        )
    image = safe_url(listing.image_url)
    if image:
        embed.set_thumbnail(url=image)
    if details.get("level") == "stats":
        footer = t(
            "From your wanted list “{name}”: the lowest price on Discogs. Grades and seller "
            "are not known at this level. /wanted pause stops it.",
            locale,
            name=name,
        )
    else:
        footer = t("From your wanted list “{name}”. /wanted pause stops it.", locale, name=name)
    embed.set_footer(text=cut(footer, FOOTER_LIMIT))
    return embed


def wanted_buttons(wanted_id: int, url: str | None, locale: str = "en") -> discord.ui.View:
    """ "Pause this wanted entry" (answered by ``cogs/wanted.py``) and a link to Discogs."""
    view = discord.ui.View(timeout=None)
    view.add_item(
        discord.ui.Button(
            label=t("Pause this wanted entry", locale),
            style=discord.ButtonStyle.secondary,
            custom_id=PAUSE_WANTED_ID.format(wanted_id=wanted_id),
        )
    )
    link = safe_url(url)
    if link:
        view.add_item(discord.ui.Button(label=t("Open on Discogs", locale), url=link))
    view.stop()
    return view


def embed_for(alert: OutgoingAlert, locale: str = "en") -> discord.Embed:
    """The embed of any alert: a deal alert, a wanted-list alert or a price-drop alert."""
    if alert.is_wanted:
        return wanted_embed(alert.listing, alert.rule.name, locale)
    if alert.kind == WATCH_ALERT:
        return watch_embed(alert.listing, locale)
    return alert_embed(
        alert.listing, AlertContext(alert.rule, alert.distance_mi, alert.listing.url), locale
    )


def buttons_for(alert: OutgoingAlert, locale: str = "en") -> discord.ui.View:
    if alert.is_wanted:
        return wanted_buttons(alert.rule.id, alert.listing.url, locale)
    if alert.kind == WATCH_ALERT:
        return watch_buttons(alert.rule.id, alert.listing, locale)
    return alert_buttons(alert.rule.id, alert.listing.id, locale)


def headline_for(alert: OutgoingAlert, locale: str = "en") -> str:
    """The message text above the embed (markdown in the name escaped)."""
    if alert.kind == WATCH_ALERT:
        return watch_headline(alert.listing, locale)
    name = discord.utils.escape_mentions(discord.utils.escape_markdown(alert.rule.name))
    if alert.is_wanted:
        return t("🎵 Wanted-list match: **{name}**", locale, name=name)
    return t("New match for your alert **{name}**", locale, name=name)
