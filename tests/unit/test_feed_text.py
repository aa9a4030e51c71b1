"""Feed entry text: prices from titles and bodies, swap tags, location tags.

The tables are shaped like real listings (r/hardwareswap, r/mechmarket, r/homelabsales,
Craigslist, eBay, Facebook Marketplace, European classifieds) plus hostile text. Every
ambiguous decision documented in ``bot.domain.feed_text`` has a row here.
"""

from __future__ import annotations

import time
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.feed_text import (
    PriceGuess,
    SwapTitle,
    extract_price,
    location_from_tag,
    parse_swap_title,
)
from bot.domain.listing import MAX_PRICE

# (title, body, expected (amount, currency, source) or None); the default currency is USD
PRICES: list[tuple[str, str, tuple[str, str, str] | None]] = [
    # --- r/hardwareswap: only the [H] side of the title, then the body
    ("[USA-TX] [H] EVGA RTX 3080 FTW3 Ultra $650 shipped [W] PayPal", "", ("650", "USD", "title")),
    (
        "[USA-CA][H] RTX 3080 FE [W] PayPal, Local Cash",
        "Asking $600 shipped. Timestamps: https://imgur.com/a/AbC123",
        ("600", "USD", "body"),
    ),
    # An item on offer and only money wanted: the [W] amount is the asking price.
    ("[USA-NY][H] i7-12700K, Z690 board [W] $300 PayPal", "", ("300", "USD", "title")),
    ("[USA-WA][H] 4090 FE [W] $1600 local cash", "Timestamps below", ("1600", "USD", "title")),
    ("[USA-CA][H] RTX 3080 FE [W] PayPal, $450", "", ("450", "USD", "title")),
    (
        "[US-FL] [H] Samsung 980 Pro 1TB, 2x 16GB DDR4 3200 [W] PayPal",
        "980 Pro - $80\n32GB kit - $60",
        ("80", "USD", "body"),  # several items: the first price
    ),
    (
        "[USA-MI][H] Steam Deck 512GB [W] PayPal",
        "Price drop! Was $400, now $350 shipped.",
        ("350", "USD", "body"),
    ),
    ("[H] RTX 3060 Ti [W] PayPal", "~~$300~~ $275 shipped", ("275", "USD", "body")),
    (
        "[USA-CA][H] RTX 3080 [W] PayPal",
        '<p>Asking &#36;250 shipped</p><p><a href="https://imgur.com/a/x9">timestamps</a></p>',
        ("250", "USD", "body"),
    ),
    (
        "[USA-OR][H] Ryzen 7 5800X, 32GB 3600MHz [W] Local cash",
        "Bundle for 300, ships from 97201",
        ("300", "USD", "body"),
    ),
    (
        "[USA-PA][H] RTX 3070 FE [W] PayPal",
        "Text 215-555-0142. 320 shipped",
        ("320", "USD", "body"),
    ),
    ("(H) RTX 3070 (W) $350 PayPal", "", ("350", "USD", "title")),
    ("[H]: 3090 [W]: PayPal", "$700 shipped, paid $1500", ("700", "USD", "body")),
    ("[USA-CA] [H] PayPal [W] RTX 4090", "Paying $1500 shipped", None),  # buyer's post
    ("[USA-IL] [H] Cash, PayPal [W] Steam Deck OLED", "", None),
    ("[W][US-CA] Looking for Supermicro 2U chassis", "Budget $200", None),  # want-to-buy
    ("H: RTX 3080 W: PayPal", "asking 500 obo", ("500", "USD", "body")),
    # --- r/mechmarket
    (
        "[US-CA] [H] Keychron Q1 Pro, GMK Botanical [W] PayPal",
        "Q1 Pro - $150 shipped\nBotanical - $90 shipped",
        ("150", "USD", "body"),
    ),
    (
        "[EU-DE] [H] Zoom65 v2 [W] PayPal, Local Cash",
        "160€ shipped within EU",
        ("160", "EUR", "body"),
    ),
    ("[UK] [H] GMMK Pro [W] PayPal", "£120 shipped", ("120", "GBP", "body")),
    ("[UK] [H] Ducky One 2 Mini (£60) [W] PayPal", "", ("60", "GBP", "title")),
    (
        "[h] Lenovo M720q [w] paypal",
        "$150 shipped + $10 if you want the power brick",
        ("150", "USD", "body"),
    ),
    ("[US-NY][H] 3x Artisans, GMK Olivia++ Base [W] PayPal", "", None),
    # --- r/homelabsales
    ("[FS][US-TX] Dell R730xd 12LFF, 2x E5-2680v4, 256GB - $450", "", ("450", "USD", "title")),
    ("[FS] [EU-NL] 4x 32GB DDR4 ECC RDIMM — €40 each", "", ("40", "EUR", "title")),
    ("[FS][USA-NC] Cisco 3850 48 port PoE - 150 shipped", "", ("150", "USD", "title")),
    ("[FS/FT][US-NY] Lot of 10 Intel Xeon E5-2680 v4 - $150 OBO", "", ("150", "USD", "title")),
    # --- Craigslist
    ("Gaming chair - $120 (San Jose)", "", ("120", "USD", "title")),
    ("2015 Honda Civic EX - $8,500 (Sacramento)", "", ("8500", "USD", "title")),
    ("Trek road bike 56cm - $700 (Oakland)", "", ("700", "USD", "title")),
    ("Herman Miller Aeron Size B $450 firm", "", ("450", "USD", "title")),
    ("Dining table + 4 chairs - 200 obo", "", ("200", "USD", "title")),
    ("Mountain bike - 2019 Trek Marlin 7 - 450 obo", "", ("450", "USD", "title")),
    ("Mini fridge 3.2 cu ft - $60", "", ("60", "USD", "title")),
    ('Kids bike 16" - $40', "", ("40", "USD", "title")),
    ("Office chair 10/10 condition 80 obo", "", ("80", "USD", "title")),
    ("Couch - free to a good home", "", ("0", "USD", "title")),
    ("Moving boxes $0", "", None),  # "$0" is a placeholder, not "free"
    (
        "Dresser",
        "Pick up in Fremont. Call (510) 555-0199 after 5pm. $75 cash only.",
        ("75", "USD", "body"),
    ),
    ("Bed frame, was 300, now 150", "", ("150", "USD", "title")),
    ("Snowboard $250 + $20 shipping", "", ("250", "USD", "title")),
    ("Shipping $20, board $250", "", ("250", "USD", "title")),
    ("Price: 75", "", ("75", "USD", "title")),
    ("Price: 75, shipping $10", "", ("75", "USD", "title")),
    ("$1,500/mo room for rent", "", None),  # a rent, not a price
    # --- eBay
    ("Apple AirPods Pro 2nd Gen US $189.99", "", ("189.99", "USD", "title")),
    (
        "Apple iPad Air 4th Gen 64GB WiFi – Sky Blue – $329.00 – Free Shipping",
        "",
        ("329", "USD", "title"),
    ),
    (
        "NEW Logitech G Pro X Superlight Mouse | $89.99 + Free Shipping",
        "",
        ("89.99", "USD", "title"),
    ),
    ("LEGO 75192 Millennium Falcon NEW SEALED $650", "", ("650", "USD", "title")),
    ("Canon EOS R6 body, 12k shutter count - $1,400", "", ("1400", "USD", "title")),
    ("Rolex Submariner 16610 - $9,500", "", ("9500", "USD", "title")),
    ("Nintendo Switch OLED - AU $399.00", "", ("399", "AUD", "title")),
    ("Intel Core i9-13900K CPU", "Buy it now", None),
    # --- Facebook Marketplace
    ("$1,200 · Sectional sofa · Fremont, CA", "", ("1200", "USD", "title")),
    ("$45 · Nightstand", "", ("45", "USD", "title")),
    ("Free · Firewood", "", ("0", "USD", "title")),
    ("FREE: moving boxes", "", ("0", "USD", "title")),
    ("PS5 Disc Edition w/ 2 controllers $400", "", ("400", "USD", "title")),
    ("iPhone 13 Pro Max 256GB - $650 OBO - Unlocked", "", ("650", "USD", "title")),
    ('Selling my 27" 144Hz monitor for $180', "", ("180", "USD", "title")),
    ("Sony A7III - asking 1200", "", ("1200", "USD", "title")),
    ("Chair 40 bucks", "", ("40", "USD", "title")),
    ("iPhone 12 for 300 dollars", "", ("300", "USD", "title")),
    # --- European formats
    ("Sofa 1.299,99 €", "", ("1299.99", "EUR", "title")),
    ("Vélo électrique 1 450 €", "", ("1450", "EUR", "title")),
    ("Verkaufe Fahrrad 26 Zoll, 120 € VB", "", ("120", "EUR", "title")),
    ("Gaming PC RTX 3070 – 1.100 € VB", "", ("1100", "EUR", "title")),
    ("Lavatrice Samsung 8kg - 150€", "", ("150", "EUR", "title")),
    ("Canapé d'angle — 350 €", "", ("350", "EUR", "title")),
    ("Fiets 75 euro", "", ("75", "EUR", "title")),
    ("Bike 45 EUR", "", ("45", "EUR", "title")),
    ("Tisch 45,-", "", ("45", "USD", "title")),  # ",-" marks a price but names no currency
    ("iPhone 12 CHF 350.-", "", ("350", "CHF", "title")),
    ("Uhr 1'299.90 CHF", "", ("1299.90", "CHF", "title")),
    ("PS4 Pro 1TB £120 posted", "", ("120", "GBP", "title")),
    ("Nikon D750 - £650 ono", "", ("650", "GBP", "title")),
    ("Stroller 50 quid", "", ("50", "GBP", "title")),
    ("Cykel 1 200 kr", "", ("1200", "SEK", "title")),
    ("Wohnung 3 Zimmer 1.200 €/Monat", "", None),
    ("Sofa ¥15,000", "", ("15000", "JPY", "title")),
    ("Bike USD 120", "", ("120", "USD", "title")),
    ("$380 CAD shipped", "", ("380", "CAD", "title")),
    ("Monitor C$380", "", ("380", "CAD", "title")),
    # --- the requested shapes
    ("$1,299.99", "", ("1299.99", "USD", "title")),
    ("£45", "", ("45", "GBP", "title")),
    ("$120 shipped", "", ("120", "USD", "title")),
    ("$100 OBO", "", ("100", "USD", "title")),
    ("$50-$60", "", ("50", "USD", "title")),  # a range gives its lower bound
    ("Plants 50-60 each", "", ("50", "USD", "title")),
    ("Keyboard - $80 - $100", "", ("80", "USD", "title")),
    ("was $300 now $250", "", ("250", "USD", "title")),
    ("Desk $300 -> $250", "", ("250", "USD", "title")),
    ("Retail $700, asking $450", "", ("450", "USD", "title")),
    ("Asking 250 OBO, retails for $400", "", ("250", "USD", "title")),
    ("Desk $150 ($300 new)", "", ("150", "USD", "title")),
    ("Seiko SKX007 - $250 shipped, paid $400", "", ("250", "USD", "title")),
    ("$250 + shipping", "", ("250", "USD", "title")),
    ("GPU $1.2k", "", ("1200", "USD", "title")),
    ("GPU 1.5k shipped", "", ("1500", "USD", "title")),
    ("3 for $10", "", ("10", "USD", "title")),
    # --- no price: numbers that are not prices
    ("RTX 3080", "", None),
    ("Samsung 980 Pro 2TB NVMe", "", None),
    ("MacBook Pro 2019 local pickup only", "", None),
    ("MacBook Air M1 2020 8GB/256GB 550", "", None),  # a bare number needs a price word
    ('LG 27" 144Hz 1ms monitor', "", None),
    ("Looking for a desk", "", None),
    ("Moving sale - everything must go", "", None),
    ("Smoke-free home, IKEA desk", "", None),
    ("Feel free to make an offer - IKEA desk", "", None),
    ("Free shipping on all keycaps", "", None),
    ("20% off all chairs", "", None),
    ("Bike $20 per month", "", None),
    ("Call 408-555-1234 for the price", "", None),
    ("Pick up 10:30 am, 2024-05-01", "", None),
    # --- hostile
    ("Price: -100", "", None),
    ("$-50", "", None),
    ("$99999999999", "", None),
    ("$10,000,001", "", None),  # above MAX_PRICE
    ("Price: NaN", "", None),
    ("Price: 1e9", "", None),
    ("$$$ CHEAP $$$", "", None),
    ("💯🔥 $50 🔥", "", ("50", "USD", "title")),
    ("\u202e$50\u200b", "", ("50", "USD", "title")),  # bidi override and zero-width space
    ("＄１２０", "", ("120", "USD", "title")),  # full-width
    ("\x00$50\x07", "", ("50", "USD", "title")),
    ("", "", None),
]


