"""Price-history charts (``/watch history``): a PNG of a listing's price over time.

matplotlib with the Agg backend (no display), and only through :class:`~matplotlib.figure.Figure`
objects, never ``pyplot``'s global state. Rendering takes tens of milliseconds, so callers run
:func:`price_history_png` off the event loop (``asyncio.to_thread``); a lock renders one chart at a
time, because matplotlib's text and font caches are not thread-safe. The size is bounded: a fixed
800×400 pixel canvas and at most :data:`MAX_POINTS` prices (the most recent).

Text from users (the listing title) is drawn literally: a ``$`` never switches on mathtext.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

import matplotlib

matplotlib.use("Agg")  # before anything else of matplotlib is imported

from matplotlib import dates as mdates
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from bot.domain.listing import format_money
from bot.i18n import t

WIDTH_IN = 8.0
HEIGHT_IN = 4.0
DPI = 100
MAX_POINTS = 500
TITLE_LIMIT = 70
PRICE_COLOUR = "#2980b9"
TARGET_COLOUR = "#e67e22"
LOWEST_COLOUR = "#27ae60"

_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class PricePoint:
    at: datetime
    price: Decimal | None  # None: the listing had no price then (not drawn)


def literal(text: str) -> str:
    """``text`` drawn as typed: every ``$`` escaped, so no pair of them starts mathtext."""
    return text.replace("$", r"\$")


def _cut(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def build_figure(
    points: Sequence[PricePoint],
    *,
    now: datetime,
    currency: str,
    title: str,
    target: Decimal | None = None,
    locale: str = "en",
) -> Figure:
    """The chart: the price as steps over time (each price holds until the next, the last one
    until ``now``), the user's target as a dashed line, and the lowest price marked."""
    fig = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI, layout="constrained")
    ax = fig.add_subplot()
    ax.set_title(literal(_cut(title, TITLE_LIMIT)), loc="left", fontsize=11)
    priced = [p for p in points if p.price is not None][-MAX_POINTS:]
    if not priced:
        ax.text(
            0.5,
            0.5,
            literal(t("No prices recorded yet", locale)),
            ha="center",
            va="center",
            transform=ax.transAxes,
        )
        ax.set_xticks([])
        ax.set_yticks([])
        return fig
    xs = [p.at for p in priced]
    ys = [float(p.price) for p in priced if p.price is not None]
    end = max(now, xs[-1])
    if end - xs[0] < timedelta(minutes=1):  # one moment: give the step some width
        end = xs[0] + timedelta(minutes=1)
    ax.plot(
        mdates.date2num([*xs, end]),
        [*ys, ys[-1]],
        drawstyle="steps-post",
        color=PRICE_COLOUR,
        linewidth=2,
        label=literal(t("Price", locale)),
    )
    lowest = min(priced, key=lambda p: (p.price, p.at))
    assert lowest.price is not None
    low_label = t("Lowest: {price}", locale, price=format_money(lowest.price, currency))
    ax.plot(
        mdates.date2num([lowest.at]),
        [float(lowest.price)],
        linestyle="none",
        marker="v",
        markersize=9,
        color=LOWEST_COLOUR,
        label=literal(low_label),
    )
    if target is not None:
        target_label = t("Your target: {price}", locale, price=format_money(target, currency))
        ax.axhline(
            float(target),
            linestyle="--",
            linewidth=1.5,
            color=TARGET_COLOUR,
            label=literal(target_label),
        )
    low = min([*ys, float(target)] if target is not None else ys)
    high = max([*ys, float(target)] if target is not None else ys)
    pad = (high - low) * 0.15 or max(high * 0.1, 1.0)
    ax.set_ylim(max(0.0, low - pad), high + pad)
    ax.yaxis.set_major_formatter(
        FuncFormatter(lambda v, _pos: literal(format_money(Decimal(str(round(v, 2))), currency)))
    )
    locator = mdates.AutoDateLocator(minticks=3, maxticks=8)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.set_xlabel(literal(t("Time (UTC)", locale)))
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best", fontsize=9)
    return fig


def render_png(fig: Figure) -> bytes:
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=DPI)
    return out.getvalue()


def price_history_png(
    points: Sequence[PricePoint],
    *,
    now: datetime,
    currency: str,
    title: str,
    target: Decimal | None = None,
    locale: str = "en",
) -> bytes:
    """The chart as PNG bytes (800×400). Blocking: call it through ``asyncio.to_thread``."""
    with _lock:
        fig = build_figure(
            points, now=now, currency=currency, title=title, target=target, locale=locale
        )
        return render_png(fig)
