"""Prices and swap tags from the free text of a listing feed entry (RSS, Atom, JSON Feed).

Pure functions: no I/O. A feed entry is a title and a body written by a human for humans, so
every number in it is a suspect: "RTX 3080", "2019 MacBook", "32GB", "2x", "(408) 555-1234",
"was $300". The approach is *find candidates, then prove each one is a price*:

1. The text is cleaned (HTML entities and tags, struck-through prices, invisible characters) and
   things that are made of digits but are never prices (phone numbers, URLs, dates, clock times)
   are blanked out.
2. A regular expression finds amounts with their surroundings: an optional currency symbol or
   ISO code before or after, thousands separators of either convention, "k" for thousands, and
   a range ("$50-$60").
3. Each candidate must pass guards (see :func:`_judge`). An amount with a currency mark is a
   price unless the words around it say otherwise ("was", "retail", "+ $15 shipping", "20%").
   A bare number is a price only if a word next to it says so ("Price: 75", "150 shipped",
   "45,-") and it does not look like a year, model number, size or quantity.
4. ``price_parser`` turns the vetted amount text into a ``Decimal``; it only ever sees a short
   span we already accepted, never the whole title, because on its own it happily reads
   "RTX 3080" as 3080.

Decisions on ambiguous text (the tests pin each one):

* "free" in a title is a price of 0; "$0" is refused (it is how classifieds say "see body").
  "free" in a *body* is ignored: "free shipping", "free local pickup" and friends are too common.
* A range ("$50-$60", "50 to 60 €") gives its lower bound, the price a buyer can hope for.
* "was $300 now $250", "$300 -> $250", "~~$300~~ $250": the current price. Prices introduced by
  "now", "reduced to", "new price" win over others; reference prices ("was", "retail", "paid",
  "MSRP", "$50 off") are dropped.
* Otherwise the first price wins, and an amount with a currency mark beats a bare number
  ("Price: 75, shipping $10" gives 75 only because shipping charges are dropped as surcharges).
* A bare number takes the currency of the text's marked prices if they all agree, else the
  caller's default.
* In a swap title only the [H] side counts; a post whose [H] side is only money ("[H] PayPal
  [W] RTX 4090") or that has no [H] side at all is a want-to-buy post and has no price.
"""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from itertools import islice

from price_parser import Price

from bot.domain.listing import MAX_PRICE

__all__ = [
    "PriceGuess",
    "SwapTitle",
    "extract_price",
    "location_from_tag",
    "parse_swap_title",
]

# Titles and bodies are cut to these lengths before parsing: a seller puts the price near the
# top, and a bound keeps the cost of hostile input (megabytes of "$$$") predictable.
MAX_TITLE_CHARS = 1_000
MAX_BODY_CHARS = 20_000
_WINDOW = 40  # characters on each side of a candidate that its guards look at
_MAX_CANDIDATES = 200  # amounts judged per text; same reasoning as the length bounds


@dataclass(frozen=True, slots=True)
class SwapTitle:
    """A swap-style title: ``[USA-CA][H] RTX 3080 [W] PayPal``.

    ``location`` is the location tag in canonical form ("USA-CA", "EU-DE", "UK",
    "USA-CA, San Jose"), ready for :func:`location_from_tag`; ``have`` is what is offered (""
    for a want-to-buy post); ``want`` is what the poster wants, ``None`` without a [W] tag.
    """

    location: str | None
    have: str
    want: str | None


@dataclass(frozen=True, slots=True)
class PriceGuess:
    """A price read from an entry: amount (2 places), ISO 4217 currency, "title" or "body"."""

    amount: Decimal
    currency: str
    source: str


# --------------------------------------------------------------------------- text cleaning

_STRUCK_HTML = re.compile(r"<(s|del|strike)\b[^<>]{0,200}>.{0,500}?</\1\s*>", re.I | re.S)
_STRUCK_MD = re.compile(r"~~[^~\n]{1,200}~~")
_TAG_HTML = re.compile(r"</?[A-Za-z][^<>]{0,200}>")
# Digits that are never prices. Blanked (not deleted) so that neighbouring words stay apart.
_NOT_PRICES = re.compile(
    r"""
    (?:https?://|www\.)\S+                                  # URLs (imgur ids, item numbers)
    | [\w.+-]{1,64}@[\w-]{1,63}\.[\w.]{1,63}                 # e-mail addresses
    | \b[\w-]{1,63}\.(?:com|net|org|io|gg|co|me|ly|de|uk)/\S*  # bare links
    | \+\d{1,3}(?:[\s.-]?\d{2,4}){2,5}\b                    # international phone numbers
    | (?<![\w$€£])\(?\d{3}\)?[\s.-]?\d{3}[\s.-]\d{4}\b      # (408) 555-1234, 408.555.1234
    | (?<![\w$€£.,])\d{3}-\d{4}\b                           # 555-1234
    | \b\d{4}-\d{2}-\d{2}\b                                 # 2024-05-01
    | \b\d{1,2}[/.]\d{1,2}[/.]\d{2,4}\b                     # 5/1/2024, 01.05.24
    | \b\d{1,2}:\d{2}(?::\d{2})?(?:\s?[ap]\.?m\b\.?)?       # 10:30, 5:00 pm
    | \b\d{1,2}\s?[ap]\.?m\b\.?                             # 5pm, 10 a.m.
    """,
    re.I | re.X,
)


