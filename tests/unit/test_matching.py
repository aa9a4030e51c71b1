"""Matching: the reference (`matches`, `explain`) and the index (`RuleIndex`) on every edge.

Each edge case goes through :func:`decide`, which also asserts that the index — bulk-built,
built one rule at a time, and a variant forced onto its rare paths (every key split into shards,
one exact exclude bit) — gives the same answer as the reference.
"""

from __future__ import annotations

import math
import re
from dataclasses import replace
from decimal import Decimal

import pytest

from bot.domain.listing import Condition, GeoPoint, Listing
from bot.domain.matching import CHECK_NAMES, Check, RuleIndex, explain, matches
from bot.domain.rule import Rule

NYC = GeoPoint(40.7128, -74.0060)
NEWARK = GeoPoint(40.7357, -74.1724)  # ~8.8 mi from NYC
PHILLY = GeoPoint(39.9526, -75.1652)  # ~80 mi from NYC


class ShardedIndex(RuleIndex):
    """Every key is hot from its first rule and only one excluded word gets an exact bit."""

    hot_threshold = 0
    exclude_bits = 1


def rule(rule_id: int = 1, /, **fields: object) -> Rule:
    return Rule(id=rule_id, user_id=7, name="test", **fields)  # type: ignore[arg-type]


def listing(title: str = "Gaming chair", /, **fields: object) -> Listing:
    base: dict[str, object] = {"price": Decimal("299.99")}
    return Listing(id=100, title=title, **{**base, **fields})  # type: ignore[arg-type]


def indexes(rules: list[Rule]) -> list[RuleIndex]:
    incremental = RuleIndex()
    for r in rules:
        incremental.add(r)
    return [RuleIndex.build(rules), incremental, ShardedIndex.build(rules)]


def decide(r: Rule, item: Listing) -> bool:
    """The reference answer, after checking every index agrees with it."""
    expected = matches(r, item)
    for index in indexes([r]):
        assert index.match(item) == ([r.id] if expected else []), type(index).__name__
    assert all(c.passed for c in explain(r, item)) == (expected or not r.active)
    return expected


# ---- keywords -------------------------------------------------------------------------------


def test_keyword_in_title_matches() -> None:
    assert decide(rule(keywords=("gaming",)), listing("Secretlab gaming chair"))


def test_keyword_in_description_matches() -> None:
    assert decide(rule(keywords=("ergonomic",)), listing("Chair", description="Very ergonomic"))


def test_any_keyword_is_enough() -> None:
    assert decide(rule(keywords=("desk", "chair")), listing("Office chair"))


def test_no_keyword_present() -> None:
    assert not decide(rule(keywords=("desk", "sofa")), listing("Office chair"))


def test_phrase_needs_consecutive_words_in_order() -> None:
    r = rule(keywords=("office chair",))
    assert decide(r, listing("Herman Miller office chair"))
    assert not decide(r, listing("chair office"))
    assert not decide(r, listing("office gaming chair"))


def test_phrase_must_not_span_title_and_description() -> None:
    r = rule(keywords=("office chair",))
    assert not decide(r, listing("Big office", description="chair included"))
    assert decide(r, listing("Listing", description="an office chair"))


def test_three_word_phrase_and_shared_prefix() -> None:
    r = rule(keywords=("rtx 3080 ti", "rtx 3080 founders"))
    assert decide(r, listing("Nvidia RTX 3080 Ti"))
    assert decide(r, listing("RTX 3080 Founders edition"))
    assert not decide(r, listing("RTX 3080 gaming"))


@pytest.mark.parametrize(
    ("keyword", "title"),
    [("chairs", "Gaming chair"), ("chair", "Two chairs"), ("boxes", "Moving box")],
)
def test_plural_and_singular_match_each_other(keyword: str, title: str) -> None:
    assert decide(rule(keywords=(keyword,)), listing(title))


