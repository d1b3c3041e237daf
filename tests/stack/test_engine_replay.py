"""The same backfilled history through Prometheus and through VictoriaMetrics + vmalert: fireline's rules
must page at the same time (within one evaluation interval) and leave the same budget (within 0.1 pp).

History: 7 days and 6 hours of 1-minute scrapes of one service's request counters (0.1% errors), with a
40-minute outage at 15% errors 7 days in. Both engines get the raw samples backfilled, then evaluate
the generated rule file over the past:

- Prometheus: `promtool tsdb create-blocks-from rules` for the recordings, one pass per level of
  the recording chain (ratios from counters, then averages of ratios, then the budget), each
  pass's blocks loaded before the next; the alert expressions then range-queried at the group's
  interval and phase (the instants its recordings were made), which is when the rule manager
  would have found them true, then held for the rule's `for:` (the no-data ticket's).
- VictoriaMetrics: raw samples imported, then `vmalert -replay.timeFrom/-replay.timeTo`, which
  evaluates every group, recordings and alerts, and writes results and ALERTS back.

The figures this measures are quoted in docs/engines.md.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from ruamel.yaml import YAML

from fireline.clients.prometheus import PrometheusClient
from fireline.rules.plan import ERRORS_1H, TOTAL_1H
from fireline.stack.process import free_port
from tests.stack.conftest import FIRELINE

HOURLY = (ERRORS_1H, TOTAL_1H)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(any(shutil.which(b) is None for b in ("prometheus", "promtool", "victoria-metrics", "vmalert")),
                       reason="needs Debian's prometheus and victoria-metrics (make install)"),
]

STEP = 60  # scrape and evaluation interval, seconds
# A whole 7d SLO window of history and 6h more: the budget at the end reads only samples both engines
# have, and one more sample moves it by 1/10,080 of a sample's ratio, not by a visible step.
HOURS = 7 * 24 + 6
TOTAL_RPS, BASE_ERRORS, OUTAGE_ERRORS = 20.0, 0.001, 0.15
OUTAGE = (7 * 24 * 60 + 60, 7 * 24 * 60 + 100)  # minutes into the history: 40 minutes at 15% errors
SPEC = """apiVersion: fireline/v1
kind: Service
metadata:
  name: replay
spec:
  team: sre
  slos:
    - name: availability
      objective: 99
      window: 7d
      description: Requests that do not fail.
      sli:
        events:
          errors: sum(rate(replay_requests_total{code="500"}[{{.window}}]))
          total: sum(rate(replay_requests_total[{{.window}}]))
"""


def _history(start: int) -> list[tuple[int, float, float]]:
    """(t, ok counter, error counter) every STEP seconds; errors at OUTAGE_ERRORS during OUTAGE."""
    rows, ok, err = [], 0.0, 0.0
    for i in range(HOURS * 3600 // STEP + 1):
        minute = i * STEP / 60
        ratio = OUTAGE_ERRORS if OUTAGE[0] <= minute < OUTAGE[1] else BASE_ERRORS
        rows.append((start + i * STEP, ok, err))
        ok += TOTAL_RPS * (1 - ratio) * STEP
        err += TOTAL_RPS * ratio * STEP
    return rows


def _rfc3339(t: int) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _wait(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"{url} not ready after {timeout}s")


class Proc:
    """One server process this test started, stopped by its own handle."""

    def __init__(self, argv: list[str], log: Path, ready: str) -> None:
        self.log = log.open("wb")
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT)
        try:
            _wait(ready)
        except AssertionError:
            self.stop()
            raise AssertionError(log.read_text(errors="replace")[-3000:]) from None

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self.log.close()


def _rules(work: Path) -> tuple[Path, list[dict[str, Any]]]:
    spec = work / "replay.yaml"
    spec.write_text(SPEC, encoding="utf-8")
    subprocess.run([FIRELINE, "generate", str(spec), "-o", str(work / "bundle")], check=True, capture_output=True)
    path = work / "bundle" / "prometheus" / "replay.rules.yml"
    return path, YAML(typ="safe").load(path.read_text(encoding="utf-8"))["groups"]


def _levels(groups: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Recording rules by depth of the chain: level n reads only series recorded at levels below n."""
    recorded = {r["record"] for g in groups for r in g["rules"] if "record" in r}
    level: dict[str, int] = {}

    def depth(name: str) -> int:
        if name not in level:
            rule = next(r for g in groups for r in g["rules"] if r.get("record") == name)
            reads = set(re.findall(r"slo:[a-z_:0-9]+", rule["expr"])) & recorded - {name}
            level[name] = 1 + max((depth(n) for n in reads), default=-1)
        return level[name]

    out: list[dict[str, dict[str, Any]]] = []
    for group in groups:
        for rule in group["rules"]:
            if "record" in rule:
                n = depth(rule["record"])
                while len(out) <= n:
                    out.append({})
                # each rule stays in its group (and interval), so promtool evaluates it at the same cadence
                shell = {k: v for k, v in group.items() if k != "rules"} | {"rules": []}
                laid = out[n].setdefault(group["name"], shell)
                laid["rules"].append(rule)
    return [list(level.values()) for level in out]


