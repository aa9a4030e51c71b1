"""Embeds for ``/wanted``: the confirmation preview, the list pages, history and check replies.

Every text from Discogs (titles, artists, formats) is untrusted and escaped with ``clean``.
"""

from __future__ import annotations

from collections.abc import Sequence

import discord

from bot.delivery.render import FIELD_VALUE_LIMIT, TITLE_LIMIT, clean, safe_url
from bot.domain.discogs import Money, WantedCriteria
from bot.i18n import N_, t
from bot.services.wanted import (
    DiscogsStatus,
    ImportProgress,
    WantedAlertView,
    WantedDraft,
    WantedView,
)

RECORD_COLOUR = discord.Colour(0xE67E22)
PER_PAGE = 8

STATUS_LABELS = {
    "monitoring": N_("👀 monitoring"),
    "price_matched": N_("✅ price matched"),
    "underpriced": N_("🔥 underpriced"),
    "no_listings": N_("📭 no listings"),
}
SLEEVE_HELP = N_(
    "Generic, Not Graded and No Cover sleeves do not count as meeting a minimum sleeve grade."
)


def criteria_lines(criteria: WantedCriteria, locale: str) -> list[str]:
    """One line per criterion that is set; "any" when none is."""
    lines = []
    if criteria.max_price is not None:
        lines.append(t("Max price: {price}", locale, price=str(criteria.max_price)))
    if criteria.min_media is not None:
        lines.append(t("Media: {grade} or better", locale, grade=criteria.min_media.label))
    if criteria.min_sleeve is not None:
        lines.append(t("Sleeve: {grade} or better", locale, grade=criteria.min_sleeve.label))
    if criteria.ships_from:
        places = clean(", ".join(sorted(criteria.ships_from)), 300)
        lines.append(t("Ships from: {places}", locale, places=places))
    if criteria.min_seller_rating is not None:
        lines.append(
            t("Seller rating: {rating}% or more", locale, rating=f"{criteria.min_seller_rating:g}")
        )
    if criteria.underpriced_percent is not None:
        lines.append(
            t(
                "At least {percent}% under the usual price",
                locale,
                percent=f"{criteria.underpriced_percent:g}",
            )
        )
    return lines or [t("Any copy at any price", locale)]


def _market(lowest: Money | None, count: int | None, locale: str) -> str:
    if count == 0:
        return t("Nothing for sale right now", locale)
    if lowest is None:
        return t("Not checked yet", locale)
    return t("{count} for sale, lowest {price}", locale, count=count or "?", price=str(lowest))


def draft_embed(draft: WantedDraft, locale: str) -> discord.Embed:
    """The preview ``/wanted add`` shows before saving."""
    kind = t("any pressing (master)", locale) if draft.ref.kind == "master" else ""
    heading = f"{draft.artists} – {draft.title}" if draft.artists else draft.title
    embed = discord.Embed(
        title=clean(heading, TITLE_LIMIT),
        url=safe_url(draft.ref.url),
        colour=RECORD_COLOUR,
        description=t("Add this to your wanted list?", locale),
    )
    facts = [str(draft.year) if draft.year else "", clean(draft.formats, 200), kind]
    shown = " · ".join(f for f in facts if f)
    if shown:
        embed.add_field(name=t("Release", locale), value=shown, inline=False)
    embed.add_field(
        name=t("Alert me when", locale),
        value="\n".join(criteria_lines(draft.criteria, locale))[:FIELD_VALUE_LIMIT],
        inline=False,
    )
    embed.add_field(
        name=t("Marketplace now", locale),
        value=_market(draft.lowest, draft.num_for_sale, locale),
        inline=False,
    )
    image = safe_url(draft.cover_url or draft.thumb_url)
    if image:
        embed.set_thumbnail(url=image)
    if draft.criteria.min_sleeve is not None:
        embed.set_footer(text=t(SLEEVE_HELP, locale))
    return embed


def status_line(entry: WantedView, locale: str) -> str:
    """ "✅ price matched · 4 for sale, lowest 35.00 USD" """
    label = STATUS_LABELS.get(entry.status)
    status = t(label, locale) if label else entry.status
    if not entry.active:
        status = t("⏸️ paused", locale)
    return f"{status} · {_market(entry.lowest, entry.num_for_sale, locale)}"


