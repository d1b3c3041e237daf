"""Text in and out of `promtool test rules`, to check the simulator against Prometheus itself.

Pure functions only: the tests and the benchmark run promtool. A history becomes `input_series`
in promtool's notation; the test asks at every evaluation time for *no* alert, so promtool's
failure report lists exactly the alerts firing at each time, which `firing_from_report` reads back.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import numpy as np

from fireline.sim.history import SLIHistory
from fireline.sim.promql import FloatArray, IntArray
from fireline.slo.durations import Duration

_FAILURE_RE = re.compile(r"^\s*alertname: (?P<name>[^,]+), time: (?P<time>[0-9a-z.]+),", re.MULTILINE)
_LABELS_RE = re.compile(r"Labels:\{(?P<labels>[^}]*)\}")
_LABEL_RE = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def series_values(timestamps_ms: IntArray, values: FloatArray, interval: Duration, end_ms: int) -> str:
    """promtool's `values` for samples on the grid 0, interval, ...; `_` where a scrape is missing."""
    step = interval.milliseconds
    if np.any(timestamps_ms % step):
        raise ValueError("promtool input series need samples on multiples of the scrape interval")
    slots = ["_"] * (end_ms // step + 1)
    for t, v in zip((timestamps_ms // step).tolist(), values.tolist(), strict=True):
        slots[t] = repr(float(v))
    return " ".join(slots)


@dataclass(frozen=True)
class SeriesNames:
    """Metric names the cross-check spec's SLI queries read."""

    total: str
    errors: str | None = None  # events SLIs
    good: str | None = None  # latency SLIs: the le bucket


def input_series(history: SLIHistory, names: SeriesNames, interval: Duration) -> list[dict[str, str]]:
    ts = history.timestamps_ms
    out = [{"series": names.total, "values": series_values(ts, history.total, interval, history.end_ms)}]
    if names.errors is not None:
        out.append({"series": names.errors, "values": series_values(ts, history.errors, interval, history.end_ms)})
    if names.good is not None:
        out.append({"series": names.good, "values": series_values(ts, history.good, interval, history.end_ms)})
    return out


def alert_test_file(
    rule_file: str,
    series: list[dict[str, str]],
    alertname: str,
    eval_ms: IntArray,
    scrape_interval: Duration,
    evaluation_interval: Duration,
    group_order: list[str] | None = None,
) -> str:
    """A promtool test expecting no alert at every evaluation (JSON is valid YAML). group_order: the
    rule groups in the order the simulator evaluates them (each reads the ones before it fresh)."""
    document: dict[str, object] = {
        "rule_files": [rule_file],
        "evaluation_interval": str(evaluation_interval),
        **({"group_eval_order": group_order} if group_order else {}),
        "tests": [{
            "interval": str(scrape_interval),
            "input_series": series,
            "alert_rule_test": [{"eval_time": str(Duration(int(t))), "alertname": alertname, "exp_alerts": []}
                                for t in eval_ms.tolist()],
        }],
    }
    return json.dumps(document, indent=1)


def firing_from_report(report: str, alertname: str) -> dict[int, list[dict[str, str]]]:
    """For every evaluation time promtool reported, the labels of each alert firing then."""
    found: dict[int, list[dict[str, str]]] = {}
    matches = list(_FAILURE_RE.finditer(report))
    for index, match in enumerate(matches):
        if match.group("name").strip() != alertname:
            continue
        block_end = matches[index + 1].start() if index + 1 < len(matches) else len(report)
        block = report[match.end():block_end]
        got = block.split("got:", 1)[1] if "got:" in block else ""
        labels = [dict(_LABEL_RE.findall(m.group("labels"))) for m in _LABELS_RE.finditer(got)]
        found[Duration.parse(match.group("time")).milliseconds] = labels
    return found
