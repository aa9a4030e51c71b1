"""The price-drop watch state machine: validation, full sequences and a reference-model property."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.watch import (
    Watch,
    WatchEvent,
    condition_met,
    on_price,
    on_status,
    start_watch,
)

E = WatchEvent


def D(value: str | int) -> Decimal:
    return Decimal(value)


def run(watch: Watch, steps: list[str | int | None]) -> tuple[Watch, list[WatchEvent]]:
    """Feed prices (numbers), unknown prices (None) and statuses (words) in order."""
    events = []
    for step in steps:
        if isinstance(step, str) and not step[0].isdigit():
            watch, event = on_status(watch, step)
        else:
            watch, event = on_price(watch, None if step is None else D(step))
        events.append(event)
    return watch, events


# --------------------------------------------------------------------------------------------
# Starting a watch
# --------------------------------------------------------------------------------------------


def test_start_watch_records_the_starting_point() -> None:
    watch = start_watch(D(100), target_price=D(80))
    assert watch == Watch(D(80), None, D(100), D(100), armed=True, ended=None)
    assert watch.active


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"target_price": D(0)}, "target_price"),
        ({"target_price": D(-5)}, "target_price"),
        ({"drop_percent": 0.0}, "drop_percent"),
        ({"drop_percent": 100.0}, "drop_percent"),
        ({"drop_percent": -3.0}, "drop_percent"),
        ({"drop_percent": float("nan")}, "drop_percent"),
        ({"drop_percent": float("inf")}, "drop_percent"),
        ({}, "target_price or drop_percent"),
    ],
)
def test_start_watch_rejects_bad_fields_by_name(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        start_watch(D(100), **kwargs)  # type: ignore[arg-type]


def test_start_watch_rejects_a_bad_price() -> None:
    with pytest.raises(ValueError, match="price"):
        start_watch(D(-1), target_price=D(10))
    with pytest.raises(ValueError, match="price"):
        start_watch(D("NaN"), target_price=D(10))


def test_a_watch_already_met_at_start_starts_disarmed() -> None:
    watch = start_watch(D(70), target_price=D(80))
    assert not watch.armed
    _, events = run(watch, [70, 75, 70, 69])
    assert events == [E.NONE, E.NONE, E.NONE, E.TARGET_REACHED]


def test_drop_price_is_exact_for_decimal_looking_percents() -> None:
    assert start_watch(D(200), drop_percent=12.5).drop_price == D("175.000")
    assert start_watch(D("19.99"), drop_percent=10.0).drop_price == D("17.991")
    assert start_watch(D(200), target_price=D(150)).drop_price is None


# --------------------------------------------------------------------------------------------
# Sequences
# --------------------------------------------------------------------------------------------


def test_target_sequence_drop_repeat_rise_new_low_sold() -> None:
    watch, events = run(
        start_watch(D(100), target_price=D(80)),
        [90, 80, 80, None, 85, 80, 79, 79, "sold", 10, "removed", "sold"],
    )
    assert events == [
        E.NONE,  # 90: a drop, but not to the target
        E.TARGET_REACHED,  # 80: at the target
        E.NONE,  # the same price again
        E.NONE,  # unknown price
        E.NONE,  # a rise
        E.NONE,  # back to the alerted low: nothing new
        E.TARGET_REACHED,  # a new low below it
        E.NONE,
        E.ENDED_SOLD,
        E.NONE,  # an ended watch never alerts
        E.NONE,  # nor ends twice
        E.NONE,
    ]
    assert watch == Watch(D(80), None, D(100), D(79), armed=False, ended="the listing was sold")
    assert not watch.active


def test_drop_percent_sequence() -> None:
    watch, events = run(start_watch(D(200), drop_percent=10.0), [181, "180.01", 180, 190, 175])
    assert events == [E.NONE, E.NONE, E.DROPPED_BY_PERCENT, E.NONE, E.DROPPED_BY_PERCENT]
    assert watch.lowest_seen == D(175)


def test_target_wins_when_both_conditions_are_met() -> None:
    watch = start_watch(D(100), target_price=D(70), drop_percent=20.0)
    _, events = run(watch, [85, 80, 75, 70, 60])
    dropped, target = E.DROPPED_BY_PERCENT, E.TARGET_REACHED
    assert events == [E.NONE, dropped, dropped, target, target]


def test_armed_until_the_first_alert() -> None:
    watch = start_watch(D(100), target_price=D(80))
    watch, _ = on_price(watch, D(90))
    assert watch.armed and watch.lowest_seen == D(90)
    watch, _ = on_price(watch, D(80))
    assert not watch.armed
    watch, event = on_price(watch, D(70))
    assert event is E.TARGET_REACHED and not watch.armed and watch.lowest_seen == D(70)


def test_a_price_rise_never_alerts() -> None:
    watch = start_watch(D(100), target_price=D(500))  # met at start: disarmed
    _, events = run(watch, [101, 200, 499, 500])
    assert set(events) == {E.NONE}


def test_unknown_price_changes_nothing() -> None:
    watch = start_watch(D(100), drop_percent=5.0)
    assert on_price(watch, None) == (watch, E.NONE)


def test_removed_ends_the_watch_and_statuses_are_folded() -> None:
    watch = start_watch(D(100), target_price=D(50))
    same, event = on_status(watch, "pending")
    assert (same, event) == (watch, E.NONE)
    ended, event = on_status(watch, "  Removed ")
    assert event is E.ENDED_REMOVED and ended.ended == "the listing was removed"
    assert on_price(ended, D(1)) == (ended, E.NONE)
    assert on_status(start_watch(D(1), target_price=D(1)), "SOLD")[1] is E.ENDED_SOLD


def test_sold_after_an_alert_is_still_reported() -> None:
    _, events = run(start_watch(D(100), drop_percent=50.0), [50, "sold", 40])
    assert events == [E.DROPPED_BY_PERCENT, E.ENDED_SOLD, E.NONE]


def test_a_negative_price_is_rejected() -> None:
    with pytest.raises(ValueError, match="new_price"):
        on_price(start_watch(D(100), target_price=D(50)), D(-1))


def test_condition_met_ignores_history() -> None:
    watch = start_watch(D(100), target_price=D(60), drop_percent=25.0)
    assert condition_met(watch, D(76)) is E.NONE
    assert condition_met(watch, D(75)) is E.DROPPED_BY_PERCENT
    assert condition_met(watch, D(60)) is E.TARGET_REACHED


# --------------------------------------------------------------------------------------------
# Property: the state machine equals a naive reading of the rule
# --------------------------------------------------------------------------------------------

prices = st.integers(min_value=0, max_value=300).map(Decimal)
steps = st.lists(st.one_of(prices, st.none(), st.sampled_from(["sold", "removed", "active"])))


@given(
    prices,
    st.one_of(st.none(), st.integers(min_value=1, max_value=300).map(Decimal)),
    st.one_of(st.none(), st.sampled_from([1.0, 10.0, 12.5, 33.3, 50.0, 99.0])),
    steps,
)
def test_alerts_exactly_at_new_lows_that_meet_the_condition(
    start: Decimal,
    target: Decimal | None,
    drop: float | None,
    feed: list[Decimal | str | None],
) -> None:
    if target is None and drop is None:
        target = Decimal(100)
    watch = start_watch(start, target, drop)

    def meets(p: Decimal) -> bool:
        by_target = target is not None and p <= target
        by_drop = drop is not None and p <= start * (100 - Decimal(str(drop))) / 100
        return by_target or by_drop

    lowest, ended, ever_met = start, False, meets(start)
    for step in feed:
        if isinstance(step, str):
            watch, event = on_status(watch, step)
            final = step in ("sold", "removed") and not ended
            assert (event is not E.NONE) == final
            ended = ended or final
            continue
        watch, event = on_price(watch, step)
        if ended or step is None:
            assert event is E.NONE
            continue
        expected = step < lowest and meets(step)
        assert (event is not E.NONE) == expected
        if expected:
            assert event is condition_met(watch, step)
        lowest = min(lowest, step)
        ever_met = ever_met or meets(step)
        assert watch.lowest_seen == lowest
        assert watch.armed == (not ever_met)
    assert watch.active == (not ended)