def _flatten(text: str) -> str:
    """NFKC-normalise and drop invisible characters.

    NFKC folds full-width digits and "￥" to their plain forms and no-break spaces to spaces;
    format characters (zero-width spaces, bidi overrides) are removed because they can split a
    price in two or hide one; control characters and line breaks become spaces.
    """
    text = unicodedata.normalize("NFKC", text)
    kept = (" " if unicodedata.category(ch) == "Cc" else ch for ch in text)
    return "".join(ch for ch in kept if unicodedata.category(ch) != "Cf")


def _prepare(text: str, limit: int) -> str:
    """Plain text for price hunting: unescaped, de-tagged, without struck prices and non-prices.

    Feed bodies are HTML ("&#36;250", "<s>$300</s> $250"); a struck-through amount is an old
    price, so it goes before the tags are stripped.
    """
    text = html.unescape(text[: limit * 2])[:limit]
    text = _STRUCK_HTML.sub(" ", text)
    text = _STRUCK_MD.sub(" ", text)
    text = _TAG_HTML.sub(" ", text)
    text = _flatten(text)
    return _NOT_PRICES.sub(lambda m: " " * len(m.group()), text)


# --------------------------------------------------------------------------- currencies

# "$" alone means the caller's currency when that is a dollar, else US dollars.
_DOLLAR_CURRENCIES = frozenset({"USD", "CAD", "AUD", "NZD", "HKD", "SGD", "MXN", "TWD"})
_KRONA_CURRENCIES = frozenset({"SEK", "NOK", "DKK", "ISK"})
# ISO codes accepted in any case ("45 eur") and codes accepted only in capitals, because in
# lower case they are ordinary words ("try", "php", "ron").
_ISO_ANY_CASE = (
    "USD", "CAD", "AUD", "NZD", "EUR", "GBP", "JPY", "CHF", "SEK", "NOK", "DKK", "PLN", "CZK",
    "INR", "SGD", "HKD", "MXN", "BRL",
)  # fmt: skip
_ISO_UPPER = (
    "CNY", "ISK", "HUF", "RON", "BGN", "ZAR", "KRW", "TWD", "TRY", "ILS", "RUB", "UAH", "PHP",
    "THB", "MYR", "IDR", "AED",
)  # fmt: skip
_ISO_CODES = frozenset(_ISO_ANY_CASE + _ISO_UPPER)
# Symbols and words (whitespace removed, casefolded) with one meaning.
_SYMBOLS = {
    "us$": "USD", "usd$": "USD", "ca$": "CAD", "cad$": "CAD", "c$": "CAD", "au$": "AUD",
    "aud$": "AUD", "a$": "AUD", "nz$": "NZD", "nzd$": "NZD", "hk$": "HKD", "hkd$": "HKD",
    "s$": "SGD", "sgd$": "SGD", "mx$": "MXN", "nt$": "TWD", "r$": "BRL", "£": "GBP", "€": "EUR",
    "¥": "JPY", "jp¥": "JPY", "円": "JPY", "cn¥": "CNY", "₹": "INR", "₩": "KRW", "₽": "RUB",
    "₺": "TRY", "₪": "ILS", "zł": "PLN", "kč": "CZK", "euro": "EUR", "euros": "EUR",
    "yen": "JPY", "quid": "GBP",
}  # fmt: skip
_DOLLAR_WORDS = frozenset({"$", "dollar", "dollars", "buck", "bucks"})
_KRONA_WORDS = frozenset({"kr", "kr."})


def _currency_code(value: str) -> str:
    code = value.strip().upper()
    if not re.fullmatch(r"[A-Z]{3}", code):
        raise ValueError(f"{value!r} is not an ISO 4217 currency code")
    return code


def _symbol_currency(token: str, default: str) -> tuple[int, str] | None:
    """(specificity, ISO code) for a matched currency mark; a code beats a symbol beats "$".

    Specificity settles "$380 CAD" (CAD, not the "$" reading) and "C$380" (CAD).
    """
    key = re.sub(r"\s+", "", token).casefold()
    if key.upper() in _ISO_CODES:
        return 3, key.upper()
    if key in _SYMBOLS:
        return 2, _SYMBOLS[key]
    if key in _DOLLAR_WORDS:
        return 1, default if default in _DOLLAR_CURRENCIES else "USD"
    if key in _KRONA_WORDS:  # Swedish, Norwegian, Danish, Icelandic: only the caller knows
        return 1, default if default in _KRONA_CURRENCIES else "SEK"
    return None


