"""A local stand-in for the parts of the Discogs API the bot reads.

Serves JSON shaped like api.discogs.com from small in-code fixtures: releases (one with unicode
artists, one with hostile field types), a master with versions, marketplace stats with and
without a lowest price, price suggestions, listings and a 3-page wantlist with notes.

Like Discogs it requires a User-Agent and (here always) ``Authorization: Discogs token=...``
(401 otherwise), counts requests over its own moving 60-second window, sends
``X-Discogs-Ratelimit``/``-Used``/``-Remaining`` on every answer and answers 429 when the window
is full (with ``Retry-After`` unless ``retry_after_on_limit`` is None). Tests can inject 429s
(``inject_429``) and 500s (``inject_500``) and read every request from ``requests``.
"""

from __future__ import annotations

import copy
import json
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

TOKEN = "standin-discogs-token"
USER_AGENT = "DealScoutTests/1.0 +https://example.invalid"
OWNER = "crate_digger"
RATES = {"USD": 1.0, "EUR": 0.9, "GBP": 0.8, "JPY": 150.0, "CAD": 1.35, "AUD": 1.5}


def _artist(name: str, artist_id: int) -> dict[str, Any]:
    return {
        "name": name,
        "anv": "",
        "join": "",
        "role": "",
        "tracks": "",
        "id": artist_id,
        "resource_url": f"https://api.discogs.com/artists/{artist_id}",
    }


def _images(release_id: int) -> list[dict[str, Any]]:
    base = f"https://i.discogs.com/img/{release_id}"
    return [
        {
            "type": "primary",
            "uri": f"{base}.jpg",
            "uri150": f"{base}-150.jpg",
            "width": 600,
            "height": 600,
        }
    ]


RELEASES: dict[int, dict[str, Any]] = {
    249504: {
        "id": 249504,
        "title": "Never Gonna Give You Up",
        "year": 1987,
        "master_id": 96559,
        "artists": [_artist("Rick Astley", 72872)],
        "formats": [{"name": "Vinyl", "qty": "1", "descriptions": ['7"', "45 RPM", "Single"]}],
        "images": _images(249504),
        "thumb": "https://i.discogs.com/img/249504-150.jpg",
        "lowest_price": 0.63,
        "num_for_sale": 58,
        "uri": "https://www.discogs.com/release/249504-Rick-Astley-Never-Gonna-Give-You-Up",
    },
    249505: {
        "id": 249505,
        "title": "Never Gonna Give You Up (Extended)",
        "year": 1987,
        "master_id": 96559,
        "artists": [_artist("Rick Astley", 72872)],
        "formats": [{"name": "Vinyl", "qty": "1", "descriptions": ['12"', "33 ⅓ RPM"]}],
        "images": _images(249505),
        "lowest_price": None,
        "num_for_sale": 0,
        "uri": "https://www.discogs.com/release/249505",
    },
    5555: {
        "id": 5555,
        "title": "Post",
        "year": 1995,
        "artists": [_artist("Björk", 1), _artist("坂本龍一", 2), _artist("Sigur Rós", 3)],
        "formats": [{"name": "CD", "qty": "1", "descriptions": ["Album"]}],
        "images": _images(5555),
        "lowest_price": 4.5,
        "num_for_sale": 3,
        "uri": "https://www.discogs.com/release/5555-Björk-Post",
    },
    666: {  # hostile: wrong types, a huge title, a javascript: uri
        "id": "not-an-id",
        "title": "X" * 10_000,
        "year": "nineteen",
        "artists": "nobody",
        "formats": [{"name": 7, "descriptions": "nope"}, "junk"],
        "images": {"a": 1},
        "lowest_price": "NaN",
        "num_for_sale": True,
        "uri": "javascript:alert(1)",
    },
}

