"""The opt-in sell-page adapter: listing-level offers scraped from ``/sell/release/{id}``.

Why scrape at all: the API has no "all listings of a release" endpoint, and criteria such as a
minimum media grade or a seller rating need listing data. Why opt-in and so suspicious: the page
sits behind Cloudflare, its markup can change without notice, and everything on it (titles,
comments, usernames) is typed by strangers.

So this module keeps three promises:

* **A page we could not read is never "no listings".** Blocks (403/429/503, challenge pages) are
  ``BLOCKED``; timeouts, network errors, oversize bodies, off-site redirects, other statuses and
  pages without the marketplace table are ``FAILED``. Only a recognised table, or Discogs' explicit
  "no items for sale" message, is ``OK``.
* **Never guess.** A row whose listing id or price cannot be read is skipped; a grade is only read
  from Discogs' exact strings; a price is the seller's own price with the currency the page names
  (the approximate converted total Discogs adds is ignored). A table whose rows all fail to parse
  is ``FAILED``, not an empty ``OK``.
* **Never trust the input.** Text is stripped of control and bidi characters and cut short; links
  are rebuilt as ``https://www.discogs.com/sell/item/{id}``; at most :data:`MAX_ROWS` rows are read;
  bodies are capped while streaming; :func:`parse_sell_page` never raises.

Markup read (the long-standing server-rendered layout that open-source scrapers also use)::

    table.mpitems > tbody > tr.shortcut_navigable
      td.item_description  a.item_description_title[href=/sell/item/{id}]
                           p.item_condition  <span>Very Good Plus (VG+) …</span>
                                             span.item_sleeve_condition  Generic
      td.seller_info       a[href=/seller/{name}/profile]  strong 99.8%  li "Ships From: Germany"
      td.item_price        span.price[data-currency][data-pricevalue]  €25.00
"""

from __future__ import annotations

import asyncio
import codecs
import re
from decimal import Decimal
from urllib.parse import unquote, urljoin, urlsplit

import aiohttp
from bs4 import BeautifulSoup, PageElement, Tag

from bot.domain.discogs import CURRENCIES, Grade, Money, SleeveState, parse_sleeve
from bot.ingest.discogs_listings import SourceOffer, SourceResult, SourceStatus

DISCOGS_WEB = "https://www.discogs.com"
MAX_PAGE_BYTES = 2 * 1024 * 1024
"""Default cap on a fetched body; a real sell page is a few hundred KiB."""
MAX_HTML_CHARS = 4 * 1024 * 1024
"""Cap on what :func:`parse_sell_page` will look at, whoever calls it."""
MAX_TAGS = 100_000
"""Cap on markup (counted as "<"): parsing costs ~30 µs a tag, a real 250-row page has ~20,000."""
MAX_ROWS = 250
"""Discogs shows at most 250 listings per page; more rows means something is off."""
MAX_RELEASE_ID = 2**31 - 1
MAX_LISTING_ID = 10**12  # listing ids already exceed 2**31
MAX_REDIRECTS = 3
BLOCKING_STATUSES = frozenset({403, 429, 503})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})

_UNSAFE_CHARS = re.compile(
    "[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u2069\ufeff]"
)
_USERNAME = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
_ITEM_HREF = re.compile(
    r"^(?:https?://(?:www\.)?discogs\.com)?"  # relative, or absolute on discogs.com only
    r"(?:/[a-z]{2}(?:-[a-z]{2})?)?"  # a language prefix such as /de or /pt-br
    r"/sell/item/(\d{1,13})(?:[/?#]|$)",
    re.IGNORECASE,
)
_SELLER_HREF = re.compile(r"/seller/([^/?#]{1,200})(?:[/?#]|$)")
_RATING = re.compile(r"^(\d{1,3}(?:\.\d{1,2})?)\s?%$")
_PRICE_TEXT = re.compile(
    r"^(?:[^\d\s.,+-]{1,4})?\s?(?P<num>\d[\d.,]{0,15})\s?(?:[^\d\s.,+-]{1,4})?$"
)
_AMOUNT = re.compile(r"^(?:(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d{1,2})?|\d+,\d{1,2})$")
_ATTR_AMOUNT = re.compile(r"^\d{1,12}(?:\.\d{1,4})?$")
_CENT = Decimal("0.01")


def _exact_labels(labels: list[str]) -> re.Pattern[str]:
    """A regex matching any of Discogs' exact condition strings, longest first."""
    ordered = sorted(labels, key=len, reverse=True)
    return re.compile("|".join(re.escape(label) for label in ordered), re.IGNORECASE)


