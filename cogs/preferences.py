"""``/prefs``: how each user wants alerts delivered, and their verified email address and
mobile number.

Thin: parse the options, call :class:`bot.services.preferences.PreferencesService`,
:class:`bot.services.verification.EmailVerificationService` or
:class:`bot.services.phone.PhoneVerificationService`, render the answer. The services
validate everything, name the field at fault and write nothing on error; errors reach the user
through the single handler in ``cogs/errors.py``. Works in servers and DMs; every reply is
ephemeral, and every successful reply repeats the new value in the user's terms.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import discord
from babel import Locale
from discord import app_commands
from discord.app_commands import locale_str
from discord.ext import commands

from bot.delivery.render import BRAND_COLOUR, FIELD_VALUE_LIMIT, clean, cut
from bot.domain.failover import DEFAULT_ORDER
from bot.domain.policy import is_valid_timezone
from bot.domain.text import split_terms
from bot.i18n import N_, available_languages, locale_of, t, tn
from bot.security import CODE_DIGITS
from bot.services.phone import CODE_TTL as PHONE_CODE_TTL
from bot.services.preferences import PreferencesView
from cogs.ui.confirm import ConfirmView
from cogs.ui.embeds import PAUSED_COLOUR
from cogs.ui.options import (
    CHOICE_LIMIT,
    CURRENCY_CHOICES,
    MAX_CHOICES,
    category_autocomplete,
    services_of,
)
from cogs.ui.replies import defer, respond

if TYPE_CHECKING:
    from bot.client import DealScoutBot

log = logging.getLogger(__name__)

Choice = app_commands.Choice

STOP_CONFIRM_TIMEOUT = 60.0
PHONE_CODE_MINUTES = int(PHONE_CODE_TTL.total_seconds() // 60)
ADDRESS_LIMIT = 254  # the longest address SMTP allows
CHANNEL_CHOICES = (
    "dm",
    "channel",
    "email",
    "dm,channel",
    "dm,email",
    "channel,email",
    "dm,channel,email",
    "sms",
    "dm,sms",
    "channel,sms",
    "email,sms",
    "dm,email,sms",
    "dm,channel,sms",
    "dm,channel,email,sms",
    "webhook",
    "dm,webhook",
)
ORDER_CHOICES = (
    "dm,webhook,email,sms,channel",
    "webhook,dm,email,sms,channel",
    "dm,email,channel",
    "webhook,dm,channel",
    "email,dm,channel",
    "default",
)

CHANNEL_LABELS = {
    "dm": N_("DM"),
    "channel": N_("server alert channel"),
    "email": N_("email"),
    "sms": N_("SMS"),
    "webhook": N_("Discord webhook"),
}
FREQUENCY_LABELS = {
    "immediate": N_("Immediate"),
    "daily": N_("Daily digest"),
    "weekly": N_("Weekly digest"),
}
# PreferencesView.digest_day is the English day name ("Monday"); these mark them for translation.
DAY_NAMES = (
    N_("Monday"),
    N_("Tuesday"),
    N_("Wednesday"),
    N_("Thursday"),
    N_("Friday"),
    N_("Saturday"),
    N_("Sunday"),
)

FREQUENCIES: list[Choice[str]] = [
    Choice(name=locale_str("Immediate"), value="immediate"),
    Choice(name=locale_str("Daily digest"), value="daily"),
    Choice(name=locale_str("Weekly digest"), value="weekly"),
]
DAYS: list[Choice[str]] = [
    Choice(name=locale_str("Monday"), value="monday"),
    Choice(name=locale_str("Tuesday"), value="tuesday"),
    Choice(name=locale_str("Wednesday"), value="wednesday"),
    Choice(name=locale_str("Thursday"), value="thursday"),
    Choice(name=locale_str("Friday"), value="friday"),
    Choice(name=locale_str("Saturday"), value="saturday"),
    Choice(name=locale_str("Sunday"), value="sunday"),
]


def language_name(code: str) -> str:
    """A language's own name with its code, e.g. "English (en)", "português (Brasil) (pt_BR)"."""
    try:
        name = Locale.parse(code).get_display_name(code) or code
    except Exception:  # babel does not know every folder name a translator might use
        return code
    return f"{name[:1].upper()}{name[1:]} ({code})"


