"""Recommendations for ``/deals for-me``: rank listings for one user, each with a reason.

PURE: no database, no Discord. The service hands in the candidate listings and the user's
:class:`Profile` (their alerts, the titles of the listings they watch and of those they marked
"Not interested"); this module computes every signal, the score, the ranking and the structured
parts of the one-line reason (the cog words them through ``bot.i18n``).

Signals of one candidate, and the points each adds to its score:

============================  ==========================  ======================================
signal                        points                      reason part
============================  ==========================  ======================================
matches one of your alerts    ``+1.00``                   "matches your alert Desks"
almost matches an alert       ``+0.60`` to ``+0.30``      "almost matches your alert Desks
                                                          (12% over your max price)"
title like an alert's words   ``+0.80 x s``               "similar to your alert Desks"
title like a watched one      ``+0.90 x s``               "like the Aeron chair you're watching"
title like a dismissed one    ``-1.00 x s``               (``/deals why`` only)
deal score d, confidence c    ``+1.00 x (d - 0.5) x c``   "18% below typical"
============================  ==========================  ======================================

* **Matches** come from the matching index itself (:class:`RuleIndex` over the user's alerts,
  paused ones included: pausing stops messages, not interest). "Almost" means every check passes
  once the price may be up to :data:`PRICE_SLACK` (20%) over the alert's maximum and the place up
  to :data:`RADIUS_SLACK` (50%) beyond its radius; the points fall linearly from 0.60 at the edge
  of the alert to 0.30 when the whole slack is used. Keywords, excluded words, category,
  condition and minimum score are never relaxed: they say *what* the user wants.
* **Similarity** ``s`` is the cosine of TF-IDF vectors (scikit-learn, fitted on this call's
  candidate titles and the user's texts) of folded, meaningful words and word pairs: a listing's
  title against an alert's keywords (its name when it has none), a watched listing's title, a
  dismissed one's. Below :data:`MIN_SIMILARITY` (0.2) a similarity is noise and counts nothing.
  An alert's similarity counts only for an alert that does not already fit and whose other
  checks (price and place within the slack, category, condition, excluded words) pass: "gaming
  desktop PC" is like the alert "gaming pc", but not at three times its budget.
* **Only the best alert counts**: a listing's alert signals are not added up, the strongest is
  its alert fit. The watch signal and the dismissal penalty are each the most similar listing's.
* **Deal**: the listing's explainable deal score (:mod:`bot.domain.deal_score`) moves it by at
  most 0.5 either way, scaled by how many comparables the score rests on (its confidence). An
  unscored listing gets nothing.

``total = alert fit + watch fit - dismissal penalty + deal``. A listing is recommended when its
fit (alert + watch) is positive and its total is too. A user with no alerts and no watched
listings gets the best deals instead (deal points positive), and is told how to make them
personal. Ties go to the better deal score, then the newer listing: the ranking is
deterministic.

Why these weights: an alert match is the unit (the user literally asked for it). A near miss is
their own alert stretched a little, worth less than a match but more than most word overlaps. A
watched listing is a concrete item the user acted on, stronger evidence than an alert's (often
broad) keywords, hence 0.9 against 0.8, both below a real match because similarity is fuzzy. A
dismissal is explicit feedback, so it weighs as much as the strongest positive evidence: a close
relist of a dismissed item sinks below other matches. The deal score reorders listings that fit
about equally but never lifts an unrelated listing over a real match (at most +0.5).
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from itertools import pairwise
from typing import Final

import numpy as np
import numpy.typing as npt

from bot.domain.deal_score import DEFAULT_MIN_COMPARABLES, confidence, keyword_set
from bot.domain.listing import Listing
from bot.domain.matching import RuleIndex, matches
from bot.domain.rule import Rule
from bot.domain.text import tokens

__all__ = [
    "MIN_SIMILARITY",
    "PRICE_SLACK",
    "RADIUS_SLACK",
    "WEIGHTS",
    "Contribution",
    "DealFacts",
    "Profile",
    "Ranking",
    "Recommendation",
    "RuleFit",
    "Seen",
    "SignalKind",
    "Signals",
    "Similar",
    "Unused",
    "deal_facts",
    "gather_signals",
    "rank",
    "recommend",
    "rule_fit",
    "score",
    "similarity_matrix",
    "terms",
]

PRICE_SLACK: Final = 0.20
"""An "almost" match may cost up to 20% more than the alert's maximum price."""
RADIUS_SLACK: Final = 0.50
"""An "almost" match may be up to 50% further than the alert's radius."""
MIN_SIMILARITY: Final = 0.20
"""TF-IDF cosines below this are noise and count nothing."""
NEAR_MAX: Final = 0.60
NEAR_MIN: Final = 0.30
REASON_FIT_PARTS: Final = 2
"""The reason line names at most this many fit signals (then the deal, when it is one)."""
SIGNALS_KEPT: Final = 5
"""Per candidate, the most similar alerts / watched / dismissed listings kept for ``why``."""


