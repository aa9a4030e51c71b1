"""Explainable deal score: how a listing's price compares with similar listings.

It replaced the interim linear score (0.5 + (median − price) / 2·median). Every number a user
sees must be one they could check by hand, so the model is deliberately small:

1. **Comparables** (:func:`select_comparables`): same category, same currency, seen (sold or
   still active) within a window, and with titles that share enough *meaningful* keywords.
2. **Robust centre** (:func:`score_listing`): drop wild prices (placeholders like "$1, message
   me", typos like "$40000") by their robust z-score, then take the median and the MAD of the rest.
3. **Score**: a smooth function of ``price / median`` — 0.5 at the median, higher when cheaper.

Too few comparables gives no score and a reason saying so ("flagged, not guessed"): a rule with a
minimum score then does not match, rather than trusting a median of three listings.

Modelling choices, and why:

* **Keyword overlap is Jaccard** (shared / union of meaningful tokens), not a shared-token count.
  A count favours long, wordy titles that share "chair" with every chair; Jaccard also penalises
  what differs, so "rtx 3080" and "rtx 3070" (1/3) are different products while "aeron chair"
  and "herman miller aeron chair size" (2/5) are the same one. Filler and condition words ("for",
  "new", "used", "obo"...) do not count: "new chair" and "new phone" share nothing meaningful.
* **Outliers are judged on log prices.** Price spreads are multiplicative (half and double the
  median are equally unusual), and on a linear scale a $1 placeholder in a market with a wide
  spread is never more than a few MADs below the median, so it could not be caught at all.
  A price is dropped when its modified z-score (Iglewicz & Hoaglin: distance from the median in
  units of 1.4826 x MAD, which estimates the standard deviation for normal data) exceeds 3.5.
  The trim is one pass, not iterated, so the result cannot erode a genuinely wide market.
* **The spread has a floor** of 5% (in log terms). When most sellers ask the same round price,
  the MAD is 0 and every other price would be "infinitely" unusual; the floor keeps a price 10%
  off a unanimous market ordinary.
* **Score = 1 / (1 + (price / median)**2)**, i.e. a logistic curve in ``log(price / median)``.
  It is smooth, strictly decreasing in price, exactly 0.5 at the median, 1.0 for free, tends to 0
  for absurd prices, and is symmetric in ratio (score(half) + score(double) = 1). The exponent 2
  gives a slope of -0.5 per unit of ``price / median`` at the median, the same as the interim
  linear score, so score thresholds users already set keep their meaning near the median.
* **Confidence = 1 - exp(-n / 10)** for ``n`` comparables: 0.39 at 5, 0.63 at 10, 0.95 at 30.
  It saturates because past a few dozen listings more data barely moves a median;
  ``n / (n + k)`` approaches 1 so slowly that it never says "confident". It depends only on the
  count, so it is explainable as "how many listings this rests on".
* **Flagged** means the listing's own price is too far off to take at face value: an outlier by
  the same 3.5 rule against the kept comparables *and* at most half or at least double the
  median. Both, because in a tight market a genuine 25%-off deal is already "statistically
  unusual" and flagging it would flag the very deals the bot exists for, while in a wide market
  (used cars) half the median is ordinary. What is left is too good to be true (a scam, a typo,
  parts or an accessory rather than the item) or absurdly high. The score is still given; the
  caller decides how to warn.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from statistics import median
from typing import Final

from bot.domain.text import tokens as fold_tokens

__all__ = [
    "NO_PRICE",
    "Comparable",
    "DealScore",
    "ScoreResult",
    "confidence",
    "drop_outliers",
    "insufficient",
    "keyword_overlap",
    "keyword_set",
    "score_listing",
    "select_comparables",
]

DEFAULT_WINDOW_DAYS: Final = 90
DEFAULT_MIN_OVERLAP: Final = 0.4  # Jaccard; see the module docstring
DEFAULT_MIN_COMPARABLES: Final = 5

OUTLIER_Z: Final = 3.5  # Iglewicz & Hoaglin's recommended cut-off for modified z-scores
MAD_TO_SIGMA: Final = 1.4826  # MAD x this estimates the standard deviation of normal data
MIN_LOG_SPREAD: Final = 0.05  # about 5%: floor for the spread when most prices are identical
SCORE_EXPONENT: Final = 2.0  # slope -0.5 at the median, like the interim linear score
FLAG_RATIO: Final = 2.0  # flag only prices <= median / 2 or >= median x 2 (and outliers)
CONFIDENCE_SCALE: Final = 10.0  # comparables at which confidence reaches 1 - 1/e (0.63)
ABOUT_MEDIAN_PERCENT: Final = 1.0  # closer than this to the median reads "about the median"

_CENT = Decimal("0.01")

# Words that say nothing about *what* is for sale; sharing them must not make two listings
# comparable. Condition words matter for price but are shared across unrelated items.
_FILLER: Final = frozenset(
    {
        "a", "an", "and", "the", "for", "with", "w", "of", "in", "on", "to", "or", "at", "by",
        "new", "used", "like", "brand", "good", "great", "excellent", "mint", "condition",
        "sale", "selling", "sell", "obo", "firm", "price", "cheap", "deal", "free", "only",
        "pickup", "local", "must", "go", "item",
    }
)  # fmt: skip


# --------------------------------------------------------------------------------------------
# Comparables
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Comparable:
    """Another listing's price, as evidence of what the target item usually costs.

    ``tokens`` should come from :func:`keyword_set` (or at least :func:`bot.domain.text.tokens`)
    so both sides are folded the same way. ``sold`` is kept for display and later weighting: sold
    and active listings both count today, because in classifieds few sales are ever reported.
    ``seen_at`` must be timezone-aware, like ``now``.
    """

    price: Decimal
    currency: str
    category_key: str | None
    tokens: frozenset[str]
    seen_at: datetime
    sold: bool


def keyword_set(text: str) -> frozenset[str]:
    """The meaningful folded keywords of a title: what :func:`keyword_overlap` compares."""
    return _meaningful(fold_tokens(text))


def _meaningful(words: Iterable[str]) -> frozenset[str]:
    """Drop filler words and single characters, which would make unrelated titles overlap."""
    return frozenset(w for w in words if len(w) > 1 and w not in _FILLER)


def keyword_overlap(a: Iterable[str], b: Iterable[str]) -> float:
    """Jaccard similarity of the meaningful tokens of ``a`` and ``b`` (0 when either is empty)."""
    left, right = _meaningful(a), _meaningful(b)
    union = left | right
    return len(left & right) / len(union) if union else 0.0


def select_comparables(
    target_tokens: Iterable[str],
    target_category_key: str | None,
    currency: str,
    candidates: Iterable[Comparable],
    *,
    now: datetime,
    window_days: float = DEFAULT_WINDOW_DAYS,
    min_overlap: float = DEFAULT_MIN_OVERLAP,
) -> list[Comparable]:
    """The candidates that say something about the target's price, in their original order.

    Kept: exactly the same category key (``None`` only matches ``None``: an uncategorised listing
    is compared with other uncategorised ones, still gated by keywords), the same currency (codes
    compared case-insensitively; converting would add exchange-rate noise to every score), seen at
    or after ``now - window_days`` (a future ``seen_at`` counts as fresh: clock skew between
    sources is likelier than a bad row), and a keyword Jaccard of at least ``min_overlap`` with at
    least one shared meaningful token. Excluding the target listing itself is the caller's job:
    it has the ids, this function only sees prices and words.
    """
    if window_days <= 0:
        raise ValueError("window_days must be positive")
    if not 0 < min_overlap <= 1:
        raise ValueError("min_overlap must be in (0, 1]")
    target = _meaningful(target_tokens)
    cutoff = now - timedelta(days=window_days)
    code = currency.upper()
    return [
        c
        for c in candidates
        if c.category_key == target_category_key
        and c.currency.upper() == code
        and c.seen_at >= cutoff
        and _overlaps(target, c.tokens, min_overlap)
    ]


def _overlaps(target: frozenset[str], other: Iterable[str], min_overlap: float) -> bool:
    """At least one shared meaningful token, and Jaccard at least ``min_overlap``."""
    words = _meaningful(other)
    shared = len(target & words)
    return shared > 0 and shared / len(target | words) >= min_overlap


# --------------------------------------------------------------------------------------------
# Scores
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DealScore:
    """A scored price, with everything needed to explain it in one line.

    ``score`` is in [0, 1]: 0.5 at the median, higher = cheaper (rounded to 3 places, like the
    interim score, so rule thresholds compare predictably). ``percent_below`` is positive below the
    median, negative above. ``median`` and ``mad`` are in the listing's currency, rounded to cents,
    over the ``comparables`` prices kept after dropping outliers.
    """

    score: float
    percent_below: float
    median: Decimal
    mad: Decimal
    comparables: int
    confidence: float
    flagged: bool

    @property
    def reason(self) -> str:
        """One line: "23% below the median of 41 similar listings" (or above, or about)."""
        of = f"the median of {_count(self.comparables)}"
        pct = self.percent_below
        if abs(pct) < ABOUT_MEDIAN_PERCENT:
            return f"about {of}"
        return f"{abs(pct):.0f}% {'below' if pct > 0 else 'above'} {of}"


@dataclass(frozen=True, slots=True)
class ScoreResult:
    """What :func:`score_listing` found: a score, or why there is none, always with a reason.

    A result rather than a bare ``DealScore | None`` because only the scorer knows how many
    comparables survived the outlier trim, and "only 3 similar listings" must say that number.
    """

    score: DealScore | None
    reason: str

    @property
    def value(self) -> float | None:
        """The number stored on the listing (``Listing.deal_score``); ``None`` = not scored."""
        return None if self.score is None else self.score.score


def insufficient(count: int) -> ScoreResult:
    """No score because only ``count`` usable comparables exist: the caller flags, not guesses."""
    return ScoreResult(None, "no similar listings" if count <= 0 else f"only {_count(count)}")


NO_PRICE: Final = ScoreResult(None, "no price to compare")


def score_listing(
    price: Decimal | None,
    comparable_prices: Sequence[Decimal],
    *,
    min_comparables: int = DEFAULT_MIN_COMPARABLES,
) -> ScoreResult:
    """Score ``price`` against prices from :func:`select_comparables` (same currency).

    Comparable prices below a cent are ignored (giveaways and "make an offer" placeholders are not
    evidence of value), then outliers are dropped (module docstring). If fewer than
    ``min_comparables`` remain the result has no score and says "only N similar listings".
    """
    if min_comparables < 1:
        raise ValueError("min_comparables must be at least 1")
    if price is None:
        return NO_PRICE
    if price < 0:
        raise ValueError("price cannot be negative")
    kept = drop_outliers([p for p in comparable_prices if p >= _CENT])
    if len(kept) < min_comparables:
        return insufficient(len(kept))
    deal = _score(price, kept)
    return ScoreResult(deal, deal.reason)


def drop_outliers(prices: Sequence[Decimal]) -> list[Decimal]:
    """``prices`` (all positive) without those beyond ``OUTLIER_Z`` robust z-scores, in order.

    One pass on log prices around their median; see the module docstring for why logs and why
    the spread has a floor.
    """
    if not prices:
        return []
    logs = [_ln(p) for p in prices]
    centre = median(logs)
    spread = _log_spread(logs, centre)
    return [p for p, x in zip(prices, logs, strict=True) if abs(x - centre) <= OUTLIER_Z * spread]


def _score(price: Decimal, kept: Sequence[Decimal]) -> DealScore:
    """Build the :class:`DealScore` of ``price`` against the already-trimmed ``kept`` prices."""
    mid = _cents(median(kept))
    ratio = float(price / mid)
    return DealScore(
        score=round(_ratio_score(ratio), 3),
        percent_below=(1.0 - ratio) * 100.0,
        median=mid,
        mad=_cents(median(abs(p - mid) for p in kept)),
        comparables=len(kept),
        confidence=round(confidence(len(kept)), 3),
        flagged=_is_suspicious(price, mid, kept),
    )


def _ratio_score(ratio: float) -> float:
    """1 / (1 + ratio**2): logistic in log(ratio); 0.5 at 1, 1 at 0, decreasing, in [0, 1]."""
    if ratio >= 1e150:  # squaring would overflow; the score is 0 to any precision we keep
        return 0.0
    return min(1.0, max(0.0, 1.0 / (1.0 + ratio**SCORE_EXPONENT)))


def confidence(comparables: int) -> float:
    """1 - exp(-n / 10): how far a median of ``comparables`` prices can be trusted, in [0, 1]."""
    return 1.0 - math.exp(-max(0, comparables) / CONFIDENCE_SCALE)


def _is_suspicious(price: Decimal, mid: Decimal, kept: Sequence[Decimal]) -> bool:
    """Whether ``price`` is both far off by ratio and an outlier among the kept prices."""
    if price <= 0:
        return True  # a "free" price among priced comparables is a placeholder or a giveaway
    distance = abs(_ln(price) - _ln(mid))
    if distance < math.log(FLAG_RATIO):
        return False
    return distance > OUTLIER_Z * _log_spread([_ln(p) for p in kept], _ln(mid))


def _log_spread(logs: Sequence[float], centre: float) -> float:
    """Robust standard deviation of log prices: 1.4826 x MAD, floored at ``MIN_LOG_SPREAD``."""
    mad = median(abs(x - centre) for x in logs)
    return max(MAD_TO_SIGMA * mad, MIN_LOG_SPREAD)


def _ln(amount: Decimal) -> float:
    return math.log(float(amount))


def _cents(amount: Decimal) -> Decimal:
    return amount.quantize(_CENT, rounding=ROUND_HALF_UP)


def _count(n: int) -> str:
    return f"{n} similar listing" if n == 1 else f"{n} similar listings"
