"""Interim deal score: how a listing's price compares with the median of comparable listings.

0.5 means "at the median", 1.0 "free", 0.0 "twice the median or more". A listing with fewer
than ``min_comparables`` priced comparables gets no score (``None``): rules with a minimum score
then do not match it, rather than trusting a guess. A later issue replaces this with a model.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from statistics import median


def deal_score(
    price: Decimal | None, comparable_prices: Sequence[Decimal], *, min_comparables: int = 5
) -> float | None:
    """Score ``price`` against ``comparable_prices`` (same category, same currency)."""
    if price is None or len(comparable_prices) < min_comparables:
        return None
    mid = median(comparable_prices)
    if mid <= 0:
        return None
    score = 0.5 + float((mid - price) / (2 * mid))
    return round(min(1.0, max(0.0, score)), 3)