_MEDIA_RE = _exact_labels([grade.label for grade in Grade])
_SLEEVE_RE = _exact_labels([grade.label for grade in Grade] + [s.value for s in SleeveState])

# A Cloudflare challenge page. Cloudflare also injects ``/cdn-cgi/challenge-platform/scripts/jsd/``
# into *ordinary* pages, so a bare "challenge-platform" proves nothing: counting it would report a
# changed layout as "blocked" forever. Only markers a challenge page alone carries count; "Just a
# moment" only in the title, since a release may well be called that.
_CHALLENGE_TITLES = ("just a moment", "attention required")
_CHALLENGE_MARKERS = (
    "cf-chl",
    "_cf_chl_opt",
    "challenge-platform/h/",
    "orchestrate/chl_page",
    "attention required! | cloudflare",
)
_EMPTY_PHRASES = (
    "no items for sale",
    "there are no items for sale",
    "no items are available",
    "sorry, there are no items",
)


# ------------------------------------------------------------------------------------ text


def _clean(text: str, limit: int) -> str | None:
    """Untrusted text → one line without control/bidi characters, at most ``limit`` chars."""
    flat = " ".join(_UNSAFE_CHARS.sub(" ", text).split())
    return flat[:limit] or None


def _text(element: Tag, budget: int = 400) -> str:
    """The visible text of ``element``, reading at most about ``budget`` characters."""
    parts: list[str] = []
    used = 0
    for piece in element.strings:
        parts.append(piece[: budget - used])
        used += len(parts[-1])
        if used >= budget:
            break
    return " ".join(" ".join(parts).split())


def _classes(element: Tag) -> list[str]:
    value = element.get("class")
    return value if isinstance(value, list) else []


def _attr(element: Tag, name: str, limit: int = 2000) -> str | None:
    value = element.get(name)
    if not isinstance(value, str) or len(value) > limit:
        return None
    return value.strip()


# ------------------------------------------------------------------------------------ page


def parse_sell_page(html: str, *, currency: str | None = None) -> SourceResult:
    """Read a ``/sell/release/{id}`` page into a :class:`SourceResult`. Never raises.

    ``currency`` is the currency a caller *knows* the page's prices are in; it is only used for a
    price printed as a bare amount with no symbol or code (an unknown code is ignored). Discogs
    always prints one, so live fetches pass nothing and a bare amount is skipped, not guessed.
    """
    if not isinstance(html, str):
        return SourceResult(SourceStatus.FAILED, detail="page is not text")
    if len(html) > MAX_HTML_CHARS:
        return SourceResult(SourceStatus.FAILED, detail="page too large")
    if html.count("<") > MAX_TAGS:
        return SourceResult(SourceStatus.FAILED, detail="page too complex")
    if "<" not in html:  # not markup (and bs4 would warn that it looks like a file name)
        return _not_a_sell_page(html, None)
    default = currency.upper() if isinstance(currency, str) else None
    default = default if default in CURRENCIES else None
    try:
        # A sell page has no processing instructions; "<?xml" would only make bs4 warn that XML
        # is parsed as HTML. Turning "<?" into text avoids that without a global warning filter.
        soup = BeautifulSoup(html.replace("<?", "&lt;?"), "html.parser")
        table = soup.select_one("table.mpitems")
        if table is None:
            return _not_a_sell_page(html, soup)
        return _parse_table(table, soup, default)
    except Exception as exc:  # a hostile page must never take the watcher down with it
        return SourceResult(SourceStatus.FAILED, detail=f"page could not be parsed ({_name(exc)})")


def _name(exc: BaseException) -> str:
    return type(exc).__name__


def _not_a_sell_page(html: str, soup: BeautifulSoup | None) -> SourceResult:
    """No marketplace table: a challenge, Discogs' "none for sale" message, or an unknown page."""
    if _is_challenge(html, soup):
        return SourceResult(SourceStatus.BLOCKED, detail="blocked by Cloudflare (challenge page)")
    if soup is not None and _says_nothing_for_sale(soup):
        return SourceResult(SourceStatus.OK, detail="no items for sale")
    return SourceResult(SourceStatus.FAILED, detail="page layout not recognised")


def _is_challenge(html: str, soup: BeautifulSoup | None) -> bool:
    lowered = html[:200_000].casefold()
    if any(marker in lowered for marker in _CHALLENGE_MARKERS):
        return True
    if soup is None or soup.title is None:
        return False
    return _text(soup.title, 200).casefold().startswith(_CHALLENGE_TITLES)


