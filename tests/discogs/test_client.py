"""The Discogs client against the local stand-in (real aiohttp), and the priority rate limiter
on a fake clock."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from pydantic import SecretStr

from bot.config import Settings
from bot.ingest.discogs_client import (
    DiscogsAuthError,
    DiscogsClient,
    DiscogsNotFound,
    DiscogsUnavailable,
    Money,
    WantItem,
)
from bot.ingest.ratelimit import Priority, PriorityRateLimiter
from tests.standins.discogs import OWNER, TOKEN, USER_AGENT, DiscogsStandin


class JumpClock:
    """A fake clock whose sleep returns at once, moving time forward (for one sleeper at a time)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += max(0.0, seconds)
        await asyncio.sleep(0)


class ManualClock:
    """A fake clock whose sleepers wake only when the test moves time on."""

    def __init__(self) -> None:
        self.now = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + max(0.0, seconds), next(self._seq), future))
        await future

    @staticmethod
    async def settle() -> None:
        for _ in range(50):
            await asyncio.sleep(0)

    async def step(self) -> bool:
        """Wake the earliest live sleeper (moving time to it); False when nobody sleeps."""
        await self.settle()
        while self._sleepers:
            target, _, future = heapq.heappop(self._sleepers)
            if future.done():
                continue
            self.now = max(self.now, target)
            future.set_result(None)
            await self.settle()
            return True
        return False


# ------------------------------------------------------------------------------ fixtures


@pytest.fixture
async def standin() -> AsyncIterator[DiscogsStandin]:
    async with DiscogsStandin() as server:
        yield server


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


def make_client(
    standin: DiscogsStandin,
    session: aiohttp.ClientSession,
    clock: JumpClock | None = None,
    *,
    token: str | None = TOKEN,
    **kwargs: Any,
) -> tuple[DiscogsClient, PriorityRateLimiter, JumpClock]:
    clock = clock or JumpClock()
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        discogs_token=SecretStr(token) if token else None,
        discogs_api_base=standin.base_url,
        discogs_user_agent=USER_AGENT,
    )
    limiter = PriorityRateLimiter(60, 15, clock=clock, sleep=clock.sleep)
    client = DiscogsClient(
        session, settings, limiter, clock=clock, sleep=clock.sleep, rng=lambda: 0.5, **kwargs
    )
    return client, limiter, clock


# ------------------------------------------------------------------------------ endpoints


async def test_release_parsed_with_headers_and_currency(standin, session) -> None:
    client, limiter, _ = make_client(standin, session)
    release = await client.release(249504, "EUR")
    assert release.title == "Never Gonna Give You Up"
    assert release.artists == ("Rick Astley",)
    assert release.year == 1987
    assert release.formats == ('Vinyl, 7", 45 RPM, Single',)
    assert release.lowest_price == Money(Decimal("0.57"), "EUR")
    assert release.num_for_sale == 58
    assert release.master_id == 96559
    assert release.thumb and release.thumb.endswith("-150.jpg")
    assert release.cover and release.cover.endswith("249504.jpg")
    assert release.uri and release.uri.startswith("https://www.discogs.com/release/249504")
    sent = standin.requests[-1]
    assert sent.headers["Authorization"] == f"Discogs token={TOKEN}"
    assert sent.headers["User-Agent"] == USER_AGENT
    assert sent.query == {"curr_abbr": "EUR"}
    # The server's count reached the limiter.
    assert limiter.used_in_window() >= 1


async def test_unicode_artists_and_no_price(standin, session) -> None:
    client, _, _ = make_client(standin, session)
    post = await client.release(5555)
    assert post.artists == ("Björk", "坂本龍一", "Sigur Rós")
    extended = await client.release(249505)
    assert extended.lowest_price is None and extended.num_for_sale == 0


async def test_hostile_release_parsed_defensively(standin, session) -> None:
    client, _, _ = make_client(standin, session)
    release = await client.release(666)
    assert release.id == 666
    assert len(release.title) == 300
    assert release.year is None and release.artists == () and release.formats == ()
    assert release.lowest_price is None and release.num_for_sale is None
    assert release.uri is None and release.thumb is None


async def test_release_cache_hit_makes_one_request(standin, session) -> None:
    client, _, clock = make_client(standin, session, release_ttl_seconds=100)
    first = await client.release(249504)
    second = await client.release(249504)
    assert first is second
    assert standin.paths().count("/releases/249504") == 1
    await client.release(249504, "GBP")  # another currency is another entry
    clock.now += 101
    await client.release(249504)
    assert standin.paths().count("/releases/249504") == 3


