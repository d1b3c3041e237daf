"""Policy-engine cycle time: every SLO's budget over a 30-day window, from raw counters and from
fireline's recordings, side by side on one Prometheus (issue 14, item 2).

One synthetic history is backfilled into a real Prometheus with `promtool tsdb create-blocks-from
openmetrics`: per SLO, a good and a bad request counter (`http_requests_total{job, code}`) scraped
every STEP seconds for DAYS days (and one more), and the series fireline's rules record for it over the same days
(the SLI group's `slo:sli_error:ratio_rate5m` every STEP, the budget group's SLO-window ratio every
2m30s over the last day: an instant read only ever touches the newest samples). Then a cycle
measures every SLO's budget the way the engine does (fireline.policy.budget.measure_budget, one
SLO after another over HTTP), three ways:

- raw: the SLI's own queries over the whole window (what the engine did before, and still does on
  the day a team adopts fireline: the recordings are younger than the window);
- recorded: fireline's recordings (coverage at the window's start, the recorded window ratio);
- auto: the default, SLO by SLO, which must pick recorded here;
- engine: the engine's own cycle read (PolicyEngine.measure), which reads every recorded budget
  at once (a few queries for all SLOs) and only what that cannot answer SLO by SLO.

It prints, per way, the cycle's wall time (best and median of CYCLES), the CPU Prometheus spent
answering (from its own process_cpu_seconds_total), the queries sent, and how far the budgets are
from the raw reading (percentage points, worst SLO).

    .venv/bin/python bench/policy_bench.py            # 500 SLOs, 30 days at 60s; writes bench/results/
    .venv/bin/python bench/policy_bench.py --quick    # 50 SLOs, 7 days; writes nothing unless --out-dir is given
"""

from __future__ import annotations

import argparse
import json
import operator
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from rules_cost_prom import Prometheus, prometheus_version

from fireline.clients.prometheus import PrometheusClient
from fireline.policy.budget import BudgetReading, BudgetSource, measure_budget
from fireline.policy.engine import PolicyEngine, WatchedSLO, prometheus_query, prometheus_vector_query
from fireline.policy.windows import budget_window
from fireline.rules.plan import ratio_series
from fireline.rules.sli import BASE_WINDOW
from fireline.slo.durations import Duration
from fireline.spec.config import Config
from fireline.spec.models import ServiceSpec, SLOSpec

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results"
BUDGET_GROUP_STEP = 150  # seconds: the budget group's interval (rules.plan.BUDGET_GROUP_INTERVAL)
OBJECTIVE = 99.9
STALENESS = Duration.parse("10m")
WAYS: tuple[str, ...] = ("raw", "recorded", "auto", "engine")


@dataclass
class Params:
    slos: int
    days: int
    step: int
    cycles: int
    seed: int


def service_spec(index: int, days: int) -> ServiceSpec:
    job = f"svc-{index:03d}"
    return ServiceSpec.model_validate({
        "apiVersion": "fireline/v1", "kind": "Service", "metadata": {"name": job},
        "spec": {"team": "bench", "slos": [{
            "name": "availability", "objective": OBJECTIVE, "window": f"{days}d",
            "sli": {"events": {
                "errors": f'sum(rate(http_requests_total{{job="{job}",code="500"}}[{{{{.window}}}}]))',
                "total": f'sum(rate(http_requests_total{{job="{job}"}}[{{{{.window}}}}]))'}}}]}})


