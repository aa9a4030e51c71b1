"""The Discord message for a price-drop alert (and for the end of a watch), and the custom ids
of the watch buttons: "Watch price" on every deal alert, "Stop watching" on a price-drop alert.
``cogs/watch.py`` registers the dynamic items that answer them, so they survive restarts.

The facts come from the alert's snapshot ``listing.details`` (written by
``bot.delivery.watch_alerts``): old and new price, target, percent, lowest, and how it ended.
The listing title is untrusted and goes through :func:`bot.delivery.render.clean`.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import discord

from bot.delivery.render import FOOTER_LIMIT, TITLE_LIMIT, clean, cut, safe_url
from bot.domain.listing import Listing, format_money, from_cents
from bot.i18n import t

WATCH_PRICE_ID = "ds:watch:{listing_id}"
WATCH_PRICE_PATTERN = r"ds:watch:(?P<listing_id>[0-9]{1,19})"
UNWATCH_ID = "ds:unwatch:{watch_id}"
UNWATCH_PATTERN = r"ds:unwatch:(?P<watch_id>[0-9]{1,19})"

DROP_COLOUR = discord.Colour(0x3498DB)
ENDED_COLOUR = discord.Colour(0x95A5A6)
ENDED_EVENTS = ("ended_sold", "ended_removed")
HEADLINE_TITLE = 120


def _details(listing: Listing) -> Mapping[str, Any]:
    return listing.details or {}


def _money(cents: object, currency: str) -> str | None:
    if not isinstance(cents, int):
        return None
    return format_money(from_cents(cents), currency)


def _currency(listing: Listing) -> str:
    return str(_details(listing).get("currency") or listing.currency)


def _title(listing: Listing) -> str:
    return str(_details(listing).get("title") or listing.title)


def is_ended(listing: Listing) -> bool:
    return _details(listing).get("event") in ENDED_EVENTS


def drop_percent_from(start_cents: object, new_cents: object) -> Decimal | None:
    """How far the price fell since the watch started, in % (None when it cannot be said)."""
    if not isinstance(start_cents, int) or not isinstance(new_cents, int) or start_cents <= 0:
        return None
    return (Decimal(start_cents - new_cents) * 100 / Decimal(start_cents)).quantize(Decimal(1))


def watch_embed(listing: Listing, locale: str = "en") -> discord.Embed:
    """Old → new price, what the user asked for, the lowest price seen and a link; or, for a
    listing that was sold or removed, that the watch has ended."""
    details = _details(listing)
    currency = _currency(listing)
    url = safe_url(listing.url)
    title = clean(_title(listing), TITLE_LIMIT) or t("Untitled listing", locale)
    new = _money(details.get("new_cents"), currency) or format_money(listing.price, currency)
    if is_ended(listing):
        description = (
            t("This listing was sold, so your price watch has ended.", locale)
            if details.get("event") == "ended_sold"
            else t("This listing was removed, so your price watch has ended.", locale)
        )
        embed = discord.Embed(
            title=title,
            url=url,
            description=description,
            colour=ENDED_COLOUR,
            timestamp=listing.created_at,
        )
        embed.add_field(name=t("Last price", locale), value=new)
        footer = t("The watch stays in /watch list until you remove it.", locale)
        embed.set_footer(text=cut(footer, FOOTER_LIMIT))
        return embed
    old = _money(details.get("old_cents"), currency)
    description = (
        t("The price dropped from {old} to **{new}**.", locale, old=old, new=new)
        if old
        else t("The price is now **{new}**.", locale, new=new)
    )
    percent = drop_percent_from(details.get("start_cents"), details.get("new_cents"))
    start = _money(details.get("start_cents"), currency)
    if percent is not None and percent > 0 and start:
        description += "\n" + t(
            "🔻 {percent}% below {start}, the price when you started watching.",
            locale,
            percent=percent,
            start=start,
        )
    embed = discord.Embed(
        title=title,
        url=url,
        description=description,
        colour=DROP_COLOUR,
        timestamp=listing.created_at,
    )
    embed.add_field(name=t("Price", locale), value=f"~~{old}~~ → **{new}**" if old else new)
    target = _money(details.get("target_cents"), currency)
    if target:
        embed.add_field(name=t("Your target", locale), value=target)
    drop = details.get("drop_percent")
    if isinstance(drop, int | float) and isinstance(details.get("start_cents"), int):
        kept = (Decimal(100) - Decimal(str(drop))) / Decimal(100)
        at_most = format_money(from_cents(details["start_cents"]) * kept, currency)
        embed.add_field(
            name=t("Drop you asked for", locale),
            value=t("{percent}% (at or below {price})", locale, percent=f"{drop:g}", price=at_most),
        )
    lowest = _money(details.get("lowest_cents"), currency) or new
    before = _money(details.get("previous_low_cents"), currency)
    embed.add_field(
        name=t("Lowest since you started watching", locale),
        value=(
            t("{price}, a new low (before: {before})", locale, price=lowest, before=before)
            if before and before != lowest
            else lowest
        ),
        inline=False,
    )
    if url:
        embed.add_field(
            name=t("Listing", locale),
            value=t("[Open the listing]({url})", locale, url=url),
            inline=False,
        )
    image = safe_url(listing.image_url)
    if image:
        embed.set_thumbnail(url=image)
    footer = t("You are watching this listing. “Stop watching” or /watch remove ends it.", locale)
    embed.set_footer(text=cut(footer, FOOTER_LIMIT))
    return embed


def watch_buttons(watch_id: int, listing: Listing, locale: str = "en") -> discord.ui.View:
    """ "Stop watching" on a price-drop alert (a watch that ended has nothing to stop)."""
    view = discord.ui.View(timeout=None)
    if not is_ended(listing):
        view.add_item(
            discord.ui.Button(
                label=t("Stop watching", locale),
                style=discord.ButtonStyle.secondary,
                custom_id=UNWATCH_ID.format(watch_id=watch_id),
            )
        )
    view.stop()
    return view


def watch_headline(listing: Listing, locale: str = "en") -> str:
    """The message text above the embed (markdown and mentions in the title escaped)."""
    title = clean(_title(listing), HEADLINE_TITLE) or t("Untitled listing", locale)
    event = _details(listing).get("event")
    if event == "ended_sold":
        return t("🏷️ **{title}** was sold; your price watch has ended.", locale, title=title)
    if event == "ended_removed":
        return t("🗑️ **{title}** was removed; your price watch has ended.", locale, title=title)
    price = format_money(listing.price, _currency(listing))
    return t("🔻 Price drop: **{title}** is now {price}", locale, title=title, price=price)
