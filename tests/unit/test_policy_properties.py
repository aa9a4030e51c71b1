"""Properties of the delivery policy over random zones, instants and preferences.

Instants cover 2026–2027 and are drawn half the time within a day of a real DST change in the
chosen zone (found by scanning the zone, not hard-coded), so gaps and repeated hours come up in
most runs. Zones include both hemispheres, 30- and 45-minute offsets, 30-minute DST (Lord Howe),
and zones whose midnight is skipped or repeated (Santiago, Havana).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import cache

from hypothesis import event, given, settings
from hypothesis import strategies as st

from bot.domain.policy import (
    Action,
    Decision,
    Frequency,
    History,
    Preferences,
    QuietHours,
    decide,
    digest_period,
    in_quiet_hours,
    local_day_start,
    next_digest_at,
    quiet_until,
    zone,
)

ZONES = [
    "UTC",
    "America/New_York",
    "America/Los_Angeles",
    "Europe/London",
    "Europe/Berlin",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Asia/Tokyo",
    "Australia/Sydney",
    "Australia/Lord_Howe",
    "Pacific/Auckland",
    "Pacific/Chatham",
    "America/Sao_Paulo",
    "America/Santiago",
    "America/Havana",
]
NO_DST = {"UTC", "Asia/Kolkata", "Asia/Kathmandu", "Asia/Tokyo", "America/Sao_Paulo"}
DST_ZONES = [z for z in ZONES if z not in NO_DST]
START = datetime(2026, 1, 1, tzinfo=UTC)
END = datetime(2028, 1, 1, tzinfo=UTC)
MINUTE = timedelta(minutes=1)

# Wall times where DST changes happen in the zones above, plus ordinary ones.
EDGE_TIMES = [time(h, m) for h, m in [(0, 0), (0, 30), (1, 0), (1, 30), (1, 45), (2, 0)]]
EDGE_TIMES += [time(h, m) for h, m in [(2, 15), (2, 30), (2, 45), (3, 0), (3, 30), (23, 0)]]
SEGMENTS = {
    "furniture": ["gaming", "office"],
    "electronics": ["audio", "phones"],
    "music": ["vinyl", "cds"],
}
SEPARATORS = [" - ", "/", " > ", " / "]
SETTINGS = settings(max_examples=300, deadline=None)

# now, prefs, rule frequency, history, listing category, whether the category filter lets it in
Scenario = tuple[datetime, Preferences, Frequency | None, History, str | None, bool]


def wall(instant: datetime, tz: str) -> datetime:
    """The naive local reading of ``instant`` (test-side, independent of the module's helpers)."""
    return instant.astimezone(zone(tz)).replace(tzinfo=None)


@cache
def transitions(tz: str) -> tuple[datetime, ...]:
    """The UTC instants in 2026–2027 at which ``tz`` changes offset (scan by 6 h, then bisect)."""
    z = zone(tz)
    found: list[datetime] = []
    step = timedelta(hours=6)
    t = START
    while t < END:
        lo, hi = t, t + step
        if lo.astimezone(z).utcoffset() != hi.astimezone(z).utcoffset():
            while hi - lo > timedelta(seconds=1):
                mid = lo + (hi - lo) / 2
                if mid.astimezone(z).utcoffset() == lo.astimezone(z).utcoffset():
                    lo = mid
                else:
                    hi = mid
            found.append(hi.replace(microsecond=0))
        t += step
    return tuple(found)


def changes_between(a: datetime, b: datetime, tz: str) -> bool:
    """Whether ``tz`` changes offset in ``(a, b]``."""
    z = zone(tz)
    return a.astimezone(z).utcoffset() != b.astimezone(z).utcoffset() or any(
        a < t <= b for t in transitions(tz)
    )


def exists(day: date, t: time, tz: str) -> bool:
    """Whether the wall time ``t`` happens on ``day`` in ``tz`` (False inside a DST gap)."""
    naive = datetime.combine(day, t)
    return wall(naive.replace(tzinfo=zone(tz)).astimezone(UTC), tz) == naive


@st.composite
def moments(draw: st.DrawFn, tz: str, *, focused: bool = False) -> tuple[datetime, datetime | None]:
    """A UTC instant in 2026–2027 and the DST change it was drawn near, if any.

    Half the time (always if ``focused``) the instant is within 26 hours of a change of ``tz``,
    and often within 3 hours, where gaps and repeated hours matter.
    """
    changes = transitions(tz)
    near_a_change = focused or draw(st.booleans())
    pivot = draw(st.sampled_from(changes)) if changes and near_a_change else None
    if pivot is not None:
        hours = draw(st.sampled_from([3, 26]))
        instant = pivot + timedelta(seconds=draw(st.integers(-hours * 3600, hours * 3600)))
    else:
        instant = START + timedelta(seconds=draw(st.integers(0, 2 * 366 * 86400)))
    if draw(st.booleans()):  # on a whole minute, so window and digest edges are hit exactly
        instant = instant.replace(second=0)
    return instant, pivot


def instants(tz: str) -> st.SearchStrategy[datetime]:
    """Instants alone, near DST changes more than half the time."""
    focused = st.booleans().flatmap(lambda focused: moments(tz, focused=focused))
    return focused.map(lambda moment: moment[0])


wall_times = st.one_of(
    st.sampled_from(EDGE_TIMES),
    st.builds(time, st.integers(0, 23), st.integers(0, 59)),
)


def times_near(
    tz: str, pivot: datetime | None, *, focused: bool = False
) -> st.SearchStrategy[time]:
    """Wall times, often (always if ``focused``) within an hour or two of ``pivot``'s change."""
    if pivot is None:
        return wall_times
    clock = wall(pivot - timedelta(seconds=1), tz) + timedelta(seconds=1)  # the old offset's 02:00
    near = st.integers(-60, 120).map(lambda k: (clock + timedelta(minutes=k)).time())
    return near if focused else st.one_of(wall_times, near, near)


@st.composite
def category_paths(draw: st.DrawFn) -> tuple[str, ...]:
    """A category path of 1–2 segments from a small tree, so filters and listings collide."""
    top = draw(st.sampled_from(sorted(SEGMENTS)))
    if draw(st.booleans()):
        return (top, draw(st.sampled_from(SEGMENTS[top])))
    return (top,)


@st.composite
def spelled(draw: st.DrawFn, path: tuple[str, ...]) -> str:
    """``path`` as a user might type it: any separator, any case."""
    sep = draw(st.sampled_from(SEPARATORS))
    text = sep.join(path)
    return draw(st.sampled_from([text, text.upper(), text.title()]))


@st.composite
def scenarios(draw: st.DrawFn, *, active: bool = False, focus: Action | None = None) -> Scenario:
    """Random inputs to decide, plus whether the category filter should let the listing through.

    ``active`` leaves out stop, pause and the category filter; ``focus`` (hold or digest) also
    shapes the preferences so that most examples reach that branch instead of an earlier one.
    """
    tz = draw(st.sampled_from(DST_ZONES if focus else ZONES))
    now, pivot = draw(moments(tz, focused=focus is not None))
    local_times = times_near(tz, pivot, focused=focus is not None)
    quiet: QuietHours | None
    if focus is Action.hold:  # a window that has started by now, ending near the DST change
        since = timedelta(minutes=draw(st.integers(0, 12 * 60)))
        quiet = QuietHours((wall(now, tz) - since).time().replace(second=0), draw(local_times))
    else:
        quiet = draw(st.none() | st.builds(QuietHours, local_times, local_times))
    weekdays = st.integers(0, 6)
    if focus is Action.digest and pivot is not None:  # weekly digests on the DST day, mostly
        weekdays = st.one_of(st.just(wall(pivot, tz).weekday()), weekdays)
    filter_paths = [] if active else draw(st.lists(category_paths(), max_size=2))
    listing_path = draw(st.none() | category_paths())
    frequencies = st.sampled_from(Frequency)
    if focus is Action.hold:
        frequencies = st.just(Frequency.immediate)
    elif focus is Action.digest:
        frequencies = st.sampled_from([Frequency.daily, Frequency.weekly])
    prefs = Preferences(
        timezone=tz,
        frequency=draw(frequencies),
        quiet_hours=quiet,
        daily_limit=draw(st.integers(0, 5) if focus is None else st.integers(3, 5)),
        digest_time=draw(local_times),
        digest_day=draw(weekdays),
        categories=tuple(draw(spelled(p)) for p in filter_paths),
        paused=not active and draw(st.integers(0, 4)) == 0,
        stopped=not active and draw(st.integers(0, 4)) == 0,
    )
    rule_frequency = draw(st.none() | frequencies)
    history = History(immediate_today=draw(st.integers(0, 2 if focus is Action.hold else 6)))
    category = None if listing_path is None else draw(spelled(listing_path))
    inside = not filter_paths or (
        listing_path is not None and any(listing_path[: len(f)] == f for f in filter_paths)
    )
    return now, prefs, rule_frequency, history, category, inside


def run(
    scenario: Scenario,
) -> Decision:
    now, prefs, rule_frequency, history, category, _ = scenario
    return decide(
        now=now,
        prefs=prefs,
        rule_frequency=rule_frequency,
        history=history,
        listing_category=category,
    )


@SETTINGS
@given(st.one_of(scenarios(), scenarios(active=True)))
def test_a_every_decision_has_a_reason_unless_sent(scenario: Scenario) -> None:
    now = scenario[0]
    decision = run(scenario)
    event(f"action: {decision.action}")
    assert isinstance(decision, Decision)
    assert decision.at.utcoffset() == timedelta(0)
    if decision.action is Action.send:
        assert decision.at == now
        assert decision.digest_period is None
    else:
        assert decision.reason
    if decision.action is Action.suppress:
        assert decision.at == now


@SETTINGS
@given(st.one_of(scenarios(), *[scenarios(active=True, focus=Action.hold)] * 2))
def test_b_hold_is_until_the_end_of_the_current_window(scenario: Scenario) -> None:
    now, prefs = scenario[0], scenario[1]
    decision = run(scenario)
    held = quiet_until(now, prefs)
    assert (held is not None) == in_quiet_hours(now, prefs)
    if decision.action is not Action.hold:
        return
    at, tz = decision.at, prefs.timezone
    assert at == held
    assert at > now
    assert in_quiet_hours(now, prefs)
    assert not in_quiet_hours(at, prefs)
    assert at - now <= timedelta(hours=48)
    assert decision.reason == f"quiet hours until {wall(at, tz):%H:%M}"
    assert prefs.quiet_hours is not None
    end = datetime.combine(wall(at, tz).date(), prefs.quiet_hours.end)
    gap = not exists(end.date(), end.time(), tz)
    event(f"hold: DST change before the end: {changes_between(now, at, tz)}, end in a gap: {gap}")
    if gap:  # the first instant after the gap
        assert wall(at - timedelta(seconds=1), tz) < end < wall(at, tz)
    else:
        assert wall(at, tz) == end
        first = end.replace(tzinfo=zone(tz), fold=0).astimezone(UTC)
        assert first == at or first <= now  # the first occurrence, unless it has passed
    if not changes_between(at - MINUTE, at, tz):
        # the window was still on a minute ago: ``at`` is its end, not a later window's
        assert in_quiet_hours(at - MINUTE, prefs)
    if not changes_between(now, at, tz):
        # a steady wall clock: quiet all the way from now to the end
        for i in range(1, 8):
            assert in_quiet_hours(now + (at - now) * i / 8, prefs)


@SETTINGS
@given(st.one_of(scenarios(), *[scenarios(active=True, focus=Action.digest)] * 2))
def test_c_digest_at_digest_time(scenario: Scenario) -> None:
    now, prefs, rule_frequency = scenario[0], scenario[1], scenario[2]
    decision = run(scenario)
    if decision.action is not Action.digest:
        return
    frequency = Frequency(rule_frequency or prefs.frequency)
    if decision.reason.startswith("daily limit"):
        assert decision.reason == f"daily limit of {prefs.daily_limit} reached"
        frequency = Frequency.daily
    else:
        assert decision.reason == f"{frequency} digest"
    at, tz = decision.at, prefs.timezone
    local = wall(at, tz)
    assert at >= now
    assert decision.digest_period == f"{frequency}:{local.date().isoformat()}"
    assert decision.digest_period == digest_period(at, prefs, frequency)
    event(f"digest reason: {decision.reason.split(' of ')[0]}")
    event(f"digest time exists that day: {exists(local.date(), prefs.digest_time, tz)}")
    if exists(local.date(), prefs.digest_time, tz):
        assert local.time() == prefs.digest_time
        first = local.replace(tzinfo=zone(tz), fold=0).astimezone(UTC)
        assert at == first  # one digest a day: a repeated time means its first occurrence
    else:  # in a gap: the first instant after it
        skipped = datetime.combine(local.date(), prefs.digest_time)
        assert wall(at - timedelta(seconds=1), tz) < skipped < local
    if frequency is Frequency.weekly:
        assert local.weekday() == prefs.digest_day
        assert at - now < timedelta(days=7, hours=2)
    else:
        assert at - now < timedelta(hours=26)


@SETTINGS
@given(st.one_of(scenarios(), scenarios(active=True)))
def test_d_nothing_is_dropped(scenario: Scenario) -> None:
    """Suppressed only for stop, pause or the category filter; otherwise the documented order."""
    now, prefs, rule_frequency, history, _, inside = scenario
    decision = run(scenario)
    frequency = Frequency(rule_frequency or prefs.frequency)
    if prefs.stopped:
        expected = ("suppress", "you stopped all alerts (/prefs stop)")
    elif prefs.paused:
        expected = ("suppress", "alerts paused (/prefs pause-all)")
    elif not inside:
        expected = ("suppress", "outside your category filter")
    elif frequency is not Frequency.immediate:
        expected = ("digest", f"{frequency} digest")
    elif history.immediate_today >= prefs.daily_limit:
        expected = ("digest", f"daily limit of {prefs.daily_limit} reached")
    elif in_quiet_hours(now, prefs):
        expected = ("hold", decision.reason)
        assert decision.reason.startswith("quiet hours until ")
    else:
        expected = ("send", "")
    event(f"expected: {expected[0]}")
    assert (decision.action, decision.reason) == expected
    if decision.action is Action.suppress:
        assert decision == Decision(Action.suppress, now, expected[1])


@SETTINGS
@given(st.sampled_from(ZONES).flatmap(lambda tz: st.tuples(st.just(tz), instants(tz))))
def test_e_local_day_start(case: tuple[str, datetime]) -> None:
    tz, now = case
    start = local_day_start(now, tz)
    assert start <= now < start + timedelta(hours=26)
    assert wall(start, tz).date() == wall(now, tz).date()
    # the first instant of the local day: a second earlier was yesterday
    assert wall(start - timedelta(seconds=1), tz).date() < wall(now, tz).date()
    if exists(wall(now, tz).date(), time(0, 0), tz):
        assert wall(start, tz).time() == time(0, 0)


@SETTINGS
@given(st.data())
def test_next_digest_is_the_first_at_or_after_now(data: st.DataObject) -> None:
    """No digest instant is skipped: a moment before ``at`` the next digest is still ``at``."""
    tz = data.draw(st.sampled_from(ZONES))
    now, pivot = data.draw(moments(tz, focused=data.draw(st.booleans())))
    t = data.draw(times_near(tz, pivot))
    prefs = Preferences(timezone=tz, digest_time=t)
    at = next_digest_at(now, prefs, Frequency.daily)
    assert at >= now
    assert next_digest_at(at, prefs, Frequency.daily) == at
    if at > now:
        assert next_digest_at(now + (at - now) / 2, prefs, Frequency.daily) == at
    assert next_digest_at(at + timedelta(seconds=1), prefs, Frequency.daily) > at