def synthesise(params: Params, end: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per SLO and scrape: cumulative good and bad counts (diurnal Poisson traffic, a few incidents)."""
    rng = np.random.default_rng(params.seed)
    # A day more than the window: the SLO-window ratios of the last day and the coverage check at the
    # window's start need recordings from before it.
    steps = (params.days + 1) * 86400 // params.step + 1
    times = end - params.step * np.arange(steps)[::-1]
    hours = (times % 86400) / 3600
    good = np.empty((params.slos, steps))
    bad = np.empty((params.slos, steps))
    for i in range(params.slos):
        peak = rng.uniform(0, 24)
        rate = 5 + 45 * (0.5 + 0.5 * np.cos((hours - peak) / 24 * 2 * np.pi))  # requests per second
        served = rng.poisson(rate * params.step).astype(float)
        ratio = np.full(steps, rng.uniform(0.0001, 0.0005))
        for _ in range(rng.integers(1, 4)):  # incidents: 1% to 30% errors for 10 minutes to 6 hours
            start = rng.integers(0, steps)
            ratio[start:start + int(rng.uniform(600, 21600) / params.step)] += rng.uniform(0.01, 0.3)
        errors = rng.binomial(served.astype(np.int64), np.minimum(ratio, 1.0)).astype(float)
        good[i] = np.cumsum(served - errors)
        bad[i] = np.cumsum(errors)
    return times, good, bad


def _lines(prefix: str, values: list[float], stamps: list[str]) -> str:
    return "".join(map(operator.add, map(prefix.__add__, map(repr, values)), stamps))


def write_openmetrics(path: Path, params: Params, times: np.ndarray, good: np.ndarray, bad: np.ndarray) -> int:
    """Raw counters, then the recordings fireline's rules write for each SLO; returns samples written."""
    stamps = [f" {t}\n" for t in times.tolist()]
    per_5m = 300 // params.step
    window_steps = params.days * 86400 // params.step
    samples = 0
    with path.open("w", encoding="ascii", buffering=1 << 22) as out:
        out.write("# TYPE http_requests counter\n")
        for i in range(params.slos):
            job = f"svc-{i:03d}"
            for code, series in (("200", good[i]), ("500", bad[i])):
                out.write(_lines(f'http_requests_total{{code="{code}",job="{job}"}} ', series.tolist(), stamps))
                samples += len(series)
        name = ratio_series(BASE_WINDOW)
        out.write(f"# TYPE {name.replace(':', '_')} gauge\n")
        for i in range(params.slos):
            total, errors = good[i] + bad[i], bad[i]
            d_total = total[per_5m:] - total[:-per_5m]
            d_errors = errors[per_5m:] - errors[:-per_5m]
            ratio = np.divide(d_errors, d_total, out=np.zeros_like(d_errors), where=d_total > 0)
            labels = f'service="svc-{i:03d}",slo="availability"'
            out.write(_lines(f"{name}{{{labels}}} ", ratio.tolist(), stamps[per_5m:]))
            samples += len(ratio)
        window_name = ratio_series(Duration.parse(f"{params.days}d"))
        out.write(f"# TYPE {window_name.replace(':', '_')} gauge\n")
        every = BUDGET_GROUP_STEP // params.step if BUDGET_GROUP_STEP % params.step == 0 else 1
        last_day = range(len(times) - 86400 // params.step, len(times), every)
        for i in range(params.slos):
            total, errors = good[i] + bad[i], bad[i]
            labels = f'service="svc-{i:03d}",slo="availability"'
            values = [float((errors[k] - errors[k - window_steps]) / (total[k] - total[k - window_steps]))
                      for k in last_day]
            out.write(_lines(f"{window_name}{{{labels}}} ", values, [stamps[k] for k in last_day]))
            samples += len(values)
        out.write("# EOF\n")
    return samples


def process_cpu(prom: Prometheus) -> float:
    return sum(v for _, v in prom.metrics().get("process_cpu_seconds_total", []))


@dataclass
class Way:
    source: str
    walls: list[float]
    prometheus_cpu: list[float]
    queries: int
    sources: dict[str, int]
    remaining: list[float]


def engine_for(client: PrometheusClient, slos: list[tuple[str, SLOSpec]]) -> PolicyEngine:
    """The policy engine as `fireline serve` builds it; its cycle's read (measure) touches no database."""
    config = Config.model_validate({"apiVersion": "fireline/v1", "kind": "Config",
                                    "policy": {"staleness": str(STALENESS)}})
    assert config.policy is not None
    watched = [WatchedSLO(service, "bench", slo) for service, slo in slos]
    return PolicyEngine(config, config.policy, watched, None, prometheus_query(client),  # type: ignore[arg-type]
                        notifier=None, open_incident=None,  # type: ignore[arg-type]
                        vector_query=prometheus_vector_query(client))


def cycle(prom: Prometheus, client: PrometheusClient, slos: list[tuple[str, SLOSpec]], at: datetime,
          way: str) -> tuple[float, float, int, dict[str, int], list[float]]:
    query = prometheus_query(client)
    engine = engine_for(client, slos)
    cpu = process_cpu(prom)
    started = time.perf_counter()
    queries = 0
    sources: dict[str, int] = {}
    remaining: list[float] = []
    if way == "engine":
        readings = engine.measure(at, [])
    else:
        source: BudgetSource = way  # type: ignore[assignment]
        readings = [measure_budget(query, service, slo, budget_window(at, slo.window, None, "UTC"), [], STALENESS,
                                   source) for service, slo in slos]
    wall = time.perf_counter() - started
    # Queries sent: a batched read lists its few shared queries on every SLO it answered.
    shared = {(q.promql, q.at) for r in readings for q in r.queries if "all SLOs" in q.purpose}
    for reading in readings:
        queries += sum(1 for q in reading.queries if "all SLOs" not in q.purpose)
        if not isinstance(reading, BudgetReading):
            raise RuntimeError(f"{reading.service}: budget unknown: {reading.reason}")
        sources[reading.source] = sources.get(reading.source, 0) + 1
        remaining.append(reading.remaining * 100)
    queries += len(shared)
    return wall, process_cpu(prom) - cpu, queries, sources, remaining


def run(params: Params, work: Path) -> dict[str, Any]:
    end = (int(time.time()) // 3600) * 3600
    phases: dict[str, float] = {}
    started = time.perf_counter()
    times, good, bad = synthesise(params, end)
    phases["synthesis_s"] = round(time.perf_counter() - started, 1)
    source = work / "history.om"
    started = time.perf_counter()
    samples = write_openmetrics(source, params, times, good, bad)
    phases["openmetrics_write_s"] = round(time.perf_counter() - started, 1)
    data = work / "data"
    started = time.perf_counter()
    subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics", "--max-block-duration=240h",
                    str(source), str(data)], check=True, capture_output=True)
    phases["openmetrics_import_s"] = round(time.perf_counter() - started, 1)
    source.unlink()
    slos = [(spec.name, spec.spec.slos[0]) for spec in (service_spec(i, params.days) for i in range(params.slos))]
    at = datetime.fromtimestamp(end, UTC)
    ways: dict[str, Way] = {}
    with Prometheus(work, data, None, "1m", "prometheus", compaction=False) as prom:
        client = PrometheusClient(prom.url, timeout=120)
        try:
            for way in WAYS:  # one warm-up cycle each: the first touch of a block maps its files
                cycle(prom, client, slos, at, way)
            for _ in range(params.cycles):
                for way in WAYS:
                    wall, cpu, queries, sources, remaining = cycle(prom, client, slos, at, way)
                    entry = ways.setdefault(way, Way(way, [], [], queries, sources, remaining))
                    entry.walls.append(wall)
                    entry.prometheus_cpu.append(cpu)
        finally:
            client.close()
    raw = ways["raw"].remaining
    return {
        "params": params.__dict__, "samples": samples, "phases": phases, "at": at.isoformat(),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "prometheus": prometheus_version(),
                    "load_average_end": round(os.getloadavg()[0], 2)},
        "ways": {name: {
            "wall_best_s": min(w.walls), "wall_median_s": statistics.median(w.walls),
            "prometheus_cpu_median_s": statistics.median(w.prometheus_cpu), "queries": w.queries,
            "sources": w.sources,
            "worst_difference_from_raw_pp": max(abs(a - b) for a, b in zip(w.remaining, raw, strict=True)),
        } for name, w in ways.items()},
    }


