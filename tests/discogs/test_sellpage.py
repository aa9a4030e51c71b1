"""The Discogs sell-page adapter: parsing saved pages, and fetching from a local aiohttp server.

The rule under test everywhere: a page we could not read is never "no listings". Only a recognised
table or Discogs' explicit empty message is OK; blocks are BLOCKED; everything else is FAILED.
No test touches the network beyond 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.domain.discogs import Grade, Money, SleeveState, normalise_country
from bot.ingest.discogs_listings import (
    ListingSource,
    NoListingSource,
    SourceOffer,
    SourceResult,
    SourceStatus,
)
from bot.ingest.discogs_sellpage import (
    MAX_HTML_CHARS,
    MAX_ROWS,
    MAX_TAGS,
    SellPageSource,
    parse_sell_page,
)

FIXTURES = Path(__file__).parent / "fixtures"
USER_AGENT = "DealScoutTest/1.0 +https://example.invalid/deal-scout"


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def row(
    *,
    item_href: str = "/sell/item/101",
    media: str = "Very Good Plus (VG+)",
    sleeve: str = "Very Good (VG)",
    seller: str = "someseller",
    rating: str = "99.5%",
    ships_from: str = "Germany",
    price: str = '<span class="price" data-currency="EUR" data-pricevalue="10.00">€10.00</span>',
) -> str:
    """One listing row shaped like Discogs' markup, with every field replaceable."""
    return f"""
    <tr class="shortcut_navigable">
     <td class="item_description">
      <strong><a href="{item_href}" class="item_description_title">Artist - Title (LP)</a></strong>
      <p class="item_condition">
       <span class="mplabel">Media Condition:</span>
       <span>{media}</span><br>
       <span class="mplabel">Sleeve Condition:</span>
       <span class="item_sleeve_condition">{sleeve}</span>
      </p>
     </td>
     <td class="seller_info"><ul>
      <li><strong><a href="/seller/{seller}/profile">{seller}</a></strong></li>
      <li><strong>{rating}</strong>, <a class="section_link">10 ratings</a></li>
      <li><span class="mplabel">Ships From:</span>{ships_from}</li>
     </ul></td>
     <td class="item_price hide_mobile">{price}</td>
    </tr>"""


def page(*rows: str, title: str = "Artist - Title: Vinyl LP For Sale | Discogs") -> str:
    body = "".join(rows)
    return (
        f"<html><head><title>{title}</title></head><body><div id='pjax_container'>"
        f"<table class='table_block mpitems'><thead><tr><th>Item</th></tr></thead>"
        f"<tbody>{body}</tbody></table></div></body></html>"
    )


def only_offer(html: str, **kwargs: str) -> SourceOffer:
    result = parse_sell_page(html, **kwargs)
    assert result.status is SourceStatus.OK, result.detail
    assert len(result.offers) == 1
    return result.offers[0]


# ------------------------------------------------------------------------------ the fixtures


def test_ok_page_reads_every_row_with_a_price() -> None:
    result = parse_sell_page(fixture("sellpage_ok.html"))

    assert result.status is SourceStatus.OK and result.usable
    assert [o.listing_id for o in result.offers] == [
        3012345678,
        3012345679,
        3012345680,
        3012345682,
        3012345683,
        3012345684,
    ]
    assert result.detail == "6 offers, 1 rows skipped"


def test_ok_page_row_fields() -> None:
    first = parse_sell_page(fixture("sellpage_ok.html")).offers[0]

    assert first == SourceOffer(
        listing_id=3012345678,
        price=Money(Decimal("25.00"), "EUR"),
        media=Grade.VERY_GOOD_PLUS,
        sleeve=Grade.VERY_GOOD,
        ships_from="Germany",
        seller="vinylkeller",
        seller_rating=99.8,
        uri="https://www.discogs.com/sell/item/3012345678",
    )


def test_ok_page_prices_keep_their_own_currency() -> None:
    offers = parse_sell_page(fixture("sellpage_ok.html")).offers

    assert [(o.price.amount, o.price.currency) for o in offers] == [
        (Decimal("25.00"), "EUR"),
        (Decimal("18.50"), "USD"),
        (Decimal("30.00"), "GBP"),
        (Decimal("4500.00"), "JPY"),
        (Decimal("42.00"), "CAD"),  # text only, no data attributes
        (Decimal("1299.99"), "USD"),
    ]