@pytest.mark.parametrize(("keyword", "title"), [("café", "Cafe racer"), ("cafe", "CAFÉ table")])
def test_accents_are_ignored(keyword: str, title: str) -> None:
    assert decide(rule(keywords=(keyword,)), listing(title))


def test_case_is_ignored() -> None:
    assert decide(rule(keywords=("IPhone",)), listing("iphone 15 PRO"))


def test_whole_words_only() -> None:
    r = rule(keywords=("car",))
    assert not decide(r, listing("Persian carpet"))
    assert not decide(r, listing("Scar"))
    assert decide(r, listing("Car-seat for toddlers"))


def test_rule_without_keywords_passes_the_keyword_check() -> None:
    r = rule(categories=("Furniture",))
    assert decide(r, listing("Anything at all", category="Furniture"))
    assert explain(r, listing("x", category="Furniture"))[1].passed


# ---- excluded words ---------------------------------------------------------------------------


def test_excluded_word_in_title() -> None:
    assert not decide(rule(keywords=("iphone",), exclude=("broken",)), listing("Broken iPhone"))


def test_excluded_word_in_description() -> None:
    r = rule(keywords=("iphone",), exclude=("cracked",))
    assert not decide(r, listing("iPhone 13", description="screen is cracked"))
    assert decide(r, listing("iPhone 13", description="mint"))


def test_excluded_phrase_needs_the_whole_phrase() -> None:
    r = rule(keywords=("iphone",), exclude=("for parts",))
    assert not decide(r, listing("iPhone for parts"))
    assert decide(r, listing("iPhone parts included, for sale"))


def test_excluded_word_is_plural_insensitive() -> None:
    assert not decide(rule(keywords=("lego",), exclude=("box",)), listing("Lego, no boxes"))


def test_rare_excluded_words_beyond_the_exact_bits() -> None:
    rules = [
        rule(1, keywords=("iphone",), exclude=("broken",)),
        rule(2, keywords=("iphone",), exclude=("locked",)),
        rule(3, keywords=("iphone",), exclude=("icloud", "replica")),
    ]
    item = listing("iPhone", description="icloud locked")
    expected = [r.id for r in rules if matches(r, item)]
    assert expected == [1]
    for index in indexes(rules):
        assert index.match(item) == expected


# ---- price ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("low", "high", "price", "ok"),
    [
        ("100", "350", "299.99", True),
        ("100", "350", "100.00", True),  # inclusive at min
        ("100", "350", "350.00", True),  # inclusive at max
        ("100", "350", "99.99", False),
        ("100", "350", "350.01", False),
        ("100", None, "5000", True),  # min only
        ("100", None, "99.99", False),
        (None, "350", "0", True),  # max only
        (None, "350", "350.01", False),
        ("0", "0", "0", True),
    ],
)
def test_price_bounds(low: str | None, high: str | None, price: str, ok: bool) -> None:
    r = rule(
        keywords=("chair",),
        min_price=None if low is None else Decimal(low),
        max_price=None if high is None else Decimal(high),
    )
    assert decide(r, listing(price=Decimal(price))) is ok


def test_prices_compare_in_cents() -> None:
    r = rule(keywords=("chair",), max_price=Decimal("100"))
    assert decide(r, listing(price=Decimal("100.004")))  # rounds to 100.00
    assert not decide(r, listing(price=Decimal("100.005")))  # rounds to 100.01


def test_no_price_fails_a_bounded_rule_but_passes_an_unbounded_one() -> None:
    assert not decide(rule(keywords=("chair",), max_price=Decimal("10")), listing(price=None))
    assert not decide(rule(keywords=("chair",), min_price=Decimal("0")), listing(price=None))
    assert decide(rule(keywords=("chair",)), listing(price=None))


def test_currency_must_match_when_the_rule_has_bounds() -> None:
    r = rule(keywords=("chair",), max_price=Decimal("500"), currency="USD")
    assert not decide(r, listing(price=Decimal("10"), currency="EUR"))
    assert decide(rule(keywords=("chair",)), listing(price=Decimal("10"), currency="EUR"))


