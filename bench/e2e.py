"""Listing-to-DM latency through the real bot process and the local Discord stand-in.

    python -m bench.e2e [--buyers 200] [--rules-per-user 5] [--listings 200]

Baseline (same run): one rule, an idle bot, 20 listings spaced 0.25 s apart (under the DM
channel's 5 messages/s bucket, so it measures latency, not the rate limit). Then the
scenario-5 load: 1,000 rules from 200 users, and two bursts of 200 listings: cold (every
buyer's DM channel is opened first) and warm (the steady state). Latency runs from just
before the /sell interaction is dispatched to the moment the stand-in stores the DM. The
stand-in enforces Discord's rate limits (5 messages/s per channel, 50 requests/s per bot), so
under a burst the p99 is set by those limits, as it would be on Discord.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tests.e2e.conftest import World, started_world
from tests.e2e.load import create_rules, crowd_guild, in_batches, received, workload
from tests.standins.discord import User


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def stored_at(iso: str) -> float:
    return dt.datetime.fromisoformat(iso).timestamp()


async def sell_burst(
    world: World, seller: User, listings: list[dict[str, str]]
) -> dict[str, float]:
    """Post every listing concurrently (50 at a time); returns title -> dispatch time."""
    sent_at: dict[str, float] = {}

    async def sell(options: dict[str, str]) -> None:
        sent_at[options["title"]] = time.time()
        await (await world.discord.invoke(seller, "sell", options)).response(60)

    await in_batches([sell(o) for o in listings], size=50)
    return sent_at


def latencies(world: World, users: list[User], sent_at: dict[str, float]) -> list[float]:
    out = []
    for user in users:
        for message in world.discord.dms(user):
            if message.embeds and message.embeds[0]["title"] in sent_at:
                out.append(stored_at(message.created_at) - sent_at[message.embeds[0]["title"]])
    return out


async def baseline(tmp: Path) -> list[float]:
    guild = crowd_guild(2)
    buyer = guild.plain[0]
    samples: list[float] = []
    async with started_world(tmp / "baseline", guild) as world:
        await (
            await world.discord.invoke(buyer, "alert create", {"name": "b", "keywords": "probe"})
        ).response(10)
        for n in range(20):
            title = f"probe {n}"
            sent = await sell_burst(world, guild.owner, [{"title": title, "price": "5"}])
            await world.discord.wait_dm(buyer, count=n + 1, timeout=10)
            await asyncio.sleep(0.25)  # stay under the DM channel's 5 messages/s bucket
            samples += [v for v in latencies(world, [buyer], sent)]
    return samples


@dataclass
class Burst:
    name: str
    latencies: list[float]
    alerts: int
    seconds: float


async def loaded(tmp: Path, buyers: int, rules_per_user: int, listings: int) -> list[Burst]:
    """Two bursts of the same shape: cold (every buyer's first DM opens a DM channel, which
    Discord rate-limits per bot) and warm (DM channels known: the steady state)."""
    guild = crowd_guild(buyers)
    load = workload(guild, rules_per_user=rules_per_user, listings=listings)
    per_burst = sum(load.expected().values())
    bursts = []
    async with started_world(tmp / "loaded", guild) as world:
        await create_rules(world.discord, load)
        discord = world.discord
        for n, name in enumerate(("cold", "warm")):
            items = [{**o, "title": f"{o['title']} {name}"} for o in load.listings]
            start = time.time()
            sent = await sell_burst(world, guild.owner, items)
            total = per_burst * (n + 1)
            await discord.state.wait_for(
                lambda total=total: sum(received(discord, guild.plain).values()) >= total,
                300,
                "all DMs",
            )
            elapsed = time.time() - start
            bursts.append(Burst(name, latencies(world, guild.plain, sent), per_burst, elapsed))
    return bursts


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--buyers", type=int, default=200)
    parser.add_argument("--rules-per-user", type=int, default=5)
    parser.add_argument("--listings", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "baseline").mkdir()
        (Path(tmp) / "loaded").mkdir()
        idle = await baseline(Path(tmp))
        bursts = await loaded(Path(tmp), args.buyers, args.rules_per_user, args.listings)
    idle_p50 = statistics.median(idle)
    rules = args.buyers * args.rules_per_user
    print("| run | alerts | p50 ms | p99 ms | p50 / idle p50 | DMs/s |")
    print("|---|---|---|---|---|---|")
    print(
        f"| idle: 1 rule, 20 listings one by one | {len(idle)} | {idle_p50 * 1000:.0f} | "
        f"{percentile(idle, 0.99) * 1000:.0f} | 1 | — |"
    )
    for b in bursts:
        p50 = statistics.median(b.latencies)
        print(
            f"| {b.name} burst: {rules} rules, {args.listings} listings | {b.alerts} | "
            f"{p50 * 1000:.0f} | {percentile(b.latencies, 0.99) * 1000:.0f} | "
            f"{p50 / idle_p50:.0f} | {b.alerts / b.seconds:.0f} |"
        )


if __name__ == "__main__":
    asyncio.run(main())