def language_choices() -> list[Choice[str]]:
    """The languages with a catalog, read once when the cog module is imported."""
    return [
        Choice(name=language_name(code)[:CHOICE_LIMIT], value=code)
        for code in available_languages()[:MAX_CHOICES]
    ]


# ---- autocompletes ---------------------------------------------------------------------------


async def channels_autocomplete(
    interaction: discord.Interaction, current: str
) -> list[Choice[str]]:
    typed = current.strip().casefold().replace(" ", "")
    return [Choice(name=c, value=c) for c in CHANNEL_CHOICES if typed in c]


async def order_autocomplete(interaction: discord.Interaction, current: str) -> list[Choice[str]]:
    typed = current.strip().casefold().replace(" ", "")
    return [Choice(name=c, value=c) for c in ORDER_CHOICES if typed in c]


async def timezone_autocomplete(
    interaction: discord.Interaction, current: str
) -> list[Choice[str]]:
    """IANA zones containing what was typed (spaces match underscores), only ones
    ``/prefs timezone`` accepts."""
    try:
        names = services_of(interaction).preferences.timezones(current, limit=4 * MAX_CHOICES)
    except Exception:
        log.exception("time zone autocomplete failed")
        return []
    valid = [n for n in names if len(n) <= CHOICE_LIMIT and is_valid_timezone(n)]
    return [Choice(name=n, value=n) for n in valid[:MAX_CHOICES]]


async def categories_autocomplete(
    interaction: discord.Interaction, current: str
) -> list[Choice[str]]:
    """Completes the last of the comma-separated categories, keeping the ones before it."""
    head, comma, last = current.rpartition(",")
    chosen = split_terms(head) if comma else []
    prefix = ", ".join(chosen) + ", " if chosen else ""
    already = {c.casefold() for c in chosen}
    choices = []
    for choice in await category_autocomplete(interaction, last):
        value = prefix + choice.value
        if choice.value.casefold() not in already and len(value) <= CHOICE_LIMIT:
            choices.append(Choice(name=value, value=value))
    return choices


# ---- texts -----------------------------------------------------------------------------------


def channels_text(channels: tuple[str, ...], locale: str) -> str:
    """In a fixed order (DM, server alert channel, email), whatever order they were typed in."""
    known = [t(label, locale) for c, label in CHANNEL_LABELS.items() if c in channels]
    labels = known + [clean(c, 40) for c in channels if c not in CHANNEL_LABELS]
    return ", ".join(labels) or t("none", locale)


def zone_text(view: PreferencesView, locale: str) -> str:
    """The zone times are read in, as shown after a time: "(America/Los_Angeles)"."""
    return view.timezone or t("UTC; set your time zone with `/prefs timezone`", locale)


def quiet_text(view: PreferencesView, locale: str) -> str:
    if view.quiet_hours is None:
        return t("off", locale)
    start, end = view.quiet_hours
    return t("{start}–{end} ({zone})", locale, start=start, end=end, zone=zone_text(view, locale))


def day_text(view: PreferencesView, locale: str) -> str:
    return t(view.digest_day, locale)


def digest_text(view: PreferencesView, locale: str) -> str:
    return t(
        "daily at {time}; weekly on {day} at {time} ({zone})",
        locale,
        time=view.digest_time,
        day=day_text(view, locale),
        zone=zone_text(view, locale),
    )


def categories_text(view: PreferencesView, locale: str) -> str:
    if not view.categories:
        return t("all (no filter)", locale)
    return cut(clean(", ".join(view.categories), FIELD_VALUE_LIMIT), FIELD_VALUE_LIMIT)


def limit_text(view: PreferencesView, locale: str) -> str:
    return tn(
        "{n} immediate alert a day; the rest wait for your digest",
        "{n} immediate alerts a day; the rest wait for your digest",
        view.daily_limit,
        locale,
    )


def status_text(view: PreferencesView, locale: str) -> str:
    if view.stopped:
        return t("⛔ stopped: nothing is sent; `/prefs resume-all` turns alerts back on", locale)
    if view.paused:
        return t("⏸️ paused: nothing is sent; `/prefs resume-all` turns alerts back on", locale)
    return t("✅ active", locale)


def email_text(view: PreferencesView, locale: str) -> str:
    if not view.email:
        return t("none; add one with `/prefs email set`", locale)
    address = clean(view.email, ADDRESS_LIMIT)
    if view.email_verified:
        return t("{address} (✅ verified)", locale, address=address)
    return t("{address} (not verified yet)", locale, address=address)


