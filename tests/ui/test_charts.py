"""The SVG charts: geometry, gaps, thresholds, exclusions and the text a screen reader gets."""

from __future__ import annotations

import itertools
import math
import re
import xml.etree.ElementTree as ET

import pytest

from fireline.ui.charts import (
    HEIGHT,
    MARGIN_BOTTOM,
    MARGIN_LEFT,
    MARGIN_RIGHT,
    MARGIN_TOP,
    WIDTH,
    Band,
    Line,
    Threshold,
    budget_burndown_svg,
    burn_rate_svg,
    time_ticks,
    value_ticks,
)

NS = {"svg": "http://www.w3.org/2000/svg"}
START = 1_780_000_000.0  # a round-ish epoch; ticks are checked relative to UTC boundaries
HOUR = 3600.0


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def series_paths(root: ET.Element) -> dict[str, str]:
    return {p.get("data-series", ""): p.get("d", "") for p in root.iterfind(".//svg:path", NS)}


def coordinates(d: str) -> list[tuple[str, float, float]]:
    return [(cmd, float(x), float(y)) for cmd, x, y in re.findall(r"([ML])(-?[\d.]+),(-?[\d.]+)", d)]


def plot_y(value: float, low: float, high: float) -> float:
    return MARGIN_TOP + (high - value) / (high - low) * (HEIGHT - MARGIN_TOP - MARGIN_BOTTOM)


def plot_x(t: float, start: float, end: float) -> float:
    return MARGIN_LEFT + (t - start) / (end - start) * (WIDTH - MARGIN_LEFT - MARGIN_RIGHT)


def test_budget_line_maps_times_and_values_onto_the_plot() -> None:
    points = [(START + i * HOUR, 1 - i * 0.1) for i in range(7)]  # 100% down to 40%
    svg = budget_burndown_svg(points, start=START, end=START + 6 * HOUR, step=HOUR)
    coords = coordinates(series_paths(parse(svg))["budget remaining"])
    assert [c[0] for c in coords] == ["M"] + ["L"] * 6
    # The scale is 0..100%: the first point sits on the top edge, 40% at 60% of the way down.
    assert coords[0][1:] == (pytest.approx(MARGIN_LEFT, abs=0.1), pytest.approx(MARGIN_TOP, abs=0.1))
    assert coords[-1][1] == pytest.approx(WIDTH - MARGIN_RIGHT, abs=0.1)
    assert coords[-1][2] == pytest.approx(plot_y(0.4, 0, 1), abs=0.1)


def test_overspent_budget_extends_the_scale_below_zero() -> None:
    points = [(START, 0.2), (START + HOUR, -0.3)]
    root = parse(budget_burndown_svg(points, start=START, end=START + HOUR, step=HOUR))
    coords = coordinates(series_paths(root)["budget remaining"])
    # Scale floors to a quarter: -50% .. 100%; -30% must be drawn where it is, not clipped at 0.
    assert coords[1][2] == pytest.approx(plot_y(-0.3, -0.5, 1.0), abs=0.1)
    labels = [t.text for t in root.iterfind(".//svg:text", NS)]
    assert "-50%" in labels and "100%" in labels


def test_missing_data_breaks_the_line_instead_of_bridging_it() -> None:
    step = 300.0
    points = [(START + i * step, 0.9) for i in range(5)]
    points += [(START + 10 * step, 0.8), (START + 11 * step, math.nan), (START + 12 * step, 0.7)]
    d = series_paths(parse(budget_burndown_svg(points, start=START, end=START + 12 * step, step=step)))
    commands = [c[0] for c in coordinates(d["budget remaining"])]
    # A new sub-path after the 5-step hole and again after the NaN.
    assert commands == ["M", "L", "L", "L", "L", "M", "M"]


def test_policy_boundaries_and_exclusions_are_drawn_and_described() -> None:
    points = [(START, 0.6), (START + 2 * HOUR, 0.3)]
    svg = budget_burndown_svg(points, start=START, end=START + 2 * HOUR, step=HOUR,
                              boundaries=[Threshold(0.25, "critical below 25%")],
                              exclusions=[Band(START + HOUR, START + 1.5 * HOUR, "excluded: maintenance")])
    root = parse(svg)
    rects = [r for r in root.iterfind(".//svg:rect", NS) if r.find("svg:title", NS) is not None]
    assert len(rects) == 1
    assert float(rects[0].get("x", "0")) == pytest.approx(plot_x(START + HOUR, START, START + 2 * HOUR), abs=0.1)
    assert "critical below 25%" in [t.text for t in root.iterfind(".//svg:text", NS)]
    desc = root.find("svg:desc", NS)
    assert desc is not None and desc.text is not None
    assert "from 60.0%" in desc.text and "to 30.0%" in desc.text and "1 excluded interval" in desc.text
    assert root.get("role") == "img"


