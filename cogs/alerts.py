"""``/alert``: create and manage alert rules, and the buttons on every alert message.

Thin: parse the options, call :class:`bot.services.rules.RuleService`, render the answer. The
service validates everything and names the field at fault; errors reach the user through the
single handler in ``cogs/errors.py``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.app_commands import locale_str
from discord.ext import commands

from bot.delivery.notices import channel_name
from bot.delivery.render import (
    BRAND_COLOUR,
    NOT_INTERESTED_ID,
    NOT_INTERESTED_PATTERN,
    PAUSE_RULE_ID,
    PAUSE_RULE_PATTERN,
    clean,
    cut,
)
from bot.domain.rule import RuleInput
from bot.errors import UserFacingError
from bot.i18n import N_, locale_of, t
from bot.services.deliveries import HistoryItem
from cogs.ui.buttons import IdButton
from cogs.ui.confirm import ConfirmView
from cogs.ui.embeds import rule_list_pages, rule_summary_embed, test_report_embed
from cogs.ui.options import (
    CHOICE_LIMIT,
    CONDITIONS,
    MAX_CHOICES,
    category_autocomplete,
    services_of,
)
from cogs.ui.paginator import Paginator
from cogs.ui.replies import defer, respond

if TYPE_CHECKING:
    from bot.client import DealScoutBot

log = logging.getLogger(__name__)

Choice = app_commands.Choice

EDIT_CONDITIONS: list[Choice[str]] = [
    *CONDITIONS,
    Choice(name=locale_str("Any (clear)"), value="any"),
]
CHANNEL_CHOICES = (
    "dm",
    "channel",
    "email",
    "dm,channel",
    "dm,email",
    "dm,channel,email",
    "webhook",
    "dm,webhook",
)
STATUS_LABELS = {
    "sent": N_("✅ sent"),
    "failed": N_("❌ failed"),
    "suppressed": N_("🚫 suppressed"),
    "held": N_("⏳ held"),
    "in digest": N_("📰 in digest"),
    "sending": N_("📤 sending"),
}
HISTORY_LINE = 380  # ten entries fit in an embed description
FREQUENCIES: list[Choice[str]] = [
    Choice(name=locale_str("Immediate"), value="immediate"),
    Choice(name=locale_str("Daily digest"), value="daily"),
    Choice(name=locale_str("Weekly digest"), value="weekly"),
    Choice(name=locale_str("My default (/prefs frequency)"), value="default"),
]
DELETE_CONFIRM_TIMEOUT = 60.0

DESCRIPTIONS: dict[str, locale_str] = {
    "name": locale_str("A short name for this alert (up to 80 characters)"),
    "keywords": locale_str(
        'Comma-separated words to look for; "quoted phrases" allowed: desk, "gaming chair"'
    ),
    "exclude": locale_str("Comma-separated words that rule a listing out, e.g. broken, parts"),
    "min_price": locale_str("Lowest price, e.g. 50, $350 or 1,299.99"),
    "max_price": locale_str("Highest price, e.g. 350, $350 or 1,299.99"),
    "category": locale_str("Only listings in this category (subcategories included)"),
    "condition": locale_str("The worst condition you accept"),
    "location": locale_str('Search around this US ZIP code or "City, ST" (needs a radius)'),
    "radius": locale_str("Miles around the location, 1 to 500"),
    "min_deal_score": locale_str(
        "Only deals scoring at least this, 0 to 1 (0.6 = well under the usual price)"
    ),
    "channels": locale_str(
        "Where to alert you: dm, channel (this server's alert channel), email, or a mix"
    ),
    "frequency": locale_str(
        "Immediate, or collect into your daily/weekly digest (default: /prefs frequency)"
    ),
}
EDIT_DESCRIPTIONS: dict[str, locale_str] = {
    "rule": locale_str("The alert to change"),
    "name": locale_str("A new name for the alert"),
    "keywords": locale_str('Comma-separated words; "quoted phrases" allowed; type none to clear'),
    "exclude": locale_str("Comma-separated words that rule a listing out; type none to clear"),
    "min_price": locale_str("Lowest price, e.g. $350 or 1,299.99; type none to clear"),
    "max_price": locale_str("Highest price, e.g. $350 or 1,299.99; type none to clear"),
    "category": locale_str("Only listings in this category; type none to clear"),
    "condition": locale_str("The worst condition you accept (Any clears it)"),
    "location": locale_str(
        'US ZIP code or "City, ST"; type none to clear (also clears the radius)'
    ),
    "radius": locale_str("Miles around the location, 1 to 500"),
    "min_deal_score": locale_str("Minimum deal score, 0 to 1 (0 clears it)"),
    "channels": locale_str("Where to alert you: dm, channel, email, or a mix like dm,email"),
    "frequency": locale_str(
        "Immediate, daily or weekly digest, or default (your /prefs frequency)"
    ),
}
RULE_DESCRIPTION = locale_str("One of your alerts")


async def rule_autocomplete(interaction: discord.Interaction, current: str) -> list[Choice[str]]:
    """The caller's own alerts whose name contains what was typed (never anyone else's)."""
    try:
        rules = await services_of(interaction).rules.autocomplete(interaction.user.id, current)
    except Exception:
        log.exception("rule autocomplete failed")
        return []
    choices = []
    locale = locale_of(interaction)
    for rule in rules[:MAX_CHOICES]:
        label = rule.name if rule.active else t("{name} (paused)", locale, name=rule.name)
        choices.append(Choice(name=label[:CHOICE_LIMIT], value=rule.name[:CHOICE_LIMIT]))
    return choices


async def channels_autocomplete(
    interaction: discord.Interaction, current: str
) -> list[Choice[str]]:
    typed = current.strip().casefold()
    offered = [c for c in CHANNEL_CHOICES if interaction.guild_id is not None or "channel" not in c]
    return [Choice(name=c, value=c) for c in offered if typed in c]


def _choice(value: Choice[str] | None) -> str | None:
    return None if value is None else value.value


def paused_text(name: str, locale: str) -> str:
    return t(
        "⏸️ Paused **{name}**. Turn it back on with `/alert resume`.",
        locale,
        name=clean(name, 200),
    )


def history_line(item: HistoryItem, locale: str) -> str:
    """ "**Oak desk** · 5 minutes ago · DM · ❌ failed: DMs closed" """
    title = clean(item.title, 80) if item.title else t("(listing removed)", locale)
    label = STATUS_LABELS.get(item.status)
    status = t(label, locale) if label else item.status
    parts = [
        f"**{title}**",
        discord.utils.format_dt(item.at, "R"),
        channel_name(item.channel, locale),
        status,
    ]
    line = " · ".join(parts)
    if item.due_at is not None:
        line += " " + t("until {time}", locale, time=discord.utils.format_dt(item.due_at, "t"))
    if item.reason:
        line += f": {clean(item.reason, 160)}"
    return cut(line, HISTORY_LINE)


def history_embed(items: list[HistoryItem], locale: str) -> discord.Embed:
    """``/alert history``: the user's own ten most recent alerts, each channel tried."""
    embed = discord.Embed(title=t("🕑 Your recent alerts", locale), colour=BRAND_COLOUR)
    if items:
        embed.description = "\n".join(history_line(i, locale) for i in items)
    else:
        embed.description = t("No alerts yet. Create one with `/alert create`.", locale)
    embed.set_footer(
        text=t("An alert that could not reach you on one channel is tried on the next.", locale)
    )
    return embed