def table(result: dict[str, Any]) -> str:
    p = result["params"]
    m = result["machine"]
    raw = result["ways"]["raw"]
    lines = [
        "# bench/policy_bench.py",
        "",
        "`.venv/bin/python bench/policy_bench.py`",
        "",
        f"{p['slos']} SLOs, {p['days']}-day rolling windows, 2 raw counters per SLO scraped every {p['step']}s; "
        f"{result['samples']:,} samples; {m['cpus']} CPUs, Python {m['python']}, {m['prometheus']}; "
        f"{p['cycles']} timed cycles per way after one warm-up; load average at the end {m['load_average_end']}",
        "",
        "| budget read from | cycle wall s (best) | cycle wall s (median) | Prometheus CPU s per cycle | "
        "queries per cycle | SLOs read from | worst difference from raw (pp) | cycle time / raw |",
        "|---|---:|---:|---:|---:|---|---:|---:|",
    ]
    for name, w in result["ways"].items():
        sources = ", ".join(f"{k}: {v}" for k, v in sorted(w["sources"].items()))
        lines.append(f"| {name} | {w['wall_best_s']:.3f} | {w['wall_median_s']:.3f} | "
                     f"{w['prometheus_cpu_median_s']:.3f} | {w['queries']} | {sources} | "
                     f"{w['worst_difference_from_raw_pp']:.6f} | {w['wall_median_s'] / raw['wall_median_s']:.3f}x |")
    lines += ["", f"Phases (s): {result['phases']}", ""]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="50 SLOs, 7 days; writes nothing unless --out-dir")
    parser.add_argument("--slos", type=int)
    parser.add_argument("--days", type=int)
    parser.add_argument("--step", type=int, default=60, help="scrape interval in seconds (default 60)")
    parser.add_argument("--cycles", type=int, default=3)
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--out-dir", type=Path, help="where results go (default bench/results; --quick: none)")
    args = parser.parse_args()
    if 300 % args.step:
        parser.error("--step must divide 300 (the 5m recordings are written at the scrape interval)")
    params = Params(args.slos or (50 if args.quick else 500), args.days or (7 if args.quick else 30), args.step,
                    args.cycles, args.seed)
    with tempfile.TemporaryDirectory(prefix="fireline-policy-bench-") as tmp:
        result = run(params, Path(tmp))
    text = table(result)
    print(text)
    out_dir = args.out_dir or (None if args.quick else RESULTS)
    if out_dir is None:
        print("(--quick: results not written)")
        return 0
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "policy_bench.json").write_text(json.dumps(result, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    (out_dir / "policy_bench.md").write_text(text, encoding="utf-8")
    print(f"written: {out_dir / 'policy_bench.md'}, {out_dir / 'policy_bench.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
