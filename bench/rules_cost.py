"""Rule-evaluation cost and error-budget accuracy: fireline vs Sloth- and Pyrra-shaped rules.

Issue 9. One synthetic history (N services x M counter series, 30s scrapes, diurnal traffic,
incidents) is backfilled into a TSDB; each rule set then runs in a real Prometheus on the same
data, one at a time, with the same flags, and we record what its rule groups cost and how far
its "error budget remaining" is from the exact figure computed from the synthetic counters.

    .venv/bin/python bench/rules_cost.py            # full run (N=50, M=20, 30 days)
    .venv/bin/python bench/rules_cost.py --quick    # smoke run (N=5, M=4, 3 days), into a temp folder

Method and caveats are written into bench/RESULTS.md by the run itself (see _method()).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import rules_cost_rulesets as rs
from rules_cost_data import Dataset, synthesise, write_openmetrics
from rules_cost_prom import (
    CostSample,
    Prometheus,
    collect_costs,
    link_blocks,
    median,
    percentile,
    prometheus_version,
    run_checked,
)

from fireline.yamlout import dump_yaml

BENCH = Path(__file__).resolve().parent
NOMINAL_DEFAULT_INTERVAL = 30.0  # Prometheus global evaluation_interval the rule sets assume
SETS = ("fireline", "sloth", "pyrra")
ANALYSIS_MARKER = "<!-- analysis: written by hand about a specific run, kept when the file is re-rendered -->"


@dataclass
class Params:
    services: int
    series: int
    days: float
    step: int
    seed: int
    time_scale: float
    min_evals: int
    warmup_evals: int
    backfill_interval: str
    horizon_seconds: int
    reuse: bool
    compact_backfill: bool
    quick: bool


def parse_args(argv: list[str] | None) -> tuple[Params, argparse.Namespace]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="smoke run: N=5, M=4, 3 days, few evaluations")
    p.add_argument("--services", type=int, help="N services, one availability SLO each (default 50)")
    p.add_argument("--series", type=int, help="M counter series per service (default 20)")
    p.add_argument("--days", type=float, help="days of synthetic history (default 30)")
    p.add_argument("--step", type=int, default=30, help="scrape interval in seconds (default 30)")
    p.add_argument("--seed", type=int, default=9, help="random seed of the synthetic data")
    p.add_argument("--time-scale", type=float,
                   help="rule groups run at interval x this while timed (default 1 = nominal; quick 1/150). "
                        "Costs are weighted by the nominal intervals, but below 1 the durations are not "
                        "trustworthy with many groups (see RESULTS.md)")
    p.add_argument("--min-evals", type=int,
                   help="timed evaluations per 30s group (default 20; quick 5); groups with longer "
                        "intervals need min-evals x 30s / interval each (at least 3)")
    p.add_argument("--warmup-evals", type=int, default=1,
                   help="first evaluations of each 30s group not timed (slower groups: none)")
    p.add_argument("--horizon-seconds", type=int,
                   help="synthetic data ends this far in the future, past the last timed run "
                        "(default: an estimate from the data size and the runs)")
    p.add_argument("--no-compact", action="store_true",
                   help="leave promtool's per-rule backfill blocks uncompacted (always so with --quick)")
    p.add_argument("--out-dir", type=Path,
                   help="where RESULTS.md and results/ go (default bench/; with --quick a new temporary folder, "
                        "so a smoke run never overwrites the committed full results)")
    p.add_argument("--workdir", type=Path, help="scratch dir for TSDBs (default: a temp dir, removed)")
    p.add_argument("--keep-workdir", action="store_true")
    p.add_argument("--reuse-workdir", action="store_true",
                   help="reuse the data, imported and backfilled blocks a previous run left in --workdir "
                        "(its prepared.json), re-deriving the ground truth from the same seed")
    p.add_argument("--render-only", action="store_true",
                   help="rewrite RESULTS.md from the existing results/rules_cost.json; measure nothing")
    a = p.parse_args(argv)
    quick = a.quick
    services = a.services or (5 if quick else 50)
    series = a.series or (4 if quick else 20)
    days = a.days or (3.0 if quick else 30.0)
    samples = services * series * days * 86400 / a.step
    compacting = not (a.no_compact or quick)
    scale = a.time_scale or (1 / 150 if quick else 1.0)
    min_evals = a.min_evals or (5 if quick else 20)
    warmup = a.warmup_evals if not quick else 1
    # Measured on the 2-core box: about 1.9 µs per sample for synthesis + text + promtool import,
    # ~0.1 s per SLO-day of recording backfill, ~90 s to compact it; each timed run lasts about
    # (warm-up + min-evals) nominal 30s intervals plus a minute of queries. Generous on purpose:
    # a run that outlived the data would see windows emptying.
    runs = 4 * ((min_evals + warmup + 1) * 30 * scale + 90)
    horizon = (a.horizon_seconds if a.horizon_seconds is not None
               else int(60 + samples * 1.9e-6 + services * days * 0.1 + (90 if compacting else 0) + 1.5 * runs))
    params = Params(
        services=services, series=series, days=days, step=a.step, seed=a.seed,
        time_scale=scale, min_evals=min_evals, warmup_evals=warmup,
        backfill_interval="30s",
        horizon_seconds=horizon, reuse=a.reuse_workdir, compact_backfill=compacting, quick=quick,
    )
    a.out_dir = output_dir(a.out_dir, quick=quick, render_only=a.render_only)
    return params, a


def output_dir(given: Path | None, *, quick: bool, render_only: bool = False) -> Path:
    """--out-dir, else bench/ for a full run; a quick run's figures are not results and go to a temp folder."""
    if given is not None:
        return given
    if quick and not render_only:
        return Path(tempfile.mkdtemp(prefix="fireline-rules-cost-quick-"))
    return BENCH