async def test_master_and_versions(standin, session) -> None:
    client, _, _ = make_client(standin, session)
    master = await client.master(96559)
    assert master.main_release == 249504 and master.year == 1987
    assert master.lowest_price == Money(Decimal("0.63"), "USD") and master.num_for_sale == 61
    page1 = await client.master_versions(96559, page=1, per_page=2)
    assert [v.id for v in page1.items] == [249504, 249505]
    assert page1.pagination.pages == 2 and page1.pagination.has_next
    assert page1.items[0].catno == "PB 41447" and page1.items[0].country == "UK"
    page2 = await client.master_versions(96559, page=2, per_page=2)
    assert [v.id for v in page2.items] == [777001] and not page2.pagination.has_next


async def test_stats_with_and_without_lowest_price(standin, session) -> None:
    client, _, _ = make_client(standin, session)
    listed = await client.stats(249504)
    assert listed.lowest_price == Money(Decimal("0.63"), "USD")
    assert listed.num_for_sale == 58 and listed.blocked_from_sale is False
    empty = await client.stats(249505)
    assert empty.lowest_price is None and empty.num_for_sale == 0
    blocked = await client.stats(5555)
    assert blocked.lowest_price is None and blocked.num_for_sale is None
    assert blocked.blocked_from_sale is True


async def test_price_suggestions(standin, session) -> None:
    client, _, _ = make_client(standin, session)
    suggestions = await client.price_suggestions(249504)
    assert suggestions["Very Good Plus (VG+)"] == Money(Decimal("8.25"), "USD")
    assert len(suggestions) == 8 and "Haunted (H)" not in suggestions
    assert await client.price_suggestions(5555) == {}


async def test_listing(standin, session) -> None:
    client, _, _ = make_client(standin, session)
    listing = await client.listing(172723812)
    assert listing.condition == "Very Good Plus (VG+)"
    assert listing.sleeve_condition == "Very Good (VG)"
    assert listing.ships_from == "Germany" and listing.status == "For Sale"
    assert listing.price == Money(Decimal("12.5"), "EUR")
    assert listing.original_price == Money(Decimal("12.5"), "EUR")
    assert listing.shipping_price == Money(Decimal("5.0"), "EUR")
    assert listing.seller.username == "vinylvault"
    assert listing.seller.rating == Decimal("99.8") and listing.seller.total == 1523
    assert listing.uri == "https://www.discogs.com/sell/item/172723812"
    assert listing.release_id == 249504
    odd = await client.listing(172723999)
    assert odd.sleeve_condition == "Generic" and odd.price is None
    assert odd.seller.username == "tokyo_records" and odd.seller.rating is None


async def test_wantlist_three_pages_with_notes(standin, session) -> None:
    client, _, _ = make_client(standin, session)
    page, items = 1, list[WantItem]()
    while True:
        result = await client.wantlist(OWNER, page)
        items.extend(result.items)
        assert result.pagination.pages == 3 and result.pagination.items == 230
        if not result.pagination.has_next:
            break
        page += 1
    assert page == 3 and len(items) == 230
    assert len({w.release_id for w in items}) == 230
    assert items[0].notes == "VG+ or better, max €10" and items[1].notes is None
    assert items[1].artists == ("Sigur Rós",) and items[0].master_id == 96559
    assert all(r.query["per_page"] == "100" for r in standin.requests)
    with pytest.raises(ValueError):
        await client.wantlist("../admin")


# ------------------------------------------------------------------------------ errors


async def test_unknown_ids_are_not_found(standin, session) -> None:
    client, _, _ = make_client(standin, session)
    for call in (
        client.release(1234567),
        client.master(1),
        client.stats(1234567),
        client.listing(1),
        client.wantlist("nobody_here"),
    ):
        with pytest.raises(DiscogsNotFound):
            await call
    assert len(standin.requests) == 5  # 404s are not retried


async def test_missing_token_is_an_auth_error(standin, session) -> None:
    client, _, _ = make_client(standin, session, token=None)
    with pytest.raises(DiscogsAuthError):
        await client.stats(249504)
    assert standin.requests[-1].status == 401


