"""``python -m bot demo``: the product walkthrough, offline, on a throwaway SQLite file.

Two buyers save alerts, a seller lists a gaming chair, the listing is matched through the real
index, queued in the real outbox and delivered by the real dispatcher, to console senders that
print the embed each buyer would receive, followed by the explanation of every check.
"""

from __future__ import annotations

import secrets
import tempfile
from pathlib import Path

from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.delivery.senders.base import Sender
from bot.delivery.senders.console import ConsoleSender
from bot.domain.matching import explain
from bot.domain.rule import RuleInput
from bot.ingest.community import MarketplacePublisher, SellInput
from bot.services import build_services

BUYER_A, BUYER_B, SELLER = 1001, 1002, 2001
GUILD = 9001


async def run_demo(keep: str | None = None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(keep) if keep else Path(tmp) / "demo.db"
        await _walkthrough(f"sqlite+aiosqlite:///{path}")


async def _walkthrough(database_url: str) -> None:
    senders = {"dm": ConsoleSender("DM"), "channel": ConsoleSender("alert channel")}

    def make_senders(
        _sessions: async_sessionmaker[AsyncSession],
    ) -> tuple[dict[str, Sender], MarketplacePublisher | None]:
        return dict(senders), None

    settings = Settings(  # throwaway: its own key, nothing outlives the run
        database_url=database_url,
        discord_token=None,
        secret_key=SecretStr(secrets.token_urlsafe(32)),
        _env_file=None,  # type: ignore[call-arg]
    )
    services = await build_services(settings, make_senders)
    try:
        print("Deal Scout demo: the whole pipeline, offline.\n")
        gaming = await services.rules.create(
            BUYER_A,
            GUILD,
            RuleInput(
                name="Gaming Furniture Under $350",
                keywords="gaming, chair",
                min_price="100",
                max_price="350",
                category="Furniture",
            ),
        )
        furniture = await services.rules.create(
            BUYER_B,
            GUILD,
            RuleInput(
                name="Any Furniture Under $500",
                exclude="damaged, broken",
                max_price="500",
                category="Furniture",
                condition="good",
            ),
        )
        for rule in (gaming, furniture):
            print(f"Buyer {rule.user_id} saved the alert “{rule.name}”.")
        result = await services.listings.sell(
            SellInput(
                title="Vintage Leather Gaming Chair",
                price="299.99",
                condition="excellent",
                category="Furniture - Gaming",
                location="San Jose, CA",
                description="Comfortable, barely used, pick-up only.",
            ),
            seller_id=SELLER,
            seller_name="seller",
            guild_id=GUILD,
        )
        listing = result.listing
        print(
            f"\nSeller {SELLER} listed “{listing.title}” (#{listing.id}) for ${listing.price}: "
            f"{result.matched_rules} alerts matched, {result.alerts_queued} queued."
        )
        while await services.dispatcher.run_once():
            pass
        print("\nWhy each alert matched:")
        for rule in (gaming, furniture):
            print(f"\n  “{rule.name}”")
            for check in explain(rule, listing):
                print(f"    {'✅' if check.passed else '❌'} {check.name}: {check.detail}")
        sent = sum(len(s.sent) for s in senders.values())
        print(f"\n{sent} alerts delivered.")
    finally:
        await services.close()
