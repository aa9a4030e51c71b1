"""Feed parsing on real-world-shaped fixtures, and the fetcher against the local feed stand-in
(real sockets, short timeouts)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.ingest.feed_fetch import (
    HTML_PAGE_ERROR,
    MAX_ITEMS,
    SUMMARY_LIMIT,
    TITLE_LIMIT,
    FeedError,
    FeedFetcher,
    FeedItem,
    parse_feed,
    validate_feed_url,
)
from tests.standins.feeds import CONTENT_TYPES, FeedStandin

FIXTURES = Path(__file__).parent / "fixtures"
USER_AGENT = "DealScoutTests/1.0 (+https://example.invalid/bot)"
RSS = CONTENT_TYPES[".rss"]


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def parse_fixture(name: str, base_url: str | None = None) -> tuple[str | None, list[FeedItem]]:
    return parse_feed(fixture(name), CONTENT_TYPES[Path(name).suffix], base_url=base_url)


def rss(*items: str, title: str = "Test feed") -> bytes:
    body = "".join(f"<item>{item}</item>" for item in items)
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>{title}</title><link>https://example.org/</link>{body}</channel></rss>"
    ).encode()


def edited_hardwareswap() -> bytes:
    """The reddit fixture after the seller edited the first post (price drop, same id)."""
    return fixture("hardwareswap.atom").replace(
        b"[USA-CA] [H] RTX 3080 FE [W] PayPal, Local Cash",
        b"[USA-CA] [H] RTX 3080 FE - price drop $350 [W] PayPal, Local Cash",
    )


def assert_clean(item: FeedItem) -> None:
    """Invariants every parsed item keeps, whatever the feed sent."""
    for text in (item.key, item.title, item.summary, item.author or ""):
        assert not any(ord(c) < 32 and c != "\n" for c in text), repr(text)
        assert not any(0x7F <= ord(c) <= 0x9F or 0x202A <= ord(c) <= 0x202E for c in text)
    assert "\n" not in item.title
    assert len(item.title) <= TITLE_LIMIT and len(item.summary) <= SUMMARY_LIMIT
    for url in (item.link, item.image_url):
        assert url is None or url.startswith(("http://", "https://"))
    for moment in (item.published, item.updated):
        assert moment is None or moment.utcoffset() is not None


# ------------------------------------------------------------------------------ fixtures


@pytest.fixture
async def server() -> AsyncIterator[FeedStandin]:
    async with FeedStandin() as standin:
        yield standin


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


@pytest.fixture
def fetcher(session: aiohttp.ClientSession) -> FeedFetcher:
    return FeedFetcher(session, USER_AGENT, allow_private=True, timeout_seconds=2.0)


# ---------------------------------------------------------------------- parsing: fixtures


def test_craigslist_rdf_prices_links_dates_and_images() -> None:
    title, items = parse_fixture("craigslist.rdf")
    assert title == 'craigslist sf bay area | for sale search "aeron"'
    assert [i.title for i in items] == [
        "Herman Miller Aeron Chair size B, fully loaded (oakland lake merritt) $350",
        "Aeron Remastered size C - graphite (SOMA / south beach) $1,100",
        "Steelcase Leap V2 (not an aeron) (palo alto) $0",
    ]
    first = items[0]
    url = "https://sfbay.craigslist.org/eby/fuo/d/oakland-herman-miller-aeron-chair/7741234567.html"
    assert first.key == url and first.link == url
    assert first.summary == (
        "Fully loaded Aeron, size B. Posture fit, adjustable arms.\n"
        "Pick up in Oakland, cash only & no holds.\n"
        "Price is firm. [...]"
    )
    assert first.published == datetime(2024, 5, 2, 15, 51, 13, tzinfo=UTC)
    assert first.image_url == "https://images.craigslist.org/00N0N_aeronB_600x450.jpg"
    assert items[1].image_url is None
    for item in items:
        assert_clean(item)


def test_hardwareswap_atom_titles_html_content_and_thumbnails() -> None:
    title, items = parse_fixture("hardwareswap.atom")
    assert title == "newest submissions : hardwareswap"
    assert [i.key for i in items] == ["t3_1cht3k9", "t3_1chs0aa", "t3_1cg00zz"]
    first = items[0]
    assert first.title == "[USA-CA] [H] RTX 3080 FE [W] PayPal, Local Cash"
    assert first.author == "/u/gpu_flipper_ca"
    assert first.link == (
        "https://www.reddit.com/r/hardwareswap/comments/1cht3k9/usaca_h_rtx_3080_fe_w_paypal_local_cash/"
    )
    assert "Asking $400 shipped or $380 local to 94110." in first.summary
    assert "Original box\nReceipt" in first.summary
    assert "<" not in first.summary and "SC_OFF" not in first.summary
    assert first.image_url == "https://b.thumbs.redditmedia.com/Xk2f9_rtx3080.jpg"
    assert first.published == first.updated == datetime(2024, 5, 1, 17, 3, 22, tzinfo=UTC)
    # No media:thumbnail: the first image in the post body is used instead.
    assert items[1].image_url == "https://i.redd.it/notathumb.png"
    assert "(SN850X, 990 Pro) < $120 shipped." in items[1].summary
    # Scripts in content are dropped, entities decoded once, offsets converted to UTC.
    assert "alert" not in items[2].summary and "script" not in items[2].summary
    assert items[2].title == "Monthly Buying Megathread & Timestamp Rules"
    assert items[2].published == datetime(2024, 5, 1, 6, 59, 59, tzinfo=UTC)
    for item in items:
        assert_clean(item)


def test_json_feed_items_fields_and_fallbacks() -> None:
    title, items = parse_fixture("listings.json", base_url="https://cameras.example.com/feed.json")
    assert title == "Camera Market — new listings"
    by_key = {i.key: i for i in items}
    assert len(items) == 5  # "not an item" and the all-empty item are skipped

    fuji = by_key["listing-88213"]
    assert fuji.title == "Fujifilm X100V silver — €1,150"
    assert fuji.summary == "Shutter count 4,200. Comes with lens hood.\nShips from Lyon."
    assert fuji.published == datetime(2024, 5, 2, 8, 15, tzinfo=UTC)
    assert fuji.updated == datetime(2024, 5, 2, 11, 0, tzinfo=UTC)
    assert fuji.author == "lyon_shooter"
    assert fuji.image_url == "https://cdn.cameras.example.com/88213/main.jpg"

    leica = by_key["88214"]  # numeric id (JSON Feed 1.0 style), 1.0 "author" object
    assert leica.summary == "Recently CLA'd.\nMeter works.\nNo trades."
    assert leica.author == "rangefinder_rick"
    assert leica.image_url == "https://cdn.cameras.example.com/88214/front.jpg"

    untitled = by_key["listing-88215"]
    assert untitled.title == "Untitled quick post: Canon AE-1 body only, $90, works."
    assert untitled.link is None  # javascript: dropped
    assert untitled.image_url is None  # file:// dropped
    assert untitled.published is None  # "not a date"
    assert untitled.author == "Camera Market"  # inherited from the feed

    no_id = next(i for i in items if i.title.startswith("No id, no url"))
    assert no_id.key.startswith("sha256:") and no_id.link is None
    for item in items:
        assert_clean(item)


def test_rss_keys_fall_back_to_link_then_hash() -> None:
    _, items = parse_fixture("no_guid.rss", base_url="https://classifieds.example.org/rss")
    no_guid, neither, with_guid = items
    assert no_guid.key == "https://classifieds.example.org/bikes/4411"
    assert no_guid.image_url == "https://img.classifieds.example.org/4411.jpg"
    assert neither.key.startswith("sha256:") and neither.link is None
    assert neither.title == "Kids bike 16in, FREE"
    assert with_guid.key == "classifieds-4409"
    assert with_guid.link == "https://classifieds.example.org/bikes/4409"  # relative, resolved
    assert with_guid.author == "Brompton Bob"
    assert no_guid.summary == "Barely ridden. Tubeless ready."
    # Without a base URL a relative link cannot become a clickable http(s) link.
    _, unresolved = parse_fixture("no_guid.rss")
    assert unresolved[2].link is None and unresolved[2].key == "classifieds-4409"


def test_dedupe_keys_are_stable_across_fetches_and_feed_moves() -> None:
    for name in ("craigslist.rdf", "hardwareswap.atom", "listings.json", "no_guid.rss"):
        first = [i.key for i in parse_fixture(name, base_url="https://a.example/feed")[1]]
        again = [i.key for i in parse_fixture(name, base_url="https://b.example/x/y")[1]]
        assert first == again, name
        assert len(set(first)) == len(first), name
    # Atom ids are not resolved against the feed URL (feedparser would do that by default).
    moved = parse_fixture("hardwareswap.atom", base_url="https://x.example/")
    assert moved[1][0].key == "t3_1cht3k9"


def test_keys_survive_the_feed_turning_malformed() -> None:
    """One broken character sends feedparser to its loose parser, which leaves entities in
    ids; the keys of the other entries must not change (or every listing is re-announced)."""
    good = "<title>Lot &amp; more</title><guid>https://x.example/?a=1&amp;b=2</guid>"
    well_formed = parse_feed(rss(good, "<title>second</title><guid>2</guid>"), RSS)[1]
    broken = parse_feed(rss(good, "<title>second \x01</title><guid>2</guid>"), RSS)[1]
    assert [i.key for i in broken] == [i.key for i in well_formed]
    assert well_formed[0].key == "https://x.example/?a=1&b=2"
    assert broken[0].title == well_formed[0].title == "Lot & more"


def test_hash_key_changes_only_with_title_or_date() -> None:
    item = "<title>Road bike $300</title><pubDate>Wed, 01 May 2024 10:00:00 GMT</pubDate>"
    key = parse_feed(rss(item), RSS)[1][0].key
    assert parse_feed(rss(item, title="Renamed feed"), RSS)[1][0].key == key
    assert parse_feed(rss(item.replace("$300", "$250")), RSS)[1][0].key != key
    assert parse_feed(rss(item.replace("10:00", "11:00")), RSS)[1][0].key != key


def test_edited_entry_keeps_its_key() -> None:
    before = parse_fixture("hardwareswap.atom")[1][0]
    after = parse_feed(edited_hardwareswap(), CONTENT_TYPES[".atom"])[1][0]
    assert after.key == before.key
    assert after.title == "[USA-CA] [H] RTX 3080 FE - price drop $350 [W] PayPal, Local Cash"


# ------------------------------------------------------------------------ parsing: errors


def test_malformed_xml_is_a_feed_error() -> None:
    with pytest.raises(FeedError, match="malformed"):
        parse_fixture("malformed.xml")


def test_html_page_is_a_feed_error() -> None:
    with pytest.raises(FeedError) as err:
        parse_fixture("page.html")
    assert err.value.reason == HTML_PAGE_ERROR
    # Sniffed even when the server lies about the type.
    with pytest.raises(FeedError, match="HTML page"):
        parse_feed(fixture("page.html"), "application/rss+xml")


@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [
        (b"", RSS, "empty"),
        (b"  \n\t ", None, "empty"),
        (b"{not json", "application/json", "not valid JSON"),
        (b'{"version": "1", "items": []}', "application/feed+json", "not a JSON Feed"),
        (b"[1, 2, 3]", "application/json", "not a JSON Feed"),
        (b'{"version": "https://jsonfeed.org/version/1.1"}', None, "no items"),
        (b"[" * 100_000, "application/json", "not valid JSON"),
        (b"<?xml version='1.0'?><catalog><book/></catalog>", "text/xml", "not an RSS"),
        (b"just some text", "text/plain", "malformed"),
        (b"/etc/passwd", None, "malformed"),  # feedparser would open this as a file name
    ],
)
def test_not_a_feed(body: bytes, content_type: str | None, reason: str) -> None:
    with pytest.raises(FeedError, match=reason):
        parse_feed(body, content_type)


def test_broken_feed_with_salvageable_entries_is_returned() -> None:
    truncated = fixture("no_guid.rss")[:900]
    _, items = parse_feed(truncated, RSS)
    assert [i.title for i in items][:2] == ["Trek Domane AL 2, 56cm - $650", "Kids bike 16in, FREE"]


def test_valid_empty_feed_and_feed_served_as_html() -> None:
    assert parse_feed(rss(), RSS) == ("Test feed", [])
    _, items = parse_feed(fixture("no_guid.rss"), "text/html; charset=utf-8")
    assert len(items) == 3


# ---------------------------------------------------------------------- parsing: hostile


def test_hostile_strings_stay_data() -> None:
    hostile = (
        "<guid>g\x001</guid>"
        "<title><![CDATA[@everyone \x1b[31m FREE \u202egpj.exe NITRO <b>bold</b>]]></title>"
        "<link>javascript:alert(1)</link>"
        "<description>&lt;script&gt;alert(1)&lt;/script&gt;&lt;p&gt;ok @here&lt;/p&gt;"
        "</description><author>&lt;@&amp;123456789&gt;</author>"
    )
    _, items = parse_feed(rss(hostile), RSS)
    (item,) = items
    assert item.title == "@everyone [31m FREE gpj.exe NITRO bold"
    assert item.key == "g1"
    assert item.link is None
    assert item.summary == "ok @here"
    assert item.author == "<@&123456789>"  # kept as text; escaping is the renderer's job
    assert_clean(item)


@pytest.mark.parametrize(
    "link",
    [
        "javascript:alert(1)",
        "data:text/html,hi",
        "file:///etc/passwd",
        "https://paypal.com@evil.example/login",
        "https://exa mple.org/",
        "//",
        "https://",
        "http:relative",
    ],
)
def test_unsafe_links_are_dropped(link: str) -> None:
    entry = f"<title>t</title><guid>1</guid><link>{link}</link>"
    (item,) = parse_feed(rss(entry), RSS, base_url="https://feeds.example.org/x")[1]
    assert item.link is None and item.key == "1"


def test_struck_prices_stay_recognisable() -> None:
    body = (
        "&lt;p&gt;Price drop: &lt;s&gt;$300&lt;/s&gt; $250, &lt;del&gt; &lt;/del&gt;obo&lt;/p&gt;"
    )
    (item,) = parse_feed(
        rss(f"<title>t</title><guid>1</guid><description>{body}</description>"), RSS
    )[1]
    assert item.summary == "Price drop: ~~$300~~ $250, obo"


def test_hostile_json_strings_stay_data() -> None:
    _, items = parse_fixture("listings.json", base_url="https://cameras.example.com/feed.json")
    (item,) = [i for i in items if i.key == "https://cameras.example.com/l/88216"]
    assert item.title == "@everyone [31mFREE NITRO gpj.exe <script>alert(1)</script>"
    assert item.summary == "Click here @here"
    assert_clean(item)


def test_long_fields_are_cut_and_items_capped_and_deduped() -> None:
    long_title = "<title>" + "A" * 10_000 + "</title><guid>long</guid>"
    entries = [long_title] + [
        f"<title>Item {n}</title><guid>{n % (MAX_ITEMS + 50)}</guid>"
        for n in range(MAX_ITEMS + 100)
    ]
    _, items = parse_feed(rss(*entries), RSS)
    assert len(items) == MAX_ITEMS
    assert len(items[0].title) == TITLE_LIMIT and items[0].title.endswith("…")
    assert len({i.key for i in items}) == MAX_ITEMS
    huge_guid = "x" * 5000
    (item,) = parse_feed(rss(f"<title>t</title><guid>{huge_guid}</guid>"), RSS)[1]
    assert item.key.startswith("sha256:")


def test_json_feed_wrong_types_are_ignored() -> None:
    doc = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": ["not", "a", "string"],
        "items": [
            {"id": True, "url": 5, "title": {"x": 1}, "content_html": None, "authors": "me"},
            {"id": 7, "title": "ok", "date_published": 20240501, "attachments": [None, 3]},
            {"id": "lone", "title": "surrogate \ud800 here"},
        ],
    }
    title, items = parse_feed(json.dumps(doc).encode(), "application/feed+json")
    assert title is None
    assert [(i.key, i.title) for i in items] == [("7", "ok"), ("lone", "surrogate here")]
    assert items[0].published is None


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2048), st.sampled_from([None, RSS, "application/json", "text/html"]))
def test_parse_never_raises_anything_but_feed_error(body: bytes, content_type: str | None) -> None:
    try:
        _, items = parse_feed(body, content_type)
    except FeedError:
        return
    for item in items:
        assert_clean(item)


_FRAGMENTS = st.sampled_from(
    [
        "<rss version='2.0'>",
        "<channel>",
        "<item>",
        "</item>",
        "<title>",
        "</title>",
        "<guid>",
        "<link>",
        "javascript:x",
        "https://e.example/a",
        "<![CDATA[",
        "]]>",
        "&amp;",
        "&#0;",
        "&lt;b&gt;",
        "<feed xmlns='http://www.w3.org/2005/Atom'>",
        "<entry>",
        "<content type='html'>",
        "<pubDate>Wed, 31 Feb 2024 99:00:00 +9999</pubDate>",
        "<published>0000-00-00T00:00:00Z</published>",
        "<media:thumbnail url='//x'/>",
        "\x00",
        "\u202e",
        "@everyone",
    ]
)
_SCALAR = st.none() | st.booleans() | st.integers() | st.text(max_size=20)
# Shallow on purpose: recursive strategies cost more to generate than the parser costs to run.
_JSON = _SCALAR | st.lists(_SCALAR, max_size=3) | st.dictionaries(st.text(max_size=8), _SCALAR)
_JSON_VALUES = st.sampled_from(
    ["<b>x</b>", "<img src='/i.png'>", "https://e.example/a", "/rel", "2024-05-01T00:00:00Z",
     "9999-12-31T23:59:59-23:59", "\u202e\x00", "&amp;lt;", ""]
)  # fmt: skip
_JSON_ITEM = st.fixed_dictionaries(
    {},
    optional={
        k: _JSON | _JSON_VALUES
        for k in ("id", "url", "title", "content_html", "content_text", "date_published", "image")
    },
)


@settings(max_examples=100, deadline=None)
@given(st.lists(_FRAGMENTS | st.text(max_size=8), max_size=40))
def test_parse_never_raises_on_feedish_xml(parts: list[str]) -> None:
    try:
        _, items = parse_feed("".join(parts).encode("utf-8", "surrogatepass"), RSS)
    except FeedError:
        return
    for item in items:
        assert_clean(item)


@settings(max_examples=75, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_JSON_ITEM | _JSON, max_size=4), _JSON)
def test_parse_never_raises_on_json_feeds(items: list[object], title: object) -> None:
    doc = {"version": "https://jsonfeed.org/version/1.1", "title": title, "items": items}
    try:
        _, parsed = parse_feed(json.dumps(doc).encode(), "application/feed+json")
    except FeedError:
        return
    for item in parsed:
        assert_clean(item)


# ------------------------------------------------------------------------------ URLs


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("", "empty"),
        ("ftp://example.org/feed.rss", "http:// or https:// (got ftp://)"),
        ("file:///etc/passwd", "http:// or https://"),
        ("javascript:alert(1)", "http:// or https://"),
        ("example.org/feed", "http:// or https://"),
        ("https://user:pw@example.org/feed", "username or password"),
        ("https://@example.org/feed", "username or password"),
        ("https:///feed.rss", "no host"),
        ("http://", "no host"),
        ("https://example.org:99999/feed", "invalid port"),
        ("https://example.org:0/feed", "invalid port"),
        ("https://exa mple.org/feed", "spaces or control"),
        ("https://example.org/\x00", "spaces or control"),
        ("http://[::1/feed", "malformed"),
        ("https://example.org/" + "a" * 3000, "too long"),
    ],
)
def test_validate_feed_url_names_the_problem(url: str, problem: str) -> None:
    with pytest.raises(ValueError) as err:
        validate_feed_url(url)
    assert problem in str(err.value)


def test_validate_feed_url_normalises() -> None:
    assert (
        validate_feed_url("  HTTPS://Example.ORG:8443/r/HardwareSwap/new/.rss?sort=new#top ")
        == "https://example.org:8443/r/HardwareSwap/new/.rss?sort=new"
    )
    assert validate_feed_url("http://[::1]:8080/feed") == "http://[::1]:8080/feed"


# ------------------------------------------------------------------------------ fetching


async def test_fetch_ok_sends_identity_and_returns_validators(server, fetcher) -> None:
    url = server.serve_fixture("/r/hardwareswap/new/.rss", "hardwareswap.atom")
    result = await fetcher.fetch(url)
    assert result.status == "ok" and result.error is None
    assert result.feed_title == "newest submissions : hardwareswap"
    assert [i.key for i in result.items] == ["t3_1cht3k9", "t3_1chs0aa", "t3_1cg00zz"]
    assert result.etag and result.etag.startswith('"')
    assert result.last_modified == "Thu, 02 May 2024 09:00:00 GMT"
    (sent,) = server.requests
    assert sent.headers["User-Agent"] == USER_AGENT
    assert "application/atom+xml" in sent.headers["Accept"]
    assert "If-None-Match" not in sent.headers and "If-Modified-Since" not in sent.headers


async def test_conditional_get_sends_validators_and_handles_304(server, fetcher) -> None:
    url = server.serve_fixture("/search/sss", "craigslist.rdf")
    first = await fetcher.fetch(url)
    second = await fetcher.fetch(url, etag=first.etag, last_modified=first.last_modified)
    assert second.status == "not_modified"
    assert second.items == () and second.error is None
    assert (second.etag, second.last_modified) == (first.etag, first.last_modified)
    sent = server.requests[-1]
    assert sent.headers["If-None-Match"] == first.etag
    assert sent.headers["If-Modified-Since"] == first.last_modified
    assert sent.status == 304


async def test_if_modified_since_alone_gets_304(server, fetcher) -> None:
    url = server.serve_fixture("/feed.json", "listings.json")
    first = await fetcher.fetch(url)
    again = await fetcher.fetch(url, last_modified=first.last_modified)
    assert again.status == "not_modified"
    assert "If-None-Match" not in server.requests[-1].headers


async def test_changed_feed_after_304_returns_edited_entry(server, fetcher) -> None:
    url = server.serve_fixture("/r/hardwareswap/new/.rss", "hardwareswap.atom")
    first = await fetcher.fetch(url)
    server.update("/r/hardwareswap/new/.rss", edited_hardwareswap())
    second = await fetcher.fetch(url, etag=first.etag, last_modified=first.last_modified)
    assert second.status == "ok"
    assert second.etag != first.etag and second.last_modified != first.last_modified
    assert [i.key for i in second.items] == [i.key for i in first.items]
    assert second.items[0].title.startswith("[USA-CA] [H] RTX 3080 FE - price drop $350")
    assert second.items[1:] == first.items[1:]


async def test_stored_validators_with_newlines_are_not_sent(server, fetcher) -> None:
    url = server.serve_fixture("/feed.rss", "no_guid.rss")
    result = await fetcher.fetch(url, etag='"x"\r\nX-Injected: 1', last_modified="\x00")
    assert result.status == "ok"
    sent = server.requests[-1].headers
    assert "X-Injected" not in sent and "If-None-Match" not in sent
    assert "If-Modified-Since" not in sent


async def test_slow_server_times_out(server, session) -> None:
    fetcher = FeedFetcher(session, USER_AGENT, allow_private=True, timeout_seconds=0.3)
    server.serve_fixture("/slow", "no_guid.rss")
    url = server.slow("/slow", 5)
    started = time.monotonic()
    result = await fetcher.fetch(url)
    assert result.status == "error" and result.error == "timed out after 0.3 s"
    assert time.monotonic() - started < 1.5


async def test_trickling_body_hits_the_total_deadline(server, session) -> None:
    fetcher = FeedFetcher(session, USER_AGENT, allow_private=True, timeout_seconds=0.4)
    server.serve_fixture("/trickle", "craigslist.rdf")
    url = server.slow("/trickle", 5, trickle=True)
    started = time.monotonic()
    result = await fetcher.fetch(url)
    assert result.status == "error" and result.error is not None
    assert "timed out" in result.error
    assert time.monotonic() - started < 1.5


async def test_oversize_streamed_body_is_refused(server, fetcher) -> None:
    url = server.huge("/huge", 6 * 1024 * 1024)
    result = await fetcher.fetch(url)
    assert result.status == "error" and result.error == "response larger than 5 MiB"


async def test_oversize_declared_length_is_refused_early(server, session) -> None:
    fetcher = FeedFetcher(
        session, USER_AGENT, allow_private=True, timeout_seconds=2, max_bytes=64 * 1024
    )
    url = server.huge("/huge", 10 * 1024 * 1024, declare_length=True)
    result = await fetcher.fetch(url)
    assert result.error == "response larger than 64 KiB"


async def test_body_just_under_the_cap_is_read(server, session) -> None:
    body = fixture("craigslist.rdf")
    fetcher = FeedFetcher(session, USER_AGENT, allow_private=True, max_bytes=len(body))
    result = await fetcher.fetch(server.serve("/exact", body))
    assert result.status == "ok" and len(result.items) == 3


async def test_redirects_are_followed_and_relative_links_resolved(server, fetcher) -> None:
    server.serve_fixture("/bikes/feed.rss", "no_guid.rss")
    url = server.redirect("/old", "/bikes/feed.rss", status=301)
    result = await fetcher.fetch(url)
    assert result.status == "ok"
    # The Brompton's relative link resolves against the final URL, its key stays the guid.
    assert result.items[2].key == "classifieds-4409"
    assert result.items[2].link == server.url("/bikes/4409")
    assert [r.path for r in server.requests] == ["/old", "/bikes/feed.rss"]
    assert server.requests[1].headers["User-Agent"] == USER_AGENT


@pytest.mark.parametrize(
    "location", ["ftp://files.example.org/feed.rss", "file:///etc/passwd", "gopher://x/1"]
)
async def test_redirect_to_non_http_scheme_is_refused(server, fetcher, location: str) -> None:
    url = server.redirect("/moved", location)
    result = await fetcher.fetch(url)
    assert result.status == "error" and result.error is not None
    assert result.error.startswith("refused a redirect: the URL must start with http://")
    assert [r.path for r in server.requests] == ["/moved"]


async def test_redirect_with_credentials_is_refused(server, fetcher) -> None:
    url = server.redirect("/moved", "http://admin:hunter2@127.0.0.1/feed")
    result = await fetcher.fetch(url)
    assert result.error == "refused a redirect: the URL must not contain a username or password"


async def test_five_redirects_are_fine_six_are_too_many(server, fetcher) -> None:
    server.serve_fixture("/final", "no_guid.rss")
    ok = await fetcher.fetch(server.redirect_chain("/five", 5, "/final"))
    assert ok.status == "ok"
    too_many = await fetcher.fetch(server.redirect_chain("/six", 6, "/final"))
    assert too_many.status == "error" and too_many.error == "too many redirects (more than 5)"
    assert len(server.requests_to("/final")) == 1


async def test_redirect_loop_stops(server, fetcher) -> None:
    server.redirect("/a", "/b")
    server.redirect("/b", "/a")
    result = await fetcher.fetch(server.url("/a"))
    assert result.error == "too many redirects (more than 5)"
    assert len(server.requests) == 6


async def test_server_errors_report_the_status_without_the_url(server, fetcher) -> None:
    url = server.fail("/private", 500) + "?token=SECRET-TOKEN"
    result = await fetcher.fetch(url)
    assert result.status == "error"
    assert result.error == "the server answered HTTP 500 Internal Server Error"
    assert "SECRET" not in repr(result)
    missing = await fetcher.fetch(server.url("/nope"))
    assert missing.error == "the server answered HTTP 404 Not Found"


async def test_html_page_is_an_error(server, fetcher) -> None:
    result = await fetcher.fetch(server.serve_fixture("/r/hardwareswap", "page.html"))
    assert result.status == "error" and result.error == HTML_PAGE_ERROR
    assert result.items == () and result.etag is None


async def test_malformed_feed_is_an_error(server, fetcher) -> None:
    result = await fetcher.fetch(server.serve_fixture("/bad.xml", "malformed.xml"))
    assert result.status == "error" and result.error is not None
    assert "malformed" in result.error


async def test_connection_refused_is_an_error(session) -> None:
    async with FeedStandin() as gone:
        url = gone.url("/feed.rss")
    fetcher = FeedFetcher(session, USER_AGENT, allow_private=True, timeout_seconds=2)
    result = await fetcher.fetch(url)
    assert result.status == "error" and result.error is not None
    assert result.error.startswith("could not connect to the server")


async def test_invalid_url_is_an_error_without_a_request(server, fetcher) -> None:
    result = await fetcher.fetch("ftp://127.0.0.1/feed")
    assert result.status == "error" and result.error is not None
    assert "http://" in result.error
    assert server.requests == []


async def test_session_raise_for_status_does_not_leak_exceptions(server) -> None:
    async with aiohttp.ClientSession(raise_for_status=True) as strict:
        fetcher = FeedFetcher(strict, USER_AGENT, allow_private=True, timeout_seconds=2)
        url = server.serve_fixture("/feed.rss", "no_guid.rss")
        first = await fetcher.fetch(url)
        assert (await fetcher.fetch(url, etag=first.etag)).status == "not_modified"
        assert (await fetcher.fetch(server.fail("/boom", 503))).status == "error"


async def test_concurrent_fetches_share_a_session(server, fetcher) -> None:
    urls = [server.serve_fixture(f"/feed{n}.json", "listings.json") for n in range(5)]
    results = await asyncio.gather(*(fetcher.fetch(u) for u in urls))
    assert {r.status for r in results} == {"ok"}
    assert {len(r.items) for r in results} == {5}


async def test_fetcher_rejects_bad_configuration(session) -> None:
    with pytest.raises(ValueError):
        FeedFetcher(session, "bad\r\nagent")
    with pytest.raises(ValueError):
        FeedFetcher(session, USER_AGENT, allow_private=True, timeout_seconds=0)


async def test_private_and_local_hosts_are_refused_by_default(server: FeedStandin) -> None:
    async with aiohttp.ClientSession() as session:
        fetcher = FeedFetcher(session, USER_AGENT, timeout_seconds=2)
        for url in (
            server.url("/craigslist.rdf"),
            "http://169.254.169.254/latest/meta-data/",
            "http://10.0.0.1/feed",
            "http://[::1]:8080/feed",
        ):
            result = await fetcher.fetch(url)
            assert result.status == "error" and "private or local" in (result.error or ""), url
    assert server.requests == [] or all(r.path != "/craigslist.rdf" for r in server.requests)