# --------------------------------------------------------------------------- amount candidates

_PREFIX = (
    r"(?:US\s?\$|USD\s?\$|CAD?\s?\$|C\$|AUD?\s?\$|A\$|NZD?\$|HKD?\$|SGD?\$|MX\$|NT\$|R\$"
    r"|JP¥|CN¥|\$|€|£|¥|₹|₩|₽|₺|₪)"
)
_SUFFIX = r"(?:€|\$|£|¥|円|zł|Kč|kr\.?|(?i:dollars?|bucks?|euros?|yen|quid))"
_ISO = rf"(?:(?i:{'|'.join(_ISO_ANY_CASE)})|{'|'.join(_ISO_UPPER)})"
# 1,299.99 / 1.299,99 / 1'299.90 / 1299 / 12,50 / .99. Repetitions are bounded so that a
# hostile "1,000,000,..." run costs linear time (every "," would otherwise restart a long scan).
_NUM = (
    r"(?:[0-9]{1,3}(?:[,.'’][0-9]{3}){1,4}(?:[.,][0-9]{1,2})?"
    r"|[0-9]{1,10}(?:[.,][0-9]{1,2})?|[.,][0-9]{2})"
)
# "1 299,99 €": space-grouped thousands only next to a currency mark; "2 500GB" is not 2500.
_NUM_SPACED = r"[0-9]{1,3}(?:[ ][0-9]{3}){1,3}(?:,[0-9]{1,2})?"  # [ ]: the pattern is verbose
_AMOUNT = re.compile(
    rf"""
    (?<![^\W_])
    (?:(?P<pre>{_PREFIX}|{_ISO})\s?(?P<sign>[-−]\s?)?)?
    (?P<num>(?(pre){_NUM_SPACED}|{_NUM_SPACED}(?=\s?(?:{_SUFFIX}|{_ISO})(?![^\W_])))|{_NUM})
    (?P<k>[kK](?![^\W_]))?
    (?:
        (?:(?(pre)\s{{0,3}}[-–—]\s{{0,3}}|[-–—])|\s{{1,3}}to\s{{1,3}})
        (?P<pre2>{_PREFIX}|{_ISO})?\s?
        (?P<num2>{_NUM})(?P<k2>[kK](?![^\W_]))?
    )?
    (?P<dash>[.,]-)?
    (?:\s?(?P<suf>{_SUFFIX}|{_ISO})(?!\s?[-−]?[0-9]))?  # "iPhone 12 CHF 350": CHF is 350's
    (?![^\W_])
    """,
    re.X,
)

# ---------------------------------------------------------------------------- context guards
# All context patterns run on casefolded windows: ``before`` ends at the candidate, ``after``
# starts right after it.