def test_ok_page_sleeves_outside_the_scale() -> None:
    offers = {o.listing_id: o for o in parse_sell_page(fixture("sellpage_ok.html")).offers}

    assert offers[3012345679].sleeve is SleeveState.GENERIC
    assert offers[3012345680].sleeve is SleeveState.NOT_GRADED
    assert offers[3012345682].sleeve is SleeveState.NO_COVER
    assert offers[3012345683].sleeve is Grade.VERY_GOOD_PLUS
    assert offers[3012345680].media is Grade.MINT


def test_ok_page_seller_without_feedback_has_no_rating() -> None:
    offers = {o.listing_id: o for o in parse_sell_page(fixture("sellpage_ok.html")).offers}

    assert offers[3012345680].seller == "newbie_records"
    assert offers[3012345680].seller_rating is None


def test_ok_page_row_with_unreadable_price_is_skipped_not_guessed() -> None:
    result = parse_sell_page(fixture("sellpage_ok.html"))

    assert 3012345681 not in {o.listing_id for o in result.offers}


def test_ok_page_ships_from_folds_like_user_criteria() -> None:
    countries = [o.ships_from for o in parse_sell_page(fixture("sellpage_ok.html")).offers]

    assert [normalise_country(c or "") for c in countries] == [
        normalise_country("DE"),
        normalise_country("US"),
        normalise_country("UK"),
        normalise_country("JP"),
        normalise_country("CA"),
        normalise_country("USA"),
    ]


def test_empty_page_is_ok_with_no_offers() -> None:
    result = parse_sell_page(fixture("sellpage_empty.html"))

    assert result == SourceResult(SourceStatus.OK, (), "no items for sale")
    assert result.usable


def test_cloudflare_page_is_blocked_not_empty() -> None:
    result = parse_sell_page(fixture("sellpage_cloudflare.html"))

    assert result.status is SourceStatus.BLOCKED
    assert not result.usable and result.offers == ()
    assert "Cloudflare" in result.detail


def test_changed_layout_is_failed_not_empty() -> None:
    result = parse_sell_page(fixture("sellpage_changed_layout.html"))

    assert result == SourceResult(SourceStatus.FAILED, (), "page layout not recognised")


# ------------------------------------------------------------------------------ page kinds


@pytest.mark.parametrize(
    "html",
    [
        "<html><head><title>Attention Required! | Cloudflare</title></head><body></body></html>",
        "<html><head><title>Just a moment...</title></head><body></body></html>",
        "<html><body><div id='cf-chl-widget'></div></body></html>",
    ],
)
def test_challenge_pages_are_blocked(html: str) -> None:
    assert parse_sell_page(html).status is SourceStatus.BLOCKED


def test_release_called_just_a_moment_is_not_a_challenge() -> None:
    html = (
        "<html><head><title>Someone - Just A Moment: Vinyl For Sale | Discogs</title></head>"
        "<body><h1>Someone - Just A Moment</h1><div class='marketplace_empty'>"
        "<h2>No items for sale</h2></div></body></html>"
    )

    assert parse_sell_page(html) == SourceResult(SourceStatus.OK, (), "no items for sale")


def test_empty_phrase_inside_a_sentence_does_not_confirm_empty() -> None:
    html = "<html><body><p>Sorry, we have no items for sale here? maybe</p></body></html>"

    assert parse_sell_page(html).status is SourceStatus.FAILED


def test_empty_message_without_the_marker_class() -> None:
    html = "<html><body><h2>There are no items for sale for this release.</h2></body></html>"

    assert parse_sell_page(html) == SourceResult(SourceStatus.OK, (), "no items for sale")


def test_empty_table_with_the_empty_message_is_ok() -> None:
    html = page().replace("</table>", "</table><p>No items for sale</p>")

    assert parse_sell_page(html) == SourceResult(SourceStatus.OK, (), "no items for sale")


