"""Feed ingest throughput: entries per second from a fetched feed into matched alerts in the outbox.

    python -m bench.feeds [--rules 1000] [--entries 1000] [--rounds 3] [--seed 1]

Setup (untimed): ``--rules`` alert rules (5 per user, keywords and price caps drawn from the
product words of :mod:`bench.synthetic`) are stored once in a SQLite template database; each
timed run starts from a fresh copy of it, so the index holds the same rules every time. The
feed documents are RSS, 500 entries each (the parser's cap), titles like "Oak desk $120" plus
filler text, every entry published an hour ago (so even a new feed's first fetch alerts).

Timed, per round, each on its own copy of the template:

* **baseline**: the same listings the feed entries become (``entry_listing`` of the parsed
  items) handed straight to ``ListingService.ingest``, one after the other: score, store, match,
  outbox, one transaction each. No HTTP, no parsing, no dedupe.
* **feed poll**: the real ``FeedService.run_due()`` against the local feed stand-in: claim,
  conditional GET over a socket, parse (in a worker thread), dedupe lookup, then the same ingest
  per new entry (feeds polled four at a time, as in production).
* **re-poll, 304**: the same feeds again with their stored ETag: nothing to parse.
* **re-poll, unchanged**: a server that ignores validators sends the documents again: parse and
  dedupe, nothing stored.

The feed poll must queue exactly the alerts the baseline queued. Medians over ``--rounds``;
ratios are against the baseline's entries/s in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import statistics
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape
from pathlib import Path

from sqlalchemy import func, select

from bench.synthetic import FILLER, REAL_WORDS
from bot.config import Settings
from bot.domain.listing import Listing
from bot.domain.rule import RuleInput
from bot.geo import geocode
from bot.ingest.feed_fetch import MAX_ITEMS, FeedFetcher, parse_feed
from bot.ingest.feeds import FeedService, entry_listing, external_id
from bot.services import Services, build_services
from db.models import OutboxRow
from tests.fakes import RecordingSender
from tests.standins.feeds import CONTENT_TYPES, FeedStandin

GUILD = 1
ADMIN = 1
RULES_PER_USER = 5
USER_AGENT = "DealScoutBench/1.0 (+https://example.invalid/bench)"
ADJECTIVES = ("Oak", "Used", "Vintage", "Black", "Mint", "Like new", "Boxed", "Refurb", "Big")


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Timing:
    entries: int
    alerts: int
    seconds: float

    @property
    def per_s(self) -> float:
        return self.entries / self.seconds if self.seconds else float("inf")


def make_rules(n: int, rng: random.Random) -> list[tuple[int, RuleInput]]:
    """``n`` rules, 5 per user: one or two product words, most with a price cap."""
    rules = []
    for j in range(n):
        words = rng.sample(REAL_WORDS, rng.choice((1, 1, 2)))
        cap = rng.choice((None, "150", "300", "600", "1000", "2500"))
        rules.append(
            (
                j // RULES_PER_USER + 100,
                RuleInput(name=f"rule {j}", keywords=", ".join(words), max_price=cap),
            )
        )
    return rules


def make_documents(entries: int, rng: random.Random, published: datetime) -> list[bytes]:
    """RSS documents of at most MAX_ITEMS entries, ``entries`` in all."""
    docs: list[bytes] = []
    for start in range(0, entries, MAX_ITEMS):
        items = []
        for k in range(start, min(entries, start + MAX_ITEMS)):
            title = f"{rng.choice(ADJECTIVES)} {rng.choice(REAL_WORDS)} ${rng.randint(20, 2000)}"
            body = " ".join(rng.choices(FILLER, k=rng.randint(10, 40)))
            items.append(
                f"<item><guid>bench-{k}</guid><title>{escape(title)}</title>"
                f"<link>https://example.org/item/{k}</link><description>{escape(body)}"
                f"</description><pubDate>{format_datetime(published)}</pubDate></item>"
            )
        docs.append(
            (
                '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
                f"<title>Bench feed {len(docs)}</title><link>https://example.org/</link>"
                + "".join(items)
                + "</channel></rss>"
            ).encode()
        )
    return docs


async def open_services(db: Path) -> Services:
    url = f"sqlite+aiosqlite:///{db}"
    settings = Settings(database_url=url, discord_token=None, _env_file=None)  # type: ignore[call-arg]
    return await build_services(settings, lambda _s: ({"dm": RecordingSender("dm")}, None))


async def make_template(db: Path, rules: Sequence[tuple[int, RuleInput]]) -> None:
    s = await open_services(db)
    try:
        for user, rule in rules:
            await s.rules.create(user, GUILD, rule)
    finally:
        await s.close()  # checkpoints the WAL into the file


def copy_of(template: Path, name: str) -> Path:
    target = template.with_name(name)
    shutil.copyfile(template, target)
    return target


async def alert_count(s: Services) -> int:
    async with s.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(OutboxRow)) or 0)


def listings_of(
    docs: Sequence[bytes], feed_ids: Sequence[int], now: datetime
) -> list[tuple[Listing, str]]:
    """What the poller would ingest for each document (same order: oldest entry first)."""
    out: list[tuple[Listing, str]] = []
    for doc, feed_id in zip(docs, feed_ids, strict=True):
        _, items = parse_feed(doc, CONTENT_TYPES[".rss"])
        for item in reversed(items):
            listing = entry_listing(item, guild_id=GUILD, category=None, geocode=geocode, now=now)
            assert listing is not None
            out.append((listing, external_id(feed_id, item.key)))
    return out


async def baseline(db: Path, docs: Sequence[bytes]) -> Timing:
    s = await open_services(db)
    try:
        pairs = listings_of(docs, range(1, len(docs) + 1), datetime.now(UTC))
        t0 = time.perf_counter()
        for listing, ext in pairs:
            await s.listings.ingest(listing, external_id=ext)
        seconds = time.perf_counter() - t0
        return Timing(len(pairs), await alert_count(s), seconds)
    finally:
        await s.close()


async def feed_runs(db: Path, docs: Sequence[bytes]) -> tuple[Timing, Timing, Timing]:
    """(first poll, 304 re-poll, unchanged re-poll without validators)."""
    s = await open_services(db)
    try:
        async with FeedStandin() as server:
            clock = Clock()
            fetcher = FeedFetcher(s.http, USER_AGENT, allow_private=True)  # a local server
            feeds = FeedService(s.sessions, s.listings, fetcher, geocode, clock=clock)
            for n, doc in enumerate(docs):
                await feeds.add(GUILD, ADMIN, server.serve(f"/feed/{n}", doc))
            entries = sum(len(parse_feed(d, CONTENT_TYPES[".rss"])[1]) for d in docs)

            async def poll() -> tuple[float, int]:
                t0 = time.perf_counter()
                results = await feeds.run_due()
                seconds = time.perf_counter() - t0
                assert len(results) == len(docs), results
                assert all(r.status != "error" for r in results), results
                return seconds, sum(r.new for r in results)

            seconds, new = await poll()
            assert new == entries, (new, entries)
            first = Timing(entries, await alert_count(s), seconds)
            clock.now += timedelta(days=1)
            seconds, new = await poll()
            not_modified = Timing(entries, 0, seconds)
            for route in server.routes.values():
                route.validators = False
            clock.now += timedelta(days=1)
            seconds, new = await poll()
            assert new == 0
            unchanged = Timing(entries, 0, seconds)
            return first, not_modified, unchanged
    finally:
        await s.close()


def table(rows: list[tuple[str, Timing]], base: float) -> str:
    lines = [
        "| run | entries | alerts queued | seconds | entries/s | × baseline |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, timing in rows:
        alerts = f"{timing.alerts:,}" if timing.alerts else "—"
        lines.append(
            f"| {name} | {timing.entries:,} | {alerts} | {timing.seconds:.2f} | "
            f"{timing.per_s:,.0f} | {timing.per_s / base:.2f} |"
        )
    return "\n".join(lines)


def median(timings: list[Timing]) -> Timing:
    seconds = statistics.median(t.seconds for t in timings)
    return Timing(timings[0].entries, timings[0].alerts, seconds)


async def run(args: argparse.Namespace) -> None:
    rng = random.Random(args.seed)
    rules = make_rules(args.rules, rng)
    docs = make_documents(args.entries, rng, datetime.now(UTC) - timedelta(hours=1))
    with tempfile.TemporaryDirectory() as tmp:
        template = Path(tmp) / "template.db"
        t0 = time.perf_counter()
        await make_template(template, rules)
        print(
            f"{args.rules:,} rules ({len(rules) // RULES_PER_USER} users) stored in "
            f"{time.perf_counter() - t0:.1f} s; {args.entries:,} entries in {len(docs)} feed(s); "
            f"{args.rounds} round(s), SQLite"
        )
        bases: list[Timing] = []
        polls: list[tuple[Timing, Timing, Timing]] = []
        for n in range(args.rounds):
            bases.append(await baseline(copy_of(template, f"base{n}.db"), docs))
            polls.append(await feed_runs(copy_of(template, f"feed{n}.db"), docs))
            if polls[-1][0].alerts != bases[-1].alerts:
                raise SystemExit(
                    f"the feed queued {polls[-1][0].alerts} alerts, direct ingest "
                    f"{bases[-1].alerts}: they must be equal"
                )
    base = median(bases)
    rows = [
        ("baseline: ListingService.ingest directly", base),
        ("feed poll: fetch, parse, dedupe, ingest", median([p[0] for p in polls])),
        ("re-poll answered 304 Not Modified", median([p[1] for p in polls])),
        ("re-poll, same document (parse + dedupe)", median([p[2] for p in polls])),
    ]
    print(
        f"alerts per entry: {base.alerts / base.entries:.2f} "
        f"(same count through the feed: checked every round)"
    )
    print(table(rows, base.per_s))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rules", type=int, default=1000)
    parser.add_argument("--entries", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