@pytest.mark.parametrize(("title", "body", "expected"), PRICES)
def test_extract_price(title: str, body: str, expected: tuple[str, str, str] | None) -> None:
    guess = extract_price(title, body)
    if expected is None:
        assert guess is None
    else:
        amount, currency, source = expected
        assert guess == PriceGuess(Decimal(amount).quantize(Decimal("0.01")), currency, source)


def test_at_least_sixty_real_world_titles() -> None:
    assert len(PRICES) >= 60


@pytest.mark.parametrize(
    ("title", "default", "currency"),
    [
        ("Desk $120", "CAD", "CAD"),  # "$" is the caller's dollar
        ("Desk $120", "AUD", "AUD"),
        ("Desk $120", "EUR", "USD"),  # ... but not the caller's euro
        ("Desk 120 obo", "EUR", "EUR"),  # a bare number takes the default
        ("Desk C$120", "USD", "CAD"),
        ("Desk A$120", "USD", "AUD"),
        ("Desk AU$120", "USD", "AUD"),
        ("Desk CA$120", "USD", "CAD"),
        ("Sykkel 1 200 kr", "NOK", "NOK"),
        ("Desk 120 obo, shipping 15 €", "USD", "EUR"),  # borrows the text's only currency
        ("Desk 45 EUR", "gbp", "EUR"),
    ],
)
def test_currency(title: str, default: str, currency: str) -> None:
    guess = extract_price(title, default_currency=default)
    assert guess is not None and guess.currency == currency


