"""/prefs, routed through discord.py's CommandTree: every setting, its confirmation, and bad input
that names the field and writes nothing. (The ``h`` fixture checks every reply was ephemeral.)"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.services.preferences import PreferencesView
from tests.cogs.harness import Harness, Reply
from tests.cogs.test_alerts import ALICE, BOB, assert_field_error

NAME = re.compile(r"^[-_a-z0-9]{1,32}$")
LA = "America/Los_Angeles"
UNSET_ZONE = "not set (UTC); set it with `/prefs timezone`"


async def prefs(h: Harness, user: int = ALICE) -> PreferencesView:
    return await h.services.preferences.show(user)


def assert_ok(reply: Reply, *expected: str) -> None:
    assert reply.ephemeral, reply
    assert reply.content is not None and reply.content.startswith(("✅", "⏸️", "▶️")), reply
    for text in expected:
        assert text in reply.content, (text, reply.content)


class Inbox:
    """Stands in for the code email: records (address, code) instead of sending."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    async def __call__(self, address: str, code: str) -> None:
        self.sent.append((address, code))

    @property
    def code(self) -> str:
        return self.sent[-1][1]


@pytest.fixture
def inbox(h: Harness) -> Inbox:
    fake = Inbox()
    h.bot.services.email_verification.send_code = fake
    return fake


def later(h: Harness, seconds: float) -> None:
    """Move the verification service's clock forward (past the one-code-a-minute limit)."""
    clock: Callable[[], datetime] = h.services.email_verification.clock
    h.services.email_verification.clock = lambda: clock() + timedelta(seconds=seconds)


async def verified(
    h: Harness, inbox: Inbox, user: int = ALICE, address: str = "you@example.com"
) -> Reply:
    await h.invoke(user, "prefs email set", address=address)
    reply = await h.invoke(user, "prefs email verify", code=inbox.code)
    assert_ok(reply, address)
    return reply


# ---- show -----------------------------------------------------------------------------------


async def test_show_the_defaults(h: Harness) -> None:
    reply = await h.invoke(ALICE, "prefs show")
    assert reply.ephemeral
    assert reply.field("Status") == "✅ active"
    assert reply.field("Channels") == "DM"
    assert reply.field("Frequency") == "Immediate"
    assert reply.field("Time zone") == UNSET_ZONE
    assert reply.field("Quiet hours") == "off"
    assert reply.field("Daily limit") == "10 immediate alerts a day; the rest wait for your digest"
    assert reply.field("Digest time").startswith("09:00 (UTC")
    assert reply.field("Weekly digest day") == "Monday"
    assert reply.field("Categories") == "all (no filter)"
    assert reply.field("Language") == "English (en)"
    assert reply.field("Email") == "none; add one with `/prefs email set`"


async def test_show_summarises_everything_that_was_set(h: Harness, inbox: Inbox) -> None:
    await verified(h, inbox)
    svc = h.services.preferences
    await svc.set_channels(ALICE, "email,dm")
    await svc.set_frequency(ALICE, "weekly")
    await svc.set_timezone(ALICE, LA)
    await svc.set_quiet_hours(ALICE, "22:00", "08:00")
    await svc.set_daily_limit(ALICE, 3)
    await svc.set_digest_time(ALICE, "07:30")
    await svc.set_digest_day(ALICE, "friday")
    await svc.set_categories(ALICE, "Furniture, Video Games")
    await svc.pause_all(ALICE)
    reply = await h.invoke(ALICE, "prefs show", guild=False)
    assert reply.ephemeral
    assert reply.field("Status").startswith("⏸️ paused")
    assert reply.field("Channels") == "DM, email"
    assert reply.field("Frequency") == "Weekly digest"
    assert reply.field("Time zone") == LA
    assert reply.field("Quiet hours") == f"22:00–08:00 ({LA})"
    assert reply.field("Daily limit") == "3 immediate alerts a day; the rest wait for your digest"
    assert reply.field("Digest time") == f"07:30 ({LA})"
    assert reply.field("Weekly digest day") == "Friday"
    assert reply.field("Categories") == "Furniture, Video Games"
    assert reply.field("Email") == "you@example.com (✅ verified)"
    await svc.stop(ALICE)
    stopped = await h.invoke(ALICE, "prefs show")
    assert stopped.field("Status").startswith("⛔ stopped")
    assert "/prefs resume-all" in stopped.field("Status")