def seconds_of(text: str) -> float:
    return float(rs._go_seconds(text)) if text else NOMINAL_DEFAULT_INTERVAL


def scaled(seconds: float, scale: float) -> str:
    return f"{max(round(seconds * scale * 1000), 50)}ms"


def write_rules(path: Path, groups: list[dict[str, Any]], scale: float = 1.0) -> dict[str, float]:
    """Write a rule file with every group's interval multiplied by scale; return the nominal
    interval (seconds) of each group by name."""
    nominal: dict[str, float] = {}
    out = []
    for g in groups:
        seconds = seconds_of(g.get("interval", ""))
        nominal[g["name"]] = seconds
        g2 = dict(g)
        g2["interval"] = scaled(seconds, scale) if scale != 1.0 else g.get("interval", "30s")
        out.append(g2)
    path.write_text(dump_yaml({"groups": out}), encoding="utf-8")
    return nominal


def group_kind(name: str) -> str:
    if name.startswith("fireline:"):
        if name.endswith(":budget"):
            return "budget (slow group)"
        return "hourly tier (slow group)" if name.endswith(":hourly") else "per-SLO group"
    if name.startswith("sloth-slo-sli-"):
        return "sli recordings"
    if name.startswith("sloth-slo-meta-"):
        return "meta recordings"
    if name.startswith("sloth-slo-alerts-"):
        return "alerts"
    if name.endswith("-increase"):
        return "increase (2m30s)"
    return "burnrates (30s)"


def rule_breakdown(prom: Prometheus) -> dict[str, float]:
    """Which rules the time goes to: each rule's last evaluationTime from /api/v1/rules at the
    end of the timed run, median over the SLOs, in ms (one snapshot, so only indicative)."""
    times: dict[str, list[float]] = {}
    for group in prom.client.get("/api/v1/rules").json()["data"]["groups"]:
        for rule in group["rules"]:
            key = rule["name"]
            if rule["type"] == "alerting":
                # fireline's alert names differ per service: the tier or kind identifies the rule
                labels = rule["labels"]
                window = labels.get("long_window") or labels.get("long")
                if window:
                    key = f"alert {window}"
                elif "sloth_severity" in labels:
                    key = f"alert {labels['sloth_severity']}"
                elif key.endswith("ErrorBudgetLow"):
                    key = f"alert budget {labels.get('fireline_severity', '')}"
                else:
                    key = f"alert {key}"
            times.setdefault(key, []).append(float(rule["evaluationTime"]) * 1000)
    return {k: round(median(v), 3) for k, v in sorted(times.items(), key=lambda kv: -median(kv[1]))}


def required_evals(params: Params, interval: float) -> int:
    """Timed evaluations wanted of a group: min-evals for 30s groups; for slower ones
    (Pyrra's 2m30s SLO-window group) as many as fit in the same wall time, at least 3, since
    20 of them would take 50 minutes per rule set. Their median is then over few evaluations
    per group, but over 50 groups of identical shape."""
    if interval <= NOMINAL_DEFAULT_INTERVAL:
        return params.min_evals
    return max(3, math.ceil(params.min_evals * NOMINAL_DEFAULT_INTERVAL / interval))


def rule_samples(prom: Prometheus, groups: list[dict[str, Any]], nominal: dict[str, float]
                 ) -> tuple[float, float, int]:
    """Prometheus 2.42 has no prometheus_engine_query_samples_total, so the samples a rule set
    reads are measured by running every rule expression once through the query API with
    stats=all (totalQueryableSamples) right after the timed run. Returns (per evaluation of
    every group once, per minute with the nominal intervals, series the recording rules
    return - the series the set adds to Prometheus)."""
    per_round = per_minute = 0.0
    series = 0
    for g in groups:
        for rule in g["rules"]:
            resp = prom.client.get("/api/v1/query", params={"query": rule["expr"], "stats": "all"})
            data = resp.json().get("data", {})
            n = float(data.get("stats", {}).get("samples", {}).get("totalQueryableSamples", 0))
            per_round += n
            per_minute += n * 60.0 / nominal[g["name"]]
            if "record" in rule:
                series += len(data.get("result", []))
    return per_round, per_minute, series