def test_default_currency_must_be_a_code() -> None:
    with pytest.raises(ValueError, match="currency"):
        extract_price("Desk $120", default_currency="dollars")


def test_free_is_a_title_claim_only() -> None:
    assert extract_price("IKEA desk", "Free local pickup, free delivery within 5 miles") is None
    assert extract_price("Free couch", "Paid $900 in 2019") == PriceGuess(
        Decimal("0.00"), "USD", "title"
    )


def test_title_price_beats_body_price() -> None:
    assert extract_price("Chair $40", "Asking $45") == PriceGuess(Decimal("40.00"), "USD", "title")


SWAPS: list[tuple[str, SwapTitle | None]] = [
    (
        "[USA-CA][H] RTX 3080 FE [W] PayPal, Local Cash",
        SwapTitle("USA-CA", "RTX 3080 FE", "PayPal, Local Cash"),
    ),
    (
        "[US-NY] [H] Keychron Q1, GMK Olivia [W] PayPal",
        SwapTitle("US-NY", "Keychron Q1, GMK Olivia", "PayPal"),
    ),
    (
        "[EU-DE] [H] Switch OLED [W] PayPal / Local",
        SwapTitle("EU-DE", "Switch OLED", "PayPal / Local"),
    ),
    ("[CAN-ON][H] 5800X3D [W] E-Transfer", SwapTitle("CAN-ON", "5800X3D", "E-Transfer")),
    (
        "[UK] [H] Ducky One 2 Mini (£60) [W] PayPal",
        SwapTitle("UK", "Ducky One 2 Mini (£60)", "PayPal"),
    ),
    ("(H) RTX 3070 (W) $350 PayPal", SwapTitle(None, "RTX 3070", "$350 PayPal")),
    ("[H]: 3090 [W]: PayPal", SwapTitle(None, "3090", "PayPal")),
    ("[h] Lenovo M720q [w] paypal", SwapTitle(None, "Lenovo M720q", "paypal")),
    ("[ H ] GPU [ W ] Cash", SwapTitle(None, "GPU", "Cash")),
    ("[H]GPU[W]Cash", SwapTitle(None, "GPU", "Cash")),
    ("{Have} Steam Deck {Want} PayPal", SwapTitle(None, "Steam Deck", "PayPal")),
    ("[US-CA] [W] PayPal [H] Keycaps", SwapTitle("US-CA", "Keycaps", "PayPal")),
    ("[USA-TX] [H] GPU [W] PayPal [H] CPU", SwapTitle("USA-TX", "GPU CPU", "PayPal")),
    ("[H] RTX 3080 [W] PayPal [USA-CA]", SwapTitle("USA-CA", "RTX 3080", "PayPal")),
    ("[usa - ca] [H] GPU [W] Cash", SwapTitle("USA-CA", "GPU", "Cash")),
    ("[USA-CA, San Jose][H] iPad [W] Cash", SwapTitle("USA-CA, San Jose", "iPad", "Cash")),
    ("[FS][US-TX] Dell R730xd - $450", SwapTitle("US-TX", "Dell R730xd - $450", None)),
    ("[FS/FT][US-NY] Cisco switches", SwapTitle("US-NY", "Cisco switches", None)),
    ("[WTS] Synology DS920+", SwapTitle(None, "Synology DS920+", None)),
    ("Dell R730 [FS]", SwapTitle(None, "Dell R730", None)),
    ("[W][US-CA] Looking for Supermicro", SwapTitle("US-CA", "", "Looking for Supermicro")),
    ("[WTB] RTX 4090", SwapTitle(None, "", "RTX 4090")),
    ("H: RTX 3080 W: PayPal", SwapTitle(None, "RTX 3080", "PayPal")),
    ("[US-CA] H: RTX 3080 W: PayPal", SwapTitle("US-CA", "RTX 3080", "PayPal")),
    (
        "&#91;UK&#93;&#91;H&#93; GMMK Pro &amp; keycaps &#91;W&#93; PayPal",
        SwapTitle("UK", "GMMK Pro & keycaps", "PayPal"),
    ),
    # ordinary titles
    ("Gaming chair - $120 (San Jose)", None),
    ("Desk H: 30in W: 20in", None),  # dimensions, not tags
    ("Lamp (W) 60", None),  # a round-bracket W alone is not a want tag
    ("[USA-CA] Gaming chair $50", None),  # a location alone does not make a swap
    ("[PC][US-CA] Dell R720", None),
    ("[NIB] RTX 4090 $1600", None),
    ("", None),
]


