"""The Discogs wanted list: add (with a confirmation preview), list, edit, pause, remove, check
now, history and importing a public Discogs wantlist.

Every option is untrusted and checked here, naming the option at fault; the cog only parses and
renders. Entries belong to one user: every lookup is by (user, id), so another user's entry looks
exactly like one that does not exist.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.delivery.wanted_alerts import entry_name
from bot.domain.discogs import (
    CURRENCIES,
    Grade,
    Money,
    ReleaseRef,
    WantedCriteria,
    normalise_country,
    parse_notes,
    parse_release_ref,
)
from bot.domain.listing import from_cents, to_cents
from bot.errors import NotFoundError, UserFacingError
from bot.ingest.discogs_client import (
    DiscogsAuthError,
    DiscogsClient,
    DiscogsError,
    DiscogsNotFound,
    DiscogsUnavailable,
    WantItem,
)
from bot.ingest.discogs_watch import DiscogsWatcher
from bot.ingest.ratelimit import Priority
from db.models import WantedRow, utcnow
from db.repositories.preferences import PreferencesRepository
from db.repositories.wanted import WantedRepository, to_criteria

log = logging.getLogger(__name__)

MAX_ENTRIES = 1000

MAX_COUNTRIES = 10
MAX_IMPORT_PAGES = 50  # 5,000 items at 100 a page
CLEAR = ("none", "clear", "any", "off")
DEFAULT_CURRENCY = "USD"


@dataclass(frozen=True, slots=True)
class WantedOptions:
    """The criteria options as typed (None: not given). Parsed by :meth:`WantedService.criteria`."""

    max_price: str | None = None
    currency: str | None = None
    media: str | None = None
    sleeve: str | None = None
    ships_from: str | None = None
    min_seller_rating: float | None = None
    underpriced_percent: float | None = None


@dataclass(frozen=True, slots=True)
class WantedView:
    """An entry as commands show it (never the row: it leaves the session)."""

    id: int
    kind: str
    target_id: int
    title: str
    artists: str
    year: int | None
    formats: str
    thumb_url: str | None
    cover_url: str | None
    currency: str
    criteria: WantedCriteria
    active: bool
    status: str
    lowest: Money | None
    num_for_sale: int | None
    checked_at: datetime | None
    source: str

    @property
    def name(self) -> str:
        return f"{self.artists} – {self.title}" if self.artists else self.title

    @property
    def url(self) -> str:
        return f"https://www.discogs.com/{self.kind}/{self.target_id}"


@dataclass(frozen=True, slots=True)
class WantedDraft:
    """What ``/wanted add`` would save, shown for confirmation first."""

    ref: ReleaseRef
    title: str
    artists: str
    year: int | None
    formats: str
    thumb_url: str | None
    cover_url: str | None
    currency: str
    criteria: WantedCriteria
    lowest: Money | None
    num_for_sale: int | None


@dataclass(frozen=True, slots=True)
class WantedAlertView:
    """One past alert of an entry, for ``/wanted history``."""

    created_at: datetime
    price: Money
    level: str  # "stats" (the lowest price) | "listing"
    reference: str | None


@dataclass(frozen=True, slots=True)
class CheckTicket:
    releases: int
    eta_seconds: float
    fresh: int = 0  # releases skipped because they were checked moments ago


@dataclass(slots=True)
class ImportProgress:
    page: int = 0
    pages: int = 0
    added: int = 0
    skipped_existing: int = 0
    skipped_full: int = 0
    warnings: list[str] = field(default_factory=list)
    stopped: str | None = None  # why the import stopped early, if it did


@dataclass(frozen=True, slots=True)
class DiscogsStatus:
    """For ``/admin discogs``."""

    limit_per_minute: int
    used_in_window: int
    reserve: int
    queue_depth: int
    entries: int
    releases: int
    users: int
    next_checks: list[tuple[str, int, datetime, str | None]]
    polls: int
    failures: int
    sell_page: str


def view_of(row: WantedRow) -> WantedView:
    return WantedView(
        id=row.id,
        kind=row.target_kind,
        target_id=row.target_id,
        title=row.title,
        artists=row.artists,
        year=row.year,
        formats=row.formats,
        thumb_url=row.thumb_url,
        cover_url=row.cover_url,
        currency=row.currency,
        criteria=to_criteria(row),
        active=row.active,
        status=row.status,
        lowest=None
        if row.lowest_cents is None
        else Money(from_cents(row.lowest_cents), row.currency),
        num_for_sale=row.num_for_sale,
        checked_at=row.checked_at,
        source=row.source,
    )


URL_LIMIT = 500  # the image columns' size


def fits(url: str | None) -> str | None:
    """An image URL that fits its column (a longer one is dropped, never cut into a bad link)."""
    return url if url is not None and len(url) <= URL_LIMIT else None


def _blank(text: str | None) -> bool:
    return text is not None and text.strip().casefold() in CLEAR


def parse_currency(text: str | None, default: str) -> str:
    if text is None or not text.strip():
        return default
    code = text.strip().upper()
    if code not in CURRENCIES:
        raise UserFacingError(
            f"unknown currency {code[:10]!r}; Discogs uses {', '.join(sorted(CURRENCIES))}",
            field="currency",
        )
    return code


def parse_grade(text: str | None, option: str) -> Grade | None:
    if text is None or _blank(text):
        return None
    try:
        return Grade.parse(text)
    except ValueError:
        raise UserFacingError(
            "use a Discogs grade such as Mint (M), Near Mint (NM or M-), VG+ or VG",
            field=option,
        ) from None


def parse_countries(text: str | None) -> frozenset[str]:
    if text is None or _blank(text):
        return frozenset()
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if len(parts) > MAX_COUNTRIES:
        raise UserFacingError(f"name at most {MAX_COUNTRIES} countries", field="ships_from")
    if any(len(p) > 60 for p in parts):
        raise UserFacingError("a country name is at most 60 characters", field="ships_from")
    return frozenset(normalise_country(p) for p in parts)


def apply_options(
    base: WantedCriteria, currency: str, options: WantedOptions
) -> tuple[WantedCriteria, str]:
    """``base`` with the given options applied (and the entry's currency); raises
    :class:`UserFacingError` naming the option. ``none`` clears an option."""
    max_price = base.max_price
    if options.max_price is not None:
        if _blank(options.max_price):
            max_price = None
        else:
            try:
                max_price = Money.parse(options.max_price, default_currency=currency)
            except ValueError as exc:
                raise UserFacingError(
                    f"{exc}; write it like 40, 40 EUR or €40", field="max_price"
                ) from None
            if options.currency is not None and max_price.currency != currency:
                raise UserFacingError(
                    f"the price is in {max_price.currency} but currency is {currency}",
                    field="max_price",
                )
            currency = max_price.currency
    if max_price is not None and max_price.currency != currency:
        # The currency changed without a new price: the old number would mean something else.
        raise UserFacingError(
            f"give max_price again in {currency} (it was {max_price})", field="max_price"
        )
    media = base.min_media if options.media is None else parse_grade(options.media, "media")
    sleeve = base.min_sleeve if options.sleeve is None else parse_grade(options.sleeve, "sleeve")
    ships = base.ships_from if options.ships_from is None else parse_countries(options.ships_from)
    rating = base.min_seller_rating
    if options.min_seller_rating is not None:
        rating = None if options.min_seller_rating == 0 else options.min_seller_rating
    under = base.underpriced_percent
    if options.underpriced_percent is not None:
        under = None if options.underpriced_percent == 0 else options.underpriced_percent
    try:
        criteria = WantedCriteria(
            max_price=max_price,
            min_media=media,
            min_sleeve=sleeve,
            ships_from=ships,
            min_seller_rating=rating,
            underpriced_percent=under,
        )
    except ValueError as exc:
        option = "min_seller_rating" if "rating" in str(exc) else "underpriced_percent"
        raise UserFacingError(str(exc), field=option) from None
    return criteria, currency


def write_criteria(row: WantedRow, criteria: WantedCriteria, currency: str) -> None:
    row.currency = currency
    row.max_price_cents = (
        None if criteria.max_price is None else to_cents(criteria.max_price.amount)
    )
    row.min_media = None if criteria.min_media is None else int(criteria.min_media)
    row.min_sleeve = None if criteria.min_sleeve is None else int(criteria.min_sleeve)
    row.ships_from = sorted(criteria.ships_from)
    row.min_seller_rating = criteria.min_seller_rating
    row.underpriced_percent = criteria.underpriced_percent


class WantedService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        client: DiscogsClient,
        watcher: DiscogsWatcher,
        *,
        sell_page: str = "off",
        check_cooldown: timedelta = timedelta(minutes=5),
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.check_cooldown = check_cooldown
        self.sessions = sessions
        self.client = client
        self.watcher = watcher
        self.sell_page = sell_page
        self.clock = clock

    # ---- add ----------------------------------------------------------------------------------

    async def default_currency(self, user_id: int) -> str:
        async with self.sessions() as session:
            prefs = await PreferencesRepository(session).get(user_id)
        return (prefs.currency if prefs is not None else None) or DEFAULT_CURRENCY

    async def preview(self, user_id: int, release: str, options: WantedOptions) -> WantedDraft:
        """Check everything and fetch the release from Discogs; nothing is saved yet."""
        try:
            ref = parse_release_ref(release)
        except ValueError as exc:
            raise UserFacingError(str(exc), field="release") from None
        currency = parse_currency(options.currency, await self.default_currency(user_id))
        criteria, currency = apply_options(WantedCriteria(), currency, options)
        return await self._draft(ref, currency, criteria)

    async def _draft(self, ref: ReleaseRef, currency: str, criteria: WantedCriteria) -> WantedDraft:
        try:
            if ref.kind == "master":
                master = await self.client.master(ref.id, currency, priority=Priority.INTERACTIVE)
                title, artists, year = master.title, master.artists, master.year
                formats, thumb, cover = "", master.thumb, master.cover
                lowest, count = master.lowest_price, master.num_for_sale
            else:
                rel = await self.client.release(ref.id, currency, priority=Priority.INTERACTIVE)
                title, artists, year = rel.title, rel.artists, rel.year
                formats, thumb, cover = ", ".join(rel.formats), rel.thumb, rel.cover
                # Release metadata is cached for hours; the market must be read now.
                market = await self.client.stats(ref.id, currency, priority=Priority.INTERACTIVE)
                lowest, count = market.lowest_price, market.num_for_sale
        except DiscogsNotFound:
            raise UserFacingError(
                f"Discogs has no {ref.kind} {ref.id}; check the link or id", field="release"
            ) from None
        except DiscogsError as exc:
            log.info("Discogs lookup failed: %s", exc)
            raise UserFacingError(
                "Discogs is not answering right now; try again in a minute", field="release"
            ) from None
        return WantedDraft(
            ref=ref,
            title=(title or f"{ref.kind.title()} {ref.id}")[:300],
            artists=", ".join(artists)[:300],
            year=year,
            formats=formats[:200],
            thumb_url=fits(thumb),
            cover_url=fits(cover),
            currency=currency,
            criteria=criteria,
            lowest=None if lowest is None else Money(lowest.amount, lowest.currency),
            num_for_sale=count,
        )

    async def save(self, user_id: int, guild_id: int | None, draft: WantedDraft) -> WantedView:
        """Save a confirmed draft; one entry per (user, release)."""
        async with self.sessions.begin() as session:
            repo = WantedRepository(session)
            if await repo.count_for_user(user_id) >= MAX_ENTRIES:
                raise UserFacingError(f"your wanted list is full ({MAX_ENTRIES} entries)")
            row = WantedRow(
                user_id=user_id,
                guild_id=guild_id,
                target_kind=draft.ref.kind,
                target_id=draft.ref.id,
                title=draft.title,
                artists=draft.artists,
                year=draft.year,
                formats=draft.formats,
                thumb_url=draft.thumb_url,
                cover_url=draft.cover_url,
                source="command",
                ships_from=[],
            )
            write_criteria(row, draft.criteria, draft.currency)
            saved = await repo.add(row)
            if saved is None:
                raise UserFacingError(
                    "that release is already on your wanted list; change it with /wanted edit",
                    field="release",
                )
            await repo.ensure_target(draft.ref.kind, draft.ref.id, draft.currency, due=self.clock())
            view = view_of(saved)
        self.watcher.poke()
        return view

    # ---- read ---------------------------------------------------------------------------------

    async def entries(self, user_id: int) -> list[WantedView]:
        async with self.sessions() as session:
            return [view_of(r) for r in await WantedRepository(session).for_user(user_id)]

    async def autocomplete(self, user_id: int, current: str) -> list[WantedView]:
        async with self.sessions() as session:
            rows = await WantedRepository(session).search(user_id, current[:100])
        return [view_of(r) for r in rows]

    async def _own(self, session: AsyncSession, user_id: int, entry: str) -> WantedRow:
        """An entry by the id autocomplete puts in the option ("12"), or by exact name."""
        repo = WantedRepository(session)
        text = entry.strip().lstrip("#")
        row = None
        if text.isdigit() and len(text) < 19:
            row = await repo.get_own(user_id, int(text))
        if row is None:
            matches = [r for r in await repo.search(user_id, text, 50) if _named(r, text)]
            row = matches[0] if len(matches) == 1 else None
        if row is None:
            raise NotFoundError(
                "no such entry on your wanted list; pick one from the list", field="entry"
            )
        return row

    async def resolve(self, user_id: int, entry: str) -> WantedView:
        async with self.sessions() as session:
            return view_of(await self._own(session, user_id, entry))

    async def history(self, user_id: int, entry: str) -> tuple[WantedView, list[WantedAlertView]]:
        async with self.sessions() as session:
            row = await self._own(session, user_id, entry)
            alerts = await WantedRepository(session).history(user_id, row.id)
            return view_of(row), [
                WantedAlertView(
                    created_at=a.created_at,
                    price=Money(from_cents(a.price_cents), a.currency),
                    level=a.level,
                    reference=a.reference,
                )
                for a in alerts
            ]

    # ---- change -------------------------------------------------------------------------------

    async def edit(self, user_id: int, entry: str, options: WantedOptions) -> WantedView:
        async with self.sessions.begin() as session:
            row = await self._own(session, user_id, entry)
            currency = parse_currency(options.currency, row.currency)
            criteria, currency = apply_options(to_criteria(row), currency, options)
            write_criteria(row, criteria, currency)
            row.status = "monitoring"
            await WantedRepository(session).ensure_target(
                row.target_kind, row.target_id, currency, due=self.clock()
            )
            view = view_of(row)
        self.watcher.poke()
        return view

    async def set_active(self, user_id: int, entry: str, active: bool) -> WantedView:
        async with self.sessions.begin() as session:
            row = await self._own(session, user_id, entry)
            view = await self._set_active(session, row, active)
        if active:
            self.watcher.poke()
        return view

    async def set_active_by_id(self, user_id: int, wanted_id: int, active: bool) -> WantedView:
        async with self.sessions.begin() as session:
            row = await WantedRepository(session).get_own(user_id, wanted_id)
            if row is None:
                raise NotFoundError("that wanted entry no longer exists")
            view = await self._set_active(session, row, active)
        if active:
            self.watcher.poke()
        return view

    async def _set_active(self, session: AsyncSession, row: WantedRow, active: bool) -> WantedView:
        row.active = active
        if active:
            await WantedRepository(session).ensure_target(
                row.target_kind, row.target_id, row.currency, due=self.clock()
            )
        return view_of(row)

    async def remove(self, user_id: int, wanted_id: int) -> bool:
        async with self.sessions.begin() as session:
            repo = WantedRepository(session)
            removed = await repo.delete(user_id, wanted_id)
            if removed:
                await repo.drop_unwanted_targets()
        return removed

    # ---- check now ----------------------------------------------------------------------------

    async def check(self, user_id: int) -> CheckTicket:
        """Queue a poll of every release on the user's active list that was not checked in the
        last few minutes (so repeating the command cannot take the polling budget over)."""
        now = self.clock()
        async with self.sessions() as session:
            repo = WantedRepository(session)
            targets = await repo.targets_of_user(user_id)
            if not targets:
                raise UserFacingError("nothing to check: your wanted list has no active entries")
            stale = await repo.not_checked_since(targets, now - self.check_cooldown)
            ahead = await repo.due_count(now)
        eta = await self.watcher.check_now(stale, ahead=ahead) if stale else 0.0
        return CheckTicket(len(targets), eta, fresh=len(targets) - len(stale))

    # ---- import -------------------------------------------------------------------------------

    async def import_wantlist(
        self,
        user_id: int,
        guild_id: int | None,
        username: str,
        progress: Callable[[ImportProgress], Awaitable[None]],
    ) -> ImportProgress:
        """Import a public wantlist page by page (each page saved as it arrives), with criteria
        from ``@key=value`` notes. Stops early, keeping what was saved, when Discogs fails."""
        username = username.strip()
        currency = await self.default_currency(user_id)
        state = ImportProgress()
        page = 1
        while True:
            try:
                # LISTING, above polls: the user is watching the progress message, and an
                # import of 50 pages must not wait behind every poll it makes due.
                wants = await self.client.wantlist(username, page, 100, priority=Priority.LISTING)
            except ValueError:
                raise UserFacingError("not a Discogs username", field="username") from None
            except DiscogsNotFound:
                if page == 1:
                    raise UserFacingError(
                        f"Discogs has no user {username[:64]!r}", field="username"
                    ) from None
                break
            except DiscogsAuthError:
                raise UserFacingError(
                    "that wantlist is private; make it public on Discogs first", field="username"
                ) from None
            except (DiscogsUnavailable, DiscogsError) as exc:
                state.stopped = f"Discogs stopped answering at page {page} ({str(exc)[:80]})"
                break
            state.page, state.pages = page, wants.pagination.pages
            await self._import_page(user_id, guild_id, currency, wants.items, state, username)
            await progress(state)
            if not wants.pagination.has_next or page >= MAX_IMPORT_PAGES or state.skipped_full:
                break
            page += 1
        self.watcher.poke()
        return state

    async def _import_page(
        self,
        user_id: int,
        guild_id: int | None,
        currency: str,
        items: tuple[WantItem, ...],
        state: ImportProgress,
        username: str,
    ) -> None:
        now = self.clock()
        async with self.sessions.begin() as session:
            repo = WantedRepository(session)
            count = await repo.count_for_user(user_id)
            for item in items:
                if count >= MAX_ENTRIES:
                    state.skipped_full += 1
                    continue
                notes = parse_notes(item.notes or "", default_currency=currency)
                entry_currency = (
                    notes.criteria.max_price.currency if notes.criteria.max_price else currency
                )
                for warning in notes.warnings:
                    state.warnings.append(f"{item.title[:40]}: {warning}")
                row = WantedRow(
                    user_id=user_id,
                    guild_id=guild_id,
                    target_kind="release",
                    target_id=item.release_id,
                    title=(item.title or f"Release {item.release_id}")[:300],
                    artists=", ".join(item.artists)[:300],
                    year=item.year,
                    formats=", ".join(item.formats)[:200],
                    thumb_url=fits(item.thumb),
                    cover_url=fits(item.thumb),
                    source=f"import:{username}"[:80],
                    ships_from=[],
                )
                write_criteria(row, notes.criteria, entry_currency)
                if await repo.add(row) is None:
                    state.skipped_existing += 1
                    continue
                count += 1
                state.added += 1
                await repo.ensure_target("release", item.release_id, entry_currency, due=now)

    # ---- admin --------------------------------------------------------------------------------

    async def status(self) -> DiscogsStatus:
        limiter = self.client.limiter
        async with self.sessions() as session:
            repo = WantedRepository(session)
            entries, releases, users = await repo.watched_counts()
            nxt = [
                (t.kind, t.target_id, t.next_check_at, t.last_error)
                for t in await repo.next_checks(5)
            ]
        return DiscogsStatus(
            limit_per_minute=limiter.per_minute,
            used_in_window=limiter.used_in_window(),
            reserve=limiter.reserve,
            queue_depth=limiter.waiting,
            entries=entries,
            releases=releases,
            users=users,
            next_checks=nxt,
            polls=self.watcher.polls,
            failures=self.watcher.failures,
            sell_page=self.sell_page,
        )


def _named(row: WantedRow, text: str) -> bool:
    folded = text.casefold()
    return folded in {row.title.casefold(), entry_name(row).casefold()}


__all__ = [
    "CheckTicket",
    "DiscogsStatus",
    "ImportProgress",
    "WantedAlertView",
    "WantedDraft",
    "WantedOptions",
    "WantedService",
    "WantedView",
    "apply_options",
]
