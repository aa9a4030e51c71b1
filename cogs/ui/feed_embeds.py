"""Embeds for ``/admin feed``: the feed list (status, interval, last success, items seen) and
the reply to ``add``.

Feed titles, URLs and error reasons come from remote servers (or the admin who typed them), so
they go through ``clean``. URLs are shown without their query string: private feed URLs often
carry an access token there.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from urllib.parse import urlsplit, urlunsplit

import discord

from bot.delivery.render import BRAND_COLOUR, FIELD_VALUE_LIMIT, TITLE_LIMIT, clean, cut
from bot.i18n import N_, t, tn
from bot.ingest.feeds import AddedFeed, FeedView

FEEDS_PER_PAGE = 5
FIELD_NAME_LIMIT = 256

STATE_LABELS = {
    "ok": N_("✅ ok"),
    "pending": N_("⏳ waiting for its first fetch"),
    "paused": N_("⏸️ paused"),
}


def shown_url(url: str) -> str:
    """The URL without query string or fragment ("?…" marks that there was one)."""
    parts = urlsplit(url)
    bare = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
    return bare + ("?…" if parts.query else "")


def interval_text(seconds: int, locale: str) -> str:
    """900 → "every 15 min"; 5400 → "every 1 h 30 min"; 90 → "every 90 s"."""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if secs or seconds < 60:
        return t("every {seconds} s", locale, seconds=seconds)
    if not hours:
        return t("every {minutes} min", locale, minutes=minutes)
    if not minutes:
        return t("every {hours} h", locale, hours=hours)
    return t("every {hours} h {minutes} min", locale, hours=hours, minutes=minutes)


def _when(moment: datetime | None, locale: str) -> str:
    return discord.utils.format_dt(moment, "R") if moment is not None else t("never", locale)


def status_text(feed: FeedView, locale: str) -> str:
    state = feed.state
    if state in STATE_LABELS:
        return t(STATE_LABELS[state], locale)
    reason = clean(feed.last_error, 300) or t("unknown error", locale)
    if state == "error":
        return tn(
            "⚠️ error ({n} failure in a row): {reason}",
            "⚠️ error ({n} failures in a row): {reason}",
            feed.failures,
            locale,
            reason=reason,
        )
    return tn(
        "🔁 ok, retrying after {n} failure: {reason}",
        "🔁 ok, retrying after {n} failures: {reason}",
        feed.failures,
        locale,
        reason=reason,
    )


def feed_field(feed: FeedView, locale: str) -> tuple[str, str]:
    """(field name, field value) for one feed."""
    name = cut(f"#{feed.id} · {clean(feed.name, 200)}", FIELD_NAME_LIMIT)
    lines = [status_text(feed, locale), clean(shown_url(feed.url), 300)]
    every = interval_text(feed.interval_seconds, locale)
    if feed.category:
        every = t(
            "{interval} · category {category}",
            locale,
            interval=every,
            category=clean(feed.category, 100),
        )
    lines.append(every)
    lines.append(
        tn(
            "Last success: {when} · {n} item seen",
            "Last success: {when} · {n} items seen",
            feed.items_seen,
            locale,
            when=_when(feed.last_success_at, locale),
        )
    )
    if not feed.paused:
        lines.append(t("Next fetch: {when}", locale, when=_when(feed.next_fetch_at, locale)))
    return name, cut("\n".join(lines), FIELD_VALUE_LIMIT)


def feed_list_pages(feeds: Sequence[FeedView], locale: str) -> list[discord.Embed]:
    """``/admin feed list``: five feeds a page."""
    pages = []
    for start in range(0, len(feeds), FEEDS_PER_PAGE):
        embed = discord.Embed(
            title=t("📰 Listing feeds", locale),
            description=tn(
                "{n} feed in this server.", "{n} feeds in this server.", len(feeds), locale
            ),
            colour=BRAND_COLOUR,
        )
        for feed in feeds[start : start + FEEDS_PER_PAGE]:
            name, value = feed_field(feed, locale)
            embed.add_field(name=name, value=value, inline=False)
        pages.append(embed)
    return pages


def added_embed(added: AddedFeed, locale: str) -> discord.Embed:
    """The reply to ``/admin feed add``."""
    feed = added.feed
    embed = discord.Embed(
        title=cut(t("✅ Feed added: {name}", locale, name=clean(feed.name, 200)), TITLE_LIMIT),
        description=tn(
            "It has {n} entry right now. Those are stored without alerts (except any published "
            "in the last 24 hours); new entries will alert matching rules.",
            "It has {n} entries right now. Those are stored without alerts (except any published "
            "in the last 24 hours); new entries will alert matching rules.",
            added.entries,
            locale,
        ),
        colour=BRAND_COLOUR,
    )
    name, value = feed_field(feed, locale)
    embed.add_field(name=name, value=value, inline=False)
    return embed