def _says_nothing_for_sale(soup: BeautifulSoup) -> bool:
    """Discogs' explicit empty state: a ``.marketplace_empty`` block or a heading saying so.

    Only whole headings/paragraphs that *start* with the phrase count, so a sentence somewhere in
    the page (or a script) cannot turn an unreadable page into a confirmed "none for sale".
    """
    if soup.select_one(".marketplace_empty") is not None:
        return True
    for element in soup.find_all(["h1", "h2", "h3", "p", "strong"], limit=2000):
        if _text(element, 120).casefold().startswith(_EMPTY_PHRASES):
            return True
    return False


def _table_rows(table: Tag) -> list[Tag]:
    """The table's own rows (direct children only, so nested markup cannot multiply work)."""
    bodies = table.find_all("tbody", recursive=False) or [table]
    rows: list[Tag] = []
    for body in bodies:
        rows.extend(body.find_all("tr", recursive=False, limit=MAX_ROWS + 1 - len(rows)))
        if len(rows) > MAX_ROWS:
            break
    return rows[:MAX_ROWS]


def _parse_table(table: Tag, soup: BeautifulSoup, currency: str | None) -> SourceResult:
    rows = [row for row in _table_rows(table) if row.find("td", recursive=False) is not None]
    if not rows:
        if _says_nothing_for_sale(soup):
            return SourceResult(SourceStatus.OK, detail="no items for sale")
        return SourceResult(SourceStatus.FAILED, detail="listing table has no rows")
    offers: list[SourceOffer] = []
    seen: set[int] = set()
    for row in rows:
        offer = _parse_row(row, currency)
        if offer is not None and offer.listing_id not in seen:
            seen.add(offer.listing_id)
            offers.append(offer)
    if not offers:
        return SourceResult(SourceStatus.FAILED, detail=f"none of {len(rows)} rows could be read")
    skipped = len(rows) - len(offers)
    detail = f"{len(offers)} offers" + (f", {skipped} rows skipped" if skipped else "")
    return SourceResult(SourceStatus.OK, tuple(offers), detail)


# ------------------------------------------------------------------------------------ rows


def _cell(row: Tag, name: str) -> Tag | None:
    for cell in row.find_all("td", recursive=False, limit=20):
        if name in _classes(cell):
            return cell
    return None


def _parse_row(row: Tag, currency: str | None) -> SourceOffer | None:
    """One table row → an offer, or ``None`` when its listing id or price cannot be read."""
    description = _cell(row, "item_description")
    listing_id = _listing_id(description if description is not None else row)
    price_cell = _cell(row, "item_price")
    price = _price(price_cell if price_cell is not None else row, currency)
    if listing_id is None or price is None:
        return None
    seller_info = _cell(row, "seller_info")
    condition = description.find("p", class_="item_condition") if description is not None else None
    return SourceOffer(
        listing_id=listing_id,
        price=price,
        media=_media(condition) if isinstance(condition, Tag) else None,
        sleeve=_sleeve(condition) if isinstance(condition, Tag) else None,
        ships_from=_ships_from(seller_info) if seller_info is not None else None,
        seller=_seller(seller_info) if seller_info is not None else None,
        seller_rating=_rating(seller_info) if seller_info is not None else None,
        uri=f"{DISCOGS_WEB}/sell/item/{listing_id}",
    )


def _listing_id(scope: Tag) -> int | None:
    """The id in the row's ``/sell/item/{id}`` link (the title link first)."""
    title = scope.find("a", class_="item_description_title")
    links = [title] if isinstance(title, Tag) else []
    links += scope.find_all("a", href=True, limit=30)
    for link in links:
        match = _ITEM_HREF.match(_attr(link, "href") or "")
        if match:
            value = int(match.group(1))
            return value if 1 <= value <= MAX_LISTING_ID else None
    return None


def _price(scope: Tag, currency: str | None) -> Money | None:
    """The seller's price from ``span.price``: its data attributes and its text must agree."""
    span = scope.find("span", class_="price")
    if not isinstance(span, Tag):
        return None
    from_attrs = _price_from_attrs(span)
    from_text = _price_from_text(_text(span, 60), currency)
    if from_attrs is not None and from_text is not None and from_attrs != from_text:
        return None  # two readings of one price disagree: skip rather than pick one
    return from_attrs if from_attrs is not None else from_text


def _price_from_attrs(span: Tag) -> Money | None:
    value = _attr(span, "data-pricevalue", 20)
    code = (_attr(span, "data-currency", 8) or "").upper()
    if not value or not _ATTR_AMOUNT.match(value) or code not in CURRENCIES:
        return None
    return Money(Decimal(value).quantize(_CENT), code)  # the regex keeps it finite and in range