def test_parser_crash_is_failed_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(*args: object, **kwargs: object) -> None:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr("bot.ingest.discogs_sellpage.BeautifulSoup", explode)

    result = parse_sell_page(fixture("sellpage_ok.html"))

    assert result == SourceResult(
        SourceStatus.FAILED, (), "page could not be parsed (RecursionError)"
    )


def test_table_whose_rows_all_fail_is_failed_not_empty() -> None:
    result = parse_sell_page(page(row(price="<span class='price'>n/a</span>")))

    assert result.status is SourceStatus.FAILED
    assert result.detail == "none of 1 rows could be read"


def test_table_without_rows_is_failed() -> None:
    assert parse_sell_page(page()).status is SourceStatus.FAILED


@pytest.mark.parametrize("html", ["", "   ", "hello", "{}", "<", "<html></html>"])
def test_trivial_inputs_are_failed(html: str) -> None:
    assert parse_sell_page(html).status is SourceStatus.FAILED


def test_non_text_input_is_failed() -> None:
    assert parse_sell_page(b"<html></html>").status is SourceStatus.FAILED  # type: ignore[arg-type]


def test_huge_page_is_refused() -> None:
    huge = page(row()) + " " * MAX_HTML_CHARS

    assert parse_sell_page(huge) == SourceResult(SourceStatus.FAILED, (), "page too large")