class Alerts(commands.Cog):
    """Deal alerts: tell Deal Scout what you want, and it tells you when it is listed."""

    alert = app_commands.Group(
        name="alert", description=locale_str("Create and manage your deal alerts")
    )

    def __init__(self, bot: DealScoutBot) -> None:
        self.bot = bot

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(PauseAlertButton, NotInterestedButton)

    @alert.command(
        name="create", description=locale_str("Create an alert for new listings that match")
    )
    @app_commands.describe(**DESCRIPTIONS)
    @app_commands.choices(condition=CONDITIONS, frequency=FREQUENCIES)
    @app_commands.autocomplete(category=category_autocomplete, channels=channels_autocomplete)
    async def create(
        self,
        interaction: discord.Interaction,
        name: app_commands.Range[str, 1, 80],
        keywords: str | None = None,
        exclude: str | None = None,
        min_price: str | None = None,
        max_price: str | None = None,
        category: str | None = None,
        condition: Choice[str] | None = None,
        location: str | None = None,
        radius: app_commands.Range[float, 1, 500] | None = None,
        min_deal_score: app_commands.Range[float, 0, 1] | None = None,
        channels: str | None = None,
        frequency: Choice[str] | None = None,
    ) -> None:
        await defer(interaction)
        locale = locale_of(interaction)
        data = RuleInput(
            name=name,
            keywords=keywords,
            exclude=exclude,
            min_price=min_price,
            max_price=max_price,
            category=category,
            condition=_choice(condition),
            location=location,
            radius=radius,
            min_deal_score=min_deal_score,
            channels=channels,
            frequency=_choice(frequency),
        )
        rule = await self.bot.services.rules.create(interaction.user.id, interaction.guild_id, data)
        await respond(
            interaction,
            embed=rule_summary_embed(
                rule,
                heading=t("✅ Alert created. Test it with `/alert test`.", locale),
                locale=locale,
            ),
        )

    @alert.command(name="list", description=locale_str("List your alerts"))
    async def list_rules(self, interaction: discord.Interaction) -> None:
        await defer(interaction)
        locale = locale_of(interaction)
        rules = await self.bot.services.rules.list(interaction.user.id)
        if not rules:
            await respond(
                interaction, t("You have no alerts yet. Create one with `/alert create`.", locale)
            )
            return
        pages = rule_list_pages(rules, locale=locale)
        await Paginator(interaction.user.id, pages, locale=locale).start(interaction)

    @alert.command(name="show", description=locale_str("Show everything about one of your alerts"))
    @app_commands.describe(rule=RULE_DESCRIPTION)
    @app_commands.autocomplete(rule=rule_autocomplete)
    async def show(self, interaction: discord.Interaction, rule: str) -> None:
        await defer(interaction)
        found = await self.bot.services.rules.resolve(interaction.user.id, rule)
        await respond(interaction, embed=rule_summary_embed(found, locale=locale_of(interaction)))

    @alert.command(
        name="edit", description=locale_str("Change one of your alerts (give only what changes)")
    )
    @app_commands.describe(**EDIT_DESCRIPTIONS)
    @app_commands.choices(condition=EDIT_CONDITIONS, frequency=FREQUENCIES)
    @app_commands.autocomplete(
        rule=rule_autocomplete, category=category_autocomplete, channels=channels_autocomplete
    )
    async def edit(
        self,
        interaction: discord.Interaction,
        rule: str,
        name: app_commands.Range[str, 1, 80] | None = None,
        keywords: str | None = None,
        exclude: str | None = None,
        min_price: str | None = None,
        max_price: str | None = None,
        category: str | None = None,
        condition: Choice[str] | None = None,
        location: str | None = None,
        radius: app_commands.Range[float, 1, 500] | None = None,
        min_deal_score: app_commands.Range[float, 0, 1] | None = None,
        channels: str | None = None,
        frequency: Choice[str] | None = None,
    ) -> None:
        data = RuleInput(
            name=name,
            keywords=keywords,
            exclude=exclude,
            min_price=min_price,
            max_price=max_price,
            category=category,
            condition=_choice(condition),
            location=location,
            radius=radius,
            min_deal_score=min_deal_score,
            channels=channels,
            frequency=_choice(frequency),
        )
        locale = locale_of(interaction)
        if data == RuleInput():
            raise UserFacingError(t("give at least one option to change", locale))
        await defer(interaction)
        updated = await self.bot.services.rules.edit(interaction.user.id, rule, data)
        await respond(
            interaction,
            embed=rule_summary_embed(
                updated, heading=t("✅ Alert updated.", locale), locale=locale
            ),
        )

    @alert.command(
        name="pause", description=locale_str("Stop an alert for now (nothing is deleted)")
    )
    @app_commands.describe(rule=RULE_DESCRIPTION)
    @app_commands.autocomplete(rule=rule_autocomplete)
    async def pause(self, interaction: discord.Interaction, rule: str) -> None:
        await defer(interaction)
        paused = await self.bot.services.rules.set_active(interaction.user.id, rule, False)
        await respond(interaction, paused_text(paused.name, locale_of(interaction)))

    @alert.command(name="resume", description=locale_str("Turn a paused alert back on"))
    @app_commands.describe(rule=RULE_DESCRIPTION)
    @app_commands.autocomplete(rule=rule_autocomplete)
    async def resume(self, interaction: discord.Interaction, rule: str) -> None:
        await defer(interaction)
        resumed = await self.bot.services.rules.set_active(interaction.user.id, rule, True)
        await respond(
            interaction,
            t("▶️ Resumed **{name}**.", locale_of(interaction), name=clean(resumed.name, 200)),
        )

    @alert.command(name="delete", description=locale_str("Delete one of your alerts (asks first)"))
    @app_commands.describe(rule=RULE_DESCRIPTION)
    @app_commands.autocomplete(rule=rule_autocomplete)
    async def delete(self, interaction: discord.Interaction, rule: str) -> None:
        await defer(interaction)
        locale = locale_of(interaction)
        services = self.bot.services
        user_id = interaction.user.id
        target = await services.rules.resolve(user_id, rule)
        name = clean(target.name, 200)

        async def confirmed(click: discord.Interaction) -> None:
            deleted = await services.rules.delete(user_id, target.id)
            answer = locale_of(click)
            text = (
                t("🗑️ Deleted **{name}**.", answer, name=name)
                if deleted
                else t("**{name}** was already deleted.", answer, name=name)
            )
            await click.response.edit_message(content=text, embed=None, view=None)

        view = ConfirmView(
            user_id,
            on_confirm=confirmed,
            confirm_label=t("Delete", locale),
            cancelled_text=t("Kept **{name}**; nothing was deleted.", locale, name=name),
            timed_out_text=t("No answer, so **{name}** was kept.", locale, name=name),
            timeout=DELETE_CONFIRM_TIMEOUT,
            locale=locale,
        )
        view.message = await respond(
            interaction,
            t("Delete the alert **{name}**? This cannot be undone.", locale, name=name),
            view=view,
        )

    @alert.command(
        name="history",
        description=locale_str("Your 10 most recent alerts: where they went and what happened"),
    )
    async def history(self, interaction: discord.Interaction) -> None:
        await defer(interaction)
        items = await self.bot.services.deliveries.history(interaction.user.id)
        await respond(interaction, embed=history_embed(items, locale_of(interaction)))

    @alert.command(
        name="test", description=locale_str("Try an alert on recent listings and see each check")
    )
    @app_commands.describe(rule=RULE_DESCRIPTION)
    @app_commands.autocomplete(rule=rule_autocomplete)
    async def test(self, interaction: discord.Interaction, rule: str) -> None:
        await defer(interaction)
        report = await self.bot.services.rules.test(interaction.user.id, rule)
        await respond(interaction, embed=test_report_embed(report, locale_of(interaction)))


class PauseAlertButton(IdButton, template=PAUSE_RULE_PATTERN):
    """ "Pause this alert" on an alert message."""

    button_label = N_("Pause this alert")
    id_format = PAUSE_RULE_ID

    async def answer(self, interaction: discord.Interaction, locale: str) -> str:
        rule = await services_of(interaction).rules.set_active_by_id(
            interaction.user.id, self.item_id, False
        )
        return paused_text(rule.name, locale)


class NotInterestedButton(IdButton, template=NOT_INTERESTED_PATTERN):
    """ "Not interested" on an alert message: remembered, and pending alerts for it are dropped."""

    button_label = N_("Not interested")
    id_format = NOT_INTERESTED_ID

    async def answer(self, interaction: discord.Interaction, locale: str) -> str:
        added = await services_of(interaction).feedback.not_interested(
            interaction.user.id, self.item_id
        )
        if added:
            return t("👍 Noted: you won't hear about this listing again.", locale)
        return t("You already marked this listing as not interesting.", locale)


async def setup(bot: DealScoutBot) -> None:
    await bot.add_cog(Alerts(bot))
    bot.add_dynamic_items(PauseAlertButton, NotInterestedButton)