# ---- channels -------------------------------------------------------------------------------


async def test_channels(h: Harness) -> None:
    reply = await h.invoke(ALICE, "prefs channels", value="channel, dm")
    assert_ok(reply, "Alerts go to: DM, server alert channel.")
    assert (await prefs(h)).channels == ("channel", "dm")


@pytest.mark.parametrize("value", ["sms", "dm,pigeon", ","])
async def test_channels_rejects_unknown_channels(h: Harness, value: str) -> None:
    reply = await h.invoke(ALICE, "prefs channels", value=value)
    assert_field_error(reply, "channels")
    assert (await prefs(h)).channels == ("dm",)


async def test_email_channel_needs_a_verified_address_first(h: Harness, inbox: Inbox) -> None:
    reply = await h.invoke(ALICE, "prefs channels", value="email")
    assert_field_error(reply, "channels")
    assert "/prefs email set" in (reply.content or "")
    assert (await prefs(h)).channels == ("dm",)
    await verified(h, inbox)
    assert_ok(await h.invoke(ALICE, "prefs channels", value="dm,email"), "DM, email")
    assert (await prefs(h)).channels == ("dm", "email")


async def test_channels_autocomplete(h: Harness) -> None:
    offered = await h.autocomplete(ALICE, "prefs channels", focused="value", value="em")
    assert offered and all("email" in v for v in offered)
    assert "dm,email" in offered
    everything = await h.autocomplete(ALICE, "prefs channels", focused="value", guild=False)
    assert {"dm", "channel", "email"} <= set(everything)


# ---- frequency ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("immediate", "Frequency: Immediate"),
        ("daily", "Frequency: Daily digest, at 09:00 (UTC"),
        ("weekly", "Frequency: Weekly digest, on Monday at 09:00 (UTC"),
    ],
)
async def test_frequency(h: Harness, value: str, shown: str) -> None:
    reply = await h.invoke(ALICE, "prefs frequency", frequency=value)
    assert_ok(reply, shown)
    assert (await prefs(h)).frequency == value


async def test_frequency_outside_the_choices_is_refused(h: Harness) -> None:
    await h.services.preferences.set_frequency(ALICE, "daily")
    reply = await h.invoke(ALICE, "prefs frequency", frequency="hourly")
    assert_field_error(reply, "frequency")
    assert (await prefs(h)).frequency == "daily"


# ---- timezone -------------------------------------------------------------------------------


async def test_timezone(h: Harness) -> None:
    reply = await h.invoke(ALICE, "prefs timezone", name=LA)
    assert_ok(reply, f"Time zone: {LA}")
    assert re.search(r"\(it is \d\d:\d\d there now\)", reply.content or ""), reply.content
    assert (await prefs(h)).timezone == LA


@pytest.mark.parametrize("name", ["Mars/Olympus", "PST8PDT/Nowhere", "localtime", "Factory", " "])
async def test_timezone_rejects_unknown_zones(h: Harness, name: str) -> None:
    await h.services.preferences.set_timezone(ALICE, "Europe/Paris")
    reply = await h.invoke(ALICE, "prefs timezone", name=name)
    assert_field_error(reply, "timezone")
    assert (await prefs(h)).timezone == "Europe/Paris"


async def test_timezone_autocomplete_offers_matching_iana_names(h: Harness) -> None:
    offered = await h.autocomplete(ALICE, "prefs timezone", focused="name", value="los ang")
    assert offered == [LA]
    many = await h.autocomplete(ALICE, "prefs timezone", focused="name", value="america")
    assert len(many) == 25
    for name in many:
        assert "america" in name.casefold()
        ZoneInfo(name)  # a real zone
    assert await h.autocomplete(ALICE, "prefs timezone", focused="name", value="Mars") == []
    # Names zoneinfo knows but /prefs timezone refuses are never offered.
    assert "Factory" not in await h.autocomplete(
        ALICE, "prefs timezone", focused="name", value="fac"
    )
    everything = await h.autocomplete(ALICE, "prefs timezone", focused="name", guild=False)
    assert len(everything) == 25 and "localtime" not in everything


