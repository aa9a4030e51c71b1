"""``/wanted``: the Discogs wanted list, and the "Pause this wanted entry" button on its alerts.

Thin: parse the options, call :class:`bot.services.wanted.WantedService`, render with
``cogs/ui/wanted_embeds.py``. The service checks every option and names the one at fault.
"""

from __future__ import annotations

import functools
import logging
from typing import TYPE_CHECKING

import discord
from babel import Locale
from discord import app_commands
from discord.app_commands import locale_str
from discord.ext import commands

from bot.delivery.render import clean
from bot.delivery.render_wanted import PAUSE_WANTED_ID, PAUSE_WANTED_PATTERN
from bot.errors import UserFacingError
from bot.i18n import N_, locale_of, t, tn
from bot.services.wanted import ImportProgress, WantedOptions
from cogs.ui.buttons import IdButton
from cogs.ui.confirm import ConfirmView
from cogs.ui.options import (
    CHOICE_LIMIT,
    CURRENCY_CHOICES,
    GRADE_CHOICES,
    MAX_CHOICES,
    services_of,
)
from cogs.ui.paginator import Paginator
from cogs.ui.replies import defer, respond
from cogs.ui.wanted_embeds import (
    draft_embed,
    entry_embed,
    history_embed,
    import_text,
    list_pages,
)

if TYPE_CHECKING:
    from bot.client import DealScoutBot

log = logging.getLogger(__name__)

Choice = app_commands.Choice

CONFIRM_TIMEOUT = 120.0

DESCRIPTIONS: dict[str, locale_str] = {
    "release": locale_str("A Discogs release or master URL, or an id like r1234 / m5678"),
    "max_price": locale_str("The most you would pay, e.g. 40, 40 EUR or €40"),
    "currency": locale_str("Currency for prices (default: /prefs currency, else USD)"),
    "media": locale_str("Minimum media grade"),
    "sleeve": locale_str(
        "Minimum sleeve grade (Generic, Not Graded and No Cover do not count as meeting it)"
    ),
    "ships_from": locale_str("Countries the record may ship from, comma-separated"),
    "min_seller_rating": locale_str("Lowest seller rating you accept, in % (0 clears it)"),
    "underpriced_percent": locale_str(
        "Only alert when at least this % under the usual price (0 clears it)"
    ),
}
EDIT_DESCRIPTIONS: dict[str, locale_str] = {
    "entry": locale_str("One of your wanted entries"),
    **{k: v for k, v in DESCRIPTIONS.items() if k != "release"},
    "max_price": locale_str("The most you would pay, e.g. 40 or €40; type none to clear"),
    "ships_from": locale_str("Countries, comma-separated; type none to clear"),
}
ENTRY = locale_str("One of your wanted entries")


@functools.cache
def country_names() -> tuple[str, ...]:
    """Country names (English, from Babel's CLDR data) for the ships_from autocomplete."""
    territories = Locale("en").territories
    return tuple(sorted(name for code, name in territories.items() if code.isalpha()))


async def countries_autocomplete(
    interaction: discord.Interaction, current: str
) -> list[Choice[str]]:
    """Completes the last comma-separated country, keeping the ones already typed."""
    done, _, last = current.rpartition(",")
    typed = last.strip().casefold()
    prefix = f"{done.strip()}, " if done.strip() else ""
    names = [n for n in country_names() if n.casefold().startswith(typed)] if typed else []
    names = names or [n for n in country_names() if typed in n.casefold()]
    choices = []
    for name in names[:MAX_CHOICES]:
        value = (prefix + name)[:CHOICE_LIMIT]
        choices.append(Choice(name=value, value=value))
    return choices


async def entry_autocomplete(interaction: discord.Interaction, current: str) -> list[Choice[str]]:
    """The caller's own entries (never anyone else's); the value is the entry id."""
    try:
        entries = await services_of(interaction).wanted.autocomplete(interaction.user.id, current)
    except Exception:
        log.exception("wanted autocomplete failed")
        return []
    locale = locale_of(interaction)
    choices = []
    for entry in entries[:MAX_CHOICES]:
        label = f"#{entry.id} {entry.name}"
        if not entry.active:
            label = t("{name} (paused)", locale, name=label)
        choices.append(Choice(name=label[:CHOICE_LIMIT], value=str(entry.id)))
    return choices


def _value(choice: Choice[str] | None) -> str | None:
    return None if choice is None else choice.value