@pytest.mark.parametrize(("title", "expected"), SWAPS)
def test_parse_swap_title(title: str, expected: SwapTitle | None) -> None:
    assert parse_swap_title(title) == expected


@pytest.mark.parametrize(
    ("tag", "place"),
    [
        ("USA-CA", "CA, USA"),
        ("US-NY", "NY, USA"),
        ("usa - tx", "TX, USA"),
        ("USA", "USA"),
        ("CAN-ON", "ON, Canada"),
        ("CA-BC", "BC, Canada"),
        ("CA", None),  # California or Canada?
        ("EU-DE", "Germany"),
        ("EU", "Europe"),
        ("EU-DE-Berlin", "Berlin, Germany"),
        ("UK", "United Kingdom"),
        ("UK-London", "London, United Kingdom"),
        ("AU-NSW", "NSW, Australia"),
        ("USA-CA, San Jose", "San Jose, CA, USA"),
        ("USA-CA-San Jose", "San Jose, CA, USA"),
        ("USA-ZZ", "USA"),  # unknown region dropped
        ("XYZ", None),
        ("H", None),
        ("", None),
        ("USA-CA-" + "x" * 500, None),
    ],
)
def test_location_from_tag(tag: str, place: str | None) -> None:
    assert location_from_tag(tag) == place