def test_currencies_do_not_leak_into_each_other() -> None:
    rules = [
        rule(1, keywords=("chair",), max_price=Decimal("100"), currency="USD"),
        rule(2, keywords=("chair",), max_price=Decimal("100"), currency="EUR"),
        rule(3, keywords=("chair",), min_price=Decimal("1"), currency="CAD"),
    ]
    for currency, expected in (("USD", [1]), ("EUR", [2]), ("CAD", [3]), ("GBP", [])):
        item = listing(price=Decimal("50"), currency=currency)
        assert [r.id for r in rules if matches(r, item)] == expected
        for index in indexes(rules):
            assert index.match(item) == expected


# ---- category ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("wanted", "category", "ok"),
    [
        ("Furniture", "Furniture - Gaming", True),
        ("Furniture", "furniture", True),
        ("Furniture - Gaming", "Furniture / Gaming / Chairs", True),
        ("Furniture - Gaming", "Furniture", False),  # the rule is narrower
        ("Furn", "Furniture - Gaming", False),  # whole segments only
        ("Furniture", "Electronics", False),
        ("Furniture", None, False),
    ],
)
def test_category_prefix(wanted: str, category: str | None, ok: bool) -> None:
    assert decide(rule(keywords=("chair",), categories=(wanted,)), listing(category=category)) is ok


def test_keywordless_category_rule() -> None:
    r = rule(categories=("Furniture",), max_price=Decimal("400"))
    assert decide(r, listing("Oak table", category="Furniture - Dining"))
    assert not decide(r, listing("Oak table", category="Home"))
    assert not decide(r, listing("Oak table", category="Furniture", price=Decimal("401")))


def test_rule_with_several_categories() -> None:
    r = rule(keywords=("chair",), categories=("Furniture", "Electronics - Gaming"))
    assert decide(r, listing(category="Electronics / Gaming"))
    assert decide(r, listing(category="Furniture"))
    assert not decide(r, listing(category="Electronics"))


def test_rule_without_keywords_or_category_is_checked_everywhere() -> None:
    """Validation never stores one, but the index must still agree (the catch-all list)."""
    r = rule(max_price=Decimal("10"))
    assert decide(r, listing("anything", price=Decimal("9")))
    assert not decide(r, listing("anything", price=Decimal("11")))


# ---- condition --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("minimum", "actual", "ok"),
    [
        (Condition.good, Condition.good, True),
        (Condition.good, Condition.excellent, True),
        (Condition.good, Condition.new, True),
        (Condition.good, Condition.fair, False),
        (Condition.like_new, Condition.excellent, False),
        (Condition.poor, Condition.poor, True),
        (Condition.poor, None, False),
        (None, None, True),
    ],
)
def test_condition_order(minimum: Condition | None, actual: Condition | None, ok: bool) -> None:
    assert decide(rule(keywords=("chair",), min_condition=minimum), listing(condition=actual)) is ok


# ---- distance ---------------------------------------------------------------------------------


def test_distance_within_and_beyond_radius() -> None:
    r = rule(keywords=("chair",), point=NYC, radius_mi=50.0)
    assert decide(r, listing(point=NEWARK))
    assert not decide(r, listing(point=PHILLY))


def test_listing_without_location_fails_a_located_rule() -> None:
    assert not decide(rule(keywords=("chair",), point=NYC, radius_mi=50.0), listing(point=None))
    assert decide(rule(keywords=("chair",)), listing(point=None))


def test_radius_edge_is_inclusive_and_exact() -> None:
    d = NYC.distance_mi(PHILLY)
    assert decide(rule(keywords=("chair",), point=NYC, radius_mi=d), listing(point=PHILLY))
    below = math.nextafter(d, 0.0)
    assert not decide(rule(keywords=("chair",), point=NYC, radius_mi=below), listing(point=PHILLY))
    above = math.nextafter(d, math.inf)
    assert decide(rule(keywords=("chair",), point=NYC, radius_mi=above), listing(point=PHILLY))