def list_pages(entries: Sequence[WantedView], locale: str) -> list[discord.Embed]:
    pages = []
    for start in range(0, len(entries), PER_PAGE):
        chunk = entries[start : start + PER_PAGE]
        embed = discord.Embed(
            title=t("🎵 Your wanted list ({count})", locale, count=len(entries)),
            colour=RECORD_COLOUR,
        )
        for entry in chunk:
            embed.add_field(
                name=clean(f"#{entry.id} {entry.name}", 250),
                value=(
                    status_line(entry, locale)
                    + "\n"
                    + " · ".join(criteria_lines(entry.criteria, locale))
                )[:FIELD_VALUE_LIMIT],
                inline=False,
            )
        pages.append(embed)
    return pages


def entry_embed(entry: WantedView, heading: str, locale: str) -> discord.Embed:
    embed = discord.Embed(
        title=clean(entry.name, TITLE_LIMIT),
        url=safe_url(entry.url),
        colour=RECORD_COLOUR,
        description=heading,
    )
    embed.add_field(
        name=t("Alert me when", locale),
        value="\n".join(criteria_lines(entry.criteria, locale))[:FIELD_VALUE_LIMIT],
        inline=False,
    )
    embed.add_field(name=t("Status", locale), value=status_line(entry, locale), inline=False)
    image = safe_url(entry.thumb_url)
    if image:
        embed.set_thumbnail(url=image)
    return embed


def history_embed(
    entry: WantedView, alerts: Sequence[WantedAlertView], locale: str
) -> discord.Embed:
    embed = discord.Embed(
        title=t("🕑 Alerts for {name}", locale, name=clean(entry.name, 200)),
        colour=RECORD_COLOUR,
    )
    if not alerts:
        embed.description = t("No alerts yet for this entry.", locale)
        return embed
    lines = []
    for alert in alerts:
        price = str(alert.price)
        level = t("lowest price", locale) if alert.level == "stats" else t("listing", locale)
        line = f"{discord.utils.format_dt(alert.created_at, 'R')} · **{price}** · {level}"
        if alert.reference:
            line += f" · {clean(alert.reference, 120)}"
        lines.append(line)
    embed.description = "\n".join(lines)[:4000]
    return embed


def import_text(progress: ImportProgress, username: str, done: bool, locale: str) -> str:
    name = clean(username, 64)
    if done:
        head = t("✅ Imported the wantlist of **{name}**.", locale, name=name)
    else:
        head = t(
            "⏳ Importing the wantlist of **{name}**: page {page} of {pages}…",
            locale,
            name=name,
            page=progress.page,
            pages=progress.pages or "?",
        )
    lines = [
        head,
        t(
            "Added {added}, already on your list {existing}.",
            locale,
            added=progress.added,
            existing=progress.skipped_existing,
        ),
    ]
    if progress.skipped_full:
        lines.append(t("Skipped {count}: your list is full.", locale, count=progress.skipped_full))
    if progress.warnings:
        lines.append(t("Notes I could not use:", locale))
        lines.extend(f"• {clean(w, 150)}" for w in progress.warnings[:8])
        if len(progress.warnings) > 8:
            lines.append(t("…and {count} more.", locale, count=len(progress.warnings) - 8))
    if progress.stopped:
        lines.append("⚠️ " + clean(progress.stopped, 200))
    return "\n".join(lines)[:2000]


def discogs_status_embed(status: DiscogsStatus, locale: str) -> discord.Embed:
    """``/admin discogs``: the request budget, the queue and what is watched."""
    embed = discord.Embed(title=t("🎵 Discogs watcher", locale), colour=RECORD_COLOUR)
    embed.add_field(
        name=t("Request budget", locale),
        value=t(
            "{used}/{limit} in the last minute ({reserve} kept for commands)",
            locale,
            used=status.used_in_window,
            limit=status.limit_per_minute,
            reserve=status.reserve,
        ),
        inline=False,
    )
    embed.add_field(name=t("Queue depth", locale), value=str(status.queue_depth))
    embed.add_field(
        name=t("Watched", locale),
        value=t(
            "{releases} releases for {entries} entries of {users} users",
            locale,
            releases=status.releases,
            entries=status.entries,
            users=status.users,
        ),
    )
    embed.add_field(
        name=t("Polls since start", locale),
        value=t(
            "{polls} ({failures} failed)", locale, polls=status.polls, failures=status.failures
        ),
    )
    embed.add_field(name=t("Sell-page adapter", locale), value=status.sell_page)
    if status.next_checks:
        lines = []
        for kind, target_id, at, error in status.next_checks:
            line = f"{kind} {target_id} · {discord.utils.format_dt(at, 'R')}"
            if error:
                line += f" · ⚠️ {clean(error, 100)}"
            lines.append(line)
        embed.add_field(name=t("Next checks", locale), value="\n".join(lines), inline=False)
    return embed
