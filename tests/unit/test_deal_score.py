"""The explainable deal score: comparables, outliers, the score curve, reasons and properties."""

from __future__ import annotations

import statistics
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.deal_score import (
    NO_PRICE,
    Comparable,
    DealScore,
    confidence,
    drop_outliers,
    insufficient,
    keyword_overlap,
    keyword_set,
    score_listing,
    select_comparables,
)

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)

# 38 ordinary prices 380, 382, ..., 454 (median 417, MAD 19) and 3 wild ones: a "$1, message me"
# placeholder, a typo and a different item entirely.
ORDINARY = [Decimal(380 + 2 * i) for i in range(38)]
WILD = [Decimal("1"), Decimal("9999"), Decimal("40000")]
MARKET = ORDINARY[:20] + WILD + ORDINARY[20:]


def D(value: str | int) -> Decimal:
    return Decimal(value)


def scored(price: Decimal, prices: list[Decimal], **kwargs: int) -> DealScore:
    result = score_listing(price, prices, **kwargs)
    assert result.score is not None, result.reason
    return result.score


# --------------------------------------------------------------------------------------------
# Fixed data
# --------------------------------------------------------------------------------------------


def test_wild_outliers_are_dropped_before_the_median() -> None:
    deal = scored(D("321.09"), MARKET)
    assert deal.comparables == 38
    assert deal.median == D("417.00")
    assert deal.mad == D("19.00")
    assert deal.percent_below == pytest.approx(23.0)
    assert deal.reason == "23% below the median of 38 similar listings"
    assert not deal.flagged
    assert deal.score == round(1 / (1 + 0.77**2), 3) == 0.628


def test_outliers_change_nothing_compared_with_the_clean_market() -> None:
    assert score_listing(D(400), MARKET) == score_listing(D(400), ORDINARY)


def test_drop_outliers_keeps_order_and_only_drops_the_wild_prices() -> None:
    assert drop_outliers(MARKET) == ORDINARY
    assert drop_outliers([]) == []


def test_a_wide_market_keeps_its_spread_but_loses_the_placeholder() -> None:
    wide = [D(p) for p in (1, 50, 80, 100, 120, 150, 200, 300)]
    assert drop_outliers(wide) == wide[1:]


def test_a_unanimous_market_keeps_ordinary_prices_and_drops_far_ones() -> None:
    # MAD is 0: without the spread floor every price but 100 would be an outlier.
    prices = [D(100)] * 9 + [D(110), D(95), D(150)]
    assert drop_outliers(prices) == prices[:-1]
    deal = scored(D(90), prices)
    assert (deal.median, deal.mad, deal.comparables) == (D("100.00"), D("0.00"), 11)
    assert deal.reason == "10% below the median of 11 similar listings"
    assert not deal.flagged


def test_reason_above_about_and_singular() -> None:
    prices = [D(100)] * 12
    assert scored(D(108), prices).reason == "8% above the median of 12 similar listings"
    assert scored(D("100.50"), prices).reason == "about the median of 12 similar listings"
    assert scored(D("99.01"), prices).reason == "about the median of 12 similar listings"
    assert scored(D(99), prices).reason == "1% below the median of 12 similar listings"
    one = scored(D(50), [D(100)], min_comparables=1)
    assert one.reason == "50% below the median of 1 similar listing"


def test_the_result_carries_the_reason_and_the_stored_value() -> None:
    result = score_listing(D(100), [D(100)] * 9)
    assert result.score is not None
    assert result.reason == result.score.reason == "about the median of 9 similar listings"
    assert result.value == 0.5


def test_too_few_comparables_is_flagged_not_guessed() -> None:
    assert score_listing(D(50), [D(100)] * 4) == insufficient(4)
    assert insufficient(4).reason == "only 4 similar listings"
    assert insufficient(4).value is None
    assert insufficient(1).reason == "only 1 similar listing"
    assert score_listing(D(50), []).reason == "no similar listings"
    assert score_listing(D(50), [D(100)] * 4, min_comparables=4).score is not None


def test_the_count_that_decides_is_the_one_left_after_trimming() -> None:
    prices = [D(100), D(101), D(99), D(100), D(100_000)]
    assert score_listing(D(50), prices).reason == "only 4 similar listings"


def test_free_and_sub_cent_comparables_are_not_evidence() -> None:
    prices = [D(0), D("0.00"), D("0.001")] + [D(100)] * 4
    assert score_listing(D(50), prices).reason == "only 4 similar listings"


def test_no_price_gives_no_score() -> None:
    assert score_listing(None, [D(100)] * 10) is NO_PRICE
    assert NO_PRICE.reason == "no price to compare"


