"""Delivery policy: for one match, the user's preferences and today's history, what happens now.

PURE: times in, a decision out. Every path ends in exactly one of: send now, hold until the quiet
window ends, add to a digest, or suppress with a reason — so nothing is ever dropped silently.
All local-time arithmetic uses the user's IANA zone (zoneinfo), so DST changes are handled.

DST rules, in one place (see ``_occurrences``): preferences are wall-clock times. A wall time that
a spring-forward gap skips (02:30 in New York on 2026-03-08) stands for the first instant after
the gap (03:00 EDT), so nothing waits an extra day. A wall time that a fall-back repeats means its
first occurrence (fold=0) — for digests always (one digest per local day), for the end of quiet
hours unless that has already passed, in which case the repeat (never a time before ``now``).
Digests count ``now`` itself: a match arriving exactly at the digest instant joins that digest.
"""

from __future__ import annotations

import enum
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.domain.text import category_prefixes, normalise_category

REASON_STOPPED = "you stopped all alerts (/prefs stop)"
REASON_PAUSED = "alerts paused (/prefs pause-all)"
REASON_CATEGORY = "outside your category filter"


class Frequency(enum.StrEnum):
    immediate = "immediate"
    daily = "daily"
    weekly = "weekly"


class Action(enum.StrEnum):
    send = "send"  # deliver now on the alert's channels
    hold = "hold"  # quiet hours: deliver at ``at`` (the end of the window), never dropped
    digest = "digest"  # put in the digest ``digest_period``, sent at ``at``
    suppress = "suppress"  # do not deliver; ``reason`` says why (recorded on the outbox row)


@dataclass(frozen=True, slots=True)
class QuietHours:
    """A local window; ``start > end`` crosses midnight (22:00–08:00). ``start == end`` is empty."""

    start: time
    end: time


@dataclass(frozen=True, slots=True)
class Preferences:
    timezone: str = "UTC"
    frequency: Frequency = Frequency.immediate
    quiet_hours: QuietHours | None = None
    daily_limit: int = 10
    digest_time: time = time(9, 0)
    digest_day: int = 0  # Monday = 0 ... Sunday = 6 (weekly digests)
    categories: tuple[str, ...] = ()  # if set, only listings in these categories alert
    paused: bool = False  # pause-all
    stopped: bool = False  # /prefs stop


@dataclass(frozen=True, slots=True)
class Decision:
    action: Action
    at: datetime  # UTC: now (send), window end (hold), digest time (digest), now (suppress)
    reason: str = ""  # always set for hold, digest and suppress
    digest_period: str | None = None  # "daily:YYYY-MM-DD" / "weekly:YYYY-MM-DD" (local date sent)


@dataclass(frozen=True, slots=True)
class History:
    """What the policy needs to know about the user's recent alerts."""

    immediate_today: int = 0  # alerts decided "send" or "hold" since local midnight
    extra: dict[str, int] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------
# Time zones and user input
# --------------------------------------------------------------------------------------------

# Names the zoneinfo loader accepts that are not a person's zone: the host's own clock and the
# tzdata build helpers. Storing one would make a user's quiet hours depend on the server.
_NOT_USER_ZONES = frozenset({"localtime", "posixrules", "Factory"})

_HHMM = re.compile(r"([0-9]{1,2}):([0-9]{2})")


def zone(name: str) -> ZoneInfo:
    """The IANA zone called ``name``; ValueError (not KeyError) so callers handle one error type."""
    if not isinstance(name, str) or name.strip() != name or name in _NOT_USER_ZONES:
        raise ValueError(f"unknown time zone {name!r}")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc


def is_valid_timezone(name: str) -> bool:
    """Whether ``name`` is an IANA zone we can use (for validating /prefs input before storing)."""
    try:
        zone(name)
    except ValueError:
        return False
    return True


def parse_hhmm(text: str) -> time:
    """Parse a 24-hour "H:MM" or "HH:MM" (00:00–23:59), the only format /prefs accepts.

    Only one format is accepted so that "7pm" or "12.30" fail loudly instead of being guessed.
    Surrounding spaces are ignored.
    """
    match = _HHMM.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"{text!r} is not a time: use 24-hour HH:MM, e.g. 07:30 or 22:00")
    hour, minute = int(match.group(1)), int(match.group(2))
    if hour > 23:
        raise ValueError(f"{text!r} is not a time: the hour must be 00–23")
    if minute > 59:
        raise ValueError(f"{text!r} is not a time: the minutes must be 00–59")
    return time(hour, minute)


# --------------------------------------------------------------------------------------------
# Wall clock <-> UTC
# --------------------------------------------------------------------------------------------


