"""Matching listings against saved alert rules.

Two implementations of one meaning:

* :func:`matches` / :func:`explain` are the *reference*: they read a :class:`Rule` and a
  :class:`Listing` and apply the seven checks literally. ``/alert test`` shows :func:`explain`.
* :class:`RuleIndex` gives the same answer for every rule at once without visiting every rule
  (DESIGN.md invariant 1). Each rule is posted under the keys one of which it *requires*: its
  keyword phrases, or, for keyword-less rules, its category keys (a catch-all bucket for rules with
  neither). A listing looks up the keys its text and category contain, and only those candidates
  are verified, with vectorised numpy comparisons over per-rule columns.

Both sides fold text with the same cached functions, and the index re-checks distance with the
scalar haversine wherever float rounding could flip the answer, so the two agree exactly (a
property test holds them to it).

Prices are compared in integer cents clamped to +/-(2**40 - 1) (about $11 billion, far beyond
``MAX_PRICE``) on both sides; coordinates are expected to be finite.
"""

from __future__ import annotations

import math
from array import array
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import ClassVar, Final, NamedTuple

import numpy as np
import numpy.typing as npt

from bot.domain.listing import Condition, GeoPoint, Listing, format_money, to_cents
from bot.domain.rule import Rule
from bot.domain.text import category_prefixes, normalise_category, phrase_key, tokens

__all__ = ["CHECK_NAMES", "Check", "RuleIndex", "explain", "matches"]

CHECK_NAMES: Final = (
    "price",
    "keywords",
    "excluded words",
    "category",
    "condition",
    "distance",
    "score",
)

I32 = npt.NDArray[np.int32]
I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]


# --------------------------------------------------------------------------------------------
# Folding, shared by the reference and the index so both see exactly the same keys.
# --------------------------------------------------------------------------------------------


@lru_cache(maxsize=1 << 16)
def _fold_term(term: str) -> str:
    """``phrase_key`` with a cache: rule terms repeat a lot and folding is the naive loop's cost."""
    return phrase_key(term)


@lru_cache(maxsize=1 << 12)
def _fold_category(category: str) -> str:
    """A rule category as the key ``Rule.category_keys`` would give ("" when it has no words)."""
    return "/".join(normalise_category(category))


@lru_cache(maxsize=1 << 12)
def _listing_category_keys(category: str) -> tuple[str, ...]:
    return tuple(category_prefixes(category))


def _fold_all(terms: tuple[str, ...]) -> tuple[str, ...]:
    """Fold terms, dropping empty keys and duplicates (first spelling wins), like ``Rule``."""
    if len(terms) == 1:  # the common case, without building a dict
        key = _fold_term(terms[0])
        return (key,) if key else ()
    return tuple(dict.fromkeys(k for k in map(_fold_term, terms) if k))


def _keyword_keys(rule: Rule) -> tuple[str, ...]:
    """Same value as ``rule.keyword_keys``, without re-running the tokenizer every call."""
    return _fold_all(rule.keywords) if rule.keywords else ()


def _exclude_keys(rule: Rule) -> tuple[str, ...]:
    """Same value as ``rule.exclude_keys``."""
    return _fold_all(rule.exclude) if rule.exclude else ()


def _category_keys(rule: Rule) -> tuple[str, ...]:
    """Same value as ``rule.category_keys``."""
    if not rule.categories:
        return ()
    return tuple(dict.fromkeys(k for k in map(_fold_category, rule.categories) if k))


@dataclass(frozen=True, slots=True)
class _Text:
    """A listing's folded title and description, kept apart: a phrase may not span the two."""

    title: tuple[str, ...]
    description: tuple[str, ...]
    words: frozenset[str]

    def has_phrase(self, key: str) -> bool:
        """Does the folded phrase ``key`` occur as consecutive whole tokens in one field?"""
        parts = key.split(" ")
        if parts[0] not in self.words:
            return False
        if len(parts) == 1:
            return True
        return _in_sequence(self.title, parts) or _in_sequence(self.description, parts)


def _in_sequence(seq: tuple[str, ...], parts: list[str]) -> bool:
    n = len(parts)
    first = parts[0]
    return any(
        tok == first and list(seq[i : i + n]) == parts
        for i, tok in enumerate(seq[: len(seq) - n + 1])
    )


_last_text: tuple[Listing, _Text] | None = None


def _text_of(listing: Listing) -> _Text:
    """Tokenise a listing once even when it is checked against a million rules in a row.

    A one-entry cache keyed by identity (the entry holds a reference, so the id cannot be reused).
    """
    global _last_text
    cached = _last_text
    if cached is not None and cached[0] is listing:
        return cached[1]
    title = tuple(tokens(listing.title or ""))
    description = tuple(tokens(listing.description or ""))
    text = _Text(title, description, frozenset(title) | frozenset(description))
    _last_text = (listing, text)
    return text


# --------------------------------------------------------------------------------------------
# The reference: seven predicates, one per check. ``matches`` and ``explain`` share them.
# --------------------------------------------------------------------------------------------

_PRICE_CLAMP: Final = (1 << 40) - 1


@lru_cache(maxsize=1 << 16)
def _cents(amount: Decimal) -> int:
    """Integer cents, clamped to the range the index's price keys hold (see module docstring)."""
    return max(-_PRICE_CLAMP, min(_PRICE_CLAMP, to_cents(amount)))


def _has_price_bounds(rule: Rule) -> bool:
    return rule.min_price is not None or rule.max_price is not None


def _price_ok(rule: Rule, listing: Listing) -> bool:
    if not _has_price_bounds(rule):
        return True
    if listing.price is None or listing.currency != rule.currency:
        return False
    cents = _cents(listing.price)
    if rule.min_price is not None and cents < _cents(rule.min_price):
        return False
    return rule.max_price is None or cents <= _cents(rule.max_price)


def _keywords_found(rule: Rule, text: _Text) -> list[str]:
    """The rule's keywords (as typed) whose folded phrase occurs in the listing."""
    found: dict[str, str] = {}
    for term in rule.keywords:
        key = _fold_term(term)
        if key and key not in found and text.has_phrase(key):
            found[key] = term
    return list(found.values())


def _excludes_found(rule: Rule, text: _Text) -> list[str]:
    found: dict[str, str] = {}
    for term in rule.exclude:
        key = _fold_term(term)
        if key and key not in found and text.has_phrase(key):
            found[key] = term
    return list(found.values())


def _keywords_ok(rule: Rule, text: _Text) -> bool:
    keys = _keyword_keys(rule)
    return not keys or any(map(text.has_phrase, keys))


def _excludes_ok(rule: Rule, text: _Text) -> bool:
    return not any(map(text.has_phrase, _exclude_keys(rule)))


