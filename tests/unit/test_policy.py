"""Delivery policy: every branch of ``decide`` and the wall-clock helpers, with worked DST cases.

Expected instants are written out in UTC by hand (not computed with the code under test), with the
local reading alongside, so a reader can check each one against a time-zone table:
America/New_York springs forward 2026-03-08 02:00 EST -> 03:00 EDT (07:00 UTC) and falls back
2026-11-01 02:00 EDT -> 01:00 EST (06:00 UTC); Europe/London 2026-03-29 01:00 UTC and
2026-10-25 01:00 UTC; Australia/Lord_Howe (30-minute DST) 2026-10-04 02:00 -> 02:30 (15:30 UTC
the day before) and 2026-04-05 02:00 -> 01:30 (15:00 UTC the day before).
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta, timezone

import pytest

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
    is_valid_timezone,
    local_day_start,
    next_digest_at,
    parse_hhmm,
    quiet_until,
    zone,
)

NY = "America/New_York"
LA = "America/Los_Angeles"
KOLKATA = "Asia/Kolkata"
LORD_HOWE = "Australia/Lord_Howe"
LONDON = "Europe/London"

NIGHT = QuietHours(time(22, 0), time(8, 0))
LUNCH = QuietHours(time(13, 0), time(14, 0))


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, sec: int = 0) -> datetime:
    """A UTC instant: utc(2026, 3, 8, 7, 0)."""
    return datetime(year, month, day, hour, minute, sec, tzinfo=UTC)


def prefs(**kwargs: object) -> Preferences:
    return Preferences(**kwargs)  # type: ignore[arg-type]


def run(
    now: datetime,
    p: Preferences,
    *,
    rule_frequency: Frequency | None = None,
    sent_today: int = 0,
    category: str | None = "Furniture - Gaming",
) -> Decision:
    return decide(
        now=now,
        prefs=p,
        rule_frequency=rule_frequency,
        history=History(immediate_today=sent_today),
        listing_category=category,
    )


# --------------------------------------------------------------------------------------------
# zone / is_valid_timezone / parse_hhmm
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["UTC", NY, LA, KOLKATA, LORD_HOWE, LONDON, "Etc/GMT+5"])
def test_zone_known(name: str) -> None:
    assert zone(name).key == name
    assert is_valid_timezone(name)


@pytest.mark.parametrize(
    "name",
    ["Nope/Zone", "", "Europe", "../etc/passwd", "/etc/passwd", " UTC", "UTC ", "localtime"],
)
def test_zone_unknown_is_value_error(name: str) -> None:
    with pytest.raises(ValueError, match="unknown time zone"):
        zone(name)
    assert not is_valid_timezone(name)


def test_decide_with_unknown_zone_raises_value_error() -> None:
    with pytest.raises(ValueError, match="unknown time zone"):
        run(utc(2026, 1, 1, 12, 0), prefs(timezone="Mars/Olympus_Mons"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0:00", time(0, 0)),
        ("00:00", time(0, 0)),
        ("7:05", time(7, 5)),
        ("07:05", time(7, 5)),
        ("12:30", time(12, 30)),
        ("23:59", time(23, 59)),
        (" 22:00 ", time(22, 0)),
    ],
)
def test_parse_hhmm_accepts(text: str, expected: time) -> None:
    assert parse_hhmm(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("25:00", "hour must be 00–23"),
        ("24:00", "hour must be 00–23"),
        ("99:99", "hour must be 00–23"),
        ("12:60", "minutes must be 00–59"),
        ("7pm", "HH:MM"),
        ("7:00pm", "HH:MM"),
        ("12.30", "HH:MM"),
        ("12", "HH:MM"),
        ("1230", "HH:MM"),
        ("12:5", "HH:MM"),
        ("12:345", "HH:MM"),
        ("123:45", "HH:MM"),
        ("-1:00", "HH:MM"),
        ("12:00:00", "HH:MM"),
        ("", "HH:MM"),
        ("１２:００", "HH:MM"),  # full-width digits are not ASCII digits
    ],
)
def test_parse_hhmm_rejects_with_clear_message(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as info:
        parse_hhmm(text)
    assert repr(text) in str(info.value)


# --------------------------------------------------------------------------------------------
# naive datetimes
# --------------------------------------------------------------------------------------------

NAIVE = datetime(2026, 1, 1, 12, 0)


@pytest.mark.parametrize(
    "call",
    [
        lambda: run(NAIVE, prefs()),
        lambda: in_quiet_hours(NAIVE, prefs(quiet_hours=NIGHT)),
        lambda: quiet_until(NAIVE, prefs(quiet_hours=NIGHT)),
        lambda: next_digest_at(NAIVE, prefs(), Frequency.daily),
        lambda: digest_period(NAIVE, prefs(), Frequency.daily),
        lambda: local_day_start(NAIVE, "UTC"),
    ],
    ids=["decide", "in_quiet_hours", "quiet_until", "next_digest_at", "digest_period", "day"],
)
def test_naive_datetime_rejected(call: object) -> None:
    with pytest.raises(ValueError, match="naive datetime"):
        call()  # type: ignore[operator]


def test_naive_rejected_even_when_suppressed() -> None:
    with pytest.raises(ValueError, match="naive"):
        run(NAIVE, prefs(stopped=True))


def test_aware_non_utc_now_is_normalised_to_utc() -> None:
    now = datetime(2026, 1, 1, 7, 0, tzinfo=timezone(timedelta(hours=-5)))
    decision = run(now, prefs())
    assert decision == Decision(Action.send, utc(2026, 1, 1, 12, 0))
    assert decision.at.tzinfo is UTC


# --------------------------------------------------------------------------------------------
# decide: every branch, in order
# --------------------------------------------------------------------------------------------

NOON = utc(2026, 1, 14, 12, 0)  # a Wednesday


def test_send_by_default() -> None:
    decision = run(NOON, prefs())
    assert decision == Decision(Action.send, NOON, "", None)


def test_stopped_suppresses_first() -> None:
    p = prefs(stopped=True, paused=True, categories=("Music",), frequency=Frequency.daily)
    decision = run(NOON, p, sent_today=99)
    assert decision == Decision(Action.suppress, NOON, "you stopped all alerts (/prefs stop)")


def test_paused_suppresses_before_category_and_frequency() -> None:
    p = prefs(paused=True, categories=("Music",), frequency=Frequency.weekly)
    decision = run(NOON, p)
    assert decision == Decision(Action.suppress, NOON, "alerts paused (/prefs pause-all)")


@pytest.mark.parametrize(
    ("filters", "category"),
    [
        (("Music",), "Furniture - Gaming"),
        (("Furn",), "Furniture - Gaming"),  # whole segments only
        (("Furniture - Gaming",), "Furniture"),  # the filter is narrower than the listing
        (("Furniture/Office",), "Furniture - Gaming"),
        (("Electronics",), None),  # a listing with no category cannot be inside a filter
        (("Electronics",), ""),
        (("Furniture - Gaming - Chairs",), "Furniture - Gaming"),
    ],
)
def test_outside_category_filter_is_suppressed(
    filters: tuple[str, ...], category: str | None
) -> None:
    decision = run(NOON, prefs(categories=filters), category=category)
    assert decision == Decision(Action.suppress, NOON, "outside your category filter")


@pytest.mark.parametrize(
    ("filters", "category"),
    [
        (("Furniture",), "Furniture - Gaming"),
        (("furniture",), "FURNITURE / gaming"),  # folded and any separator
        (("Furniture > Gaming",), "Furniture - Gaming - Chairs"),
        (("Music", "Furniture"), "Furniture"),  # any one entry is enough
        (("Électronique",), "electronique"),  # accents folded like rules
        (("-", " "), None),  # only blank entries: no usable filter, nothing muted
        ((), None),  # no filter at all
    ],
)
def test_inside_category_filter_passes(filters: tuple[str, ...], category: str | None) -> None:
    assert run(NOON, prefs(categories=filters), category=category).action is Action.send


def test_category_filter_applies_before_digest() -> None:
    p = prefs(categories=("Music",), frequency=Frequency.daily)
    assert run(NOON, p).reason == "outside your category filter"


def test_daily_frequency_goes_to_daily_digest() -> None:
    decision = run(NOON, prefs(frequency=Frequency.daily))  # digest at 09:00 UTC
    assert decision == Decision(
        Action.digest, utc(2026, 1, 15, 9, 0), "daily digest", "daily:2026-01-15"
    )


def test_weekly_frequency_goes_to_weekly_digest() -> None:
    p = prefs(frequency=Frequency.weekly, digest_day=6)  # Sunday
    decision = run(NOON, p)
    assert decision == Decision(
        Action.digest, utc(2026, 1, 18, 9, 0), "weekly digest", "weekly:2026-01-18"
    )


def test_rule_frequency_overrides_prefs_towards_digest() -> None:
    decision = run(NOON, prefs(frequency=Frequency.immediate), rule_frequency=Frequency.daily)
    assert (decision.action, decision.reason) == (Action.digest, "daily digest")


def test_rule_frequency_overrides_prefs_towards_immediate() -> None:
    decision = run(NOON, prefs(frequency=Frequency.weekly), rule_frequency=Frequency.immediate)
    assert decision.action is Action.send


def test_rule_frequency_weekly_over_daily_prefs() -> None:
    p = prefs(frequency=Frequency.daily, digest_day=2)  # Wednesday: today, but 09:00 has passed
    decision = run(NOON, p, rule_frequency=Frequency.weekly)
    assert decision.reason == "weekly digest"
    assert decision.digest_period == "weekly:2026-01-21"


def test_none_rule_frequency_falls_back_to_prefs() -> None:
    decision = run(NOON, prefs(frequency=Frequency.weekly), rule_frequency=None)
    assert decision.reason == "weekly digest"


def test_digest_users_are_not_capped() -> None:
    decision = run(NOON, prefs(frequency=Frequency.weekly, daily_limit=1), sent_today=50)
    assert decision.reason == "weekly digest"


def test_daily_cap_reached_goes_to_next_daily_digest() -> None:
    decision = run(NOON, prefs(daily_limit=3), sent_today=3)
    assert decision == Decision(
        Action.digest, utc(2026, 1, 15, 9, 0), "daily limit of 3 reached", "daily:2026-01-15"
    )


def test_daily_cap_uses_daily_digest_even_if_rule_is_immediate_and_weekday_set() -> None:
    p = prefs(daily_limit=2, digest_day=6, digest_time=time(18, 0))
    decision = run(NOON, p, rule_frequency=Frequency.immediate, sent_today=5)
    assert decision == Decision(
        Action.digest, utc(2026, 1, 14, 18, 0), "daily limit of 2 reached", "daily:2026-01-14"
    )


def test_below_daily_cap_sends() -> None:
    assert run(NOON, prefs(daily_limit=3), sent_today=2).action is Action.send


def test_zero_daily_limit_routes_every_immediate_alert_to_the_digest() -> None:
    assert run(NOON, prefs(daily_limit=0)).reason == "daily limit of 0 reached"


def test_daily_cap_is_checked_before_quiet_hours() -> None:
    p = prefs(daily_limit=1, quiet_hours=LUNCH)
    decision = run(utc(2026, 1, 14, 13, 30), p, sent_today=1)
    assert (decision.action, decision.reason) == (Action.digest, "daily limit of 1 reached")


def test_quiet_hours_hold_until_window_end() -> None:
    decision = run(utc(2026, 1, 14, 13, 30), prefs(quiet_hours=LUNCH))
    assert decision == Decision(Action.hold, utc(2026, 1, 14, 14, 0), "quiet hours until 14:00")


def test_quiet_hours_do_not_apply_to_digests() -> None:
    p = prefs(quiet_hours=LUNCH, frequency=Frequency.daily)
    assert run(utc(2026, 1, 14, 13, 30), p).reason == "daily digest"


def test_quiet_hours_reason_uses_local_time() -> None:
    # 23:00 PST = 07:00 UTC; the window ends at 08:00 PST = 16:00 UTC
    decision = run(utc(2026, 1, 15, 7, 0), prefs(timezone=LA, quiet_hours=NIGHT))
    assert decision == Decision(Action.hold, utc(2026, 1, 15, 16, 0), "quiet hours until 08:00")


# --------------------------------------------------------------------------------------------
# quiet hours in UTC: boundaries
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hour", "minute", "quiet"),
    [
        (12, 59, False),
        (13, 0, True),  # exactly at start: quiet
        (13, 30, True),
        (13, 59, True),
        (14, 0, False),  # exactly at end: not quiet
        (14, 1, False),
        (0, 0, False),
    ],
)
def test_window_inside_a_day(hour: int, minute: int, quiet: bool) -> None:
    now = utc(2026, 6, 1, hour, minute)
    p = prefs(quiet_hours=LUNCH)
    assert in_quiet_hours(now, p) is quiet
    assert quiet_until(now, p) == (utc(2026, 6, 1, 14, 0) if quiet else None)


@pytest.mark.parametrize(
    ("day", "hour", "minute", "until"),
    [
        (1, 21, 59, None),
        (1, 22, 0, utc(2026, 6, 2, 8, 0)),  # exactly at start: quiet
        (1, 23, 59, utc(2026, 6, 2, 8, 0)),
        (2, 0, 0, utc(2026, 6, 2, 8, 0)),
        (2, 7, 59, utc(2026, 6, 2, 8, 0)),
        (2, 8, 0, None),  # exactly at end: not quiet
        (2, 12, 0, None),
    ],
)
def test_window_crossing_midnight(day: int, hour: int, minute: int, until: datetime | None) -> None:
    now = utc(2026, 6, day, hour, minute)
    p = prefs(quiet_hours=NIGHT)
    assert in_quiet_hours(now, p) is (until is not None)
    assert quiet_until(now, p) == until


def test_window_end_is_exact_to_the_second() -> None:
    p = prefs(quiet_hours=LUNCH)
    assert in_quiet_hours(utc(2026, 6, 1, 13, 59, 59), p)
    assert quiet_until(datetime(2026, 6, 1, 13, 59, 59, 999999, tzinfo=UTC), p) == utc(
        2026, 6, 1, 14, 0
    )


@pytest.mark.parametrize("hour", [0, 7, 12, 22, 23])
def test_start_equal_end_is_no_window(hour: int) -> None:
    p = prefs(quiet_hours=QuietHours(time(hour, 0), time(hour, 0)))
    now = utc(2026, 6, 1, hour, 0)
    assert not in_quiet_hours(now, p)
    assert quiet_until(now, p) is None
    assert run(now, p).action is Action.send


def test_no_quiet_hours() -> None:
    assert not in_quiet_hours(NOON, prefs())
    assert quiet_until(NOON, prefs()) is None


def test_quiet_hours_ignore_tzinfo_on_window_times() -> None:
    """Window times are wall-clock times in the user's zone, whatever tzinfo they carry."""
    tagged = QuietHours(time(13, 0, tzinfo=UTC), time(14, 0, tzinfo=UTC))
    p = prefs(timezone=KOLKATA, quiet_hours=tagged)
    assert in_quiet_hours(utc(2026, 6, 1, 7, 30), p)  # 13:00 IST


