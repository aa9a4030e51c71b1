"""How many distinct Discogs releases the wanted-list watcher keeps fresh per hour.

    python -m bench.discogs [--releases 500] [--entries 1000] [--hours 2] [--mix 20/50/30]

Discogs allows 60 requests a minute per token; the bot keeps 15 of them for commands, so the
watcher polls at 45 a minute (2,700 an hour). A release is polled every 10 min while someone's
maximum is near its lowest price, every 45 min when it is listed well above every maximum and
every 90 min when nothing is for sale (``bot.domain.discogs_schedule``), ±10 % jitter.

1. The schedule, analytically: ``releases_per_hour`` for a few closeness mixes at 45/min, as a
   ratio to the worst case (every release near).
2. Stats requests per sweep: the real watcher polls each release once however many entries
   name it (1,000 entries over 100 releases → 100 stats requests, not 1,000).
3. Measured: the real ``DiscogsWatcher`` + ``DiscogsClient`` + ``PriorityRateLimiter`` against the
   local Discogs stand-in (which counts the requests and answers 429 past 60 a minute), SQLite in
   a temporary directory, for ``--hours`` simulated hours on a fake clock: the limiter's sleeps
   move the clock, and ``run_due()`` is driven here as ``run_forever()`` would (idle 5 s when
   nothing is due). Polls per release per hour come from the gaps between one release's polls;
   a release is on schedule when no gap (nor the wait since its last poll) exceeds its jittered
   interval by more than 30 s. While every release is on schedule, "kept fresh" is the budget
   divided by the measured rate, compared with the analytic number for the same mix in the same
   run; behind schedule that extrapolation would overstate it, so it is not printed. Near the
   analytic limit (e.g. --releases 1300 for 20/50/30) the watcher falls behind: at full
   utilisation any bunching of due times becomes lag. No wall-clock timing is measured.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import random
import statistics
import tempfile
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.domain.discogs_schedule import JITTER, Closeness, next_delay, releases_per_hour
from bot.ingest.discogs_client import DiscogsClient
from bot.ingest.discogs_watch import DiscogsWatcher, WatchSettings
from bot.ingest.ratelimit import Priority, PriorityRateLimiter
from db.migrate import upgrade
from db.models import DiscogsTargetRow, WantedRow
from db.session import make_engine, make_sessionmaker
from tests.standins.discogs import TOKEN, USER_AGENT, DiscogsStandin

PER_MINUTE = 60  # Discogs, with a token
RESERVE = 15  # the bot's default DISCOGS_INTERACTIVE_RESERVE
POLL_BUDGET = PER_MINUTE - RESERVE
FIRST_ID = 5_000_000
MAX_PRICE_CENTS = 4000  # every entry: at most 40.00 USD
MARKET = {  # lowest USD, number for sale; none of them matches (no alerts, only polling)
    Closeness.NEAR: (45.0, 3),  # within 25 % above the 40.00 maximum
    Closeness.FAR: (120.0, 7),
    Closeness.EMPTY: (None, 0),
}
STATS = "/marketplace/stats/"
SLACK_SECONDS = 30.0  # a poll this much past its jittered interval is late (idle 5 s + pacing)


class SimClock:
    """One fake time for the limiter, the client, the watcher and the stand-in's 60-s window.

    ``sleep`` (only the limiter's pump sleeps: one sleeper at a time) moves time on at once, but
    first lets every granted request reach the stand-in, so Discogs sees each request at the
    moment the limiter granted it, as it would within milliseconds in real time."""

    def __init__(self) -> None:
        self.now = 0.0
        self.epoch = datetime.now(UTC).replace(microsecond=0)
        self.in_flight = 0
        self._landed = asyncio.Event()
        self._landed.set()

    def request_started(self) -> None:
        self.in_flight += 1
        self._landed.clear()

    def request_done(self) -> None:
        self.in_flight -= 1
        if not self.in_flight:
            self._landed.set()

    def __call__(self) -> float:
        return self.now

    def utc(self) -> datetime:
        return self.epoch + timedelta(seconds=self.now)

    async def sleep(self, seconds: float) -> None:
        await self._landed.wait()
        self.now += max(0.0, seconds)
        await asyncio.sleep(0)

    def advance(self, seconds: float) -> None:
        self.now += seconds


class CountingLimiter(PriorityRateLimiter):
    """The real limiter, noting each grant and which granted requests are still in flight."""

    def __init__(self, clock: SimClock) -> None:
        super().__init__(PER_MINUTE, RESERVE, clock=clock, sleep=clock.sleep)
        self.sim = clock
        self.grants: list[float] = []

    @asynccontextmanager
    async def slot(self, priority: Priority | int) -> AsyncIterator[None]:
        async with super().slot(priority):
            self.sim.request_started()
            try:
                yield
            finally:
                self.sim.request_done()

    def _grant(self) -> None:
        super()._grant()
        self.grants.append(self._stamps[-1])


@dataclass
class TimedStandin(DiscogsStandin):
    """The stand-in, noting (fake time on arrival, path, status) of every API request."""

    timeline: list[tuple[float, str, int]] = field(default_factory=list)

    async def _answer(self, request: web.Request, handler: Any) -> web.StreamResponse:
        arrived = self.clock()
        response = await super()._answer(request, handler)
        self.timeline.append((arrived, request.path, response.status))
        return response


@dataclass
class Rig:
    clock: SimClock
    discogs: TimedStandin
    watcher: DiscogsWatcher
    limiter: CountingLimiter
    kinds: dict[int, Closeness]


def assign_mix(releases: int, mix: dict[Closeness, float], seed: int) -> dict[int, Closeness]:
    """Release id → closeness, in the given shares (rounded), shuffled."""
    kinds: list[Closeness] = []
    for kind, share in mix.items():
        kinds += [kind] * round(share * releases)
    kinds = (kinds + [Closeness.FAR] * releases)[:releases]
    random.Random(seed).shuffle(kinds)
    return {FIRST_ID + n: kind for n, kind in enumerate(kinds)}


async def fill(
    sessions: async_sessionmaker[AsyncSession], releases: Sequence[int], entries: int, due: datetime
) -> None:
    """``entries`` wanted entries spread evenly over ``releases`` (entry j wants release
    j mod R, for user j div R + 1), each release a poll target due at ``due``."""
    async with sessions.begin() as session:
        session.add_all(
            DiscogsTargetRow(
                kind="release", target_id=r, currency="USD", next_check_at=due, recent_lowest=[]
            )
            for r in releases
        )
        session.add_all(
            WantedRow(
                user_id=j // len(releases) + 1,
                guild_id=None,
                target_kind="release",
                target_id=releases[j % len(releases)],
                title=f"Record {releases[j % len(releases)]}",
                artists="Bench Artist",
                max_price_cents=MAX_PRICE_CENTS,
                currency="USD",
                ships_from=[],
                source="bench",
            )
            for j in range(entries)
        )


@asynccontextmanager
async def rig(
    tmp: Path, kinds: dict[int, Closeness], entries: int, seed: int
) -> AsyncIterator[Rig]:
    """A fresh database, stand-in, limiter, client and watcher on one fake clock."""
    clock = SimClock()
    engine = make_engine(f"sqlite+aiosqlite:///{tmp / 'bench.db'}")
    discogs = TimedStandin(limit=PER_MINUTE, clock=clock)
    await discogs.start()
    try:
        await upgrade(engine)
        sessions = make_sessionmaker(engine)
        for release_id, kind in kinds.items():
            lowest, count = MARKET[kind]
            discogs.add_release(
                release_id, f"Record {release_id}", lowest_usd=lowest, num_for_sale=count
            )
        await fill(sessions, list(kinds), entries, clock.utc())
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            discogs_token=SecretStr(TOKEN),
            discogs_api_base=discogs.base_url,
            discogs_user_agent=USER_AGENT,
        )
        limiter = CountingLimiter(clock)
        async with aiohttp.ClientSession() as http:
            client = DiscogsClient(http, settings, limiter, clock=clock, sleep=clock.sleep)
            watcher = DiscogsWatcher(
                sessions, client, clock=clock.utc, rnd=random.Random(seed).random
            )
            yield Rig(clock, discogs, watcher, limiter, kinds)
    finally:
        await discogs.close()
        await engine.dispose()


# ---------------------------------------------------------------------------------- part 1


def mix_label(mix: dict[Closeness, float]) -> str:
    return " / ".join(f"{mix.get(k, 0) * 100:.0f}" for k in Closeness)


def polls_per_hour(kind: Closeness) -> float:
    return 3600 / next_delay(kind).total_seconds()


def analytic_table(mixes: list[tuple[str, dict[Closeness, float]]]) -> str:
    baseline = releases_per_hour(POLL_BUDGET, {Closeness.NEAR: 1.0})
    rows = [
        "| mix | near / far / empty % | polls per release per hour | releases kept fresh "
        "per hour | × all near |",
        "|---|---|---:|---:|---:|",
    ]
    for name, mix in mixes:
        per_release = sum(share * polls_per_hour(k) for k, share in mix.items())
        fresh = releases_per_hour(POLL_BUDGET, mix)
        rows.append(
            f"| {name} | {mix_label(mix)} | {per_release:.2f} | {fresh:,.0f} "
            f"| {fresh / baseline:.2f}× |"
        )
    return "\n".join(rows)


# ---------------------------------------------------------------------------------- part 2


@dataclass
class Sweep:
    releases: int
    entries: int
    stats: int
    other: int
    limited: int


async def sweep(tmp: Path, releases: int, entries: int, seed: int) -> Sweep:
    """Poll every release once (all listed far above the maximum, so none falls due again
    within the sweep) and count what Discogs was asked."""
    kinds = {FIRST_ID + n: Closeness.FAR for n in range(releases)}
    async with rig(tmp, kinds, entries, seed) as r:
        while await r.watcher.run_due():
            pass
        timeline = r.discogs.timeline
    stats = sum(1 for _, p, s in timeline if p.startswith(STATS) and s == 200)
    limited = sum(1 for _, _, s in timeline if s == 429)
    return Sweep(releases, entries, stats, len(timeline) - stats - limited, limited)


def sweep_table(sweeps: list[Sweep]) -> str:
    rows = [
        "| releases | entries | stats requests | other requests | 429s | stats requests "
        "/ entries | stats requests / releases |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in sweeps:
        rows.append(
            f"| {s.releases:,} | {s.entries:,} | {s.stats:,} | {s.other:,} | {s.limited} "
            f"| {s.stats / s.entries:.2f} | {s.stats / s.releases:.2f} |"
        )
    return "\n".join(rows)


# ---------------------------------------------------------------------------------- part 3


@dataclass
class Measured:
    releases: int
    entries: int
    hours: float
    mix: dict[Closeness, float]
    stats: int
    limited: int
    other: int
    max_any_minute: int
    on_schedule: int
    unslotted: int
    mean_per_minute_last_hour: float
    per_release_hour: float
    per_release_hour_by_kind: dict[Closeness, float]
    worst_gap_ratio: dict[Closeness, float]
    polls_last_hour: int
    sweep_minutes: float


def max_in_window(times: list[float], window: float = 60.0) -> int:
    """Most requests in any moving ``window`` seconds (the way Discogs counts)."""
    best, start = 0, 0
    for end, t in enumerate(times):
        while t - times[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


async def measure(
    tmp: Path, releases: int, entries: int, hours: float, mix: dict[Closeness, float], seed: int
) -> Measured:
    kinds = assign_mix(releases, mix, seed)
    until = hours * 3600
    async with rig(tmp, kinds, entries, seed) as r:
        idle = WatchSettings().idle_seconds
        while r.clock.now < until:
            if not await r.watcher.run_due():
                r.clock.advance(idle)  # what run_forever() waits when nothing is due
        timeline = r.discogs.timeline
        grants = r.limiter.grants
    polls: dict[int, list[float]] = defaultdict(list)
    for t, path, status in timeline:
        if path.startswith(STATS) and status == 200:
            polls[int(path.rsplit("/", 1)[1])].append(t)
    rates: dict[Closeness, list[float]] = defaultdict(list)
    worst: dict[Closeness, float] = defaultdict(float)
    on_schedule = 0
    for release_id, kind in kinds.items():
        ts = polls.get(release_id, [])
        interval = next_delay(kind).total_seconds()  # rnd 0.5: the nominal interval
        # Every gap, and the wait since the last poll, within the jittered interval + slack.
        gaps = [b - a for a, b in itertools.pairwise([*ts, until])]
        on_schedule += bool(ts) and max(gaps) <= interval * (1 + JITTER) + SLACK_SECONDS
        if len(ts) >= 2:
            polled = gaps[:-1]
            rates[kind].append(3600 / statistics.fmean(polled))
            worst[kind] = max(worst[kind], max(polled) / interval)
    missing = [k.value for k, share in mix.items() if share and not rates[k]]
    if missing:
        raise SystemExit(f"no {', '.join(missing)} release was polled twice: simulate more --hours")
    by_kind = {k: statistics.fmean(v) for k, v in rates.items()}
    api = [t for t, _, s in timeline if s != 429]
    limited = len(timeline) - len(api)
    stats = sum(len(ts) for ts in polls.values())
    return Measured(
        releases=releases,
        entries=entries,
        hours=hours,
        mix=mix,
        stats=stats,
        limited=limited,
        other=len(api) - stats,
        max_any_minute=max_in_window(api),
        on_schedule=on_schedule,
        unslotted=len(timeline) - len(grants),
        mean_per_minute_last_hour=sum(1 for t in api if t >= until - 3600) / 60,
        per_release_hour=sum(share * by_kind.get(k, 0.0) for k, share in mix.items()),
        per_release_hour_by_kind=by_kind,
        worst_gap_ratio=dict(worst),
        polls_last_hour=sum(1 for ts in polls.values() for t in ts if t >= until - 3600),
        sweep_minutes=max(ts[0] for ts in polls.values()) / 60 if polls else 0.0,
    )


def measured_tables(m: Measured) -> str:
    analytic = releases_per_hour(POLL_BUDGET, m.mix)
    schedule = sum(share * polls_per_hour(k) for k, share in m.mix.items())
    traffic = [
        "| releases | entries | stats requests (whole run) | other requests | 429s | requests "
        "without a limiter slot | requests/min: mean last hour | most in any 60 s | watcher's "
        "limit (Discogs') | polls last hour |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| {m.releases:,} | {m.entries:,} | {m.stats:,} | {m.other:,} | {m.limited} "
        f"| {m.unslotted} | {m.mean_per_minute_last_hour:.1f} | {m.max_any_minute} "
        f"| {POLL_BUDGET} ({PER_MINUTE}) | {m.polls_last_hour:,} |",
    ]
    if m.on_schedule == m.releases and m.per_release_hour:
        fresh = POLL_BUDGET * 60 / m.per_release_hour
        kept, ratio = f"{fresh:,.0f} / {analytic:,.0f}", f"{fresh / analytic:.2f}"
    else:  # behind schedule: the budget ÷ rate extrapolation would overstate it
        kept, ratio = f"behind schedule / {analytic:,.0f}", "—"
    fresh_rows = [
        "",
        "| releases on schedule | polls per release per hour (measured / schedule) | releases "
        f"kept fresh per hour: {POLL_BUDGET * 60:,} ÷ measured rate / analytic "
        "| measured / analytic |",
        "|---:|---|---|---:|",
        f"| {m.on_schedule:,} of {m.releases:,} | {m.per_release_hour:.2f} / {schedule:.2f} "
        f"| {kept} | {ratio} |",
        "",
        f"| closeness | releases | polls per release per hour (measured / schedule) "
        f"| longest gap / interval ({1 + JITTER:.2f} = jitter; more = waited for the limit) |",
        "|---|---:|---|---:|",
    ]
    for kind, share in m.mix.items():
        if not share:
            continue
        fresh_rows.append(
            f"| {kind.value} | {round(share * m.releases):,} "
            f"| {m.per_release_hour_by_kind.get(kind, 0.0):.2f} / {polls_per_hour(kind):.2f} "
            f"| {m.worst_gap_ratio.get(kind, 0.0):.2f} |"
        )
    return "\n".join(traffic + fresh_rows)


# ---------------------------------------------------------------------------------- main


def parse_mix(text: str) -> dict[Closeness, float]:
    parts = [float(p) for p in text.split("/")]
    if len(parts) != 3 or any(p < 0 for p in parts) or not sum(parts):
        raise argparse.ArgumentTypeError("give near/far/empty percentages, e.g. 20/50/30")
    total = sum(parts)
    return {k: p / total for k, p in zip(Closeness, parts, strict=True)}


async def run(args: argparse.Namespace) -> None:
    mixes = [
        ("every release near a maximum (worst case)", {Closeness.NEAR: 1.0}),
        ("measured below", args.mix),
        ("half near, half far", {Closeness.NEAR: 0.5, Closeness.FAR: 0.5}),
        ("every release listed far above", {Closeness.FAR: 1.0}),
        ("nothing for sale anywhere", {Closeness.EMPTY: 1.0}),
    ]
    print(
        f"Discogs budget {PER_MINUTE} requests/min, {RESERVE} kept for commands → the watcher "
        f"polls at {POLL_BUDGET}/min ({POLL_BUDGET * 60:,}/h). Intervals: "
        + ", ".join(f"{k.value} {next_delay(k).total_seconds() / 60:.0f} min" for k in Closeness)
        + f" (±{JITTER:.0%})."
    )
    print()
    print("1. The schedule, analytically (releases_per_hour at 45/min)")
    print(analytic_table(mixes))
    print()
    with tempfile.TemporaryDirectory() as tmp:
        sweeps = []
        for n, (releases, entries) in enumerate(
            [(100, 100), (100, 1000), (args.releases, args.entries)]
        ):
            where = Path(tmp) / f"sweep{n}"
            where.mkdir()
            sweeps.append(await sweep(where, releases, entries, args.seed))
        print("2. One sweep of the real watcher: stats requests vs entries (baseline: 1 per entry)")
        print(sweep_table(sweeps))
        print()
        where = Path(tmp) / "hours"
        where.mkdir()
        m = await measure(where, args.releases, args.entries, args.hours, args.mix, args.seed)
    print(
        f"3. Measured: {args.hours:g} simulated hour(s), mix {mix_label(args.mix)} "
        f"(near / far / empty %), first round of every release done after "
        f"{m.sweep_minutes:.1f} min"
    )
    print(measured_tables(m))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--releases", type=int, default=500)
    parser.add_argument("--entries", type=int, default=1000)
    parser.add_argument(
        "--hours", type=float, default=2.0, help="simulated hours (at least 2: empty is 90 min)"
    )
    parser.add_argument("--mix", type=parse_mix, default=parse_mix("20/50/30"))
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
