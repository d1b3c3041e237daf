"""`fireline simulate` against promtool: time per SLO-day of evaluating the generated rules.

The simulator evaluates N SLOs (default 1,000) over D days (default 30) at 30s scrapes and 30s
evaluations with the default tiers; promtool evaluates the generated rule group of one SLO over
the same kind of history with `promtool test rules`. Only evaluation is timed on both sides:
synthesising the counters, writing files and starting promtool are not (promtool's start-up is
measured and subtracted with a one-sample run).

promtool's cost per day grows with the length of the history (sum_over_time over 1d/3d/30d
windows reads every recorded sample in them), so a promtool run shorter than the simulator's
understates the ratio; --promtool-days 30 gives like-for-like at the price of a long wait.

    .venv/bin/python bench/simulate_bench.py                      # 1,000 SLOs x 30d; promtool 2d
    .venv/bin/python bench/simulate_bench.py --slos 50 --days 7   # quick
"""

from __future__ import annotations

import argparse
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "sim"))

from promtool_crosscheck import EVENTS_SERIES, write_spec

from fireline.rules.generate import render_rules_file
from fireline.rules.plan import burn_alert_name
from fireline.sim.engine import SLOTarget, evaluation_times, simulate
from fireline.sim.history import SLIHistory
from fireline.sim.policies import spec_policy
from fireline.sim.promtool_format import alert_test_file, input_series
from fireline.sim.scenarios import build_history, parse_scenario
from fireline.slo.durations import Duration

D = Duration.parse


def history_for(index: int, days: int, scrape: Duration) -> SLIHistory:
    """A different month per SLO: daily error spikes at an SLO-specific hour, low background errors."""
    hour = index % 24
    scenario = parse_scenario(
        f"spikes:error_rate={0.05 + 0.01 * (index % 10)},length=20m,every=1d,baseline=0.0004,"
        f"rps={5 + index % 50},start={hour}h,seed={index}")
    return build_history(scenario, clean_history=D("0s"), simulate_for=Duration((days * 24 - hour) * 3_600_000),
                         scrape_interval=scrape)


def bench_simulator(slos: int, days: int, scrape: Duration, evaluation: Duration) -> tuple[float, int]:
    with tempfile.TemporaryDirectory() as folder:
        spec = write_spec(Path(folder))
    slo = spec.spec.slos[0]
    policy = spec_policy(slo)
    target = SLOTarget("bench", "availability", slo.window, slo.error_budget)
    elapsed = 0.0
    pages = 0
    for index in range(slos):
        history = history_for(index, days, scrape)
        started = time.perf_counter()
        result = simulate(history, target, policy, evaluation)
        elapsed += time.perf_counter() - started
        pages += sum(len(t.spans) for t in result.tiers)
    return elapsed, pages


def _promtool_run(folder: Path, days: int, scrape: Duration, evaluation: Duration) -> float:
    spec = write_spec(folder)
    (folder / "rules.yml").write_text(render_rules_file(spec, "sim.yaml"), encoding="utf-8")
    history = history_for(0, days, scrape) if days else history_for(0, 1, scrape)
    eval_ms = evaluation_times(history, evaluation)
    last = eval_ms[-1:] if days else eval_ms[:1]
    test = alert_test_file("rules.yml", input_series(history, EVENTS_SERIES, scrape),
                           burn_alert_name(spec, spec.spec.slos[0]), last, scrape, evaluation)
    (folder / "test.yml").write_text(test, encoding="utf-8")
    started = time.perf_counter()
    subprocess.run(["promtool", "test", "rules", "test.yml"], cwd=folder, capture_output=True, check=False,
                   timeout=24 * 3600)
    return time.perf_counter() - started


def bench_promtool(days: int, scrape: Duration, evaluation: Duration) -> float:
    with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
        # Evaluating only t=0 of the same input measures start-up and input parsing.
        overhead = _promtool_run(Path(a), 0, scrape, evaluation)
        return max(_promtool_run(Path(b), days, scrape, evaluation) - overhead, 1e-9)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--slos", type=int, default=1000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--promtool-days", type=int, default=2)
    parser.add_argument("--scrape-interval", default="30s")
    parser.add_argument("--eval-interval", default="30s")
    args = parser.parse_args()
    scrape, evaluation = D(args.scrape_interval), D(args.eval_interval)

    sim_seconds, pages = bench_simulator(args.slos, args.days, scrape, evaluation)
    sim_slo_days = args.slos * args.days
    rows = [("simulator", args.slos, args.days, sim_seconds, sim_seconds / sim_slo_days)]
    if shutil.which("promtool"):
        prom_seconds = bench_promtool(args.promtool_days, scrape, evaluation)
        rows.append(("promtool test rules", 1, args.promtool_days, prom_seconds, prom_seconds / args.promtool_days))
    print(f"fireline simulate benchmark: default tiers, 30d SLO, scrape {scrape}, evaluation {evaluation}; "
          f"{platform.processor() or platform.machine()}, Python {platform.python_version()}, numpy {np.__version__}")
    print(f"{'engine':<20} {'SLOs':>6} {'days':>5} {'seconds':>10} {'ms per SLO-day':>15} {'ratio':>9}")
    base = rows[-1][4]
    for name, slos, days, seconds, per_day in rows:
        print(f"{name:<20} {slos:>6} {days:>5} {seconds:>10.2f} {per_day * 1000:>15.3f} {base / per_day:>8.0f}x")
    print(f"({pages} firing episodes across the simulated SLOs)")
    if len(rows) == 1:
        print("promtool not found: only the simulator was measured")


if __name__ == "__main__":
    main()