def test_radius_edges_across_the_globe_agree_with_the_scalar_formula() -> None:
    """Many circles whose edge passes exactly through the listing, at every latitude."""
    import random

    rnd = random.Random(5)
    rules, items = [], []
    for i in range(300):
        centre = GeoPoint(rnd.uniform(-89, 89), rnd.uniform(-180, 180))
        spot = GeoPoint(
            max(-90.0, min(90.0, centre.lat + rnd.uniform(-3, 3))), centre.lon + rnd.uniform(-3, 3)
        )
        d = centre.distance_mi(spot)
        for j, radius in enumerate((d, math.nextafter(d, 0.0), math.nextafter(d, math.inf))):
            rules.append(rule(3 * i + j + 1, keywords=("chair",), point=centre, radius_mi=radius))
        items.append(listing(point=spot))
    for index in (RuleIndex.build(rules), ShardedIndex.build(rules)):
        for item in items:
            assert index.match(item) == [r.id for r in rules if matches(r, item)]


def test_listing_point_off_the_grid_still_agrees() -> None:
    rules = [rule(1, keywords=("chair",), point=GeoPoint(89.5, 0.0), radius_mi=100.0)]
    item = listing(point=GeoPoint(91.0, 180.0))
    for index in indexes(rules):
        assert index.match(item) == [r.id for r in rules if matches(r, item)]


def test_circles_around_the_pole_and_the_date_line() -> None:
    rules = [
        rule(1, keywords=("chair",), point=GeoPoint(89.9, 0.0), radius_mi=50.0),
        rule(2, keywords=("chair",), point=GeoPoint(0.0, 179.9), radius_mi=30.0),
        rule(3, keywords=("chair",), point=GeoPoint(-10.0, -179.95), radius_mi=500.0),
        rule(4, keywords=("chair",), point=GeoPoint(10.0, 10.0), radius_mi=20_000.0),
    ]
    spots = [GeoPoint(89.9, 180.0), GeoPoint(0.0, -179.9), GeoPoint(-12.0, 178.0), NYC]
    for index in indexes(rules):
        for spot in spots:
            item = listing(point=spot)
            assert index.match(item) == [r.id for r in rules if matches(r, item)]


# ---- deal score -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("minimum", "score", "ok"),
    [(0.6, 0.6, True), (0.6, 0.59, False), (0.6, None, False), (None, None, True)],
)
def test_min_deal_score(minimum: float | None, score: float | None, ok: bool) -> None:
    r = rule(keywords=("chair",), min_deal_score=minimum)
    assert decide(r, listing(deal_score=score)) is ok


# ---- paused rules -----------------------------------------------------------------------------


def test_paused_rule_never_matches() -> None:
    assert not decide(rule(keywords=("chair",), active=False), listing())


# ---- explain ----------------------------------------------------------------------------------


def test_explain_lists_all_seven_checks_in_order() -> None:
    checks = explain(rule(keywords=("chair",)), listing())
    assert [c.name for c in checks] == list(CHECK_NAMES)
    assert all(isinstance(c, Check) and c.passed for c in checks)


def test_explain_details() -> None:
    r = rule(
        keywords=("gaming", "chair", "desk"),
        exclude=("broken",),
        min_price=Decimal("100"),
        max_price=Decimal("350"),
        categories=("Furniture",),
        min_condition=Condition.good,
        point=NYC,
        radius_mi=50.0,
        min_deal_score=0.6,
    )
    item = listing(
        "Gaming chair",
        category="Furniture - Gaming",
        condition=Condition.like_new,
        point=NEWARK,
        deal_score=0.82,
    )
    details = {c.name: c for c in explain(r, item)}
    assert details["price"].detail == "$299.99 is within $100.00–$350.00"
    assert details["keywords"].detail == "found “gaming”, “chair”"
    assert details["excluded words"].detail == "none of “broken” found"
    assert details["category"].detail == "“Furniture - Gaming” is in “Furniture”"
    assert details["condition"].detail == "Like new is Good or better"
    assert re.fullmatch(r"\d+\.\d mi \(limit 50 mi\)", details["distance"].detail)
    assert details["score"].detail == "deal score 0.82 ≥ 0.60"
    assert all(c.passed for c in details.values())
    assert matches(r, item)