# --------------------------------------------------------------------------------------------
# quiet hours in user zones
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "until"),
    [
        (utc(2026, 1, 15, 5, 59), None),  # 21:59 PST
        (utc(2026, 1, 15, 6, 0), utc(2026, 1, 15, 16, 0)),  # 22:00 PST -> 08:00 PST
        (utc(2026, 1, 15, 15, 59), utc(2026, 1, 15, 16, 0)),  # 07:59 PST
        (utc(2026, 1, 15, 16, 0), None),  # 08:00 PST
        (utc(2026, 7, 15, 5, 0), utc(2026, 7, 15, 15, 0)),  # 22:00 PDT -> 08:00 PDT
        (utc(2026, 7, 15, 15, 0), None),  # 08:00 PDT
        (utc(2026, 7, 15, 4, 59), None),  # 21:59 PDT
    ],
)
def test_los_angeles(now: datetime, until: datetime | None) -> None:
    assert quiet_until(now, prefs(timezone=LA, quiet_hours=NIGHT)) == until


@pytest.mark.parametrize(
    ("now", "until"),
    [
        (utc(2026, 1, 10, 16, 29), None),  # 21:59 IST
        (utc(2026, 1, 10, 16, 30), utc(2026, 1, 11, 1, 30)),  # 22:00 IST -> 07:00 IST
        (utc(2026, 1, 10, 18, 30), utc(2026, 1, 11, 1, 30)),  # 00:00 IST
        (utc(2026, 1, 11, 1, 29), utc(2026, 1, 11, 1, 30)),  # 06:59 IST
        (utc(2026, 1, 11, 1, 30), None),  # 07:00 IST
    ],
)
def test_kolkata_half_hour_offset(now: datetime, until: datetime | None) -> None:
    p = prefs(timezone=KOLKATA, quiet_hours=QuietHours(time(22, 0), time(7, 0)))
    assert quiet_until(now, p) == until