# ---- quiet hours ----------------------------------------------------------------------------


async def test_quiet_hours_in_your_zone_crossing_midnight(h: Harness) -> None:
    await h.services.preferences.set_timezone(ALICE, LA)
    reply = await h.invoke(ALICE, "prefs quiet-hours", start="22:00", end="8:00")
    assert_ok(reply, f"Quiet hours: 22:00–08:00 ({LA})")
    assert (await prefs(h)).quiet_hours == ("22:00", "08:00")


async def test_quiet_hours_without_a_zone_say_utc_and_how_to_set_one(h: Harness) -> None:
    reply = await h.invoke(ALICE, "prefs quiet-hours", start="13:00", end="14:30")
    assert_ok(reply, "Quiet hours: 13:00–14:30 (UTC", "/prefs timezone")


async def test_quiet_hours_off_clears_them(h: Harness) -> None:
    await h.services.preferences.set_quiet_hours(ALICE, "22:00", "08:00")
    reply = await h.invoke(ALICE, "prefs quiet-hours", start="off")
    assert_ok(reply, "Quiet hours: off")
    assert (await prefs(h)).quiet_hours is None


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [
        pytest.param("25:00", "08:00", "start", id="start-25:00"),
        pytest.param("7pm", "08:00", "start", id="start-7pm"),
        pytest.param("22:00", "25:00", "end", id="end-25:00"),
        pytest.param("22:00", "7pm", "end", id="end-7pm"),
        pytest.param("22:00", None, "end", id="no-end"),
        pytest.param("22:00", "22:00", "end", id="empty-window"),
        pytest.param("12:60", "08:00", "start", id="minute-60"),
    ],
)
async def test_quiet_hours_reject_bad_times(
    h: Harness, start: str, end: str | None, field: str
) -> None:
    await h.services.preferences.set_quiet_hours(ALICE, "23:00", "06:00")
    reply = await h.invoke(ALICE, "prefs quiet-hours", start=start, end=end)
    assert_field_error(reply, field)
    assert (await prefs(h)).quiet_hours == ("23:00", "06:00")


# ---- daily limit ----------------------------------------------------------------------------


@pytest.mark.parametrize("limit", [1, 25, 500])
async def test_daily_limit(h: Harness, limit: int) -> None:
    reply = await h.invoke(ALICE, "prefs daily-limit", limit=limit)
    assert_ok(reply, f"Daily limit: {limit} immediate alert", "the rest wait for your digest")
    assert (await prefs(h)).daily_limit == limit


@pytest.mark.parametrize("limit", [-5, 0, 501])
async def test_daily_limit_out_of_range_is_refused(h: Harness, limit: int) -> None:
    reply = await h.invoke(ALICE, "prefs daily-limit", limit=limit)
    assert_field_error(reply, "limit")
    assert "between 1 and 500" in (reply.content or "")
    assert (await prefs(h)).daily_limit == 10


# ---- digest time and day --------------------------------------------------------------------


async def test_digest_time(h: Harness) -> None:
    await h.services.preferences.set_timezone(ALICE, LA)
    reply = await h.invoke(ALICE, "prefs digest-time", time="7:30")
    assert_ok(reply, f"Digest time: 07:30 ({LA})")
    assert (await prefs(h)).digest_time == "07:30"


@pytest.mark.parametrize("time", ["25:00", "7pm", "07.30", "noon"])
async def test_digest_time_rejects_bad_times(h: Harness, time: str) -> None:
    reply = await h.invoke(ALICE, "prefs digest-time", time=time)
    assert_field_error(reply, "time")
    assert "HH:MM" in (reply.content or "") or "00–23" in (reply.content or "")
    assert (await prefs(h)).digest_time == "09:00"


async def test_digest_day(h: Harness) -> None:
    reply = await h.invoke(ALICE, "prefs digest-day", day="friday")
    assert_ok(reply, "Weekly digest day: Friday (at 09:00, UTC")
    assert (await prefs(h)).digest_day == "Friday"