class SignalKind(enum.StrEnum):
    ALERT_MATCH = "alert_match"
    ALERT_NEAR = "alert_near"
    ALERT_SIMILAR = "alert_similar"
    WATCH_SIMILAR = "watch_similar"
    NOT_INTERESTED_SIMILAR = "not_interested_similar"
    DEAL = "deal"


WEIGHTS: Final[dict[SignalKind, float]] = {
    SignalKind.ALERT_MATCH: 1.0,
    SignalKind.ALERT_NEAR: NEAR_MAX,  # falls to NEAR_MIN as the slack is used up
    SignalKind.ALERT_SIMILAR: 0.8,  # x cosine similarity
    SignalKind.WATCH_SIMILAR: 0.9,  # x cosine similarity
    SignalKind.NOT_INTERESTED_SIMILAR: -1.0,  # x cosine similarity
    SignalKind.DEAL: 1.0,  # x (deal score - 0.5) x confidence
}
"""The documented weights (module docstring); ``/deals why`` shows each product."""

_ALERT_KINDS: Final = frozenset(
    {SignalKind.ALERT_MATCH, SignalKind.ALERT_NEAR, SignalKind.ALERT_SIMILAR}
)
_FIT_KINDS: Final = _ALERT_KINDS | {SignalKind.WATCH_SIMILAR}


# --------------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Seen:
    """A listing the user reacted to (watched, or marked not interested): its id and title."""

    listing_id: int
    title: str


@dataclass(frozen=True, slots=True)
class Profile:
    """What one user told us: their alerts, and the listings they watch or dismissed."""

    rules: tuple[Rule, ...] = ()
    watched: tuple[Seen, ...] = ()
    not_interested: tuple[Seen, ...] = ()

    @property
    def personal(self) -> bool:
        """Is there anything to personalise with? (Dismissals alone only subtract.)"""
        return bool(self.rules or self.watched)


@dataclass(frozen=True, slots=True)
class DealFacts:
    """A listing's deal score as the ranking uses it."""

    score: float
    percent_below: float
    """Positive below the median of comparable listings, negative above."""
    comparables: int | None
    """How many listings the median rests on (``None`` when the stored reason does not say)."""
    confidence: float


_DEAL_REASON = re.compile(
    r"^(?:(?P<pct>\d+)% (?P<dir>below|above)|about) the median of (?P<n>\d+) similar listings?$"
)


def deal_facts(listing: Listing) -> DealFacts | None:
    """The deal facts of a scored listing (``None`` when it has no score).

    The percentage and the number of comparables are read back from the stored reason
    (:attr:`bot.domain.deal_score.DealScore.reason`, "23% below the median of 41 similar
    listings") so the reason line quotes the very number the listing shows. When the reason
    does not have that shape the percentage is recomputed from the score
    (``score = 1 / (1 + ratio**2)``) and the confidence is that of the fewest comparables a
    score can rest on by default.
    """
    value = listing.deal_score
    if value is None or not math.isfinite(value):
        return None
    value = min(1.0, max(0.0, value))
    found = _DEAL_REASON.match((listing.deal_reason or "").strip())
    if found is not None:
        count: int | None = int(found["n"])
        pct = 0.0 if found["pct"] is None else float(found["pct"])
        percent = -pct if found["dir"] == "above" else pct
    else:
        count = None
        ratio = math.sqrt(1.0 / max(value, 1e-9) - 1.0)
        percent = (1.0 - ratio) * 100.0
    trust = confidence(count if count is not None else DEFAULT_MIN_COMPARABLES)
    return DealFacts(value, percent, count, round(trust, 3))


