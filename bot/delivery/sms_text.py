"""SMS text: segment counting and the texts the bot sends (``templates/sms/``).

An SMS segment holds 160 GSM-7 characters, or 70 UTF-16 code units once any character needs
UCS-2 (an emoji, most non-Latin letters, curly quotes). Longer texts are split into segments of
153 / 67 units (the rest is the concatenation header), and each segment is billed. So an alert
aims for one segment and never takes more than two (306 GSM-7 / 134 UCS-2 units): the title is
cut to fit, the price and the link are kept whole. Typographic quotes, dashes and ellipses in
titles are folded to their GSM-7 look-alikes first, so a pasted "It’s" does not turn the whole
text into UCS-2.
"""

from __future__ import annotations

import enum
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from bot.delivery.render import safe_url
from bot.domain.listing import Listing, format_money

TEMPLATE_DIR = Path(__file__).resolve().parents[2] / "templates" / "sms"

GSM_SINGLE = 160
GSM_MULTI = 153
UCS2_SINGLE = 70
UCS2_MULTI = 67
MAX_SEGMENTS = 2
"""An alert never costs more than this many segments."""
MIN_TITLE = 24
"""An alert takes a second segment rather than cut the title shorter than this."""

# 3GPP TS 23.038: the default alphabet (ESC left out: it introduces the extension table) and the
# extension table, whose characters take two septets (ESC + the character).
GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENSION = frozenset("\f^{}\\[~]|€")

# Look-alikes that keep a title in GSM-7 (what Twilio's "smart encoding" does on its side).
_FOLD = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u2032": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u2033": '"',
        "\u2010": "-",
        "\u2011": "-",
        "\u2012": "-",
        "\u2013": "-",
        "\u2014": "-",
        "\u2015": "-",
        "\u2212": "-",
        "\u2026": "...",
        "\u00a0": " ",
        "\u2009": " ",
        "\u202f": " ",
        "\u2022": "-",
    }
)
_INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")
_JOINERS = "\u200d\ufe0e\ufe0f"


class Encoding(enum.StrEnum):
    gsm7 = "GSM-7"
    ucs2 = "UCS-2"


@dataclass(frozen=True, slots=True)
class SmsLength:
    """How a text travels: its encoding, its length in that encoding's units (septets or UTF-16
    code units) and the number of segments it is billed as."""

    encoding: Encoding
    units: int
    segments: int


def is_gsm7(text: str) -> bool:
    return all(ch in GSM_BASIC or ch in GSM_EXTENSION for ch in text)


def _unit_sizes(text: str) -> tuple[Encoding, list[int]]:
    if is_gsm7(text):
        return Encoding.gsm7, [2 if ch in GSM_EXTENSION else 1 for ch in text]
    return Encoding.ucs2, [2 if ord(ch) > 0xFFFF else 1 for ch in text]


def measure(text: str) -> SmsLength:
    """The encoding, length and segment count of ``text`` as a carrier would send it. Segments
    are packed as encoders do: an escaped GSM-7 character or a surrogate pair is never split
    across two segments."""
    encoding, sizes = _unit_sizes(text)
    units = sum(sizes)
    single, multi = (
        (GSM_SINGLE, GSM_MULTI) if encoding is Encoding.gsm7 else (UCS2_SINGLE, UCS2_MULTI)
    )
    if units <= single:
        return SmsLength(encoding, units, 1 if text else 0)
    segments, used = 1, 0
    for size in sizes:
        if used + size > multi:
            segments, used = segments + 1, 0
        used += size
    return SmsLength(encoding, units, segments)


def fits(text: str, segments: int) -> bool:
    return measure(text).segments <= segments


def flatten(text: str | None) -> str:
    """Untrusted text as one line: controls become spaces, invisible and bidi-override characters
    go, typographic punctuation becomes its GSM-7 look-alike, runs of spaces collapse."""
    if not text:
        return ""
    spaced = "".join(" " if unicodedata.category(ch) == "Cc" else ch for ch in text)
    return " ".join(_INVISIBLE.sub("", spaced.translate(_FOLD)).split())


@cache
def environment() -> Environment:
    """Plain text, so no autoescaping: ``<`` stays ``<`` on the phone."""
    return Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        autoescape=False,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )


def _render(template: str, **context: object) -> str:
    text = environment().get_template(template).render(**context)
    return "\n".join(line.rstrip() for line in text.strip().splitlines())


def _cut(title: str, n: int) -> str:
    """``title``'s first ``n`` characters, without a dangling joiner or space."""
    return title[:n].rstrip().rstrip(_JOINERS).rstrip()


def _longest_cut(make: Callable[[str], str], title: str, segments: int) -> tuple[str, int] | None:
    """The longest ``title[:n] + ellipsis`` with which ``make`` fits in ``segments`` and how many
    of the title's characters it kept, or None when even no title at all does not fit.

    Fitting is monotone in ``n`` as long as the encoding does not change, and it changes at most
    once: at the first character GSM-7 lacks. So each side of that point is searched on its own
    and the longer cut wins.
    """
    if fits(make(title), segments):
        return title, len(title)
    if not fits(make(""), segments):
        return None

    def shortened(n: int) -> str:
        head = _cut(title, n)
        if not head:
            return ""
        # "..." costs three GSM-7 septets; once the text is UCS-2 anyway, "…" costs one unit.
        dots = head + "..."
        return dots if is_gsm7(make(dots)) else head + "…"

    def ok(n: int) -> bool:
        return fits(make(shortened(n)), segments)

    first_wide = next((i for i, ch in enumerate(title) if not is_gsm7(ch)), len(title))
    best = 0
    for low, high in ((1, min(first_wide, len(title) - 1)), (first_wide + 1, len(title) - 1)):
        if low > high or not ok(low):
            continue
        while low < high:  # the largest n in [low, high] that fits
            mid = (low + high + 1) // 2
            if ok(mid):
                low = mid
            else:
                high = mid - 1
        best = max(best, low)
    if best == 0:
        return "", 0
    # Cut at a word boundary when one is near, rather than mid-word.
    if title[best : best + 1] not in ("", " "):
        space = title.rfind(" ", 0, best)
        if space >= max(best - 15, best // 2) and ok(space):
            best = space
    return shortened(best), len(_cut(title, best))


def render_alert_sms(listing: Listing) -> str:
    """The text for one alert: price, title and link in one segment where the title can keep at
    least :data:`MIN_TITLE` characters, else in two. The link is never cut; only a link too long
    for two segments on its own is left out (``safe_url`` allows 500 characters)."""
    price = format_money(listing.price, listing.currency)
    title = flatten(listing.title) or "Untitled listing"
    url = safe_url(listing.url)

    def make(with_url: str | None) -> Callable[[str], str]:
        return lambda cut_title: _render("alert.txt.j2", price=price, title=cut_title, url=with_url)

    for link in (url, None) if url else (None,):
        text = make(link)
        for segments in range(1, MAX_SEGMENTS + 1):
            found = _longest_cut(text, title, segments)
            if found is None:
                continue
            cut_title, kept = found
            if segments == MAX_SEGMENTS or kept >= min(len(title), MIN_TITLE):
                return text(cut_title)
    return make(None)("")  # unreachable: format_money's prices are short


def render_verification_sms(code: str, minutes: int) -> str:
    return _render("verification.txt.j2", code=code, minutes=minutes)
