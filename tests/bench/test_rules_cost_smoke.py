"""Smoke test of bench/rules_cost.py --quick: real Prometheus and promtool, no timing assertions."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "bench" / "rules_cost.py"
SET_KEYS = ("eval_seconds_per_minute", "eval_seconds_p95", "rss_bytes", "budget_error_pp_max",
            "budget_error_pp_median")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.promtool,
    pytest.mark.skipif(shutil.which("prometheus") is None or shutil.which("promtool") is None,
                       reason="prometheus and promtool are needed (make tools installs them)"),
]


COMMITTED = (ROOT / "bench" / "RESULTS.md", ROOT / "bench" / "results" / "rules_cost.json")


def _digest(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None


def test_quick_run_writes_results_for_all_three_rule_sets(tmp_path: Path) -> None:
    # No --out-dir: a quick run must land in a new temporary folder, never over the committed results.
    before = {path: _digest(path) for path in COMMITTED}
    temp_root = tmp_path / "tmp"
    temp_root.mkdir()
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--workdir", str(tmp_path / "work")],
        capture_output=True, text=True, timeout=240, check=False, env={**os.environ, "TMPDIR": str(temp_root)},
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert {path: _digest(path) for path in COMMITTED} == before
    written = re.search(r"^wrote (\S+)/RESULTS\.md and ", proc.stdout, re.MULTILINE)
    assert written is not None, proc.stdout[-2000:]
    out = Path(written.group(1))
    assert out.parent == temp_root and out.name.startswith("fireline-rules-cost-quick-")

    doc = json.loads((out / "results" / "rules_cost.json").read_text())
    assert list(doc) == ["params", "fireline", "sloth", "pyrra"]
    assert doc["params"]["quick"] is True
    assert (doc["params"]["services"], doc["params"]["series_per_service"], doc["params"]["days"]) == (5, 4, 3)
    for name in ("fireline", "sloth", "pyrra"):
        figures = doc[name]
        for key in SET_KEYS:
            assert isinstance(figures[key], int | float), (name, key, figures.get(key))
        assert figures["eval_seconds_per_minute"] > 0
        assert figures["rss_bytes"] > 0
        # every SLO got a budget figure from the rule set's own rules, and its live series exist
        assert len(figures["budgets"]) == 5
        assert all(b["measured"] is not None for b in figures["budgets"]), figures["budgets"]
        assert figures["budgets_missing"] == 0
        assert figures["budget_error_pp_max"] >= figures["budget_error_pp_median"] >= 0

    results_md = (out / "RESULTS.md").read_text()
    assert "fireline / sloth" in results_md and "Prometheus" in results_md
    # the table printed on stdout is the one written to RESULTS.md
    assert "| eval s / minute (median-based) |" in proc.stdout
