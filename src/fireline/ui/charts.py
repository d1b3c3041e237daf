"""Server-side SVG charts for the SLO page: pure functions from series to SVG text.

The page must be readable without JavaScript and nothing may be fetched at run time, so charts
are drawn here, on the server, as inline SVG. Every chart carries a <title> and a <desc> that say
in words what the lines show (screen readers read those), and lines differ by dash pattern as
well as colour so that they stay apart for colour-blind readers and in greyscale prints.

Series are (unix seconds, value) pairs; a NaN value or a hole longer than 2.5 steps breaks the
line instead of drawing a straight segment across missing data.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape

Point = tuple[float, float]

WIDTH = 760
HEIGHT = 300
MARGIN_LEFT = 58
MARGIN_RIGHT = 16
MARGIN_TOP = 34
MARGIN_BOTTOM = 40
# Okabe-Ito colours (distinguishable with the common colour-vision deficiencies), dark enough for
# 3:1 contrast against the white plot area.
LINE_COLOURS = ("#0b5fa5", "#b35806", "#1b7837", "#762a83", "#5e3c99", "#8c510a")
DASHES = ("", "6 3", "2 3", "8 3 2 3", "1 2", "10 4")
THRESHOLD_COLOUR = "#b2182b"
EXCLUSION_FILL = "#d9d9d9"
_TIME_STEPS = (300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 2 * 86400, 7 * 86400, 14 * 86400)


@dataclass(frozen=True)
class Line:
    label: str
    points: Sequence[Point]


@dataclass(frozen=True)
class Threshold:
    value: float
    label: str


@dataclass(frozen=True)
class Band:
    """A shaded interval of time, e.g. a budget exclusion."""

    start: float
    end: float
    label: str


@dataclass(frozen=True)
class _Frame:
    start: float
    end: float
    low: float
    high: float

    @property
    def plot_width(self) -> float:
        return WIDTH - MARGIN_LEFT - MARGIN_RIGHT

    @property
    def plot_height(self) -> float:
        return HEIGHT - MARGIN_TOP - MARGIN_BOTTOM

    def x(self, t: float) -> float:
        return MARGIN_LEFT + (t - self.start) / (self.end - self.start) * self.plot_width

    def y(self, v: float) -> float:
        return MARGIN_TOP + (self.high - v) / (self.high - self.low) * self.plot_height


def _num(value: float) -> str:
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _finite(points: Sequence[Point]) -> list[Point]:
    return [(t, v) for t, v in points if math.isfinite(v)]


def path_data(points: Sequence[Point], frame: _Frame, step: float) -> str:
    """SVG path commands for one series; a new sub-path after NaN values or holes in the data."""
    commands: list[str] = []
    previous: float | None = None
    for t, v in sorted(points):
        if not math.isfinite(v) or not frame.start <= t <= frame.end:
            previous = None
            continue
        y = min(max(v, frame.low), frame.high)  # values off the scale are pinned to its edge
        move = previous is None or (step > 0 and t - previous > 2.5 * step)
        commands.append(f"{'M' if move else 'L'}{_num(frame.x(t))},{_num(frame.y(y))}")
        previous = t
    return "".join(commands)


def time_ticks(start: float, end: float, at_most: int = 7) -> list[float]:
    """Round times (on UTC boundaries of a step from 5m to 14d) between start and end."""
    span = end - start
    step = next((s for s in _TIME_STEPS if span / s <= at_most), _TIME_STEPS[-1])
    first = math.ceil(start / step) * step
    ticks = []
    t = float(first)
    while t <= end:
        ticks.append(t)
        t += step
    return ticks


def time_label(t: float, span: float) -> str:
    at = datetime.fromtimestamp(t, UTC)
    if span <= 2 * 86400:
        return at.strftime("%H:%M")
    return at.strftime("%b %d")


def value_ticks(low: float, high: float, at_most: int = 6) -> list[float]:
    """1-2-5 steps covering [low, high]."""
    span = high - low
    if span <= 0:
        return [low]
    raw = span / at_most
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.ceil(low / step - 1e-9) * step
    ticks = []
    v = first
    while v <= high + 1e-9:
        ticks.append(round(v, 10))
        v += step
    return ticks


def _axes(frame: _Frame, y_ticks: Sequence[float], y_label: str, fmt: str) -> list[str]:
    parts = [f'<rect x="{MARGIN_LEFT}" y="{MARGIN_TOP}" width="{_num(frame.plot_width)}" '
             f'height="{_num(frame.plot_height)}" fill="#ffffff" stroke="#595959"/>']
    for v in y_ticks:
        y = _num(frame.y(v))
        parts.append(f'<line x1="{MARGIN_LEFT}" x2="{WIDTH - MARGIN_RIGHT}" y1="{y}" y2="{y}" stroke="#e0e0e0"/>')
        parts.append(f'<text x="{MARGIN_LEFT - 6}" y="{y}" text-anchor="end" dominant-baseline="middle" '
                     f'fill="#333">{escape(fmt.format(v))}</text>')
    span = frame.end - frame.start
    for t in time_ticks(frame.start, frame.end):
        x = _num(frame.x(t))
        parts.append(f'<line x1="{x}" x2="{x}" y1="{MARGIN_TOP}" y2="{HEIGHT - MARGIN_BOTTOM}" stroke="#f0f0f0"/>')
        parts.append(f'<text x="{x}" y="{HEIGHT - MARGIN_BOTTOM + 16}" text-anchor="middle" fill="#333">'
                     f'{escape(time_label(t, span))}</text>')
    parts.append(f'<text x="14" y="{_num(MARGIN_TOP + frame.plot_height / 2)}" text-anchor="middle" font-size="12" '
                 f'transform="rotate(-90 14 {_num(MARGIN_TOP + frame.plot_height / 2)})">{escape(y_label)}</text>')
    parts.append(f'<text x="{WIDTH - MARGIN_RIGHT}" y="{HEIGHT - 6}" text-anchor="end" font-size="12">UTC</text>')
    return parts


def label_positions(ys: Sequence[float], gap: float = 12.0) -> list[float]:
    """Baselines for labels just above lines at heights ys, pushed apart so none overlap.

    Thresholds of neighbouring tiers can be a few pixels apart (0.7x and 0.23x on a 0-22 scale);
    their labels move down in turn until each has its own line of text.
    """
    order = sorted(range(len(ys)), key=lambda i: ys[i])
    placed = [0.0] * len(ys)
    previous = -math.inf
    for i in order:
        placed[i] = max(ys[i] - 4, previous + gap)
        previous = placed[i]
    return placed


def _legend(entries: Sequence[tuple[str, str, str]]) -> list[str]:
    """(label, colour, dash) entries in one row above the plot."""
    parts = []
    x = float(MARGIN_LEFT)
    for label, colour, dash in entries:
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        parts.append(f'<line x1="{_num(x)}" x2="{_num(x + 22)}" y1="14" y2="14" stroke="{colour}" '
                     f'stroke-width="2.5"{dash_attr}/>')
        parts.append(f'<text x="{_num(x + 27)}" y="14" dominant-baseline="middle" font-size="12">'
                     f'{escape(label)}</text>')
        x += 27 + 7.2 * len(label) + 18
    return parts


def _svg(title: str, desc: str, body: Sequence[str], chart_id: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
            f'aria-labelledby="{chart_id}-title {chart_id}-desc" class="chart" id="{chart_id}" '
            'font-family="sans-serif" font-size="11" fill="#222">'
            f'<title id="{chart_id}-title">{escape(title)}</title>'
            f'<desc id="{chart_id}-desc">{escape(desc)}</desc>'
            + "".join(body) + "</svg>")


def _percent(value: float) -> str:
    return f"{value * 100:.1f}%"


def budget_burndown_svg(points: Sequence[Point], *, start: float, end: float, step: float,
                        boundaries: Sequence[Threshold] = (), exclusions: Sequence[Band] = (),
                        title: str = "Error budget remaining", chart_id: str = "budget") -> str:
    """Budget remaining (1 = untouched, 0 = spent, negative = overspent) over the SLO window.

    boundaries are the policy tiers' lower edges (as ratios, e.g. 0.25); exclusions are shaded.
    """
    if end <= start:
        raise ValueError("the chart needs end after start")
    finite = _finite(points)
    values = [v for _, v in finite] + [b.value for b in boundaries]
    low = min([0.0, *values])
    high = max([1.0, *values])
    low = math.floor(low * 4) / 4  # quarter steps keep the policy boundaries on round numbers
    frame = _Frame(start, end, low, high)
    body = _axes(frame, value_ticks(low, high), "budget remaining", "{:.0%}")
    for band in exclusions:
        x1, x2 = frame.x(max(band.start, start)), frame.x(min(band.end, end))
        if x2 > x1:
            body.append(f'<rect x="{_num(x1)}" y="{MARGIN_TOP}" width="{_num(max(x2 - x1, 1.5))}" '
                        f'height="{_num(frame.plot_height)}" fill="{EXCLUSION_FILL}" fill-opacity="0.7">'
                        f'<title>{escape(band.label)}</title></rect>')
    label_ys = label_positions([frame.y(b.value) for b in boundaries])
    for boundary, label_y in zip(boundaries, label_ys, strict=True):
        y = _num(frame.y(boundary.value))
        body.append(f'<line x1="{MARGIN_LEFT}" x2="{WIDTH - MARGIN_RIGHT}" y1="{y}" y2="{y}" '
                    f'stroke="{THRESHOLD_COLOUR}" stroke-width="1" stroke-dasharray="4 4"/>')
        body.append(f'<text x="{WIDTH - MARGIN_RIGHT - 4}" y="{_num(label_y)}" '
                    f'text-anchor="end" fill="{THRESHOLD_COLOUR}">{escape(boundary.label)}</text>')
    zero = _num(frame.y(0.0))
    body.append(f'<line x1="{MARGIN_LEFT}" x2="{WIDTH - MARGIN_RIGHT}" y1="{zero}" y2="{zero}" stroke="#222"/>')
    data = path_data(points, frame, step)
    if data:
        body.append(f'<path d="{data}" fill="none" stroke="{LINE_COLOURS[0]}" stroke-width="2.5" '
                    'class="series" data-series="budget remaining"/>')
    entries = [("budget remaining", LINE_COLOURS[0], "")]
    if boundaries:
        entries.append(("policy tier boundary", THRESHOLD_COLOUR, "4 4"))
    if exclusions:
        entries.append(("excluded", "#9e9e9e", ""))
    body += _legend(entries)
    if finite:
        first, last = finite[0], finite[-1]
        desc = (f"Budget remaining went from {_percent(first[1])} on {_when(first[0])} to {_percent(last[1])} on "
                f"{_when(last[0])}; lowest {_percent(min(v for _, v in finite))}.")
    else:
        desc = "No data: Prometheus has no budget series for this SLO in this period."
    if exclusions:
        desc += f" {len(exclusions)} excluded interval(s) shaded."
    return _svg(title, desc, body, chart_id)


def burn_rate_svg(lines: Sequence[Line], thresholds: Sequence[Threshold], *, start: float, end: float,
                  step: float, title: str = "Burn rate", chart_id: str = "burn") -> str:
    """Burn rate per window with the tiers' thresholds as dashed horizontal lines."""
    if end <= start:
        raise ValueError("the chart needs end after start")
    values = [v for line in lines for _, v in _finite(line.points)] + [t.value for t in thresholds]
    top = max([1.0, *values]) * 1.1
    frame = _Frame(start, end, 0.0, top)
    body = _axes(frame, value_ticks(0.0, top), "burn rate (×)", "{:g}")
    label_ys = label_positions([frame.y(t.value) for t in thresholds])
    for threshold, label_y in zip(thresholds, label_ys, strict=True):
        y = _num(frame.y(threshold.value))
        body.append(f'<line x1="{MARGIN_LEFT}" x2="{WIDTH - MARGIN_RIGHT}" y1="{y}" y2="{y}" '
                    f'stroke="{THRESHOLD_COLOUR}" stroke-width="1" stroke-dasharray="4 4" class="threshold" '
                    f'data-threshold="{threshold.value:g}"/>')
        body.append(f'<text x="{WIDTH - MARGIN_RIGHT - 4}" y="{_num(label_y)}" '
                    f'text-anchor="end" fill="{THRESHOLD_COLOUR}">{escape(threshold.label)}</text>')
    entries = []
    described = []
    for i, line in enumerate(lines):
        colour, dash = LINE_COLOURS[i % len(LINE_COLOURS)], DASHES[i % len(DASHES)]
        data = path_data(line.points, frame, step)
        if data:
            dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
            body.append(f'<path d="{data}" fill="none" stroke="{colour}" stroke-width="2"{dash_attr} class="series" '
                        f'data-series="{escape(line.label)}"/>')
        entries.append((line.label, colour, dash))
        finite = _finite(line.points)
        if finite:
            described.append(f"{line.label}: now {finite[-1][1]:.2f}, peak {max(v for _, v in finite):.2f}")
        else:
            described.append(f"{line.label}: no data")
    body += _legend(entries)
    desc = "; ".join(described) or "No burn-rate series."
    if thresholds:
        desc += ". Thresholds: " + ", ".join(t.label for t in thresholds) + "."
    return _svg(title, desc, body, chart_id)


def _when(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M UTC")