def _category_ok(rule: Rule, listing: Listing) -> bool:
    keys = _category_keys(rule)
    if not keys:
        return True
    if not listing.category:
        return False
    return any(p in keys for p in _listing_category_keys(listing.category))


def _condition_ok(rule: Rule, listing: Listing) -> bool:
    if rule.min_condition is None:
        return True
    return listing.condition is not None and listing.condition >= rule.min_condition


def _distance(rule_point: GeoPoint, listing_point: GeoPoint) -> float:
    """The one distance formula both sides use (argument order matters for the last bit)."""
    return rule_point.distance_mi(listing_point)


def _distance_ok(rule: Rule, listing: Listing) -> bool:
    """A rule with a place needs a listing within its radius (a place without a radius, which
    validation never stores, only requires that the listing has a location)."""
    if rule.point is None:
        return True
    if listing.point is None:
        return False
    if rule.radius_mi is None:
        return True
    return _distance(rule.point, listing.point) <= rule.radius_mi


def _score_ok(rule: Rule, listing: Listing) -> bool:
    if rule.min_deal_score is None:
        return True
    return listing.deal_score is not None and listing.deal_score >= rule.min_deal_score


def matches(rule: Rule, listing: Listing) -> bool:
    """The reference answer: an active rule matches when all seven checks pass.

    Cheap checks run first; the order does not change the answer, only the time it takes.
    """
    if not (
        rule.active
        and _price_ok(rule, listing)
        and _condition_ok(rule, listing)
        and _score_ok(rule, listing)
        and _category_ok(rule, listing)
        and _distance_ok(rule, listing)
    ):
        return False
    text = _text_of(listing)
    return _keywords_ok(rule, text) and _excludes_ok(rule, text)


@dataclass(frozen=True, slots=True)
class Check:
    """One line of ``/alert test``: which check, whether it passed, and why in plain words."""

    name: str
    passed: bool
    detail: str


def _quoted(terms: Sequence[str]) -> str:
    return ", ".join(f"“{t}”" for t in terms)


def _money(amount: Decimal, currency: str) -> str:
    return format_money(amount, currency)


def _explain_price(rule: Rule, listing: Listing) -> str:
    lo, hi, cur = rule.min_price, rule.max_price, rule.currency
    if lo is None and hi is None:
        return "any price"
    if listing.price is None:
        return "listing has no price"
    if listing.currency != cur:
        return f"listing is priced in {listing.currency}, the rule in {cur}"
    price = _money(listing.price, cur)
    cents = _cents(listing.price)
    if lo is not None and cents < _cents(lo):
        return f"{price} is below {_money(lo, cur)}"
    if hi is not None and cents > _cents(hi):
        return f"{price} is above {_money(hi, cur)}"
    if lo is not None and hi is not None:
        return f"{price} is within {_money(lo, cur)}–{_money(hi, cur)}"
    if lo is not None:
        return f"{price} is at least {_money(lo, cur)}"
    assert hi is not None
    return f"{price} is at most {_money(hi, cur)}"


def _explain_keywords(rule: Rule, text: _Text) -> str:
    if not _keyword_keys(rule):
        return "no keywords (any title)"
    found = _keywords_found(rule, text)
    if found:
        return f"found {_quoted(found)}"
    return f"none of {_quoted(list(rule.keywords))} found"


def _explain_excludes(rule: Rule, text: _Text) -> str:
    if not _exclude_keys(rule):
        return "no excluded words"
    found = _excludes_found(rule, text)
    if found:
        return f"found {_quoted(found)}"
    return f"none of {_quoted(list(rule.exclude))} found"


def _explain_category(rule: Rule, listing: Listing) -> str:
    if not _category_keys(rule):
        return "any category"
    wanted = " or ".join(f"“{c}”" for c in rule.categories)
    if not listing.category:
        return "listing has no category"
    verb = "is in" if _category_ok(rule, listing) else "is not in"
    return f"“{listing.category}” {verb} {wanted}"


def _explain_condition(rule: Rule, listing: Listing) -> str:
    if rule.min_condition is None:
        return "any condition"
    wanted = Condition(rule.min_condition).label
    if listing.condition is None:
        return "listing has no condition"
    got = Condition(listing.condition).label
    if _condition_ok(rule, listing):
        return f"{got} is {wanted} or better"
    return f"{got} is below {wanted}"


def _explain_distance(rule: Rule, listing: Listing) -> str:
    if rule.point is None:
        return "any location"
    if listing.point is None:
        return "listing has no location"
    miles = _distance(rule.point, listing.point)
    if rule.radius_mi is None:
        return f"{miles:.1f} mi (no limit)"
    return f"{miles:.1f} mi (limit {rule.radius_mi:g} mi)"


def _explain_score(rule: Rule, listing: Listing) -> str:
    if rule.min_deal_score is None:
        return "no minimum deal score"
    if listing.deal_score is None:
        return "not enough comparable listings to score"
    relation = "≥" if _score_ok(rule, listing) else "<"
    return f"deal score {listing.deal_score:.2f} {relation} {rule.min_deal_score:.2f}"


def explain(rule: Rule, listing: Listing) -> list[Check]:
    """All seven checks, in ``CHECK_NAMES`` order, whether or not the rule is active.

    ``passed`` comes from the same predicates :func:`matches` uses, so an explanation can never
    disagree with a match decision (paused rules are the cog's to mention).
    """
    text = _text_of(listing)
    return [
        Check("price", _price_ok(rule, listing), _explain_price(rule, listing)),
        Check("keywords", _keywords_ok(rule, text), _explain_keywords(rule, text)),
        Check("excluded words", _excludes_ok(rule, text), _explain_excludes(rule, text)),
        Check("category", _category_ok(rule, listing), _explain_category(rule, listing)),
        Check("condition", _condition_ok(rule, listing), _explain_condition(rule, listing)),
        Check("distance", _distance_ok(rule, listing), _explain_distance(rule, listing)),
        Check("score", _score_ok(rule, listing), _explain_score(rule, listing)),
    ]


# --------------------------------------------------------------------------------------------
# Geography: coarse cells so that a hot key's located rules are looked up near the listing only.
# --------------------------------------------------------------------------------------------

_EARTH_MI: Final = 3958.7613  # the radius GeoPoint.distance_mi uses
_CELL_DEG: Final = 2.0
_ROWS: Final = 90
_COLS: Final = 180
_COVER_MARGIN_DEG: Final = 0.01  # cells are a superset; the margin absorbs float rounding
_MAX_GEO_RADIUS_MI: Final = 1300.0  # wider circles touch too many cells: treat as "anywhere"
_EDGE_DOT: Final = 1e-12  # this close to the threshold, recheck with the scalar formula


