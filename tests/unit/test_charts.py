"""The price-history chart: a bounded PNG with price steps, the target line and the lowest price."""

from __future__ import annotations

import asyncio
import struct
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import matplotlib
from matplotlib.lines import Line2D

from bot.charts import DPI, HEIGHT_IN, WIDTH_IN, PricePoint, build_figure, price_history_png

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def size_of(png: bytes) -> tuple[int, int]:
    assert png[:8] == PNG_MAGIC
    width, height = struct.unpack(">II", png[16:24])  # the IHDR chunk comes first
    return width, height


def points(*prices: str | None) -> list[PricePoint]:
    start = NOW - timedelta(days=len(prices))
    return [
        PricePoint(start + timedelta(days=i), None if p is None else Decimal(p))
        for i, p in enumerate(prices)
    ]


def lines(fig: matplotlib.figure.Figure) -> list[Line2D]:
    return list(fig.axes[0].get_lines())


def test_the_backend_draws_no_window() -> None:
    assert matplotlib.get_backend().lower() == "agg"


def test_a_png_of_bounded_size() -> None:
    png = price_history_png(
        points("100", "90", "95"), now=NOW, currency="USD", title="Oak desk", target=Decimal(85)
    )
    assert size_of(png) == (int(WIDTH_IN * DPI), int(HEIGHT_IN * DPI))
    assert len(png) < 200_000


def test_steps_the_target_and_the_lowest_price() -> None:
    fig = build_figure(
        points("100", "90", "95"), now=NOW, currency="USD", title="Oak desk", target=Decimal(85)
    )
    price, lowest, target = lines(fig)
    assert price.get_drawstyle() == "steps-post"
    assert list(price.get_ydata()) == [100.0, 90.0, 95.0, 95.0], "the last price holds until now"
    assert list(lowest.get_ydata()) == [90.0] and lowest.get_marker() == "v"
    assert list(target.get_ydata()) == [85.0, 85.0] and target.get_linestyle() == "--"
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels == ["Price", r"Lowest: \$90.00", r"Your target: \$85.00"]
    low, high = fig.axes[0].get_ylim()
    assert low < 85 < 100 < high


def test_without_a_target_there_is_no_target_line() -> None:
    fig = build_figure(points("100", "80"), now=NOW, currency="EUR", title="x")
    assert len(lines(fig)) == 2
    assert "80.00 EUR" in fig.axes[0].get_legend().get_texts()[1].get_text()


def test_unknown_prices_are_skipped_and_no_price_at_all_says_so() -> None:
    fig = build_figure(points("100", None, "90"), now=NOW, currency="USD", title="x")
    assert list(lines(fig)[0].get_ydata()) == [100.0, 90.0, 90.0]
    empty = build_figure(points(None), now=NOW, currency="USD", title="x")
    assert lines(empty) == []
    assert [t.get_text() for t in empty.axes[0].texts] == ["No prices recorded yet"]
    assert size_of(price_history_png([], now=NOW, currency="USD", title="x"))[0] == 800


def test_one_price_still_draws_a_step() -> None:
    fig = build_figure([PricePoint(NOW, Decimal("5"))], now=NOW, currency="USD", title="x")
    xs = lines(fig)[0].get_xdata()
    assert len(xs) == 2 and xs[1] > xs[0]


def test_a_hostile_title_is_drawn_literally() -> None:
    """``$`` pairs would start mathtext (and a bad formula raises); the title is cut."""
    title = r"Desk $\frac{1}{0}$ $$ " + "x" * 200
    fig = build_figure(points("100"), now=NOW, currency="USD", title=title)
    shown = fig.axes[0].get_title(loc="left")
    assert shown.startswith(r"Desk \$\frac{1}{0}\$") and len(shown) < 100
    assert price_history_png(points("100"), now=NOW, currency="USD", title=title)[:8] == PNG_MAGIC


def test_many_points_are_bounded() -> None:
    many = [PricePoint(NOW - timedelta(hours=i), Decimal(100 + i % 7)) for i in range(5000, 0, -1)]
    fig = build_figure(many, now=NOW, currency="USD", title="x")
    assert len(lines(fig)[0].get_ydata()) == 501  # the last 500 prices, held until now


async def test_renders_off_the_event_loop_in_parallel() -> None:
    pngs = await asyncio.gather(
        *(
            asyncio.to_thread(
                price_history_png, points("100", "90"), now=NOW, currency="USD", title=str(i)
            )
            for i in range(4)
        )
    )
    assert all(p[:8] == PNG_MAGIC for p in pngs)
