"""rate() values, not only firing times, against promtool: irregular gaps, resets, small first values.

Alert timings hide small errors in extrapolation; comparing the values of rate() itself at many
instants (including edges where the gap to the window start is just under or over 1.1 sample
intervals) does not.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from promtool_crosscheck import promtool_available

from fireline.sim.promql import rate, reset_corrected
from fireline.sim.promtool_format import series_values
from fireline.slo.durations import Duration

pytestmark = [
    pytest.mark.promtool,
    pytest.mark.skipif(not promtool_available(), reason="promtool is not installed"),
]

_GOT_RE = re.compile(r'expr: "(?P<expr>[^"]+)", time: (?P<time>\w+),\s+exp: .*?\n\s+got: (?P<got>.*)')


def _series() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(42)
    slots = np.arange(0, 121)  # 30 minutes at 15s
    increments = rng.integers(0, 5, size=slots.size).astype(np.float64)
    values = np.cumsum(increments) + 2.0  # starts near zero: the zero-point clamp matters
    values[40:] -= values[40] - 1.0  # a counter reset to a small value
    values[85:] -= values[85]  # a reset to exactly zero
    keep = rng.random(slots.size) > 0.25  # a quarter of the scrapes fail
    keep[20:27] = False  # and a long gap
    return (slots[keep] * 15_000).astype(np.int64), values[keep]


def test_rate_matches_promtool(tmp_path: Path) -> None:
    ts, values = _series()
    windows = ["1m", "2m30s", "5m"]
    eval_ms = np.arange(0, 30 * 60_000 + 1, 35_000, dtype=np.int64)
    tests = [
        {"expr": f"rate(x[{w}])", "eval_time": str(Duration(int(t))), "exp_samples": [{"labels": "{}", "value": -1}]}
        for w in windows for t in eval_ms.tolist()
    ]
    document = {
        # Data is loaded up to the last rule evaluation, so evaluate often enough to see every eval time.
        "evaluation_interval": "5s",
        "tests": [{"interval": "15s",
                   "input_series": [{"series": "x", "values": series_values(ts, values, Duration(15_000),
                                                                             int(ts[-1]))}],
                   "promql_expr_test": tests}],
    }
    (tmp_path / "rate.yml").write_text(json.dumps(document), encoding="utf-8")
    done = subprocess.run(["promtool", "test", "rules", "rate.yml"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=300, check=False)
    report = done.stdout + done.stderr
    theirs: dict[tuple[str, int], float | None] = {}
    for match in _GOT_RE.finditer(report):
        got = match.group("got").strip()
        value = None if got == "nil" else float(got.split()[-1])
        theirs[(match.group("expr"), Duration.parse(match.group("time")).milliseconds)] = value
    assert len(theirs) == len(tests), report[:2000]
    corrected = reset_corrected(values)
    compared = 0
    for w in windows:
        ours = rate(ts, values, corrected, eval_ms, Duration.parse(w).milliseconds)
        for i, t in enumerate(eval_ms.tolist()):
            expected = theirs[(f"rate(x[{w}])", t)]
            if expected is None:
                assert not ours.present[i], (w, t)
            else:
                assert ours.present[i], (w, t)
                assert ours.values[i] == pytest.approx(expected, rel=1e-12, abs=1e-15), (w, t)
                compared += 1
    assert compared > 100