class Wanted(commands.Cog):
    """Record collectors: watch Discogs for the releases you want, at your price and grade."""

    wanted = app_commands.Group(
        name="wanted", description=locale_str("Your Discogs wanted list: price and grade alerts")
    )

    def __init__(self, bot: DealScoutBot) -> None:
        self.bot = bot

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(PauseWantedButton)

    @wanted.command(name="add", description=locale_str("Watch a Discogs release for you"))
    @app_commands.describe(**DESCRIPTIONS)
    @app_commands.choices(currency=CURRENCY_CHOICES, media=GRADE_CHOICES, sleeve=GRADE_CHOICES)
    @app_commands.autocomplete(ships_from=countries_autocomplete)
    async def add(
        self,
        interaction: discord.Interaction,
        release: app_commands.Range[str, 1, 300],
        max_price: str | None = None,
        currency: Choice[str] | None = None,
        media: Choice[str] | None = None,
        sleeve: Choice[str] | None = None,
        ships_from: str | None = None,
        min_seller_rating: app_commands.Range[float, 0, 100] | None = None,
        underpriced_percent: app_commands.Range[float, 0, 99] | None = None,
    ) -> None:
        await defer(interaction)
        locale = locale_of(interaction)
        options = WantedOptions(
            max_price=max_price,
            currency=_value(currency),
            media=_value(media),
            sleeve=_value(sleeve),
            ships_from=ships_from,
            min_seller_rating=min_seller_rating,
            underpriced_percent=underpriced_percent,
        )
        service = self.bot.services.wanted
        user_id, guild_id = interaction.user.id, interaction.guild_id
        draft = await service.preview(user_id, release, options)

        async def confirmed(click: discord.Interaction) -> None:
            answer = locale_of(click)
            try:
                saved = await service.save(user_id, guild_id, draft)
            except UserFacingError as exc:
                await click.response.edit_message(content=f"❌ {exc}", embed=None, view=None)
                return
            heading = t("✅ Added to your wanted list. I check Discogs for it from now on.", answer)
            await click.response.edit_message(
                content=None, embed=entry_embed(saved, heading, answer), view=None
            )

        view = ConfirmView(
            user_id,
            on_confirm=confirmed,
            confirm_label=t("Add", locale),
            cancelled_text=t("Not added.", locale),
            timed_out_text=t("No answer, so nothing was added.", locale),
            timeout=CONFIRM_TIMEOUT,
            locale=locale,
        )
        view.confirm.style = discord.ButtonStyle.success
        view.message = await respond(interaction, embed=draft_embed(draft, locale), view=view)

    @wanted.command(name="list", description=locale_str("Your wanted list with what is for sale"))
    async def list_entries(self, interaction: discord.Interaction) -> None:
        await defer(interaction)
        locale = locale_of(interaction)
        entries = await self.bot.services.wanted.entries(interaction.user.id)
        if not entries:
            await respond(
                interaction,
                t("Your wanted list is empty. Add a release with `/wanted add`.", locale),
            )
            return
        await Paginator(interaction.user.id, list_pages(entries, locale), locale=locale).start(
            interaction
        )

    @wanted.command(name="edit", description=locale_str("Change a wanted entry's criteria"))
    @app_commands.describe(**EDIT_DESCRIPTIONS)
    @app_commands.choices(currency=CURRENCY_CHOICES, media=GRADE_CHOICES, sleeve=GRADE_CHOICES)
    @app_commands.autocomplete(entry=entry_autocomplete, ships_from=countries_autocomplete)
    async def edit(
        self,
        interaction: discord.Interaction,
        entry: str,
        max_price: str | None = None,
        currency: Choice[str] | None = None,
        media: Choice[str] | None = None,
        sleeve: Choice[str] | None = None,
        ships_from: str | None = None,
        min_seller_rating: app_commands.Range[float, 0, 100] | None = None,
        underpriced_percent: app_commands.Range[float, 0, 99] | None = None,
    ) -> None:
        locale = locale_of(interaction)
        options = WantedOptions(
            max_price=max_price,
            currency=_value(currency),
            media=_value(media),
            sleeve=_value(sleeve),
            ships_from=ships_from,
            min_seller_rating=min_seller_rating,
            underpriced_percent=underpriced_percent,
        )
        if options == WantedOptions():
            raise UserFacingError(t("give at least one option to change", locale))
        await defer(interaction)
        updated = await self.bot.services.wanted.edit(interaction.user.id, entry, options)
        heading = t("✅ Updated. I check it again shortly.", locale)
        await respond(interaction, embed=entry_embed(updated, heading, locale))

    @wanted.command(name="pause", description=locale_str("Stop watching an entry for now"))
    @app_commands.describe(entry=ENTRY)
    @app_commands.autocomplete(entry=entry_autocomplete)
    async def pause(self, interaction: discord.Interaction, entry: str) -> None:
        await defer(interaction)
        paused = await self.bot.services.wanted.set_active(interaction.user.id, entry, False)
        await respond(interaction, paused_text(paused.name, locale_of(interaction)))

    @wanted.command(name="resume", description=locale_str("Watch a paused entry again"))
    @app_commands.describe(entry=ENTRY)
    @app_commands.autocomplete(entry=entry_autocomplete)
    async def resume(self, interaction: discord.Interaction, entry: str) -> None:
        await defer(interaction)
        resumed = await self.bot.services.wanted.set_active(interaction.user.id, entry, True)
        locale = locale_of(interaction)
        await respond(
            interaction, t("▶️ Watching **{name}** again.", locale, name=clean(resumed.name, 200))
        )

    @wanted.command(name="remove", description=locale_str("Remove an entry (asks first)"))
    @app_commands.describe(entry=ENTRY)
    @app_commands.autocomplete(entry=entry_autocomplete)
    async def remove(self, interaction: discord.Interaction, entry: str) -> None:
        await defer(interaction)
        locale = locale_of(interaction)
        service = self.bot.services.wanted
        user_id = interaction.user.id
        target = await service.resolve(user_id, entry)
        name = clean(target.name, 200)

        async def confirmed(click: discord.Interaction) -> None:
            removed = await service.remove(user_id, target.id)
            answer = locale_of(click)
            text = (
                t("🗑️ Removed **{name}** from your wanted list.", answer, name=name)
                if removed
                else t("**{name}** was already removed.", answer, name=name)
            )
            await click.response.edit_message(content=text, embed=None, view=None)

        view = ConfirmView(
            user_id,
            on_confirm=confirmed,
            confirm_label=t("Remove", locale),
            cancelled_text=t("Kept **{name}**.", locale, name=name),
            timed_out_text=t("No answer, so **{name}** was kept.", locale, name=name),
            locale=locale,
        )
        view.message = await respond(
            interaction,
            t("Remove **{name}** from your wanted list?", locale, name=name),
            view=view,
        )

    @wanted.command(name="check", description=locale_str("Check all your entries on Discogs now"))
    async def check(self, interaction: discord.Interaction) -> None:
        await defer(interaction)
        locale = locale_of(interaction)
        ticket = await self.bot.services.wanted.check(interaction.user.id)
        minutes = max(1, round(ticket.eta_seconds / 60))
        if ticket.fresh == ticket.releases:
            await respond(
                interaction,
                t("✅ All your releases were checked in the last few minutes.", locale),
            )
            return
        queued = tn("🔎 Queued {n} release.", "🔎 Queued {n} releases.", ticket.releases, locale)
        later = t(
            "Discogs allows only so many requests a minute, so results arrive within about "
            "{minutes} min: alerts come as usual and `/wanted list` shows the latest prices.",
            locale,
            minutes=minutes,
        )
        await respond(interaction, f"{queued} {later}")

    @wanted.command(name="history", description=locale_str("Past alerts for one entry"))
    @app_commands.describe(entry=ENTRY)
    @app_commands.autocomplete(entry=entry_autocomplete)
    async def history(self, interaction: discord.Interaction, entry: str) -> None:
        await defer(interaction)
        found, alerts = await self.bot.services.wanted.history(interaction.user.id, entry)
        await respond(interaction, embed=history_embed(found, alerts, locale_of(interaction)))

    @wanted.command(
        name="import",
        description=locale_str("Import a public Discogs wantlist (notes: @max=40EUR)"),
    )
    @app_commands.describe(username=locale_str("The Discogs username whose wantlist to import"))
    async def import_list(
        self, interaction: discord.Interaction, username: app_commands.Range[str, 1, 64]
    ) -> None:
        await defer(interaction)
        locale = locale_of(interaction)
        message = await respond(
            interaction,
            t("⏳ Asking Discogs for **{name}**'s wantlist…", locale, name=clean(username, 64)),
        )

        async def progress(state: ImportProgress) -> None:
            if message is None:
                return
            try:
                await message.edit(content=import_text(state, username, False, locale))
            except discord.HTTPException as exc:
                log.info("could not update the import progress: %s", exc)

        summary = await self.bot.services.wanted.import_wantlist(
            interaction.user.id, interaction.guild_id, username, progress
        )
        text = import_text(summary, username, True, locale)
        shown = False
        if message is not None:
            try:
                await message.edit(content=text)
                shown = True
            except discord.HTTPException as exc:
                log.info("could not show the import summary: %s", exc)
        if not shown:
            # A long import can outlive the interaction (15 minutes): the summary goes by DM.
            await self.bot.services.notices.notify_once(
                interaction.user.id, f"import:{interaction.id}", text
            )


def paused_text(name: str, locale: str) -> str:
    return t(
        "⏸️ Paused **{name}**. Turn it back on with `/wanted resume`.",
        locale,
        name=clean(name, 200),
    )


class PauseWantedButton(IdButton, template=PAUSE_WANTED_PATTERN):
    """ "Pause this wanted entry" on a wanted-list alert."""

    button_label = N_("Pause this wanted entry")
    id_format = PAUSE_WANTED_ID

    async def answer(self, interaction: discord.Interaction, locale: str) -> str:
        entry = await services_of(interaction).wanted.set_active_by_id(
            interaction.user.id, self.item_id, False
        )
        return paused_text(entry.name, locale)


async def setup(bot: DealScoutBot) -> None:
    await bot.add_cog(Wanted(bot))
    bot.add_dynamic_items(PauseWantedButton)