@pytest.mark.parametrize(
    ("now", "until"),
    [
        (utc(2026, 1, 10, 22, 0), utc(2026, 1, 11, 7, 0)),  # 22:00 GMT -> 07:00 GMT
        (utc(2026, 7, 10, 21, 0), utc(2026, 7, 11, 6, 0)),  # 22:00 BST -> 07:00 BST
        (utc(2026, 7, 10, 20, 59), None),  # 21:59 BST
        (utc(2026, 7, 11, 6, 0), None),  # 07:00 BST
    ],
)
def test_london(now: datetime, until: datetime | None) -> None:
    p = prefs(timezone=LONDON, quiet_hours=QuietHours(time(22, 0), time(7, 0)))
    assert quiet_until(now, p) == until


def test_london_window_crossing_spring_forward_is_an_hour_shorter() -> None:
    p = prefs(timezone=LONDON, quiet_hours=QuietHours(time(22, 0), time(7, 0)))
    # 22:00 GMT on 28 March -> 07:00 BST on 29 March = 06:00 UTC: 8 hours, not 9
    assert quiet_until(utc(2026, 3, 28, 22, 0), p) == utc(2026, 3, 29, 6, 0)


def test_london_window_end_in_spring_gap() -> None:
    # 01:00–02:00 GMT does not exist on 2026-03-29; an end at 01:30 is delivered at 02:00 BST
    p = prefs(timezone=LONDON, quiet_hours=QuietHours(time(0, 0), time(1, 30)))
    decision = run(utc(2026, 3, 29, 0, 59), p)  # 00:59 GMT
    assert decision == Decision(Action.hold, utc(2026, 3, 29, 1, 0), "quiet hours until 02:00")