def phone_text(view: PreferencesView, locale: str) -> str:
    """Only the last two digits are ever shown; the number is encrypted at rest."""
    if view.phone_last2 is None:
        return t("none; add one with `/prefs phone set`", locale)
    if view.sms_opted_out:
        return t(
            "number ending {last2} (⚠️ replied STOP; SMS is off)", locale, last2=view.phone_last2
        )
    if view.phone_verified:
        return t("number ending {last2} (✅ verified)", locale, last2=view.phone_last2)
    return t("number ending {last2} (not verified yet)", locale, last2=view.phone_last2)


def webhook_text(view: PreferencesView, locale: str) -> str:
    """Only the webhook's id is ever shown: the URL holds its secret token."""
    if view.webhook_id is None:
        return t("none; add one with `/prefs webhook set`", locale)
    if view.webhook_disabled:
        return t(
            "webhook {id} (⚠️ deleted in Discord; set a new one with `/prefs webhook set`)",
            locale,
            id=view.webhook_id,
        )
    return t("webhook {id} (✅ set)", locale, id=view.webhook_id)


def order_text(order: tuple[str, ...], locale: str, usable: frozenset[str] | None = None) -> str:
    """ "DM → Discord webhook → email", with channels that cannot be used now struck out."""
    names = []
    for channel in order:
        label = CHANNEL_LABELS.get(channel)
        name = t(label, locale) if label else clean(channel, 20)
        names.append(name if usable is None or channel in usable else f"~~{name}~~")
    return " → ".join(names) or t("none", locale)


def frequency_text(view: PreferencesView, locale: str) -> str:
    label = FREQUENCY_LABELS.get(view.frequency)
    return t(label, locale) if label else view.frequency


def preferences_embed(view: PreferencesView, locale: str) -> discord.Embed:
    """``/prefs show``: everything, each with the command that changes it in mind."""
    embed = discord.Embed(
        title=t("⚙️ Your alert preferences", locale),
        description=t("Change any of these with the matching `/prefs` command.", locale),
        colour=PAUSED_COLOUR if view.paused or view.stopped else BRAND_COLOUR,
    )
    timezone = view.timezone or t("not set (UTC); set it with `/prefs timezone`", locale)
    rows = [
        (t("Status", locale), status_text(view, locale)),
        (t("Channels", locale), channels_text(view.channels, locale)),
        (t("Frequency", locale), frequency_text(view, locale)),
        (t("Time zone", locale), timezone),
        (t("Quiet hours", locale), quiet_text(view, locale)),
        (t("Daily limit", locale), limit_text(view, locale)),
        (t("Digest time", locale), f"{view.digest_time} ({zone_text(view, locale)})"),
        (t("Weekly digest day", locale), day_text(view, locale)),
        (t("Categories", locale), categories_text(view, locale)),
        (t("Language", locale), language_name(view.language)),
        (t("Currency (/wanted)", locale), view.currency or "USD"),
        (t("Email", locale), email_text(view, locale)),
        (t("Phone (SMS)", locale), phone_text(view, locale)),
        (t("Discord webhook", locale), webhook_text(view, locale)),
        (t("Failover order", locale), order_text(view.channel_order or DEFAULT_ORDER, locale)),
    ]
    for name, value in rows:
        embed.add_field(name=name, value=value, inline=False)
    return embed


def frequency_reply(view: PreferencesView, locale: str) -> str:
    if view.frequency == "daily":
        return t(
            "✅ Frequency: Daily digest, at {time} ({zone}).",
            locale,
            time=view.digest_time,
            zone=zone_text(view, locale),
        )
    if view.frequency == "weekly":
        return t(
            "✅ Frequency: Weekly digest, on {day} at {time} ({zone}).",
            locale,
            day=day_text(view, locale),
            time=view.digest_time,
            zone=zone_text(view, locale),
        )
    return t("✅ Frequency: Immediate; each alert is sent as soon as it matches.", locale)


# ---- the cog ---------------------------------------------------------------------------------


