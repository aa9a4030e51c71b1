"""Fetch and parse listing feeds (RSS 2.0/1.0, Atom, JSON Feed) into plain, bounded items.

This is the network-and-parsing half of feed sources; storage, polling and delivery live
elsewhere. Two halves, both defensive:

* :func:`parse_feed` is pure. RSS and Atom go through feedparser (which salvages the broken XML
  real sites serve); JSON Feed, which feedparser does not know, is parsed by hand. Feeds are
  untrusted input that ends up in Discord embeds, so every string is stripped of control and
  bidi-override characters, HTML is reduced to text, links must be http(s) and fields are cut
  to a sane length. It raises nothing but :class:`FeedError`, so a poller can never be taken
  down by one hostile feed.
* :class:`FeedFetcher` does the conditional GET. URLs are typed in by server admins and
  redirects are chosen by remote servers, so both are validated (http/https only, no userinfo),
  redirects are followed by hand (at most 5) so that each hop is checked, the body is capped
  while streaming and the whole exchange has one deadline. Network trouble never raises: it
  comes back as ``FetchResult(status="error")`` with a short reason that never echoes the URL
  (private feed URLs often carry tokens in the query string).

Each item gets a stable dedupe ``key`` (guid/id, else link, else a hash of title and date) so
that a later fetch of the same feed, even an edited entry, maps onto the same listing.
"""

from __future__ import annotations

import asyncio
import hashlib
import html
import io
import ipaddress
import json
import re
import time
import warnings
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any, Literal
from urllib.parse import urljoin, urlsplit, urlunsplit

import aiohttp
import feedparser
from bs4 import BeautifulSoup, MarkupResemblesLocatorWarning, XMLParsedAsHTMLWarning

MAX_BODY_BYTES = 5 * 1024 * 1024
MAX_ITEMS = 500
MAX_REDIRECTS = 5
MAX_URL_LENGTH = 2048
TITLE_LIMIT = 300
SUMMARY_LIMIT = 4000  # fits a Discord embed description (4096)
AUTHOR_LIMIT = 200
KEY_LIMIT = 512
HTML_INPUT_LIMIT = 200_000  # characters of one HTML fragment handed to BeautifulSoup
HTML_PAGE_ERROR = "the URL returned an HTML page, not a feed"

FetchStatus = Literal["ok", "not_modified", "error"]

# C0/C1 controls except tab/newline/CR (those become plain whitespace), bidi overrides and
# isolates (they can visually reorder a price or a file name in an embed), BOMs and lone
# surrogates (JSON can smuggle those in; they break UTF-8 encoding further down).
_CONTROL = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ufeff\ud800-\udfff]"
)
_SCHEME = re.compile(r"^[a-z][a-z0-9+.\-]{0,15}$")
_HEADER_VALUE = re.compile(r"^[\x20-\x7e]{1,1024}$")
_HTML_SNIFF = re.compile(rb"<(?:!doctype\s+html|html[\s>])")
_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_BLOCK_TAGS = [
    "address",
    "article",
    "blockquote",
    "br",
    "div",
    "dl",
    "dt",
    "dd",
    "footer",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hr",
    "li",
    "ol",
    "p",
    "pre",
    "section",
    "table",
    "tr",
    "ul",
]
_STRUCK_TAGS = ["s", "strike", "del"]
_INVISIBLE_TAGS = ["script", "style", "template", "noscript", "head", "title", "iframe", "object"]
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, "
    "application/rdf+xml;q=0.9, application/json;q=0.9, application/xml;q=0.9, "
    "text/xml;q=0.9, */*;q=0.5"
)

# bs4's hints are meant for people typing into a REPL; we parse untrusted fragments on purpose
# and a summary that happens to look like a URL must not spam the logs.
warnings.filterwarnings("ignore", category=MarkupResemblesLocatorWarning)
warnings.filterwarnings("ignore", category=XMLParsedAsHTMLWarning)


# ------------------------------------------------------------------------------------ results