# --------------------------------------------------------------------------------------------
# Alert fit: the matching index over the user's alerts, strict and relaxed
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RuleFit:
    """One of the user's alerts matching a listing, exactly or almost."""

    rule_id: int
    rule_name: str
    strict: bool
    price_over: float | None = None
    """How far over the alert's maximum price, as a fraction (0.12 = 12%), when it is."""
    miles_over: float | None = None
    """How many miles beyond the alert's radius, when it is."""

    slack_used: float = 0.0
    """How much of the allowed stretch a near miss needs: 0 (none) to 1 (all of it)."""

    @property
    def points(self) -> float:
        if self.strict:
            return WEIGHTS[SignalKind.ALERT_MATCH]
        return NEAR_MAX - (NEAR_MAX - NEAR_MIN) * self.slack_used


_CENT = Decimal("0.01")


def _relaxed(rule: Rule) -> Rule:
    """The rule with the slack applied (and active: paused alerts still say what one likes)."""
    max_price = rule.max_price
    if max_price is not None:
        stretched = max_price * Decimal(str(1 + PRICE_SLACK))
        max_price = stretched.quantize(_CENT, rounding=ROUND_HALF_UP)
    radius = rule.radius_mi
    if radius is not None:
        radius = radius * (1 + RADIUS_SLACK)
    return replace(rule, active=True, max_price=max_price, radius_mi=radius)


def rule_fit(rule: Rule, listing: Listing) -> RuleFit | None:
    """Does ``rule`` match ``listing`` exactly, almost (within the slack), or not at all?

    The exact answer is :func:`bot.domain.matching.matches` (the alert pipeline's own meaning);
    "almost" is the same check on the relaxed rule. A seller's own listing never fits.
    """
    return _fit(rule, replace(rule, active=True), _relaxed(rule), listing)


def _fit(rule: Rule, active: Rule, relaxed: Rule, listing: Listing) -> RuleFit | None:
    if rule.seller_is_owner(listing):
        return None
    if matches(active, listing):
        return RuleFit(rule.id, rule.name, strict=True)
    if not matches(relaxed, listing):
        return None
    price_over = None
    if (
        rule.max_price is not None
        and listing.price is not None
        and listing.price > rule.max_price
        and rule.max_price > 0
    ):
        price_over = float(listing.price / rule.max_price) - 1.0
    miles_over = None
    radius = rule.radius_mi or 0.0
    if rule.point is not None and listing.point is not None and rule.radius_mi is not None:
        miles = rule.point.distance_mi(listing.point)
        if miles > rule.radius_mi:
            miles_over = miles - rule.radius_mi
    used = 0.0 if price_over is None else price_over / PRICE_SLACK
    if miles_over is not None and radius > 0:
        used = max(used, miles_over / (RADIUS_SLACK * radius))
    return RuleFit(
        rule.id,
        rule.name,
        strict=False,
        price_over=price_over,
        miles_over=miles_over,
        slack_used=min(1.0, max(0.0, used)),
    )


# --------------------------------------------------------------------------------------------
# Text similarity: TF-IDF over titles
# --------------------------------------------------------------------------------------------


@lru_cache(maxsize=1 << 14)
def _terms(text: str) -> tuple[str, ...]:
    meaningful = keyword_set(text)
    words = [w for w in tokens(text) if w in meaningful]
    return (*words, *(f"{a} {b}" for a, b in pairwise(words)))


def terms(text: str) -> list[str]:
    """The TF-IDF features of a text: its meaningful folded words, then adjacent word pairs.

    Folding is :func:`bot.domain.text.tokens` (case, accents, plurals), the words that say
    nothing about the item ("new", "for", "obo"...) are those :func:`keyword_set` drops, and the
    pairs make "aeron chair" closer to "aeron chair" than to "gaming chair".
    """
    return list(_terms(text))


def similarity_matrix(documents: Sequence[str], queries: Sequence[str]) -> npt.NDArray[np.float64]:
    """Cosine similarity of every document (row) to every query (column), in [0, 1].

    TF-IDF (sublinear term frequency, smoothed idf, l2 norm) fitted on this call's texts, the
    documents and the queries together: a word in most candidate titles says little about any
    of them, and a query's own words stay in its norm, so "Cherry desk" is only a little like
    "Walnut desk" (the word they share is common) rather than as like it as "desk" alone.
    """
    out = np.zeros((len(documents), len(queries)), dtype=np.float64)
    if not documents or not queries:
        return out
    from sklearn.feature_extraction.text import TfidfVectorizer  # slow to import: on first use

    vectorizer = TfidfVectorizer(analyzer=terms, sublinear_tf=True, norm="l2")
    try:
        vectorizer.fit([*documents, *queries])
    except ValueError:  # not one meaningful word anywhere
        return out
    products = vectorizer.transform(documents) @ vectorizer.transform(queries).T
    return np.clip(np.asarray(products.toarray(), dtype=np.float64), 0.0, 1.0)