def test_lord_howe_half_hour_spring_gap() -> None:
    # 02:00–02:30 does not exist on 2026-10-04; the first instant after it is 02:30 +11:00
    p = prefs(timezone=LORD_HOWE, quiet_hours=QuietHours(time(23, 0), time(2, 15)))
    now = utc(2026, 10, 3, 14, 0)  # 00:30 +10:30
    assert quiet_until(now, p) == utc(2026, 10, 3, 15, 30)
    assert run(now, p).reason == "quiet hours until 02:30"


def test_lord_howe_half_hour_fall_back() -> None:
    # 01:30–02:00 happens twice on 2026-04-05: first at +11:00, then at +10:30
    p = prefs(timezone=LORD_HOWE, quiet_hours=QuietHours(time(23, 0), time(1, 45)))
    assert quiet_until(utc(2026, 4, 4, 13, 0), p) == utc(2026, 4, 4, 14, 45)  # 00:00 -> first
    assert not in_quiet_hours(utc(2026, 4, 4, 14, 50), p)  # 01:50 +11:00
    # 01:35 +10:30 (the second pass) is quiet again, until the second 01:45
    assert quiet_until(utc(2026, 4, 4, 15, 5), p) == utc(2026, 4, 4, 15, 15)


def test_lord_howe_standard_and_summer_offsets() -> None:
    p = prefs(timezone=LORD_HOWE, quiet_hours=QuietHours(time(22, 0), time(7, 0)))
    assert quiet_until(utc(2026, 7, 1, 11, 30), p) == utc(2026, 7, 1, 20, 30)  # +10:30
    assert quiet_until(utc(2026, 12, 1, 11, 0), p) == utc(2026, 12, 1, 20, 0)  # +11:00