# History beyond the SLO window: a Prometheus that has run longer than the window, so that the hour
# of data at the window's start is whole for every rule set (fireline's hourly tier counts a first,
# partial hour of data as a whole one; docs/series.md).
WARM_HOURS = 2


def measure(name: str, groups: list[dict[str, Any]], blocks: list[Path], work: Path, params: Params,
            data: Dataset, budget_exprs: list[str]) -> dict[str, Any]:
    run_dir = work / f"run-{name}"
    if run_dir.exists():
        shutil.rmtree(run_dir)
    data_dir = run_dir / "data"
    for b in blocks:
        link_blocks(b, data_dir)
    rules_file = run_dir / "rules.yml"
    nominal = write_rules(rules_file, groups, params.time_scale)
    subprocess.run(["promtool", "check", "rules", str(rules_file)], check=True, capture_output=True)
    poll = max(min(nominal.values()) * params.time_scale / 4, 0.05)
    print(f"[{name}] {len(groups)} groups, {sum(len(g['rules']) for g in groups)} rules; timing "
          f"{params.min_evals} evaluations per group (intervals x{params.time_scale:g})", flush=True)
    with Prometheus(run_dir, data_dir, rules_file, scaled(NOMINAL_DEFAULT_INTERVAL, params.time_scale),
                    f"prometheus-{name}") as prom:
        started = time.time()
        if time.time() > data.end:
            raise RuntimeError("the synthetic data ended before this run: raise --horizon-seconds")
        wanted = {g: required_evals(params, iv) for g, iv in nominal.items()}
        warmups = {g: (params.warmup_evals if iv <= NOMINAL_DEFAULT_INTERVAL else 0) for g, iv in nominal.items()}
        max_seconds = 300 + 2 * max((wanted[g] + warmups[g] + 1) * iv for g, iv in nominal.items()) * params.time_scale
        cost: CostSample = collect_costs(prom, wanted, warmups, max_seconds, poll)
        per_rule = rule_breakdown(prom)
        budgets = read_budgets(prom, data, budget_exprs)
        samples_round, samples_minute, recorded_series = rule_samples(prom, groups, nominal)
        ahead = data.end - time.time()
        if ahead < 0:
            raise RuntimeError("the synthetic data ended during this run: raise --horizon-seconds")
    per_min = p95 = 0.0
    by_kind: dict[str, float] = {}
    for gname, g in cost.groups.items():
        group = gname.split(";", 1)[1]
        evals_per_min = 60.0 / nominal[group]
        vals = list(g.durations.values())
        per_min += median(vals) * evals_per_min
        p95 += percentile(vals, 0.95) * evals_per_min
        kind = group_kind(group)
        by_kind[kind] = by_kind.get(kind, 0.0) + median(vals) * evals_per_min
    errors_pp = [abs(b["measured"] - b["truth"]) * 100 for b in budgets if b["measured"] is not None]
    missing = sum(1 for b in budgets if b["measured"] is None)
    result = {
        "eval_seconds_per_minute": per_min,
        "eval_seconds_p95": p95,
        "prometheus_cpu_seconds_per_minute": cost.cpu_seconds_per_minute,
        "other_processes_cores_busy": round(cost.other_cores_busy, 2),
        "rss_bytes": int(cost.rss_max),
        "series_created": recorded_series,
        "head_series_created": int(cost.series_created),
        "samples_per_evaluation_round": samples_round,
        "samples_per_minute": samples_minute,
        "budget_error_pp_max": max(errors_pp) if errors_pp else None,
        "budget_error_pp_median": median(errors_pp) if errors_pp else None,
        "groups": len(groups),
        "rules": sum(len(g["rules"]) for g in groups),
        "evaluations_timed_per_group": {
            f"{int(iv)}s groups": min(len(g.durations) for g in cost.groups.values() if g.interval_seconds == iv)
            for iv in sorted({g.interval_seconds for g in cost.groups.values()})},
        "evaluations_timed_total": sum(len(g.durations) for g in cost.groups.values()),
        "iterations_missed": int(cost.iterations_missed),
        "eval_seconds_per_minute_by_group_kind": by_kind,
        "rule_ms_median_over_slos": per_rule,
        "timed_wall_seconds": round(cost.wall_seconds, 1),
        "data_end_ahead_of_run_end_seconds": round(ahead, 1),
        "run_started": started,
        "budgets_missing": missing,
        "budgets": budgets,
    }
    print(f"[{name}] {per_min:.4f} eval s/min, budget error max {result['budget_error_pp_max']}", flush=True)
    return result


def read_budgets(prom: Prometheus, data: Dataset, exprs: list[str]) -> list[dict[str, Any]]:
    """Each SLO's budget remaining as the rule set computes it, at the last synthetic scrape,
    and the exact value for the same 30 days.

    The figure is the set's own SLO-window expression (taken from its rules, see
    rules_cost_rulesets) evaluated through the query API at t = last scrape, over the raw
    blocks and the backfilled recordings (30s spacing, as after 30 days of running)."""
    window = rs.SLO_WINDOW_DAYS * 86400
    out = []
    for index, expr in enumerate(exprs):
        value = prom.query(expr, at=data.end)
        truth = data.budget_remaining(index, data.end - window, data.end, rs.BUDGET)
        measured = float(value[0]["value"][1]) if value else None
        out.append({"service": data.services[index].job, "at": data.end, "measured": measured, "truth": truth})
    return out