def test_page_with_too_much_markup_is_refused() -> None:
    crowded = page(row()) + "<b></b>" * (MAX_TAGS // 2)

    assert parse_sell_page(crowded) == SourceResult(SourceStatus.FAILED, (), "page too complex")


@pytest.mark.parametrize(
    "text",
    [
        "<?xml version='1.0'?><root><a/></root>",
        "<!-- x --><?xml version='1.0'?><feed></feed>",
        "https://www.discogs.com/sell/release/1",
        "sellpage.html",
    ],
)
def test_odd_inputs_fail_without_bs4_warnings(text: str, recwarn: pytest.WarningsRecorder) -> None:
    result = parse_sell_page(text)

    assert result.status is SourceStatus.FAILED
    assert [str(w.message)[:60] for w in recwarn] == []


def test_rows_are_capped() -> None:
    rows = [row(item_href=f"/sell/item/{n}") for n in range(1, MAX_ROWS + 51)]

    result = parse_sell_page(page(*rows))

    assert result.status is SourceStatus.OK
    assert len(result.offers) == MAX_ROWS


def test_duplicate_listing_ids_are_kept_once() -> None:
    result = parse_sell_page(page(row(), row()))

    assert [o.listing_id for o in result.offers] == [101]


# ------------------------------------------------------------------------------ one row


def test_hostile_text_stays_plain_data() -> None:
    hostile = "**@everyone** <@&123> [click](https://evil.example) `x`"

    offer = only_offer(page(row(ships_from=hostile.replace("<", "&lt;"), seller="@everyone")))

    assert offer.ships_from == hostile  # plain text: escaping is the renderer's job
    assert offer.seller is None  # not a Discogs username
    assert offer.uri == "https://www.discogs.com/sell/item/101"


def test_control_and_bidi_characters_are_stripped_and_text_cut() -> None:
    sneaky = "Ger\u202emany\x00\x07" + "y" * 500

    offer = only_offer(page(row(ships_from=sneaky)))

    assert offer.ships_from is not None
    assert "\u202e" not in offer.ships_from and "\x00" not in offer.ships_from
    assert offer.ships_from.startswith("Ger many")
    assert len(offer.ships_from) <= 80


def test_item_link_on_another_host_is_not_a_listing() -> None:
    html = page(row(item_href="https://evil.example/sell/item/101"))

    assert parse_sell_page(html).status is SourceStatus.FAILED


@pytest.mark.parametrize(
    "href", ["/sell/item/101", "https://www.discogs.com/sell/item/101", "/de/sell/item/101?ev=mp"]
)
def test_item_link_forms(href: str) -> None:
    assert only_offer(page(row(item_href=href))).listing_id == 101


def test_missing_fields_are_none_not_guessed() -> None:
    html = page(
        '<tr><td class="item_description"><a href="/sell/item/7">x</a></td>'
        '<td class="item_price"><span class="price">£12.00</span></td></tr>'
    )

    offer = only_offer(html)

    assert offer == SourceOffer(
        listing_id=7,
        price=Money(Decimal("12.00"), "GBP"),
        media=None,
        sleeve=None,
        ships_from=None,
        seller=None,
        seller_rating=None,
        uri="https://www.discogs.com/sell/item/7",
    )


def test_condition_without_sleeve_span() -> None:
    html = page(
        '<tr><td class="item_description"><a href="/sell/item/8">x</a>'
        '<p class="item_condition"><span class="mplabel">Media Condition:</span>'
        "<span>Fair (F)</span></p></td>"
        '<td class="item_price"><span class="price">$3.00</span></td></tr>'
    )

    offer = only_offer(html)

    assert (offer.media, offer.sleeve) == (Grade.FAIR, None)


def test_seller_info_without_the_expected_parts() -> None:
    html = page(
        '<tr><td class="item_description"><a href="/sell/item/9">x</a></td>'
        '<td class="seller_info"><ul><li><a href="/help">Help</a></li><li>Ships soon</li>'
        '</ul></td><td class="item_price"><span class="price">$3.00</span></td></tr>'
    )

    offer = only_offer(html)

    assert (offer.seller, offer.seller_rating, offer.ships_from) == (None, None, None)


def test_seller_name_falls_back_to_the_profile_link() -> None:
    html = page(row()).replace(">someseller</a>", ">Some Shop!</a>")

    assert only_offer(html).seller == "someseller"


@pytest.mark.parametrize(
    "grade_text", ["VG+ or so", "Very Good Plus", "Excellent (EX)", "Mint", "Generic"]
)
def test_media_only_from_exact_discogs_strings(grade_text: str) -> None:
    assert only_offer(page(row(media=grade_text))).media is None


def test_comment_mentioning_a_grade_does_not_become_the_grade() -> None:
    media = "<!-- Mint (M) --> Good (G)"

    assert only_offer(page(row(media=media))).media is Grade.GOOD


def test_grade_buried_under_padding_is_not_searched_for() -> None:
    padding = "<b>lorem ipsum</b>" * 300

    assert only_offer(page(row(media=padding + "Mint (M)"))).media is None


def test_unknown_sleeve_text_is_none() -> None:
    assert only_offer(page(row(sleeve="Battered"))).sleeve is None


@pytest.mark.parametrize("rating", ["101%", "99.8", "ninety%", "-5%", "99.8%%"])
def test_odd_ratings_are_none(rating: str) -> None:
    assert only_offer(page(row(rating=rating))).seller_rating is None


@pytest.mark.parametrize(
    "price",
    [
        "<span class='price'>1.234,56 €</span>",  # locale-formatted: ambiguous
        "<span class='price'>DKK 100.00</span>",  # not a Discogs currency
        "<span class='price'>€ -5.00</span>",
        "<span class='price'>€1e3</span>",
        "<span class='price' data-currency='EUR' data-pricevalue='10.00'>$10.00</span>",
        "<span class='price' data-currency='EUR' data-pricevalue='NaN'>about</span>",
        "<span class='price' data-currency='XXX' data-pricevalue='10.00'></span>",
        "<span class='converted_price'>about €10.00 total</span>",
    ],
)
def test_unreadable_or_contradictory_prices_skip_the_row(price: str) -> None:
    assert parse_sell_page(page(row(price=price))).status is SourceStatus.FAILED


def test_price_from_data_attributes_alone() -> None:
    price = "<span class='price' data-currency='SEK' data-pricevalue='250'></span>"

    assert only_offer(page(row(price=price))).price == Money(Decimal("250.00"), "SEK")


def test_bare_amount_needs_a_currency_from_the_caller() -> None:
    html = page(row(price="<span class='price'>12.50</span>"))

    assert parse_sell_page(html).status is SourceStatus.FAILED
    assert only_offer(html, currency="eur").price == Money(Decimal("12.50"), "EUR")


# ------------------------------------------------------------------------------ never raises


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=2000))
def test_parse_never_raises_on_any_text(text: str) -> None:
    result = parse_sell_page(text)

    assert isinstance(result, SourceResult)