# Words that announce a price; a bare number needs one of these (or a _TRAIL_CUE).
_LEAD_CUE = re.compile(
    r"(?:\bprice[ds]?(?:\s+(?:is|at|of))?|\bprice\s+drop(?:ped)?(?:\s+to)?|\basking(?:\s+price)?"
    r"|\bask|\b(?:sell(?:ing)?|ask(?:ing)?|yours|all|both|bundle|lot|let(?:ting)?\s+"
    r"(?:it\s+|them\s+)?go)\s+for|\bnow(?:\s+(?:only|just|asking))?"
    r"|\b(?:reduced|dropped|drop|lowered|down)\s+to|\b(?:new|sale)\s+price|@)"
    r"\s*[:=\-–]?\s*$"
)
# Among announced prices, these mean "the current price" and win over earlier ones.
_CURRENT_CUE = re.compile(
    r"(?:\bnow(?:\s+(?:only|just|asking))?|\b(?:reduced|dropped|drop|lowered|down)\s+to"
    r"|\bprice\s+drop(?:ped)?(?:\s+to)?|\b(?:new|sale)\s+price)\s*[:=\-–]?\s*$"
)
_TRAIL_CUE = re.compile(
    r"^\s*(?:[-–,]\s*)?(?:shipped|ship(?:ping)?\s+incl|incl\w*\s+shipping|obo\b|o\.b\.o|ono\b"
    r"|o\.n\.o|ovno\b|firm\b|each\b|ea\b|/\s?ea\b|/\s?each|a\s+piece|apiece"
    r"|per\s+(?:item|unit|piece|stick)|or\s+(?:best|nearest|near)\s+offer|or\s+offers?"
    r"|cash\b|local\b|pick\s?-?up|delivered|posted|negotiable|neg\b|nego\b|vb\b|vhb\b"
    r"|plus\s+shipping|\+\s*(?:shipping|ship|s&h|postage|p&p))"
)
# A reference price, not the asking price: "was $300", "retail $700", "paid $400", "$50 off".
_REF_BEFORE = re.compile(
    r"(?:\bwas|\bwere|\boriginally|\borig\.?|\boriginal(?:\s+price)?|\bretail(?:s|ed)?"
    r"(?:\s+(?:price|for|at|is))?|\bmsrp|\brrp|\bpaid|\bbought(?:\s+(?:it|them))?\s+(?:for|at)"
    r"|\bcost\s+me|\bcosts?\s+new|\bnew\s+(?:is|costs?|goes\s+for|sells\s+for|retail|msrp)"
    r"|\bregular(?:ly)?|\breg\.?|\blist(?:ed)?\s+(?:price|at)|\bvalued?\s+at|\bworth"
    r"|\bcompare\s+at|\bsells?\s+for|\binstead\s+of|\bnot|\bvs\.?|\bsave"
    r"|\b(?:down|up|reduced|dropped|lowered)\s+from)\s*[:=]?\s*$"
)
_REF_AFTER = re.compile(
    r"^\s*\)?\s*(?:retail|msrp|rrp|new\b(?!\s*(?:in|condition|sealed|never|unopened|open|w/"
    r"|with|,))|on\s+amazon|at\s+(?:best\s*buy|amazon|walmart|newegg|micro\s?center)"
    r"|elsewhere|off\b|discount|savings?|value\b|→|->|=>|⟶|➡)"
)
# A charge on top of the price: "+ $15 shipping", "shipping: $20", "$10 deposit".
_SURCHARGE_BEFORE = re.compile(
    r"(?:\bshipping|\bship|\bpostage|\bp&p|\bs&h|\bdelivery|\bdeposit|\bfees?|\btax|\bplus"
    r"|\+|\bextra|\badd(?:itional)?)\s*(?:is|of|costs?|:|=|for)?\s*(?:is\s+)?(?:an?\s+)?"
    r"(?:extra\s+)?$"
)
_SURCHARGE_AFTER = re.compile(
    r"^\s*(?:for\s+)?(?:shipping|postage|p&p|s&h|delivery|to\s+ship|deposit|fee|tax)\b"
    r"(?!\s*(?:incl|inc\b|included|paid|covered|available|possible))"
)
# A rate or a share, not a price: "20%", "$20/mo", "$5 per month".
_RATE_AFTER = re.compile(
    r"^\s?(?:%|percent\b|pct\b|(?:/|per\s|an?\s)\s?(?:mo\b|month|hr\b|hour|day|week|wk\b|yr\b"
    r"|year|night|gb\b|tb\b|sq|monat|mois|mes\b))"
)
# Bare numbers only: the word before makes it a model or identifier ("RTX 3080", "Size 10").
_MODEL_BEFORE = re.compile(
    r"(?:\b(?:rtx|gtx|rx|gt|radeon|arc|quadro|titan|ryzen|threadripper|core|xeon|epyc|athlon"
    r"|pentium|celeron|iphone|ipad|galaxy|pixel|note|ps|playstation|xbox|switch|series|model"
    r"|gen|mk|mark|version|ver|rev|revision|v|no|number|type|size|sku|part|pn|socket|lga|am"
    r"|ddr|pcie|usb|hdmi|windows|win|office|macos|ios|android|bios|room|apt|suite|unit|route"
    r"|hwy|highway|zip)\.?|#)\s*$"
)
# ... or the word after does ("980 Pro", "3080 Ti", "1234 Main St").
_MODEL_AFTER = re.compile(
    r"^\s?(?:ti|super|xt|xtx|x3d|gre|pro|plus|max|ultra|mini|air|evo|fe|oc|founders|edition"
    r"|series|gen|generation|model|version|rev|st|street|ave|avenue|rd|road|blvd|dr|drive|ln"
    r"|lane|way|ct|court)\b"
)
# ... or it is a size, duration or count ("32 GB", '27"', "3 years", "2 x", "2 left").
_NOT_MONEY_AFTER = re.compile(
    r"""^\s?(?:["'″′°×]|x\b|(?:[kmgt]?b|[kmgt]?bps|gbe|[kmg]?hz|w|watts?|kw|wh|mah|v|volts?
    |amps?|a|mm|cm|m|km|in|inch(?:es)?|ft|feet|foot|lbs?|pounds?|kg|g|grams?|oz|ml|l|liters?
    |litres?|gal|mi|miles?|mph|yrs?|years?|y/?o|mos?|months?|weeks?|wks?|days?|hrs?|hours?|h
    |mins?|minutes?|am|pm|p|fps|rpm|dpi|cores?|threads?|keys?|bit|zoll|people|persons?|seats?
    |players?|pcs|pieces?|units?|pack|count|ct|left|available|sticks?|cards?|drives?|bays?
    |slots?|ports?|of|gpus?|cpus?|kids?|bedrooms?|beds?|br|ba|baths?)\b|in\s+stock)""",
    re.X,
)
_QUANTITY_BEFORE = re.compile(
    r"(?:\bx|×|\bqty|\bquantity|\b(?:lot|pack|set|box|case)\s+of|\bcount)\s*[:=]?\s*$"
)