# --------------------------------------------------------------------------------------------
# America/New_York DST days
# --------------------------------------------------------------------------------------------


def test_ny_spring_forward_end_inside_gap() -> None:
    # 02:30 does not exist on 2026-03-08: held until 03:00 EDT (07:00 UTC), the first instant after
    p = prefs(timezone=NY, quiet_hours=QuietHours(time(22, 0), time(2, 30)))
    now = utc(2026, 3, 8, 4, 0)  # 23:00 EST on the 7th
    assert quiet_until(now, p) == utc(2026, 3, 8, 7, 0)
    assert run(now, p) == Decision(Action.hold, utc(2026, 3, 8, 7, 0), "quiet hours until 03:00")
    assert in_quiet_hours(utc(2026, 3, 8, 6, 59), p)  # 01:59 EST
    assert not in_quiet_hours(utc(2026, 3, 8, 7, 0), p)  # 03:00 EDT


def test_ny_spring_forward_end_after_gap() -> None:
    p = prefs(timezone=NY, quiet_hours=QuietHours(time(22, 0), time(3, 30)))
    assert quiet_until(utc(2026, 3, 8, 4, 0), p) == utc(2026, 3, 8, 7, 30)  # 03:30 EDT


def test_ny_spring_forward_normal_night_window() -> None:
    p = prefs(timezone=NY, quiet_hours=NIGHT)
    assert quiet_until(utc(2026, 3, 8, 3, 0), p) == utc(2026, 3, 8, 12, 0)  # 22:00 EST -> 08 EDT
    assert quiet_until(utc(2026, 3, 8, 11, 59), p) == utc(2026, 3, 8, 12, 0)
    assert quiet_until(utc(2026, 3, 8, 12, 0), p) is None


def test_ny_window_entirely_inside_the_gap_is_never_quiet_that_day() -> None:
    p = prefs(timezone=NY, quiet_hours=QuietHours(time(2, 10), time(2, 40)))
    for minute in range(0, 120, 5):
        assert not in_quiet_hours(utc(2026, 3, 8, 6, 0) + timedelta(minutes=minute), p)


def test_ny_fall_back_end_repeats_first_occurrence_used() -> None:
    # 01:30 happens at 05:30 UTC (EDT) and 06:30 UTC (EST) on 2026-11-01
    p = prefs(timezone=NY, quiet_hours=QuietHours(time(22, 0), time(1, 30)))
    now = utc(2026, 11, 1, 4, 0)  # 00:00 EDT
    assert run(now, p) == Decision(Action.hold, utc(2026, 11, 1, 5, 30), "quiet hours until 01:30")


def test_ny_fall_back_second_pass_is_quiet_and_never_held_into_the_past() -> None:
    p = prefs(timezone=NY, quiet_hours=QuietHours(time(22, 0), time(1, 30)))
    assert not in_quiet_hours(utc(2026, 11, 1, 5, 45), p)  # 01:45 EDT
    assert run(utc(2026, 11, 1, 5, 45), p).action is Action.send
    now = utc(2026, 11, 1, 6, 10)  # 01:10 EST: the wall clock is inside 22:00–01:30 again
    decision = run(now, p)
    assert decision == Decision(Action.hold, utc(2026, 11, 1, 6, 30), "quiet hours until 01:30")
    assert decision.at > now


