"""Discogs wanted-list domain: grades, money, release references, notes and evaluation."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain.discogs import (
    CURRENCIES,
    DEFAULT_SLEEVE_POLICY,
    CheckStatus,
    Evaluation,
    Grade,
    Money,
    OfferSnapshot,
    ReleaseRef,
    SleevePolicy,
    SleeveState,
    WantedCriteria,
    evaluate,
    parse_notes,
    parse_release_ref,
    parse_sleeve,
    rolling_median,
    sleeve_meets,
)


def eur(amount: str) -> Money:
    return Money(Decimal(amount), "EUR")


def status_of(evaluation: Evaluation, name: str) -> CheckStatus:
    (check,) = [c for c in evaluation.checks if c.name == name]
    return check.status


# ---------------------------------------------------------------- grades


@pytest.mark.parametrize(
    ("text", "grade"),
    [
        ("Mint (M)", Grade.MINT),
        ("Near Mint (NM or M-)", Grade.NEAR_MINT),
        ("Very Good Plus (VG+)", Grade.VERY_GOOD_PLUS),
        ("Very Good (VG)", Grade.VERY_GOOD),
        ("Good Plus (G+)", Grade.GOOD_PLUS),
        ("Good (G)", Grade.GOOD),
        ("Fair (F)", Grade.FAIR),
        ("Poor (P)", Grade.POOR),
        ("M", Grade.MINT),
        ("NM", Grade.NEAR_MINT),
        ("M-", Grade.NEAR_MINT),
        ("NM or M-", Grade.NEAR_MINT),
        ("VG+", Grade.VERY_GOOD_PLUS),
        ("VG", Grade.VERY_GOOD),
        ("G+", Grade.GOOD_PLUS),
        ("G", Grade.GOOD),
        ("F", Grade.FAIR),
        ("P", Grade.POOR),
        ("vg+", Grade.VERY_GOOD_PLUS),
        ("  very good plus ", Grade.VERY_GOOD_PLUS),
        ("very_good_plus", Grade.VERY_GOOD_PLUS),
        ("NEAR MINT (NM OR M-)", Grade.NEAR_MINT),
        ("near mint", Grade.NEAR_MINT),
        ("m", Grade.MINT),
    ],
)
def test_grade_parses_discogs_strings_and_abbreviations(text: str, grade: Grade) -> None:
    assert Grade.parse(text) is grade


@pytest.mark.parametrize("text", ["", "VG++", "Excellent", "EX", "Generic", "No Cover", "7", "A"])
def test_grade_rejects_unknown(text: str) -> None:
    with pytest.raises(ValueError, match="unknown grade"):
        Grade.parse(text)


def test_grade_order_matches_discogs_scale() -> None:
    scale = ["P", "F", "G", "G+", "VG", "VG+", "NM", "M"]
    grades = [Grade.parse(s) for s in scale]
    assert grades == sorted(grades)
    assert Grade.POOR < Grade.FAIR < Grade.GOOD < Grade.GOOD_PLUS < Grade.VERY_GOOD
    assert Grade.VERY_GOOD < Grade.VERY_GOOD_PLUS < Grade.NEAR_MINT < Grade.MINT
    assert [g.abbreviation for g in Grade] == scale


@pytest.mark.parametrize(
    ("text", "state"),
    [
        ("Generic", SleeveState.GENERIC),
        ("generic", SleeveState.GENERIC),
        ("Not Graded", SleeveState.NOT_GRADED),
        ("not_graded", SleeveState.NOT_GRADED),
        ("No Cover", SleeveState.NO_COVER),
        ("NO COVER", SleeveState.NO_COVER),
    ],
)
def test_sleeve_special_values(text: str, state: SleeveState) -> None:
    assert parse_sleeve(text) is state


def test_parse_sleeve_also_takes_grades() -> None:
    assert parse_sleeve("Very Good (VG)") is Grade.VERY_GOOD
    with pytest.raises(ValueError):
        parse_sleeve("Torn")


@pytest.mark.parametrize("state", list(SleeveState))
def test_default_policy_special_sleeves_do_not_meet_a_minimum(state: SleeveState) -> None:
    assert sleeve_meets(Grade.POOR, state, policy=DEFAULT_SLEEVE_POLICY) is False
    assert sleeve_meets(Grade.POOR, state) is False  # the default is that policy


def test_sleeve_policy_is_explicit_per_value() -> None:
    policy = SleevePolicy(generic=True, not_graded=None, no_cover=False)
    assert sleeve_meets(Grade.MINT, SleeveState.GENERIC, policy=policy) is True
    assert sleeve_meets(Grade.MINT, SleeveState.NOT_GRADED, policy=policy) is None
    assert sleeve_meets(Grade.MINT, SleeveState.NO_COVER, policy=policy) is False


def test_sleeve_meets_grades_and_unknowns() -> None:
    assert sleeve_meets(Grade.VERY_GOOD, Grade.VERY_GOOD_PLUS) is True
    assert sleeve_meets(Grade.VERY_GOOD, Grade.VERY_GOOD) is True
    assert sleeve_meets(Grade.VERY_GOOD, Grade.GOOD_PLUS) is False
    assert sleeve_meets(Grade.VERY_GOOD, None) is None  # could not check
    assert sleeve_meets(None, None) is True  # no minimum
    assert sleeve_meets(None, SleeveState.NO_COVER) is True


# ---------------------------------------------------------------- money


@pytest.mark.parametrize(
    ("text", "amount", "currency"),
    [
        ("40EUR", "40.00", "EUR"),
        ("€40", "40.00", "EUR"),
        ("40 eur", "40.00", "EUR"),
        ("40€", "40.00", "EUR"),
        ("$12.50", "12.50", "USD"),
        ("£9.99", "9.99", "GBP"),
        ("¥3000", "3000.00", "JPY"),
        ("12,50 €", "12.50", "EUR"),
        ("1,299.99 USD", "1299.99", "USD"),
        ("CA$20", "20.00", "CAD"),
        ("R$100", "100.00", "BRL"),
        ("$20 CAD", "20.00", "CAD"),
        ("chf 15", "15.00", "CHF"),
        ("15 sek", "15.00", "SEK"),
    ],
)
def test_money_parse_good(text: str, amount: str, currency: str) -> None:
    assert Money.parse(text) == Money(Decimal(amount), currency)


def test_money_parse_default_currency() -> None:
    assert Money.parse("40", default_currency="GBP") == Money(Decimal("40.00"), "GBP")
    with pytest.raises(ValueError, match="no currency"):
        Money.parse("40")


@pytest.mark.parametrize("text", ["40XYZ", "40 dollars", "RUB 40", "₿1"])
def test_money_unknown_currency_is_named(text: str) -> None:
    with pytest.raises(ValueError, match="unknown currency") as info:
        Money.parse(text)
    assert any(part in str(info.value) for part in ("XYZ", "dollars", "RUB", "₿"))


@pytest.mark.parametrize("text", ["", "EUR", "-5EUR", "abc", "€40 £40", "1e9EUR", "40 EUR EUR"])
def test_money_parse_bad(text: str) -> None:
    with pytest.raises(ValueError):
        Money.parse(text)


def test_money_rejects_bad_values() -> None:
    with pytest.raises(ValueError):
        Money(Decimal("-1"), "EUR")
    with pytest.raises(ValueError):
        Money(Decimal("NaN"), "EUR")
    with pytest.raises(ValueError, match="unknown currency"):
        Money(Decimal("1"), "XXX")
    assert len(CURRENCIES) == 12 and "ZAR" in CURRENCIES


def test_rolling_median() -> None:
    assert rolling_median([]) is None
    assert rolling_median([Decimal("5")]) == Decimal("5")
    assert rolling_median([Decimal("3"), Decimal("1"), Decimal("2")]) == Decimal("2")
    assert rolling_median([Decimal("1"), Decimal("4"), Decimal("2"), Decimal("3")]) == Decimal(
        "2.5"
    )
    prices = [Decimal("100"), Decimal("1"), Decimal("2"), Decimal("3")]
    assert rolling_median(prices, window=3) == Decimal("2")
    with pytest.raises(ValueError):
        rolling_median(prices, window=0)


# ---------------------------------------------------------------- release references


@pytest.mark.parametrize(
    ("text", "ref"),
    [
        (
            "https://www.discogs.com/release/249504-Rick-Astley-Never-Gonna-Give-You-Up",
            ReleaseRef("release", 249504),
        ),
        ("https://www.discogs.com/de/release/249504-Rick-Astley", ReleaseRef("release", 249504)),
        ("https://www.discogs.com/pt_BR/release/249504", ReleaseRef("release", 249504)),
        ("discogs.com/master/96559", ReleaseRef("master", 96559)),
        ("http://discogs.com/master/96559-Rick-Astley?x=1#y", ReleaseRef("master", 96559)),
        ("https://www.discogs.com/Rick-Astley-Never/release/249504", ReleaseRef("release", 249504)),
        ("https://www.discogs.com/sell/release/249504", ReleaseRef("release", 249504)),
        ("HTTPS://WWW.DISCOGS.COM/release/249504/", ReleaseRef("release", 249504)),
        ("r249504", ReleaseRef("release", 249504)),
        ("R249504", ReleaseRef("release", 249504)),
        ("m96559", ReleaseRef("master", 96559)),
        ("[m96559]", ReleaseRef("master", 96559)),
        ("249504", ReleaseRef("release", 249504)),
        ("  249504\n", ReleaseRef("release", 249504)),
        (str(2**31 - 1), ReleaseRef("release", 2**31 - 1)),
    ],
)
def test_parse_release_ref_good(text: str, ref: ReleaseRef) -> None:
    assert parse_release_ref(text) == ref


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "http://evil.com/release/1",
        "https://discogs.com.evil.io/release/1",
        "https://evildiscogs.com/release/1",
        "https://discogs.com@evil.com/release/1",
        "https://user@www.discogs.com/release/1",
        "https://www.discogs.com:8080/release/1",
        "javascript:alert(1)",
        "javascript://www.discogs.com/release/1",
        "ftp://www.discogs.com/release/1",
        "1e9",
        "-5",
        "+5",
        "0",
        "r0",
        "x249504",
        "abc",
        "12.5",
        "٣٤٥",  # non-ASCII digits
        str(2**31),
        "99999999999999999999999",
        "https://www.discogs.com/release/abc",
        "https://www.discogs.com/release/-1",
        "https://www.discogs.com/artist/72872-Rick-Astley",
        "https://www.discogs.com/release/",
        "https://www.discogs.com/",
        f"https://www.discogs.com/release/{2**31}",
    ],
)
def test_parse_release_ref_bad(text: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_release_ref(text)
    assert str(info.value)


def test_release_ref_url() -> None:
    assert parse_release_ref("m96559").url == "https://www.discogs.com/master/96559"


# ---------------------------------------------------------------- notes


def test_parse_notes_full() -> None:
    result = parse_notes(
        "want the UK press! @max=40EUR @media=VG+ @sleeve=VG @ships=US,UK @rating=98 @under=20"
    )
    c = result.criteria
    assert result.warnings == ()
    assert c.max_price == eur("40")
    assert c.min_media is Grade.VERY_GOOD_PLUS
    assert c.min_sleeve is Grade.VERY_GOOD
    assert c.ships_from == frozenset({"united states", "united kingdom"})
    assert c.min_seller_rating == 98.0
    assert c.underpriced_percent == 20.0


def test_parse_notes_empty_and_free_text() -> None:
    for notes in ["", "just a note", "mail me@example.com", "price@max=40EUR"]:
        result = parse_notes(notes)
        assert result.criteria == WantedCriteria()
        assert result.warnings == ()


def test_parse_notes_bad_notes_become_warnings() -> None:
    result = parse_notes(
        "@foo=1 @media=XX @rating=150 @under=0 @max=40XYZ @ships=, @sleeve= @max @rating=abc"
    )
    assert result.criteria == WantedCriteria()
    text = "\n".join(result.warnings)
    assert "unknown key @foo" in text
    assert "@media='XX'" in text
    assert "@rating='150'" in text
    assert "@under='0'" in text
    assert "XYZ" in text
    assert "@ships" in text
    assert "@sleeve has no value" in text
    assert "@max has no value" in text
    assert "not a number" in text


def test_parse_notes_repeated_key_keeps_last_valid() -> None:
    result = parse_notes("@media=VG @media=NM @media=XX")
    assert result.criteria.min_media is Grade.NEAR_MINT
    assert any("more than once" in w for w in result.warnings)


def test_parse_notes_default_currency_and_percent_sign() -> None:
    result = parse_notes(
        "@max=25 @rating=99.5% @under=15% @ships=United_Kingdom", default_currency="GBP"
    )
    assert result.criteria.max_price == Money(Decimal("25.00"), "GBP")
    assert result.criteria.min_seller_rating == 99.5
    assert result.criteria.underpriced_percent == 15.0
    assert result.criteria.ships_from == frozenset({"united kingdom"})
    assert parse_notes("@max=25").warnings  # no currency, no default → warning


@given(st.text(max_size=200))
@settings(max_examples=200, deadline=None)
def test_parse_notes_never_raises(notes: str) -> None:
    result = parse_notes(notes)
    assert isinstance(result.warnings, tuple)


# ---------------------------------------------------------------- evaluate

FULL_OFFER = OfferSnapshot(
    price=eur("30"),
    media=Grade.NEAR_MINT,
    sleeve=Grade.VERY_GOOD_PLUS,
    ships_from="United Kingdom",
    seller_rating=99.6,
    reference_price=eur("40"),
    reference_name="price suggestion for VG+",
)


def test_evaluate_all_pass() -> None:
    criteria = parse_notes(
        "@max=40EUR @media=VG+ @sleeve=VG @ships=US,UK @rating=98 @under=20"
    ).criteria
    result = evaluate(criteria, FULL_OFFER)
    assert result.matched
    assert all(c.status is CheckStatus.PASSED for c in result.checks)
    assert [c.name for c in result.checks] == [
        "price",
        "media",
        "sleeve",
        "ships from",
        "seller rating",
        "underpriced",
    ]
    assert result.underpriced is not None
    assert result.underpriced.text == "25% below the price suggestion for VG+"
    assert all(line.startswith("✅") for line in result.lines)


@pytest.mark.parametrize(
    ("criteria", "name"),
    [
        (WantedCriteria(max_price=eur("29.99")), "price"),
        (WantedCriteria(min_media=Grade.MINT), "media"),
        (WantedCriteria(min_sleeve=Grade.NEAR_MINT), "sleeve"),
        (WantedCriteria(ships_from=frozenset({"US"})), "ships from"),
        (WantedCriteria(min_seller_rating=99.9), "seller rating"),
        (WantedCriteria(underpriced_percent=30), "underpriced"),
    ],
)
def test_evaluate_each_criterion_can_fail(criteria: WantedCriteria, name: str) -> None:
    result = evaluate(criteria, FULL_OFFER)
    assert status_of(result, name) is CheckStatus.FAILED
    assert not result.matched
    assert any(line.startswith("❌") for line in result.lines)


def test_evaluate_price_boundary_is_inclusive() -> None:
    assert evaluate(WantedCriteria(max_price=eur("30")), FULL_OFFER).matched


STATS_OFFER = OfferSnapshot(price=eur("30"))  # /marketplace/stats: only the lowest price


@pytest.mark.parametrize(
    ("criteria", "name"),
    [
        (WantedCriteria(min_media=Grade.VERY_GOOD), "media"),
        (WantedCriteria(min_sleeve=Grade.VERY_GOOD), "sleeve"),
        (WantedCriteria(ships_from=frozenset({"UK"})), "ships from"),
        (WantedCriteria(min_seller_rating=98), "seller rating"),
    ],
)
def test_evaluate_stats_level_cannot_check_listing_criteria(
    criteria: WantedCriteria, name: str
) -> None:
    result = evaluate(criteria, STATS_OFFER)
    assert status_of(result, name) is CheckStatus.UNKNOWN
    assert result.matched  # unknown listing details do not block a stats-level alert
    line = next(line for line in result.lines if name in line)
    assert "could not check" in line


def test_evaluate_stats_level_says_grades_are_unknown() -> None:
    result = evaluate(WantedCriteria(min_media=Grade.VERY_GOOD), STATS_OFFER)
    media = next(c for c in result.checks if c.name == "media")
    assert "stats-level" in media.detail


def test_evaluate_sleeve_policy_from_criteria() -> None:
    offer = OfferSnapshot(price=eur("30"), sleeve=SleeveState.GENERIC)
    strict = evaluate(WantedCriteria(min_sleeve=Grade.GOOD), offer)
    assert status_of(strict, "sleeve") is CheckStatus.FAILED and not strict.matched
    lenient = WantedCriteria(min_sleeve=Grade.GOOD, sleeve_policy=SleevePolicy(generic=True))
    assert evaluate(lenient, offer).matched
    unsure = WantedCriteria(min_sleeve=Grade.GOOD, sleeve_policy=SleevePolicy(generic=None))
    result = evaluate(unsure, offer)
    assert status_of(result, "sleeve") is CheckStatus.UNKNOWN and result.matched


def test_evaluate_no_criteria_matches_with_price_shown() -> None:
    result = evaluate(WantedCriteria(), STATS_OFFER)
    assert result.matched
    assert [c.name for c in result.checks] == ["price"]


def test_evaluate_currency_mismatch_without_converter_cannot_match() -> None:
    offer = OfferSnapshot(price=Money(Decimal("30"), "USD"))
    result = evaluate(WantedCriteria(max_price=eur("40")), offer)
    assert status_of(result, "price") is CheckStatus.UNKNOWN
    assert "currency differs" in result.checks[0].detail
    assert not result.matched  # the price criterion must have been checked


def test_evaluate_currency_mismatch_with_converter() -> None:
    offer = OfferSnapshot(price=Money(Decimal("30"), "USD"))
    rates = {("USD", "EUR"): Decimal("0.9")}

    def converter(src: str, dst: str) -> Decimal | None:
        return rates.get((src, dst))

    ok = evaluate(WantedCriteria(max_price=eur("27")), offer, converter=converter)
    assert ok.matched and "27.00 EUR" in ok.checks[0].detail
    too_dear = evaluate(WantedCriteria(max_price=eur("26.99")), offer, converter=converter)
    assert status_of(too_dear, "price") is CheckStatus.FAILED
    gbp = evaluate(
        WantedCriteria(max_price=Money(Decimal("40"), "GBP")), offer, converter=converter
    )
    assert status_of(gbp, "price") is CheckStatus.UNKNOWN and not gbp.matched


def test_evaluate_converter_failures_are_could_not_check() -> None:
    offer = OfferSnapshot(price=Money(Decimal("30"), "USD"))
    criteria = WantedCriteria(max_price=eur("40"))

    def raising(src: str, dst: str) -> Decimal | None:
        raise LookupError(src)

    for conv in (raising, lambda s, d: Decimal("0"), lambda s, d: Decimal("NaN")):
        result = evaluate(criteria, offer, converter=conv)
        assert status_of(result, "price") is CheckStatus.UNKNOWN


def test_underpriced_with_rolling_median_reference() -> None:
    history = [Decimal(p) for p in ["40", "50", "45", "42", "48", "44", "60", "41", "43", "47"]]
    history += [Decimal("46"), Decimal("49")]
    median = rolling_median(history)
    assert median == Decimal("45.5")
    offer = OfferSnapshot(
        price=eur("35"),
        reference_price=eur(str(median)),
        reference_name=f"median of {len(history)} observed lowest prices",
    )
    result = evaluate(WantedCriteria(underpriced_percent=20), offer)
    assert result.matched
    assert result.underpriced is not None
    assert result.underpriced.text == "23% below the median of 12 observed lowest prices"


def test_underpriced_with_price_suggestion_reference() -> None:
    offer = OfferSnapshot(
        price=eur("30.80"), reference_price=eur("40"), reference_name="price suggestion for VG+"
    )
    result = evaluate(WantedCriteria(underpriced_percent=20), offer)
    assert result.underpriced is not None
    assert result.underpriced.text == "23% below the price suggestion for VG+"
    assert result.matched


def test_underpriced_reading_above_reference_and_without_criterion() -> None:
    offer = OfferSnapshot(price=eur("44"), reference_price=eur("40"), reference_name="x")
    result = evaluate(WantedCriteria(), offer)
    assert result.matched  # reading only, no criterion
    assert result.underpriced is not None and result.underpriced.text == "10% above the x"


def test_underpriced_without_reference_cannot_match() -> None:
    result = evaluate(WantedCriteria(underpriced_percent=20), STATS_OFFER)
    assert status_of(result, "underpriced") is CheckStatus.UNKNOWN
    assert result.underpriced is None
    assert not result.matched


def test_underpriced_reference_in_other_currency() -> None:
    offer = OfferSnapshot(
        price=eur("30"), reference_price=Money(Decimal("40"), "USD"), reference_name="x"
    )
    criteria = WantedCriteria(underpriced_percent=10)
    assert status_of(evaluate(criteria, offer), "underpriced") is CheckStatus.UNKNOWN
    result = evaluate(criteria, offer, converter=lambda s, d: Decimal("1"))
    assert result.matched and result.underpriced is not None


def test_underpriced_zero_reference() -> None:
    offer = OfferSnapshot(price=eur("0"), reference_price=eur("0"), reference_name="x")
    result = evaluate(WantedCriteria(underpriced_percent=10), offer)
    assert status_of(result, "underpriced") is CheckStatus.UNKNOWN


def test_criteria_validation() -> None:
    with pytest.raises(ValueError):
        WantedCriteria(min_seller_rating=101)
    with pytest.raises(ValueError):
        WantedCriteria(underpriced_percent=float("nan"))
    assert WantedCriteria(ships_from=frozenset({"UK", "gb"})).ships_from == {"united kingdom"}


# ---------------------------------------------------------------- properties


@given(st.sampled_from(list(Grade)), st.sampled_from(["label", "abbreviation", "name"]))
def test_grade_parse_round_trips_every_label(grade: Grade, form: str) -> None:
    text = getattr(grade, form)
    assert Grade.parse(text) is grade
    assert Grade.parse(text.lower()) is grade
    assert Grade.parse(f"  {text.upper()} ") is grade


moneys = st.builds(
    Money,
    st.decimals(min_value=0, max_value=10**9, places=2, allow_nan=False, allow_infinity=False),
    st.sampled_from(CURRENCIES),
)
offers = st.builds(
    OfferSnapshot,
    price=moneys,
    media=st.none() | st.sampled_from(list(Grade)),
    sleeve=st.none() | st.sampled_from([*Grade, *SleeveState]),
    ships_from=st.none() | st.text(max_size=30),
    seller_rating=st.none() | st.floats(allow_nan=True, allow_infinity=True),
    reference_price=st.none() | moneys,
    reference_name=st.text(max_size=30),
)
criteria_st = st.builds(
    WantedCriteria,
    max_price=st.none() | moneys,
    min_media=st.none() | st.sampled_from(list(Grade)),
    min_sleeve=st.none() | st.sampled_from(list(Grade)),
    ships_from=st.frozensets(st.text(max_size=10), max_size=3),
    min_seller_rating=st.none() | st.floats(min_value=0, max_value=100),
    underpriced_percent=st.none() | st.floats(min_value=0.01, max_value=99.99),
    sleeve_policy=st.builds(
        SleevePolicy, st.sampled_from([True, False, None]), st.sampled_from([True, False, None])
    ),
)
converters = st.none() | st.sampled_from(
    [
        lambda s, d: Decimal("1.1"),
        lambda s, d: None,
        lambda s, d: Decimal("-1"),
        lambda s, d: Decimal("1e999000"),
    ]
)


@given(criteria_st, offers, converters)
@settings(max_examples=300, deadline=None)
def test_evaluate_never_raises(
    criteria: WantedCriteria, offer: OfferSnapshot, conv: object
) -> None:
    result = evaluate(criteria, offer, converter=conv)  # type: ignore[arg-type]
    assert result.checks[0].name == "price"
    if result.matched:
        assert all(c.status is not CheckStatus.FAILED for c in result.checks)
        assert result.checks[0].status is CheckStatus.PASSED
    for line in result.lines:
        assert line[0] in "✅❌❔"
