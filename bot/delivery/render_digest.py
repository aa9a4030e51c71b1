"""The digest as a paginated DM embed: the best deals first, grouped by alert on each page.

Page buttons carry the digest's outbox id and the page; ``cogs/digests.py`` answers them by
re-reading the digest from the database, so they keep working after a restart.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Sequence

import discord

from bot.delivery.render import BRAND_COLOUR, FIELD_VALUE_LIMIT, clean, cut, safe_url
from bot.delivery.senders.base import DigestEntry
from bot.domain.listing import format_money
from bot.i18n import t, tn

PAGE_SIZE = 5
DIGEST_PAGE_ID = "ds:digest:{digest_id}:{page}"
DIGEST_PAGE_PATTERN = r"ds:digest:(?P<digest_id>[0-9]{1,19}):(?P<page>[0-9]{1,4})"


def page_count(entries: Sequence[DigestEntry]) -> int:
    return max(1, math.ceil(len(entries) / PAGE_SIZE))


def _line(entry: DigestEntry, locale: str) -> str:
    listing = entry.listing
    title = clean(listing.title, 120) or t("Untitled listing", locale)
    url = safe_url(listing.url)
    head = f"[{title}]({url})" if url else f"**{title}**"
    price = format_money(listing.price, listing.currency)
    if listing.deal_score is None:
        return t("{listing} — {price}", locale, listing=head, price=price)
    return t(
        "{listing} — {price} · score {score}",
        locale,
        listing=head,
        price=price,
        score=f"{listing.deal_score:.2f}",
    )


def _title(frequency: str, count: int, locale: str) -> str:
    if frequency == "weekly":
        return tn("Your weekly digest — {n} deal", "Your weekly digest — {n} deals", count, locale)
    return tn("Your daily digest — {n} deal", "Your daily digest — {n} deals", count, locale)


def digest_embed(
    period: str,
    entries: Sequence[DigestEntry],
    page: int,
    held_by_cap: int = 0,
    locale: str = "en",
) -> discord.Embed:
    """One page of a digest. ``period`` is "daily:YYYY-MM-DD" or "weekly:YYYY-MM-DD"."""
    frequency, _, day = period.partition(":")
    pages = page_count(entries)
    page = min(max(page, 0), pages - 1)
    shown = entries[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]
    held = (
        tn(
            "{n} of these went over your daily limit, so it waited here.",
            "{n} of these went over your daily limit, so they waited here.",
            held_by_cap,
            locale,
        )
        if held_by_cap
        else None
    )
    embed = discord.Embed(
        title=_title(frequency, len(entries), locale), colour=BRAND_COLOUR, description=held
    )
    groups: OrderedDict[str, list[str]] = OrderedDict()
    for entry in shown:
        groups.setdefault(entry.rule_names[0], []).append(_line(entry, locale))
    for rule_name, lines in groups.items():
        embed.add_field(
            name=cut(t("Alert “{name}”", locale, name=rule_name), 256),
            value=cut("\n".join(lines), FIELD_VALUE_LIMIT),
            inline=False,
        )
    embed.set_footer(
        text=t(
            "{day} · page {page} of {pages} · change how often with /prefs frequency",
            locale,
            day=day,
            page=page + 1,
            pages=pages,
        )
    )
    return embed


def digest_buttons(digest_id: int, page: int, pages: int, locale: str = "en") -> discord.ui.View:
    """Previous/Next buttons (none for a one-page digest)."""
    view = discord.ui.View(timeout=None)
    for label, target, disabled in (
        (t("◀ Previous", locale), page - 1, page <= 0),
        (t("Next ▶", locale), page + 1, page >= pages - 1),
    ):
        view.add_item(
            discord.ui.Button(
                label=label,
                style=discord.ButtonStyle.secondary,
                custom_id=DIGEST_PAGE_ID.format(digest_id=digest_id, page=max(0, target)),
                disabled=disabled,
            )
        )
    if pages <= 1:
        view.clear_items()
    view.stop()
    return view