def _geo_postable(point: GeoPoint | None, radius: float | None) -> bool:
    """Can this rule be posted by cell? Only sane circles; the rest stay in the flat list."""
    if point is None or radius is None:
        return False
    lat, lon = float(point.lat), float(point.lon)
    return (
        math.isfinite(lat)
        and -90.0 <= lat <= 90.0
        and math.isfinite(lon)
        and 0.0 <= radius <= _MAX_GEO_RADIUS_MI
    )


def _covers(lat: F64, lon: F64, radius: F64) -> tuple[I64, I64]:
    """Every cell each circle touches, as ``(owner index, cell id)`` pairs (a superset).

    Rows span the circle's latitude band; columns its widest longitude, ``asin(sin θ / cos φ)``,
    or all columns when the circle reaches a pole.
    """
    theta = np.degrees(radius / _EARTH_MI) + _COVER_MARGIN_DEG
    lat_lo, lat_hi = lat - theta, lat + theta
    row_lo = np.clip(np.floor((lat_lo + 90.0) / _CELL_DEG), 0, _ROWS - 1).astype(np.int64)
    row_hi = np.clip(np.floor((lat_hi + 90.0) / _CELL_DEG), 0, _ROWS - 1).astype(np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.sin(np.radians(theta)) / np.cos(np.radians(lat))
    wide = (lat_hi >= 90.0) | (lat_lo <= -90.0) | ~(ratio < 1.0)
    dlon = np.degrees(np.arcsin(np.clip(ratio, 0.0, 1.0))) + _COVER_MARGIN_DEG
    col_lo = np.floor((lon - dlon + 180.0) / _CELL_DEG).astype(np.int64)
    col_hi = np.floor((lon + dlon + 180.0) / _CELL_DEG).astype(np.int64)
    ncols = col_hi - col_lo + 1
    wide |= ncols >= _COLS
    col_lo = np.where(wide, 0, col_lo)
    ncols = np.where(wide, _COLS, ncols)
    counts = (row_hi - row_lo + 1) * ncols
    owner = np.repeat(np.arange(len(lat), dtype=np.int64), counts)
    starts = np.cumsum(counts) - counts
    k = np.arange(int(counts.sum()), dtype=np.int64) - np.repeat(starts, counts)
    nc = ncols[owner]
    row = row_lo[owner] + k // nc
    col = (col_lo[owner] + k % nc) % _COLS
    return owner, row * _COLS + col


def _cell_of(point: GeoPoint) -> int | None:
    """The listing's cell, or ``None`` for a point outside the grid (then all cells are read)."""
    lat, lon = float(point.lat), float(point.lon)
    if not (math.isfinite(lat) and -90.0 <= lat <= 90.0 and math.isfinite(lon)):
        return None
    row = min(_ROWS - 1, max(0, math.floor((lat + 90.0) / _CELL_DEG)))
    col = math.floor((lon + 180.0) / _CELL_DEG) % _COLS
    return row * _COLS + col


def _unit(lat: float, lon: float) -> tuple[float, float, float]:
    """The point on the unit sphere."""
    p, q = math.radians(lat), math.radians(lon)
    return (math.cos(p) * math.cos(q), math.cos(p) * math.sin(q), math.sin(p))


def _sphere(lat: float, lon: float, radius: float) -> tuple[float, float, float, float]:
    """A circle as (unit vector, threshold): a point P is within ``radius`` miles exactly when
    P . centre >= threshold = cos(radius / R), since the haversine of two points is
    (1 - P . Q) / 2 and both sides are monotone in the distance on [0, pi R].

    That is three multiply-adds per candidate instead of five transcendental functions;
    candidates within ``_EDGE_DOT`` of the threshold are rechecked with ``GeoPoint.distance_mi``
    so rounding can never make the index disagree with :func:`matches`.
    """
    if math.isnan(radius):
        threshold = math.nan  # nothing is within NaN miles, as in the scalar comparison
    elif radius < 0:
        threshold = 2.0  # never
    elif radius >= math.pi * _EARTH_MI:
        threshold = -2.0  # everywhere (also "no radius")
    else:
        threshold = math.cos(radius / _EARTH_MI)
    return (*_unit(lat, lon), threshold)


# --------------------------------------------------------------------------------------------
# The index.
# --------------------------------------------------------------------------------------------
#
# Every slot has a 32-byte "row" of four int64 words, so verifying a candidate costs one cache
# line: [price low key, price high key, meta, exclude mask].
#
# Price keys fold the currency in: a price of x cents in currency c (c >= 1) is the key
# c * 2**41 + 2**40 + x. A rule with bounds in currency c holds [low, high] inside c's span; a
# rule without bounds holds [INT64_MIN, INT64_MAX]; a listing without a price (or in a currency
# no rule uses) has key -1, which only unbounded rules accept.
#
# meta (non-negative):
#   bits  0-31  category id (0: none, 1: several, checked in Python, 2...: one category key)
#   bits 32-36  flags: point, score, rare excludes, several categories, posted by cell
#   bits 56-58  minimum condition rank + 1 (0: no minimum)
#   bit  59     paused
#   bit  60     gone (removed; the slot waits until no posting list mentions it)
# so "present, active and good enough condition" is one comparison:
#   meta <= (listing rank + 1) << 56 | (2**56 - 1).
#
# The exclude mask gives the 48 most common excluded words one exact bit each; every other
# excluded word sets one of 16 hashed "maybe" bits, and only a listing containing such a word
# sends the rules with an overlapping bit to an exact check in Python.

_LO, _HI, _META, _XMASK = 0, 1, 2, 3

_CAT_BITS: Final = 0xFFFFFFFF
_F_POINT: Final = 1 << 32
_F_SCORE: Final = 1 << 33
_F_XRARE: Final = 1 << 34
_F_MULTICAT: Final = 1 << 35
_F_GEO: Final = 1 << 36
_COND_SHIFT: Final = 56
_PAUSED: Final = 1 << 59
_GONE: Final = 1 << 60
_CAT_NONE: Final = 0
_CAT_MULTI: Final = 1
_FIRST_CAT: Final = 2

_PRICE_SPAN: Final = 1 << 41
_PRICE_MID: Final = 1 << 40
_NO_PRICE_KEY: Final = -1
_I64_MIN: Final = -(1 << 63)
_I64_MAX: Final = (1 << 63) - 1

_EXACT_BITS: Final = 48
_BLOOM_BITS: Final = 16

_CATCH_ALL: Final = 0  # posting key of rules with neither keywords nor category
_ANY_CELL: Final = -1
_SHARD_SHIFT: Final = 32

assert array("i").itemsize == 4, "posting lists assume a 4-byte C int"


def _signed64(value: int) -> int:
    """A 64-bit pattern as the signed value an int64 column stores."""
    return value - (1 << 64) if value >= 1 << 63 else value


def _shard(cell: int, cat: int) -> int:
    """Sub-list of a hot key: (cell, any category) for located rules, (any cell, category or
    any) for the others."""
    return ((cell + 1) << _SHARD_SHIFT) | cat


class _Bucket:
    """A posting list: the slots of the rules posted under one key (or one shard of a hot key).

    Removal is lazy: a removed rule's entry stays until dead entries outnumber live ones, then the
    list is compacted in one vectorised pass, so removal stays amortised O(1) even for a key held
    by 100k rules.
    """

    __slots__ = ("dead", "slots")

    def __init__(self, slots: array[int] | None = None) -> None:
        self.slots: array[int] = slots if slots is not None else array("i")
        self.dead = 0


class _Row(NamedTuple):
    """A rule encoded for the columns, plus what is needed to post and unpost it.

    A named tuple rather than a frozen dataclass: bulk loads build a million of them.
    """

    rule_id: int
    lo: int
    hi: int
    meta: int
    xmask: int
    score: float
    lat: float
    lon: float
    radius: float
    posting: tuple[int, ...]
    rare_excludes: tuple[int, ...]
    cats: frozenset[int]

    def placement(self) -> tuple[object, ...]:
        """What decides where the rule is posted: keys, category shard and (if by cell) place."""
        cat = self.meta & _CAT_BITS
        shard_cat = cat if cat >= _FIRST_CAT else _CAT_NONE
        if self.meta & _F_GEO:
            return (self.posting, shard_cat, self.lat, self.lon, self.radius)
        return (self.posting, shard_cat)


class _IdMap:
    """Rule id -> slot, in about 13 bytes per rule instead of ~100 for a dict of a million ints.

    A sorted numpy base from the bulk load (binary search, tombstones for removed ids) plus a
    dict for ids added or moved since.
    """

    def __init__(self) -> None:
        self._ids = np.zeros(0, np.int64)
        self._slots = np.zeros(0, np.int32)
        self._gone = np.zeros(0, np.bool_)
        self._base_live = 0
        self._extra: dict[int, int] = {}

    def load(self, ids: I64, slots: I32) -> None:
        """Replace the contents with ``ids`` (unique) stored at ``slots``."""
        order = np.argsort(ids, kind="stable")
        self._ids, self._slots = ids[order], slots[order].astype(np.int32)
        self._gone = np.zeros(len(ids), np.bool_)
        self._base_live = len(ids)
        self._extra = {}

    def _find(self, rule_id: object) -> int | None:
        """Position of a live id in the base, or None."""
        if not isinstance(rule_id, int) or not _I64_MIN <= rule_id <= _I64_MAX:
            return None
        i = int(np.searchsorted(self._ids, rule_id))
        if i < len(self._ids) and self._ids[i] == rule_id and not self._gone[i]:
            return i
        return None

    def get(self, rule_id: object) -> int | None:
        slot = self._extra.get(rule_id)  # type: ignore[call-overload]
        if slot is not None:
            return slot
        i = self._find(rule_id)
        return None if i is None else int(self._slots[i])

    def set(self, rule_id: int, slot: int) -> None:
        i = self._find(rule_id)
        if i is None:
            self._extra[rule_id] = slot
        else:
            self._slots[i] = slot

    def pop(self, rule_id: int) -> int | None:
        slot = self._extra.pop(rule_id, None)
        if slot is not None:
            return slot
        i = self._find(rule_id)
        if i is None:
            return None
        self._gone[i] = True
        self._base_live -= 1
        return int(self._slots[i])

    def __len__(self) -> int:
        return self._base_live + len(self._extra)


class RuleIndex:
    """All stored rules, ready to be matched against a listing without visiting every rule.

    Rules live in *slots*: a 32-byte row per rule (see the layout above) plus columns for id,
    min score and lat/lon/radius. The index keeps no ``Rule`` objects. Posting keys map to
    :class:`_Bucket` lists of slots. A key held by many rules ("hot") is split into shards:
    located rules by the 2-degree cells their circle touches, the others by category. A listing
    in Ohio under "Furniture" then reads the cell of Ohio and the shards of its own category
    prefixes, and never verifies the chair rules of Texas or those filed under "Electronics".
    A slot is reused only once no list mentions it.

    Not thread-safe (one event loop owns it); ``match`` briefly marks a shared lookup table.
    """

    hot_threshold: ClassVar[int] = 512
    """A key is split into shards once this many rules are posted under it."""
    exclude_bits: ClassVar[int] = _EXACT_BITS
    """How many excluded words get an exact bit (at most 48); the rest share hashed bits."""

    def __init__(self) -> None:
        self._slot_of = _IdMap()
        self._phrase_kid: dict[str, int] = {}
        self._prefixes: set[str] = set()
        self._cat_id: dict[str, int] = {}
        self._currency_id: dict[str, int] = {}
        self._flat: dict[int, _Bucket] = {}
        self._hot: dict[int, dict[int, _Bucket]] = {}
        self._xbit: dict[int, int] = {}
        self._rare_kids: set[int] = set()  # excluded words without an exact bit
        self._cat_table = np.zeros(_FIRST_CAT, np.bool_)
        self._cat_table[:_FIRST_CAT] = True
        self._free: list[int] = []
        self._size = 0  # high-water mark of slots
        self._cap = 0
        self._rows = np.zeros((0, 4), np.int64)
        self._sphere = np.zeros((0, 4), np.float64)  # x, y, z, cos(radius / R) of located rules
        self._ids = np.zeros(0, np.int64)
        self._score = np.zeros(0, np.float64)
        self._lat = np.zeros(0, np.float64)
        self._lon = np.zeros(0, np.float64)
        self._radius = np.zeros(0, np.float64)
        self._refs = np.zeros(0, np.int32)
        # Posting keys per slot: a compact base from ``build`` plus an overflow for later slots.
        self._keys_offsets = np.zeros(1, np.int64)
        self._keys_values = np.zeros(0, np.int32)
        self._keys_extra: dict[int, tuple[int, ...]] = {}
        self._rare_excludes: dict[int, tuple[int, ...]] = {}
        self._multi_cats: dict[int, frozenset[int]] = {}

    # ---- public API ---------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._slot_of)

    def __contains__(self, rule_id: object) -> bool:
        return self._slot_of.get(rule_id) is not None

    @classmethod
    def build(cls, rules: Iterable[Rule]) -> RuleIndex:
        """Bulk load (at start): encode every rule once, then group postings with numpy sorts.

        If an id appears twice the later rule wins, as with :meth:`add`.
        """
        index = cls()
        index._bulk_load(list(rules))
        return index

    def add(self, rule: Rule) -> None:
        """Store a rule. Adding an id that is already stored replaces it (same as update)."""
        if rule.id in self:
            self.update(rule)
            return
        self._insert(self._encode(rule))

    def update(self, rule: Rule) -> None:
        """Replace the stored rule with the same id (any field may change; unknown id: add).

        When the rule would be posted exactly where it is (pause, resume, price, score,
        condition or exclude edits) its columns are rewritten in place; otherwise it moves to a
        fresh slot and the old one is retired.
        """
        slot = self._slot_of.get(rule.id)
        row = self._encode(rule)
        if slot is None:
            self._insert(row)
        elif row.placement() == self._placement_of(slot):
            self._write(slot, row)
        else:
            self.remove(rule.id)
            self._insert(row)

    def remove(self, rule_id: int) -> None:
        """Forget a rule; an unknown id is a no-op."""
        slot = self._slot_of.pop(rule_id)
        if slot is None:
            return
        posting = self._posting_of(slot)
        self._rows[slot, _META] |= _GONE  # every entry of the slot is now dead
        for kid in posting:
            self._unpost(slot, kid)
        self._keys_extra.pop(slot, None)
        self._rare_excludes.pop(slot, None)
        self._multi_cats.pop(slot, None)

    def match(self, listing: Listing) -> list[int]:
        """Ids of the active rules that match ``listing``, ascending."""
        text = _text_of(listing)
        present = self._present_keys(text)
        cat_ids = [
            c
            for c in map(self._cat_id.get, _listing_category_keys(listing.category or ""))
            if c is not None
        ]
        cands = self._candidates(present, cat_ids, listing)
        if cands.size == 0:
            return []
        slots = self._verify(cands, present, cat_ids, listing)
        if slots.size == 0:
            return []
        ids = np.sort(self._ids[slots])
        if ids.size > 1:
            ids = ids[np.concatenate(([True], ids[1:] != ids[:-1]))]
        result: list[int] = ids.tolist()
        return result

    # ---- encoding -----------------------------------------------------------------------

    def _phrase(self, key: str) -> int:
        """Intern a folded phrase (ids 1...); remember its proper prefixes for n-gram growth."""
        kid = self._phrase_kid.get(key)
        if kid is None:
            kid = self._phrase_kid[key] = len(self._phrase_kid) + 1
            parts = key.split(" ")
            for n in range(1, len(parts)):
                self._prefixes.add(" ".join(parts[:n]))
        return kid

    def _category(self, key: str) -> int:
        """Intern a category key (ids 2...); its posting key is the negated id."""
        cat = self._cat_id.get(key)
        if cat is None:
            cat = self._cat_id[key] = len(self._cat_id) + _FIRST_CAT
            if cat >= len(self._cat_table):
                table = np.zeros(max(2 * cat, 16), np.bool_)
                table[: len(self._cat_table)] = self._cat_table
                self._cat_table = table
        return cat

    def _exclude_bit(self, kid: int) -> int:
        bit = self._xbit.get(kid)
        if bit is None and len(self._xbit) < min(self.exclude_bits, _EXACT_BITS):
            bit = self._xbit[kid] = len(self._xbit)
        if bit is None:
            self._rare_kids.add(kid)
            return _EXACT_BITS + kid % _BLOOM_BITS
        return bit

    def _price_keys(self, rule: Rule) -> tuple[int, int]:
        if not _has_price_bounds(rule):
            return _I64_MIN, _I64_MAX
        cur = self._currency_id.setdefault(rule.currency, len(self._currency_id) + 1)
        base = cur * _PRICE_SPAN + _PRICE_MID
        lo = -_PRICE_CLAMP if rule.min_price is None else _cents(rule.min_price)
        hi = _PRICE_CLAMP if rule.max_price is None else _cents(rule.max_price)
        return base + lo, base + hi

    def _encode(self, rule: Rule) -> _Row:
        """Turn a rule into column values and posting keys (interning any new key)."""
        meta = 0 if rule.active else _PAUSED
        if rule.min_condition is not None:
            meta |= (int(rule.min_condition) + 1) << _COND_SHIFT
        score = 0.0
        if rule.min_deal_score is not None:
            meta |= _F_SCORE
            score = float(rule.min_deal_score)
        lat = lon = radius = 0.0
        if rule.point is not None:
            meta |= _F_POINT
            lat, lon = float(rule.point.lat), float(rule.point.lon)
            radius = math.inf if rule.radius_mi is None else float(rule.radius_mi)
            if _geo_postable(rule.point, rule.radius_mi):
                meta |= _F_GEO
        cats = frozenset(self._category(k) for k in _category_keys(rule))
        if len(cats) == 1:
            meta |= next(iter(cats))
        elif cats:
            meta |= _CAT_MULTI | _F_MULTICAT
        xmask, rare = 0, []
        for key in _exclude_keys(rule):
            kid = self._phrase(key)
            bit = self._exclude_bit(kid)
            xmask |= 1 << bit
            if bit >= _EXACT_BITS:
                rare.append(kid)
        if rare:
            meta |= _F_XRARE
        keywords = _keyword_keys(rule)
        posting: tuple[int, ...]
        if keywords:
            posting = tuple(self._phrase(k) for k in keywords)
        elif cats:
            posting = tuple(sorted(-c for c in cats))
        else:
            posting = (_CATCH_ALL,)
        lo, hi = self._price_keys(rule)
        return _Row(
            rule_id=rule.id,
            lo=lo,
            hi=hi,
            meta=meta,
            xmask=_signed64(xmask),
            score=score,
            lat=lat,
            lon=lon,
            radius=radius,
            posting=posting,
            rare_excludes=tuple(rare),
            cats=cats,
        )

    # ---- slots and columns --------------------------------------------------------------

    _COLUMNS: ClassVar[tuple[str, ...]] = ("_ids", "_score", "_lat", "_lon", "_radius", "_refs")
    _MATRICES: ClassVar[tuple[str, ...]] = ("_rows", "_sphere")

    def _grow(self, need: int) -> None:
        """Grow every column geometrically (amortised O(1) per new slot)."""
        if need <= self._cap:
            return
        cap = max(need, self._cap + self._cap // 4, 64)  # 25%: a million rows is a lot to double
        for name in self._MATRICES:
            old = getattr(self, name)
            new = np.zeros((cap, 4), dtype=old.dtype)
            new[: self._size] = old[: self._size]
            setattr(self, name, new)
        for name in self._COLUMNS:
            old = getattr(self, name)
            new = np.zeros(cap, dtype=old.dtype)
            new[: self._size] = old[: self._size]
            setattr(self, name, new)
        self._cap = cap

    def _new_slot(self) -> int:
        if self._free:
            return self._free.pop()
        self._grow(self._size + 1)
        self._size += 1
        return self._size - 1

    def _write(self, slot: int, row: _Row) -> None:
        self._rows[slot] = (row.lo, row.hi, row.meta, row.xmask)
        self._ids[slot] = row.rule_id
        self._score[slot] = row.score
        self._lat[slot] = row.lat
        self._lon[slot] = row.lon
        self._radius[slot] = row.radius
        if row.meta & _F_POINT:
            self._sphere[slot] = _sphere(row.lat, row.lon, row.radius)
        self._set_extras(slot, row)

    def _set_extras(self, slot: int, row: _Row) -> None:
        if row.rare_excludes:
            self._rare_excludes[slot] = row.rare_excludes
        else:
            self._rare_excludes.pop(slot, None)
        if row.meta & _F_MULTICAT:
            self._multi_cats[slot] = row.cats
        else:
            self._multi_cats.pop(slot, None)

    def _insert(self, row: _Row) -> None:
        slot = self._new_slot()
        self._write(slot, row)
        self._slot_of.set(row.rule_id, slot)
        if slot < len(self._keys_offsets) - 1 and self._base_posting(slot) == row.posting:
            self._keys_extra.pop(slot, None)
        else:
            self._keys_extra[slot] = row.posting
        for kid in row.posting:
            self._post(slot, kid)

    def _base_posting(self, slot: int) -> tuple[int, ...]:
        start, end = self._keys_offsets[slot], self._keys_offsets[slot + 1]
        return tuple(self._keys_values[start:end].tolist())

    def _posting_of(self, slot: int) -> tuple[int, ...]:
        extra = self._keys_extra.get(slot)
        return extra if extra is not None else self._base_posting(slot)

    def _placement_of(self, slot: int) -> tuple[object, ...]:
        meta = int(self._rows[slot, _META])
        cat = meta & _CAT_BITS
        shard_cat = cat if cat >= _FIRST_CAT else _CAT_NONE
        if meta & _F_GEO:
            place = (float(self._lat[slot]), float(self._lon[slot]), float(self._radius[slot]))
            return (self._posting_of(slot), shard_cat, *place)
        return (self._posting_of(slot), shard_cat)

    def _shards(self, slots: I32) -> tuple[I64, I64]:
        """The shards of a hot key each slot goes to: ``(owner index, shard)`` pairs.

        A rule posted by cell goes to every cell its circle touches; any other rule goes to its
        category's shard (or the "any category" one). Splitting by both at once would multiply
        the number of lists for little gain.
        """
        meta = self._rows[slots, _META]
        geo = np.flatnonzero(meta & _F_GEO)
        flat = np.flatnonzero((meta & _F_GEO) == 0)
        cat = meta[flat] & _CAT_BITS
        cat = np.where(cat >= _FIRST_CAT, cat, _CAT_NONE)
        g_slots = slots[geo]
        owner, cells = _covers(self._lat[g_slots], self._lon[g_slots], self._radius[g_slots])
        owners = np.concatenate((flat, geo[owner]))
        keys = np.concatenate((_ANY_CELL + 1 << _SHARD_SHIFT | cat, (cells + 1) << _SHARD_SHIFT))
        return owners, keys

    # ---- posting lists ------------------------------------------------------------------

    def _post(self, slot: int, kid: int) -> None:
        shards = self._hot.get(kid)
        if shards is not None:
            _, keys = self._shards(np.array([slot], np.int32))
            for key in keys.tolist():
                bucket = shards.get(key)
                if bucket is None:
                    bucket = shards[key] = _Bucket()
                bucket.slots.append(slot)
            self._refs[slot] += len(keys)
            return
        bucket = self._flat.get(kid)
        if bucket is None:
            bucket = self._flat[kid] = _Bucket()
        bucket.slots.append(slot)
        self._refs[slot] += 1
        if len(bucket.slots) - bucket.dead > self.hot_threshold:
            self._make_hot(kid, bucket)

    def _unpost(self, slot: int, kid: int) -> None:
        shards = self._hot.get(kid)
        if shards is None:
            self._bury(self._flat, kid)
            return
        _, keys = self._shards(np.array([slot], np.int32))
        for key in keys.tolist():
            self._bury(shards, key)

    def _bury(self, container: dict[int, _Bucket], key: int) -> None:
        """Count one dead entry; compact once the dead outnumber the living."""
        bucket = container[key]
        bucket.dead += 1
        if 2 * bucket.dead > len(bucket.slots):
            self._compact(bucket)
            if not bucket.slots:
                del container[key]

    def _live(self, entries: I32) -> Bools:
        result: Bools = (self._rows[entries, _META] & _GONE) == 0
        return result

    def _compact(self, bucket: _Bucket) -> None:
        entries = np.frombuffer(bucket.slots, dtype=np.int32).copy()
        live = self._live(entries)
        bucket.slots = array("i", entries[live].tobytes())
        bucket.dead = 0
        self._release(entries[~live])

    def _release(self, dead: I32) -> None:
        """Drop one reference from each dead slot; slots no list mentions become reusable."""
        if dead.size == 0:
            return
        self._refs[dead] -= 1  # a slot appears at most once per posting list
        self._free.extend(dead[self._refs[dead] == 0].tolist())

    def _make_hot(self, kid: int, bucket: _Bucket) -> None:
        """Split a key's list into shards by cell and category once it is long."""
        entries = np.frombuffer(bucket.slots, dtype=np.int32).copy()
        live = self._live(entries)
        moving = entries[live]
        del self._flat[kid]
        owner, keys = self._shards(moving)
        members = moving[owner]
        np.add.at(self._refs, members, 1)
        self._refs[moving] -= 1
        self._release(entries[~live])
        self._hot[kid] = {key: _Bucket(arr) for key, arr in _group(keys, members)}

    # ---- matching -----------------------------------------------------------------------

    def _present_keys(self, text: _Text) -> set[int]:
        """Ids of every indexed phrase that occurs in the title or in the description.

        An n-gram is grown only while it is a proper prefix of some indexed phrase, so the work
        is about one dict lookup per token.
        """
        kid_of, prefixes = self._phrase_kid, self._prefixes
        found: set[int] = set()
        for seq in (text.title, text.description):
            n = len(seq)
            for i in range(n):
                gram = seq[i]
                kid = kid_of.get(gram)
                if kid is not None:
                    found.add(kid)
                j = i + 1
                while j < n and gram in prefixes:
                    gram = f"{gram} {seq[j]}"
                    j += 1
                    kid = kid_of.get(gram)
                    if kid is not None:
                        found.add(kid)
        return found

    def _buckets_for(
        self, present: set[int], cat_ids: list[int], listing: Listing
    ) -> Iterator[_Bucket]:
        """Every posting list a matching rule must be in (a superset of the matches)."""
        by_category = [_shard(_ANY_CELL, c) for c in (_CAT_NONE, *cat_ids)]
        shard_keys: list[int] | None = by_category
        if listing.point is not None:
            cell = _cell_of(listing.point)
            # a point off the grid reads every shard
            shard_keys = None if cell is None else [*by_category, _shard(cell, _CAT_NONE)]
        flat, hot = self._flat, self._hot
        for kid in (*present, *(-c for c in cat_ids), _CATCH_ALL):
            bucket = flat.get(kid)
            if bucket is not None:
                yield bucket
                continue
            shards = hot.get(kid)
            if shards is None:
                continue
            if shard_keys is None:
                yield from shards.values()
                continue
            for key in shard_keys:
                bucket = shards.get(key)
                if bucket is not None:
                    yield bucket

    def _candidates(self, present: set[int], cat_ids: list[int], listing: Listing) -> I32:
        buckets = self._buckets_for(present, cat_ids, listing)
        parts = [np.frombuffer(b.slots, dtype=np.int32) for b in buckets]
        if not parts:
            return np.zeros(0, np.int32)
        return parts[0].copy() if len(parts) == 1 else np.concatenate(parts)

    def _listing_masks(self, present: set[int]) -> tuple[int, int]:
        """The listing's exact and hashed exclude bits."""
        exact = bloom = 0
        for kid in present:
            bit = self._xbit.get(kid)
            if bit is not None:
                exact |= 1 << bit
            elif kid in self._rare_kids:
                bloom |= 1 << (_EXACT_BITS + kid % _BLOOM_BITS)
        return _signed64(exact), _signed64(bloom)

    def _verify(self, cands: I32, present: set[int], cat_ids: list[int], listing: Listing) -> I32:
        """Keep the candidates whose rule passes every check (keywords hold by construction).

        Stage 1 reads one row per candidate (price, state, condition, category, common
        excludes); stage 2 looks at score, distance and the rare cases only for the survivors.
        """
        rows = np.take(self._rows, cands, axis=0)
        price = self._price_key(listing)
        rank = -1 if listing.condition is None else int(listing.condition)
        meta = rows[:, _META]
        ok = rows[:, _LO] <= price
        ok &= rows[:, _HI] >= price
        ok &= meta <= ((rank + 1) << _COND_SHIFT) | ((1 << _COND_SHIFT) - 1)
        table = self._cat_table
        table[cat_ids] = True
        try:
            ok &= table[meta & _CAT_BITS]
        finally:
            table[cat_ids] = False
        exact, bloom = self._listing_masks(present)
        if exact:
            ok &= (rows[:, _XMASK] & exact) == 0
        keep = np.flatnonzero(ok)
        cands, meta = cands[keep], meta[keep]
        if cands.size == 0:
            return cands
        flags = meta & (_F_SCORE | _F_POINT | _F_MULTICAT)
        if bloom:
            flags |= np.where((rows[keep, _XMASK] & bloom) != 0, _F_XRARE, 0)
        if not flags.any():
            return cands
        ok = np.ones(cands.size, np.bool_)
        self._check_score(cands, flags, listing, ok)
        self._check_distance(cands, flags, listing, ok)
        self._check_rare(cands, flags, present, cat_ids, ok)
        return cands[ok]

    def _price_key(self, listing: Listing) -> int:
        cur = self._currency_id.get(listing.currency)
        if listing.price is None or cur is None:
            return _NO_PRICE_KEY
        return cur * _PRICE_SPAN + _PRICE_MID + _cents(listing.price)

    def _check_score(self, cands: I32, flags: I64, listing: Listing, ok: Bools) -> None:
        which = np.flatnonzero(flags & _F_SCORE)
        if which.size == 0:
            return
        if listing.deal_score is None:
            ok[which] = False
            return
        ok[which] &= self._score[cands[which]] <= float(listing.deal_score)

    def _check_distance(self, cands: I32, flags: I64, listing: Listing, ok: Bools) -> None:
        which = np.flatnonzero(flags & _F_POINT)
        if which.size == 0:
            return
        if listing.point is None:
            ok[which] = False
            return
        slots = cands[which]
        sphere = np.take(self._sphere, slots, axis=0)
        x, y, z = _unit(float(listing.point.lat), float(listing.point.lon))
        dot = sphere[:, 0] * x + sphere[:, 1] * y + sphere[:, 2] * z
        inside = dot >= sphere[:, 3]
        for i in np.flatnonzero(np.abs(dot - sphere[:, 3]) <= _EDGE_DOT).tolist():
            s = int(slots[i])  # float rounding could differ from the scalar formula here
            rule_point = GeoPoint(float(self._lat[s]), float(self._lon[s]))
            inside[i] = _distance(rule_point, listing.point) <= float(self._radius[s])
        ok[which] &= inside

    def _check_rare(
        self, cands: I32, flags: I64, present: set[int], cat_ids: list[int], ok: Bools
    ) -> None:
        """Exact checks in Python for the few rules the columns cannot decide."""
        which = np.flatnonzero(flags & (_F_XRARE | _F_MULTICAT))
        prefixes = set(cat_ids)
        for i in which.tolist():
            s = int(cands[i])
            cats = self._multi_cats.get(s)
            wrong_category = cats is not None and not cats & prefixes
            if wrong_category or any(k in present for k in self._rare_excludes.get(s, ())):
                ok[i] = False

    # ---- bulk load ----------------------------------------------------------------------

    def _bulk_load(self, rules: list[Rule]) -> None:
        """Encode every rule, lay the slots out by primary posting list, then post them all."""
        last = {rule.id: i for i, rule in enumerate(rules)}
        unique = [rule for i, rule in enumerate(rules) if last[rule.id] == i]
        self._assign_exclude_bits(unique)
        ints: tuple[list[int], ...] = ([], [], [], [], [])  # lo, hi, meta, xmask, id
        floats: tuple[list[float], ...] = ([], [], [], [])  # score, lat, lon, radius
        key_counts: list[int] = []
        key_values: list[int] = []
        rare: dict[int, tuple[int, ...]] = {}
        multi: dict[int, frozenset[int]] = {}
        for i, rule in enumerate(unique):
            row = self._encode(rule)
            ints[0].append(row.lo)
            ints[1].append(row.hi)
            ints[2].append(row.meta)
            ints[3].append(row.xmask)
            ints[4].append(row.rule_id)
            floats[0].append(row.score)
            floats[1].append(row.lat)
            floats[2].append(row.lon)
            floats[3].append(row.radius)
            key_counts.append(len(row.posting))
            key_values.extend(row.posting)
            if row.rare_excludes:
                rare[i] = row.rare_excludes
            if row.meta & _F_MULTICAT:
                multi[i] = row.cats
        n = len(unique)
        self._grow(n)
        self._size = n
        offsets = np.concatenate(([0], np.cumsum(key_counts, dtype=np.int64)))
        values = np.array(key_values, dtype=np.int32)
        meta = np.array(ints[2], np.int64)
        lat, lon = np.array(floats[1]), np.array(floats[2])
        order = _layout(values[offsets[:-1]] if n else values, meta, lat, lon)
        for j in range(4):
            self._rows[:n, j] = np.array(ints[j], np.int64)[order]
        self._ids[:n] = np.array(ints[4], np.int64)[order]
        for name, fcol in zip(("_score", "_lat", "_lon", "_radius"), floats, strict=True):
            getattr(self, name)[:n] = np.array(fcol, np.float64)[order]
        self._sphere[:n] = _spheres(self._lat[:n], self._lon[:n], self._radius[:n])
        self._slot_of.load(self._ids[:n], np.arange(n, dtype=np.int32))
        new_slot = np.empty(n, np.int64)
        new_slot[order] = np.arange(n)
        self._rare_excludes = {int(new_slot[i]): v for i, v in rare.items()}
        self._multi_cats = {int(new_slot[i]): v for i, v in multi.items()}
        counts = np.diff(offsets)[order]
        self._keys_offsets = np.concatenate(([0], np.cumsum(counts)))
        shift = np.repeat(offsets[:-1][order] - self._keys_offsets[:-1], counts)
        self._keys_values = values[shift + np.arange(len(values))]
        self._post_all(n)

    def _assign_exclude_bits(self, rules: list[Rule]) -> None:
        """Give the exact bits to the most common excluded words, so few rules reach Python."""
        counts = Counter(k for rule in rules for k in _exclude_keys(rule))
        for key, _ in counts.most_common(min(self.exclude_bits, _EXACT_BITS)):
            self._exclude_bit(self._phrase(key))

    def _post_all(self, n: int) -> None:
        """Post every loaded slot: one list per cold key, shards for hot keys."""
        pair_slot = np.repeat(np.arange(n, dtype=np.int32), np.diff(self._keys_offsets))
        pair_kid = self._keys_values.astype(np.int64)
        kids, inverse, counts = np.unique(pair_kid, return_inverse=True, return_counts=True)
        is_hot = (counts > self.hot_threshold)[inverse]
        for kid, flat_members in _group(pair_kid[~is_hot], pair_slot[~is_hot]):
            self._flat[kid] = _Bucket(flat_members)
        refs = np.bincount(pair_slot[~is_hot], minlength=n)
        hot_slot, hot_kid = pair_slot[is_hot], pair_kid[is_hot]
        owner, shard = self._shards(hot_slot)
        members = hot_slot[owner]
        refs += np.bincount(members, minlength=n)
        self._refs[:n] = refs
        for kid in kids[counts > self.hot_threshold].tolist():
            self._hot[kid] = {}
        for kid, key, arr in _group2(hot_kid[owner], shard, members):
            self._hot[kid][key] = _Bucket(arr)


def _spheres(lat: F64, lon: F64, radius: F64) -> npt.NDArray[np.float64]:
    """:func:`_sphere` for many circles at once (bulk load). numpy's sin/cos may differ from
    ``math`` in the last bit, which the ``_EDGE_DOT`` recheck band absorbs many times over."""
    p, q = np.radians(lat), np.radians(lon)
    with np.errstate(invalid="ignore"):
        threshold = np.cos(radius / _EARTH_MI)
    threshold = np.where(radius >= math.pi * _EARTH_MI, -2.0, threshold)
    threshold = np.where(radius < 0, 2.0, threshold)
    return np.stack((np.cos(p) * np.cos(q), np.cos(p) * np.sin(q), np.sin(p), threshold), axis=1)


def _layout(first_key: I32, meta: I64, lat: F64, lon: F64) -> npt.NDArray[np.intp]:
    """Slot order for a bulk load: rules sharing their first posting list (and its shard) sit
    next to each other, so verifying that list's candidates reads memory almost sequentially."""
    cat = meta & _CAT_BITS
    row = np.clip(np.floor((lat + 90.0) / _CELL_DEG), 0, _ROWS - 1)
    col = np.floor((lon + 180.0) / _CELL_DEG) % _COLS
    cell = (row * _COLS + col).astype(np.int64)
    secondary = np.where((meta & _F_GEO) != 0, (1 << 33) + cell, cat)
    return np.lexsort((secondary, first_key))


def _runs(*keys: I64) -> tuple[npt.NDArray[np.intp], list[int], list[int]]:
    """Sort order and [start, end) runs of equal key tuples."""
    order = np.lexsort(keys[::-1]) if len(keys) > 1 else np.argsort(keys[0], kind="stable")
    change = np.zeros(order.size, np.bool_)
    for k in keys:
        s = k[order]
        change[1:] |= s[1:] != s[:-1]
    bounds = np.flatnonzero(change)
    starts = [0, *bounds.tolist()]
    ends = [*bounds.tolist(), order.size]
    return order, starts, ends


def _group(keys: I64, members: I32) -> Iterator[tuple[int, array[int]]]:
    """Group ``members`` by ``keys``, yielding ``(key, array of members)``."""
    if keys.size == 0:
        return
    order, starts, ends = _runs(keys)
    raw = np.ascontiguousarray(members[order], dtype=np.int32).tobytes()
    for key, start, end in zip(keys[order][starts].tolist(), starts, ends, strict=True):
        yield key, array("i", raw[4 * start : 4 * end])


def _group2(a: I64, b: I64, members: I32) -> Iterator[tuple[int, int, array[int]]]:
    """Group ``members`` by the pair ``(a, b)``."""
    if a.size == 0:
        return
    order, starts, ends = _runs(a, b)
    raw = np.ascontiguousarray(members[order], dtype=np.int32).tobytes()
    a_s, b_s = a[order][starts].tolist(), b[order][starts].tolist()
    for ka, kb, start, end in zip(a_s, b_s, starts, ends, strict=True):
        yield ka, kb, array("i", raw[4 * start : 4 * end])