@dataclass(frozen=True, slots=True)
class _Found:
    amount: Decimal
    currency: str | None  # None: a bare number, currency decided later
    current: bool  # introduced by "now", "reduced to", "new price", ...
    start: int


def _windows(m: re.Match[str], text: str) -> tuple[str, str]:
    before = text[max(0, m.start() - _WINDOW) : m.start()].casefold()
    return before, text[m.end() : m.end() + _WINDOW].casefold()


def _is_negative(m: re.Match[str], before: str) -> bool:
    """ "$-50" and "-50 shipped" are refunds, credits or abuse, never an asking price.

    "-$120" counts as a dash separator ("Chair -$120"), which is how people write it.
    """
    if m["sign"]:
        return True
    return (
        m["pre"] is None
        and before.endswith(("-", "−"))
        and (len(before) < 2 or before[-2] in " (:")
    )


def _is_code(m: re.Match[str], before: str, after: str) -> bool:
    """Digits glued to other characters by "-", "/" or "." are a code ("i7-12700K", "9/10",
    "v1.5.3"), not an amount: prices are not written inside tokens."""
    if m["pre"] is None and len(before) >= 2 and before[-1] in "-/." and before[-2].isalnum():
        return True
    return re.match(r"[.,/:][0-9]", after) is not None


def _is_reference_or_extra(before: str, after: str) -> bool:
    """Old prices, retail prices, discounts, surcharges and rates are not the asking price.

    Sellers quote them to look generous ("retail $700, asking $450", "+ $15 shipping",
    "20% off"); taking them would make the listing look dearer or cheaper than it is.
    """
    return bool(
        _REF_BEFORE.search(before)
        or _REF_AFTER.match(after)
        or _SURCHARGE_BEFORE.search(before)
        or _SURCHARGE_AFTER.match(after)
        or _RATE_AFTER.match(after)
    )


def _looks_like_year(m: re.Match[str]) -> bool:
    text = m["num"]
    return text.isdigit() and len(text) == 4 and 1900 <= int(text) <= 2099 and not m["k"]


def _bare_number_is_price(m: re.Match[str], before: str, after: str) -> bool:
    """A number without a currency mark is a price only with a price word right next to it.

    Titles are full of numbers (models, sizes, years, counts); without a cue ("Price: 75",
    "150 shipped", "45,-") guessing would be wrong far more often than right. Even with a cue
    the number must not look like a model ("RTX 3080 obo"), a size ("32 GB"), a count ("x2")
    or, unless the cue comes first ("asking 2000"), a year ("MacBook Pro 2019 local").
    """
    lead = _LEAD_CUE.search(before) is not None
    if not (lead or m["dash"] or _TRAIL_CUE.match(after)):
        return False
    if (
        _is_code(m, before, after)
        or _MODEL_BEFORE.search(before)
        or _MODEL_AFTER.match(after)
        or _NOT_MONEY_AFTER.match(after)
        or _QUANTITY_BEFORE.search(before)
    ):
        return False
    return lead or not _looks_like_year(m)


def _parse_amount(text: str, thousands: bool) -> Decimal | None:
    """``price_parser`` reads the separators ("1.299,99", "1'299.90"); we bound the result.

    Zero is refused because "$0" is a classifieds placeholder, and anything above MAX_PRICE is a
    typo or abuse that would otherwise sort to the top of every "highest price" view.
    """
    try:
        amount = Price.fromstring(text.replace("’", "'")).amount
    except (InvalidOperation, ValueError):
        return None
    if amount is None or not amount.is_finite():
        return None
    if thousands:
        amount *= 1000
    if amount <= 0 or amount > MAX_PRICE:
        return None
    return amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _currency_of(m: re.Match[str], default: str) -> str | None:
    ranked = [_symbol_currency(m[g], default) for g in ("pre", "pre2", "suf") if m[g]]
    best = max((r for r in ranked if r is not None), default=None)
    return best[1] if best else None


def _judge(m: re.Match[str], text: str, default: str) -> _Found | None:
    """The candidate as a price, or ``None`` if any guard refuses it."""
    before, after = _windows(m, text)
    currency = _currency_of(m, default)
    if currency is None and not _bare_number_is_price(m, before, after):
        return None
    if _is_negative(m, before) or _is_reference_or_extra(before, after):
        return None
    # "$5-10k" means 5k to 10k: the upper bound's "k" applies to the lower one too
    amount = _parse_amount(m["num"], bool(m["k"] or (m["num2"] and m["k2"])))
    if amount is None:
        return None
    return _Found(amount, currency, _CURRENT_CUE.search(before) is not None, m.start())


