"""Embeds and texts for ``/watch``: the watch list, the "added" reply, and the price history
with its chart. Listing text is untrusted and escaped with ``clean``."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import discord
from discord import app_commands

from bot.delivery.render import FIELD_VALUE_LIMIT, TITLE_LIMIT, clean, safe_url
from bot.domain.listing import format_money
from bot.domain.watch import ENDED_REMOVED, ENDED_SOLD
from bot.i18n import N_, t, tn
from bot.services.watchlist import (
    Added,
    ListingRef,
    PriceHistoryView,
    WatchView,
)
from cogs.ui.options import CHOICE_LIMIT, MAX_CHOICES

Choice = app_commands.Choice

WATCH_COLOUR = discord.Colour(0x3498DB)
PER_PAGE = 8
CHART_FILE = "price-history.png"
HISTORY_ROWS = 12

ENDED_NOTES = {ENDED_SOLD: N_("the listing was sold"), ENDED_REMOVED: N_("the listing was removed")}
STATUS_LABELS = {"sold": N_("sold"), "removed": N_("removed")}


def money(amount: Decimal | None, currency: str) -> str:
    return format_money(amount, currency)


def ref_label(ref: ListingRef, locale: str) -> str:
    """ "#12 Oak desk — $80.00" (with "(sold)" for an ended listing), for autocomplete."""
    label = f"#{ref.id} {' '.join(ref.title.split())} — {money(ref.price, ref.currency)}"
    status = STATUS_LABELS.get(ref.status)
    if status:
        label = f"{label} ({t(status, locale)})"
    return label


def ref_choices(refs: list[ListingRef], locale: str) -> list[Choice[str]]:
    return [
        Choice(name=ref_label(r, locale)[:CHOICE_LIMIT], value=str(r.id))
        for r in refs[:MAX_CHOICES]
    ]


def condition_text(watch: WatchView, locale: str) -> str:
    """When the watch alerts: "at or below $85.00", "10% below $100.00 (at or below $90.00)"."""
    currency = watch.listing.currency
    target = percent = None
    if watch.target_price is not None:
        target = t("at or below {price}", locale, price=money(watch.target_price, currency))
    if watch.drop_percent is not None:
        percent = t(
            "{percent}% below {start} (at or below {price})",
            locale,
            percent=f"{watch.drop_percent:g}",
            start=money(watch.start_price, currency),
            price=money(watch.drop_price, currency),
        )
    if target is not None and percent is not None:
        return t("{target} or {percent}", locale, target=target, percent=percent)
    return target or percent or ""


def ended_text(note: str, locale: str) -> str:
    label = ENDED_NOTES.get(note)
    return t(label, locale) if label else clean(note, 200)


def watch_lines(watch: WatchView, locale: str) -> str:
    currency = watch.listing.currency
    lines = [
        t(
            "Now {price} · started at {start} · lowest {lowest}",
            locale,
            price=money(watch.listing.price, currency),
            start=money(watch.start_price, currency),
            lowest=money(watch.lowest, currency),
        ),
        t("Alerts when {condition}", locale, condition=condition_text(watch, locale)),
    ]
    if watch.ended is not None:
        lines.append(t("🏁 Ended: {why}", locale, why=ended_text(watch.ended, locale)))
    elif watch.alerts:
        lines.append(
            tn(
                "🔔 {n} price-drop alert so far",
                "🔔 {n} price-drop alerts so far",
                watch.alerts,
                locale,
            )
        )
    return "\n".join(lines)


def added_text(added: Added, locale: str) -> str:
    watch = added.watch
    title = clean(watch.listing.title, 200)
    if not added.created:
        return t(
            "👀 You already watch **{title}**. `/watch list` shows your watches.",
            locale,
            title=title,
        )
    text = t(
        "👀 Watching **{title}** (now {price}). You'll hear when it drops {condition}.",
        locale,
        title=title,
        price=money(watch.listing.price, watch.listing.currency),
        condition=condition_text(watch, locale),
    )
    if added.already_met:
        text += " " + t(
            "It already meets that, so you'll hear each time it drops to a new low.", locale
        )
    return text


def list_pages(watches: list[WatchView], locale: str) -> list[discord.Embed]:
    pages = []
    for start in range(0, len(watches), PER_PAGE):
        embed = discord.Embed(
            title=t("👀 Your watched listings ({count})", locale, count=len(watches)),
            colour=WATCH_COLOUR,
        )
        for watch in watches[start : start + PER_PAGE]:
            title = clean(watch.listing.title, 200) or t("Untitled listing", locale)
            embed.add_field(
                name=f"#{watch.listing.id} {title}"[:256],
                value=watch_lines(watch, locale)[:FIELD_VALUE_LIMIT],
                inline=False,
            )
        pages.append(embed)
    return pages


def history_embed(view: PriceHistoryView, locale: str) -> discord.Embed:
    """The listing's prices (the most recent first) next to the chart."""
    ref = view.listing
    embed = discord.Embed(
        title=clean(ref.title, TITLE_LIMIT) or t("Untitled listing", locale),
        url=safe_url(ref.url),
        colour=WATCH_COLOUR,
    )
    prices = [p for _, p in view.points if p is not None]
    embed.add_field(name=t("Now", locale), value=money(ref.price, ref.currency))
    if prices:
        embed.add_field(name=t("Lowest", locale), value=money(min(prices), ref.currency))
        embed.add_field(name=t("Highest", locale), value=money(max(prices), ref.currency))
    status = STATUS_LABELS.get(ref.status)
    if status:
        embed.add_field(name=t("Status", locale), value=t(status, locale))
    if view.watch is not None:
        embed.add_field(
            name=t("Your watch", locale), value=watch_lines(view.watch, locale), inline=False
        )
    rows = [
        f"{discord.utils.format_dt(at, 'd')} {discord.utils.format_dt(at, 't')} · "
        f"{money(price, ref.currency)}"
        for at, price in reversed(view.points[-HISTORY_ROWS:])
    ]
    embed.description = "\n".join(rows) or t("No prices recorded yet", locale)
    embed.set_image(url=f"attachment://{CHART_FILE}")
    return embed


def render_chart(
    points: list[tuple[datetime, Decimal | None]],
    *,
    now: datetime,
    currency: str,
    title: str,
    target: Decimal | None,
    locale: str,
) -> bytes:
    """The PNG chart. Blocking: run it in a worker thread. matplotlib (a second to import) is
    imported there on first use, so neither the bot's start nor the event loop waits for it."""
    from bot.charts import PricePoint, price_history_png

    return price_history_png(
        [PricePoint(at, price) for at, price in points],
        now=now,
        currency=currency,
        title=title,
        target=target,
        locale=locale,
    )


def chart_target(watch: WatchView | None) -> Decimal | None:
    """The price at which the watch alerts (the higher of its two thresholds), if any."""
    if watch is None:
        return None
    found = [p for p in (watch.target_price, watch.drop_price) if p is not None]
    return max(found) if found else None