MASTERS: dict[int, dict[str, Any]] = {
    96559: {
        "id": 96559,
        "main_release": 249504,
        "most_recent_release": 249505,
        "title": "Never Gonna Give You Up",
        "year": 1987,
        "artists": [_artist("Rick Astley", 72872)],
        "images": _images(96559),
        "lowest_price": 0.63,
        "num_for_sale": 61,
        "uri": "https://www.discogs.com/master/96559-Rick-Astley-Never-Gonna-Give-You-Up",
    }
}
VERSIONS: dict[int, list[dict[str, Any]]] = {
    96559: [
        {
            "id": 249504,
            "title": "Never Gonna Give You Up",
            "format": '7", 45 RPM, Single',
            "label": "RCA",
            "country": "UK",
            "released": "1987",
            "catno": "PB 41447",
            "thumb": "https://i.discogs.com/img/249504-150.jpg",
            "status": "Accepted",
        },
        {
            "id": 249505,
            "title": "Never Gonna Give You Up (Extended)",
            "format": '12"',
            "label": "RCA",
            "country": "UK",
            "released": "1987",
            "catno": "PT 41448",
            "status": "Accepted",
        },
        {
            "id": 777001,
            "title": "Never Gonna Give You Up",
            "format": "CD, Single",
            "label": "BMG",
            "country": "Germany",
            "released": "2012",
            "catno": "88725",
            "status": "Accepted",
        },
    ]
}
STATS: dict[int, dict[str, Any]] = {
    249504: {
        "lowest_price": {"currency": "USD", "value": 0.63},
        "num_for_sale": 58,
        "blocked_from_sale": False,
    },
    249505: {"lowest_price": None, "num_for_sale": 0, "blocked_from_sale": False},
    5555: {"lowest_price": None, "num_for_sale": None, "blocked_from_sale": True},
}
SUGGESTIONS: dict[int, dict[str, Any]] = {
    249504: {
        "Mint (M)": {"currency": "USD", "value": 14.7},
        "Near Mint (NM or M-)": {"currency": "USD", "value": 12.1},
        "Very Good Plus (VG+)": {"currency": "USD", "value": 8.25},
        "Very Good (VG)": {"currency": "USD", "value": 4.5},
        "Good Plus (G+)": {"currency": "USD", "value": 2.0},
        "Good (G)": {"currency": "USD", "value": 1.2},
        "Fair (F)": {"currency": "USD", "value": 0.8},
        "Poor (P)": {"currency": "USD", "value": 0.5},
        "Haunted (H)": {"currency": "USD", "value": 999},
    }
}
LISTINGS: dict[int, dict[str, Any]] = {
    172723812: {
        "id": 172723812,
        "status": "For Sale",
        "condition": "Very Good Plus (VG+)",
        "sleeve_condition": "Very Good (VG)",
        "ships_from": "Germany",
        "price": {"currency": "EUR", "value": 12.5},
        "original_price": {"curr_abbr": "EUR", "curr_id": 3, "formatted": "€12.50", "value": 12.5},
        "shipping_price": {"currency": "EUR", "value": 5.0},
        "seller": {
            "username": "vinylvault",
            "id": 42,
            "stats": {"rating": "99.8", "stars": 5.0, "total": 1523},
        },
        "uri": "https://www.discogs.com/sell/item/172723812",
        "release": {
            "id": 249504,
            "description": 'Rick Astley - Never Gonna Give You Up (7")',
            "title": "Never Gonna Give You Up",
        },
    },
    172723999: {  # sleeve outside the scale, seller without stats, a price with no currency
        "id": 172723999,
        "status": "Sold",
        "condition": "Near Mint (NM or M-)",
        "sleeve_condition": "Generic",
        "ships_from": "Japan",
        "price": {"value": 30},
        "seller": {"username": "tokyo_records", "stats": None},
        "uri": "https://www.discogs.com/sell/item/172723999",
        "release": {"id": 5555},
    },
}


def _wants() -> list[dict[str, Any]]:
    wants = []
    for n in range(230):
        release_id = 300000 + n
        wants.append(
            {
                "id": release_id,
                "rating": 0,
                "date_added": "2026-01-02T03:04:05-08:00",
                "notes": f"VG+ or better, max €{10 + n}" if n % 3 == 0 else "",
                "resource_url": f"https://api.discogs.com/releases/{release_id}",
                "basic_information": {
                    "id": release_id,
                    "master_id": 96559 if n == 0 else 0,
                    "title": f"Record {n}",
                    "year": 1970 + n % 50,
                    "thumb": f"https://i.discogs.com/img/{release_id}-150.jpg",
                    "cover_image": f"https://i.discogs.com/img/{release_id}.jpg",
                    "formats": [{"name": "Vinyl", "qty": "1", "descriptions": ["LP"]}],
                    "artists": [_artist("Sigur Rós" if n == 1 else f"Artist {n}", 1000 + n)],
                },
            }
        )
    return wants


WANTS: dict[str, list[dict[str, Any]]] = {OWNER: _wants()}


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    status: int = 0