class FeedError(Exception):
    """The body is not a usable feed. ``reason`` is short and safe to show to an admin."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class FeedItem:
    """One listing from a feed, already cleaned: plain text, http(s) URLs, UTC datetimes."""

    key: str
    title: str
    link: str | None
    summary: str
    published: datetime | None
    updated: datetime | None
    author: str | None
    image_url: str | None


@dataclass(frozen=True, slots=True)
class FetchResult:
    """The outcome of one fetch. On ``error`` the caller should keep its stored validators."""

    status: FetchStatus
    items: tuple[FeedItem, ...]
    etag: str | None
    last_modified: str | None
    error: str | None
    feed_title: str | None


# ------------------------------------------------------------------------------ text cleaning


def _strip_controls(text: str) -> str:
    return _CONTROL.sub("", text)


def _cut(text: str, limit: int) -> str:
    """Cut to ``limit`` characters, marking the cut so a reader knows text is missing."""
    if len(text) <= limit:
        return text
    return text[: limit - 1].rstrip() + "…"


def _clean_line(value: object, limit: int) -> str:
    """A single line of display text: controls gone, whitespace collapsed, length capped."""
    if not isinstance(value, str):
        return ""
    return _cut(" ".join(_strip_controls(value[: limit * 4]).split()), limit)


def _clean_block(text: str, limit: int) -> str:
    """Multi-line text: like :func:`_clean_line` per line, keeping line breaks, no blank lines."""
    lines = (" ".join(line.split()) for line in _strip_controls(text[: limit * 4]).splitlines())
    return _cut("\n".join(line for line in lines if line), limit)


def _render_html(fragment: str) -> tuple[str, str | None]:
    """HTML → (text with line breaks at block boundaries, first real ``<img src>``).

    Struck-through text becomes ``~~text~~``. Fragments without a tag skip BeautifulSoup
    (faster, and avoids its locator heuristics) but still get their entities decoded.
    """
    if "<" not in fragment:
        return html.unescape(fragment), None
    soup = BeautifulSoup(fragment[:HTML_INPUT_LIMIT], "html.parser")
    for tag in soup.find_all(_INVISIBLE_TAGS):
        tag.decompose()
    image = _first_image(soup)
    for tag in soup.find_all(_STRUCK_TAGS):
        # "<s>$300</s> $250" is a price drop: keep the old price visibly struck (Discord
        # markdown, understood by the price extractor) instead of two equal-looking prices.
        if tag.get_text().strip():
            tag.insert_before("~~")
            tag.insert_after("~~")
    for tag in soup.find_all(_BLOCK_TAGS):
        tag.insert_before("\n")
        tag.insert_after("\n")
    return soup.get_text(), image


def _first_image(soup: BeautifulSoup) -> str | None:
    """The first ``<img>`` that is not a 1×1 tracking pixel (feedburner and friends)."""
    for img in soup.find_all("img", limit=20):
        if img.get("width") == "1" or img.get("height") == "1":
            continue
        src = img.get("src")
        if isinstance(src, str) and src.strip():
            return src
    return None


def _text(
    value: object, content_type: object, limit: int, *, block: bool
) -> tuple[str, str | None]:
    """Clean a field that may be HTML (per its declared type) → (text, first image in it)."""
    if not isinstance(value, str) or not value:
        return "", None
    image = None
    if isinstance(content_type, str) and content_type.lower() in ("text/plain", "text"):
        raw = value
    else:
        raw, image = _render_html(value)
    cleaned = _clean_block(raw, limit) if block else _clean_line(raw, limit)
    return cleaned, image


def _http_url(value: object, base_url: str | None = None) -> str | None:
    """An absolute http(s) URL (relative ones resolved against ``base_url``) or None.

    Links end up as clickable embed URLs, so ``javascript:``, ``file:`` and friends are dropped,
    and so is userinfo ("https://paypal.com@evil.example" is a phishing classic).
    """
    if not isinstance(value, str):
        return None
    text = _strip_controls(value).strip()
    if not text or len(text) > MAX_URL_LENGTH or any(c.isspace() for c in text):
        return None
    try:
        absolute = _absolute(text, base_url)
        parts = urlsplit(absolute) if absolute else None
    except ValueError:
        return None
    if parts is None or parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return None if "@" in parts.netloc else absolute


def _absolute(text: str, base_url: str | None) -> str | None:
    """Resolve a relative reference; a URL that names a scheme or ``//`` must carry its own
    host (``urljoin`` would quietly turn "https://" or "//" into the feed's own URL)."""
    parts = urlsplit(text)
    if parts.scheme or text.startswith("//"):
        if not parts.netloc:
            return None
        return text if parts.scheme else (urljoin(base_url, text) if base_url else None)
    return urljoin(base_url, text) if base_url else None


def _make_key(guid: object, link: object, title: str, published: str) -> str:
    """The dedupe key: guid/id, else the raw link, else a hash of title and date.

    Long identifiers are hashed instead of cut, so two long ids sharing a prefix never collide.
    """
    for candidate in (guid, link):
        text = " ".join(_strip_controls(candidate).split()) if isinstance(candidate, str) else ""
        if text:
            return text if len(text) <= KEY_LIMIT else _digest(text)
    return _digest(f"{title}\x00{published}")


def _digest(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()


def _fallback_title(title: str, summary: str) -> str:
    """Untitled items (JSON Feed, microblogs) get their first summary line as a headline,
    because alert matching and embeds both need one."""
    if title or not summary:
        return title
    return _clean_line(summary.split("\n", 1)[0], 120)


# --------------------------------------------------------------------------------- datetimes


def _from_struct(value: object) -> datetime | None:
    """feedparser's ``*_parsed`` (a UTC ``time.struct_time``) → aware datetime, or None."""
    if not isinstance(value, time.struct_time):
        return None
    try:
        return datetime(*value[:5], min(value.tm_sec, 59), tzinfo=UTC)
    except (ValueError, OverflowError):
        return None


def _from_rfc3339(value: object) -> datetime | None:
    """JSON Feed dates (RFC 3339) → aware UTC datetime; naive ones are taken as UTC."""
    if not isinstance(value, str) or not 8 <= len(value) <= 64:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def _iso(value: datetime | None) -> str:
    return value.isoformat() if value is not None else ""


# ------------------------------------------------------------------------------ RSS and Atom


def _get(mapping: object, key: str) -> Any:
    """Plain dict lookup: FeedParserDict's aliases (e.g. ``updated`` → ``published``) would
    silently blur fields and warn."""
    return dict.get(mapping, key) if isinstance(mapping, dict) else None


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _is_image(mime: object) -> bool:
    return isinstance(mime, str) and mime.lower().startswith("image/")


def _entry_image_candidates(entry: Mapping[str, Any]) -> Iterator[object]:
    """Image URLs an entry declares, best first: media RSS, enclosures, craigslist's enc:."""
    for thumb in _list(_get(entry, "media_thumbnail"))[:5]:
        yield _get(thumb, "url")
    for media in _list(_get(entry, "media_content"))[:5]:
        if _get(media, "medium") == "image" or _is_image(_get(media, "type")):
            yield _get(media, "url")
    for link in _list(_get(entry, "links"))[:20]:
        if _get(link, "rel") == "enclosure" and _is_image(_get(link, "type")):
            yield _get(link, "href")
    enc = _get(entry, "enc_enclosure")
    if _is_image(_get(enc, "type")):
        yield _get(enc, "resource")


def _first_url(candidates: Iterable[object], base_url: str | None) -> str | None:
    for candidate in candidates:
        url = _http_url(candidate, base_url)
        if url:
            return url
    return None


def _entry_summary(entry: Mapping[str, Any]) -> tuple[str, str | None]:
    """The short description if there is one, else the first full content block."""
    detail = _get(entry, "summary_detail")
    text, image = _text(_get(entry, "summary"), _get(detail, "type"), SUMMARY_LIMIT, block=True)
    if text:
        return text, image
    for content in _list(_get(entry, "content"))[:3]:
        text, image = _text(
            _get(content, "value"), _get(content, "type"), SUMMARY_LIMIT, block=True
        )
        if text:
            return text, image
    return "", None


def _loose_unescape(value: object) -> object:
    """Undo the entity escaping feedparser leaves on plain fields (ids, author names) when it
    falls back to its loose parser for broken XML. Without this, one bad character anywhere
    in a feed would turn the guid ``a&b`` into ``a&amp;b`` and re-announce every listing."""
    return html.unescape(value) if isinstance(value, str) and "&" in value else value


def _entry_author(entry: Mapping[str, Any]) -> str | None:
    for value in (_get(_get(entry, "author_detail"), "name"), _get(entry, "author")):
        name = _clean_line(_loose_unescape(value), AUTHOR_LIMIT)
        if name:
            return name
    return None


def _entry_to_item(entry: object, base_url: str | None) -> FeedItem | None:
    """One feedparser entry → FeedItem, or None when it carries nothing to show."""
    if not isinstance(entry, dict):
        return None
    title_type = _get(_get(entry, "title_detail"), "type")
    title, _ = _text(_get(entry, "title"), title_type, TITLE_LIMIT, block=False)
    summary, inline_image = _entry_summary(entry)
    title = _fallback_title(title, summary)
    link = _http_url(_get(entry, "link"), base_url)
    if not title and link is None:
        return None
    published = _from_struct(_get(entry, "published_parsed"))
    updated = _from_struct(_get(entry, "updated_parsed"))
    raw_date = _iso(published) or _clean_line(_get(entry, "published"), 64)
    return FeedItem(
        key=_make_key(_loose_unescape(_get(entry, "id")), _get(entry, "link"), title, raw_date),
        title=title,
        link=link,
        summary=summary,
        published=published,
        updated=updated,
        author=_entry_author(entry),
        image_url=_first_url([*_entry_image_candidates(entry), inline_image], base_url),
    )


def _media_type(content_type: str | None) -> str:
    if not isinstance(content_type, str):
        return ""
    return content_type.split(";", 1)[0].strip().lower()


def _looks_like_html(body: bytes, content_type: str | None) -> bool:
    head = body[:4096].lstrip().lower()
    if _HTML_SNIFF.search(head):
        return True
    return _media_type(content_type) in _HTML_TYPES and head.startswith(b"<")


def _explain_empty(result: Mapping[str, Any], body: bytes, content_type: str | None) -> None:
    """Raise the right FeedError for a parse with no entries, unless it is a real empty feed."""
    version = _get(result, "version")
    bozo = bool(_get(result, "bozo"))
    if version and not bozo:
        return
    if _looks_like_html(body, content_type):
        raise FeedError(HTML_PAGE_ERROR)
    if bozo:
        raise FeedError("the feed is malformed and no entries could be read from it")
    raise FeedError("the document is not an RSS, Atom or JSON feed")


def _parse_xml_feed(
    body: bytes, content_type: str | None, base_url: str | None
) -> tuple[str | None, list[FeedItem]]:
    headers = {"content-type": content_type[:200]} if isinstance(content_type, str) else {}
    # A BytesIO, never the bytes: feedparser treats a bytes argument as a *file name* first,
    # so a body like b"/etc/passwd" would read a local file. Relative URIs are resolved by us
    # (only links and images), because feedparser would also rewrite Atom ids relative to the
    # feed URL, and a moved feed would then re-announce every listing.
    result = feedparser.parse(
        io.BytesIO(body),
        response_headers=headers,
        resolve_relative_uris=False,
        sanitize_html=True,
    )
    entries = _list(_get(result, "entries"))
    if not entries:
        _explain_empty(result, body, content_type)
    feed = _get(result, "feed")
    title_type = _get(_get(feed, "title_detail"), "type")
    feed_title, _ = _text(_get(feed, "title"), title_type, TITLE_LIMIT, block=False)
    return feed_title or None, _collect(_entry_to_item(e, base_url) for e in entries)


def _collect(items: Iterable[FeedItem | None]) -> list[FeedItem]:
    """Keep the first item per key, at most MAX_ITEMS (feeds list newest first).

    Duplicates within one document would otherwise fight over the same stored listing.
    """
    seen: set[str] = set()
    out: list[FeedItem] = []
    for item in items:
        if item is None or item.key in seen:
            continue
        seen.add(item.key)
        out.append(item)
        if len(out) >= MAX_ITEMS:
            break
    return out


# --------------------------------------------------------------------------------- JSON Feed


def _load_json_feed(body: bytes) -> Mapping[str, Any]:
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError):
        raise FeedError("the feed is not valid JSON") from None
    if not isinstance(doc, dict):
        raise FeedError("the JSON document is not a JSON Feed")
    version = doc.get("version")
    if not isinstance(version, str) or "jsonfeed.org/version/" not in version:
        raise FeedError("the JSON document is not a JSON Feed (no jsonfeed.org version)")
    return doc


def _json_author(holder: Mapping[str, Any]) -> str | None:
    """JSON Feed 1.1 ``authors`` (list) or 1.0 ``author`` (object) → first name."""
    authors = [*_list(holder.get("authors"))[:5], holder.get("author")]
    for author in authors:
        name = _clean_line(_get(author, "name"), AUTHOR_LIMIT)
        if name:
            return name
    return None


def _json_id(value: object) -> str | None:
    """Ids are strings per spec, but 1.0 feeds in the wild use numbers."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    return value if isinstance(value, str) else None


def _json_images(item: Mapping[str, Any]) -> Iterator[object]:
    yield item.get("image")
    yield item.get("banner_image")
    for attachment in _list(item.get("attachments"))[:10]:
        if _is_image(_get(attachment, "mime_type")):
            yield _get(attachment, "url")


def _json_summary(item: Mapping[str, Any]) -> tuple[str, str | None]:
    """Full text first (plain, then HTML), then the optional one-line ``summary``."""
    text, _ = _text(item.get("content_text"), "text/plain", SUMMARY_LIMIT, block=True)
    if text:
        return text, None
    text, image = _text(item.get("content_html"), "text/html", SUMMARY_LIMIT, block=True)
    if text:
        return text, image
    text, _ = _text(item.get("summary"), "text/plain", SUMMARY_LIMIT, block=True)
    return text, image


def _json_item(item: object, feed_author: str | None, base_url: str | None) -> FeedItem | None:
    if not isinstance(item, dict):
        return None
    title, _ = _text(item.get("title"), "text/plain", TITLE_LIMIT, block=False)
    summary, inline_image = _json_summary(item)
    title = _fallback_title(title, summary)
    link = _http_url(item.get("url"), base_url) or _http_url(item.get("external_url"), base_url)
    if not title and link is None:
        return None
    published = _from_rfc3339(item.get("date_published"))
    return FeedItem(
        key=_make_key(_json_id(item.get("id")), item.get("url"), title, _iso(published)),
        title=title,
        link=link,
        summary=summary,
        published=published,
        updated=_from_rfc3339(item.get("date_modified")),
        author=_json_author(item) or feed_author,
        image_url=_first_url([*_json_images(item), inline_image], base_url),
    )


def _parse_json_feed(body: bytes, base_url: str | None) -> tuple[str | None, list[FeedItem]]:
    doc = _load_json_feed(body)
    items = doc.get("items")
    if not isinstance(items, list):
        raise FeedError("the JSON Feed has no items list")
    feed_author = _json_author(doc)
    feed_title = _clean_line(doc.get("title"), TITLE_LIMIT) or None
    return feed_title, _collect(_json_item(i, feed_author, base_url) for i in items)


def _is_json(body: bytes, content_type: str | None) -> bool:
    head = body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    return head == b"{" or ("json" in _media_type(content_type) and head != b"<")


# ---------------------------------------------------------------------------------- parsing


def parse_feed(
    body: bytes, content_type: str | None, *, base_url: str | None = None
) -> tuple[str | None, list[FeedItem]]:
    """Parse a feed body into ``(feed title, items)``; pure, no I/O.

    ``base_url`` (the URL the body came from) resolves relative links and images; ids are never
    resolved, so keys stay stable if the feed moves. Raises only :class:`FeedError`: for an
    empty body, an HTML page, malformed XML with nothing salvageable, invalid JSON, or a
    document that is not a feed. A valid feed with no entries returns an empty list.
    """
    try:
        data = bytes(body)
        if not data.strip():
            raise FeedError("the feed is empty")
        if _is_json(data, content_type):
            return _parse_json_feed(data, base_url)
        return _parse_xml_feed(data, content_type, base_url)
    except FeedError:
        raise
    except Exception as exc:
        # feedparser and bs4 are large parsers fed hostile input; the contract to pollers is
        # "FeedError or a result", so an unexpected parser bug is one more bad feed.
        raise FeedError("the feed could not be parsed") from exc


# --------------------------------------------------------------------------------- URLs


def validate_feed_url(url: str) -> str:
    """Check a feed URL and return it normalised (lower-case scheme and host, no fragment).

    Raises ValueError with a message that names the problem, suitable for showing to the
    admin who typed it. Only http(s) is allowed; credentials in URLs are refused because they
    would be stored and shown in plain text.
    """
    if not isinstance(url, str) or not url.strip():
        raise ValueError("the URL is empty")
    text = url.strip()
    if len(text) > MAX_URL_LENGTH:
        raise ValueError(f"the URL is too long (over {MAX_URL_LENGTH} characters)")
    if any(c.isspace() for c in text) or _CONTROL.search(text):
        raise ValueError("the URL contains spaces or control characters")
    try:
        parts = urlsplit(text)
    except ValueError:
        raise ValueError("the URL is malformed (check the host)") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        shown = f" (got {scheme}://)" if _SCHEME.match(scheme) else ""
        raise ValueError(f"the URL must start with http:// or https://{shown}")
    if "@" in parts.netloc:
        raise ValueError("the URL must not contain a username or password")
    if not (parts.hostname or "").strip("."):
        raise ValueError("the URL has no host")
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port == 0:
        raise ValueError("the URL has an invalid port")
    return urlunsplit((scheme, parts.netloc.lower(), parts.path, parts.query, ""))


# --------------------------------------------------------------------------------- fetching


class _FetchFailed(Exception):
    """Internal: a fetch ended with a reason to report (not raised to callers)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class _Response:
    status: int
    body: bytes
    content_type: str | None
    url: str
    etag: str | None
    last_modified: str | None


def _failed(reason: str) -> FetchResult:
    return FetchResult("error", (), None, None, reason, None)


def _header_value(value: object) -> str | None:
    """A validator safe to send back: printable ASCII, bounded. Stored values come from remote
    servers (via the database), so a CR/LF must never reach a request header."""
    if isinstance(value, str) and _HEADER_VALUE.match(value):
        return value
    return None


def _size(limit: int) -> str:
    """Human size for error messages: 5242880 → "5 MiB"."""
    for unit, factor in (("MiB", 1024 * 1024), ("KiB", 1024)):
        if limit >= factor and limit % factor == 0:
            return f"{limit // factor} {unit}"
    return f"{limit} bytes"


def _status_error(status: int) -> str:
    try:
        return f"the server answered HTTP {status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"the server answered HTTP {status}"


def _redirect_target(current: str, location: str | None) -> str:
    if not location:
        raise _FetchFailed("the server redirected without a Location header")
    try:
        return validate_feed_url(urljoin(current, location.strip()))
    except ValueError as exc:
        raise _FetchFailed(f"refused a redirect: {exc}") from None


PRIVATE_HOST = "the feed's host is a private or local address, which the bot does not fetch"


def _public(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    return ip.is_global and not ip.is_multicast


async def _refuse_private(url: str) -> None:
    """Fail unless every address the URL's host resolves to is public. (A name that resolves
    differently a moment later — DNS rebinding — is not covered; a resolver-level guard would
    be the next step.)"""
    host = urlsplit(url).hostname or ""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None)
    except OSError:
        raise _FetchFailed("the feed's host name does not resolve") from None
    if not infos or not all(_public(str(info[4][0])) for info in infos):
        raise _FetchFailed(PRIVATE_HOST)


class FeedFetcher:
    """Conditional GET of feed URLs with validation, manual redirects, a size cap and a deadline.

    The session is injected so the bot shares one connection pool (and tests can point it at
    a local stand-in).
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        user_agent: str,
        *,
        timeout_seconds: float = 15.0,
        max_bytes: int = MAX_BODY_BYTES,
        max_redirects: int = MAX_REDIRECTS,
        allow_private: bool = False,
    ) -> None:
        """``allow_private`` lets feeds live on loopback/private addresses (tests, or a
        deliberate in-house feed); by default they are refused, so a server admin cannot make
        the bot fetch the cloud metadata service or scan the host's ports."""
        if _header_value(user_agent) is None:
            raise ValueError("user_agent must be printable ASCII")
        if timeout_seconds <= 0 or max_bytes <= 0 or max_redirects < 0:
            raise ValueError("timeout_seconds and max_bytes must be positive, max_redirects >= 0")
        self._session = session
        self.user_agent = user_agent
        self.timeout_seconds = timeout_seconds
        self.max_bytes = max_bytes
        self.max_redirects = max_redirects
        self.allow_private = allow_private

    async def fetch(
        self, url: str, *, etag: str | None = None, last_modified: str | None = None
    ) -> FetchResult:
        """Fetch and parse ``url``. Never raises for network or feed problems.

        Send the ``etag``/``last_modified`` stored from the previous ``ok`` result; a 304 comes
        back as ``not_modified`` carrying the validators to keep.
        """
        try:
            start = validate_feed_url(url)
        except ValueError as exc:
            return _failed(str(exc))
        headers = self._headers(etag, last_modified)
        try:
            async with asyncio.timeout(self.timeout_seconds):
                response = await self._follow(start, headers)
        except TimeoutError:
            return _failed(f"timed out after {self.timeout_seconds:g} s")
        except _FetchFailed as exc:
            return _failed(exc.reason)
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            return _failed(f"could not connect to the server ({type(exc).__name__})")
        if response.status == 304:
            return FetchResult(
                "not_modified",
                (),
                response.etag or _header_value(etag),
                response.last_modified or _header_value(last_modified),
                None,
                None,
            )
        return await self._parsed(response)

    def _headers(self, etag: str | None, last_modified: str | None) -> dict[str, str]:
        headers = {"User-Agent": self.user_agent, "Accept": _ACCEPT}
        if safe_etag := _header_value(etag):
            headers["If-None-Match"] = safe_etag
        if safe_modified := _header_value(last_modified):
            headers["If-Modified-Since"] = safe_modified
        return headers

    async def _follow(self, url: str, headers: Mapping[str, str]) -> _Response:
        """GET with redirects followed by hand, so every hop is validated like the first."""
        for _hop in range(self.max_redirects + 1):
            if not self.allow_private:
                await _refuse_private(url)
            async with self._session.get(
                url, headers=headers, allow_redirects=False, raise_for_status=False
            ) as resp:
                if resp.status in _REDIRECT_STATUSES:
                    url = _redirect_target(url, resp.headers.get("Location"))
                    continue
                if resp.status != 304 and not 200 <= resp.status < 300:
                    raise _FetchFailed(_status_error(resp.status))
                body = b"" if resp.status == 304 else await self._read_capped(resp)
                return _Response(
                    status=resp.status,
                    body=body,
                    content_type=resp.headers.get("Content-Type"),
                    url=url,
                    etag=_header_value(resp.headers.get("ETag")),
                    last_modified=_header_value(resp.headers.get("Last-Modified")),
                )
        raise _FetchFailed(f"too many redirects (more than {self.max_redirects})")

    async def _read_capped(self, resp: aiohttp.ClientResponse) -> bytes:
        """Read the (decompressed) body, giving up as soon as it passes ``max_bytes``."""
        too_large = f"response larger than {_size(self.max_bytes)}"
        if resp.content_length is not None and resp.content_length > self.max_bytes:
            raise _FetchFailed(too_large)
        chunks: list[bytes] = []
        size = 0
        async for chunk in resp.content.iter_chunked(64 * 1024):
            size += len(chunk)
            if size > self.max_bytes:
                raise _FetchFailed(too_large)
            chunks.append(chunk)
        return b"".join(chunks)

    async def _parsed(self, response: _Response) -> FetchResult:
        """Parse off the event loop: a 5 MiB feed can keep feedparser busy long enough to stall
        the Discord gateway heartbeat."""
        try:
            title, items = await asyncio.to_thread(
                parse_feed, response.body, response.content_type, base_url=response.url
            )
        except FeedError as exc:
            return _failed(exc.reason)
        return FetchResult("ok", tuple(items), response.etag, response.last_modified, None, title)
