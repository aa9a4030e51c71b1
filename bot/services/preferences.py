"""How each user wants alerts delivered: channels, frequency, time zone, quiet hours, daily limit,
digest time, category filter, language, pause/stop. Every setter validates its input and names
the field on error; nothing is written unless the whole change is valid."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time
from zoneinfo import available_timezones

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.domain.discogs import CURRENCIES
from bot.domain.failover import DEFAULT_ORDER, ChannelOrderError, known_channels, parse_order
from bot.domain.policy import Frequency, is_valid_timezone, parse_hhmm
from bot.domain.rule import Channel, RuleValidationError, parse_channels
from bot.domain.text import normalise_category, split_terms
from bot.errors import UserFacingError
from db.models import PreferencesRow
from db.repositories.preferences import PreferencesRepository

MAX_DAILY_LIMIT = 500
MAX_CATEGORIES = 10
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
OFF = ("off", "none", "clear", "")


@dataclass(frozen=True, slots=True)
class PreferencesView:
    """A snapshot for /prefs show (never the row itself: it leaves the session)."""

    channels: tuple[str, ...]
    frequency: str
    timezone: str | None
    quiet_hours: tuple[str, str] | None
    daily_limit: int
    digest_time: str
    digest_day: str
    categories: tuple[str, ...]
    language: str
    paused: bool
    stopped: bool
    email: str | None
    email_verified: bool
    webhook_id: int | None = None  # None: no webhook set
    webhook_disabled: bool = False
    channel_order: tuple[str, ...] = ()  # () = the default order
    phone_last2: str | None = None  # only the last two digits are ever shown
    phone_verified: bool = False
    sms_opted_out: bool = False
    currency: str | None = None  # default for /wanted prices (None: USD)


@dataclass(frozen=True, slots=True)
class ChannelOrderView:
    """The failover order: what the user chose (or the default) and what works now."""

    order: tuple[str, ...]
    is_default: bool
    usable: frozenset[str]


def _view(row: PreferencesRow) -> PreferencesView:
    quiet = (row.quiet_start, row.quiet_end) if row.quiet_start and row.quiet_end else None
    return PreferencesView(
        channels=tuple(row.channels or ("dm",)),
        frequency=row.frequency,
        timezone=row.timezone,
        quiet_hours=quiet,
        daily_limit=row.daily_limit,
        digest_time=row.digest_time,
        digest_day=WEEKDAYS[row.digest_day].capitalize(),
        categories=tuple(row.categories or ()),
        language=row.language,
        currency=row.currency,
        paused=row.paused,
        stopped=row.stopped,
        email=row.email,
        email_verified=row.email_verified,
        webhook_id=row.webhook_id if row.webhook_encrypted else None,
        webhook_disabled=row.webhook_disabled,
        channel_order=tuple(row.channel_order or ()),
        phone_last2=row.phone_last2 if row.phone_encrypted else None,
        phone_verified=row.phone_verified,
        sms_opted_out=row.sms_opted_out,
    )


def _hhmm(field: str, raw: str) -> time:
    try:
        return parse_hhmm(raw)
    except ValueError as exc:
        raise UserFacingError(str(exc), field=field) from None


class PreferencesService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions
        self._zones = sorted(z for z in available_timezones() if is_valid_timezone(z))

    async def show(self, user_id: int) -> PreferencesView:
        async with self.sessions.begin() as session:
            return _view(await PreferencesRepository(session).get_or_create(user_id))

    async def _update(self, user_id: int, **values: object) -> PreferencesView:
        async with self.sessions.begin() as session:
            row = await PreferencesRepository(session).get_or_create(user_id)
            for name, value in values.items():
                setattr(row, name, value)
            return _view(row)

    async def set_channels(self, user_id: int, raw: str) -> PreferencesView:
        try:
            channels = parse_channels(raw)
        except RuleValidationError as exc:
            raise UserFacingError(exc.message, field="channels") from None
        if Channel.email in channels and not (await self.show(user_id)).email_verified:
            raise UserFacingError(
                "verify an email address first with /prefs email set", field="channels"
            )
        if Channel.sms in channels and not await self._phone_verified(user_id):
            raise UserFacingError(
                "verify a mobile number first with /prefs phone set", field="channels"
            )
        if Channel.webhook in channels:
            view = await self.show(user_id)
            if view.webhook_id is None or view.webhook_disabled:
                raise UserFacingError(
                    "set a Discord webhook first with /prefs webhook set", field="channels"
                )
        return await self._update(user_id, channels=sorted(c.value for c in channels))

    async def _phone_verified(self, user_id: int) -> bool:
        async with self.sessions() as session:
            row = await PreferencesRepository(session).get(user_id)
        return bool(row and row.phone_verified and row.phone_encrypted and not row.sms_opted_out)

    async def set_channel_order(
        self, user_id: int, raw: str, guild_id: int | None = None
    ) -> ChannelOrderView:
        """Where alerts go next when a channel fails, e.g. "webhook,dm,email"; "default"
        restores the default order."""
        try:
            order = parse_order(raw)
        except ChannelOrderError as exc:
            raise UserFacingError(exc.message, field=exc.field) from None
        await self._update(user_id, channel_order=list(order))
        return await self.channel_order(user_id, guild_id)

    async def channel_order(self, user_id: int, guild_id: int | None = None) -> ChannelOrderView:
        async with self.sessions() as session:
            prefs = PreferencesRepository(session)
            row = await prefs.get(user_id)
            reach = await prefs.reachability(user_id, guild_id)
        saved = tuple(row.channel_order or ()) if row is not None else ()
        known = known_channels()
        return ChannelOrderView(
            order=saved or tuple(c for c in DEFAULT_ORDER if c in known),
            is_default=not saved,
            usable=reach.usable(known),
        )

    async def set_frequency(self, user_id: int, raw: str) -> PreferencesView:
        try:
            frequency = Frequency(raw.strip().casefold())
        except ValueError:
            raise UserFacingError("choose immediate, daily or weekly", field="frequency") from None
        return await self._update(user_id, frequency=frequency.value)

    async def set_timezone(self, user_id: int, name: str) -> PreferencesView:
        name = name.strip()
        if not is_valid_timezone(name):
            raise UserFacingError(
                f"{name[:60]!r} is not an IANA time zone (e.g. America/Los_Angeles)",
                field="timezone",
            )
        return await self._update(user_id, timezone=name)

    def timezones(self, current: str, limit: int = 25) -> list[str]:
        typed = current.strip().casefold().replace(" ", "_")
        return [z for z in self._zones if typed in z.casefold()][:limit]

    async def set_quiet_hours(self, user_id: int, start: str, end: str | None) -> PreferencesView:
        if start.strip().casefold() in OFF:
            return await self._update(user_id, quiet_start=None, quiet_end=None)
        begin = _hhmm("start", start)
        if end is None or end.strip().casefold() in OFF:
            raise UserFacingError("give an end time too, e.g. 08:00", field="end")
        finish = _hhmm("end", end)
        if begin == finish:
            raise UserFacingError("start and end are the same; use `off` to clear", field="end")
        return await self._update(
            user_id, quiet_start=begin.strftime("%H:%M"), quiet_end=finish.strftime("%H:%M")
        )

    async def set_daily_limit(self, user_id: int, limit: int) -> PreferencesView:
        if not 1 <= limit <= MAX_DAILY_LIMIT:
            raise UserFacingError(f"must be between 1 and {MAX_DAILY_LIMIT}", field="limit")
        return await self._update(user_id, daily_limit=limit)

    async def set_digest_time(self, user_id: int, raw: str) -> PreferencesView:
        return await self._update(user_id, digest_time=_hhmm("time", raw).strftime("%H:%M"))

    async def set_digest_day(self, user_id: int, raw: str) -> PreferencesView:
        day = raw.strip().casefold()
        matches = [i for i, name in enumerate(WEEKDAYS) if name.startswith(day)] if day else []
        if len(matches) != 1:
            raise UserFacingError("choose a day of the week, e.g. Monday", field="day")
        return await self._update(user_id, digest_day=matches[0])

    async def set_categories(self, user_id: int, raw: str) -> PreferencesView:
        if raw.strip().casefold() in OFF:
            return await self._update(user_id, categories=[])
        categories = split_terms(raw)
        if len(categories) > MAX_CATEGORIES:
            raise UserFacingError(f"at most {MAX_CATEGORIES} categories", field="categories")
        for category in categories:
            if len(category) > 100 or not normalise_category(category):
                raise UserFacingError(f"{category[:40]!r} is not a category", field="categories")
        unique = {" ".join(c.casefold().split()): c for c in reversed(categories)}
        return await self._update(user_id, categories=list(reversed(unique.values())))

    async def set_language(self, user_id: int, code: str, available: list[str]) -> PreferencesView:
        by_key = {a.casefold(): a for a in available}
        chosen = by_key.get(code.strip().casefold())
        if chosen is None:
            raise UserFacingError(f"choose one of {', '.join(available)}", field="language")
        return await self._update(user_id, language=chosen)

    async def set_currency(self, user_id: int, code: str) -> PreferencesView:
        """The default currency for /wanted prices (one of the Discogs currencies)."""
        chosen = code.strip().upper()
        if chosen not in CURRENCIES:
            raise UserFacingError(
                f"choose one of {', '.join(sorted(CURRENCIES))}", field="currency"
            )
        return await self._update(user_id, currency=chosen)

    async def pause_all(self, user_id: int) -> PreferencesView:
        return await self._update(user_id, paused=True)

    async def resume_all(self, user_id: int) -> PreferencesView:
        """Undo pause-all and stop alike."""
        return await self._update(user_id, paused=False, stopped=False)

    async def stop(self, user_id: int) -> PreferencesView:
        return await self._update(user_id, stopped=True)

    async def mark_timezone_tip_sent(self, user_id: int) -> bool:
        """True the first time only: the first DM suggests setting a time zone, once."""
        async with self.sessions.begin() as session:
            row = await PreferencesRepository(session).get_or_create(user_id)
            if row.timezone is not None or row.timezone_tip_sent:
                return False
            row.timezone_tip_sent = True
            return True
