"""A typed, rate-limited client for the parts of the Discogs API that Deal Scout uses.

Every request goes through the shared :class:`~bot.ingest.ratelimit.PriorityRateLimiter` with
the caller's priority, carries the token and the mandatory User-Agent, and feeds the
``X-Discogs-Ratelimit*`` headers back to the limiter.

Errors: 404 → :class:`DiscogsNotFound`; 401/403 → :class:`DiscogsAuthError`; 429 honours
``Retry-After`` (the whole limiter waits) or else backs off exponentially with jitter; 5xx and
network errors are retried with backoff; when retries run out → :class:`DiscogsUnavailable`.
A failed fetch is never an empty result: callers must not read it as "no listings".

The API is treated as untrusted: every field is optional, wrongly typed values become ``None``,
strings are cut to a sane length and bodies over 4 MiB are refused.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote

import aiohttp

from bot.config import Settings
from bot.ingest.ratelimit import Priority, PriorityRateLimiter

CURRENCIES = frozenset(
    {"USD", "GBP", "EUR", "CAD", "AUD", "JPY", "CHF", "MXN", "BRL", "NZD", "SEK", "ZAR"}
)
MEDIA_GRADES = (
    "Mint (M)",
    "Near Mint (NM or M-)",
    "Very Good Plus (VG+)",
    "Very Good (VG)",
    "Good Plus (G+)",
    "Good (G)",
    "Fair (F)",
    "Poor (P)",
)
SLEEVE_ONLY_GRADES = ("Generic", "Not Graded", "No Cover")
MAX_BODY_BYTES = 4 * 1024 * 1024
MAX_RETRY_AFTER = 300.0
MAX_PRICE = Decimal("100000000")
_USERNAME = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


# ---------------------------------------------------------------------------------- errors


class DiscogsError(Exception):
    """Any failure talking to Discogs."""


class DiscogsNotFound(DiscogsError):
    """404: the release, master, listing or user does not exist (or is not visible)."""


class DiscogsAuthError(DiscogsError):
    """401/403: the token is missing or wrong, or lacks the right (e.g. seller settings)."""


class DiscogsUnavailable(DiscogsError):
    """Rate limited, server errors or network failures beyond the retries. Not "no results"."""


# ---------------------------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class Money:
    amount: Decimal
    currency: str


@dataclass(frozen=True, slots=True)
class Pagination:
    page: int
    pages: int
    per_page: int
    items: int

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


@dataclass(frozen=True, slots=True)
class Release:
    id: int
    title: str
    artists: tuple[str, ...]
    year: int | None
    formats: tuple[str, ...]
    thumb: str | None
    cover: str | None
    lowest_price: Money | None
    num_for_sale: int | None
    uri: str | None
    master_id: int | None


@dataclass(frozen=True, slots=True)
class Master:
    id: int
    title: str
    artists: tuple[str, ...]
    year: int | None
    main_release: int | None
    thumb: str | None
    cover: str | None
    lowest_price: Money | None
    num_for_sale: int | None
    uri: str | None


@dataclass(frozen=True, slots=True)
class MasterVersion:
    id: int
    title: str
    format: str | None
    label: str | None
    country: str | None
    released: str | None
    catno: str | None
    thumb: str | None


@dataclass(frozen=True, slots=True)
class MasterVersions:
    items: tuple[MasterVersion, ...]
    pagination: Pagination


@dataclass(frozen=True, slots=True)
class MarketStats:
    lowest_price: Money | None
    num_for_sale: int | None
    blocked_from_sale: bool


@dataclass(frozen=True, slots=True)
class Seller:
    username: str | None
    rating: Decimal | None  # percentage, 0–100
    total: int | None


@dataclass(frozen=True, slots=True)
class MarketListing:
    id: int
    status: str | None
    condition: str | None
    sleeve_condition: str | None
    ships_from: str | None
    price: Money | None
    original_price: Money | None
    shipping_price: Money | None
    seller: Seller
    uri: str | None
    release_id: int | None
    release_title: str | None


@dataclass(frozen=True, slots=True)
class WantItem:
    release_id: int
    title: str
    artists: tuple[str, ...]
    year: int | None
    formats: tuple[str, ...]
    thumb: str | None
    master_id: int | None
    notes: str | None
    date_added: str | None


@dataclass(frozen=True, slots=True)
class Wantlist:
    items: tuple[WantItem, ...]
    pagination: Pagination


# ---------------------------------------------------------------------------------- parsing


def _str(value: object, limit: int = 300) -> str | None:
    if not isinstance(value, str):
        return None
    text = _CONTROL.sub("", value).strip()
    if not text:
        return None
    return text[:limit]


def _int(value: object, *, minimum: int = 0, maximum: int = 10**12) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) <= 13:
        value = int(value.strip())
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and minimum <= value <= maximum:
        return value
    return None


def _id(value: object) -> int | None:
    return _int(value, minimum=1)


def _decimal(value: object) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    if isinstance(value, str) and len(value) > 32:
        return None
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    if not amount.is_finite() or amount < 0 or amount > MAX_PRICE:
        return None
    return amount


def _currency(value: object) -> str | None:
    text = _str(value, 8)
    return text.upper() if text and text.upper() in CURRENCIES else None


def _money(value: object) -> Money | None:
    """``{value, currency}`` (or ``curr_abbr``) → Money; anything else → None."""
    if not isinstance(value, Mapping):
        return None
    amount = _decimal(value.get("value"))
    currency = _currency(value.get("currency")) or _currency(value.get("curr_abbr"))
    if amount is None or currency is None:
        return None
    return Money(amount, currency)


def _url(value: object) -> str | None:
    text = _str(value, 1000)
    if text and (text.startswith("https://") or text.startswith("http://")):
        return text
    return None


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _dict(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _artists(value: object) -> tuple[str, ...]:
    names = []
    for artist in _list(value)[:50]:
        name = _str(_dict(artist).get("name"), 200)
        if name:
            names.append(name)
    return tuple(names)


def _formats(value: object) -> tuple[str, ...]:
    """Each format as "Vinyl, LP, Album" (name, then its descriptions)."""
    out = []
    for fmt in _list(value)[:20]:
        fmt = _dict(fmt)
        parts = [_str(fmt.get("name"), 60)]
        parts += [_str(d, 60) for d in _list(fmt.get("descriptions"))[:10]]
        text = ", ".join(p for p in parts if p)
        if text:
            out.append(text)
    return tuple(out)


def _year(value: object) -> int | None:
    year = _int(value, minimum=1800, maximum=2200)
    return year


def _images(body: Mapping[str, Any]) -> tuple[str | None, str | None]:
    images = [_dict(i) for i in _list(body.get("images"))]
    primary = next((i for i in images if i.get("type") == "primary"), images[0] if images else {})
    thumb = _url(body.get("thumb")) or _url(primary.get("uri150"))
    cover = _url(primary.get("uri")) or _url(body.get("cover_image")) or thumb
    return thumb, cover


def _pagination(value: object, page: int, per_page: int, count: int) -> Pagination:
    p = _dict(value)
    got_page = _int(p.get("page"), minimum=1, maximum=10**6) or page
    pages = _int(p.get("pages"), minimum=0, maximum=10**6)
    items = _int(p.get("items"), minimum=0, maximum=10**9)
    got_per_page = _int(p.get("per_page"), minimum=1, maximum=1000) or per_page
    return Pagination(
        page=got_page,
        pages=pages if pages is not None else got_page,
        per_page=got_per_page,
        items=items if items is not None else count,
    )


def _rating(value: object) -> Decimal | None:
    rating = _decimal(value)
    return rating if rating is not None and rating <= 100 else None


def parse_release(body: Mapping[str, Any], currency: str, release_id: int) -> Release:
    thumb, cover = _images(body)
    lowest = _decimal(body.get("lowest_price"))
    return Release(
        id=_id(body.get("id")) or release_id,
        title=_str(body.get("title")) or "",
        artists=_artists(body.get("artists")),
        year=_year(body.get("year")),
        formats=_formats(body.get("formats")),
        thumb=thumb,
        cover=cover,
        lowest_price=Money(lowest, currency) if lowest is not None else None,
        num_for_sale=_int(body.get("num_for_sale"), maximum=10**9),
        uri=_url(body.get("uri")),
        master_id=_id(body.get("master_id")),
    )


def parse_master(body: Mapping[str, Any], currency: str, master_id: int) -> Master:
    thumb, cover = _images(body)
    lowest = _decimal(body.get("lowest_price"))
    return Master(
        id=_id(body.get("id")) or master_id,
        title=_str(body.get("title")) or "",
        artists=_artists(body.get("artists")),
        year=_year(body.get("year")),
        main_release=_id(body.get("main_release")),
        thumb=thumb,
        cover=cover,
        lowest_price=Money(lowest, currency) if lowest is not None else None,
        num_for_sale=_int(body.get("num_for_sale"), maximum=10**9),
        uri=_url(body.get("uri")),
    )


def parse_listing(body: Mapping[str, Any], listing_id: int) -> MarketListing:
    seller = _dict(body.get("seller"))
    stats = _dict(seller.get("stats"))
    release = _dict(body.get("release"))
    return MarketListing(
        id=_id(body.get("id")) or listing_id,
        status=_str(body.get("status"), 40),
        condition=_str(body.get("condition"), 60),
        sleeve_condition=_str(body.get("sleeve_condition"), 60),
        ships_from=_str(body.get("ships_from"), 80),
        price=_money(body.get("price")),
        original_price=_money(body.get("original_price")),
        shipping_price=_money(body.get("shipping_price")),
        seller=Seller(
            username=_str(seller.get("username"), 64),
            rating=_rating(stats.get("rating")),
            total=_int(stats.get("total"), maximum=10**9),
        ),
        uri=_url(body.get("uri")),
        release_id=_id(release.get("id")),
        release_title=_str(release.get("title")) or _str(release.get("description")),
    )


def _want(entry: object) -> WantItem | None:
    entry = _dict(entry)
    info = _dict(entry.get("basic_information"))
    release_id = _id(info.get("id")) or _id(entry.get("id"))
    if release_id is None:
        return None
    thumb = _url(info.get("thumb")) or _url(info.get("cover_image"))
    return WantItem(
        release_id=release_id,
        title=_str(info.get("title")) or "",
        artists=_artists(info.get("artists")),
        year=_year(info.get("year")),
        formats=_formats(info.get("formats")),
        thumb=thumb,
        master_id=_id(info.get("master_id")),
        notes=_str(entry.get("notes"), 1000),
        date_added=_str(entry.get("date_added"), 40),
    )


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP-date), clamped; None if absent."""
    if not value or len(value) > 64:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when is None or when.tzinfo is None:
            return None
        seconds = when.timestamp() - time.time()
    if not math.isfinite(seconds):
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def _header_int(headers: Mapping[str, str], name: str) -> int | None:
    return _int(headers.get(name), maximum=10**6)


