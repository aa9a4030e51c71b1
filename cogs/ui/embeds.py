"""Embeds the cogs reply with. Everything a user (or a seller, or a feed) typed goes through
``render.clean`` — markdown and mentions escaped, cut to Discord's limits. Every builder takes
the reader's ``locale``; the words go through ``bot.i18n``."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import discord

from bot.delivery.render import (
    BRAND_COLOUR,
    FIELD_VALUE_LIMIT,
    TITLE_LIMIT,
    clean,
    condition_label,
    cut,
    listing_embed,
)
from bot.domain.listing import Condition, format_money
from bot.domain.rule import Channel, Rule
from bot.i18n import N_, t, tn
from bot.ingest.community import IngestResult
from bot.services.admin import GuildStats
from bot.services.rules import TestReport

PAUSED_COLOUR = discord.Colour.light_grey()
ERROR_COLOUR = discord.Colour.red()
FIELD_NAME_LIMIT = 256
RULES_PER_PAGE = 5

CHANNEL_LABELS = {Channel.dm: N_("DM"), Channel.channel: N_("server alert channel")}


def _terms(terms: Sequence[str], limit: int = FIELD_VALUE_LIMIT) -> str:
    """Keywords as typed; phrases of several words are shown in quotes, as the user wrote them."""
    shown = [f'"{t}"' if " " in t else t for t in terms]
    return cut(clean(", ".join(shown), limit), limit)


def price_range(
    min_price: Decimal | None, max_price: Decimal | None, currency: str, locale: str = "en"
) -> str:
    if min_price is None and max_price is None:
        return t("any price", locale)
    if min_price is not None and max_price is not None:
        return t(
            "{low} – {high}",
            locale,
            low=format_money(min_price, currency),
            high=format_money(max_price, currency),
        )
    if min_price is not None:
        return t("at least {price}", locale, price=format_money(min_price, currency))
    return t("up to {price}", locale, price=format_money(max_price, currency))


def condition_text(condition: Condition | None, locale: str = "en") -> str:
    if condition is None:
        return t("any", locale)
    return t("{condition} or better", locale, condition=condition_label(condition, locale))


def location_text(rule: Rule, locale: str = "en") -> str:
    if not rule.location_text:
        return t("anywhere", locale)
    where = clean(rule.location_text, 200)
    if rule.radius_mi is not None:
        where = t("{place} (within {radius} mi)", locale, place=where, radius=f"{rule.radius_mi:g}")
    return where


def channels_text(channels: frozenset[Channel], locale: str = "en") -> str:
    labels = [
        t(CHANNEL_LABELS[c], locale) if c in CHANNEL_LABELS else c.value
        for c in Channel
        if c in channels
    ]
    return ", ".join(labels) or t("none", locale)


def rule_title(rule: Rule) -> str:
    prefix = "🔔" if rule.active else "⏸️"
    return cut(f"{prefix} {clean(rule.name, 200)}", TITLE_LIMIT)


def rule_summary_embed(
    rule: Rule, *, heading: str | None = None, locale: str = "en"
) -> discord.Embed:
    """Everything about one rule, as ``/alert create``, ``show`` and ``edit`` reply."""
    embed = discord.Embed(
        title=rule_title(rule),
        description=heading,
        colour=BRAND_COLOUR if rule.active else PAUSED_COLOUR,
    )
    embed.add_field(
        name=t("Keywords", locale),
        value=_terms(rule.keywords) if rule.keywords else t("any", locale),
        inline=False,
    )
    embed.add_field(
        name=t("Excluded", locale),
        value=_terms(rule.exclude) if rule.exclude else t("none", locale),
        inline=False,
    )
    embed.add_field(
        name=t("Price", locale),
        value=price_range(rule.min_price, rule.max_price, rule.currency, locale),
    )
    embed.add_field(
        name=t("Category", locale),
        value=(
            clean(", ".join(rule.categories), FIELD_VALUE_LIMIT)
            if rule.categories
            else t("any", locale)
        ),
    )
    embed.add_field(name=t("Condition", locale), value=condition_text(rule.min_condition, locale))
    embed.add_field(name=t("Location", locale), value=location_text(rule, locale))
    embed.add_field(
        name=t("Min deal score", locale),
        value=t("none", locale) if rule.min_deal_score is None else f"{rule.min_deal_score:.2f}",
    )
    embed.add_field(name=t("Channels", locale), value=channels_text(rule.channels, locale))
    embed.add_field(
        name=t("Status", locale),
        value=t("✅ active", locale) if rule.active else t("⏸️ paused", locale),
    )
    embed.set_footer(text=t("Alert #{id}", locale, id=rule.id))
    return embed


def rule_line(rule: Rule, locale: str = "en") -> str:
    """A one-line summary for ``/alert list``."""
    what = _terms(rule.keywords, 300) if rule.keywords else t("any keywords", locale)
    if rule.categories:
        what = t(
            "{what} in {categories}",
            locale,
            what=what,
            categories=clean(", ".join(rule.categories), 200),
        )
    parts = [
        what,
        price_range(rule.min_price, rule.max_price, rule.currency, locale),
        channels_text(rule.channels, locale),
    ]
    if not rule.active:
        parts.append(t("paused", locale))
    return cut(" · ".join(parts), FIELD_VALUE_LIMIT)


def rule_list_pages(
    rules: Sequence[Rule], per_page: int = RULES_PER_PAGE, *, locale: str = "en"
) -> list[discord.Embed]:
    pages = []
    total = len(rules)
    for start in range(0, total, per_page):
        embed = discord.Embed(
            title=t("Your alerts", locale),
            description=tn(
                "{n} alert. Use `/alert show`, `/alert edit` or `/alert test` for details.",
                "{n} alerts. Use `/alert show`, `/alert edit` or `/alert test` for details.",
                total,
                locale,
            ),
            colour=BRAND_COLOUR,
        )
        for rule in rules[start : start + per_page]:
            embed.add_field(name=rule_title(rule), value=rule_line(rule, locale), inline=False)
        pages.append(embed)
    return pages


def _mark(passed: bool) -> str:
    return "✅" if passed else "❌"


def test_report_embed(report: TestReport, locale: str = "en") -> discord.Embed:
    """``/alert test``: how many recent listings match, and each check for the closest few."""
    rule = report.rule
    embed = discord.Embed(
        title=cut(t("🧪 Test of {name}", locale, name=clean(rule.name, 200)), TITLE_LIMIT),
        colour=BRAND_COLOUR if rule.active else PAUSED_COLOUR,
    )
    if report.sampled == 0:
        description = t("There are no listings yet to test against.", locale)
    else:
        description = tn(
            "Sampled **{n}** recent listing; **{matched}** match.",
            "Sampled **{n}** recent listings; **{matched}** match.",
            report.sampled,
            locale,
            matched=report.matched,
        )
        if report.best:
            description += "\n" + tn(
                "The closest {n}, check by check:",
                "The closest {n}, check by check:",
                len(report.best),
                locale,
            )
    if not rule.active:
        description += "\n" + t(
            "⏸️ This alert is paused: it sends nothing until you `/alert resume` it.", locale
        )
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


def _channel(channel_id: int | None, command: str, locale: str = "en") -> str:
    if channel_id:
        return f"<#{channel_id}>"
    return t("not set — use `/admin {command}`", locale, command=command)


def stats_embed(
    stats: GuildStats, guild_name: str | None = None, locale: str = "en"
) -> discord.Embed:
    alerts = stats.alerts
    where = clean(guild_name, 200) or t("this server", locale)
    embed = discord.Embed(
        title=cut(t("📊 Deal Scout in {server}", locale, server=where), TITLE_LIMIT),
        colour=BRAND_COLOUR,
    )
    embed.add_field(name=t("Rules", locale), value=str(stats.rules))
    embed.add_field(name=t("Listings", locale), value=str(stats.listings))
    embed.add_field(name=t("Users with DMs closed", locale), value=str(stats.dms_closed_users))
    embed.add_field(
        name=t("Alerts", locale),
        value=t(
            "sent **{sent}** · pending **{pending}** · "
            "failed **{failed}** · suppressed **{suppressed}**",
            locale,
            sent=alerts.sent,
            pending=alerts.pending + alerts.sending,
            failed=alerts.failed,
            suppressed=alerts.suppressed,
        ),
        inline=False,
    )
    failures = "\n".join(f"{n} × {clean(reason, 150)}" for reason, n in stats.top_failures)
    embed.add_field(
        name=t("Top failure reasons", locale),
        value=cut(failures or t("none", locale), FIELD_VALUE_LIMIT),
        inline=False,
    )
    embed.add_field(
        name=t("Alert channel", locale),
        value=_channel(stats.alert_channel_id, "alert-channel", locale),
    )
    embed.add_field(
        name=t("Marketplace channel", locale),
        value=_channel(stats.marketplace_channel_id, "marketplace-channel", locale),
    )
    return embed


def sold_embed(result: IngestResult, locale: str = "en") -> discord.Embed:
    """The seller's confirmation: the listing as buyers see it, and where it was posted."""
    embed = listing_embed(result.listing, locale)
    if result.listing.url:
        embed.add_field(
            name=t("Marketplace post", locale),
            value=t("[Open the post]({url})", locale, url=result.listing.url),
            inline=False,
        )
    return embed


def sold_text(result: IngestResult, locale: str = "en") -> str:
    n = result.alerts_queued
    return tn("✅ Listed! {n} alert queued.", "✅ Listed! {n} alerts queued.", n, locale)