def test_burn_rate_chart_scales_to_the_highest_threshold_and_draws_each_window() -> None:
    lines = [Line("1h window", [(START, 2.0), (START + HOUR, 3.0)]),
             Line("6h window", [(START, 1.0), (START + HOUR, 1.5)])]
    thresholds = [Threshold(14.4, "14.4× 1h/5m page"), Threshold(6, "6× 6h/30m page")]
    root = parse(burn_rate_svg(lines, thresholds, start=START, end=START + HOUR, step=300))
    paths = series_paths(root)
    assert set(paths) == {"1h window", "6h window"}
    top = 14.4 * 1.1
    first = coordinates(paths["1h window"])[0]
    assert first[2] == pytest.approx(plot_y(2.0, 0, top), abs=0.1)
    drawn = {float(line.get("data-threshold", "nan")): float(line.get("y1", "nan"))
             for line in root.iterfind(".//svg:line[@class='threshold']", NS)}
    assert drawn[14.4] == pytest.approx(plot_y(14.4, 0, top), abs=0.1)
    assert drawn[6.0] == pytest.approx(plot_y(6.0, 0, top), abs=0.1)
    # Lines differ by dash pattern too, not only by colour.
    dashes = {p.get("data-series"): p.get("stroke-dasharray") for p in root.iterfind(".//svg:path", NS)}
    assert dashes["1h window"] != dashes["6h window"]
    desc = root.find("svg:desc", NS)
    assert desc is not None and desc.text is not None and "1h window: now 3.00, peak 3.00" in desc.text


def test_burn_rate_above_every_threshold_sets_the_scale() -> None:
    root = parse(burn_rate_svg([Line("1h window", [(START, 40.0)])], [Threshold(14.4, "x")],
                               start=START, end=START + HOUR, step=300))
    y = coordinates(series_paths(root)["1h window"])[0][2]
    assert y == pytest.approx(plot_y(40.0, 0, 44.0), abs=0.1)


def test_labels_from_the_data_are_escaped() -> None:
    svg = burn_rate_svg([Line("<script>x</script>", [(START, 1.0)])], [], start=START, end=START + HOUR, step=60)
    assert "<script>" not in svg
    parse(svg)  # still well-formed XML


def test_empty_series_say_so() -> None:
    root = parse(budget_burndown_svg([], start=START, end=START + HOUR, step=60))
    desc = root.find("svg:desc", NS)
    assert desc is not None and desc.text is not None and desc.text.startswith("No data")
    assert series_paths(root) == {}
    with pytest.raises(ValueError):
        budget_burndown_svg([], start=START, end=START, step=60)


def test_time_ticks_fall_on_round_utc_boundaries() -> None:
    ticks = time_ticks(START + 17, START + 24 * HOUR)
    assert 3 <= len(ticks) <= 7
    step = ticks[1] - ticks[0]
    assert all(t % step == 0 for t in ticks)
    assert ticks[0] >= START + 17 and ticks[-1] <= START + 24 * HOUR


def test_value_ticks_use_round_steps() -> None:
    assert value_ticks(0, 1) == [0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert value_ticks(0, 15.84) == [0, 5, 10, 15]
    assert value_ticks(-0.5, 1) == [-0.5, -0.25, 0, 0.25, 0.5, 0.75, 1.0]


def test_threshold_labels_close_together_are_pushed_apart() -> None:
    lines = [Line("1h window", [(START, 20.0)])]
    thresholds = [Threshold(3.36, "a"), Threshold(1.4, "b"), Threshold(0.7, "c"), Threshold(0.233, "d")]
    root = parse(burn_rate_svg(lines, thresholds, start=START, end=START + HOUR, step=300))
    ys = sorted(float(t.get("y", "0")) for t in root.iterfind(".//svg:text", NS) if t.text in {"a", "b", "c", "d"})
    assert all(b - a >= 12 for a, b in itertools.pairwise(ys))