async def test_429_with_retry_after_penalises_everyone(standin, session) -> None:
    client, limiter, clock = make_client(standin, session)
    standin.inject_429(1, retry_after=7)
    penalties: list[float] = []
    real = limiter.penalise

    def spy(seconds: float) -> None:
        penalties.append(seconds)
        real(seconds)

    limiter.penalise = spy  # type: ignore[method-assign,assignment]
    start = clock.now
    stats = await client.stats(249504)
    assert stats.num_for_sale == 58
    assert [r.status for r in standin.requests] == [429, 200]
    assert clock.now - start >= 7  # the retry waited in the limiter
    assert clock.sleeps == [pytest.approx(7)]
    assert penalties == [7.0]  # the shared limiter held every priority, not just this call
    assert limiter.estimate_wait(Priority.INTERACTIVE) == 0


async def test_429_without_retry_after_backs_off_exponentially(standin, session) -> None:
    client, _, clock = make_client(standin, session, backoff_base=1.0)
    standin.inject_429(3)
    await client.stats(249504)
    assert [r.status for r in standin.requests] == [429, 429, 429, 200]
    # rng 0.5 → ¾ of 1, 2, 4 seconds.
    assert clock.sleeps == [pytest.approx(0.75), pytest.approx(1.5), pytest.approx(3.0)]


async def test_500_twice_then_success(standin, session) -> None:
    client, _, clock = make_client(standin, session)
    standin.inject_500(2)
    listing = await client.listing(172723812)
    assert listing.id == 172723812
    assert [r.status for r in standin.requests] == [500, 500, 200]
    assert len(clock.sleeps) == 2 and clock.sleeps[1] > clock.sleeps[0]


async def test_500_forever_is_unavailable_not_empty(standin, session) -> None:
    client, _, _ = make_client(standin, session, max_retries=3)
    standin.inject_500(100)
    with pytest.raises(DiscogsUnavailable):
        await client.stats(249504)
    assert len(standin.requests) == 4


async def test_429_forever_is_unavailable(standin, session) -> None:
    client, _, _ = make_client(standin, session, max_retries=2)
    standin.inject_429(100, retry_after=1)
    with pytest.raises(DiscogsUnavailable):
        await client.wantlist(OWNER)
    assert len(standin.requests) == 3


async def test_standin_window_headers_tighten_the_limiter(standin, session) -> None:
    """Another process already used the IP's budget: the server's headers stop this one."""
    client, limiter, _ = make_client(standin, session)
    standin.limit = 5
    standin._window.extend([standin.clock()] * 4)
    await client.stats(249504)
    assert standin.requests[-1].status == 200
    assert limiter.estimate_wait(Priority.INTERACTIVE) > 50
    assert limiter.estimate_wait(Priority.POLL) > 50


async def test_every_request_passes_the_limiter_with_its_priority(standin, session) -> None:
    client, limiter, _ = make_client(standin, session)
    seen: list[int] = []
    real = limiter.acquire

    async def spy(priority: int) -> None:
        seen.append(int(priority))
        await real(priority)

    limiter.acquire = spy  # type: ignore[method-assign]
    await client.stats(249504, priority=Priority.INTERACTIVE)
    await client.listing(172723812)
    await client.wantlist(OWNER)
    await client.release(249504)
    assert seen == [Priority.INTERACTIVE, Priority.LISTING, Priority.IMPORT, Priority.POLL]


# ------------------------------------------------------------------------------ limiter


def max_in_any_window(times: list[float], window: float = 60.0) -> int:
    times = sorted(times)
    best = 0
    j = 0
    for i, t in enumerate(times):
        while times[j] <= t - window:
            j += 1
        best = max(best, i - j + 1)
    return best