def _alert_key(rule: dict[str, Any]) -> str:
    labels = ",".join(f"{k}={v}" for k, v in sorted(rule.get("labels", {}).items()))
    return f"{rule['alert']}{{{labels}}}"


def _interval(group: dict[str, Any]) -> int:
    text = str(group.get("interval") or f"{STEP}s")
    return sum(int(n) * {"h": 3600, "m": 60, "s": 1}[u] for n, u in re.findall(r"(\d+)([hms])", text))


def _first_and_last(points: list[tuple[float, float]], every: int, wait: int) -> tuple[float, float] | None:
    """First and last evaluation at which an alert whose expression was true at `points` was firing:
    with `for: wait`, only once the expression has held at every evaluation of the last `wait` seconds."""
    stamps = [round(t, 3) for t, _ in points]
    held = set(stamps)
    steps = -(-wait // every)  # evaluations the expression must already have been true for
    firing = [t for t in stamps if all(round(t - k * every, 3) in held for k in range(1, steps + 1))]
    return (firing[0], firing[-1]) if firing else None


def _for_seconds(rule: dict[str, Any]) -> int:
    text = str(rule.get("for", "0s"))
    units = {"s": 1, "m": 60, "h": 3600}
    return sum(int(n) * units[u] for n, u in re.findall(r"(\d+)([smh])", text))


Firing = dict[str, tuple[float, float] | None]


def _prometheus_side(work: Path, rules_file: Path, groups: list[dict[str, Any]], rows: list[tuple[int, float, float]],
                     end: int) -> tuple[Firing, float, dict[str, float]]:
    raw = work / "raw.om"
    lines = ["# TYPE replay_requests_total counter"]
    for t, ok, err in rows:
        lines += [f'replay_requests_total{{code="200"}} {ok} {t}', f'replay_requests_total{{code="500"}} {err} {t}']
    raw.write_text("\n".join(lines) + "\n# EOF\n", encoding="utf-8")
    data = work / "prom-data"
    subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics", str(raw), str(data)],
                   check=True, capture_output=True, timeout=300)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    config = work / "prometheus.yml"
    config.write_text(f"global: {{evaluation_interval: {STEP}s}}\n", encoding="utf-8")

    def start() -> Proc:
        return Proc(["prometheus", f"--config.file={config}", f"--storage.tsdb.path={data}",
                     f"--web.listen-address=127.0.0.1:{port}", "--storage.tsdb.retention.time=30d"],
                    work / "prometheus.log", f"{url}/-/ready")

    yaml = YAML(typ="safe")
    for level in _levels(groups):
        prom = start()
        try:
            # One path for every level: promtool places a group's evaluations by a hash of its name and
            # file, so the same file keeps each group at one phase through the chain, as the rule
            # manager evaluates it (a rule reading one recorded at another phase would lag behind it).
            level_file = work / "levels.rules.yml"
            with level_file.open("w", encoding="utf-8") as handle:
                yaml.dump({"groups": level}, handle)
            subprocess.run(["promtool", "tsdb", "create-blocks-from", "rules", f"--url={url}",
                            f"--start={rows[0][0]}", f"--end={end}", f"--eval-interval={STEP}s",
                            f"--output-dir={data}", str(level_file)], check=True, capture_output=True, timeout=600)
        finally:
            prom.stop()
    prom = start()
    try:
        client = PrometheusClient(url, timeout=120)
        first = datetime.fromtimestamp(rows[0][0], UTC)
        last = datetime.fromtimestamp(end, UTC)
        firing: Firing = {}
        phases: dict[str, float] = {}
        for group in groups:
            every = _interval(group)
            # promtool evaluates a group at its own phase within the interval (as the rule manager does);
            # the group's alerts are evaluated at that phase too, so they read recordings of the same instant
            # (a series recorded at every evaluation: the hour counts are recorded once an hour)
            recorded = next(r["record"] for r in group["rules"] if "record" in r and r["record"] not in HOURLY)
            stamp = client.query_value(f"timestamp({recorded})", last)
            assert stamp is not None, f"promtool recorded no {recorded}"
            phase = timedelta(seconds=(stamp - rows[0][0]) % every)
            for rule in group["rules"]:
                if "alert" in rule:
                    # true at an evaluation means firing once it has been true for the rule's `for:`
                    # (the no-data ticket's 15m; the burn alerts have none)
                    series = client.query_range(rule["expr"], first + phase, last, every)
                    firing[_alert_key(rule)] = _first_and_last(series[0].points if series else [], every,
                                                               _for_seconds(rule))
                    phases[_alert_key(rule)] = phase.total_seconds()
        budget = client.query_value("slo:error_budget_remaining:ratio", last)
        assert budget is not None
        return firing, budget, phases
    finally:
        prom.stop()


