"""Discogs wanted-list values: grades, money, release references, note criteria and evaluation.

Pure values and rules, no I/O: the Discogs client and the watcher (``bot.ingest``) fetch data and
turn it into an :class:`OfferSnapshot`; this module only decides whether that offer meets what a
user asked for, and says *why* for every criterion so ``/wanted test`` and alerts can explain it.

Two principles run through it:

* **Never guess.** Data Discogs did not give us (no grade at the marketplace-stats level, a price in
  another currency with no converter, no reference price) yields "could not check", not a pass and
  not a fail. An alert needs its price criteria to have been checked.
* **Money is Decimal with a currency code** (DESIGN.md invariant 5); amounts in two currencies are
  only compared through an explicit converter.
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal, TypeVar
from urllib.parse import urlsplit

from bot.domain.listing import parse_money

# --------------------------------------------------------------------------------------------------
# Grades
# --------------------------------------------------------------------------------------------------


class Grade(enum.IntEnum):
    """A Discogs media/sleeve grade; a larger value is better, so "listing >= minimum" passes."""

    POOR = 0
    FAIR = 1
    GOOD = 2
    GOOD_PLUS = 3
    VERY_GOOD = 4
    VERY_GOOD_PLUS = 5
    NEAR_MINT = 6
    MINT = 7

    @property
    def label(self) -> str:
        """The exact string Discogs uses in listings (``condition`` / ``sleeve_condition``)."""
        return _GRADE_LABELS[self]

    @property
    def abbreviation(self) -> str:
        """The short form people type and alerts show ("VG+", "NM")."""
        return _GRADE_ABBREVIATIONS[self]

    @classmethod
    def parse(cls, text: str) -> Grade:
        """Parse an exact Discogs string, a name or an abbreviation, case-insensitively.

        Accepts "Very Good Plus (VG+)", "very good plus", "very_good_plus", "VG+", "NM", "M-",
        "NM or M-", "G+" ... Raises ``ValueError`` for anything else, including the sleeve-only
        values (use :func:`parse_sleeve` for a sleeve).
        """
        key = _grade_key(text)
        grade = _GRADE_ALIASES.get(key) or _GRADE_ALIASES.get(key.replace("_", " "))
        if grade is None:
            shown = str(text)[:40]
            raise ValueError(
                f"unknown grade {shown!r}: use M, NM (M-), VG+, VG, G+, G, F or P, "
                "or the full Discogs name such as 'Very Good Plus (VG+)'"
            )
        return grade


_GRADE_LABELS: dict[Grade, str] = {
    Grade.MINT: "Mint (M)",
    Grade.NEAR_MINT: "Near Mint (NM or M-)",
    Grade.VERY_GOOD_PLUS: "Very Good Plus (VG+)",
    Grade.VERY_GOOD: "Very Good (VG)",
    Grade.GOOD_PLUS: "Good Plus (G+)",
    Grade.GOOD: "Good (G)",
    Grade.FAIR: "Fair (F)",
    Grade.POOR: "Poor (P)",
}
_GRADE_ABBREVIATIONS: dict[Grade, str] = {
    Grade.MINT: "M",
    Grade.NEAR_MINT: "NM",
    Grade.VERY_GOOD_PLUS: "VG+",
    Grade.VERY_GOOD: "VG",
    Grade.GOOD_PLUS: "G+",
    Grade.GOOD: "G",
    Grade.FAIR: "F",
    Grade.POOR: "P",
}


def _grade_key(text: str) -> str:
    return " ".join(str(text).split()).casefold()


def _build_grade_aliases() -> dict[str, Grade]:
    aliases: dict[str, Grade] = {}
    for grade in Grade:
        aliases[_grade_key(grade.label)] = grade
        aliases[_grade_key(grade.abbreviation)] = grade
        aliases[grade.name.casefold().replace("_", " ")] = grade
    aliases["m-"] = Grade.NEAR_MINT
    aliases["nm or m-"] = Grade.NEAR_MINT
    aliases["nm-"] = Grade.NEAR_MINT
    aliases["near-mint"] = Grade.NEAR_MINT
    return aliases


_GRADE_ALIASES = _build_grade_aliases()


class SleeveState(enum.Enum):
    """Sleeve values Discogs allows outside the grading scale: they say nothing about wear."""

    GENERIC = "Generic"
    NOT_GRADED = "Not Graded"
    NO_COVER = "No Cover"

    @classmethod
    def parse(cls, text: str) -> SleeveState:
        """Parse "Generic", "Not Graded"/"not_graded", "No Cover", case-insensitively."""
        key = _grade_key(text).replace("_", " ").replace("-", " ")
        for state in cls:
            if state.value.casefold() == key:
                return state
        raise ValueError(f"unknown sleeve state {str(text)[:40]!r}")


def parse_sleeve(text: str) -> Grade | SleeveState:
    """Parse a Discogs ``sleeve_condition``: a :class:`Grade` or one of the :class:`SleeveState`."""
    try:
        return SleeveState.parse(text)
    except ValueError:
        return Grade.parse(text)


Verdict = bool | None
"""True = meets, False = does not meet, None = could not check."""


@dataclass(frozen=True, slots=True)
class SleevePolicy:
    """How each out-of-scale sleeve value counts against a *minimum sleeve grade*.

    Each field is the verdict for that value: ``True`` meets any minimum, ``False`` meets none,
    ``None`` reports "could not check". The default (:data:`DEFAULT_SLEEVE_POLICY`) says all three
    do **not** meet a minimum: someone who asked for "sleeve at least VG" wants the original sleeve
    in that state, and a generic sleeve, a missing cover or an ungraded one does not promise that.
    """

    generic: Verdict = False
    not_graded: Verdict = False
    no_cover: Verdict = False

    def verdict(self, state: SleeveState) -> Verdict:
        """The verdict this policy gives for ``state``."""
        if state is SleeveState.GENERIC:
            return self.generic
        if state is SleeveState.NOT_GRADED:
            return self.not_graded
        return self.no_cover


DEFAULT_SLEEVE_POLICY = SleevePolicy()
"""Generic, Not Graded and No Cover do NOT meet a minimum sleeve grade."""


def sleeve_meets(
    minimum: Grade | None,
    sleeve: Grade | SleeveState | None,
    *,
    policy: SleevePolicy = DEFAULT_SLEEVE_POLICY,
) -> bool | None:
    """Does ``sleeve`` meet ``minimum``? ``None`` means "could not check".

    No minimum always meets; an unknown sleeve (``None``, e.g. stats-level data) cannot be checked;
    a graded sleeve compares on the scale; an out-of-scale value is decided by ``policy`` — never
    implicitly, because "Generic" has no place on the scale.
    """
    if minimum is None:
        return True
    if sleeve is None:
        return None
    if isinstance(sleeve, SleeveState):
        return policy.verdict(sleeve)
    return sleeve >= minimum


# --------------------------------------------------------------------------------------------------
# Money
# --------------------------------------------------------------------------------------------------

CURRENCIES: tuple[str, ...] = (
    "USD",
    "GBP",
    "EUR",
    "CAD",
    "AUD",
    "JPY",
    "CHF",
    "MXN",
    "BRL",
    "NZD",
    "SEK",
    "ZAR",
)
"""The currencies Discogs accepts in ``curr_abbr``: the only ones a price can be compared in."""

MAX_AMOUNT = Decimal("1e15")  # far above any real price; keeps Decimal arithmetic far from overflow

# Symbols people type. "$" alone is read as USD (documented); other dollars need their prefix.
_SYMBOLS: dict[str, str] = {
    "$": "USD",
    "us$": "USD",
    "€": "EUR",
    "£": "GBP",
    "¥": "JPY",
    "ca$": "CAD",
    "c$": "CAD",
    "a$": "AUD",
    "au$": "AUD",
    "nz$": "NZD",
    "r$": "BRL",
    "mx$": "MXN",
}
_DOLLARS = frozenset({"USD", "CAD", "AUD", "NZD", "MXN"})
_MONEY_RE = re.compile(
    r"^(?P<pre>[^\d\s.,+-]+)?\s*(?P<num>\d[\d.,]*)\s*(?P<post>[^\d\s.,+-]+)?$", re.UNICODE
)
_DECIMAL_COMMA_RE = re.compile(r"^\d+,\d{1,2}$")


def _currency_of(token: str) -> str:
    """Map a symbol or code to a Discogs currency; ``ValueError`` naming an unknown one."""
    folded = token.casefold()
    if folded in _SYMBOLS:
        return _SYMBOLS[folded]
    code = token.upper()
    if code in CURRENCIES:
        return code
    raise ValueError(
        f"unknown currency {token[:12]!r}: Discogs prices can be in {', '.join(CURRENCIES)}"
    )


@dataclass(frozen=True, slots=True)
class Money:
    """An amount in one of :data:`CURRENCIES`. Not ordered: compare amounts of one currency only."""

    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.amount, Decimal) or not self.amount.is_finite():
            raise ValueError(f"{self.amount!r} is not an amount")
        if self.amount < 0 or self.amount > MAX_AMOUNT:
            raise ValueError(f"amount {self.amount} is out of range")
        if self.currency not in CURRENCIES:
            raise ValueError(
                f"unknown currency {str(self.currency)[:12]!r}: use one of {', '.join(CURRENCIES)}"
            )

    def __str__(self) -> str:
        return f"{self.amount:,.2f} {self.currency}"

    @classmethod
    def parse(cls, text: str, *, default_currency: str | None = None) -> Money:
        """Parse "40EUR", "€40", "40 eur", "$12.50", "12,50 €", "CA$20" to a 2-place amount.

        Without a symbol or code the ``default_currency`` is used; without one of those either,
        ``ValueError`` (a bare "40" is ambiguous). Unknown currencies raise ``ValueError`` naming
        the currency. A comma followed by one or two digits is a decimal comma ("12,50"); otherwise
        commas separate thousands ("1,299.99").
        """
        raw = " ".join(str(text).split())
        match = _MONEY_RE.match(raw)
        if match is None:
            raise ValueError(f"{raw[:40]!r} is not a price such as 40EUR, €40 or $12.50")
        pre, num, post = match.group("pre"), match.group("num"), match.group("post")
        currency: str | None = None
        if pre and post:
            first, second = _currency_of(pre), _currency_of(post)
            if first != second and not (pre == "$" and second in _DOLLARS):
                raise ValueError(f"{raw[:40]!r} names two currencies ({first} and {second})")
            currency = second
        elif pre or post:
            currency = _currency_of(pre or post or "")
        elif default_currency is not None:
            currency = _currency_of(default_currency)
        else:
            raise ValueError(f"{raw[:40]!r} has no currency: write it as 40EUR, €40 or $12.50")
        if _DECIMAL_COMMA_RE.match(num):
            num = num.replace(",", ".")
        amount = parse_money(num)
        if amount is None:  # pragma: no cover - the regex guarantees a digit
            raise ValueError(f"{raw[:40]!r} is not a price")
        return cls(amount, currency)


Converter = Callable[[str, str], Decimal | None]
"""``converter(from_currency, to_currency)`` → the rate to multiply by, or ``None`` if unknown."""


def _convert(money: Money, to: str, converter: Converter | None) -> tuple[Decimal | None, str]:
    """``money`` in currency ``to``, or ``(None, why)`` when that cannot be done honestly."""
    if money.currency == to:
        return money.amount, ""
    if converter is None:
        return None, f"currency differs ({money.currency} vs {to}) and no converter is set"
    try:
        rate = converter(money.currency, to)
    except (LookupError, ValueError, ArithmeticError) as exc:
        return None, f"no {money.currency}→{to} rate ({type(exc).__name__})"
    if not isinstance(rate, Decimal) or not rate.is_finite() or rate <= 0:
        return None, f"no usable {money.currency}→{to} rate"
    try:
        return (money.amount * rate).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP), ""
    except ArithmeticError:
        return None, f"the {money.currency}→{to} rate gives an unusable amount"


def rolling_median(prices: Sequence[Decimal], *, window: int | None = None) -> Decimal | None:
    """Median of the last ``window`` prices (all when ``None``); ``None`` when there are none.

    The fallback reference for "underpriced by X%" when Discogs has no price suggestion: a median
    of observed lowest prices resists one odd listing better than a mean. Prices must share one
    currency; that is the caller's job (it keeps one history per release and currency).
    """
    values = list(prices)
    if window is not None:
        if window <= 0:
            raise ValueError("window must be positive")
        values = values[-window:]
    if not values:
        return None
    ordered = sorted(values)
    mid = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[mid]
    return (ordered[mid - 1] + ordered[mid]) / 2


# --------------------------------------------------------------------------------------------------
# Release references
# --------------------------------------------------------------------------------------------------

MAX_DISCOGS_ID = 2**31 - 1
_DISCOGS_HOSTS = frozenset({"discogs.com", "www.discogs.com", "m.discogs.com"})
_LANG_RE = re.compile(r"^[a-z]{2}(?:_[A-Za-z]{2})?$")
_ID_SEGMENT_RE = re.compile(r"^(\d+)(?:-.*)?$")
_SHORT_RE = re.compile(r"^\[?([rm])(\d+)\]?$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class ReleaseRef:
    """A specific pressing (``release``) or "any pressing" (``master``) on Discogs."""

    kind: Literal["release", "master"]
    id: int

    @property
    def url(self) -> str:
        return f"https://www.discogs.com/{self.kind}/{self.id}"


def _check_id(digits: str, original: str) -> int:
    if len(digits) > 12:
        raise ValueError(f"{original[:60]!r}: the Discogs id is too large")
    value = int(digits)
    if value < 1 or value > MAX_DISCOGS_ID:
        raise ValueError(f"{original[:60]!r}: a Discogs id is between 1 and {MAX_DISCOGS_ID}")
    return value


def parse_release_ref(text: str) -> ReleaseRef:
    """Parse what a user pastes: a discogs.com release/master URL, ``r249504``/``m96559``
    (also Discogs' own ``[r249504]`` markup) or a bare id, which means a release.

    Only http(s) links on discogs.com are accepted — the text is untrusted, and a lookalike host or
    a ``javascript:`` link must never become something the bot fetches or shows as a link. No
    network: nothing is checked to exist. Raises ``ValueError`` with a message fit for the user.
    """
    original = str(text)
    raw = original.strip()
    if not raw:
        raise ValueError("give a Discogs release link, an id such as 249504, or r249504 / m96559")
    if raw.isascii() and raw.isdigit():
        return ReleaseRef("release", _check_id(raw, original))
    short = _SHORT_RE.match(raw)
    if short:
        kind: Literal["release", "master"] = (
            "master" if short.group(1).lower() == "m" else "release"
        )
        return ReleaseRef(kind, _check_id(short.group(2), original))
    if "/" not in raw and "." not in raw:
        raise ValueError(
            f"{raw[:60]!r} is not a Discogs release: give a link, an id such as 249504, "
            "or r249504 / m96559"
        )
    candidate = raw if "://" in raw else f"https://{raw}"
    try:
        parts = urlsplit(candidate)
        host = parts.hostname
        port = parts.port
    except ValueError:
        raise ValueError(f"{raw[:60]!r} is not a valid link") from None
    if parts.scheme.lower() not in {"http", "https"}:
        raise ValueError(f"{raw[:60]!r}: only http(s) links to discogs.com are accepted")
    if host not in _DISCOGS_HOSTS or port is not None or parts.username or parts.password:
        raise ValueError(f"{raw[:60]!r} is not a discogs.com link")
    segments = [s for s in parts.path.split("/") if s]
    if segments and (_LANG_RE.match(segments[0]) or segments[0] == "sell"):
        segments = segments[1:]  # /de/release/..., /sell/release/...
    if len(segments) == 3 and segments[1] in {"release", "master"}:
        segments = segments[1:]  # legacy /Artist-Title/release/249504
    if len(segments) != 2 or segments[0] not in {"release", "master"}:
        raise ValueError(f"{raw[:60]!r} is not a Discogs release or master page")
    id_match = _ID_SEGMENT_RE.match(segments[1])
    if id_match is None or not segments[1].isascii():
        raise ValueError(f"{raw[:60]!r}: the link has no numeric Discogs id")
    kind = "master" if segments[0] == "master" else "release"
    return ReleaseRef(kind, _check_id(id_match.group(1), original))


# --------------------------------------------------------------------------------------------------
# Criteria
# --------------------------------------------------------------------------------------------------

# ships_from on Discogs is a country name; users type codes. Map the common ones, compare folded.
_COUNTRY_ALIASES: dict[str, str] = {
    "us": "united states",
    "usa": "united states",
    "uk": "united kingdom",
    "gb": "united kingdom",
    "de": "germany",
    "fr": "france",
    "nl": "netherlands",
    "be": "belgium",
    "it": "italy",
    "es": "spain",
    "pt": "portugal",
    "at": "austria",
    "ch": "switzerland",
    "ie": "ireland",
    "dk": "denmark",
    "se": "sweden",
    "no": "norway",
    "fi": "finland",
    "pl": "poland",
    "cz": "czech republic",
    "jp": "japan",
    "ca": "canada",
    "au": "australia",
    "nz": "new zealand",
    "br": "brazil",
    "mx": "mexico",
    "za": "south africa",
    # CLDR (Babel) names offered by the /wanted ships_from autocomplete → Discogs' names.
    "czechia": "czech republic",
    "türkiye": "turkey",
    "hong kong sar china": "hong kong",
    "macao sar china": "macau",
    "south korea": "korea, republic of",
    "russia": "russia",
    "united states of america": "united states",
}


def normalise_country(text: str) -> str:
    """Fold a country code or name to one comparable key ("UK", "United_Kingdom" → same key)."""
    key = " ".join(str(text).replace("_", " ").split()).casefold()
    return _COUNTRY_ALIASES.get(key, key)


@dataclass(frozen=True, slots=True)
class WantedCriteria:
    """What one user wants of one wanted release; every field ``None``/empty means "any".

    ``min_seller_rating`` and ``underpriced_percent`` are percentages (98 = 98 %).
    ``ships_from`` holds keys from :func:`normalise_country` (the constructor folds them).
    """

    max_price: Money | None = None
    min_media: Grade | None = None
    min_sleeve: Grade | None = None
    ships_from: frozenset[str] = frozenset()
    min_seller_rating: float | None = None
    underpriced_percent: float | None = None
    sleeve_policy: SleevePolicy = DEFAULT_SLEEVE_POLICY

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "ships_from", frozenset(normalise_country(c) for c in self.ships_from)
        )
        rating = self.min_seller_rating
        if rating is not None and not (math.isfinite(rating) and 0 <= rating <= 100):
            raise ValueError("minimum seller rating must be between 0 and 100 %")
        under = self.underpriced_percent
        if under is not None and not (math.isfinite(under) and 0 < under < 100):
            raise ValueError("underpriced percent must be between 0 and 100 (exclusive)")


@dataclass(frozen=True, slots=True)
class NotesCriteria:
    """Criteria read from wantlist notes, with every problem found as a readable warning."""

    criteria: WantedCriteria
    warnings: tuple[str, ...] = ()


NOTE_KEYS = ("max", "media", "sleeve", "ships", "rating", "under")
_NOTE_TOKEN_RE = re.compile(r"(?<!\S)@(\w+)(?:=(\S*))?")


def _percent(value: str, *, low: float, high: float, inclusive_low: bool) -> float:
    try:
        number = float(value.removesuffix("%"))
    except ValueError:
        raise ValueError("not a number") from None
    ok_low = number >= low if inclusive_low else number > low
    if not (math.isfinite(number) and ok_low and number <= high):
        raise ValueError(f"must be a percentage between {low:g} and {high:g}")
    return number


def parse_notes(notes: str, *, default_currency: str | None = None) -> NotesCriteria:
    """Read ``@key=value`` tokens from Discogs wantlist notes; never raises.

    Keys: ``@max=40EUR`` (price; a bare number uses ``default_currency``), ``@media=VG+``,
    ``@sleeve=VG``, ``@ships=US,UK`` (codes or names, ``_`` for spaces), ``@rating=98`` (seller
    rating %), ``@under=20`` (at least 20 % under the reference price). A token starts at a word
    boundary, so an e-mail address in the notes is not a token; all other text is ignored. Unknown
    keys, bad values and repeated keys become warnings — notes are typed by hand on discogs.com,
    where we cannot reject them, so the user must be told instead.
    """
    warnings: list[str] = []
    values: dict[str, object] = {}
    seen: set[str] = set()
    for match in _NOTE_TOKEN_RE.finditer(str(notes)):
        key, value = match.group(1).casefold(), match.group(2)
        shown_key = match.group(1)[:20]
        if key not in NOTE_KEYS:
            warnings.append(
                f"unknown key @{shown_key} ignored (known: {', '.join('@' + k for k in NOTE_KEYS)})"
            )
            continue
        if not value:
            warnings.append(f"@{key} has no value (write it as @{key}=...)")
            continue
        if key in seen:
            warnings.append(f"@{key} is given more than once; the last valid one counts")
        seen.add(key)
        shown = value[:40]
        try:
            if key == "max":
                values[key] = Money.parse(value, default_currency=default_currency)
            elif key in {"media", "sleeve"}:
                values[key] = Grade.parse(value)
            elif key == "ships":
                countries = frozenset(normalise_country(c) for c in value.split(",") if c.strip())
                if not countries:
                    raise ValueError("no country given")
                values[key] = countries
            elif key == "rating":
                values[key] = _percent(value, low=0, high=100, inclusive_low=True)
            else:  # under
                values[key] = _percent(value, low=0, high=99.99, inclusive_low=False)
        except ValueError as exc:
            why = f": {exc}" if str(exc) else ""
            warnings.append(f"@{key}={shown!r} ignored{why}")
    criteria = WantedCriteria(
        max_price=_as(values.get("max"), Money),
        min_media=_as(values.get("media"), Grade),
        min_sleeve=_as(values.get("sleeve"), Grade),
        ships_from=_as(values.get("ships"), frozenset) or frozenset(),
        min_seller_rating=_as(values.get("rating"), float),
        underpriced_percent=_as(values.get("under"), float),
    )
    return NotesCriteria(criteria, tuple(warnings))


_T = TypeVar("_T")


def _as(value: object, kind: type[_T]) -> _T | None:
    return value if isinstance(value, kind) else None


# --------------------------------------------------------------------------------------------------
# Evaluation
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OfferSnapshot:
    """One offer as the watcher saw it: a listing, or the stats-level lowest price.

    At stats level (``/marketplace/stats``) grades, ships-from and seller are unknown (``None``).
    ``reference_price`` is what "underpriced" compares with, and ``reference_name`` says which it
    is ("price suggestion for VG+", "median of 12 observed lowest prices") so alerts can tell.
    """

    price: Money
    media: Grade | None = None
    sleeve: Grade | SleeveState | None = None
    ships_from: str | None = None
    seller_rating: float | None = None
    reference_price: Money | None = None
    reference_name: str = ""


class CheckStatus(enum.Enum):
    PASSED = "passed"
    FAILED = "failed"
    UNKNOWN = "could not check"

    @property
    def symbol(self) -> str:
        return {"passed": "✅", "failed": "❌", "could not check": "❔"}[self.value]


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One criterion's outcome and a sentence saying why."""

    name: str
    status: CheckStatus
    detail: str

    @property
    def line(self) -> str:
        if self.status is CheckStatus.UNKNOWN:
            return f"{self.status.symbol} {self.name}: could not check: {self.detail}"
        return f"{self.status.symbol} {self.name}: {self.detail}"


@dataclass(frozen=True, slots=True)
class Underpriced:
    """How far the offer is below (positive) or above (negative) its reference price."""

    percent_below: Decimal
    reference_name: str
    reference_price: Money

    @property
    def text(self) -> str:
        pct = self.percent_below.quantize(Decimal("1"), rounding=ROUND_HALF_UP)
        name = self.reference_name or "reference price"
        if pct >= 0:
            return f"{pct}% below the {name}"
        return f"{-pct}% above the {name}"


@dataclass(frozen=True, slots=True)
class Evaluation:
    """Every criterion's result, whether the offer matches, and the underpriced reading."""

    checks: tuple[CheckResult, ...]
    matched: bool
    underpriced: Underpriced | None = None

    @property
    def lines(self) -> list[str]:
        return [check.line for check in self.checks]


PRICE_CHECKS = frozenset({"price", "underpriced"})


def _price_check(
    criteria: WantedCriteria, offer: OfferSnapshot, conv: Converter | None
) -> CheckResult:
    limit = criteria.max_price
    if limit is None:
        return CheckResult("price", CheckStatus.PASSED, f"{offer.price} (no maximum set)")
    amount, why = _convert(offer.price, limit.currency, conv)
    if amount is None:
        return CheckResult("price", CheckStatus.UNKNOWN, why)
    shown = str(offer.price)
    if offer.price.currency != limit.currency:
        shown += f" (≈ {amount:,.2f} {limit.currency})"
    if amount <= limit.amount:
        return CheckResult("price", CheckStatus.PASSED, f"{shown} ≤ {limit}")
    return CheckResult("price", CheckStatus.FAILED, f"{shown} > {limit}")


def _grade_check(name: str, minimum: Grade, verdict: bool | None, value: object) -> CheckResult:
    if verdict is None:
        if value is None:
            why = f"{name} grade not known (stats-level data has no grades)"
        else:
            why = f"{name} is {value}, which the sleeve policy leaves unchecked"
        return CheckResult(name, CheckStatus.UNKNOWN, why)
    shown = value.label if isinstance(value, Grade) else getattr(value, "value", str(value))
    status = CheckStatus.PASSED if verdict else CheckStatus.FAILED
    relation = "meets" if verdict else "is below"
    if isinstance(value, SleeveState):
        relation = "counts as meeting" if verdict else "does not count as"
    return CheckResult(name, status, f"{shown} {relation} {minimum.abbreviation}")


def _reading(offer: OfferSnapshot, conv: Converter | None) -> tuple[Underpriced | None, str]:
    ref = offer.reference_price
    if ref is None:
        return None, "no reference price (no price suggestion and no price history yet)"
    ref_amount, why = _convert(ref, offer.price.currency, conv)
    if ref_amount is None:
        return None, f"reference price: {why}"
    if ref_amount <= 0:
        return None, "the reference price is zero"
    try:
        pct = (ref_amount - offer.price.amount) * 100 / ref_amount
    except ArithmeticError:  # pragma: no cover - amounts are bounded
        return None, "the reference price is unusable"
    return Underpriced(pct, offer.reference_name, ref), ""


def evaluate(
    criteria: WantedCriteria, offer: OfferSnapshot, *, converter: Converter | None = None
) -> Evaluation:
    """Check ``offer`` against ``criteria``, criterion by criterion; never raises on odd data.

    ``matched`` is True when no checkable criterion failed AND every price criterion that is set
    (maximum price; underpriced percent) could be checked: an alert on a price we could not compare
    would be a guess. Other unknowns (grades at stats level, no seller data) do not block a match —
    the stats trigger exists precisely to alert before listing details are known — but each is
    reported as "could not check" with the reason. Prices in other currencies are compared only
    through ``converter(from, to) -> rate``.
    """
    checks: list[CheckResult] = [_price_check(criteria, offer, converter)]
    if criteria.min_media is not None:
        media_ok = None if offer.media is None else offer.media >= criteria.min_media
        checks.append(_grade_check("media", criteria.min_media, media_ok, offer.media))
    if criteria.min_sleeve is not None:
        sleeve_ok = sleeve_meets(criteria.min_sleeve, offer.sleeve, policy=criteria.sleeve_policy)
        checks.append(_grade_check("sleeve", criteria.min_sleeve, sleeve_ok, offer.sleeve))
    if criteria.ships_from:
        wanted = ", ".join(sorted(criteria.ships_from))
        if not offer.ships_from:
            checks.append(CheckResult("ships from", CheckStatus.UNKNOWN, "origin not known"))
        else:
            ok = normalise_country(offer.ships_from) in criteria.ships_from
            status = CheckStatus.PASSED if ok else CheckStatus.FAILED
            word = "in" if ok else "not in"
            checks.append(
                CheckResult("ships from", status, f"{offer.ships_from[:60]} {word} {wanted}")
            )
    if criteria.min_seller_rating is not None:
        rating, minimum = offer.seller_rating, criteria.min_seller_rating
        if rating is None or not math.isfinite(rating):
            checks.append(CheckResult("seller rating", CheckStatus.UNKNOWN, "rating not known"))
        else:
            ok = rating >= minimum
            status = CheckStatus.PASSED if ok else CheckStatus.FAILED
            sign = "≥" if ok else "<"
            checks.append(CheckResult("seller rating", status, f"{rating:g}% {sign} {minimum:g}%"))
    reading, why = _reading(offer, converter)
    if criteria.underpriced_percent is not None:
        want = criteria.underpriced_percent
        if reading is None:
            checks.append(CheckResult("underpriced", CheckStatus.UNKNOWN, why))
        else:
            ok = reading.percent_below >= Decimal(str(want))
            status = CheckStatus.PASSED if ok else CheckStatus.FAILED
            sign = "≥" if ok else "<"
            checks.append(
                CheckResult("underpriced", status, f"{reading.text} ({sign} {want:g}% wanted)")
            )
    matched = all(c.status is not CheckStatus.FAILED for c in checks) and all(
        c.status is CheckStatus.PASSED for c in checks if c.name in PRICE_CHECKS
    )
    return Evaluation(tuple(checks), matched, reading)


__all__ = [
    "CURRENCIES",
    "DEFAULT_SLEEVE_POLICY",
    "CheckResult",
    "CheckStatus",
    "Converter",
    "Evaluation",
    "Grade",
    "Money",
    "NotesCriteria",
    "OfferSnapshot",
    "ReleaseRef",
    "SleevePolicy",
    "SleeveState",
    "Underpriced",
    "WantedCriteria",
    "evaluate",
    "normalise_country",
    "parse_notes",
    "parse_release_ref",
    "parse_sleeve",
    "rolling_median",
    "sleeve_meets",
]
