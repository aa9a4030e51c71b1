"""Time-driven flows through the real process: quiet hours and digests. The test moves the bot's
wall clock (libfaketime) instead of sleeping, and Discord (the stand-in) keeps real time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.e2e.conftest import started_world
from tests.e2e.process import FAKETIME_LIB, WallClock
from tests.e2e.test_flows import ok

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not FAKETIME_LIB.exists(), reason="needs libfaketime (apt: faketime)"),
]


def hhmm(at: datetime) -> str:
    return at.strftime("%H:%M")


async def test_alert_in_quiet_hours_arrives_when_the_window_ends(tmp_path: Path) -> None:
    clock = WallClock(tmp_path / "clock")
    now = datetime.now(UTC)
    async with started_world(tmp_path, clock=clock) as world:
        buyer, seller = world.guild.plain[:2]
        await ok(world, buyer, "prefs timezone", name="UTC")
        start, end = now - timedelta(hours=1), now + timedelta(hours=2)
        await ok(world, buyer, "prefs quiet-hours", start=hhmm(start), end=hhmm(end))
        await ok(world, buyer, "alert create", name="Lamps", keywords="lamp")
        await ok(world, seller, "sell", title="Floor lamp", price="20")

        with pytest.raises(TimeoutError):
            await world.discord.wait_dm(buyer, timeout=3)  # held, not dropped
        clock.advance(timedelta(hours=2, minutes=2).total_seconds())
        (dm,) = await world.discord.wait_dm(buyer, timeout=15)
        assert dm.embeds[0]["title"] == "Floor lamp"
        world.discord.assert_clean()


async def test_daily_digest_user_gets_one_digest_dm_at_digest_time(tmp_path: Path) -> None:
    clock = WallClock(tmp_path / "clock")
    now = datetime.now(UTC)
    async with started_world(tmp_path, clock=clock) as world:
        buyer, seller = world.guild.plain[:2]
        await ok(world, buyer, "prefs timezone", name="UTC")
        await ok(world, buyer, "prefs frequency", frequency="daily")
        await ok(world, buyer, "prefs digest-time", time=hhmm(now + timedelta(hours=1)))
        await ok(world, buyer, "alert create", name="Lamps", keywords="lamp")
        for title, price in (("Desk lamp", "15"), ("Floor lamp", "40"), ("Lava lamp", "9")):
            await ok(world, seller, "sell", title=title, price=price)

        with pytest.raises(TimeoutError):
            await world.discord.wait_dm(buyer, timeout=3)  # no immediate alerts
        clock.advance(timedelta(hours=1, minutes=1).total_seconds())
        (digest,) = await world.discord.wait_dm(buyer, timeout=15)
        embed = digest.embeds[0]
        assert embed["title"] == "Your daily digest — 3 deals"
        text = digest.text
        assert text.index("Lava lamp") < text.index("Desk lamp") < text.index("Floor lamp")
        with pytest.raises(TimeoutError):
            await world.discord.wait_dm(buyer, count=2, timeout=3)  # exactly one digest
        world.discord.assert_clean()