async def test_digest_day_outside_the_choices_is_refused(h: Harness) -> None:
    reply = await h.invoke(ALICE, "prefs digest-day", day="someday")
    assert_field_error(reply, "day")
    assert (await prefs(h)).digest_day == "Monday"


# ---- categories -----------------------------------------------------------------------------


async def test_categories_and_off(h: Harness) -> None:
    reply = await h.invoke(ALICE, "prefs categories", value='Furniture, "Home & Garden"')
    assert_ok(reply, "Categories: Furniture, Home & Garden.")
    assert (await prefs(h)).categories == ("Furniture", "Home & Garden")
    cleared = await h.invoke(ALICE, "prefs categories", value="off")
    assert_ok(cleared, "Categories: all (no filter)")
    assert (await prefs(h)).categories == ()


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(", ".join(f"Cat{i}" for i in range(11)), id="11-categories"),
        pytest.param("Furniture, ???", id="not-a-category"),
        pytest.param("x" * 101, id="too-long"),
    ],
)
async def test_categories_reject_bad_input(h: Harness, value: str) -> None:
    await h.services.preferences.set_categories(ALICE, "Records")
    reply = await h.invoke(ALICE, "prefs categories", value=value)
    assert_field_error(reply, "categories")
    assert (await prefs(h)).categories == ("Records",)


async def test_categories_autocomplete_completes_the_last_one(h: Harness) -> None:
    first = await h.autocomplete(ALICE, "prefs categories", focused="value", value="furn")
    assert first == ["Furniture"]
    second = await h.autocomplete(
        ALICE, "prefs categories", focused="value", value="Furniture, elec"
    )
    assert second == ["Furniture, Electronics"]
    again = await h.autocomplete(ALICE, "prefs categories", focused="value", value="Furniture, fur")
    assert again == []  # already chosen


# ---- language -------------------------------------------------------------------------------


async def test_language(h: Harness) -> None:
    reply = await h.invoke(ALICE, "prefs language", code="en")
    assert_ok(reply, "Language: English (en)")
    assert (await prefs(h)).language == "en"


async def test_a_language_without_a_catalog_is_refused(h: Harness) -> None:
    reply = await h.invoke(ALICE, "prefs language", code="xx")
    assert_field_error(reply, "code")
    assert (await prefs(h)).language == "en"


# ---- pause, resume, stop --------------------------------------------------------------------


async def test_pause_all_and_resume_all(h: Harness) -> None:
    paused = await h.invoke(ALICE, "prefs pause-all")
    assert_ok(paused, "All alerts paused", "/prefs resume-all")
    assert (await prefs(h)).paused
    resumed = await h.invoke(ALICE, "prefs resume-all", guild=False)
    assert_ok(resumed, "Alerts are on again")
    assert not (await prefs(h)).paused
    again = await h.invoke(ALICE, "prefs resume-all")
    assert_ok(again, "already on")


async def test_stop_then_cancel_keeps_alerts(h: Harness) -> None:
    dialog = await h.invoke(ALICE, "prefs stop")
    assert dialog.ephemeral
    assert "/prefs resume-all" in (dialog.content or "")
    assert [b["label"] for b in dialog.buttons] == ["Stop all alerts", "Cancel"]
    assert not (await prefs(h)).stopped  # nothing happens before the click
    answer = (await h.click(ALICE, dialog, "Cancel")).reply
    assert answer.kind == "update" and answer.buttons == []
    assert "nothing was changed" in (answer.content or "")
    assert not (await prefs(h)).stopped


async def test_stop_confirmed_sets_stopped_and_resume_all_clears_it(h: Harness) -> None:
    dialog = await h.invoke(ALICE, "prefs stop", guild=False)
    answer = (await h.click(ALICE, dialog, "Stop all alerts", guild=False)).reply
    assert answer.kind == "update" and answer.buttons == []
    assert "All alerts stopped" in (answer.content or "")
    assert "/prefs resume-all" in (answer.content or "")
    assert (await prefs(h)).stopped
    assert_ok(await h.invoke(ALICE, "prefs resume-all"), "Alerts are on again")
    view = await prefs(h)
    assert not view.stopped and not view.paused