def test_ny_fall_back_window_is_an_hour_longer() -> None:
    p = prefs(timezone=NY, quiet_hours=NIGHT)
    start = utc(2026, 11, 1, 2, 0)  # 22:00 EDT on 31 October
    assert quiet_until(start, p) == utc(2026, 11, 1, 13, 0)  # 08:00 EST: 11 hours later


# --------------------------------------------------------------------------------------------
# digests
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "at"),
    [
        (utc(2026, 1, 14, 16, 0), utc(2026, 1, 14, 17, 0)),  # 08:00 PST -> 09:00 PST today
        (utc(2026, 1, 14, 17, 0), utc(2026, 1, 14, 17, 0)),  # exactly 09:00: this instant
        (utc(2026, 1, 14, 17, 0, 1), utc(2026, 1, 15, 17, 0)),  # just after: tomorrow
        (utc(2026, 1, 15, 7, 30), utc(2026, 1, 15, 17, 0)),  # 23:30 PST on the 14th
    ],
)
def test_daily_digest_time(now: datetime, at: datetime) -> None:
    assert next_digest_at(now, prefs(timezone=LA), Frequency.daily) == at


def test_exact_digest_instant_counts_as_current_in_decide() -> None:
    decision = run(utc(2026, 1, 14, 9, 0), prefs(frequency=Frequency.daily))
    assert decision.at == utc(2026, 1, 14, 9, 0)
    assert decision.digest_period == "daily:2026-01-14"


def test_digest_period_is_the_local_date() -> None:
    # 21:00 PST on the 14th is 05:00 UTC on the 15th: the period is the 14th
    p = prefs(timezone=LA, digest_time=time(21, 0), frequency=Frequency.daily)
    decision = run(utc(2026, 1, 14, 20, 0), p)
    assert decision.at == utc(2026, 1, 15, 5, 0)
    assert decision.digest_period == "daily:2026-01-14"
    assert digest_period(decision.at, p, Frequency.weekly) == "weekly:2026-01-14"


def test_digest_period_kolkata_is_ahead_of_utc() -> None:
    p = prefs(timezone=KOLKATA, digest_time=time(2, 0))
    at = next_digest_at(utc(2026, 1, 14, 12, 0), p, Frequency.daily)  # 17:30 IST
    assert at == utc(2026, 1, 14, 20, 30)  # 02:00 IST on the 15th
    assert digest_period(at, p, Frequency.daily) == "daily:2026-01-15"


@pytest.mark.parametrize(
    ("now", "at"),
    [
        (utc(2026, 1, 14, 12, 0), utc(2026, 1, 18, 9, 0)),  # Wednesday -> Sunday
        (utc(2026, 1, 18, 8, 59), utc(2026, 1, 18, 9, 0)),  # Sunday before 09:00 -> today
        (utc(2026, 1, 18, 9, 0), utc(2026, 1, 18, 9, 0)),  # exactly at: this instant
        (utc(2026, 1, 18, 9, 1), utc(2026, 1, 25, 9, 0)),  # Sunday after -> next Sunday
        (utc(2026, 1, 19, 0, 0), utc(2026, 1, 25, 9, 0)),  # Monday
        (utc(2026, 1, 17, 23, 59), utc(2026, 1, 18, 9, 0)),  # Saturday night
    ],
)
def test_weekly_digest_on_sunday(now: datetime, at: datetime) -> None:
    p = prefs(digest_day=6)
    assert next_digest_at(now, p, Frequency.weekly) == at
    assert digest_period(at, p, Frequency.weekly) == f"weekly:{at.date().isoformat()}"


def test_weekly_digest_day_is_local() -> None:
    # 10:00 Sunday in Kolkata is 04:30 UTC Sunday; 20:00 Saturday in LA is 04:00 UTC Sunday
    p_in = prefs(timezone=KOLKATA, digest_day=6, digest_time=time(10, 0))
    assert next_digest_at(utc(2026, 1, 14, 0, 0), p_in, Frequency.weekly) == utc(2026, 1, 18, 4, 30)
    p_la = prefs(timezone=LA, digest_day=5, digest_time=time(20, 0))
    at = next_digest_at(utc(2026, 1, 14, 0, 0), p_la, Frequency.weekly)
    assert at == utc(2026, 1, 18, 4, 0)
    assert digest_period(at, p_la, Frequency.weekly) == "weekly:2026-01-17"


def test_daily_digest_on_spring_forward_day() -> None:
    p = prefs(timezone=NY, digest_time=time(9, 0))
    assert next_digest_at(utc(2026, 3, 7, 15, 0), p, Frequency.daily) == utc(2026, 3, 8, 13, 0)
    assert next_digest_at(utc(2026, 3, 7, 13, 0), p, Frequency.daily) == utc(2026, 3, 7, 14, 0)