def _choose(found: list[_Found], marked: set[str], default: str) -> tuple[Decimal, str] | None:
    """Current prices first, then marked ones, then the earliest.

    A bare winner borrows the currency of the text's marked amounts, refused ones included
    ("120 obo, shipping 15 €" is in euros), when they all agree; otherwise the default.
    """
    if not found:
        return None
    best = min(found, key=lambda f: (not f.current, f.currency is None, f.start))
    if best.currency is not None:
        return best.amount, best.currency
    return best.amount, next(iter(marked)) if len(marked) == 1 else default


# ------------------------------------------------------------------------------------ free

_FREE = re.compile(r"(?<![\w-])free(?![\w-])", re.I)
_FREE_NOT_BEFORE = re.compile(
    r"(?:feel|smoke|pet|scratch|tool|hands|toll|duty|tax|sugar|gluten|dust|stress|hassle|worry"
    r"|lead|bpa|rust|crack|damage|mold|odou?r|latex|cruelty|interest|royalty|drug|clutter)"
    r"[\s-]*$"
)
_FREE_NOT_AFTER = re.compile(
    r"^[\s-]*(?:shipping|ship|delivery|returns?|up\b|trial|gift|bonus|sync|standing|time"
    r"|games?|month|upgrade|install\w*|case\b|extras?|with|w/|if|when|local|pick\s?-?up|meet"
    r"|estimate|quote|consult\w*|of(?!\s+charge)|to\s+(?:ask|message|contact|reach|dm|pm|text"
    r"|call|inquire|offer)|version|edition|spirit|throw|agent|weights?|range)"
)


def _says_free(text: str) -> bool:
    """ "Free couch", "FREE: firewood", "Dresser - free to a good home" claim a price of 0.

    Only for titles: "free" is also "free shipping", "smoke-free home", "feel free to ask",
    which these exclusions catch in a headline but would miss too often in a long body.
    """
    for m in _FREE.finditer(text):
        before = text[max(0, m.start() - 20) : m.start()].casefold()
        after = text[m.end() : m.end() + 30].casefold()
        if not _FREE_NOT_BEFORE.search(before) and not _FREE_NOT_AFTER.match(after):
            return True
    return False


def _price_in(text: str, default: str, limit: int, allow_free: bool) -> tuple[Decimal, str] | None:
    clean = _prepare(text, limit)
    matches = list(islice(_AMOUNT.finditer(clean), _MAX_CANDIDATES))
    found = [f for m in matches if (f := _judge(m, clean, default)) is not None]
    marked = {c for m in matches if (c := _currency_of(m, default)) is not None}
    chosen = _choose(found, marked, default)
    if chosen is None and allow_free and _says_free(clean):
        return Decimal("0.00"), default
    return chosen


# ------------------------------------------------------------------------------ swap titles

_PAYMENT_WORDS = frozenset({
    "paypal", "pp", "cash", "local", "venmo", "zelle", "money", "e", "transfer", "etransfer",
    "interac", "btc", "crypto", "bitcoin", "f&f", "g&s", "gs", "ff", "fnf", "usd", "eur", "gbp",
    "cad", "or", "and", "shipped", "via", "bank", "revolut", "wise", "sepa", "apple",
    "google", "pay", "cashapp", "app", "offers", "offer",
})  # fmt: skip


def is_payment_only(have: str) -> bool:
    """ "[H] $300 PayPal [W] RTX 4090" offers money: it is a buyer's post, nothing is for sale."""
    words = re.findall(r"[a-z&]+", have.casefold())
    if not words:  # "[H] $500" / "[H] €250" is money; "[H] 3090" is a graphics card
        return bool(re.search(r"[$€£¥]", have))
    return all(w in _PAYMENT_WORDS for w in words)


def extract_price(
    title: str, body: str = "", *, default_currency: str = "USD"
) -> PriceGuess | None:
    """The asking price of a feed entry: from the title, else the body; ``None`` if neither says.

    For a swap title the [H] side is read first; when it names no price and the [W] side only
    asks for money ("[W] PayPal, $450"), that amount is the asking price. Want-to-buy posts
    ("[H] PayPal [W] …") give ``None`` without reading the body. "$" means
    ``default_currency`` when that is a dollar currency, else USD; a bare number ("Price: 75")
    gets ``default_currency`` (or the currency the rest of the text uses). Raises
    ``ValueError`` only for a ``default_currency`` that is not three letters.
    """
    default = _currency_code(default_currency)
    title_text = title
    swap = parse_swap_title(title)
    if swap is not None:
        if not swap.have or is_payment_only(swap.have):
            return None
        title_text = swap.have
    found = _price_in(title_text, default, MAX_TITLE_CHARS, allow_free=True)
    if found is not None:
        return PriceGuess(found[0], found[1], "title")
    if swap is not None and swap.want and is_payment_only(swap.want):
        # "[H] RTX 3080 [W] PayPal, $450": with an item on offer and only money wanted, the
        # amount on the [W] side is what the seller asks.
        found = _price_in(swap.want, default, MAX_TITLE_CHARS, allow_free=False)
        if found is not None:
            return PriceGuess(found[0], found[1], "title")
    found = _price_in(body, default, MAX_BODY_CHARS, allow_free=False)
    if found is not None:
        return PriceGuess(found[0], found[1], "body")
    return None