async def test_only_the_invoker_can_confirm_stop(h: Harness) -> None:
    dialog = await h.invoke(ALICE, "prefs stop")
    refused = await h.click(BOB, dialog, "Stop all alerts")
    assert refused.reply.ephemeral
    assert "someone else" in (refused.reply.content or "")
    assert not (await prefs(h, ALICE)).stopped
    assert not (await prefs(h, BOB)).stopped
    await h.click(ALICE, dialog, "Stop all alerts")
    assert (await prefs(h, ALICE)).stopped


# ---- email ----------------------------------------------------------------------------------


async def test_email_set_and_verify(h: Harness, inbox: Inbox) -> None:
    reply = await h.invoke(ALICE, "prefs email set", address="  You@Example.com ")
    assert_ok_sent = reply.content or ""
    assert reply.ephemeral
    assert "We sent a 6-digit code to **You@example.com**" in assert_ok_sent
    assert "/prefs email verify" in assert_ok_sent
    [(address, code)] = inbox.sent
    assert address == "You@example.com" and re.fullmatch(r"\d{6}", code)
    assert (await prefs(h)).email is None  # not until it is verified
    done = await h.invoke(ALICE, "prefs email verify", code=code, guild=False)
    assert_ok(done, "Verified **You@example.com**", "/prefs channels")
    view = await prefs(h)
    assert view.email == "You@example.com" and view.email_verified
    shown = await h.invoke(ALICE, "prefs show")
    assert shown.field("Email") == "You@example.com (✅ verified)"


@pytest.mark.parametrize("address", ["not-an-email", "a@b", "two@@example.com", "@example.com"])
async def test_email_set_rejects_malformed_addresses(
    h: Harness, inbox: Inbox, address: str
) -> None:
    reply = await h.invoke(ALICE, "prefs email set", address=address)
    assert_field_error(reply, "address")
    assert "not a valid email address" in (reply.content or "")
    assert inbox.sent == []
    nothing = await h.invoke(ALICE, "prefs email verify", code="123456")
    assert "no code waiting" in (nothing.content or "")


async def test_a_second_code_within_a_minute_is_refused(h: Harness, inbox: Inbox) -> None:
    await h.invoke(ALICE, "prefs email set", address="you@example.com")
    reply = await h.invoke(ALICE, "prefs email set", address="other@example.com")
    assert reply.ephemeral and "less than a minute ago" in (reply.content or "")
    assert len(inbox.sent) == 1
    # The first code still works, for the first address.
    assert_ok(await h.invoke(ALICE, "prefs email verify", code=inbox.code), "you@example.com")


@pytest.mark.parametrize("code", ["12345", "1234567", "12ab56", "code"])
async def test_a_malformed_code_costs_no_attempt(h: Harness, inbox: Inbox, code: str) -> None:
    await h.invoke(ALICE, "prefs email set", address="you@example.com")
    reply = await h.invoke(ALICE, "prefs email verify", code=code)
    assert_field_error(reply, "code")
    assert "6 digits" in (reply.content or "")
    assert_ok(await h.invoke(ALICE, "prefs email verify", code=inbox.code), "Verified")


async def test_five_wrong_codes_then_request_a_new_one(h: Harness, inbox: Inbox) -> None:
    await h.invoke(ALICE, "prefs email set", address="you@example.com")
    right = inbox.code
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    answers = [
        (await h.invoke(ALICE, "prefs email verify", code=wrong)).content or "" for _ in range(6)
    ]
    for answer, left in zip(answers[:4], ["4 tries", "3 tries", "2 tries", "1 try"], strict=True):
        assert answer.startswith("❌ **code**: wrong code") and f"{left} left" in answer, answer
    assert "last try" in answers[4] and "request a new code" in answers[4]
    assert "entered wrong too often" in answers[5] and "request a new code" in answers[5]
    # Even the right code no longer works, and nothing was stored.
    locked = await h.invoke(ALICE, "prefs email verify", code=right)
    assert "request a new code" in (locked.content or "")
    assert (await prefs(h)).email is None
    # A new code (after the one-a-minute limit) works.
    later(h, 61)
    await h.invoke(ALICE, "prefs email set", address="you@example.com")
    assert len(inbox.sent) == 2
    assert_ok(await h.invoke(ALICE, "prefs email verify", code=inbox.code), "Verified")
    assert (await prefs(h)).email_verified