# --------------------------------------------------------------------------------------------
# Signals
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Similar:
    """A title similarity: to which alert or listing (id and name/title), and how much."""

    subject_id: int
    subject: str
    similarity: float


@dataclass(frozen=True, slots=True)
class Signals:
    """Everything known about one candidate for one user, strongest first in each list."""

    fits: tuple[RuleFit, ...] = ()
    """The user's alerts that match the listing, exactly or almost."""
    rule_similar: tuple[Similar, ...] = ()
    """The alerts whose words are most like the title, whatever their other checks say."""
    similar_alerts: tuple[Similar, ...] = ()
    """Of those, the ones that count: similar enough, not already a fit, and every check but
    the keywords passing within the slack (price, place, category, condition, excluded words)."""
    watched_similar: tuple[Similar, ...] = ()
    not_interested_similar: tuple[Similar, ...] = ()
    deal: DealFacts | None = None


def _rule_query(rule: Rule) -> str:
    return " ".join(rule.keywords) if rule.keywords else rule.name


def _tops(
    block: npt.NDArray[np.float64], subjects: Sequence[tuple[int, str]]
) -> list[tuple[Similar, ...]]:
    """Per row of ``block`` (a candidate), its most similar subjects, zeros left out; ties go to
    the earlier subject."""
    if not subjects:
        return [() for _ in range(block.shape[0])]
    order = np.argsort(-block, axis=1, kind="stable")[:, :SIGNALS_KEPT]
    best = np.take_along_axis(block, order, axis=1)
    return [
        tuple(
            Similar(subjects[j][0], subjects[j][1], round(v, 4))
            for j, v in zip(cols, values, strict=True)
            if v > 0
        )
        for cols, values in zip(order.tolist(), best.tolist(), strict=True)
    ]


def gather_signals(listings: Sequence[Listing], profile: Profile) -> list[Signals]:
    """The signals of each listing (same order) for the user of ``profile``.

    Alert fits come from a :class:`RuleIndex` of the user's alerts *relaxed* by the slack, so
    each listing looks up only the alerts that could fit it; each candidate pair is then decided
    by :func:`rule_fit`. Similarities come from one TF-IDF fit over the titles and the user's
    texts; an alert's similarity counts only where the alert does not fit and its checks other
    than the keywords pass within the slack (a similar title over the budget is not "for you").
    """
    rules = {r.id: r for r in profile.rules}
    relaxed = {r.id: _relaxed(r) for r in rules.values()}
    active = {r.id: replace(r, active=True) for r in rules.values()}
    wordless = {i: replace(r, keywords=()) for i, r in relaxed.items()}
    index = RuleIndex.build(relaxed.values())
    rule_subjects = [(r.id, r.name) for r in rules.values()]
    watched = [(s.listing_id, s.title) for s in profile.watched]
    dismissed = [(s.listing_id, s.title) for s in profile.not_interested]
    queries = [_rule_query(r) for r in rules.values()]
    queries += [title for _, title in watched] + [title for _, title in dismissed]
    sims = similarity_matrix([listing.title for listing in listings], queries)
    a, b = len(rule_subjects), len(rule_subjects) + len(watched)
    by_rule, by_watch, by_dismissal = (
        _tops(sims[:, :a], rule_subjects),
        _tops(sims[:, a:b], watched),
        _tops(sims[:, b:], dismissed),
    )
    out = []
    for i, listing in enumerate(listings):
        ids = index.match(listing)
        fits = (_fit(rules[r], active[r], relaxed[r], listing) for r in ids)
        found = sorted((f for f in fits if f is not None), key=lambda f: (-f.points, f.rule_id))
        fitted = {f.rule_id for f in found}
        similar = tuple(
            sim
            for sim in by_rule[i]
            if sim.similarity >= MIN_SIMILARITY
            and sim.subject_id not in fitted
            and not rules[sim.subject_id].seller_is_owner(listing)
            and matches(wordless[sim.subject_id], listing)
        )
        out.append(
            Signals(
                fits=tuple(found),
                rule_similar=by_rule[i],
                similar_alerts=similar,
                watched_similar=by_watch[i],
                not_interested_similar=by_dismissal[i],
                deal=deal_facts(listing),
            )
        )
    return out