_BRACKET_TAG = re.compile(r"[\[({]\s*(?P<body>[^\[\](){}]{1,40}?)\s*[\])}]\s*:?")
_BARE_HAVE = re.compile(r"^(?:\s*\[[^\]]{0,40}\])*\s*(?P<tag>(?:h|have)\s*:)", re.I)
_BARE_WANT = re.compile(r"(?<![^\s\],;|])(?:w|want)\s*:", re.I)
_HAVE_TAGS = frozenset({"h", "have", "has", "fs", "wts", "ft", "for sale", "for trade", "selling"})
_WANT_TAGS = frozenset({"w", "want", "wants", "wtb"})


@dataclass(frozen=True, slots=True)
class _Mark:
    start: int
    end: int
    kind: str  # "have" | "want" | "loc"
    square: bool
    value: str = ""


def _tag_kind(body: str) -> str | None:
    """ "H", "Have", "FS/FT" -> "have"; "W", "WTB" -> "want"; "USA-CA" -> "loc"; else None."""
    key = " ".join(body.casefold().split())
    parts = {p.strip() for p in re.split(r"[/&+]", key)}
    if parts <= _HAVE_TAGS:
        return "have"
    if parts <= _WANT_TAGS:
        return "want"
    return "loc" if location_from_tag(body) is not None else None


def _tag_marks(text: str) -> list[_Mark]:
    marks = []
    for m in _BRACKET_TAG.finditer(text):
        kind = _tag_kind(m["body"])
        if kind is not None:
            value = _canonical_tag(m["body"]) if kind == "loc" else ""
            marks.append(_Mark(m.start(), m.end(), kind, m.group().startswith("["), value))
    return marks


def _bare_marks(text: str) -> list[_Mark]:
    """Unbracketed "H: ... W: ..." counts only at the start: "Desk H: 30in W: 20in" is a size."""
    head = _BARE_HAVE.match(text)
    if head is None:
        return []
    marks = [_Mark(head.start("tag"), head.end(), "have", False)]
    for m in _BARE_WANT.finditer(text, head.end()):
        marks.append(_Mark(m.start(), m.end(), "want", False))
    return marks


def _clean_segment(text: str) -> str:
    return " ".join(text.split()).strip(" -–—|:;,/")


def parse_swap_title(title: str) -> SwapTitle | None:
    """Split an r/hardwareswap, r/mechmarket or r/homelabsales title into location, have, want.

    Understands [H]/[W] in any case and bracket style ("(H)", "[h]:", "{Have}"), [FS]/[WTS]/
    [FT] as a have side, [WTB] as a want side, and "H: ... W: ..." at the start of the title.
    A title is a swap title only with a have marker or a *square-bracketed* want marker, so
    "Lamp (W) 60" stays an ordinary title. Returns ``None`` for ordinary titles. Feed titles
    may arrive HTML-escaped ("&#91;H&#93;"), so entities are decoded first.
    """
    text = _flatten(html.unescape(title[: MAX_TITLE_CHARS * 2])[:MAX_TITLE_CHARS])
    marks = _tag_marks(text)
    sides = [k for k in marks if k.kind != "loc"]
    if not any(k.kind == "have" or k.square for k in sides):
        sides = _bare_marks(text)
        if not sides:
            return None
    blanked = list(text)
    for loc in (k for k in marks if k.kind == "loc"):
        blanked[loc.start : loc.end] = " " * (loc.end - loc.start)
    flat = "".join(blanked)
    have, want = _sides(flat, sorted(sides, key=lambda k: k.start))
    location = next((k.value for k in marks if k.kind == "loc"), None)
    return SwapTitle(location, have, want)


def _sides(text: str, sides: list[_Mark]) -> tuple[str, str | None]:
    have: list[str] = []
    want: list[str] = []
    for i, mark in enumerate(sides):
        stop = sides[i + 1].start if i + 1 < len(sides) else len(text)
        (have if mark.kind == "have" else want).append(_clean_segment(text[mark.end : stop]))
    have_text = " ".join(p for p in have if p)
    if not have_text and sides[0].kind == "have":  # "Dell R730 [FS]"
        have_text = _clean_segment(text[: sides[0].start])
    return have_text, (" ".join(p for p in want if p) if want else None)