def test_digest_time_inside_spring_gap_is_sent_just_after_it() -> None:
    p = prefs(timezone=NY, digest_time=time(2, 30), digest_day=6, frequency=Frequency.weekly)
    now = utc(2026, 3, 8, 5, 0)  # 00:00 EST, Sunday
    for frequency in (Frequency.daily, Frequency.weekly):
        decision = run(now, p, rule_frequency=frequency)
        assert decision.at == utc(2026, 3, 8, 7, 0)  # 03:00 EDT
        assert decision.digest_period == f"{frequency}:2026-03-08"
    # once the stand-in has passed, the next one is the real 02:30 EDT
    assert next_digest_at(utc(2026, 3, 8, 7, 1), p, Frequency.daily) == utc(2026, 3, 9, 6, 30)
    assert next_digest_at(utc(2026, 3, 8, 7, 1), p, Frequency.weekly) == utc(2026, 3, 15, 6, 30)


def test_digest_time_repeated_in_fall_back_uses_first_occurrence_once() -> None:
    p = prefs(timezone=NY, digest_time=time(1, 30), digest_day=6)
    for frequency in (Frequency.daily, Frequency.weekly):
        at = next_digest_at(utc(2026, 11, 1, 4, 0), p, frequency)  # 00:00 EDT, Sunday
        assert at == utc(2026, 11, 1, 5, 30)  # 01:30 EDT
        assert digest_period(at, p, frequency) == f"{frequency}:2026-11-01"
    # 01:10 EST: the day's digest went out at 01:30 EDT; the second 01:30 is not another one
    now = utc(2026, 11, 1, 6, 10)
    assert next_digest_at(now, p, Frequency.daily) == utc(2026, 11, 2, 6, 30)
    assert next_digest_at(now, p, Frequency.weekly) == utc(2026, 11, 8, 6, 30)


def test_daily_digest_on_fall_back_day() -> None:
    p = prefs(timezone=NY, digest_time=time(9, 0))
    assert next_digest_at(utc(2026, 10, 31, 14, 0), p, Frequency.daily) == utc(2026, 11, 1, 14, 0)


def test_daily_cap_on_spring_forward_day_uses_stand_in_digest() -> None:
    p = prefs(timezone=NY, digest_time=time(2, 30), daily_limit=1)
    decision = run(utc(2026, 3, 8, 5, 0), p, sent_today=1)
    assert decision == Decision(
        Action.digest, utc(2026, 3, 8, 7, 0), "daily limit of 1 reached", "daily:2026-03-08"
    )


def test_lord_howe_digest_in_half_hour_gap() -> None:
    p = prefs(timezone=LORD_HOWE, digest_time=time(2, 15))
    at = next_digest_at(utc(2026, 10, 3, 12, 0), p, Frequency.daily)
    assert at == utc(2026, 10, 3, 15, 30)  # 02:30 +11:00 on the 4th
    assert digest_period(at, p, Frequency.daily) == "daily:2026-10-04"


def test_immediate_has_no_digest() -> None:
    with pytest.raises(ValueError, match="no digest"):
        next_digest_at(NOON, prefs(), Frequency.immediate)
    with pytest.raises(ValueError, match="no digest"):
        digest_period(NOON, prefs(), Frequency.immediate)


@pytest.mark.parametrize("day", [-1, 7])
def test_bad_digest_day(day: int) -> None:
    with pytest.raises(ValueError, match="digest_day"):
        next_digest_at(NOON, prefs(digest_day=day), Frequency.weekly)


def test_frequency_given_as_plain_string() -> None:
    at = next_digest_at(NOON, prefs(), "daily")  # type: ignore[arg-type]
    assert digest_period(at, prefs(), "daily") == "daily:2026-01-15"  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# local_day_start and the daily cap
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tz", "now", "start"),
    [
        ("UTC", utc(2026, 1, 14, 12, 0), utc(2026, 1, 14, 0, 0)),
        ("UTC", utc(2026, 1, 14, 0, 0), utc(2026, 1, 14, 0, 0)),  # midnight starts its own day
        (LA, utc(2026, 1, 14, 7, 59), utc(2026, 1, 13, 8, 0)),
        (LA, utc(2026, 1, 14, 8, 0), utc(2026, 1, 14, 8, 0)),
        (KOLKATA, utc(2026, 1, 14, 18, 29), utc(2026, 1, 13, 18, 30)),
        (KOLKATA, utc(2026, 1, 14, 18, 30), utc(2026, 1, 14, 18, 30)),
        (LORD_HOWE, utc(2026, 7, 1, 12, 0), utc(2026, 6, 30, 13, 30)),  # +10:30
        (LORD_HOWE, utc(2026, 12, 1, 12, 0), utc(2026, 11, 30, 13, 0)),  # +11:00
        (LONDON, utc(2026, 7, 1, 12, 0), utc(2026, 6, 30, 23, 0)),
        (NY, utc(2026, 3, 8, 12, 0), utc(2026, 3, 8, 5, 0)),  # 23-hour day
        (NY, utc(2026, 3, 9, 3, 59), utc(2026, 3, 8, 5, 0)),
        (NY, utc(2026, 3, 9, 4, 0), utc(2026, 3, 9, 4, 0)),
        (NY, utc(2026, 11, 1, 12, 0), utc(2026, 11, 1, 4, 0)),  # 25-hour day
        (NY, utc(2026, 11, 2, 4, 59), utc(2026, 11, 1, 4, 0)),
        (NY, utc(2026, 11, 2, 5, 0), utc(2026, 11, 2, 5, 0)),
        # midnight skipped (Santiago springs 00:00 -> 01:00): the day starts at 01:00 -03
        ("America/Santiago", utc(2026, 9, 6, 12, 0), utc(2026, 9, 6, 4, 0)),
        # midnight repeated (Havana falls back 01:00 -> 00:00): the first midnight
        ("America/Havana", utc(2026, 11, 1, 12, 0), utc(2026, 11, 1, 4, 0)),
    ],
)
def test_local_day_start(tz: str, now: datetime, start: datetime) -> None:
    assert local_day_start(now, tz) == start