def test_city_tag_is_geocodable() -> None:
    from bot.geo import geocode

    place = location_from_tag("USA-CA, San Jose")
    assert place is not None and geocode(place) is not None


HOSTILE = {
    "thousands run": "1,000" * 10_000,
    "number run": "1 " * 20_000,
    "dollar run": "$" * 40_000,
    "dash run": "a-" * 20_000,
    "paren run": "(1" * 20_000,
    "strike run": "~~1" * 20_000,
    "tag run": "<s>" * 20_000,
    "have run": "[H]" * 5_000,
    "digit run": "9" * 40_000,
}


@pytest.mark.parametrize("hostile", list(HOSTILE.values()), ids=list(HOSTILE))
def test_hostile_input_is_cheap(hostile: str) -> None:
    start = time.perf_counter()
    extract_price(hostile, hostile)
    parse_swap_title(hostile)
    location_from_tag(hostile)
    assert time.perf_counter() - start < 2.0


FRAGMENTS = [
    "$", "€", "£", "¥", "C$", "US $", "USD", "eur", "kr", "-", "–", "to", ",", ".", ",-", "k",
    "%", "/mo", "x", "[H]", "[W]", "(h)", "[FS]", "H:", "W:", "[USA-CA]", "[EU-DE]", "free",
    "was", "now", "retail", "shipped", "obo", "price:", "asking", "+ shipping", "RTX", "3080",
    "2019", "0", "1", "12", "250", "1,299.99", "1.299,99", "9999999999", "-50", "GB", '"',
    "(408) 555-1234", "~~", "<s>", "</s>", "&#36;", "\u200b", "\u202e", "\x00", "🔥", " ",
]  # fmt: skip
texts = st.one_of(
    st.text(max_size=200), st.lists(st.sampled_from(FRAGMENTS), max_size=25).map("".join)
)
texts |= st.lists(st.sampled_from(FRAGMENTS), max_size=25).map(" ".join)


@settings(max_examples=200, deadline=None)
@given(title=texts, body=texts)
def test_extract_price_never_raises_and_is_never_negative(title: str, body: str) -> None:
    guess = extract_price(title, body)
    if guess is not None:
        assert Decimal(0) <= guess.amount <= MAX_PRICE
        assert guess.amount == guess.amount.quantize(Decimal("0.01"))
        assert len(guess.currency) == 3 and guess.currency.isupper()
        assert guess.source in {"title", "body"}


@settings(max_examples=200, deadline=None)
@given(title=texts)
def test_parse_swap_title_never_raises(title: str) -> None:
    swap = parse_swap_title(title)
    if swap is not None:
        assert isinstance(swap.have, str)
        assert swap.location is None or location_from_tag(swap.location) is not None
    location_from_tag(title)