# -------------------------------------------------------------------------------- locations

_US_STATES = frozenset({
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "DC", "FL", "GA", "HI", "ID", "IL", "IN",
    "IA", "KS", "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH",
    "NJ", "NM", "NY", "NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT",
    "VT", "VA", "WA", "WV", "WI", "WY", "PR",
})  # fmt: skip
_CA_PROVINCES = frozenset({
    "AB", "BC", "MB", "NB", "NL", "NS", "NT", "NU", "ON", "PE", "QC", "SK", "YT",
})  # fmt: skip
_AU_STATES = frozenset({
    "NSW", "VIC", "QLD", "WA", "SA", "TAS", "ACT", "NT",
})  # fmt: skip
_COUNTRIES = {
    "US": "USA", "USA": "USA", "CAN": "Canada", "UK": "United Kingdom",
    "GB": "United Kingdom", "GBR": "United Kingdom", "AU": "Australia", "AUS": "Australia",
    "NZ": "New Zealand", "NZL": "New Zealand", "DE": "Germany", "DEU": "Germany",
    "GER": "Germany", "FR": "France", "FRA": "France", "NL": "Netherlands",
    "NLD": "Netherlands", "BE": "Belgium", "BEL": "Belgium", "LU": "Luxembourg",
    "AT": "Austria", "AUT": "Austria", "CH": "Switzerland", "CHE": "Switzerland",
    "IT": "Italy", "ITA": "Italy", "ES": "Spain", "ESP": "Spain", "PT": "Portugal",
    "PRT": "Portugal", "IE": "Ireland", "IRL": "Ireland", "SE": "Sweden", "SWE": "Sweden",
    "NO": "Norway", "NOR": "Norway", "DK": "Denmark", "DNK": "Denmark", "FI": "Finland",
    "FIN": "Finland", "PL": "Poland", "POL": "Poland", "CZ": "Czechia", "CZE": "Czechia",
    "SK": "Slovakia", "HU": "Hungary", "RO": "Romania", "GR": "Greece", "JP": "Japan",
    "JPN": "Japan", "SG": "Singapore", "HK": "Hong Kong", "IN": "India", "MX": "Mexico",
    "MEX": "Mexico", "BR": "Brazil", "BRA": "Brazil", "ZA": "South Africa",
}  # fmt: skip
_REGIONS = {"USA": _US_STATES, "Canada": _CA_PROVINCES, "Australia": _AU_STATES}
_LOCATION_TAG = re.compile(
    r"\s*(?P<country>[A-Za-z]{2,3})(?:(?:\s*[-–/]\s*|\s+)(?P<region>[A-Za-z]{2,3}))?"
    r"(?:\s*[-–/,]\s*(?P<city>[^\W\d_](?:[^\W\d_]|[ .'’-]){1,39}))?\s*"
)


def _canonical_tag(tag: str) -> str:
    """ "usa - ca" -> "USA-CA"; "US-CA, san jose" keeps the city as written: "US-CA, san jose"."""
    m = _LOCATION_TAG.fullmatch(tag)
    if m is None:
        return " ".join(tag.split())
    code = m["country"].upper() + (f"-{m['region'].upper()}" if m["region"] else "")
    return code + (f", {' '.join(m['city'].split())}" if m["city"] else "")


def location_from_tag(tag: str) -> str | None:
    """A location tag as place text, most specific part first, parts joined by ", ".

    * US and Canada: "USA-CA" -> "CA, USA"; "CAN-ON" / "CA-ON" -> "ON, Canada"; with a city,
      "USA-CA-San Jose" -> "San Jose, CA, USA", which ``bot.geo.geocode`` resolves to a point
      (a state alone is too coarse for a point and stays text).
    * Australia: "AU-NSW" -> "NSW, Australia".
    * Europe: "EU-DE" -> "Germany"; "EU" -> "Europe"; "EU-DE-Berlin" -> "Berlin, Germany".
    * Other countries by name: "UK" -> "United Kingdom", "UK-London" -> "London, United Kingdom".

    An unknown region is dropped ("USA-ZZ" -> "USA"); an unknown country, or a bare "CA"
    (California or Canada?), gives ``None``.
    """
    m = _LOCATION_TAG.fullmatch(_flatten(tag[:80]))
    if m is None:
        return None
    code = m["country"].upper()
    region = (m["region"] or "").upper()
    city = " ".join(m["city"].split()) if m["city"] else ""
    if code == "EU":
        country = _COUNTRIES.get(region, "Europe")
        region = ""
    elif code == "CA":
        if region not in _CA_PROVINCES:
            return None
        country = "Canada"
    elif code in _COUNTRIES:
        country = _COUNTRIES[code]
    else:
        return None
    if region not in _REGIONS.get(country, frozenset()):
        region = ""
    return ", ".join(part for part in (city, region, country) if part)