# --------------------------------------------------------------------------------------------
# Scores and reasons
# --------------------------------------------------------------------------------------------


class Unused(enum.StrEnum):
    """Why a signal is shown but adds no points."""

    WEAK = "weak"  # similarity under MIN_SIMILARITY
    NOT_STRONGEST = "not_strongest"  # only the best alert / most similar listing counts
    CHECKS_FAIL = "checks_fail"  # words like an alert whose other checks fail


@dataclass(frozen=True, slots=True)
class Contribution:
    """One signal's points; ``unused`` says why a signal shown by ``/deals why`` adds nothing."""

    kind: SignalKind
    points: float
    unused: Unused | None = None
    subject: str = ""
    """The alert's name or the other listing's title (untrusted text: escape it to show it)."""
    subject_id: int | None = None
    similarity: float | None = None
    fit: RuleFit | None = None
    deal: DealFacts | None = None

    @property
    def counted(self) -> bool:
        return self.unused is None


@dataclass(frozen=True, slots=True)
class Recommendation:
    listing: Listing
    total: float
    eligible: bool
    breakdown: tuple[Contribution, ...]
    """Every signal, counted ones first, strongest first."""
    reason: tuple[Contribution, ...]
    """The parts of the one-line reason, in order: the strongest fits, then the deal."""
    signals: Signals = field(default_factory=Signals)

    @property
    def fit(self) -> float:
        return sum(c.points for c in self.breakdown if c.counted and c.kind in _FIT_KINDS)

    def points(self, kind: SignalKind) -> float:
        return sum(c.points for c in self.breakdown if c.counted and c.kind is kind)


@dataclass(frozen=True, slots=True)
class _Tally:
    """The counted points of one candidate, without building its breakdown (ranking 2,000
    candidates needs only these; the breakdown is built for the few that are shown)."""

    alert: float
    alert_pick: RuleFit | Similar | None
    """The one alert signal that counts: the strongest fit or alert similarity."""
    watch: float
    dismissal: float
    deal: float

    @property
    def fit(self) -> float:
        return self.alert + self.watch

    @property
    def total(self) -> float:
        return round(self.alert + self.watch + self.dismissal + self.deal, 4)

    def eligible(self, personal: bool) -> bool:
        return self.total > 0 and (self.fit > 0 if personal else self.deal > 0)


def _sim_points(kind: SignalKind, sim: Similar) -> float:
    return round(WEIGHTS[kind] * sim.similarity, 4)


def _first_counted(kind: SignalKind, sims: tuple[Similar, ...]) -> float:
    if not sims or sims[0].similarity < MIN_SIMILARITY:
        return 0.0
    return _sim_points(kind, sims[0])


def _deal_points(deal: DealFacts | None) -> float:
    if deal is None:
        return 0.0
    return round(WEIGHTS[SignalKind.DEAL] * (deal.score - 0.5) * deal.confidence, 4)


def _tally(signals: Signals) -> _Tally:
    """Which signals count and for how much (see the module docstring)."""
    pick: RuleFit | Similar | None = None
    best = 0.0
    for fit in signals.fits:  # strongest first; a fit wins a tie with a similarity
        if pick is None or round(fit.points, 4) > best:
            pick, best = fit, round(fit.points, 4)
    for sim in signals.similar_alerts:
        points = _sim_points(SignalKind.ALERT_SIMILAR, sim)
        if sim.similarity >= MIN_SIMILARITY and (pick is None or points > best):
            pick, best = sim, points
    return _Tally(
        alert=best if pick is not None else 0.0,
        alert_pick=pick,
        watch=_first_counted(SignalKind.WATCH_SIMILAR, signals.watched_similar),
        dismissal=_first_counted(SignalKind.NOT_INTERESTED_SIMILAR, signals.not_interested_similar),
        deal=_deal_points(signals.deal),
    )


def _unused(sim: Similar, counts: bool) -> Unused | None:
    if sim.similarity < MIN_SIMILARITY:
        return Unused.WEAK
    return None if counts else Unused.NOT_STRONGEST


