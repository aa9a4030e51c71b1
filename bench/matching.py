"""Benchmark RuleIndex.match against the naive loop over every rule (``matches``).

    python -m bench.matching [--sizes 10000,100000,1000000] [--listings 2000] [--seed 1]

For each size: build time, per-listing p50/p99 and throughput of ``RuleIndex.match``, resident
memory, matches per listing, the naive loop's time per listing on a small sample, the ratio
naive/index (means) and the number of listings on which index and naive disagree (must be 0).
Rules and listings come from the seeded generator in :mod:`bench.synthetic`.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass, replace

import numpy as np

from bench.synthetic import World, make_listings, make_rules
from bot.domain.listing import Listing
from bot.domain.matching import RuleIndex, matches
from bot.domain.rule import Rule


def rss_mb() -> float:
    """Resident set size of this process in MB (psutil if present, else /proc)."""
    try:
        import psutil

        return float(psutil.Process().memory_info().rss) / 2**20
    except ImportError:  # pragma: no cover - psutil is a dev dependency
        with open(f"/proc/{os.getpid()}/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def index_mb(index: RuleIndex) -> float:
    """What the index itself holds, in MB: numpy columns, posting lists, dicts and their keys.

    A diagnostic that reads the index's private attributes (RSS deltas also count garbage
    the allocator keeps after the build).
    """
    seen: set[int] = set()

    def size(obj: object) -> int:
        if id(obj) in seen:
            return 0
        seen.add(id(obj))
        if isinstance(obj, np.ndarray):
            return int(obj.nbytes) + sys.getsizeof(np.empty(0))
        total = sys.getsizeof(obj)
        if isinstance(obj, dict):
            total += sum(size(k) + size(v) for k, v in obj.items())
        elif isinstance(obj, list | tuple | set | frozenset):
            total += sum(size(v) for v in obj)
        elif hasattr(obj, "__slots__"):
            total += sum(size(getattr(obj, name)) for name in obj.__slots__)
        return total

    return sum(size(v) for v in vars(index).values()) / 2**20


@dataclass
class Result:
    rules: int
    build_s: float
    p50_ms: float
    p99_ms: float
    p50_once_ms: float
    p99_once_ms: float
    mean_ms: float
    per_s: float
    rss_mb: float
    rss_delta_mb: float
    index_mb: float
    matches_mean: float
    matches_median: float
    naive_ms: float
    naive_n: int
    mismatches: int
    update_us: float


def naive(rules: list[Rule], listing: Listing) -> list[int]:
    return sorted(r.id for r in rules if matches(r, listing))


def time_index(
    index: RuleIndex, listings: list[Listing], passes: int
) -> tuple[np.ndarray, list[int]]:
    """Per-listing times in ms, shape (passes, listings), and match counts.

    Each pass walks all listings in order, so a listing is never timed twice in a row (no
    artificially warm cache); the best of the passes filters out other processes' noise.
    """
    for listing in listings[:50]:  # warm the interpreter's caches
        index.match(listing)
    times = np.zeros((passes, len(listings)))
    counts: list[int] = []
    gc.disable()
    try:
        for p in range(passes):
            for j, listing in enumerate(listings):
                t0 = time.perf_counter_ns()
                found = index.match(listing)
                times[p, j] = (time.perf_counter_ns() - t0) / 1e6
                if p == 0:
                    counts.append(len(found))
    finally:
        gc.enable()
    return times, counts


def time_updates(index: RuleIndex, rules: list[Rule], world: World, n: int = 2000) -> float:
    """Mean µs per change: pause/resume, keyword edits, delete + re-add (all in place)."""
    rng = np.random.default_rng(7)
    picks = rng.integers(0, len(rules), size=n).tolist()
    fresh = make_rules(world, n, start_id=10**9)
    t0 = time.perf_counter()
    for i, pick in enumerate(picks):
        rule = rules[pick]
        op = i % 4
        if op == 0:
            index.update(replace(rule, active=not rule.active))
            index.update(rule)
        elif op == 1:
            index.update(replace(rule, keywords=fresh[i].keywords or rule.keywords))
            index.update(rule)
        elif op == 2:
            index.remove(rule.id)
            index.add(rule)
        else:
            index.update(replace(rule, max_price=fresh[i].max_price))
            index.update(rule)
    return (time.perf_counter() - t0) / (2 * n) * 1e6


def run_size(world: World, n: int, listings: list[Listing], passes: int) -> Result:
    rules = make_rules(world, n)
    gc.collect()
    before = rss_mb()
    t0 = time.perf_counter()
    index = RuleIndex.build(rules)
    build_s = time.perf_counter() - t0
    gc.collect()
    after = rss_mb()
    held_mb = index_mb(index)
    all_times, counts = time_index(index, listings, passes)
    times = all_times.min(axis=0)
    sample_n = max(5, min(100, 1_000_000 // n * 5))
    sample = listings[:sample_n]
    mismatches = 0
    t0 = time.perf_counter()
    expected = [naive(rules, listing) for listing in sample]
    naive_ms = (time.perf_counter() - t0) / len(sample) * 1e3
    for listing, want in zip(sample, expected, strict=True):
        mismatches += index.match(listing) != want
    update_us = time_updates(index, rules, world)
    # after the churn the index must still agree with the naive loop
    for listing, want in zip(sample, expected, strict=True):
        mismatches += index.match(listing) != want
    top = Counter(k for r in rules for k in r.keyword_keys).most_common(1)[0]
    print(
        f"  {n:>9,} rules: top keyword {top[0]!r} in {top[1] / n:.1%} of rules; "
        f"built in {build_s:.2f} s; RSS {after:.0f} MB (+{after - before:.0f} MB for the build)"
    )
    mean_ms = float(times.mean())
    res = Result(
        rules=n,
        build_s=build_s,
        p50_ms=float(np.percentile(times, 50)),
        p99_ms=float(np.percentile(times, 99)),
        p50_once_ms=float(np.percentile(all_times[0], 50)),
        p99_once_ms=float(np.percentile(all_times[0], 99)),
        mean_ms=mean_ms,
        per_s=1e3 / mean_ms,
        rss_mb=after,
        rss_delta_mb=after - before,
        index_mb=held_mb,
        matches_mean=statistics.fmean(counts),
        matches_median=statistics.median(counts),
        naive_ms=naive_ms,
        naive_n=len(sample),
        mismatches=mismatches,
        update_us=update_us,
    )
    print(
        f"    match p50 {res.p50_ms:.3f} ms, p99 {res.p99_ms:.3f} ms (best of {passes}; "
        f"first pass alone {res.p50_once_ms:.3f} / {res.p99_once_ms:.3f}), "
        f"{res.per_s:,.0f} listings/s, {res.matches_mean:.0f} matches/listing "
        f"(median {res.matches_median:.0f}); naive {naive_ms:,.1f} ms/listing "
        f"on {len(sample)} → {naive_ms / mean_ms:,.0f}×; updates {update_us:.1f} µs/op; "
        f"mismatches {mismatches}"
    )
    del index, rules
    gc.collect()
    return res


def table(results: list[Result]) -> str:
    head = (
        "| rules | build s | p50 ms | p99 ms | p50/p99 1st pass | listings/s | RSS MB"
        " | index MB | matches/listing (median) | naive ms/listing (n) | naive/index | update µs/op"
        " | mismatches |\n"
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    )
    rows = [
        f"| {r.rules:,} | {r.build_s:.2f} | {r.p50_ms:.3f} | {r.p99_ms:.3f} "
        f"| {r.p50_once_ms:.3f} / {r.p99_once_ms:.3f} | {r.per_s:,.0f} "
        f"| {r.rss_mb:,.0f} | {r.index_mb:,.0f} | {r.matches_mean:,.0f} ({r.matches_median:,.0f}) "
        f"| {r.naive_ms:,.1f} ({r.naive_n}) | {r.naive_ms / r.mean_ms:,.0f}× "
        f"| {r.update_us:.1f} | {r.mismatches} |"
        for r in results
    ]
    return "\n".join([head, *rows])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--listings", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--passes", type=int, default=3, help="timed passes (best per listing)")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    world = World.create(args.seed)
    listings = make_listings(world, args.listings)
    print(f"seed {args.seed}, {len(listings)} listings, sizes {sizes}")
    results = [run_size(world, n, listings, args.passes) for n in sizes]
    print()
    print(table(results))


if __name__ == "__main__":
    main()