def test_score_curve_landmarks() -> None:
    prices = [D(100)] * 10
    assert scored(D(100), prices).score == 0.5
    assert scored(D(0), prices).score == 1.0
    assert scored(D(50), prices).score == 0.8
    assert scored(D(200), prices).score == 0.2  # half and double are symmetric
    assert scored(D(10_000_000), prices).score == 0.0


def interim_score(price: Decimal, prices: list[Decimal]) -> float:
    """The linear score the model replaced: 0.5 + (median - price) / (2 * median), clamped."""
    mid = statistics.median(prices)
    return round(min(1.0, max(0.0, 0.5 + float((mid - price) / (2 * mid)))), 3)


def test_near_the_median_it_agrees_with_the_interim_score() -> None:
    prices = [D(p) for p in range(90, 111)]
    for cents in range(95_00, 105_01, 25):
        price = D(cents) / 100
        interim = interim_score(price, prices)
        assert abs(scored(price, prices).score - interim) <= 0.002


def test_flagged_only_when_far_off_and_an_outlier() -> None:
    tight = ORDINARY
    assert not scored(D(300), tight).flagged  # 28% off: a real deal, not a red flag
    assert scored(D(200), tight).flagged  # half the median in a tight market
    assert scored(D(900), tight).flagged
    assert scored(D(0), tight).flagged
    wide = [D(p) for p in (50, 80, 100, 120, 150, 200, 300, 400)]
    assert not scored(D(60), wide).flagged  # under half the median, but ordinary here


def test_confidence_grows_with_comparables_and_saturates() -> None:
    assert confidence(0) == 0.0
    assert round(confidence(5), 3) == 0.393
    assert round(confidence(10), 3) == 0.632
    assert round(confidence(30), 3) == 0.95
    assert scored(D(400), ORDINARY).confidence == round(confidence(38), 3)


def test_bad_arguments_are_rejected() -> None:
    with pytest.raises(ValueError, match="price"):
        score_listing(D(-1), [D(100)] * 5)
    with pytest.raises(ValueError, match="min_comparables"):
        score_listing(D(1), [D(100)] * 5, min_comparables=0)


# --------------------------------------------------------------------------------------------
# Comparables
# --------------------------------------------------------------------------------------------


def comparable(
    title: str,
    price: str = "100",
    *,
    currency: str = "USD",
    category: str | None = "furniture/office",
    age_days: float = 1,
    sold: bool = False,
) -> Comparable:
    return Comparable(
        price=D(price),
        currency=currency,
        category_key=category,
        tokens=keyword_set(title),
        seen_at=NOW - timedelta(days=age_days),
        sold=sold,
    )


def select(target: str, candidates: list[Comparable], **kwargs: float) -> list[Comparable]:
    return select_comparables(
        keyword_set(target), "furniture/office", "USD", candidates, now=NOW, **kwargs
    )


def test_select_keeps_similar_listings_sold_or_active_in_order() -> None:
    keep = [
        comparable("Aeron chair"),
        comparable("Herman Miller Aeron Chairs, size B", sold=True),
        comparable("aeron CHAIR", currency="usd", age_days=90),
        comparable("Aeron chair", age_days=-1),  # clock skew: counts as fresh
    ]
    drop = [
        comparable("Aeron chair", category="furniture/gaming"),
        comparable("Aeron chair", category=None),
        comparable("Aeron chair", currency="CAD"),
        comparable("Aeron chair", age_days=90.001),
        comparable("IKEA Markus office chair"),  # shares "chair" only: Jaccard 1/8
        comparable("Standing desk"),
        comparable("new used for sale obo"),  # only filler words
    ]
    got = select("Herman Miller Aeron chair size B", [drop[0], *keep[:2], *drop[1:], *keep[2:]])
    assert got == keep


def test_select_matches_none_category_only_with_none() -> None:
    candidates = [comparable("Aeron chair", category=None), comparable("Aeron chair")]
    got = select_comparables(keyword_set("Aeron chair"), None, "USD", candidates, now=NOW)
    assert got == candidates[:1]


def test_select_respects_window_and_overlap_arguments() -> None:
    old = comparable("Aeron chair", age_days=20)
    assert select("Aeron chair", [old], window_days=30) == [old]
    assert select("Aeron chair", [old], window_days=10) == []
    loose = comparable("office chair")
    assert select("gaming chair", [loose]) == []  # 1/3 < 0.4 by default
    assert select("gaming chair", [loose], min_overlap=0.3) == [loose]


def test_select_needs_a_meaningful_shared_token() -> None:
    assert select("for sale", [comparable("for sale")]) == []
    assert select("new chair", [comparable("new phone")]) == []