def backfill(jobs: dict[str, list[dict[str, Any]]], source: Prometheus, work: Path, data: Dataset,
             interval: str) -> tuple[dict[str, Path], float]:
    """promtool tsdb create-blocks-from rules against the Prometheus serving the raw TSDB, one
    promtool per rule set, run side by side (2 cores; the source Prometheus does the queries)."""
    procs = []
    outs: dict[str, Path] = {}
    started = time.monotonic()
    for name, groups in jobs.items():
        rules = work / f"backfill-{name}.yml"
        write_rules(rules, groups)
        out = work / f"backfill-{name}-blocks"
        out.mkdir()
        outs[name] = out
        log = (work / f"backfill-{name}.log").open("wb")
        procs.append((name, log, subprocess.Popen([
            "promtool", "tsdb", "create-blocks-from", "rules",
            f"--start={data.start}", f"--end={data.end}", f"--url={source.url}",
            f"--eval-interval={interval}", f"--output-dir={out}",
            # 72h blocks: one range query of 8640 points per rule and block (the API's limit is
            # 11000 points), instead of 36 queries and 36 blocks per rule with the 2h default.
            "--max-block-duration=72h", "--quiet", str(rules),
        ], stdout=log, stderr=subprocess.STDOUT)))
    failed = []
    for name, log, proc in procs:
        if proc.wait() != 0:
            failed.append(name)
        log.close()
    if failed:
        raise RuntimeError(f"rule backfill failed for {failed}; see {work}/backfill-*.log")
    return outs, time.monotonic() - started


def compact(blocks: dict[str, Path], work: Path) -> float:
    """promtool writes one block per rule and 72h range (1,100 blocks for fireline at N=50):
    left like that, every long-window query would open a thousand blocks, which a Prometheus
    that had recorded the rules itself never does. A Prometheus with default compaction (no
    rules) merges them - vertically, then by level - and is stopped once the block count is
    stable. Its first compaction starts a minute after start-up."""
    started = time.monotonic()
    with ExitStack() as stack:
        proms = {name: stack.enter_context(Prometheus(work, path, None, "30s", f"prometheus-compact-{name}",
                                                      compaction=True))
                 for name, path in blocks.items()}
        last: dict[str, tuple[int, float]] = {}
        stable: dict[str, int] = {name: 0 for name in blocks}
        while any(v < 3 for v in stable.values()):
            time.sleep(3)
            for name, prom in proms.items():
                m = prom.metrics()
                triggered = sum(v for _, v in m.get("prometheus_tsdb_compactions_triggered_total", []))
                dirs = [d for d in blocks[name].iterdir() if d.is_dir()]
                busy = any(".tmp" in d.name for d in dirs)
                state = (len(dirs), sum(v for _, v in m.get("prometheus_tsdb_compactions_total", [])))
                if triggered >= 1 and not busy and last.get(name) == state:
                    stable[name] += 1
                else:
                    stable[name] = 0
                last[name] = state
            if time.monotonic() - started > 1800:
                raise RuntimeError("backfilled blocks not compacted after 30 minutes")
    for path in blocks.values():
        for leftover in ("wal", "chunks_head", "lock", "queries.active"):
            target = path / leftover
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
    return time.monotonic() - started


def main(argv: list[str] | None = None) -> int:
    params, args = parse_args(argv)
    if args.render_only:
        # Re-render RESULTS.md from measured figures (e.g. after a text change), nothing re-measured.
        render(args.out_dir, json.loads((args.out_dir / "results" / "rules_cost.json").read_text()))
        return 0
    for tool in ("prometheus", "promtool"):
        if shutil.which(tool) is None:
            print(f"{tool} not found: install Debian's prometheus package (make tools)", file=sys.stderr)
            return 2
    work = args.workdir or Path(tempfile.mkdtemp(prefix="fireline-rules-cost-"))
    work.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    try:
        results = run(params, work, timings)
    except BaseException:
        # keep the logs and TSDBs of a failed run for a look; say where they are
        print(f"rules_cost failed; scratch dir kept: {work}", file=sys.stderr)
        raise
    if not args.keep_workdir:
        shutil.rmtree(work, ignore_errors=True)
    write_outputs(args.out_dir, params, results, timings)
    print(f"wrote {args.out_dir / 'RESULTS.md'} and {args.out_dir / 'results' / 'rules_cost.json'}")
    return 0