def test_explain_failures() -> None:
    r = rule(
        keywords=("desk",),
        exclude=("broken",),
        max_price=Decimal("100"),
        categories=("Electronics",),
        min_condition=Condition.excellent,
        point=NYC,
        radius_mi=50.0,
        min_deal_score=0.6,
    )
    item = listing(
        "Broken chair", category="Furniture", condition=Condition.fair, point=None, deal_score=None
    )
    details = {c.name: c for c in explain(r, item)}
    assert not any(c.passed for c in details.values())
    assert details["price"].detail == "$299.99 is above $100.00"
    assert details["keywords"].detail == "none of “desk” found"
    assert details["excluded words"].detail == "found “broken”"
    assert details["category"].detail == "“Furniture” is not in “Electronics”"
    assert details["condition"].detail == "Fair is below Excellent"
    assert details["distance"].detail == "listing has no location"
    assert details["score"].detail == "not enough comparable listings to score"


@pytest.mark.parametrize(
    ("fields", "item_fields", "detail"),
    [
        ({"min_price": Decimal("100")}, {}, "$299.99 is at least $100.00"),
        ({"max_price": Decimal("300")}, {}, "$299.99 is at most $300.00"),
        ({"min_price": Decimal("300")}, {}, "$299.99 is below $300.00"),
        ({"max_price": Decimal("300")}, {"price": None}, "listing has no price"),
        (
            {"max_price": Decimal("300")},
            {"currency": "EUR"},
            "listing is priced in EUR, the rule in USD",
        ),
        ({}, {}, "any price"),
    ],
)
def test_explain_price_details(
    fields: dict[str, object], item_fields: dict[str, object], detail: str
) -> None:
    checks = explain(rule(keywords=("chair",), **fields), listing(**item_fields))
    assert checks[0].detail == detail


def test_explain_of_a_paused_rule_still_reports_the_checks() -> None:
    r = rule(keywords=("chair",), active=False)
    assert all(c.passed for c in explain(r, listing()))
    assert not matches(r, listing())


# ---- the index as a container -----------------------------------------------------------------


def test_results_are_ascending_and_unique() -> None:
    rules = [rule(i, keywords=("gaming", "chair")) for i in (9, 3, 7, 1)]
    for index in indexes(rules):
        assert index.match(listing("Gaming chair, gaming chair")) == [1, 3, 7, 9]


def test_len_and_contains() -> None:
    index = RuleIndex.build([rule(1, keywords=("a",)), rule(2, keywords=("b",), active=False)])
    assert len(index) == 2
    assert 1 in index and 2 in index and 3 not in index and "1" not in index


def test_build_keeps_the_last_rule_for_a_repeated_id() -> None:
    index = RuleIndex.build([rule(1, keywords=("desk",)), rule(1, keywords=("chair",))])
    assert len(index) == 1
    assert index.match(listing("chair")) == [1]
    assert index.match(listing("desk")) == []


@pytest.mark.parametrize("kind", [RuleIndex, ShardedIndex])
def test_update_changing_keywords_moves_the_rule(kind: type[RuleIndex]) -> None:
    index = kind.build([rule(1, keywords=("desk",)), rule(2, keywords=("desk",))])
    index.update(rule(1, keywords=("chair",)))
    assert index.match(listing("Standing desk")) == [2]
    assert index.match(listing("Gaming chair")) == [1]
    assert len(index) == 2