def _victoriametrics_side(work: Path, rules_file: Path, groups: list[dict[str, Any]],
                          rows: list[tuple[int, float, float]], end: int
                          ) -> tuple[Firing, float]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    vm = Proc(["victoria-metrics", f"-httpListenAddr=127.0.0.1:{port}", f"-storageDataPath={work / 'vm-data'}",
               "-retentionPeriod=30d", "-search.disableCache", "-search.latencyOffset=0s"],
              work / "victoria-metrics.log", f"{url}/health")
    try:
        body = "".join(f'replay_requests_total{{code="200"}} {ok} {t * 1000}\n'
                       f'replay_requests_total{{code="500"}} {err} {t * 1000}\n' for t, ok, err in rows)
        httpx.post(f"{url}/api/v1/import/prometheus", content=body, timeout=120).raise_for_status()
        httpx.get(f"{url}/internal/force_flush", timeout=60).raise_for_status()
        # vmalert's replay mode refuses `query` in annotation templates (live vmalert runs them); annotations
        # decide nothing about when an alert fires, so the replayed file goes without them.
        replayed = work / "replayed.rules.yml"
        bare = [{**g, "rules": [{k: v for k, v in r.items() if k != "annotations"} for r in g["rules"]]}
                for g in groups]
        replayed.write_text(json.dumps({"groups": bare}), encoding="utf-8")
        replay = subprocess.run(
            ["vmalert", f"-rule={replayed}", f"-datasource.url={url}", f"-remoteWrite.url={url}",
             f"-replay.timeFrom={_rfc3339(rows[0][0])}", f"-replay.timeTo={_rfc3339(end)}",
             # queryStep 0: each range query steps at the group's interval (its 5m default would record
            # one point in ten at a 30s interval)
            f"-evaluationInterval={STEP}s", "-datasource.queryStep=0s", "-replay.disableProgressBar",
             "-replay.rulesDelay=3s", "-remoteWrite.flushInterval=500ms", "-disableAlertgroupLabel",
             f"-httpListenAddr=127.0.0.1:{free_port()}"],
            capture_output=True, text=True, timeout=900, check=False)
        assert replay.returncode == 0, replay.stdout[-3000:] + replay.stderr[-3000:]
        httpx.get(f"{url}/internal/force_flush", timeout=60).raise_for_status()
        time.sleep(2)
        client = PrometheusClient(url, timeout=120)
        last = datetime.fromtimestamp(end, UTC)
        firing: Firing = {}
        for group in groups:
            for rule in group["rules"]:
                if "alert" in rule:
                    matchers = [f'alertname="{rule["alert"]}"', 'alertstate="firing"',
                                *(f'{k}="{v}"' for k, v in sorted(rule.get("labels", {}).items()))]
                    # the raw ALERTS samples vmalert wrote, one per evaluation that fired (no query lookback)
                    exported = httpx.get(f"{url}/api/v1/export", timeout=60, params={
                        "match[]": f"ALERTS{{{','.join(matchers)}}}", "start": rows[0][0], "end": end})
                    exported.raise_for_status()
                    stamps = sorted(t / 1000 for line in exported.text.splitlines() if line.strip()
                                    for t in json.loads(line)["timestamps"])
                    firing[_alert_key(rule)] = (stamps[0], stamps[-1]) if stamps else None
        budget = client.query_value("slo:error_budget_remaining:ratio", last)
        assert budget is not None
        return firing, budget
    finally:
        vm.stop()


