"""Failover order (bot/domain/failover.py): parsing /prefs channel-order and choosing where a
failed alert goes next."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.failover import (
    DEFAULT_ORDER,
    ChannelOrderError,
    Reachability,
    effective_order,
    known_channels,
    next_channel,
    parse_order,
)
from bot.domain.rule import NAME_ONE, Channel

ALL = frozenset(DEFAULT_ORDER)


def test_every_channel_is_known_in_the_default_order() -> None:
    assert known_channels()[: len(DEFAULT_ORDER)] == DEFAULT_ORDER
    assert set(known_channels()) == {c.value for c in Channel}
    assert "webhook" in known_channels()
    assert len(NAME_ONE) <= 100 and "webhook" in NAME_ONE


@pytest.mark.parametrize(
    ("raw", "order"),
    [
        ("webhook,dm,email", ("webhook", "dm", "email")),
        (" Webhook , DM email ", ("webhook", "dm", "email")),
        ("sms>dm>channel", ("sms", "dm", "channel")),
        ("default", ()),
        ("", ()),
    ],
)
def test_parse_order(raw: str, order: tuple[str, ...]) -> None:
    assert parse_order(raw) == order


@pytest.mark.parametrize(
    ("raw", "words"), [("dm,pigeon", "'pigeon' is not one of"), ("dm,email,dm", "named twice")]
)
def test_bad_orders_name_the_option(raw: str, words: str) -> None:
    with pytest.raises(ChannelOrderError) as caught:
        parse_order(raw)
    assert caught.value.field == "order" and words in caught.value.message


def test_usable_needs_configuration_and_a_sender() -> None:
    nothing = Reachability(dms_open=False)
    assert nothing.usable(ALL) == frozenset()
    assert Reachability().usable(ALL) == {"dm"}, "DMs are usable until they are known closed"
    everything = Reachability(webhook=True, email=True, sms=True, alert_channel=True)
    assert everything.usable(ALL) == ALL
    assert everything.usable({"dm", "email"}) == {"dm", "email"}, "no sender, not usable"


def test_default_chain_dm_closed_then_webhook_then_email_then_channel() -> None:
    reach = Reachability(dms_open=True, webhook=True, email=True, alert_channel=True)
    usable = reach.usable(ALL)
    assert next_channel(None, {"dm"}, usable) == "webhook"
    assert next_channel(None, {"dm", "webhook"}, usable) == "email"
    assert next_channel(None, {"dm", "webhook", "email"}, usable) == "channel"
    assert next_channel(None, {"dm", "webhook", "email", "channel"}, usable) is None


def test_the_users_order_wins_and_leaving_a_channel_out_means_never() -> None:
    usable = Reachability(webhook=True, email=True, alert_channel=True).usable(ALL)
    order = ("webhook", "dm", "email")
    assert next_channel(order, {"webhook"}, usable) == "dm"
    assert next_channel(order, {"dm"}, usable) == "webhook", "the most preferred left"
    assert next_channel(order, {"webhook", "dm", "email"}, usable) is None, "no channel"


def test_unusable_channels_are_skipped() -> None:
    usable = Reachability(dms_open=False, alert_channel=True).usable(ALL)
    assert next_channel(None, {"email"}, usable) == "channel"
    assert next_channel(None, {"sms"}, Reachability().usable(ALL)) == "dm", "sms → next"
    assert effective_order(None, usable) == ("channel",)


@given(
    order=st.lists(st.sampled_from(DEFAULT_ORDER), unique=True),
    tried=st.sets(st.sampled_from(DEFAULT_ORDER)),
    usable=st.sets(st.sampled_from(DEFAULT_ORDER)),
)
def test_property_the_next_channel_is_usable_untried_and_in_the_order(
    order: list[str], tried: set[str], usable: set[str]
) -> None:
    chosen = next_channel(order, tried, usable)
    candidates = [c for c in (order or DEFAULT_ORDER) if c in usable and c not in tried]
    assert chosen == (candidates[0] if candidates else None)
    # Following the chain visits each usable channel of the order at most once, then stops.
    seen: list[str] = []
    current = set(tried)
    while (step := next_channel(order, current, usable)) is not None:
        assert step not in seen
        seen.append(step)
        current.add(step)
    assert seen == candidates
