"""Property: after any sequence of add/update/remove, the index equals the naive loop.

The vocabulary, categories, prices and places are tiny so that rules and listings collide often:
shared keywords and phrase prefixes, plural and accent variants, prices exactly on a bound,
listings exactly on a rule's radius, several currencies, poles and the date line.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TypeVar

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.domain.listing import Condition, GeoPoint, Listing
from bot.domain.matching import RuleIndex, matches
from bot.domain.rule import Rule

T = TypeVar("T")

WORDS = ["chair", "chairs", "Office", "gaming", "desk", "café", "cafe", "car", "carpet", "box"]
WORDS += ["boxes", "broken", "new", "3080", "ti", "for", "parts"]
CATEGORIES = ["Furniture", "Furniture - Gaming", "Furniture/Office", "Electronics", "Furn"]
CATEGORIES += ["Electronics > Audio", "furniture - gaming - chairs", "Home"]
PRICES = [Decimal(p) for p in ("0", "0.01", "50", "99.99", "100", "100.004", "100.005", "250")]
POINTS = [
    GeoPoint(40.7128, -74.0060),
    GeoPoint(40.7357, -74.1724),
    GeoPoint(39.9526, -75.1652),
    GeoPoint(89.9, 10.0),
    GeoPoint(-33.9, 151.2),
    GeoPoint(0.0, 179.95),
    GeoPoint(0.0, -179.95),
]
# radii exactly on the distance between two of the points, and just inside/outside it
EDGES = [POINTS[0].distance_mi(POINTS[1]), POINTS[0].distance_mi(POINTS[2])]
EDGES += [POINTS[5].distance_mi(POINTS[6]), POINTS[1].distance_mi(POINTS[2])]
RADII = [1.0, 10.0, 50.0, 500.0, 3000.0, 13_000.0, *EDGES]
RADII += [r * (1 - 1e-15) for r in EDGES] + [r * (1 + 1e-15) for r in EDGES]


class ShardedIndex(RuleIndex):
    hot_threshold = 0
    exclude_bits = 2


class SmallHotIndex(RuleIndex):
    hot_threshold = 3
    exclude_bits = 0


def sometimes(strategy: st.SearchStrategy[T]) -> st.SearchStrategy[T | None]:
    """``None`` three times in four: most rules set only a few conditions, so they do match."""
    return st.one_of(st.none(), st.none(), st.none(), strategy)


term = st.one_of(
    st.sampled_from(WORDS),
    st.sampled_from(WORDS),
    st.lists(st.sampled_from(WORDS), min_size=2, max_size=3).map(" ".join),
)
place = st.tuples(st.sampled_from(POINTS), st.sampled_from(RADII))


@st.composite
def rules(draw: st.DrawFn) -> Rule:
    located = draw(sometimes(place))
    return Rule(
        id=draw(st.integers(1, 8)),
        user_id=1,
        name="r",
        keywords=tuple(draw(st.lists(term, max_size=3))),
        exclude=tuple(draw(st.lists(term, max_size=2))) if draw(st.booleans()) else (),
        min_price=draw(sometimes(st.sampled_from(PRICES))),
        max_price=draw(sometimes(st.sampled_from(PRICES))),
        currency=draw(st.sampled_from(["USD", "USD", "EUR"])),
        categories=tuple(draw(st.lists(st.sampled_from(CATEGORIES), max_size=2)))
        if draw(st.booleans())
        else (),
        min_condition=draw(sometimes(st.sampled_from(Condition))),
        point=None if located is None else located[0],
        radius_mi=None if located is None else located[1],
        min_deal_score=draw(sometimes(st.sampled_from([0.0, 0.5, 1.0]))),
        active=draw(st.sampled_from([True, True, True, False])),
    )


@st.composite
def listings(draw: st.DrawFn) -> Listing:
    words = st.lists(st.sampled_from([*WORDS, "the", "with"]), max_size=8).map(" ".join)
    return Listing(
        id=1,
        title=draw(words),
        description=draw(words),
        price=draw(st.one_of(st.none(), st.sampled_from(PRICES), st.sampled_from(PRICES))),
        currency=draw(st.sampled_from(["USD", "USD", "USD", "EUR", "GBP"])),
        category=draw(st.none() | st.sampled_from(CATEGORIES)),
        condition=draw(st.none() | st.sampled_from(Condition)),
        point=draw(st.one_of(st.none(), st.sampled_from(POINTS[1:3]), st.sampled_from(POINTS))),
        deal_score=draw(st.none() | st.sampled_from([0.0, 0.49, 0.5, 1.0])),
    )


operation = st.one_of(
    st.tuples(st.just("add"), rules()),
    st.tuples(st.just("update"), rules()),
    st.tuples(st.just("remove"), st.integers(1, 9)),
)


def expected(live: dict[int, Rule], item: Listing) -> list[int]:
    return sorted(r.id for r in live.values() if matches(r, item))


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    initial=st.lists(rules(), max_size=8),
    ops=st.lists(operation, max_size=25),
    items=st.lists(listings(), min_size=1, max_size=4),
)
def test_index_equals_naive_loop(
    initial: list[Rule], ops: list[tuple[str, object]], items: list[Listing]
) -> None:
    live = {r.id: r for r in initial}  # build: the last rule for an id wins
    indexes = [RuleIndex.build(initial), ShardedIndex.build(initial), SmallHotIndex()]
    for r in initial:
        indexes[2].add(r)
    for kind, arg in ops:
        for index in indexes:
            if kind == "remove":
                assert isinstance(arg, int)
                index.remove(arg)
            else:
                assert isinstance(arg, Rule)
                getattr(index, kind)(arg)
        if kind == "remove":
            assert isinstance(arg, int)
            live.pop(arg, None)
        else:
            assert isinstance(arg, Rule)
            live[arg.id] = arg
        for item in items:
            want = expected(live, item)
            for index in indexes:
                assert index.match(item) == want, type(index).__name__
    for index in indexes:
        assert len(index) == len(live)
        assert all(rule_id in index for rule_id in live)
    rebuilt = RuleIndex.build(list(live.values()))
    for item in items:
        assert rebuilt.match(item) == expected(live, item)


@settings(max_examples=300, deadline=None)
@given(rules())
def test_folded_keys_equal_the_rule_properties(rule: Rule) -> None:
    """The matcher's cached folding gives exactly ``Rule``'s own keys."""
    from bot.domain import matching

    assert matching._keyword_keys(rule) == rule.keyword_keys
    assert matching._exclude_keys(rule) == rule.exclude_keys
    assert matching._category_keys(rule) == rule.category_keys