async def test_email_remove(h: Harness, inbox: Inbox) -> None:
    await verified(h, inbox)
    await h.services.preferences.set_channels(ALICE, "dm,email")
    reply = await h.invoke(ALICE, "prefs email remove")
    assert reply.ephemeral
    assert "Removed your email address" in (reply.content or "")
    assert "come by DM instead" in (reply.content or "")
    view = await prefs(h)
    assert view.email is None and not view.email_verified
    plain = await h.invoke(BOB, "prefs email remove", guild=False)
    assert plain.content == "🗑️ Removed your email address."


# ---- structure ------------------------------------------------------------------------------


# Names and descriptions of every /prefs command and option are checked, with the rest of the
# tree, in tests/cogs/test_structure.py.


async def test_the_prefs_schema_discord_receives(h: Harness) -> None:
    group = h.tree.get_command("prefs")
    assert group is not None
    payload = group.to_dict(h.tree)
    assert len(str(payload)) < 8000
    assert "contexts" not in payload or payload["contexts"] is None  # servers and DMs
    options = {o["name"]: o for o in payload["options"]}
    limit = options["daily-limit"]["options"][0]
    assert (limit["min_value"], limit["max_value"]) == (1, 500)
    assert "the rest wait for your digest" in limit["description"]
    quiet = {o["name"]: o for o in options["quiet-hours"]["options"]}
    assert quiet["start"]["required"] and not quiet["end"].get("required")
    assert "midnight" in options["quiet-hours"]["description"]
    assert "off" in quiet["start"]["description"]
    assert [c["value"] for c in options["frequency"]["options"][0]["choices"]] == [
        "immediate",
        "daily",
        "weekly",
    ]
    days = options["digest-day"]["options"][0]["choices"]
    assert [c["name"] for c in days][0::6] == ["Monday", "Sunday"] and len(days) == 7
    assert options["timezone"]["options"][0]["autocomplete"]
    assert options["channels"]["options"][0]["autocomplete"]
    assert options["categories"]["options"][0]["autocomplete"]
    assert options["language"]["options"][0]["choices"][0]["value"] == "en"
    email = {o["name"] for o in options["email"]["options"]}
    assert email == {"set", "verify", "remove"}


async def test_every_prefs_command_works_in_a_dm(h: Harness, inbox: Inbox) -> None:
    runs: list[tuple[str, dict[str, Any]]] = [
        ("prefs show", {}),
        ("prefs channels", {"value": "dm"}),
        ("prefs frequency", {"frequency": "daily"}),
        ("prefs timezone", {"name": "Europe/Berlin"}),
        ("prefs quiet-hours", {"start": "23:00", "end": "07:00"}),
        ("prefs daily-limit", {"limit": 5}),
        ("prefs digest-time", {"time": "18:00"}),
        ("prefs digest-day", {"day": "sunday"}),
        ("prefs categories", {"value": "Records"}),
        ("prefs language", {"code": "en"}),
        ("prefs pause-all", {}),
        ("prefs resume-all", {}),
        ("prefs email set", {"address": "dm@example.com"}),
    ]
    for path, options in runs:
        reply = await h.invoke(ALICE, path, guild=False, **options)
        assert reply.ephemeral and not (reply.content or "").startswith(("❌", "😵")), (path, reply)
    assert_ok(await h.invoke(ALICE, "prefs email verify", guild=False, code=inbox.code))
    assert (await h.invoke(ALICE, "prefs email remove", guild=False)).ephemeral
    dialog = await h.invoke(ALICE, "prefs stop", guild=False)
    assert dialog.buttons
    view = await prefs(h)
    assert view.timezone == "Europe/Berlin" and view.quiet_hours == ("23:00", "07:00")
    assert view.frequency == "daily" and view.daily_limit == 5 and view.digest_day == "Sunday"