def _price_from_text(text: str, currency: str | None) -> Money | None:
    """Read "€25.00", "$1,299.99", "CA$42.00", "¥4,500" or "SEK 250.00"; anything else → None.

    The amount must be written the English way Discogs uses (or as "12,50"): "1.234,56" could be
    either reading, so it is refused rather than guessed.
    """
    match = _PRICE_TEXT.match(text)
    if match is None or not _AMOUNT.match(match.group("num")):
        return None
    try:
        return Money.parse(text, default_currency=currency)
    except (ValueError, ArithmeticError):
        return None


def _media(condition: Tag) -> Grade | None:
    """The media grade: the first exact Discogs grade string outside the sleeve span."""
    sleeve = condition.find("span", class_="item_sleeve_condition")
    parts: list[str] = []
    used = 0
    for count, piece in enumerate(condition.strings):
        if count >= 200 or used >= 600:
            break
        if not _inside(piece, sleeve, condition):
            parts.append(piece[:300])
            used += len(parts[-1])
    match = _MEDIA_RE.search(" ".join(" ".join(parts).split()))
    return Grade.parse(match.group(0)) if match else None


def _inside(piece: PageElement, container: object, stop: Tag) -> bool:
    """Is ``piece`` inside ``container``? Walks up no further than ``stop``."""
    for parent in piece.parents:
        if parent is container:
            return True
        if parent is stop:
            break
    return False


def _sleeve(condition: Tag) -> Grade | SleeveState | None:
    span = condition.find("span", class_="item_sleeve_condition")
    if not isinstance(span, Tag):
        return None
    match = _SLEEVE_RE.search(_text(span, 120))
    return parse_sleeve(match.group(0)) if match else None


def _ships_from(seller_info: Tag) -> str | None:
    """The country after "Ships From:", as Discogs names it ("Germany", "United States")."""
    for item in seller_info.find_all("li", limit=20):
        label, _, country = _text(item, 200).partition(":")
        if label.strip().casefold() == "ships from":
            return _clean(country, 80)
    return None


def _seller(seller_info: Tag) -> str | None:
    """The seller's username, only if it looks like a Discogs username."""
    for link in seller_info.find_all("a", href=True, limit=20):
        match = _SELLER_HREF.search(_attr(link, "href") or "")
        if match is None:
            continue
        for candidate in (_text(link, 80), unquote(match.group(1))):
            if _USERNAME.match(candidate):
                return candidate
        return None
    return None


def _rating(seller_info: Tag) -> float | None:
    """The seller's positive-feedback percentage ("99.8%"), or None (e.g. no feedback yet)."""
    for strong in seller_info.find_all("strong", limit=20):
        match = _RATING.match(_text(strong, 20))
        if match:
            value = float(match.group(1))
            return value if 0 <= value <= 100 else None
    return None


# ------------------------------------------------------------------------------------ fetch


class _Refused(Exception):
    """A fetch that ended without a page; carries the result to report."""

    def __init__(self, result: SourceResult) -> None:
        super().__init__(result.detail)
        self.result = result