_FRAGMENT = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [
            "<",
            ">",
            "</td>",
            "<tr>",
            "</tbody>",
            "<span class='price'>",
            "&amp;",
            "&#0;",
            "€",
            "%",
            "/sell/item/",
            "Mint (M)",
            "<!--",
            "<script>",
            "\x00",
            "\u202e",
        ]
    ),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    media=_FRAGMENT,
    sleeve=_FRAGMENT,
    seller=_FRAGMENT,
    rating=_FRAGMENT,
    ships_from=_FRAGMENT,
    price=_FRAGMENT,
    href=_FRAGMENT,
)
def test_parse_never_raises_on_hostile_rows(
    media: str, sleeve: str, seller: str, rating: str, ships_from: str, price: str, href: str
) -> None:
    html = page(
        row(
            item_href=href,
            media=media,
            sleeve=sleeve,
            seller=seller,
            rating=rating,
            ships_from=ships_from,
            price=price,
        ),
        row(item_href="/sell/item/5"),
    )

    result = parse_sell_page(html)

    assert isinstance(result, SourceResult)
    assert result.offers == () or result.status is SourceStatus.OK
    for offer in result.offers:
        assert offer.uri == f"https://www.discogs.com/sell/item/{offer.listing_id}"
        assert offer.ships_from is None or offer.ships_from.isprintable()


# ------------------------------------------------------------------------------ interface


def test_result_with_offers_must_be_ok() -> None:
    offer = only_offer(page(row()))

    with pytest.raises(ValueError):
        SourceResult(SourceStatus.BLOCKED, (offer,))
    with pytest.raises(ValueError):
        SourceResult(SourceStatus.OK, [offer])  # type: ignore[arg-type]
    assert SourceResult(SourceStatus.OK, (offer,)).usable


@pytest.mark.parametrize(
    "status", [SourceStatus.BLOCKED, SourceStatus.FAILED, SourceStatus.DISABLED]
)
def test_only_ok_is_usable(status: SourceStatus) -> None:
    assert not SourceResult(status).usable


@pytest.mark.parametrize(
    "changes",
    [
        {"listing_id": 0},
        {"listing_id": True},
        {"seller_rating": 100.5},
        {"seller_rating": float("nan")},
        {"uri": "https://evil.example/sell/item/1"},
        {"uri": "javascript:alert(1)"},
        {"price": Decimal("1.00")},
    ],
)
def test_offer_rejects_impossible_values(changes: dict[str, object]) -> None:
    fields: dict[str, object] = {
        "listing_id": 1,
        "price": Money(Decimal("1.00"), "USD"),
        "media": None,
        "sleeve": None,
        "ships_from": None,
        "seller": None,
        "seller_rating": None,
        "uri": None,
    }
    fields.update(changes)

    with pytest.raises(ValueError):
        SourceOffer(**fields)  # type: ignore[arg-type]


async def test_no_listing_source_is_disabled_not_empty() -> None:
    source = NoListingSource()

    result = await source.offers(249504, "EUR")

    assert isinstance(source, ListingSource)
    assert result == SourceResult(SourceStatus.DISABLED, (), "sell-page adapter is off")
    assert not result.usable


# ------------------------------------------------------------------------------ fetching


@dataclass
class Hit:
    path: str
    query: dict[str, str]
    user_agent: str | None


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class SellPageServer:
    """A local stand-in for www.discogs.com/sell/release/{id}: each release id is one behaviour."""

    def __init__(self) -> None:
        self.hits: list[Hit] = []
        self.base_url = ""
        self.release_stalled = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.routes: dict[int, Handler] = {}

    async def start(self) -> SellPageServer:
        app = web.Application()
        app.router.add_get("/sell/release/{id}", self._dispatch)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.base_url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self

    async def close(self) -> None:
        self.release_stalled.set()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        self.hits.append(Hit(request.path, dict(request.query), request.headers.get("User-Agent")))
        handler = self.routes.get(int(request.match_info["id"]))
        if handler is None:
            return web.Response(status=404, text="<html>Not found</html>")
        return await handler(request)


def html_response(text: str, status: int = 200, **headers: str) -> web.Response:
    return web.Response(text=text, status=status, content_type="text/html", headers=headers)