@pytest.mark.parametrize("kind", [RuleIndex, ShardedIndex])
def test_pause_and_resume_via_update(kind: type[RuleIndex]) -> None:
    r = rule(1, keywords=("chair",))
    index = kind.build([r])
    index.update(replace(r, active=False))
    assert index.match(listing()) == []
    assert 1 in index
    index.update(r)
    assert index.match(listing()) == [1]


@pytest.mark.parametrize("kind", [RuleIndex, ShardedIndex])
def test_update_in_place_fields(kind: type[RuleIndex]) -> None:
    r = rule(1, keywords=("chair",), point=NYC, radius_mi=50.0)
    index = kind.build([r])
    index.update(replace(r, max_price=Decimal("10")))
    assert index.match(listing(point=NEWARK)) == []
    index.update(replace(r, point=PHILLY))  # a new place moves the rule
    assert index.match(listing(point=NEWARK)) == []
    assert index.match(listing(point=PHILLY)) == [1]
    index.update(replace(r, categories=("Furniture",), keywords=()))
    assert index.match(listing("Sofa", category="Furniture", point=NYC)) == [1]


def test_update_of_an_unknown_id_adds_it_and_add_of_a_known_id_replaces() -> None:
    index = RuleIndex()
    index.update(rule(5, keywords=("chair",)))
    assert index.match(listing()) == [5]
    index.add(rule(5, keywords=("desk",)))
    assert index.match(listing()) == []
    assert len(index) == 1


@pytest.mark.parametrize("kind", [RuleIndex, ShardedIndex])
def test_remove(kind: type[RuleIndex]) -> None:
    index = kind.build([rule(1, keywords=("chair",)), rule(2, keywords=("chair",))])
    index.remove(1)
    index.remove(1)  # unknown id: no-op
    index.remove(99)
    assert index.match(listing()) == [2]
    assert len(index) == 1 and 1 not in index


@pytest.mark.parametrize("kind", [RuleIndex, ShardedIndex])
def test_churn_reuses_slots_and_stays_correct(kind: type[RuleIndex]) -> None:
    """Thousands of removals and re-adds under one hot key: slots are recycled, no rebuild."""
    rules = [
        rule(
            i, keywords=("chair",), point=NYC if i % 2 else None, radius_mi=50.0 if i % 2 else None
        )
        for i in range(1, 1501)
    ]
    index = kind.build(rules)
    live = {r.id: r for r in rules}
    for round_ in range(6):
        moved = [r for r in rules if r.id % 3 != round_ % 3]  # two thirds of them
        for r in moved:
            index.remove(r.id)
        for r in moved:
            live[r.id] = replace(r, max_price=Decimal(round_ % 4 + 1))
            index.add(live[r.id])
    item = listing(price=Decimal("2"), point=NEWARK)
    assert index.match(item) == [r.id for r in live.values() if matches(r, item)]
    # white-box: without slot reuse this would be 1500 + 6 * 1000 slots
    assert index._size <= 2 * len(rules)


def test_empty_index() -> None:
    assert RuleIndex().match(listing()) == []
    assert RuleIndex.build([]).match(listing()) == []
    assert len(RuleIndex()) == 0


def test_ids_from_build_and_from_later_changes() -> None:
    big, negative = 2**62, -5
    index = RuleIndex.build([rule(i, keywords=("chair",)) for i in (3, 1, big, negative, 2)])
    index.remove(1)
    index.add(rule(1, keywords=("desk",)))  # a bulk-loaded id, removed and added again
    index.update(rule(2, keywords=("desk",)))  # a bulk-loaded id that moves to a new slot
    index.add(rule(10, keywords=("chair",)))
    assert len(index) == 6
    assert all(i in index for i in (1, 2, 3, 10, big, negative))
    assert 4 not in index and "3" not in index and 2**70 not in index
    assert index.match(listing("chair")) == [negative, 3, 10, big]
    assert index.match(listing("desk")) == [1, 2]
    for i in (1, 2, 3, 10, big, negative):
        index.remove(i)
    assert len(index) == 0 and index.match(listing("chair desk")) == []