def test_select_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="window_days"):
        select("chair", [], window_days=0)
    with pytest.raises(ValueError, match="min_overlap"):
        select("chair", [], min_overlap=0)
    with pytest.raises(ValueError, match="min_overlap"):
        select("chair", [], min_overlap=1.5)


def test_keyword_overlap_is_jaccard_of_meaningful_folded_tokens() -> None:
    assert keyword_set("The Cafés, for SALE!") == {"cafe"}
    assert keyword_overlap(keyword_set("rtx 3080"), keyword_set("RTX 3070")) == pytest.approx(1 / 3)
    assert keyword_overlap(["aeron", "chair"], ["aeron", "chair", "size", "b"]) == pytest.approx(
        2 / 3
    )
    assert keyword_overlap([], ["chair"]) == 0.0
    assert keyword_overlap(["new"], ["new"]) == 0.0


# --------------------------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------------------------

cents = st.integers(min_value=1, max_value=1_000_000_000)
money = cents.map(lambda c: Decimal(c) / 100)
markets = st.lists(money, min_size=5, max_size=60)


@given(markets, st.integers(min_value=0, max_value=1_000_000_000).map(lambda c: Decimal(c) / 100))
def test_scores_and_fields_are_bounded(prices: list[Decimal], price: Decimal) -> None:
    result = score_listing(price, prices)
    if result.score is None:
        assert result.reason.startswith(("only", "no similar"))
        return
    deal = result.score
    assert 0.0 <= deal.score <= 1.0
    assert 0.0 <= deal.confidence <= 1.0
    assert 5 <= deal.comparables <= len(prices)
    assert min(prices) <= deal.median <= max(prices)
    assert deal.mad >= 0
    assert deal.percent_below <= 100.0
    assert result.reason == deal.reason


@given(markets, money, money)
def test_a_cheaper_price_never_scores_lower(prices: list[Decimal], a: Decimal, b: Decimal) -> None:
    low, high = sorted((a, b))
    cheap, dear = score_listing(low, prices).score, score_listing(high, prices).score
    if cheap is None or dear is None:
        assert cheap is dear is None
        return
    assert cheap.score >= dear.score
    assert cheap.percent_below >= dear.percent_below


@given(markets, money)
def test_score_and_percent_agree_on_the_side_of_the_median(
    prices: list[Decimal], price: Decimal
) -> None:
    deal = score_listing(price, prices).score
    if deal is None:
        return
    if deal.percent_below > 0:
        assert deal.score >= 0.5
    elif deal.percent_below < 0:
        assert deal.score <= 0.5
    at_median = scored(deal.median, prices)
    assert at_median.score == 0.5
    assert at_median.reason.startswith("about the median")


@given(markets.flatmap(lambda ps: st.tuples(st.just(ps), st.permutations(ps))), money)
def test_order_of_comparables_does_not_matter(
    pair: tuple[list[Decimal], list[Decimal]], price: Decimal
) -> None:
    prices, shuffled = pair
    assert score_listing(price, prices) == score_listing(price, shuffled)


@given(st.integers(min_value=0, max_value=500), st.integers(min_value=0, max_value=500))
def test_confidence_is_monotonic(a: int, b: int) -> None:
    low, high = sorted((a, b))
    assert 0.0 <= confidence(low) <= confidence(high) <= 1.0


WORDS = ["aeron", "chair", "chairs", "office", "gaming", "new", "for", "desk", "rtx", "3080"]


@given(
    st.lists(st.sampled_from(WORDS), max_size=5),
    st.lists(
        st.tuples(
            st.lists(st.sampled_from(WORDS), max_size=5),
            st.sampled_from(["USD", "usd", "CAD"]),
            st.sampled_from(["furniture", None]),
            st.integers(min_value=-5, max_value=200),
        ),
        max_size=20,
    ),
)
def test_selection_is_an_ordered_subset_that_meets_every_criterion(
    target_words: list[str], rows: list[tuple[list[str], str, str | None, int]]
) -> None:
    candidates = [
        Comparable(D(100), cur, cat, keyword_set(" ".join(ws)), NOW - timedelta(days=age), False)
        for ws, cur, cat, age in rows
    ]
    target = keyword_set(" ".join(target_words))
    got = select_comparables(target, "furniture", "USD", candidates, now=NOW)
    assert got == [c for c in candidates if c in got]
    for c in got:
        assert c.category_key == "furniture" and c.currency.upper() == "USD"
        assert NOW - c.seen_at <= timedelta(days=90)
        assert c.tokens & target
        assert keyword_overlap(target, c.tokens) >= 0.4