class SellPageSource:
    """A :class:`~bot.ingest.discogs_listings.ListingSource` reading Discogs' sell pages.

    One GET per call, no retries (the watcher's schedule is the retry), no cookies or tricks to
    get past Cloudflare: a block is reported as ``BLOCKED`` and the watcher falls back to the API.
    Redirects are followed by hand and only within ``base_url``'s scheme and host, so the page can
    never send the bot somewhere else. Parsing runs in a worker thread to keep the event loop free.
    """

    name: str = "discogs-sellpage"

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        base_url: str = DISCOGS_WEB,
        user_agent: str,
        timeout_seconds: float = 20,
        max_bytes: int = MAX_PAGE_BYTES,
    ) -> None:
        parts = urlsplit(base_url)
        if (
            parts.scheme not in {"http", "https"}
            or not parts.hostname
            or parts.query
            or parts.username
        ):
            raise ValueError("base_url must be an http(s) origin such as https://www.discogs.com")
        if (
            not isinstance(user_agent, str)
            or not user_agent.strip()
            or _UNSAFE_CHARS.search(user_agent)
        ):
            raise ValueError("a descriptive User-Agent is required")
        if not timeout_seconds > 0 or not max_bytes > 0:
            raise ValueError("timeout_seconds and max_bytes must be positive")
        self._session = session
        self._base = base_url.rstrip("/")
        self._origin = (parts.scheme, parts.netloc.lower())
        self._headers = {
            "User-Agent": user_agent,
            "Accept": "text/html,application/xhtml+xml",
            "Accept-Language": "en",
        }
        self._timeout_seconds = float(timeout_seconds)
        self._max_bytes = int(max_bytes)

    async def offers(self, release_id: int, currency: str) -> SourceResult:
        """Fetch and read the sell page of ``release_id`` with ``?curr={currency}``.

        Raises ``ValueError`` for an invalid id or currency (a programming error); every failure
        of the fetch itself comes back as a BLOCKED or FAILED result.
        """
        release_id = _check_release_id(release_id)
        currency = _check_currency(currency)
        # The cheapest first and as many as one page holds: the watcher wants the cheapest
        # matching offers, and a partial page must not hide them.
        url = f"{self._base}/sell/release/{release_id}?curr={currency}&sort=price%2Casc&limit=250"
        try:
            async with asyncio.timeout(self._timeout_seconds):
                html = await self._fetch(url)
        except _Refused as refused:
            return refused.result
        except TimeoutError:
            return _failed(f"timed out after {self._timeout_seconds:g}s")
        except aiohttp.ClientError as exc:
            return _failed(f"network error ({_name(exc)})")
        return await asyncio.to_thread(parse_sell_page, html)

    async def _fetch(self, url: str) -> str:
        """The body of the final 200 response; :class:`_Refused` for anything else."""
        timeout = aiohttp.ClientTimeout(total=self._timeout_seconds)
        for _ in range(MAX_REDIRECTS + 1):
            async with self._session.get(
                url, headers=self._headers, allow_redirects=False, timeout=timeout
            ) as resp:
                if resp.status in REDIRECT_STATUSES:
                    url = self._redirect_target(url, resp.headers.get("Location"))
                    continue
                if resp.status in BLOCKING_STATUSES or _cloudflare_challenge(resp):
                    raise _Refused(SourceResult(SourceStatus.BLOCKED, detail=_blocked(resp)))
                if resp.status != 200:
                    raise _Refused(_failed(f"HTTP {resp.status}"))
                return _decode(await self._read_capped(resp), resp.charset)
        raise _Refused(_failed("too many redirects"))

    def _redirect_target(self, current: str, location: str | None) -> str:
        """Where a redirect points, if that stays on our origin; otherwise refuse it."""
        if not location or len(location) > 2000 or _UNSAFE_CHARS.search(location):
            raise _Refused(_failed("redirect without a usable location"))
        target = urljoin(current, location.strip())
        parts = urlsplit(target)
        if (parts.scheme, parts.netloc.lower()) != self._origin or parts.username:
            raise _Refused(_failed("redirected away from the Discogs site"))
        return target

    async def _read_capped(self, resp: aiohttp.ClientResponse) -> bytes:
        """The body, refusing anything over ``max_bytes`` without reading the rest."""
        too_large = _Refused(_failed(f"page larger than {self._max_bytes} bytes"))
        if resp.content_length is not None and resp.content_length > self._max_bytes:
            raise too_large
        chunks: list[bytes] = []
        size = 0
        async for chunk in resp.content.iter_chunked(65536):
            size += len(chunk)
            if size > self._max_bytes:
                raise too_large
            chunks.append(chunk)
        return b"".join(chunks)


def _failed(detail: str) -> SourceResult:
    return SourceResult(SourceStatus.FAILED, detail=detail)


def _cloudflare_challenge(resp: aiohttp.ClientResponse) -> bool:
    """Cloudflare marks challenge responses with ``cf-mitigated: challenge``, even on a 200."""
    return resp.headers.get("cf-mitigated", "").strip().casefold() == "challenge"


def _blocked(resp: aiohttp.ClientResponse) -> str:
    if resp.status == 429:
        return "rate limited (HTTP 429)"
    server = resp.headers.get("Server", "").casefold()
    if "cloudflare" in server or "CF-RAY" in resp.headers or _cloudflare_challenge(resp):
        return f"blocked by Cloudflare (HTTP {resp.status})"
    return f"blocked (HTTP {resp.status})"


def _decode(body: bytes, charset: str | None) -> str:
    """Bytes → text with the declared charset if it is a real text encoding, else UTF-8."""
    try:
        encoding = codecs.lookup(charset or "utf-8").name
        return body.decode(encoding, errors="replace")
    except (LookupError, ValueError, TypeError):
        return body.decode("utf-8", errors="replace")


def _check_release_id(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_RELEASE_ID:
        raise ValueError(f"a Discogs release id is an integer between 1 and {MAX_RELEASE_ID}")
    return value


def _check_currency(value: str) -> str:
    code = value.upper() if isinstance(value, str) else ""
    if code not in CURRENCIES:
        raise ValueError(f"unsupported currency {str(value)[:12]!r}: use one of {CURRENCIES}")
    return code
