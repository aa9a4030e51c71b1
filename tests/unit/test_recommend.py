"""Recommendations (bot/domain/recommend.py): signals, weights, reasons and ranking on fixed
data, and feedback moving items (dismissed look-alikes sink, watched look-alikes rise)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from bot.domain.deal_score import confidence, score_listing
from bot.domain.listing import GeoPoint, Listing
from bot.domain.recommend import (
    MIN_SIMILARITY,
    WEIGHTS,
    DealFacts,
    Profile,
    Seen,
    SignalKind,
    Signals,
    Similar,
    Unused,
    deal_facts,
    gather_signals,
    rank,
    recommend,
    rule_fit,
    score,
    similarity_matrix,
    terms,
)
from bot.domain.rule import Rule
from cogs.ui.deals_embeds import reason_line, signal_line, signal_text

USER, OTHER = 1, 2
T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
PORTLAND = GeoPoint(45.5152, -122.6784)
SALEM = GeoPoint(44.9429, -123.0351)  # about 45 miles from Portland


def listing(
    lid: int,
    title: str,
    price: str = "100",
    *,
    score: float | None = None,
    reason: str | None = None,
    age_hours: float = 0,
    **kw: Any,
) -> Listing:
    return Listing(
        id=lid,
        title=title,
        price=Decimal(price),
        deal_score=score,
        deal_reason=reason,
        seller_id=kw.pop("seller_id", 99),
        created_at=T0 - timedelta(hours=age_hours),
        **kw,
    )


def rule(rid: int, name: str, keywords: str = "", **kw: Any) -> Rule:
    words = tuple(w.strip() for w in keywords.split(",") if w.strip())
    return Rule(id=rid, user_id=USER, name=name, keywords=words, **kw)


GAMING_PC = rule(10, "Budget Gaming PC", "gaming pc", max_price=Decimal("600"))


# --------------------------------------------------------------------------------------------
# Deal facts
# --------------------------------------------------------------------------------------------


def test_deal_facts_read_the_stored_reason_back() -> None:
    result = score_listing(Decimal("82"), [Decimal(p) for p in (95, 100, 100, 105, 110)])
    assert result.score is not None
    facts = deal_facts(listing(1, "x", score=result.value, reason=result.reason))
    assert facts == DealFacts(
        score=result.score.score,
        percent_below=18.0,
        comparables=5,
        confidence=round(confidence(5), 3),
    )
    above = deal_facts(
        listing(1, "x", score=0.4, reason="22% above the median of 41 similar listings")
    )
    assert above is not None and above.percent_below == -22.0 and above.comparables == 41
    about = deal_facts(listing(1, "x", score=0.5, reason="about the median of 1 similar listing"))
    assert about is not None and about.percent_below == 0.0 and about.comparables == 1


def test_deal_facts_without_a_readable_reason_come_from_the_score() -> None:
    facts = deal_facts(listing(1, "x", score=0.8, reason="legacy score"))
    assert facts is not None
    assert facts.percent_below == pytest.approx(50.0)  # 1 / (1 + 0.5**2) = 0.8
    assert facts.comparables is None and facts.confidence == round(confidence(5), 3)
    assert deal_facts(listing(1, "x", reason="only 3 similar listings")) is None


# --------------------------------------------------------------------------------------------
# Alert fit: exact, almost, never
# --------------------------------------------------------------------------------------------


def test_an_exact_match_is_strict() -> None:
    fit = rule_fit(GAMING_PC, listing(1, "Gaming PC RTX 3060", "550"))
    assert fit is not None and fit.strict and fit.points == 1.0


def test_a_price_up_to_20_percent_over_the_max_almost_matches() -> None:
    fit = rule_fit(GAMING_PC, listing(1, "Gaming PC RTX 3060", "660"))
    assert fit is not None and not fit.strict
    assert fit.price_over == pytest.approx(0.10)
    assert fit.slack_used == pytest.approx(0.5)
    assert fit.points == pytest.approx(0.45)  # 0.6 - 0.3 x 0.5
    assert rule_fit(GAMING_PC, listing(1, "Gaming PC RTX 3060", "720")).points == pytest.approx(0.3)  # type: ignore[union-attr]
    assert rule_fit(GAMING_PC, listing(1, "Gaming PC RTX 3060", "721")) is None


def test_a_place_up_to_half_the_radius_further_almost_matches() -> None:
    near = rule(11, "Desks", "desk", point=PORTLAND, radius_mi=40.0)
    fit = rule_fit(near, listing(1, "Oak desk", point=SALEM))
    assert fit is not None and not fit.strict and fit.price_over is None
    assert fit.miles_over == pytest.approx(PORTLAND.distance_mi(SALEM) - 40.0)
    far = rule(12, "Desks", "desk", point=PORTLAND, radius_mi=20.0)
    assert rule_fit(far, listing(1, "Oak desk", point=SALEM)) is None


def test_what_an_alert_wants_is_never_relaxed() -> None:
    chairs = rule(13, "Chairs", "chair", exclude=("broken",), min_deal_score=0.6)
    assert rule_fit(chairs, listing(1, "Oak desk", score=0.9)) is None
    assert rule_fit(chairs, listing(1, "Broken chair", score=0.9)) is None
    assert rule_fit(chairs, listing(1, "Office chair", score=0.5)) is None
    assert rule_fit(chairs, listing(1, "Office chair", score=0.7)) is not None


def test_paused_alerts_still_fit_but_the_sellers_own_listing_never_does() -> None:
    paused = rule(14, "Chairs", "chair", active=False)
    assert rule_fit(paused, listing(1, "Office chair")) is not None
    assert rule_fit(paused, listing(1, "Office chair", seller_id=USER)) is None


# --------------------------------------------------------------------------------------------
# Text similarity
# --------------------------------------------------------------------------------------------


def test_terms_fold_drop_filler_and_pair_words() -> None:
    assert terms("NEW Herman-Miller Aeron Chairs for sale!") == [
        "herman", "miller", "aeron", "chair",
        "herman miller", "miller aeron", "aeron chair",
    ]  # fmt: skip


def test_similarity_is_a_cosine_in_zero_to_one() -> None:
    titles = ["Aeron chair graphite", "Steelcase Leap chair", "Oak desk"]
    sims = similarity_matrix(titles, ["aeron chair", "guitar", ""])
    assert sims.shape == (3, 3)
    assert sims[0, 0] > sims[1, 0] > sims[2, 0] == 0.0
    assert (sims[:, 1:] == 0).all()
    assert similarity_matrix(["for sale", "new"], ["for sale"]).tolist() == [[0.0], [0.0]]
    assert similarity_matrix([], ["x"]).shape == (0, 1)
    assert similarity_matrix(["Aeron chair"], ["aeron chair"])[0, 0] == pytest.approx(1.0)


# --------------------------------------------------------------------------------------------
# Scores, weights and reasons on fixed data
# --------------------------------------------------------------------------------------------


def below(percent: int, n: int, score: float) -> dict[str, Any]:
    """A stored deal score and its reason, as bot.domain.deal_score writes them."""
    return {"score": score, "reason": f"{percent}% below the median of {n} similar listings"}


DEAL_18 = {"score": 0.597, "reason": "18% below the median of 12 similar listings"}
DEAL_35 = {"score": 0.704, "reason": "35% below the median of 30 similar listings"}

MARKET = [
    listing(1, "Gaming desktop PC, RTX 3060", "580", **DEAL_18),
    listing(2, "Herman Miller Aeron chair size B", "400", **DEAL_35),
    listing(3, "Gaming PC i7 RTX 3080", "650", score=0.5, reason="about the median of 8 similar"),
    listing(4, "Steelcase Leap chair", "300", **below(10, 6, 0.55)),
    listing(5, "Oak desk", "100", **below(67, 9, 0.9)),
    listing(6, "Gaming PC RTX 4090", "1500"),
]


def by_id(items: list[Any]) -> dict[int, Any]:
    return {r.listing.id: r for r in items}


def test_reasons_name_the_strongest_signals() -> None:
    profile = Profile(rules=(GAMING_PC,), watched=(Seen(50, "Aeron chair"),))
    ranked = by_id(recommend(MARKET, profile))
    assert reason_line(ranked[1]) == "similar to your alert Budget Gaming PC; 18% below typical"
    assert reason_line(ranked[2]) == "like the Aeron chair you're watching; 35% below typical"
    assert reason_line(ranked[3]) == (
        "almost matches your alert Budget Gaming PC (8% over your max price)"
    )
    assert 5 not in ranked  # a great deal, but nothing ties it to this user
    assert 6 not in ranked  # like the alert's words, but 2.5 times its budget


def test_the_score_is_the_sum_of_the_documented_weights() -> None:
    profile = Profile(rules=(GAMING_PC,), watched=(Seen(50, "Aeron chair"),))
    ranking = rank(MARKET, profile)
    pc = ranking.get(3)
    assert pc is not None
    [near] = pc.signals.fits
    assert pc.points(SignalKind.ALERT_NEAR) == pytest.approx(0.6 - 0.3 * near.slack_used)
    # An alert that fits is not counted again for its words.
    assert [s.subject_id for s in pc.signals.rule_similar] == [GAMING_PC.id]
    assert not pc.signals.similar_alerts
    assert [c.kind for c in pc.breakdown] == [SignalKind.ALERT_NEAR, SignalKind.DEAL]
    assert pc.total == pytest.approx(sum(c.points for c in pc.breakdown if c.counted))
    chair = ranking.get(2)
    assert chair is not None
    sim = chair.signals.watched_similar[0].similarity
    deal = 1.0 * (0.704 - 0.5) * round(confidence(30), 3)
    assert chair.total == pytest.approx(WEIGHTS[SignalKind.WATCH_SIMILAR] * sim + deal, abs=1e-3)


def test_ranking_is_by_total_then_deal_then_newest_and_deterministic() -> None:
    profile = Profile(rules=(rule(20, "Chairs", "chair"),))
    same = [
        listing(1, "Office chair", age_hours=5, score=0.6),
        listing(2, "Office chair", age_hours=1, score=0.6),
        listing(3, "Office chair", age_hours=9, score=0.7),
        listing(4, "Office chair", age_hours=3),
    ]
    expected = [3, 2, 1, 4]
    assert [r.listing.id for r in recommend(same, profile)] == expected
    shuffled = same[:]
    random.Random(7).shuffle(shuffled)
    assert [r.listing.id for r in recommend(shuffled, profile)] == expected


def test_without_alerts_or_watches_the_best_deals_are_shown() -> None:
    ranked = recommend(MARKET, Profile())
    assert [r.listing.id for r in ranked] == [5, 2, 1, 4]  # scored and below typical
    assert reason_line(ranked[0]) == "67% below typical"
    # Dismissals alone do not make it personal, but they still count against look-alikes.
    dismissed = recommend(MARKET, Profile(not_interested=(Seen(60, "Oak desk"),)))
    assert 5 not in {r.listing.id for r in dismissed}


def test_an_empty_market_and_an_empty_profile() -> None:
    assert recommend([], Profile(rules=(GAMING_PC,))) == []
    assert len(rank([], Profile())) == 0


# --------------------------------------------------------------------------------------------
# Feedback moves items
# --------------------------------------------------------------------------------------------

CHAIRS = rule(30, "Office chairs", "chair")
CHAIR_MARKET = [
    listing(1, "Herman Miller Aeron chair size B", "450", **below(20, 20, 0.62)),
    listing(2, "Aeron chair graphite fully loaded", "500", **below(18, 20, 0.6)),
    listing(3, "Steelcase Leap chair V2", "350", **below(15, 20, 0.58)),
    listing(4, "IKEA Markus office chair", "90", **below(11, 20, 0.56)),
    listing(5, "Oak desk with drawers", "120", **below(67, 20, 0.9)),
]


def order(profile: Profile) -> list[int]:
    return [r.listing.id for r in recommend(CHAIR_MARKET, profile)]


def test_not_interested_sinks_look_alikes() -> None:
    before = order(Profile(rules=(CHAIRS,)))
    assert before == [1, 2, 3, 4]
    after = order(
        Profile(rules=(CHAIRS,), not_interested=(Seen(70, "Aeron chair by Herman Miller"),))
    )
    assert after.index(1) > after.index(3) and after.index(2) > after.index(4)
    assert after[:2] == [3, 4]
    ranking = rank(
        CHAIR_MARKET, Profile(rules=(CHAIRS,), not_interested=(Seen(70, "Aeron chair"),))
    )
    aeron = ranking.get(2)
    assert aeron is not None
    penalty = aeron.points(SignalKind.NOT_INTERESTED_SIMILAR)
    assert penalty == pytest.approx(-aeron.signals.not_interested_similar[0].similarity)
    assert penalty < -MIN_SIMILARITY


def test_watching_lifts_look_alikes() -> None:
    watched = Profile(rules=(CHAIRS,), watched=(Seen(80, "Steelcase Leap chair"),))
    assert order(watched)[0] == 3
    ranking = rank(CHAIR_MARKET, watched)
    assert reason_line(ranking.top(1)[0]) == (
        "matches your alert Office chairs; like the Steelcase Leap chair you're watching; "
        "15% below typical"
    )
    # A watched desk brings desks in even without an alert for them.
    desk = Profile(rules=(CHAIRS,), watched=(Seen(81, "Oak desk"),))
    assert 5 in order(desk)


def test_a_dismissal_can_outweigh_a_weak_fit() -> None:
    profile = Profile(
        watched=(Seen(90, "Oak desk"),), not_interested=(Seen(91, "Oak desk with drawers"),)
    )
    market = [*CHAIR_MARKET[:4], listing(5, "Oak desk with drawers", "120")]
    ranking = rank(market, profile)
    desk = ranking.get(5)
    assert desk is not None and desk.fit > 0 and desk.total < 0 and not desk.eligible
    assert ranking.position(5) is None


# --------------------------------------------------------------------------------------------
# Consistency
# --------------------------------------------------------------------------------------------


def test_gather_signals_keeps_the_input_order_and_only_the_users_alerts() -> None:
    theirs = Rule(id=99, user_id=OTHER, name="Theirs", keywords=("desk",))
    signals = gather_signals(CHAIR_MARKET, Profile(rules=(CHAIRS,)))
    assert len(signals) == len(CHAIR_MARKET)
    assert all(f.rule_id == CHAIRS.id for s in signals for f in s.fits)
    assert not signals[4].fits  # the desk: no chair alert fits it
    assert theirs.id not in {f.rule_id for s in signals for f in s.fits}


def test_totals_always_equal_the_counted_breakdown() -> None:
    rng = random.Random(3)
    words = ["aeron", "chair", "desk", "oak", "gaming", "pc", "rtx", "leap", "lamp", "sofa"]
    market = [
        listing(
            i,
            " ".join(rng.sample(words, 3)),
            str(rng.randint(10, 900)),
            score=rng.choice([None, rng.random()]),
            age_hours=rng.random() * 100,
        )
        for i in range(1, 120)
    ]
    profile = Profile(
        rules=(rule(1, "a", "aeron chair", max_price=Decimal("400")), rule(2, "b", "gaming")),
        watched=(Seen(500, "oak desk lamp"),),
        not_interested=(Seen(501, "vinyl record sofa"),),
    )
    ranking = rank(market, profile)
    totals = []
    for item in market:
        rec = ranking.get(item.id)
        assert rec is not None
        counted = sum(c.points for c in rec.breakdown if c.counted)
        assert rec.total == pytest.approx(counted, abs=1e-3)
        assert rec.eligible == (rec.total > 0 and rec.fit > 0)
        assert rec.eligible == (ranking.position(item.id) is not None)
        if rec.eligible:
            totals.append((ranking.position(item.id), rec.total))
    assert [t for _, t in sorted(totals)] == sorted((t for _, t in totals), reverse=True)


def test_signal_words_for_why() -> None:
    rec = score(
        listing(1, "Aeron chair", **DEAL_35),
        Signals(
            similar_alerts=(Similar(10, "Chairs", 0.1),),
            watched_similar=(Similar(2, "Aeron chair graphite", 0.7),),
            deal=deal_facts(listing(1, "x", **DEAL_35)),
        ),
    )
    lines = {c.kind: signal_text(c) for c in rec.breakdown}
    assert lines[SignalKind.WATCH_SIMILAR] == (
        "like the Aeron chair graphite you're watching (similarity 0.70)"
    )
    assert lines[SignalKind.ALERT_SIMILAR] == "words like your alert Chairs (similarity 0.10)"
    assert lines[SignalKind.DEAL] == (
        "deal score 0.70 (35% below typical; confidence 0.95, from 30 similar listings)"
    )
    weak = next(c for c in rec.breakdown if c.kind is SignalKind.ALERT_SIMILAR)
    assert not weak.counted  # under MIN_SIMILARITY


def test_words_like_an_alert_whose_other_checks_fail_are_shown_not_counted() -> None:
    chairs = rule(40, "Chairs", "chair", max_price=Decimal("350"))
    ranking = rank([listing(1, "Aeron chair graphite", "500")], Profile(rules=(chairs,)))
    rec = ranking.get(1)
    assert rec is not None and not rec.eligible and rec.total == 0
    [words] = rec.breakdown
    assert words.kind is SignalKind.ALERT_SIMILAR and words.unused is Unused.CHECKS_FAIL
    assert words.similarity is not None and words.similarity >= MIN_SIMILARITY
    assert signal_line(words, "en").endswith(
        "(not counted: the alert's other checks fail, see below)"
    )