# ---------------------------------------------------------------------------------- client


class DiscogsClient:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        settings: Settings,
        limiter: PriorityRateLimiter,
        *,
        max_retries: int = 4,
        backoff_base: float = 1.0,
        backoff_max: float = 60.0,
        timeout_seconds: float = 20.0,
        release_ttl_seconds: float = 6 * 3600.0,
        release_cache_size: int = 4096,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self._session = session
        self._limiter = limiter
        self._base = settings.discogs_api_base.rstrip("/")
        self._headers = {
            "User-Agent": settings.discogs_user_agent,
            "Accept": "application/json",
        }
        if settings.discogs_token is not None:
            token = settings.discogs_token.get_secret_value()
            self._headers["Authorization"] = f"Discogs token={token}"
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._ttl = release_ttl_seconds
        self._cache_size = release_cache_size
        self._cache: OrderedDict[tuple[int, str], tuple[float, Release]] = OrderedDict()
        self._clock = clock
        self._sleep = sleep
        self._rng = rng

    @property
    def limiter(self) -> PriorityRateLimiter:
        """The process-wide limiter (``/admin discogs`` and ``/wanted check`` read it)."""
        return self._limiter

    # ------------------------------------------------------------------------- endpoints

    async def release(
        self, release_id: int, currency: str = "USD", *, priority: Priority = Priority.POLL
    ) -> Release:
        """Release metadata (cached for ``release_ttl_seconds``; it rarely changes)."""
        release_id = _check_id(release_id)
        currency = _check_currency(currency)
        key = (release_id, currency)
        hit = self._cache.get(key)
        if hit is not None and self._clock() - hit[0] < self._ttl:
            self._cache.move_to_end(key)
            return hit[1]
        body = await self._get(f"/releases/{release_id}", {"curr_abbr": currency}, priority)
        release = parse_release(body, currency, release_id)
        self._cache[key] = (self._clock(), release)
        self._cache.move_to_end(key)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return release

    async def master(
        self, master_id: int, currency: str = "USD", *, priority: Priority = Priority.POLL
    ) -> Master:
        master_id = _check_id(master_id)
        currency = _check_currency(currency)
        body = await self._get(f"/masters/{master_id}", {"curr_abbr": currency}, priority)
        return parse_master(body, currency, master_id)

    async def master_versions(
        self,
        master_id: int,
        page: int = 1,
        per_page: int = 100,
        *,
        priority: Priority = Priority.POLL,
    ) -> MasterVersions:
        master_id = _check_id(master_id)
        page, per_page = _check_page(page, per_page)
        body = await self._get(
            f"/masters/{master_id}/versions", {"page": page, "per_page": per_page}, priority
        )
        items = []
        for entry in _list(body.get("versions"))[:per_page]:
            entry = _dict(entry)
            version_id = _id(entry.get("id"))
            if version_id is None:
                continue
            items.append(
                MasterVersion(
                    id=version_id,
                    title=_str(entry.get("title")) or "",
                    format=_str(entry.get("format"), 200),
                    label=_str(entry.get("label"), 200),
                    country=_str(entry.get("country"), 80),
                    released=_str(entry.get("released"), 20),
                    catno=_str(entry.get("catno"), 80),
                    thumb=_url(entry.get("thumb")),
                )
            )
        pagination = _pagination(body.get("pagination"), page, per_page, len(items))
        return MasterVersions(tuple(items), pagination)

    async def stats(
        self, release_id: int, currency: str = "USD", *, priority: Priority = Priority.POLL
    ) -> MarketStats:
        """The cheap marketplace trigger: lowest price and number for sale."""
        release_id = _check_id(release_id)
        currency = _check_currency(currency)
        body = await self._get(
            f"/marketplace/stats/{release_id}", {"curr_abbr": currency}, priority
        )
        return MarketStats(
            lowest_price=_money(body.get("lowest_price")),
            num_for_sale=_int(body.get("num_for_sale"), maximum=10**9),
            blocked_from_sale=body.get("blocked_from_sale") is True,
        )

    async def price_suggestions(
        self, release_id: int, *, priority: Priority = Priority.POLL
    ) -> dict[str, Money]:
        """Suggested price per media grade (token owner's currency); unknown grades dropped."""
        release_id = _check_id(release_id)
        body = await self._get(f"/marketplace/price_suggestions/{release_id}", None, priority)
        out = {}
        for grade in MEDIA_GRADES:
            money = _money(body.get(grade))
            if money is not None:
                out[grade] = money
        return out

    async def listing(
        self, listing_id: int, currency: str | None = None, *, priority: Priority = Priority.LISTING
    ) -> MarketListing:
        listing_id = _check_id(listing_id)
        params = {"curr_abbr": _check_currency(currency)} if currency else None
        body = await self._get(f"/marketplace/listings/{listing_id}", params, priority)
        return parse_listing(body, listing_id)

    async def wantlist(
        self,
        username: str,
        page: int = 1,
        per_page: int = 100,
        *,
        priority: Priority = Priority.IMPORT,
    ) -> Wantlist:
        if not isinstance(username, str) or not _USERNAME.match(username):
            raise ValueError("not a Discogs username")
        page, per_page = _check_page(page, per_page)
        body = await self._get(
            f"/users/{quote(username, safe='')}/wants",
            {"page": page, "per_page": per_page},
            priority,
        )
        items = [w for w in (_want(e) for e in _list(body.get("wants"))[:per_page]) if w]
        pagination = _pagination(body.get("pagination"), page, per_page, len(items))
        return Wantlist(tuple(items), pagination)

    # ------------------------------------------------------------------------- transport

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with (equal) jitter: half fixed, half random."""
        delay = min(self.backoff_max, self.backoff_base * (2**attempt))
        return delay / 2 + self._rng() * delay / 2

    async def _get(
        self, path: str, params: Mapping[str, Any] | None, priority: Priority
    ) -> Mapping[str, Any]:
        url = self._base + path
        last_problem = "no attempt"
        for attempt in range(self.max_retries + 1):
            status: int | None = None
            retry_after: float | None = None
            raw: bytes | None = None
            async with self._limiter.slot(priority):
                try:
                    async with self._session.get(
                        url, params=params, headers=self._headers, timeout=self._timeout
                    ) as resp:
                        self._observe(resp.headers)
                        status = resp.status
                        retry_after = _retry_after(resp.headers.get("Retry-After"))
                        if status == 200:
                            raw = await _read_capped(resp)
                except (aiohttp.ClientError, TimeoutError) as exc:
                    last_problem = f"{type(exc).__name__}"
                except _TooLarge:
                    raise DiscogsUnavailable(f"{path}: response too large") from None
            if status == 200 and raw is not None:
                try:
                    body = json.loads(raw)
                except ValueError:
                    raise DiscogsUnavailable(f"{path}: response is not JSON") from None
                if not isinstance(body, dict):
                    raise DiscogsUnavailable(f"{path}: response is not an object")
                return body
            if status == 404:
                raise DiscogsNotFound(path)
            if status in (401, 403):
                raise DiscogsAuthError(f"{path}: HTTP {status}")
            if status is not None and status != 429 and status < 500:
                raise DiscogsError(f"{path}: HTTP {status}")
            if status is not None:
                last_problem = f"HTTP {status}"
            if attempt == self.max_retries:
                break
            if status == 429:
                # The limit is per IP: everyone waits, not just this request.
                self._limiter.penalise(
                    retry_after if retry_after is not None else self._backoff(attempt)
                )
            else:
                await self._sleep(self._backoff(attempt))
        raise DiscogsUnavailable(f"{path}: {last_problem} after {self.max_retries + 1} attempts")

    def _observe(self, headers: Mapping[str, str]) -> None:
        remaining = _header_int(headers, "X-Discogs-Ratelimit-Remaining")
        used = _header_int(headers, "X-Discogs-Ratelimit-Used")
        limit = _header_int(headers, "X-Discogs-Ratelimit")
        if remaining is not None or used is not None:
            self._limiter.update_from_headers(remaining, used, limit)


class _TooLarge(Exception):
    pass


async def _read_capped(resp: aiohttp.ClientResponse) -> bytes:
    if resp.content_length is not None and resp.content_length > MAX_BODY_BYTES:
        raise _TooLarge
    chunks = []
    size = 0
    async for chunk in resp.content.iter_chunked(65536):
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _check_id(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError("Discogs ids are positive integers")
    return value


def _check_currency(value: str) -> str:
    currency = value.upper() if isinstance(value, str) else ""
    if currency not in CURRENCIES:
        raise ValueError(f"unsupported currency {value!r}")
    return currency


def _check_page(page: int, per_page: int) -> tuple[int, int]:
    if isinstance(page, bool) or not isinstance(page, int) or page < 1:
        raise ValueError("page starts at 1")
    return page, max(1, min(int(per_page), 100))