def run(params: Params, work: Path, timings: dict[str, float]) -> dict[str, Any]:
    t0 = time.monotonic()
    prepared_file = work / "prepared.json"
    if params.reuse and prepared_file.exists():
        prepared = json.loads(prepared_file.read_text())
        if prepared["params"] != _prep_params(params):
            raise SystemExit(f"{prepared_file} was prepared with {prepared['params']}, not {_prep_params(params)}")
        data, _ = synthesise(params.services, params.series, params.days + WARM_HOURS / 24, prepared["end"],
                             params.step, params.seed)
        timings.update(prepared["timings"])
        n_samples = prepared["samples"]
        print(f"reusing {work} (data ends {data.end}, {data.end - time.time():+.0f}s from now)", flush=True)
        return measure_all(params, work, timings, data, n_samples,
                           {"fireline": work / "backfill-fireline-blocks", "sloth": work / "backfill-sloth-blocks"})
    end = int((time.time() + params.horizon_seconds) // params.step * params.step)
    data, increments = synthesise(params.services, params.series, params.days + WARM_HOURS / 24, end, params.step,
                                   params.seed)
    timings["synthesis_s"] = time.monotonic() - t0
    om = work / "raw.om"
    t = time.monotonic()
    n_samples = write_openmetrics(om, data, increments)
    del increments
    timings["openmetrics_write_s"] = time.monotonic() - t
    timings["openmetrics_bytes"] = om.stat().st_size
    print(f"synthesised {n_samples:,} samples ({om.stat().st_size / 1e9:.2f} GB OpenMetrics) "
          f"in {time.monotonic() - t0:.0f}s; data ends {data.end} ({data.end - time.time():+.0f}s from now)",
          flush=True)
    raw_blocks = work / "raw-blocks"
    raw_blocks.mkdir()
    hours = math.ceil(params.days * 24) + 24
    timings["openmetrics_import_s"] = run_checked([
        "promtool", "tsdb", "create-blocks-from", "openmetrics",
        # one or two long blocks: 2.42 re-parses the whole input once per block it writes
        f"--max-block-duration={hours}h", "--quiet", str(om), str(raw_blocks),
    ], work / "import.log")
    om.unlink()
    print(f"imported in {timings['openmetrics_import_s']:.0f}s", flush=True)

    jobs = [s.job for s in data.services]
    source_dir = work / "source" / "data"
    link_blocks(raw_blocks, source_dir)
    with Prometheus(work / "source", source_dir, None, "30s", "prometheus-backfill-source") as source:
        bf, timings["backfill_s"] = backfill({
            "fireline": rs.fireline_backfill_groups(jobs, params.backfill_interval),
            "sloth": rs.sloth_backfill_groups(jobs, params.backfill_interval),
        }, source, work, data, params.backfill_interval)
    shutil.rmtree(work / "source")
    print(f"backfilled recordings in {timings['backfill_s']:.0f}s "
          f"({sum(1 for p in bf.values() for _ in p.iterdir())} blocks)", flush=True)
    if params.compact_backfill:
        timings["compact_backfill_s"] = compact(bf, work)
        print(f"compacted backfilled blocks in {timings['compact_backfill_s']:.0f}s "
              f"({sum(1 for p in bf.values() for _ in p.iterdir())} blocks)", flush=True)
    prepared_file.write_text(json.dumps({"params": _prep_params(params), "end": data.end, "samples": n_samples,
                                         "timings": timings}), encoding="utf-8")
    return measure_all(params, work, timings, data, n_samples, bf)


def _prep_params(params: Params) -> dict[str, Any]:
    return {"services": params.services, "series": params.series, "days": params.days, "step": params.step,
            "seed": params.seed, "compact": params.compact_backfill}


def measure_all(params: Params, work: Path, timings: dict[str, float], data: Dataset, n_samples: int,
                bf: dict[str, Path]) -> dict[str, Any]:
    t0 = time.monotonic()
    raw_blocks = work / "raw-blocks"
    jobs = [s.job for s in data.services]
    fireline = rs.fireline_groups(jobs)
    sloth = rs.sloth_groups(jobs)
    pyrra = rs.pyrra_groups(jobs)
    fl_blocks, sl_blocks = bf["fireline"], bf["sloth"]

    budget_exprs = {
        "fireline": [rs.fireline_budget_expr(fireline, j) for j in jobs],
        "sloth": [rs.sloth_budget_expr(j) for j in jobs],
        "pyrra": [rs.pyrra_budget_expr(j) for j in jobs],
    }
    plan: list[tuple[str, list[dict[str, Any]], list[Path], str]] = [
        ("fireline", fireline, [raw_blocks, fl_blocks], "fireline"),
        ("sloth", sloth, [raw_blocks, sl_blocks], "sloth"),
        ("pyrra", pyrra, [raw_blocks], "pyrra"),
    ]
    results: dict[str, Any] = {"dataset": {
        "start": data.start, "end": data.end, "samples": n_samples,
        "incidents": sum(len(s.incidents) for s in data.services),
        "incidents_by_kind": _incident_kinds(data),
    }}
    for name, groups, blocks, kind in plan:
        t = time.monotonic()
        results[name] = measure(name, groups, blocks, work, params, data, budget_exprs[kind])
        timings[f"run_{name}_s"] = time.monotonic() - t
        # checkpoint: a failure later still leaves the figures measured so far in the scratch dir
        (work / "partial-results.json").write_text(json.dumps(results, indent=1, default=str), encoding="utf-8")
        shutil.rmtree(work / f"run-{name}", ignore_errors=True)
    timings["timed_runs_total_s"] = time.monotonic() - t0
    return results


def _incident_kinds(data: Dataset) -> dict[str, int]:
    kinds: dict[str, int] = {}
    for s in data.services:
        for inc in s.incidents:
            kinds[inc.kind] = kinds.get(inc.kind, 0) + 1
    return kinds


def _machine() -> dict[str, Any]:
    mem = 0
    with open("/proc/meminfo", encoding="ascii") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) * 1024
    cpu = ""
    with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {"nproc": os.cpu_count(), "memory_bytes": mem, "cpu": cpu, "kernel": platform.release(),
            "prometheus": prometheus_version(), "python": platform.python_version()}


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or not b else a / b