@pytest.fixture
async def server() -> AsyncIterator[SellPageServer]:
    srv = await SellPageServer().start()
    try:
        yield srv
    finally:
        await srv.close()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


def source(
    server: SellPageServer, session: aiohttp.ClientSession, **kwargs: float
) -> SellPageSource:
    return SellPageSource(session, base_url=server.base_url, user_agent=USER_AGENT, **kwargs)


def serve(server: SellPageServer, release_id: int, handler: Handler) -> None:
    server.routes[release_id] = handler


async def test_fetch_ok_page(server: SellPageServer, session: aiohttp.ClientSession) -> None:
    async def ok(request: web.Request) -> web.Response:
        return html_response(fixture("sellpage_ok.html"))

    serve(server, 249504, ok)
    result = await source(server, session).offers(249504, "eur")

    assert result.status is SourceStatus.OK
    assert len(result.offers) == 6
    assert server.hits == [
        Hit(
            "/sell/release/249504", {"curr": "EUR", "sort": "price,asc", "limit": "250"}, USER_AGENT
        )
    ]


async def test_fetch_empty_page(server: SellPageServer, session: aiohttp.ClientSession) -> None:
    async def empty(request: web.Request) -> web.Response:
        return html_response(fixture("sellpage_empty.html"))

    serve(server, 1, empty)

    assert await source(server, session).offers(1, "USD") == SourceResult(
        SourceStatus.OK, (), "no items for sale"
    )


@pytest.mark.parametrize(
    ("status", "headers", "detail"),
    [
        (
            403,
            {"Server": "cloudflare", "CF-RAY": "8f1e2d3c4b5a6978-AMS"},
            "blocked by Cloudflare (HTTP 403)",
        ),
        (403, {}, "blocked (HTTP 403)"),
        (429, {"Retry-After": "60"}, "rate limited (HTTP 429)"),
        (503, {"Server": "cloudflare"}, "blocked by Cloudflare (HTTP 503)"),
    ],
)
async def test_fetch_blocking_statuses(
    server: SellPageServer,
    session: aiohttp.ClientSession,
    status: int,
    headers: dict[str, str],
    detail: str,
) -> None:
    async def blocked(request: web.Request) -> web.Response:
        return html_response(fixture("sellpage_cloudflare.html"), status, **headers)

    serve(server, 1, blocked)

    assert await source(server, session).offers(1, "EUR") == SourceResult(
        SourceStatus.BLOCKED, (), detail
    )


async def test_fetch_challenge_body_with_200_is_blocked(
    server: SellPageServer, session: aiohttp.ClientSession
) -> None:
    async def challenge(request: web.Request) -> web.Response:
        return html_response(fixture("sellpage_cloudflare.html"))

    serve(server, 1, challenge)

    result = await source(server, session).offers(1, "EUR")

    assert result.status is SourceStatus.BLOCKED and result.offers == ()


async def test_fetch_cf_mitigated_header_is_blocked(
    server: SellPageServer, session: aiohttp.ClientSession
) -> None:
    async def mitigated(request: web.Request) -> web.Response:
        return html_response(
            "<html><body>please wait</body></html>", **{"cf-mitigated": "challenge"}
        )

    serve(server, 1, mitigated)

    result = await source(server, session).offers(1, "EUR")

    assert result == SourceResult(SourceStatus.BLOCKED, (), "blocked by Cloudflare (HTTP 200)")


async def test_fetch_changed_layout_is_failed(
    server: SellPageServer, session: aiohttp.ClientSession
) -> None:
    async def changed(request: web.Request) -> web.Response:
        return html_response(fixture("sellpage_changed_layout.html"))

    serve(server, 1, changed)

    assert await source(server, session).offers(1, "EUR") == SourceResult(
        SourceStatus.FAILED, (), "page layout not recognised"
    )


@pytest.mark.parametrize(
    ("status", "detail"), [(404, "HTTP 404"), (500, "HTTP 500"), (410, "HTTP 410")]
)
async def test_fetch_other_statuses_are_failed(
    server: SellPageServer, session: aiohttp.ClientSession, status: int, detail: str
) -> None:
    async def other(request: web.Request) -> web.Response:
        return html_response(fixture("sellpage_empty.html"), status)  # an empty-looking body

    serve(server, 1, other)

    assert await source(server, session).offers(1, "EUR") == SourceResult(
        SourceStatus.FAILED, (), detail
    )