def _as_utc(now: datetime) -> datetime:
    """``now`` in UTC; a naive datetime is refused because its zone would be a guess."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("naive datetime: pass an aware UTC datetime (e.g. datetime.now(UTC))")
    return now.astimezone(UTC)


def _wall(instant: datetime, tz: ZoneInfo) -> datetime:
    """The naive local wall-clock reading of ``instant`` in ``tz``."""
    return instant.astimezone(tz).replace(tzinfo=None)


def _wall_time(instant: datetime, tz: ZoneInfo) -> time:
    """The local time of day of ``instant`` in ``tz`` (naive, for comparison with prefs)."""
    return _wall(instant, tz).time()


def _plain(t: time) -> time:
    """``t`` without tzinfo or fold: preferences are wall-clock times in the user's zone."""
    return t.replace(tzinfo=None, fold=0)


def _gap_end(naive: datetime, tz: ZoneInfo, lo: datetime, hi: datetime) -> datetime:
    """The first instant after the spring-forward gap that swallowed the wall time ``naive``.

    ``lo`` reads before ``naive`` and ``hi`` after it; the zone's transition lies between them.
    Transitions fall on whole seconds, so a binary search over POSIX seconds finds it exactly
    (at most ~17 steps even for a skipped day) without assuming the gap's length.
    """
    lo_s, hi_s = math.floor(lo.timestamp()), math.ceil(hi.timestamp())
    while hi_s - lo_s > 1:
        mid = (lo_s + hi_s) // 2
        if _wall(datetime.fromtimestamp(mid, UTC), tz) >= naive:
            hi_s = mid
        else:
            lo_s = mid
    return datetime.fromtimestamp(hi_s, UTC)


def _occurrences(day: date, clock: time, tz: ZoneInfo) -> list[datetime]:
    """The UTC instants at which the clock in ``tz`` reads ``clock`` on ``day``, earliest first.

    Usually one. Two when the time repeats (fall-back): fold=0 then fold=1. When the time is
    skipped (spring-forward gap) the single stand-in is the first instant after the gap, so a
    delivery scheduled for a wall time that does not exist happens as soon as the clock resumes.
    """
    naive = datetime.combine(day, _plain(clock))
    first = naive.replace(tzinfo=tz, fold=0).astimezone(UTC)
    second = naive.replace(tzinfo=tz, fold=1).astimezone(UTC)
    if first == second:
        return [first]
    real = [u for u in sorted((first, second)) if _wall(u, tz) == naive]
    if real:
        return real
    return [_gap_end(naive, tz, min(first, second), max(first, second))]


def local_day_start(now: datetime, timezone: str) -> datetime:
    """The UTC instant at which the user's current local day began (for the daily cap).

    Caps reset at local midnight, so "today" is measured in the user's zone: a DST day is 23 or
    25 hours long. If midnight itself is skipped, the day starts at the first instant after the
    gap; if it repeats, at its first occurrence.
    """
    tz = zone(timezone)
    today = _wall(_as_utc(now), tz).date()
    return _occurrences(today, time(0, 0), tz)[0]


# --------------------------------------------------------------------------------------------
# Quiet hours
# --------------------------------------------------------------------------------------------


def _in_window(t: time, window: QuietHours) -> bool:
    """Whether the wall time ``t`` is inside ``[start, end)``; crosses midnight if start > end."""
    start, end = _plain(window.start), _plain(window.end)
    if start == end:
        return False
    if start < end:
        return start <= t < end
    return t >= start or t < end


def in_quiet_hours(now: datetime, prefs: Preferences) -> bool:
    """Whether the user's local wall clock at ``now`` is inside their quiet window.

    The window is half-open: exactly at ``start`` is quiet, exactly at ``end`` is not. Only the
    wall clock counts, so during a repeated (fall-back) hour both passes are judged alike.
    """
    if prefs.quiet_hours is None:
        return False
    return _in_window(_wall_time(_as_utc(now), zone(prefs.timezone)), prefs.quiet_hours)


def quiet_until(now: datetime, prefs: Preferences) -> datetime | None:
    """When the quiet window containing ``now`` ends (UTC), or None if ``now`` is not quiet.

    That is the first instant after ``now`` at which the local clock reads ``end`` — its first
    occurrence if the time repeats, the second if the first has already passed — or, if ``end``
    is skipped by a spring-forward gap, the first instant after the gap. A stand-in that is
    itself still quiet (possible only for near-24-hour windows across a gap) is skipped, so the
    result is always after ``now`` and never inside the window.
    """
    now = _as_utc(now)
    window = prefs.quiet_hours
    if window is None or not in_quiet_hours(now, prefs):
        return None
    tz = zone(prefs.timezone)
    today = _wall(now, tz).date()
    for offset in range(-1, 4):
        for candidate in _occurrences(today + timedelta(days=offset), window.end, tz):
            if candidate > now and not in_quiet_hours(candidate, prefs):
                return candidate
    raise AssertionError("a quiet window always ends within a few days")  # pragma: no cover


# --------------------------------------------------------------------------------------------
# Digests
# --------------------------------------------------------------------------------------------