def _breakdown(signals: Signals, tally: _Tally) -> list[Contribution]:
    pick = tally.alert_pick
    parts = [
        Contribution(
            SignalKind.ALERT_MATCH if f.strict else SignalKind.ALERT_NEAR,
            round(f.points, 4),
            None if f == pick else Unused.NOT_STRONGEST,
            subject=f.rule_name,
            subject_id=f.rule_id,
            fit=f,
        )
        for f in signals.fits
    ]
    fitted = {f.rule_id for f in signals.fits}
    extra = [s for s in signals.similar_alerts if s not in signals.rule_similar]
    for sim in (*signals.rule_similar, *extra):
        if sim.subject_id in fitted:
            continue  # the fit says more than the words
        if sim.similarity >= MIN_SIMILARITY and sim not in signals.similar_alerts:
            unused: Unused | None = Unused.CHECKS_FAIL
        else:
            unused = _unused(sim, sim == pick)
        parts.append(_similar_part(SignalKind.ALERT_SIMILAR, sim, unused))
    for kind, sims in (
        (SignalKind.WATCH_SIMILAR, signals.watched_similar),
        (SignalKind.NOT_INTERESTED_SIMILAR, signals.not_interested_similar),
    ):
        parts += [_similar_part(kind, s, _unused(s, i == 0)) for i, s in enumerate(sims)]
    if signals.deal is not None:
        parts.append(Contribution(SignalKind.DEAL, tally.deal, deal=signals.deal))
    return parts


def _similar_part(kind: SignalKind, sim: Similar, unused: Unused | None) -> Contribution:
    return Contribution(
        kind,
        _sim_points(kind, sim),
        unused,
        subject=sim.subject,
        subject_id=sim.subject_id,
        similarity=sim.similarity,
    )


def score(listing: Listing, signals: Signals, *, personal: bool = True) -> Recommendation:
    """The listing's score, its breakdown and its reason (see the module docstring).

    ``personal`` False (the user has no alerts and watches nothing) ranks by the deal alone.
    """
    tally = _tally(signals)
    parts = _breakdown(signals, tally)
    breakdown = sorted(parts, key=lambda c: (not c.counted, -abs(c.points)))
    fits = [c for c in breakdown if c.counted and c.kind in _FIT_KINDS and c.points > 0]
    reason = fits[:REASON_FIT_PARTS]
    reason += [
        c
        for c in breakdown
        if c.kind is SignalKind.DEAL and c.deal is not None and round(c.deal.percent_below) >= 1
    ]
    return Recommendation(
        listing, tally.total, tally.eligible(personal), tuple(breakdown), tuple(reason), signals
    )


def _order(total: float, listing: Listing) -> tuple[float, float, float, int]:
    deal = listing.deal_score
    newer = -listing.created_at.timestamp()
    return (-total, -(deal if deal is not None else -1.0), newer, -listing.id)


@dataclass(frozen=True, slots=True)
class Ranking:
    """Every candidate of one call, scored; the eligible ones in order."""

    personal: bool
    order: tuple[int, ...]
    """Ids of the eligible listings, best first."""
    entries: dict[int, tuple[Listing, Signals]]

    def __len__(self) -> int:
        return len(self.order)

    def top(self, limit: int) -> list[Recommendation]:
        return [r for r in map(self.get, self.order[:limit]) if r is not None]

    def get(self, listing_id: int) -> Recommendation | None:
        """The scored recommendation of any candidate, eligible or not."""
        entry = self.entries.get(listing_id)
        if entry is None:
            return None
        return score(entry[0], entry[1], personal=self.personal)

    def position(self, listing_id: int) -> int | None:
        """1-based rank of a listing among the eligible ones, ``None`` when it is not one."""
        try:
            return self.order.index(listing_id) + 1
        except ValueError:
            return None


def rank(listings: Iterable[Listing], profile: Profile) -> Ranking:
    """Score every listing for the user of ``profile`` and order the eligible ones."""
    unique = list({listing.id: listing for listing in listings}.values())
    personal = profile.personal
    signals = gather_signals(unique, profile)
    keyed = []
    for listing, found in zip(unique, signals, strict=True):
        tally = _tally(found)
        if tally.eligible(personal):
            keyed.append((_order(tally.total, listing), listing.id))
    keyed.sort()
    entries = {li.id: (li, s) for li, s in zip(unique, signals, strict=True)}
    return Ranking(personal, tuple(i for _, i in keyed), entries)


def recommend(
    listings: Iterable[Listing], profile: Profile, limit: int = 10
) -> list[Recommendation]:
    """The ``limit`` best recommendations."""
    return rank(listings, profile).top(limit)