def table(results: dict[str, Any]) -> str:
    names = [n for n in SETS if n in results]
    rows = [
        ("eval s / minute (median-based)", "eval_seconds_per_minute", "{:.4f}"),
        ("eval s / minute (p95-based)", "eval_seconds_p95", "{:.4f}"),
        ("Prometheus CPU s / minute", "prometheus_cpu_seconds_per_minute", "{:.3f}"),
        ("samples read / minute", "samples_per_minute", "{:,.0f}"),
        ("series created", "series_created", "{:,}"),
        ("Prometheus RSS (max)", "rss_bytes", "{}"),
        ("budget error, worst SLO (pp)", "budget_error_pp_max", "{:.4f}"),
        ("budget error, median SLO (pp)", "budget_error_pp_median", "{:.4f}"),
    ]
    head = ["metric", *names, "fireline / sloth", "fireline / pyrra"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for label, key, fmt in rows:
        cells = [label]
        for n in names:
            v = results[n].get(key)
            if v is None:
                cells.append("n/a")
            elif key == "rss_bytes":
                cells.append(f"{v / 2**20:,.0f} MiB")
            else:
                cells.append(fmt.format(v))
        for peer in ("sloth", "pyrra"):
            r = _ratio(results["fireline"].get(key), results[peer].get(key))
            cells.append("n/a" if r is None else f"{r:.3f}x")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_outputs(out_dir: Path, params: Params, results: dict[str, Any], timings: dict[str, float]) -> None:
    machine = _machine()
    param_dict = {
        "services": params.services, "series_per_service": params.series, "days": params.days,
        "scrape_interval_seconds": params.step, "seed": params.seed, "slo_window": f"{rs.SLO_WINDOW_DAYS}d",
        "objective": rs.OBJECTIVE, "time_scale": params.time_scale, "min_evals": params.min_evals,
        "warmup_evals": params.warmup_evals, "backfill_eval_interval": params.backfill_interval,
        "quick": params.quick,
        "horizon_seconds": params.horizon_seconds,
        "machine": machine, "timings_seconds": {k: round(v, 1) for k, v in timings.items()},
        "dataset": results["dataset"],
    }
    # The shape: exactly params/fireline/sloth/pyrra at the top.
    doc: dict[str, Any] = {"params": param_dict}
    for name in SETS:
        doc[name] = results[name]
    (out_dir / "results").mkdir(parents=True, exist_ok=True)
    (out_dir / "results" / "rules_cost.json").write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    render(out_dir, doc)


def render(out_dir: Path, doc: dict[str, Any]) -> None:
    """Print the table and write RESULTS.md from a results document (the JSON as written)."""
    results = {k: v for k, v in doc.items() if k != "params"}
    tbl = table(results)
    print(tbl)
    path = out_dir / "RESULTS.md"
    # A hand-written analysis below the marker survives re-rendering; it names the run it is about.
    kept = ""
    if path.exists() and ANALYSIS_MARKER in path.read_text(encoding="utf-8"):
        kept = "\n" + ANALYSIS_MARKER + path.read_text(encoding="utf-8").split(ANALYSIS_MARKER, 1)[1]
    path.write_text(_results_md(doc["params"], results, tbl) + kept, encoding="utf-8")


def _results_md(p: dict[str, Any], results: dict[str, Any], tbl: str) -> str:
    m = p["machine"]
    goals = []
    f, s, y = results["fireline"], results["sloth"], results["pyrra"]
    for label, subject in (("fireline (as generated)", f),):
        rs_ = subject["eval_seconds_per_minute"] / s["eval_seconds_per_minute"]
        rp = subject["eval_seconds_per_minute"] / y["eval_seconds_per_minute"]
        err = subject["budget_error_pp_max"]
        goals.append(
            f"- {label}: cost {rs_:.3f}x Sloth-shaped (goal <= 0.25: {'met' if rs_ <= 0.25 else 'MISSED'}), "
            f"{rp:.3f}x Pyrra-shaped (goal <= 0.2: {'met' if rp <= 0.2 else 'MISSED'}), worst budget error "
            f"{err:.4f} pp (goal <= 0.05: {'met' if err <= 0.05 else 'MISSED'}); Sloth-shaped worst "
            f"{s['budget_error_pp_max']:.4f} pp.")
    kinds = []
    for name in SETS:
        if name in results:
            by_kind = results[name]["eval_seconds_per_minute_by_group_kind"]
            parts = ", ".join(f"{k} {v:.4f}" for k, v in sorted(by_kind.items()))
            r = results[name]
            evals = ", ".join(f"{k}: {v}" for k, v in r["evaluations_timed_per_group"].items())
            kinds.append(f"| {name} | {r['groups']} | {r['rules']} | {parts} | {evals} | "
                         f"{r['iterations_missed']} | {r['budgets_missing']} | "
                         f"{r.get('other_processes_cores_busy', 'n/a')} |")
    return f"""# bench/rules_cost.py — rule-evaluation cost and budget accuracy

Generated by `.venv/bin/python bench/rules_cost.py{' --quick' if p['quick'] else ''}`; numbers as measured on
this run, nothing edited by hand. Raw figures: `bench/results/rules_cost.json`.

## Result

{tbl}

Ratios are fireline's figure divided by the peer's (lower is better for every row).

{chr(10).join(goals)}

Breakdown (eval s/minute by group kind, median-based), evaluations timed per group (minimum,
by nominal interval), missed iterations, SLOs without a budget figure, and the CPU that other
processes on this shared machine used during the timed run (in cores of 2): rule-group
durations are wall time and grow when other work competes for the CPU; the "Prometheus CPU"
row is much less sensitive to it.

| rule set | groups | rules | eval s/min by kind | evals timed per group | missed | no budget | other load |
|---|---|---|---|---|---|---|---|
{chr(10).join(kinds)}

{_top_rules(results)}
## Machine and parameters

- {m['nproc']} CPUs ({m['cpu']}), {m['memory_bytes'] / 2**30:.1f} GiB memory, Linux {m['kernel']}
- {m['prometheus']}; Python {m['python']}
- N={p['services']} services x M={p['series_per_service']} counter series, {p['days']:g} days
  (and {WARM_HOURS} h before them) at
  {p['scrape_interval_seconds']}s ({p['dataset']['samples']:,} raw samples), seed {p['seed']};
  one availability SLO per service, {p['objective']}% over {p['slo_window']}
- incidents: {p['dataset']['incidents_by_kind']}
- timed evaluations per 30s group: {p['min_evals']} after {p['warmup_evals']} warm-up; slower groups as
  in Method 6; rule intervals x{p['time_scale']:g} while timed (1 = nominal); recordings
  backfilled at {p['backfill_eval_interval']}; data horizon {p.get('horizon_seconds', 'n/a')} s after start
- wall time per phase (s): {p['timings_seconds']}

{_method()}
"""


def _top_rules(results: dict[str, Any]) -> str:
    lines = []
    for name in SETS:
        per_rule = results.get(name, {}).get("rule_ms_median_over_slos")
        if per_rule:
            top = ", ".join(f"`{k}` {v:.2f}" for k, v in list(per_rule.items())[:5])
            lines.append(f"- {name}: {top}")
    if not lines:
        return ""
    return ("Most expensive rules (last evaluationTime from /api/v1/rules at the end of the timed run,\n"
            "median over the SLOs, ms; one snapshot, indicative only):\n\n" + "\n".join(lines) + "\n")


def _method() -> str:
    return """## Method

1. **Data.** Per service, M/2 instances each with a good (`code="200"`) and a bad
   (`code="500"`) counter `http_requests_total{job,instance,code}`, one sample every 30s.
   Traffic per instance is Poisson around a diurnal curve (peak/trough = 10x, peak hour random
   per service); errors are binomial around a background ratio (0.01-0.04%) plus incidents at
   random times: an outage (20-80% errors for 10-45 min, about half the services), a slow burn
   (+0.05-0.2% for 6-36h, 60%), and short spikes (2-10% for 2-10 min, about one per 5 days).
   The data is written as OpenMetrics text (one series at a time, streamed to disk) and imported
   with `promtool tsdb create-blocks-from openmetrics --max-block-duration=...` (a hidden flag in
   2.42: without it promtool writes 2h blocks and re-parses the whole file for each of them).
2. **"Now".** The history ends at an aligned time a little *after* the last timed run will have
   finished (the horizon, estimated from the data size and run lengths, and checked: a run fails
   if the wall clock passes the end of the data). So at every evaluation each window - 5m to
   30d - is full of data at the nominal spacing, for every rule set alike, however long the runs
   before it took. The cost of this: the head refuses samples older than the newest block, so
   the rules' live outputs are discarded (out of bounds); their evaluation is what is timed, and
   the recordings the long windows read are the backfilled ones (step 4), exactly as after 30
   days of running.
3. **Ground truth.** Per SLO, errors and events of every scrape interval summed over instances;
   the truth is the exact errors/events of the scrapes in (end - 30d, end], and budget
   remaining = 1 - (errors/events)/0.001.
4. **Backfilled recordings.** Recording rules only have data from when Prometheus evaluates
   them, so the recordings that later rules read over long windows were backfilled over the
   whole history: fireline's `slo:sli_errors:rate5m` and `slo:sli_total:rate5m`, its hourly tier
   (the 5m rates by hour parity at 30s and the hour counts at 2m30s, from the raw counters with
   `rules.plan.hour_parity_raw_queries` and `hourly_count_raw_queries`, as `stack up --history`
   does), Sloth's `slo:sli_error:ratio_rate5m`. A Prometheus served the raw TSDB (no rules) on 127.0.0.1 and
   `promtool tsdb create-blocks-from rules --start=<first scrape> --end=<last scrape>
   --url=http://127.0.0.1:PORT --eval-interval=30s --max-block-duration=72h rules.yml` (one
   promtool per rule set, side by side; promtool rounds the block length to 54h) wrote one block
   per rule and range. Those ~2,100 small blocks were merged by a Prometheus with default
   compaction and no rules (stopped once the block count was stable), then hard-linked into
   the rule set's data dir next to the raw blocks. All backfilled rules read raw series only,
   so no second pass was needed: the rules reading recorded series (fireline's hourly tier and
   its 1d, 3d and 30d counts, Sloth's 30d average) are the ones being timed. fireline's hour so
   far (`slo:sli_*:hour_to_date_count`) is recorded live and so discarded like every live output:
   the window counts still read their hourly samples and 5m rates (the cost), but yield nothing,
   and the budget figure (step 8) inlines the hour so far from the backfilled 5m rates. The
   backfill interval is the live one (30s), so a 30d range holds as many samples as it would after 30 days of running.
   Pyrra's rules read raw counters only: nothing to backfill.
5. **Rule sets.** fireline: `fireline.rules.generate.rule_groups` on a native spec per service
   (events SLI `sum(rate(http_requests_total{job=..,code=~"5.."}[w]))` over the total), unchanged.
   Sloth-shaped and Pyrra-shaped: reconstructions in `bench/rules_cost_rulesets.py` of the rules
   those tools generate for the same SLO (Sloth v0.16: 3 groups, 8 SLI + 7 metadata recordings,
   2 alerts, every window a ratio of raw rates, 30d = sum_over_time/count_over_time of the 5m
   ratio; Pyrra: a 30s group of 7 burn-rate recordings from raw counters at 30d-scaled windows
   5m..4d6h51m plus 4 alerts, and a 2m30s group with `sum by (code) (increase(...[4w2d]))` on the
   raw counters plus the absent alert).
6. **Timed runs.** One Prometheus 2.42 per rule set, one at a time, identical flags (loopback,
   compaction off with min = max block duration 2h, retention 3650d, no scrape targets), rule
   groups at their nominal intervals (30s; Pyrra's SLO-window group 2m30s). /metrics is polled
   and each group's `prometheus_rule_group_last_duration_seconds` is kept once per new
   `..._last_evaluation_timestamp_seconds`: 20 evaluations of every 30s group after one warm-up
   evaluation; 2m30s groups are timed over the same ~10 minutes (at least 4 evaluations each,
   200 over the 50 identical groups), because 20 of them would take 50 minutes per rule set.
   eval s/minute = sum over groups of median(duration) x evaluations per minute; the p95 row
   uses each group's p95 instead. RSS is the highest `process_resident_memory_bytes` seen.
   Compressed intervals were tried first and rejected: with every interval x0.2, the 150
   Sloth-shaped groups took 1-4 s each instead of ~0.05 s while Prometheus used under half a
   core - the durations measured queueing, not work - so every figure here is at the nominal
   intervals.
7. **Samples and series.** Prometheus 2.42 does not export `prometheus_engine_query_samples_total`.
   After the timed run every rule expression is run once through `/api/v1/query?stats=all` and
   its `totalQueryableSamples` summed, weighted by its group's evaluations per minute. Series
   created = the series the set's recording rules return (counted from the same queries), since
   the live outputs are not appended (step 2).
8. **Budget error.** Each set's budget remaining per SLO, as its own rules compute it, evaluated
   through the query API at t = end over the raw blocks and its backfilled recordings: fireline's
   generated `slo:error_budget_remaining:ratio` rule with the generated rules it reads inlined
   down to the backfilled hourly tier (the 30d ratio, the 30d counts, the hour so far);
   Sloth's `1 - ratio_rate30d / (1-0.999)`; Pyrra records no budget series, so its figure
   is what its UI derives from the increase recording,
   `1 - sum(errors increase) / sum(total increase) / budget`, with the recording's expression
   inlined. Error = |figure - truth| x 100, in percentage points of the budget; worst and median
   over the SLOs.
"""


if __name__ == "__main__":
    raise SystemExit(main())
