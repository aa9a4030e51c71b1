"""Embeds the cogs reply with. Everything a user (or a seller, or a feed) typed goes through
``render.clean`` — markdown and mentions escaped, cut to Discord's limits."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import discord

from bot.delivery.render import (
    BRAND_COLOUR,
    FIELD_VALUE_LIMIT,
    TITLE_LIMIT,
    clean,
    cut,
    listing_embed,
)
from bot.domain.listing import Condition, format_money
from bot.domain.rule import Channel, Rule
from bot.ingest.community import IngestResult
from bot.services.admin import GuildStats
from bot.services.rules import TestReport

PAUSED_COLOUR = discord.Colour.light_grey()
ERROR_COLOUR = discord.Colour.red()
FIELD_NAME_LIMIT = 256
RULES_PER_PAGE = 5

CHANNEL_LABELS = {Channel.dm: "DM", Channel.channel: "server alert channel"}


def _terms(terms: Sequence[str], limit: int = FIELD_VALUE_LIMIT) -> str:
    """Keywords as typed; phrases of several words are shown in quotes, as the user wrote them."""
    shown = [f'"{t}"' if " " in t else t for t in terms]
    return cut(clean(", ".join(shown), limit), limit)


def price_range(min_price: Decimal | None, max_price: Decimal | None, currency: str) -> str:
    if min_price is None and max_price is None:
        return "any price"
    if min_price is not None and max_price is not None:
        return f"{format_money(min_price, currency)} – {format_money(max_price, currency)}"
    if min_price is not None:
        return f"at least {format_money(min_price, currency)}"
    return f"up to {format_money(max_price, currency)}"


def condition_text(condition: Condition | None) -> str:
    return "any" if condition is None else f"{Condition(condition).label} or better"


def location_text(rule: Rule) -> str:
    if not rule.location_text:
        return "anywhere"
    where = clean(rule.location_text, 200)
    if rule.radius_mi is not None:
        where += f" (within {rule.radius_mi:g} mi)"
    return where


def channels_text(channels: frozenset[Channel]) -> str:
    return ", ".join(CHANNEL_LABELS.get(c, c.value) for c in Channel if c in channels) or "none"


def rule_title(rule: Rule) -> str:
    prefix = "🔔" if rule.active else "⏸️"
    return cut(f"{prefix} {clean(rule.name, 200)}", TITLE_LIMIT)


def rule_summary_embed(rule: Rule, *, heading: str | None = None) -> discord.Embed:
    """Everything about one rule, as ``/alert create``, ``show`` and ``edit`` reply."""
    embed = discord.Embed(
        title=rule_title(rule),
        description=heading,
        colour=BRAND_COLOUR if rule.active else PAUSED_COLOUR,
    )
    embed.add_field(
        name="Keywords", value=_terms(rule.keywords) if rule.keywords else "any", inline=False
    )
    embed.add_field(
        name="Excluded", value=_terms(rule.exclude) if rule.exclude else "none", inline=False
    )
    embed.add_field(name="Price", value=price_range(rule.min_price, rule.max_price, rule.currency))
    embed.add_field(
        name="Category",
        value=clean(", ".join(rule.categories), FIELD_VALUE_LIMIT) if rule.categories else "any",
    )
    embed.add_field(name="Condition", value=condition_text(rule.min_condition))
    embed.add_field(name="Location", value=location_text(rule))
    embed.add_field(
        name="Min deal score",
        value="none" if rule.min_deal_score is None else f"{rule.min_deal_score:.2f}",
    )
    embed.add_field(name="Channels", value=channels_text(rule.channels))
    embed.add_field(name="Status", value="✅ active" if rule.active else "⏸️ paused")
    embed.set_footer(text=f"Alert #{rule.id}")
    return embed


def rule_line(rule: Rule) -> str:
    """A one-line summary for ``/alert list``."""
    what = _terms(rule.keywords, 300) if rule.keywords else "any keywords"
    if rule.categories:
        what += f" in {clean(', '.join(rule.categories), 200)}"
    parts = [
        what,
        price_range(rule.min_price, rule.max_price, rule.currency),
        channels_text(rule.channels),
    ]
    if not rule.active:
        parts.append("paused")
    return cut(" · ".join(parts), FIELD_VALUE_LIMIT)


def rule_list_pages(rules: Sequence[Rule], per_page: int = RULES_PER_PAGE) -> list[discord.Embed]:
    pages = []
    total = len(rules)
    for start in range(0, total, per_page):
        embed = discord.Embed(
            title="Your alerts",
            description=f"{total} alert{'s' if total != 1 else ''}. "
            "Use `/alert show`, `/alert edit` or `/alert test` for details.",
            colour=BRAND_COLOUR,
        )
        for rule in rules[start : start + per_page]:
            embed.add_field(name=rule_title(rule), value=rule_line(rule), inline=False)
        pages.append(embed)
    return pages


def _mark(passed: bool) -> str:
    return "✅" if passed else "❌"


def test_report_embed(report: TestReport) -> discord.Embed:
    """``/alert test``: how many recent listings match, and each check for the closest few."""
    rule = report.rule
    embed = discord.Embed(
        title=cut(f"🧪 Test of {clean(rule.name, 200)}", TITLE_LIMIT),
        colour=BRAND_COLOUR if rule.active else PAUSED_COLOUR,
    )
    if report.sampled == 0:
        description = "There are no listings yet to test against."
    else:
        description = (
            f"Sampled **{report.sampled}** recent listing{'s' if report.sampled != 1 else ''}; "
            f"**{report.matched}** match."
        )
        if report.best:
            description += f"\nThe closest {len(report.best)}, check by check:"
    if not rule.active:
        description += "\n⏸️ This alert is paused: it sends nothing until you `/alert resume` it."
    embed.description = description
    for result in report.best:
        listing = result.listing
        name = (
            f"{_mark(result.matched)} #{listing.id} {clean(listing.title, 150)} — "
            f"{format_money(listing.price, listing.currency)}"
        )
        lines = [
            f"{_mark(check.passed)} **{check.name}**: {clean(check.detail, 120)}"
            for check in result.checks
        ]
        embed.add_field(
            name=cut(name, FIELD_NAME_LIMIT),
            value=cut("\n".join(lines), FIELD_VALUE_LIMIT),
            inline=False,
        )
    return embed


def _channel(channel_id: int | None, command: str) -> str:
    return f"<#{channel_id}>" if channel_id else f"not set — use `/admin {command}`"


def stats_embed(stats: GuildStats, guild_name: str | None = None) -> discord.Embed:
    alerts = stats.alerts
    embed = discord.Embed(
        title=cut(f"📊 Deal Scout in {clean(guild_name, 200) or 'this server'}", TITLE_LIMIT),
        colour=BRAND_COLOUR,
    )
    embed.add_field(name="Rules", value=str(stats.rules))
    embed.add_field(name="Listings", value=str(stats.listings))
    embed.add_field(name="Users with DMs closed", value=str(stats.dms_closed_users))
    embed.add_field(
        name="Alerts",
        value=(
            f"sent **{alerts.sent}** · pending **{alerts.pending + alerts.sending}** · "
            f"failed **{alerts.failed}** · suppressed **{alerts.suppressed}**"
        ),
        inline=False,
    )
    failures = "\n".join(f"{n} × {clean(reason, 150)}" for reason, n in stats.top_failures)
    embed.add_field(
        name="Top failure reasons", value=cut(failures or "none", FIELD_VALUE_LIMIT), inline=False
    )
    embed.add_field(name="Alert channel", value=_channel(stats.alert_channel_id, "alert-channel"))
    embed.add_field(
        name="Marketplace channel",
        value=_channel(stats.marketplace_channel_id, "marketplace-channel"),
    )
    return embed


def sold_embed(result: IngestResult) -> discord.Embed:
    """The seller's confirmation: the listing as buyers see it, and where it was posted."""
    embed = listing_embed(result.listing)
    if result.listing.url:
        embed.add_field(
            name="Marketplace post", value=f"[Open the post]({result.listing.url})", inline=False
        )
    return embed


def sold_text(result: IngestResult) -> str:
    n = result.alerts_queued
    return f"✅ Listed! {n} alert{'s' if n != 1 else ''} queued."