@dataclass
class DiscogsStandin:
    limit: int = 60
    retry_after_on_limit: int | None = 1
    clock: Callable[[], float] = time.monotonic
    requests: list[RecordedRequest] = field(default_factory=list)
    _window: deque[float] = field(default_factory=deque)
    _inject_500: int = 0
    _inject_429: list[int | None] = field(default_factory=list)
    _runner: web.AppRunner | None = None
    base_url: str = ""
    # Per-instance copies of the fixtures, so a test can change the market as it runs.
    releases: dict[int, dict[str, Any]] = field(default_factory=lambda: copy.deepcopy(RELEASES))
    masters: dict[int, dict[str, Any]] = field(default_factory=lambda: copy.deepcopy(MASTERS))
    stats: dict[int, dict[str, Any]] = field(default_factory=lambda: copy.deepcopy(STATS))
    suggestions: dict[int, dict[str, Any]] = field(
        default_factory=lambda: copy.deepcopy(SUGGESTIONS)
    )
    listings: dict[int, dict[str, Any]] = field(default_factory=lambda: copy.deepcopy(LISTINGS))
    wants: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: copy.deepcopy(WANTS))
    sell_pages: dict[int, tuple[int, str]] = field(default_factory=dict)  # id -> (status, html)

    # ------------------------------------------------------------------ control
    def inject_500(self, count: int = 1) -> None:
        self._inject_500 += count

    def inject_429(self, count: int = 1, retry_after: int | None = None) -> None:
        self._inject_429.extend([retry_after] * count)

    def paths(self) -> list[str]:
        return [r.path for r in self.requests]

    def count(self, prefix: str) -> int:
        """How many requests went to paths starting with ``prefix`` (e.g. "/marketplace/stats")."""
        return sum(1 for r in self.requests if r.path.startswith(prefix))

    def add_release(
        self,
        release_id: int,
        title: str,
        artist: str = "Test Artist",
        *,
        lowest_usd: float | None = None,
        num_for_sale: int = 0,
    ) -> None:
        """A release whose marketplace is ``lowest_usd`` (converted per curr_abbr) x ``num``."""
        self.releases[release_id] = {
            "id": release_id,
            "title": title,
            "artists": [_artist(artist, release_id)],
            "year": 1977,
            "formats": [{"name": "Vinyl", "qty": "1", "descriptions": ["LP", "Album"]}],
            "images": _images(release_id),
            "lowest_price": lowest_usd,
            "num_for_sale": num_for_sale,
            "uri": f"https://www.discogs.com/release/{release_id}",
        }
        self.set_market(release_id, lowest_usd, num_for_sale)

    def set_market(self, release_id: int, lowest_usd: float | None, num_for_sale: int) -> None:
        self.stats[release_id] = {
            "lowest_price": None
            if lowest_usd is None
            else {"currency": "USD", "value": lowest_usd},
            "num_for_sale": num_for_sale,
            "blocked_from_sale": False,
        }
        if release_id in self.releases:
            self.releases[release_id]["lowest_price"] = lowest_usd
            self.releases[release_id]["num_for_sale"] = num_for_sale

    async def start(self) -> DiscogsStandin:
        app = web.Application(middlewares=[self._middleware])
        app.router.add_get("/releases/{id}", self._release)
        app.router.add_get("/masters/{id}", self._master)
        app.router.add_get("/masters/{id}/versions", self._versions)
        app.router.add_get("/marketplace/stats/{id}", self._stats)
        app.router.add_get("/marketplace/price_suggestions/{id}", self._suggestions)
        app.router.add_get("/marketplace/listings/{id}", self._listing)
        app.router.add_get("/users/{username}/wants", self._wants)
        app.router.add_get("/sell/release/{id}", self._sell_page)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}"
        return self

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> DiscogsStandin:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ------------------------------------------------------------------ plumbing
    def _error(self, status: int, message: str, **headers: str) -> web.Response:
        return web.json_response({"message": message}, status=status, headers=headers)

    def _ratelimit_headers(self) -> dict[str, str]:
        used = len(self._window)
        return {
            "X-Discogs-Ratelimit": str(self.limit),
            "X-Discogs-Ratelimit-Used": str(used),
            "X-Discogs-Ratelimit-Remaining": str(max(0, self.limit - used)),
        }

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        record = RecordedRequest(
            request.method, request.path, dict(request.query), dict(request.headers)
        )
        self.requests.append(record)
        response = await self._answer(request, handler)
        record.status = response.status
        return response

    async def _answer(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if not request.headers.get("User-Agent", "").strip():
            return self._error(401, "A User-Agent is required.")
        if request.path.startswith("/sell/"):
            return await handler(request)  # the website: no token, not counted by the API limit
        if request.headers.get("Authorization") != f"Discogs token={TOKEN}":
            return self._error(401, "You must authenticate to access this resource.")
        now = self.clock()
        while self._window and now - self._window[0] >= 60:
            self._window.popleft()
        if self._inject_429:
            retry_after = self._inject_429.pop(0)
            extra = {"Retry-After": str(retry_after)} if retry_after is not None else {}
            return self._error(
                429, "You are making requests too quickly.", **extra, **self._ratelimit_headers()
            )
        if len(self._window) >= self.limit:
            extra = (
                {"Retry-After": str(self.retry_after_on_limit)}
                if self.retry_after_on_limit is not None
                else {}
            )
            return self._error(
                429, "You are making requests too quickly.", **extra, **self._ratelimit_headers()
            )
        self._window.append(now)
        if self._inject_500:
            self._inject_500 -= 1
            return self._error(500, "Internal server error", **self._ratelimit_headers())
        try:
            response = await handler(request)
        except web.HTTPNotFound:
            response = self._error(404, "Resource not found.")
        response.headers.update(self._ratelimit_headers())
        return response

    @staticmethod
    def _id(request: web.Request) -> int:
        try:
            return int(request.match_info["id"])
        except ValueError:
            raise web.HTTPNotFound() from None

    @staticmethod
    def _page(request: web.Request) -> tuple[int, int]:
        page = max(1, int(request.query.get("page", "1")))
        per_page = min(100, max(1, int(request.query.get("per_page", "50"))))
        return page, per_page

    def _paginate(self, request: web.Request, items: list[Any]) -> tuple[list[Any], dict[str, Any]]:
        page, per_page = self._page(request)
        pages = max(1, -(-len(items) // per_page))
        urls = {}
        base = f"{self.base_url}{request.path}?per_page={per_page}"
        if page < pages:
            urls = {"next": f"{base}&page={page + 1}", "last": f"{base}&page={pages}"}
        pagination = {
            "page": page,
            "pages": pages,
            "per_page": per_page,
            "items": len(items),
            "urls": urls,
        }
        return items[(page - 1) * per_page : page * per_page], pagination

    def _priced(self, body: dict[str, Any], request: web.Request) -> dict[str, Any]:
        currency = request.query.get("curr_abbr", "USD")
        rate = RATES.get(currency, 1.0)
        body = dict(body)
        if isinstance(body.get("lowest_price"), int | float):
            body["lowest_price"] = round(body["lowest_price"] * rate, 2)
        return body

    # ------------------------------------------------------------------ endpoints
    async def _release(self, request: web.Request) -> web.Response:
        body = self.releases.get(self._id(request))
        if body is None:
            raise web.HTTPNotFound()
        return web.json_response(self._priced(body, request), dumps=_dumps)

    async def _master(self, request: web.Request) -> web.Response:
        body = self.masters.get(self._id(request))
        if body is None:
            raise web.HTTPNotFound()
        return web.json_response(self._priced(body, request), dumps=_dumps)

    async def _versions(self, request: web.Request) -> web.Response:
        versions = VERSIONS.get(self._id(request))
        if versions is None:
            raise web.HTTPNotFound()
        items, pagination = self._paginate(request, versions)
        return web.json_response({"pagination": pagination, "versions": items}, dumps=_dumps)

    async def _stats(self, request: web.Request) -> web.Response:
        release_id = self._id(request)
        if release_id not in self.releases:
            raise web.HTTPNotFound()
        body = copy.deepcopy(
            self.stats.get(
                release_id, {"lowest_price": None, "num_for_sale": 0, "blocked_from_sale": False}
            )
        )
        lowest = body.get("lowest_price")
        currency = request.query.get("curr_abbr", "USD")
        if isinstance(lowest, dict) and isinstance(lowest.get("value"), int | float):
            rate = RATES.get(currency, 1.0) / RATES.get(str(lowest.get("currency")), 1.0)
            body["lowest_price"] = {"currency": currency, "value": round(lowest["value"] * rate, 2)}
        return web.json_response(body, dumps=_dumps)

    async def _suggestions(self, request: web.Request) -> web.Response:
        release_id = self._id(request)
        if release_id not in self.releases:
            raise web.HTTPNotFound()
        return web.json_response(self.suggestions.get(release_id, {}), dumps=_dumps)

    async def _listing(self, request: web.Request) -> web.Response:
        body = self.listings.get(self._id(request))
        if body is None:
            raise web.HTTPNotFound()
        return web.json_response(body, dumps=_dumps)

    async def _wants(self, request: web.Request) -> web.Response:
        username = request.match_info["username"]
        wants = self.wants.get(username)
        if wants is None:
            raise web.HTTPNotFound()
        items, pagination = self._paginate(request, wants)
        return web.json_response({"pagination": pagination, "wants": items}, dumps=_dumps)

    async def _sell_page(self, request: web.Request) -> web.Response:
        page = self.sell_pages.get(self._id(request))
        if page is None:
            raise web.HTTPNotFound()
        status, html = page
        return web.Response(status=status, text=html, content_type="text/html")


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)
