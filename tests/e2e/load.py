"""A seeded many-users workload, shared by the throughput test and ``bench/e2e.py``.

200 buyers save 5 rules each (1,000 rules) over a 200-word vocabulary; 200 listings arrive in a
burst. The expected alerts are computed with the domain's reference ``matches`` (the naive
check), so the test compares what Discord received with what should have been sent.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from bot.domain.listing import Listing
from bot.domain.matching import matches
from bot.domain.rule import Rule
from tests.standins.discord import DiscordStandin, Guild, User, default_guild, make_user

ITEMS = ("vinyl", "chair", "desk", "lamp", "bike", "lens", "amp", "synth", "drone", "kettle")
MODELS = ("", "pro", "max", "mini", "plus", "lite", "air", "one", "neo", "x", "zen", "go", "duo",
          "cube", "flex", "arc", "nova", "edge", "core", "prime")  # fmt: skip
WORDS = [item + model for item in ITEMS for model in MODELS]


@dataclass(frozen=True)
class Workload:
    rules: list[tuple[User, dict[str, Any]]]
    listings: list[dict[str, Any]]

    def expected(self) -> Counter[tuple[int, str]]:
        """(user id, listing title) -> 1 for every alert that must arrive (one per user)."""
        domain_rules = [
            (user.id, Rule(id=i + 1, user_id=user.id, name=o["name"], keywords=(o["keywords"],),
                           max_price=Decimal(o["max_price"])))
            for i, (user, o) in enumerate(self.rules)
        ]  # fmt: skip
        wanted: Counter[tuple[int, str]] = Counter()
        for n, data in enumerate(self.listings):
            listing = Listing(id=n + 1, title=data["title"], price=Decimal(data["price"]))
            owners = {uid for uid, rule in domain_rules if matches(rule, listing)}
            wanted.update((uid, data["title"]) for uid in owners)
        return wanted


def crowd_guild(buyers: int = 200) -> Guild:
    return default_guild(plain=[make_user(f"buyer{i}") for i in range(buyers)])


def workload(
    guild: Guild, *, rules_per_user: int = 5, listings: int = 200, seed: int = 7
) -> Workload:
    rnd = random.Random(seed)
    rules = [
        (user, {"name": f"Rule {i}", "keywords": rnd.choice(WORDS),
                "max_price": str(rnd.choice((50, 100, 200, 400)))})
        for user in guild.plain
        for i in range(rules_per_user)
    ]  # fmt: skip
    items = [
        {"title": f"{rnd.choice(WORDS)} listing {n}", "price": str(rnd.randint(10, 300))}
        for n in range(listings)
    ]
    return Workload(rules, items)


async def in_batches(calls: list[Any], size: int = 25) -> list[Any]:
    """Run coroutines ``size`` at a time (users act concurrently, but not all at once)."""
    results: list[Any] = []
    for start in range(0, len(calls), size):
        results += await asyncio.gather(*calls[start : start + size])
    return results


async def create_rules(discord: DiscordStandin, load: Workload) -> None:
    async def create(user: User, options: dict[str, Any]) -> None:
        reply = await (await discord.invoke(user, "alert create", options)).response(30)
        assert "❌" not in reply.text, reply.text

    await in_batches([create(u, o) for u, o in load.rules])


async def post_listings(discord: DiscordStandin, seller: User, load: Workload) -> None:
    async def sell(options: dict[str, Any]) -> None:
        reply = await (await discord.invoke(seller, "sell", options)).response(30)
        assert "❌" not in reply.text, reply.text

    await in_batches([sell(o) for o in load.listings], size=50)


def received(discord: DiscordStandin, users: list[User]) -> Counter[tuple[int, str]]:
    got: Counter[tuple[int, str]] = Counter()
    for user in users:
        got.update((user.id, m.embeds[0]["title"]) for m in discord.dms(user) if m.embeds)
    return got
