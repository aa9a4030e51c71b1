"""SMS text: segment counting, and alert texts that aim for one segment and never take more than
two, with the link whole, for ordinary, very long, emoji and typographic titles."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot.delivery.sms_text import (
    Encoding,
    SmsLength,
    flatten,
    measure,
    render_alert_sms,
    render_verification_sms,
)
from bot.domain.listing import Listing
from tests.standins.twilio import num_segments

SHORT_URL = "https://market.example/listings/7"
DISCORD_URL = "https://discord.com/channels/500000000000000001/500000000000000002/1200000000000001"


def listing(title: str, url: str | None = SHORT_URL, price: str = "149.00") -> Listing:
    return Listing(id=7, title=title, price=Decimal(price), url=url)


# ---- counting ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "encoding", "units", "segments"),
    [
        ("", Encoding.gsm7, 0, 0),
        ("a" * 160, Encoding.gsm7, 160, 1),
        ("a" * 161, Encoding.gsm7, 161, 2),
        ("a" * 306, Encoding.gsm7, 306, 2),
        ("a" * 307, Encoding.gsm7, 307, 3),
        ("€" * 80, Encoding.gsm7, 160, 1),  # extension characters take two septets
        ("€" * 81, Encoding.gsm7, 162, 2),
        ("a" * 152 + "€" + "a" * 152, Encoding.gsm7, 306, 3),  # ESC+€ is never split
        ("é£¥ÄÖÑÜ§¿", Encoding.gsm7, 9, 1),  # all in the GSM-7 alphabet
        ("a" * 69 + "😀", Encoding.ucs2, 71, 2),  # an emoji is two UTF-16 units
        ("ж" * 70, Encoding.ucs2, 70, 1),
        ("ж" * 71, Encoding.ucs2, 71, 2),
        ("ж" * 134, Encoding.ucs2, 134, 2),
        ("ж" * 135, Encoding.ucs2, 135, 3),
        ("ж" * 66 + "😀" + "ж" * 66, Encoding.ucs2, 134, 3),  # a surrogate pair is never split
    ],
    ids=lambda v: f"{len(v)}:{v[:1]}{v[-1:]}" if isinstance(v, str) else str(v),
)
def test_measure(text: str, encoding: Encoding, units: int, segments: int) -> None:
    assert measure(text) == SmsLength(encoding, units, segments)


def test_typographic_punctuation_is_folded_to_gsm7() -> None:
    assert flatten("It’s a “great” chair — really…\u00a0\n\tnew") == (
        'It\'s a "great" chair - really... new'
    )
    assert flatten("evil\u202e\u200btitle\x00") == "eviltitle"


# ---- alert texts ------------------------------------------------------------------------------


def assert_within(text: str, segments: int = 2) -> None:
    length = measure(text)
    assert 1 <= length.segments <= segments, (length, text)
    # A second opinion: the stand-in counts segments its own way, as Twilio would bill them.
    assert num_segments(text) == length.segments, text


def test_a_normal_listing_is_one_gsm7_segment_with_everything() -> None:
    text = render_alert_sms(listing("Secretlab Titan gaming chair"))
    assert text == f"Deal Scout: $149.00 Secretlab Titan gaming chair\n{SHORT_URL}"
    assert measure(text).encoding is Encoding.gsm7
    assert_within(text, 1)


@pytest.mark.parametrize("url", [SHORT_URL, DISCORD_URL])
def test_a_300_character_title_is_cut_to_fit_and_the_link_survives(url: str) -> None:
    title = " ".join(["Vintage leather executive office chair"] * 8)[:300]
    text = render_alert_sms(listing(title, url))
    assert_within(text)
    assert measure(text).segments == 1  # still room for a useful title in one segment
    first, link = text.split("\n")
    assert link == url
    assert first.startswith("Deal Scout: $149.00 Vintage leather") and first.endswith("...")
    assert not first.removesuffix("...").endswith(" ")
    assert len(first) > 40


def test_a_cut_title_ends_at_a_word_boundary_when_one_is_near() -> None:
    text = render_alert_sms(listing("Herman Miller Aeron size B fully loaded " * 10))
    first = text.split("\n")[0].removesuffix("...")
    assert first.endswith(("Herman", "Miller", "Aeron", "B", "fully", "loaded", "size"))


@pytest.mark.parametrize("url", [SHORT_URL, DISCORD_URL])
def test_an_emoji_title_is_ucs2_and_cut_at_70_or_134_units(url: str) -> None:
    title = "🔥🔥 Vintage leather gaming chair, barely used, pick up only 🔥🔥 " * 4
    text = render_alert_sms(listing(title, url))
    length = measure(text)
    assert length.encoding is Encoding.ucs2
    assert length.units <= (70 if length.segments == 1 else 134)
    assert_within(text)
    first, link = text.split("\n")
    assert link == url
    assert first.endswith("…")  # one unit, not three, once the text is UCS-2 anyway
    assert "\ud83d" not in text  # no half emoji (a lone surrogate)


def test_an_emoji_title_keeps_one_segment_when_it_fits() -> None:
    text = render_alert_sms(listing("Chair 🪑"))
    assert text == f"Deal Scout: $149.00 Chair 🪑\n{SHORT_URL}"
    assert measure(text) == SmsLength(Encoding.ucs2, 62, 1)


def test_a_late_emoji_is_dropped_rather_than_paying_for_ucs2() -> None:
    title = "Mid-century walnut sideboard with brass handles, great condition 😍"
    text = render_alert_sms(listing(title, DISCORD_URL))
    assert measure(text).encoding is Encoding.gsm7 and measure(text).segments == 1
    assert "Mid-century walnut sideboard" in text and text.endswith(DISCORD_URL)


def test_pasted_curly_quotes_do_not_cost_ucs2() -> None:
    text = render_alert_sms(listing("Kid’s “race car” bed – like new"))
    assert measure(text).encoding is Encoding.gsm7
    assert 'Kid\'s "race car" bed - like new' in text


def test_listing_text_is_plain_not_escaped_and_one_line() -> None:
    text = render_alert_sms(listing("<b>Desk</b> & chair\r\nSecond line"))
    assert text.split("\n")[0] == "Deal Scout: $149.00 <b>Desk</b> & chair Second line"


def test_no_link_no_price_untitled() -> None:
    text = render_alert_sms(Listing(id=1, title="  ", price=None, url=None))
    assert text == "Deal Scout: no price Untitled listing"
    unsafe = render_alert_sms(listing("Desk", url="javascript:alert(1)"))
    assert "javascript" not in unsafe


def test_a_link_too_long_for_two_segments_is_the_only_thing_left_out() -> None:
    long_url = "https://market.example/" + "a" * 400
    text = render_alert_sms(listing("Desk", long_url))
    assert text == "Deal Scout: $149.00 Desk"


def test_foreign_currency_and_extension_characters_count_double() -> None:
    text = render_alert_sms(listing("Schreibtisch {Eiche} [massiv] " * 10, price="1299.50"))
    assert_within(text, 1)
    assert measure(text).units <= 160


def test_the_verification_text_is_one_gsm7_segment() -> None:
    text = render_verification_sms("012345", 10)
    assert "012345" in text and "10 minutes" in text
    assert measure(text).encoding is Encoding.gsm7
    assert_within(text, 1)