async def test_fetch_unknown_release_404_is_failed(
    server: SellPageServer, session: aiohttp.ClientSession
) -> None:
    result = await source(server, session).offers(999, "EUR")

    assert result == SourceResult(SourceStatus.FAILED, (), "HTTP 404")


async def test_fetch_timeout_before_headers(
    server: SellPageServer, session: aiohttp.ClientSession
) -> None:
    async def stall(request: web.Request) -> web.Response:
        await asyncio.wait_for(server.release_stalled.wait(), 5)
        return html_response(fixture("sellpage_ok.html"))

    serve(server, 1, stall)

    result = await source(server, session, timeout_seconds=0.3).offers(1, "EUR")

    assert result == SourceResult(SourceStatus.FAILED, (), "timed out after 0.3s")


async def test_fetch_timeout_while_reading_body(
    server: SellPageServer, session: aiohttp.ClientSession
) -> None:
    async def trickle(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/html"})
        await response.prepare(request)
        await response.write(b"<html><body><table class='mpitems'>")
        await asyncio.wait_for(server.release_stalled.wait(), 5)
        return response

    serve(server, 1, trickle)

    result = await source(server, session, timeout_seconds=0.3).offers(1, "EUR")

    assert result.status is SourceStatus.FAILED and result.detail.startswith("timed out")


async def test_fetch_oversize_with_content_length(
    server: SellPageServer, session: aiohttp.ClientSession
) -> None:
    async def big(request: web.Request) -> web.Response:
        return html_response(fixture("sellpage_ok.html") + " " * 20_000)

    serve(server, 1, big)

    result = await source(server, session, max_bytes=10_000).offers(1, "EUR")

    assert result == SourceResult(SourceStatus.FAILED, (), "page larger than 10000 bytes")


async def test_fetch_oversize_streamed_without_length(
    server: SellPageServer, session: aiohttp.ClientSession
) -> None:
    async def endless(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/html"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        for _ in range(50):
            await response.write(b"<p>" + b"x" * 4096 + b"</p>")
        await response.write_eof()
        return response

    serve(server, 1, endless)

    result = await source(server, session, max_bytes=10_000).offers(1, "EUR")

    assert result.status is SourceStatus.FAILED and "larger than" in result.detail


async def test_fetch_redirect_to_another_host_is_not_followed(
    server: SellPageServer, session: aiohttp.ClientSession
) -> None:
    port = server.base_url.rsplit(":", 1)[1]

    async def away(request: web.Request) -> web.Response:
        # "localhost" is another host name than 127.0.0.1: even locally it must not be followed.
        raise web.HTTPFound(f"http://localhost:{port}/sell/release/2?curr=EUR")

    async def target(request: web.Request) -> web.Response:
        return html_response(fixture("sellpage_ok.html"))

    serve(server, 1, away)
    serve(server, 2, target)

    result = await source(server, session).offers(1, "EUR")

    assert result == SourceResult(SourceStatus.FAILED, (), "redirected away from the Discogs site")
    assert [hit.path for hit in server.hits] == ["/sell/release/1"]


async def test_fetch_redirect_to_other_scheme_is_not_followed(
    server: SellPageServer, session: aiohttp.ClientSession
) -> None:
    async def upgrade(request: web.Request) -> web.Response:
        raise web.HTTPMovedPermanently(server.base_url.replace("http:", "https:") + "/x")

    serve(server, 1, upgrade)

    result = await source(server, session).offers(1, "EUR")

    assert result.status is SourceStatus.FAILED
    assert len(server.hits) == 1


async def test_fetch_redirect_on_same_host_is_followed(
    server: SellPageServer, session: aiohttp.ClientSession
) -> None:
    async def moved(request: web.Request) -> web.Response:
        raise web.HTTPFound("/sell/release/2?curr=EUR")

    async def target(request: web.Request) -> web.Response:
        return html_response(fixture("sellpage_ok.html"))

    serve(server, 1, moved)
    serve(server, 2, target)

    result = await source(server, session).offers(1, "EUR")

    assert result.status is SourceStatus.OK and len(result.offers) == 6
    assert [hit.path for hit in server.hits] == ["/sell/release/1", "/sell/release/2"]


async def test_fetch_redirect_loop_gives_up(
    server: SellPageServer, session: aiohttp.ClientSession
) -> None:
    async def loop(request: web.Request) -> web.Response:
        raise web.HTTPFound("/sell/release/1?curr=EUR")

    serve(server, 1, loop)

    result = await source(server, session).offers(1, "EUR")

    assert result == SourceResult(SourceStatus.FAILED, (), "too many redirects")
    assert len(server.hits) == 4


async def test_fetch_redirect_without_location_is_failed(
    server: SellPageServer, session: aiohttp.ClientSession
) -> None:
    async def nowhere(request: web.Request) -> web.Response:
        return web.Response(status=302)

    serve(server, 1, nowhere)

    result = await source(server, session).offers(1, "EUR")

    assert result == SourceResult(SourceStatus.FAILED, (), "redirect without a usable location")


async def test_fetch_bogus_charset_still_decodes(
    server: SellPageServer, session: aiohttp.ClientSession
) -> None:
    async def odd(request: web.Request) -> web.Response:
        body = fixture("sellpage_ok.html").encode("utf-8")
        return web.Response(body=body, headers={"Content-Type": "text/html; charset=rot13"})

    serve(server, 1, odd)

    result = await source(server, session).offers(1, "EUR")

    assert result.status is SourceStatus.OK
    assert result.offers[0].price == Money(Decimal("25.00"), "EUR")


async def test_fetch_connection_refused_is_failed(session: aiohttp.ClientSession) -> None:
    with socket.socket() as sock:  # a port nobody listens on once closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    sellpage = SellPageSource(session, base_url=f"http://127.0.0.1:{port}", user_agent=USER_AGENT)

    result = await sellpage.offers(1, "EUR")

    assert result.status is SourceStatus.FAILED
    assert result.detail.startswith("network error")


@pytest.mark.parametrize("release_id", [0, -1, 2**31, True, "1", 1.0])
async def test_fetch_rejects_bad_release_ids(
    server: SellPageServer, session: aiohttp.ClientSession, release_id: object
) -> None:
    with pytest.raises(ValueError):
        await source(server, session).offers(release_id, "EUR")  # type: ignore[arg-type]
    assert server.hits == []


@pytest.mark.parametrize("currency", ["XYZ", "", "EUR&x=1", None])
async def test_fetch_rejects_bad_currencies(
    server: SellPageServer, session: aiohttp.ClientSession, currency: object
) -> None:
    with pytest.raises(ValueError):
        await source(server, session).offers(1, currency)  # type: ignore[arg-type]
    assert server.hits == []


async def test_fetch_accepts_the_largest_release_id(
    server: SellPageServer, session: aiohttp.ClientSession
) -> None:
    result = await source(server, session).offers(2**31 - 1, "EUR")

    assert result.status is SourceStatus.FAILED  # 404 from the stand-in, but it was asked
    assert server.hits[0].path == f"/sell/release/{2**31 - 1}"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"base_url": "ftp://www.discogs.com"},
        {"base_url": "https://"},
        {"base_url": "https://user:pw@www.discogs.com"},
        {"user_agent": ""},
        {"user_agent": "evil\r\nX-Injected: 1"},
        {"timeout_seconds": 0},
        {"max_bytes": 0},
    ],
)
async def test_source_rejects_bad_configuration(
    session: aiohttp.ClientSession, kwargs: dict[str, object]
) -> None:
    options: dict[str, object] = {"user_agent": USER_AGENT, **kwargs}

    with pytest.raises(ValueError):
        SellPageSource(session, **options)  # type: ignore[arg-type]


async def test_sell_page_source_is_a_listing_source(session: aiohttp.ClientSession) -> None:
    sellpage = SellPageSource(session, user_agent=USER_AGENT)

    assert isinstance(sellpage, ListingSource)
    assert sellpage.name == "discogs-sellpage"