def test_dst_day_lengths() -> None:
    def length(day: datetime) -> timedelta:
        start = local_day_start(day, NY)
        return local_day_start(start + timedelta(hours=26), NY) - start

    assert length(utc(2026, 3, 8, 12, 0)) == timedelta(hours=23)
    assert length(utc(2026, 11, 1, 12, 0)) == timedelta(hours=25)
    assert length(utc(2026, 6, 1, 12, 0)) == timedelta(hours=24)


def sent_today(sends: list[datetime], now: datetime, tz: str) -> int:
    """What the caller stores in History.immediate_today: sends since the local midnight."""
    start = local_day_start(now, tz)
    return sum(start <= s <= now for s in sends)


def test_cap_resets_at_local_midnight_not_after_24_hours() -> None:
    p = prefs(timezone=NY, daily_limit=2)
    sends = [utc(2026, 11, 1, 4, 30), utc(2026, 11, 1, 12, 0)]  # 00:30 EDT and 07:00 EST
    # 23:30 EST on 1 November: 25 hours after the first send, but still the same local day
    late = utc(2026, 11, 2, 4, 30)
    assert sent_today(sends, late, NY) == 2
    assert run(late, p, sent_today=sent_today(sends, late, NY)).reason == "daily limit of 2 reached"
    # 00:00 EST on 2 November: a new local day, the cap starts again
    midnight = utc(2026, 11, 2, 5, 0)
    assert sent_today(sends, midnight, NY) == 0
    assert run(midnight, p, sent_today=sent_today(sends, midnight, NY)).action is Action.send


def test_cap_resets_at_local_midnight_on_spring_forward_day() -> None:
    p = prefs(timezone=NY, daily_limit=1)
    sends = [utc(2026, 3, 8, 5, 30)]  # 00:30 EST on 8 March
    before = utc(2026, 3, 9, 3, 59)  # 23:59 EDT on 8 March: 22.5 hours later, same day
    assert run(before, p, sent_today=sent_today(sends, before, NY)).action is Action.digest
    after = utc(2026, 3, 9, 4, 0)  # 00:00 EDT on 9 March
    assert run(after, p, sent_today=sent_today(sends, after, NY)).action is Action.send


def test_cap_resets_at_kolkata_midnight() -> None:
    sends = [utc(2026, 1, 14, 18, 0)]  # 23:30 IST
    assert sent_today(sends, utc(2026, 1, 14, 18, 29), KOLKATA) == 1
    assert sent_today(sends, utc(2026, 1, 14, 18, 30), KOLKATA) == 0


def test_local_day_start_unknown_zone() -> None:
    with pytest.raises(ValueError, match="unknown time zone"):
        local_day_start(NOON, "Nowhere")


def test_near_24_hour_window_whose_only_gap_is_skipped_holds_to_the_next_day() -> None:
    # 02:45–02:30 leaves only 02:30–02:45 un-quiet, and on 2026-03-08 that quarter hour does not
    # exist: the stand-in end (03:00 EDT) is itself quiet, so the hold runs to 02:30 EDT on the 9th
    p = prefs(timezone=NY, quiet_hours=QuietHours(time(2, 45), time(2, 30)))
    now = utc(2026, 3, 8, 5, 0)  # 00:00 EST
    assert in_quiet_hours(utc(2026, 3, 8, 7, 0), p)  # 03:00 EDT
    assert quiet_until(now, p) == utc(2026, 3, 9, 6, 30)
    assert not in_quiet_hours(utc(2026, 3, 9, 6, 30), p)