async def test_200_polls_never_exceed_the_window_and_interactive_jumps_the_queue() -> None:
    clock = ManualClock()
    limiter = PriorityRateLimiter(60, 15, clock=clock, sleep=clock.sleep)
    grants: list[tuple[float, str]] = []

    async def request(priority: Priority, name: str) -> None:
        async with limiter.slot(priority):
            grants.append((clock.now, name))

    polls = [asyncio.create_task(request(Priority.POLL, f"poll{i}")) for i in range(200)]
    await clock.settle()
    assert len(grants) == 45  # the reserve is left for interactive commands
    assert limiter.waiting == 155
    poll_wait = limiter.estimate_wait(Priority.POLL)
    assert poll_wait == pytest.approx(60 * 4)  # 155 ahead at 45 a minute
    assert limiter.estimate_wait(Priority.INTERACTIVE) == 0

    interactive = [asyncio.create_task(request(Priority.INTERACTIVE, f"cmd{i}")) for i in range(20)]
    await clock.settle()
    assert [name for _, name in grants[45:]] == [f"cmd{i}" for i in range(15)]
    assert all(t == 0 for t, _ in grants)
    assert limiter.estimate_wait(Priority.INTERACTIVE) == pytest.approx(60)

    while await clock.step():
        pass
    await asyncio.gather(*polls, *interactive)
    assert len(grants) == 220
    times = [t for t, _ in grants]
    assert max_in_any_window(times) <= 60
    assert max_in_any_window([t for t, n in grants if n.startswith("poll")]) <= 60
    # The 5 waiting commands went first when the window moved on, before any waiting poll.
    at_60 = [name for t, name in grants if t == 60]
    assert at_60[:5] == [f"cmd{i}" for i in range(15, 20)]
    # Polls were FIFO.
    assert [n for _, n in grants if n.startswith("poll")] == [f"poll{i}" for i in range(200)]
    assert clock.now <= 4 * 60


async def test_priorities_order_waiters_then_fifo() -> None:
    clock = ManualClock()
    limiter = PriorityRateLimiter(2, 0, clock=clock, sleep=clock.sleep)
    order: list[str] = []

    async def request(priority: Priority, name: str) -> None:
        async with limiter.slot(priority):
            order.append(name)

    first = [asyncio.create_task(request(Priority.POLL, n)) for n in ("a", "b")]
    await clock.settle()
    tasks = [
        asyncio.create_task(request(p, n))
        for p, n in [
            (Priority.IMPORT, "import1"),
            (Priority.POLL, "poll1"),
            (Priority.LISTING, "listing1"),
            (Priority.INTERACTIVE, "cmd"),
            (Priority.POLL, "poll2"),
        ]
    ]
    while await clock.step():
        pass
    await asyncio.gather(*first, *tasks)
    assert order == ["a", "b", "cmd", "listing1", "poll1", "poll2", "import1"]


async def test_cancelled_waiter_gives_up_its_place() -> None:
    clock = ManualClock()
    limiter = PriorityRateLimiter(1, 0, clock=clock, sleep=clock.sleep)
    await limiter.acquire(Priority.POLL)
    waiter = asyncio.create_task(limiter.acquire(Priority.POLL))
    await clock.settle()
    waiter.cancel()
    await clock.settle()
    assert limiter.waiting == 0
    assert limiter.estimate_wait(Priority.POLL) == pytest.approx(60)


async def test_update_from_headers_only_tightens() -> None:
    clock = ManualClock()
    limiter = PriorityRateLimiter(60, 15, clock=clock, sleep=clock.sleep)
    assert limiter.estimate_wait(Priority.POLL) == 0
    limiter.update_from_headers(remaining=10, used=50, limit=60)
    assert limiter.estimate_wait(Priority.INTERACTIVE) == 0  # 10 left, reserve included
    assert limiter.estimate_wait(Priority.POLL) == pytest.approx(60)
    limiter.update_from_headers(remaining=60, used=0, limit=60)  # never loosens
    assert limiter.estimate_wait(Priority.POLL) == pytest.approx(60)
    clock.now = 30
    limiter.update_from_headers(remaining=0, used=60, limit=60)
    assert limiter.estimate_wait(Priority.INTERACTIVE) == pytest.approx(30)
    clock.now = 59
    assert limiter.estimate_wait(Priority.INTERACTIVE) == pytest.approx(1)
    clock.now = 60  # the first 50 left the window; the 10 the server added stay until 90
    assert limiter.estimate_wait(Priority.INTERACTIVE) == 0
    assert limiter.used_in_window() == 10
    clock.now = 90
    assert limiter.used_in_window() == 0


async def test_penalise_blocks_everyone_and_estimate_wait() -> None:
    clock = ManualClock()
    limiter = PriorityRateLimiter(60, 15, clock=clock, sleep=clock.sleep)
    limiter.penalise(12.5)
    assert limiter.estimate_wait(Priority.INTERACTIVE) == pytest.approx(12.5)
    assert limiter.estimate_wait(Priority.IMPORT) == pytest.approx(12.5)
    done: list[float] = []

    async def request() -> None:
        async with limiter.slot(Priority.INTERACTIVE):
            done.append(clock.now)

    task = asyncio.create_task(request())
    await clock.settle()
    assert done == []
    while await clock.step():
        pass
    await task
    assert done == [12.5]