class Preferences(commands.Cog):
    """Where, when and how often Deal Scout alerts you."""

    prefs = app_commands.Group(
        name="prefs",
        description=locale_str("Your alert preferences: where, when and how often alerts arrive"),
    )
    email = app_commands.Group(
        name="email",
        description=locale_str("Get alerts by email: add and verify your address"),
        parent=prefs,
    )
    phone = app_commands.Group(
        name="phone",
        description=locale_str("Get alerts by SMS: add and verify your mobile number"),
        parent=prefs,
    )
    webhook = app_commands.Group(
        name="webhook",
        description=locale_str("Get alerts through a Discord webhook in a channel of yours"),
        parent=prefs,
    )

    def __init__(self, bot: DealScoutBot) -> None:
        self.bot = bot

    @prefs.command(name="show", description=locale_str("Show all your alert preferences"))
    async def show(self, interaction: discord.Interaction) -> None:
        await defer(interaction)
        view = await self.bot.services.preferences.show(interaction.user.id)
        await respond(interaction, embed=preferences_embed(view, locale_of(interaction)))

    @prefs.command(
        name="channels", description=locale_str("Where your alerts go: dm, channel, email or a mix")
    )
    @app_commands.describe(
        value=locale_str("dm, channel (a server's alert channel), email, or a mix like dm,email")
    )
    @app_commands.autocomplete(value=channels_autocomplete)
    async def channels(self, interaction: discord.Interaction, value: str) -> None:
        await defer(interaction)
        locale = locale_of(interaction)
        view = await self.bot.services.preferences.set_channels(interaction.user.id, value)
        await respond(
            interaction,
            t(
                "✅ Alerts go to: {channels}.",
                locale,
                channels=channels_text(view.channels, locale),
            ),
        )

    @prefs.command(
        name="frequency",
        description=locale_str("Get alerts at once, or collected into a daily or weekly digest"),
    )
    @app_commands.describe(frequency=locale_str("Immediate, daily digest or weekly digest"))
    @app_commands.choices(frequency=FREQUENCIES)
    async def frequency(self, interaction: discord.Interaction, frequency: Choice[str]) -> None:
        await defer(interaction)
        view = await self.bot.services.preferences.set_frequency(
            interaction.user.id, frequency.value
        )
        await respond(interaction, frequency_reply(view, locale_of(interaction)))

    @prefs.command(
        name="timezone",
        description=locale_str("Your time zone, for quiet hours and digest times"),
    )
    @app_commands.describe(
        name=locale_str("An IANA time zone such as America/Los_Angeles; start typing a city")
    )
    @app_commands.autocomplete(name=timezone_autocomplete)
    async def timezone(self, interaction: discord.Interaction, name: str) -> None:
        await defer(interaction)
        view = await self.bot.services.preferences.set_timezone(interaction.user.id, name)
        zone = view.timezone or "UTC"
        now = datetime.now(ZoneInfo(zone)).strftime("%H:%M")
        await respond(
            interaction,
            t(
                "✅ Time zone: {zone} (it is {now} there now). "
                "Quiet hours and digest times use it.",
                locale_of(interaction),
                zone=zone,
                now=now,
            ),
        )

    @prefs.command(
        name="quiet-hours",
        description=locale_str("Hold alerts during a daily window; it may cross midnight"),
    )
    @app_commands.describe(
        start=locale_str(
            "Start, HH:MM in your time zone, e.g. 22:00; type off to turn quiet hours off"
        ),
        end=locale_str("End, HH:MM; may cross midnight: 22:00 to 08:00 is overnight"),
    )
    async def quiet_hours(
        self, interaction: discord.Interaction, start: str, end: str | None = None
    ) -> None:
        await defer(interaction)
        locale = locale_of(interaction)
        view = await self.bot.services.preferences.set_quiet_hours(interaction.user.id, start, end)
        if view.quiet_hours is None:
            text = t("✅ Quiet hours: off. Alerts arrive at any time of day.", locale)
        else:
            text = t(
                "✅ Quiet hours: {window}. Alerts that match during them wait until they end.",
                locale,
                window=quiet_text(view, locale),
            )
        await respond(interaction, text)

    @prefs.command(
        name="daily-limit",
        description=locale_str("Most immediate alerts per day; the rest wait for your digest"),
    )
    @app_commands.describe(
        limit=locale_str("Immediate alerts per day, 1 to 500; the rest wait for your digest")
    )
    async def daily_limit(
        self, interaction: discord.Interaction, limit: app_commands.Range[int, 1, 500]
    ) -> None:
        await defer(interaction)
        view = await self.bot.services.preferences.set_daily_limit(interaction.user.id, limit)
        locale = locale_of(interaction)
        await respond(
            interaction, t("✅ Daily limit: {limit}.", locale, limit=limit_text(view, locale))
        )

    @prefs.command(
        name="digest-time", description=locale_str("When your daily and weekly digests arrive")
    )
    @app_commands.describe(time=locale_str("24-hour HH:MM in your time zone, e.g. 08:00"))
    async def digest_time(self, interaction: discord.Interaction, time: str) -> None:
        await defer(interaction)
        view = await self.bot.services.preferences.set_digest_time(interaction.user.id, time)
        locale = locale_of(interaction)
        await respond(
            interaction,
            t(
                "✅ Digest time: {time} ({zone}).",
                locale,
                time=view.digest_time,
                zone=zone_text(view, locale),
            ),
        )

    @prefs.command(name="digest-day", description=locale_str("The day your weekly digest arrives"))
    @app_commands.describe(day=locale_str("A day of the week"))
    @app_commands.choices(day=DAYS)
    async def digest_day(self, interaction: discord.Interaction, day: Choice[str]) -> None:
        await defer(interaction)
        view = await self.bot.services.preferences.set_digest_day(interaction.user.id, day.value)
        locale = locale_of(interaction)
        await respond(
            interaction,
            t(
                "✅ Weekly digest day: {day} (at {time}, {zone}).",
                locale,
                day=day_text(view, locale),
                time=view.digest_time,
                zone=zone_text(view, locale),
            ),
        )

    @prefs.command(
        name="categories", description=locale_str("Only alert on listings in these categories")
    )
    @app_commands.describe(
        value=locale_str(
            "Comma-separated, e.g. Furniture, Electronics; type off for every category"
        )
    )
    @app_commands.autocomplete(value=categories_autocomplete)
    async def categories(self, interaction: discord.Interaction, value: str) -> None:
        await defer(interaction)
        view = await self.bot.services.preferences.set_categories(interaction.user.id, value)
        locale = locale_of(interaction)
        if view.categories:
            text = t(
                "✅ Categories: {categories}. Listings in other categories send no alerts.",
                locale,
                categories=categories_text(view, locale),
            )
        else:
            text = t("✅ Categories: all (no filter).", locale)
        await respond(interaction, text)

    @prefs.command(
        name="language", description=locale_str("The language of the alerts and digests you get")
    )
    @app_commands.describe(code=locale_str("One of the languages Deal Scout speaks"))
    @app_commands.choices(code=language_choices())
    async def language(self, interaction: discord.Interaction, code: Choice[str]) -> None:
        await defer(interaction)
        # The service folds the code before comparing, so the list it checks is folded too.
        available = [c.casefold() for c in available_languages()]
        await self.bot.services.preferences.set_language(interaction.user.id, code.value, available)
        await respond(
            interaction,
            t(
                "✅ Language: {language}.",
                locale_of(interaction),
                language=language_name(code.value),
            ),
        )

    @prefs.command(
        name="currency", description=locale_str("Your default currency for /wanted prices")
    )
    @app_commands.describe(code=locale_str("One of the currencies Discogs prices in"))
    @app_commands.choices(code=CURRENCY_CHOICES)
    async def currency(self, interaction: discord.Interaction, code: Choice[str]) -> None:
        await defer(interaction)
        await self.bot.services.preferences.set_currency(interaction.user.id, code.value)
        await respond(
            interaction,
            t("✅ Currency for /wanted: {code}.", locale_of(interaction), code=code.value),
        )

    @prefs.command(
        name="pause-all",
        description=locale_str(
            "Pause every alert (nothing is deleted; /prefs resume-all undoes it)"
        ),
    )
    async def pause_all(self, interaction: discord.Interaction) -> None:
        await defer(interaction)
        await self.bot.services.preferences.pause_all(interaction.user.id)
        await respond(
            interaction,
            t(
                "⏸️ All alerts paused. Nothing is deleted; `/prefs resume-all` turns them back on.",
                locale_of(interaction),
            ),
        )

    @prefs.command(
        name="resume-all", description=locale_str("Turn alerts back on after pause-all or stop")
    )
    async def resume_all(self, interaction: discord.Interaction) -> None:
        await defer(interaction)
        locale = locale_of(interaction)
        service = self.bot.services.preferences
        before = await service.show(interaction.user.id)
        await service.resume_all(interaction.user.id)
        if before.paused or before.stopped:
            text = t("▶️ Alerts are on again.", locale)
        else:
            text = t("▶️ Your alerts were already on; nothing changed.", locale)
        await respond(interaction, text)

    @prefs.command(
        name="stop",
        description=locale_str("Stop all alerts (asks first; /prefs resume-all undoes it)"),
    )
    async def stop(self, interaction: discord.Interaction) -> None:
        await defer(interaction)
        locale = locale_of(interaction)
        service = self.bot.services.preferences
        user_id = interaction.user.id

        async def confirmed(click: discord.Interaction) -> None:
            await service.stop(user_id)
            text = t(
                "⛔ All alerts stopped. `/prefs resume-all` turns them back on.", locale_of(click)
            )
            await click.response.edit_message(content=text, embed=None, view=None)

        view = ConfirmView(
            user_id,
            on_confirm=confirmed,
            confirm_label=t("Stop all alerts", locale),
            cancelled_text=t("Kept your alerts on; nothing was changed.", locale),
            timed_out_text=t("No answer, so your alerts were kept on.", locale),
            timeout=STOP_CONFIRM_TIMEOUT,
            locale=locale,
        )
        view.message = await respond(
            interaction,
            t(
                "Stop **all** your alerts? Nothing is deleted, but nothing reaches you until "
                "you run `/prefs resume-all`.",
                locale,
            ),
            view=view,
        )

    # ---- /prefs email ------------------------------------------------------------------------

    @email.command(
        name="set", description=locale_str("Add an email address; we send it a code to verify")
    )
    @app_commands.describe(address=locale_str("Your email address, e.g. you@example.com"))
    async def email_set(
        self, interaction: discord.Interaction, address: app_commands.Range[str, 1, 320]
    ) -> None:
        await defer(interaction)
        sent_to = await self.bot.services.email_verification.start(interaction.user.id, address)
        await respond(
            interaction,
            t(
                "📧 We sent a {digits}-digit code to **{address}**; use `/prefs email verify` "
                "to enter it.",
                locale_of(interaction),
                digits=CODE_DIGITS,
                address=clean(sent_to, ADDRESS_LIMIT),
            ),
        )

    @email.command(name="verify", description=locale_str("Enter the code from our email"))
    @app_commands.describe(code=locale_str("The 6-digit code we emailed you"))
    async def email_verify(
        self, interaction: discord.Interaction, code: app_commands.Range[str, 1, 20]
    ) -> None:
        await defer(interaction)
        address = await self.bot.services.email_verification.verify(interaction.user.id, code)
        await respond(
            interaction,
            t(
                "✅ Verified **{address}**. To get alerts there, add email to your channels, "
                "e.g. `/prefs channels dm,email`.",
                locale_of(interaction),
                address=clean(address, ADDRESS_LIMIT),
            ),
        )

    @email.command(
        name="remove", description=locale_str("Forget your email address (email alerts stop)")
    )
    async def email_remove(self, interaction: discord.Interaction) -> None:
        await defer(interaction)
        locale = locale_of(interaction)
        await self.bot.services.email_verification.remove(interaction.user.id)
        view = await self.bot.services.preferences.show(interaction.user.id)
        text = t("🗑️ Removed your email address.", locale)
        if "email" in view.channels:
            text += " " + t(
                "Alerts meant for email come by DM instead; change that with `/prefs channels`.",
                locale,
            )
        await respond(interaction, text)

    # ---- /prefs phone ------------------------------------------------------------------------

    @phone.command(
        name="set", description=locale_str("Add a mobile number; we text it a code to verify")
    )
    @app_commands.describe(
        number=locale_str("Your mobile number, e.g. (415) 555-0123, or +44 7400 123456 abroad")
    )
    async def phone_set(
        self, interaction: discord.Interaction, number: app_commands.Range[str, 1, 40]
    ) -> None:
        await defer(interaction)
        masked = await self.bot.services.phone_verification.start(interaction.user.id, number)
        await respond(
            interaction,
            t(
                "📱 We texted a {digits}-digit code to `{number}`; use `/prefs phone verify` "
                "to enter it within {minutes} minutes.",
                locale_of(interaction),
                digits=CODE_DIGITS,
                number=masked,
                minutes=PHONE_CODE_MINUTES,
            ),
        )

    @phone.command(name="verify", description=locale_str("Enter the code from our text message"))
    @app_commands.describe(code=locale_str("The 6-digit code we texted you"))
    async def phone_verify(
        self, interaction: discord.Interaction, code: app_commands.Range[str, 1, 20]
    ) -> None:
        await defer(interaction)
        masked = await self.bot.services.phone_verification.verify(interaction.user.id, code)
        await respond(
            interaction,
            t(
                "✅ Verified `{number}`. To get alerts by text, add sms to your channels, "
                "e.g. `/prefs channels dm,sms`. At most {limit} texts a day; reply STOP to any "
                "of them to end them.",
                locale_of(interaction),
                number=masked,
                limit=self.bot.services.settings.sms_daily_limit_per_user,
            ),
        )

    @phone.command(
        name="remove", description=locale_str("Forget your phone number (SMS alerts stop)")
    )
    async def phone_remove(self, interaction: discord.Interaction) -> None:
        await defer(interaction)
        locale = locale_of(interaction)
        await self.bot.services.phone_verification.remove(interaction.user.id)
        view = await self.bot.services.preferences.show(interaction.user.id)
        text = t("🗑️ Removed your phone number.", locale)
        if "sms" in view.channels:
            text += " " + t(
                "Alerts meant for SMS come by DM instead; change that with `/prefs channels`.",
                locale,
            )
        await respond(interaction, text)

    # ---- /prefs webhook and /prefs channel-order ---------------------------------------------

    @webhook.command(
        name="set", description=locale_str("Use a Discord webhook URL for alerts (kept encrypted)")
    )
    @app_commands.describe(url=locale_str("The webhook's URL: https://discord.com/api/webhooks/…"))
    async def webhook_set(
        self, interaction: discord.Interaction, url: app_commands.Range[str, 1, 500]
    ) -> None:
        await defer(interaction)
        status = await self.bot.services.webhooks.set(interaction.user.id, url)
        await respond(
            interaction,
            t(
                "✅ Saved webhook {id}. Try it with `/prefs webhook test`. Alerts use it when "
                "an alert's channels include webhook, and when a channel before it in "
                "`/prefs channel-order` fails.",
                locale_of(interaction),
                id=status.webhook_id,
            ),
        )

    @webhook.command(name="test", description=locale_str("Post a sample alert to your webhook"))
    async def webhook_test(self, interaction: discord.Interaction) -> None:
        await defer(interaction)
        locale = locale_of(interaction)
        status = await self.bot.services.webhooks.test(interaction.user.id, locale)
        await respond(
            interaction,
            t(
                "✅ Posted a sample alert through webhook {id}; check its channel.",
                locale,
                id=status.webhook_id,
            ),
        )

    @webhook.command(
        name="remove", description=locale_str("Forget your webhook (webhook alerts stop)")
    )
    async def webhook_remove(self, interaction: discord.Interaction) -> None:
        await defer(interaction)
        locale = locale_of(interaction)
        removed = await self.bot.services.webhooks.remove(interaction.user.id)
        if removed:
            text = t(
                "🗑️ Removed your webhook. Alerts meant for it go to your next channel "
                "(`/prefs channel-order`).",
                locale,
            )
        else:
            text = t("You had no webhook; nothing changed.", locale)
        await respond(interaction, text)

    @prefs.command(
        name="channel-order",
        description=locale_str("Where alerts go next when a channel fails, e.g. webhook,dm,email"),
    )
    @app_commands.describe(
        order=locale_str("Channels in order: dm, webhook, email, sms, channel; or default")
    )
    @app_commands.autocomplete(order=order_autocomplete)
    async def channel_order(
        self, interaction: discord.Interaction, order: app_commands.Range[str, 1, 100]
    ) -> None:
        await defer(interaction)
        locale = locale_of(interaction)
        view = await self.bot.services.preferences.set_channel_order(
            interaction.user.id, order, interaction.guild_id
        )
        text = t(
            "✅ Failover order: {order}. When a channel cannot reach you, the alert goes to the "
            "next one that is set up.",
            locale,
            order=order_text(view.order, locale, view.usable),
        )
        if any(c not in view.usable for c in view.order):
            text += " " + t("Struck-out channels are not set up yet, so they are skipped.", locale)
        await respond(interaction, text)


async def setup(bot: DealScoutBot) -> None:
    await bot.add_cog(Preferences(bot))
