"""A local stand-in for the web servers that publish listing feeds.

Runs a real aiohttp server on 127.0.0.1 (random port) so the feed fetcher is tested through
real sockets, not mocks. Each path is configured by the test:

* ``serve`` / ``serve_fixture``: a feed body with a strong ETag and a Last-Modified date,
  answering ``304 Not Modified`` to a matching ``If-None-Match`` (or, when no ETag is asked
  about, to an ``If-Modified-Since`` not older than the content), like a well-behaved server;
* ``update``: new content at the same path (e.g. an edited entry), with new validators;
* ``slow``: wait before answering, or ``trickle`` the body so only a total deadline helps;
* ``huge``: stream any number of bytes, with or without a Content-Length header;
* ``redirect`` / ``redirect_chain``: 3xx hops, to relative, absolute or non-http locations;
* ``fail``: any status (500, 404, ...).

Every request is recorded with its headers (``requests``), so tests can assert that the
fetcher sent its validators and never touched a URL it should have refused.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from typing import Any

from aiohttp import web

FIXTURES = Path(__file__).resolve().parents[1] / "feeds" / "fixtures"
CONTENT_TYPES = {
    ".rss": "application/rss+xml; charset=utf-8",
    ".rdf": "application/rdf+xml; charset=utf-8",
    ".atom": "application/atom+xml; charset=UTF-8",
    ".json": "application/feed+json",
    ".xml": "text/xml; charset=utf-8",
    ".html": "text/html; charset=utf-8",
}
_EPOCH = datetime(2024, 5, 2, 9, 0, 0, tzinfo=UTC)


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    status: int = 0


@dataclass
class Route:
    """What one path answers. ``kind`` is "feed", "redirect", "huge" or "status"."""

    kind: str
    body: bytes = b""
    content_type: str = CONTENT_TYPES[".rss"]
    validators: bool = True
    version: int = 0
    delay: float = 0.0
    trickle: bool = False
    location: str = ""
    status: int = 200
    size: int = 0
    declare_length: bool = False

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha256(self.body).hexdigest()[:16] + '"'

    @property
    def last_modified(self) -> datetime:
        return _EPOCH + timedelta(hours=self.version)


@dataclass
class FeedStandin:
    requests: list[RecordedRequest] = field(default_factory=list)
    routes: dict[str, Route] = field(default_factory=dict)
    base_url: str = ""
    _runner: web.AppRunner | None = None

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> FeedStandin:
        app = web.Application(middlewares=[self._record])
        app.router.add_route("*", "/{tail:.*}", self._handle)
        # handler_cancellation: a client that gives up (timeout, size cap) must not leave a
        # slow or huge handler running into the next test.
        self._runner = web.AppRunner(
            app, access_log=None, handler_cancellation=True, shutdown_timeout=0.2
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}"
        return self

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> FeedStandin:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ------------------------------------------------------------------ control
    def url(self, path: str) -> str:
        return self.base_url + path

    def serve(
        self,
        path: str,
        body: bytes | str,
        content_type: str = CONTENT_TYPES[".rss"],
        *,
        validators: bool = True,
    ) -> str:
        """Serve ``body`` at ``path`` (with ETag/Last-Modified unless ``validators=False``)."""
        data = body.encode() if isinstance(body, str) else body
        self.routes[path] = Route("feed", data, content_type, validators)
        return self.url(path)

    def serve_fixture(self, path: str, name: str, content_type: str | None = None) -> str:
        fixture = FIXTURES / name
        return self.serve(path, fixture.read_bytes(), content_type or CONTENT_TYPES[fixture.suffix])

    def update(self, path: str, body: bytes | str) -> None:
        """Change the content at ``path``; its ETag and Last-Modified change with it."""
        route = self.routes[path]
        route.body = body.encode() if isinstance(body, str) else body
        route.version += 1

    def slow(self, path: str, delay: float, *, trickle: bool = False) -> str:
        """Delay an existing route: before the headers, or (``trickle``) while sending the body."""
        route = self.routes[path]
        route.delay = delay
        route.trickle = trickle
        return self.url(path)

    def huge(self, path: str, size: int, *, declare_length: bool = False) -> str:
        self.routes[path] = Route("huge", size=size, declare_length=declare_length)
        return self.url(path)

    def redirect(self, path: str, location: str, status: int = 302) -> str:
        self.routes[path] = Route("redirect", location=location, status=status)
        return self.url(path)

    def redirect_chain(self, path: str, hops: int, final: str) -> str:
        """``path`` → ``path/1`` → ... → ``final`` in exactly ``hops`` redirects."""
        names = [path] + [f"{path}/{n}" for n in range(1, hops)]
        for here, there in zip(names, [*names[1:], final], strict=True):
            self.redirect(here, there)
        return self.url(path)

    def fail(self, path: str, status: int = 500) -> str:
        self.routes[path] = Route("status", status=status)
        return self.url(path)

    def requests_to(self, path: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path == path]

    # ------------------------------------------------------------------ serving
    @web.middleware
    async def _record(self, request: web.Request, handler: Any) -> web.StreamResponse:
        record = RecordedRequest(
            request.method, request.path, request.query_string, dict(request.headers)
        )
        self.requests.append(record)
        response = await handler(request)
        record.status = response.status
        return response

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        route = self.routes.get(request.path)
        if route is None:
            return web.Response(status=404, text="no such feed")
        if route.kind == "redirect":
            return web.Response(status=route.status, headers={"Location": route.location})
        if route.kind == "status":
            return web.Response(status=route.status, text=f"error {route.status}")
        if route.kind == "huge":
            return await self._huge(request, route)
        if route.delay and not route.trickle:
            await asyncio.sleep(route.delay)
        return await self._feed(request, route)

    async def _feed(self, request: web.Request, route: Route) -> web.StreamResponse:
        headers = {"Content-Type": route.content_type}
        if route.validators:
            headers["ETag"] = route.etag
            headers["Last-Modified"] = format_datetime(route.last_modified, usegmt=True)
            if _not_modified(request, route):
                return web.Response(status=304, headers=headers)
        if not route.trickle:
            return web.Response(body=route.body, headers=headers)
        response = web.StreamResponse(headers=headers)
        await response.prepare(request)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + route.delay
        for byte in route.body:
            await response.write(bytes([byte]))
            if loop.time() < deadline:
                await asyncio.sleep(0.05)
        await response.write_eof()
        return response

    async def _huge(self, request: web.Request, route: Route) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": CONTENT_TYPES[".rss"]})
        if route.declare_length:
            response.content_length = route.size
        await response.prepare(request)
        chunk = b"<!-- padding -->" * 4096
        sent = 0
        try:
            while sent < route.size:
                piece = chunk[: route.size - sent]
                await response.write(piece)
                sent += len(piece)
            await response.write_eof()
        except (ConnectionError, RuntimeError):
            pass  # the client hung up at its size cap, as it should
        return response


def _not_modified(request: web.Request, route: Route) -> bool:
    """RFC 9110: If-None-Match wins; If-Modified-Since is only used without it."""
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match is not None:
        tags = {t.strip() for t in if_none_match.split(",")}
        return "*" in tags or route.etag in tags
    if_modified_since = request.headers.get("If-Modified-Since")
    if if_modified_since is None:
        return False
    try:
        since = parsedate_to_datetime(if_modified_since)
    except (TypeError, ValueError):
        return False
    return since.tzinfo is not None and route.last_modified <= since