def test_prometheus_and_vmalert_page_alike_and_leave_the_same_budget(tmp_path: Path) -> None:
    work = tmp_path
    now = int(time.time())
    end = now - now % 3600 - 4 * 3600  # whole hours, before Prometheus' head block range
    start = end - HOURS * 3600
    rows = _history(start)
    rules_file, groups = _rules(work)
    prom_firing, prom_budget, phases = _prometheus_side(work, rules_file, groups, rows, end)
    vm_firing, vm_budget = _victoriametrics_side(work, rules_file, groups, rows, end)

    report = {key: (prom_firing[key], vm_firing.get(key)) for key in prom_firing}
    tolerance = {_alert_key(r): _interval(g) for g in groups for r in g["rules"] if "alert" in r}
    print("\nalert: Prometheus first/last firing vs vmalert, seconds after the outage began")
    outage = start + OUTAGE[0] * 60
    for key, (p, v) in report.items():
        print(f"  {key}: {p and (p[0] - outage, p[1] - outage)} vs {v and (v[0] - outage, v[1] - outage)}")
    print(f"budget remaining: Prometheus {prom_budget:.6f}, VictoriaMetrics {vm_budget:.6f}")

    paged = [key for key, (p, _) in report.items() if p is not None]
    # the outage pages on the fast tiers (it must, or the comparison shows nothing)
    assert any("long_window=1h" in key for key in paged) and any("long_window=6h" in key for key in paged), report
    for key, (p, v) in report.items():
        # An expression that only touches its threshold (the 1d ticket of this history, at the edge
        # for one evaluation; the engines' rate() differ by a hair, docs/engines.md) may be true at a
        # single evaluation on one engine and at none on the other: one evaluation apart, no more.
        once = [x for x in (p, v) if x is not None]
        assert (p is None) == (v is None) or (len(once) == 1 and once[0][0] == once[0][1]), (
            f"{key}: Prometheus {p}, vmalert {v}")
        if p is not None and v is not None:
            # The rulers evaluate at different instants of the interval (Prometheus at its group's phase,
            # vmalert on the grid): compare evaluations, which must be at most one apart.
            every = tolerance[key]
            for what, pt, vt in (("first", p[0], v[0]), ("last", p[1], v[1])):
                apart = round((vt - start) / every) - round((pt - start - phases[key]) / every)
                assert abs(apart) <= 1, f"{key} {what} fired {apart:+d} evaluations apart ({vt - pt:+.1f}s)"
    assert abs(prom_budget - vm_budget) * 100 <= 0.1, (prom_budget, vm_budget)
    # and both are the budget the counters say is left over the SLO window (the last 7 days), within 0.1 pp
    window_start = end - 7 * 86400
    minutes = [i * STEP / 60 for i in range(len(rows) - 1) if rows[i][0] >= window_start]
    errors = sum(OUTAGE_ERRORS if OUTAGE[0] <= m < OUTAGE[1] else BASE_ERRORS for m in minutes) / len(minutes)
    exact = 1 - errors / 0.01
    print(f"budget remaining from the counters: {exact:.6f}")
    assert abs(prom_budget - exact) * 100 <= 0.1 and abs(vm_budget - exact) * 100 <= 0.1, (exact, prom_budget,
                                                                                          vm_budget)