def _digest_days(frequency: Frequency, prefs: Preferences, today: date) -> list[date]:
    """The local dates on which the next digest may fall, earliest first (a few spare)."""
    if frequency is Frequency.daily:
        return [today + timedelta(days=i) for i in range(3)]
    if frequency is Frequency.weekly:
        if not 0 <= prefs.digest_day <= 6:
            raise ValueError(f"digest_day must be 0 (Monday) to 6 (Sunday), not {prefs.digest_day}")
        first = today + timedelta(days=(prefs.digest_day - today.weekday()) % 7)
        return [first, first + timedelta(days=7)]
    raise ValueError(f"{frequency} alerts have no digest")


def next_digest_at(now: datetime, prefs: Preferences, frequency: Frequency) -> datetime:
    """When (UTC) the next daily or weekly digest goes out.

    It is the next local ``digest_time`` (on ``digest_day`` for weekly), counting ``now`` itself:
    if ``now`` is exactly the digest instant the result is ``now``, because that digest has not
    been sent yet when a match arrives in the same instant. A repeated wall time uses its first
    occurrence (one digest per local day); a skipped one is sent just after the gap.
    """
    now = _as_utc(now)
    frequency = Frequency(frequency)
    tz = zone(prefs.timezone)
    for day in _digest_days(frequency, prefs, _wall(now, tz).date()):
        at = _occurrences(day, prefs.digest_time, tz)[0]
        if at >= now:
            return at
    raise AssertionError("a digest day always lies within the candidates")  # pragma: no cover


def digest_period(at: datetime, prefs: Preferences, frequency: Frequency) -> str:
    """The digest's key, e.g. "daily:2026-11-23": the frequency and the local date it is sent.

    Keyed by the local send date so every match for the same digest lands in the same bucket,
    whatever UTC date the send instant falls on.
    """
    frequency = Frequency(frequency)
    if frequency is Frequency.immediate:
        raise ValueError("immediate alerts have no digest")
    local_date = _wall(_as_utc(at), zone(prefs.timezone)).date()
    return f"{frequency.value}:{local_date.isoformat()}"


# --------------------------------------------------------------------------------------------
# The decision
# --------------------------------------------------------------------------------------------


def _filter_keys(prefs: Preferences) -> set[str]:
    """The user's category filter as folded "a/b" keys; entries that fold to nothing are ignored."""
    keys = {"/".join(normalise_category(c)) for c in prefs.categories}
    keys.discard("")
    return keys


def _outside_categories(prefs: Preferences, listing_category: str | None) -> bool:
    """Whether a category filter is set and the listing is not in (or under) one of its entries.

    Prefix matching is by whole segments ("Furniture" covers "Furniture - Gaming"). A listing
    without a category cannot be shown to be inside the filter, so it is outside. A filter whose
    entries are all blank filters nothing: junk input must not silently mute a user.
    """
    wanted = _filter_keys(prefs)
    if not wanted:
        return False
    return not wanted.intersection(category_prefixes(listing_category or ""))


def _digest(now: datetime, prefs: Preferences, frequency: Frequency, reason: str) -> Decision:
    """A digest decision for the next ``frequency`` digest."""
    at = next_digest_at(now, prefs, frequency)
    return Decision(
        action=Action.digest,
        at=at,
        reason=reason,
        digest_period=digest_period(at, prefs, frequency),
    )


def decide(
    *,
    now: datetime,
    prefs: Preferences,
    rule_frequency: Frequency | None,
    history: History,
    listing_category: str | None,
) -> Decision:
    """What happens to one match now: send, hold, digest or suppress — always with a reason.

    Checks run in a fixed order so the reason shown to the user is the most fundamental one:
    stop, pause, category filter, digest frequency (the rule's, else the user's), the daily cap
    (overflow goes to the next daily digest, never dropped), quiet hours (held until the window
    ends), else send now. Raises ValueError for a naive ``now`` or an unknown time zone — on
    every call, not only when a time rule needs the zone, so bad stored preferences fail at once.
    """
    now = _as_utc(now)
    tz = zone(prefs.timezone)
    if prefs.stopped:
        return Decision(Action.suppress, now, REASON_STOPPED)
    if prefs.paused:
        return Decision(Action.suppress, now, REASON_PAUSED)
    if _outside_categories(prefs, listing_category):
        return Decision(Action.suppress, now, REASON_CATEGORY)
    frequency = Frequency(rule_frequency or prefs.frequency)
    if frequency is not Frequency.immediate:
        return _digest(now, prefs, frequency, f"{frequency.value} digest")
    if history.immediate_today >= prefs.daily_limit:
        reason = f"daily limit of {prefs.daily_limit} reached"
        return _digest(now, prefs, Frequency.daily, reason)
    until = quiet_until(now, prefs)
    if until is not None:
        return Decision(Action.hold, until, f"quiet hours until {_wall(until, tz):%H:%M}")
    return Decision(Action.send, now)
