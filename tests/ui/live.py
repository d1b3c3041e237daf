"""A real fireline serve for the browser tests: real Prometheus with a backfilled week, real processes.

The history is synthetic but complete: raw request counters per service (what the policy engine
measures budgets from) and the `slo:` series the generated recording rules would have recorded
from them (what the UI charts), written as OpenMetrics and turned into TSDB blocks by `promtool
tsdb create-blocks-from openmetrics`. `fireline serve` runs as a process from a fireline.yaml;
the test seeds it only through its own APIs: Alertmanager notifications, a budget exclusion.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from fireline.notify.capture import CaptureServer
from fireline.spec.config import Config
from fireline.stack.drill import DrillReport, ItemResult, write_report
from fireline.yamlout import dump_yaml
from tests.ui.support import AUTH, alert, config_data, notification

STEP = 60  # seconds between samples
RATE = 10.0  # requests per second, every service
HISTORY = timedelta(days=7, hours=12)
# Samples run this far past the moment the fixture starts: every instant query the server makes
# during the test finds fresh data, so budgets do not turn "unknown" (policy.staleness) mid-test.
LEAD = timedelta(minutes=20)
RATIO_WINDOWS = {"5m": 300, "30m": 1800, "1h": 3600, "2h": 7200, "6h": 21600, "1d": 86400, "3d": 259200,
                 "7d": 604800}


@dataclass(frozen=True)
class Burst:
    start: timedelta  # before the fixture's "now"
    length: timedelta
    error_ratio: float


@dataclass(frozen=True)
class Scenario:
    service: str
    objective: float
    base_ratio: float
    bursts: tuple[Burst, ...] = ()

    @property
    def budget(self) -> float:
        return (100 - self.objective) / 100


# checkout: a burst two days ago, another this morning and a fast burn going on now (pages);
# search: a maintenance burst that an exclusion removes from its budget; catalog: quiet.
SCENARIOS = (
    Scenario("catalog", 99.0, 0.0005),
    Scenario("checkout", 99.9, 0.0002, (
        Burst(timedelta(days=2, hours=3), timedelta(hours=1), 0.05),
        Burst(timedelta(hours=5), timedelta(hours=2), 0.02),
        Burst(timedelta(minutes=70), timedelta(minutes=90), 0.02),
    )),
    Scenario("search", 99.5, 0.002, (Burst(timedelta(days=3), timedelta(hours=2), 0.1),)),
)
EXCLUDED = SCENARIOS[2].bursts[0]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class History:
    start: float
    times: list[float] = field(default_factory=list)
    total: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, list[float]] = field(default_factory=dict)


def build_history(now: datetime) -> History:
    anchor = now.timestamp() // STEP * STEP
    start = anchor - HISTORY.total_seconds()
    history = History(start)
    count = int((HISTORY + LEAD).total_seconds() // STEP) + 1
    history.times = [start + i * STEP for i in range(count)]
    for scenario in SCENARIOS:
        total, errors = [0.0], [0.0]
        for t in history.times[1:]:
            ratio = scenario.base_ratio
            for burst in scenario.bursts:
                begin = anchor - burst.start.total_seconds()
                if begin < t <= begin + burst.length.total_seconds():
                    ratio = burst.error_ratio
            total.append(total[-1] + RATE * STEP)
            errors.append(errors[-1] + RATE * STEP * ratio)
        history.total[scenario.service] = total
        history.errors[scenario.service] = errors
    return history


def openmetrics(history: History) -> str:
    """Raw counters, the recorded slo: series over them, and ALERTS for checkout's fast burn."""
    lines = ["# TYPE http_requests counter"]
    for scenario in SCENARIOS:
        total, errors = history.total[scenario.service], history.errors[scenario.service]
        for code, values in (("200", [a - b for a, b in zip(total, errors, strict=True)]), ("500", errors)):
            lines += [f'http_requests_total{{job="{scenario.service}",code="{code}"}} {v:.3f} {t:.0f}'
                      for t, v in zip(history.times, values, strict=True)]
    for window, seconds in RATIO_WINDOWS.items():
        lines.append(f"# TYPE slo:sli_error:ratio_rate{window} gauge")
        lines += _ratio_lines(history, f"slo:sli_error:ratio_rate{window}", seconds, lambda ratio, _s: ratio)
    lines.append("# TYPE slo:error_budget_remaining:ratio gauge")
    lines += _ratio_lines(history, "slo:error_budget_remaining:ratio", RATIO_WINDOWS["7d"],
                          lambda ratio, s: 1 - ratio / s.budget)
    lines.append("# TYPE ALERTS gauge")
    burning = SCENARIOS[1].bursts[-1]
    begin = history.times[0] + HISTORY.total_seconds() - burning.start.total_seconds() + 600
    labels = ('alertname="CheckoutAvailabilityErrorBudgetBurn",alertstate="firing",service="checkout",'
              'slo="availability",team="payments",severity="critical",fireline_severity="page",long_window="1h",'
              'short_window="5m"')
    lines += [f"ALERTS{{{labels}}} 1 {t:.0f}" for t in history.times if t >= begin]
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


def _ratio_lines(history: History, name: str, seconds: int, value: Any) -> list[str]:
    lines = []
    lag = seconds // STEP
    for scenario in SCENARIOS:
        total, errors = history.total[scenario.service], history.errors[scenario.service]
        for i in range(1, len(history.times)):
            j = max(0, i - lag)
            events = total[i] - total[j]
            ratio = (errors[i] - errors[j]) / events
            lines.append(f'{name}{{service="{scenario.service}",slo="availability"}} {value(ratio, scenario):.6g} '
                         f"{history.times[i]:.0f}")
    return lines


def wait_until(check: Any, what: str, timeout: float = 60.0, log: Path | None = None) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except httpx.HTTPError:
            last = None
        if last:
            return last
        time.sleep(0.25)
    tail = log.read_text(errors="replace")[-3000:] if log is not None and log.exists() else ""
    raise AssertionError(f"timed out waiting for {what}\n{tail}")


@contextmanager
def process(argv: list[str], log: Path, env: dict[str, str] | None = None,
            cwd: Path | None = None) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@dataclass
class LiveServer:
    url: str
    prometheus: str
    capture: CaptureServer
    folder: Path
    page_incident: int
    now: datetime

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        response = httpx.request(method, f"{self.url}{path}", headers={**AUTH, "X-Fireline-Actor": "seed"},
                                 timeout=10, **kwargs)
        assert response.status_code < 300, (path, response.status_code, response.text)
        return response.json()


@contextmanager
def live_server(folder: Path) -> Iterator[LiveServer]:
    now = datetime.now(UTC).replace(microsecond=0)
    history = build_history(now)
    source = folder / "history.om"
    source.write_text(openmetrics(history), encoding="utf-8")
    data = folder / "tsdb"
    done = subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics", "--max-block-duration=24h",
                           str(source), str(data)], capture_output=True, text=True, check=False, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    with ExitStack() as stack:
        capture = stack.enter_context(CaptureServer())
        prom_port = free_port()
        prom_url = f"http://127.0.0.1:{prom_port}"
        (folder / "prometheus.yml").write_text("global: {scrape_interval: 1m}\n", encoding="utf-8")
        prom_log = folder / "prometheus.log"
        stack.enter_context(process(
            ["prometheus", f"--config.file={folder / 'prometheus.yml'}", f"--storage.tsdb.path={data}",
             f"--web.listen-address=127.0.0.1:{prom_port}", "--storage.tsdb.retention.time=30d"], prom_log))
        wait_until(lambda: httpx.get(f"{prom_url}/-/ready", timeout=1).status_code == 200, "Prometheus",
                   log=prom_log)

        config = config_data(folder, capture.url, prometheus_url=prom_url)
        Config.model_validate(config)  # a mistake in the test's config shows here, not as a dead server
        config_file = folder / "fireline.yaml"
        config_file.write_text(dump_yaml(config), encoding="utf-8")
        stack_dir = folder / "stack"
        _write_drill(stack_dir)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        env = {**os.environ, "FIRELINE_UI_READ": "open", "FIRELINE_STACK_DIR": str(stack_dir),
               "FIRELINE_CAPTURE_URL": capture.url}
        env.pop("FIRELINE_TOKEN", None)
        serve_log = folder / "serve.log"
        stack.enter_context(process(
            [sys.executable, "-c", "from fireline.cli import main; main()", "serve", "--config", str(config_file),
             "--database", f"sqlite:///{folder / 'fireline.db'}", "--port", str(port), "--log-level", "warning"],
            serve_log, env=env, cwd=folder))
        wait_until(lambda: httpx.get(f"{url}/healthz", timeout=1).status_code == 200, "fireline serve", log=serve_log)
        server = LiveServer(url, prom_url, capture, folder, 0, now)
        _seed(server, serve_log)
        yield server


def _seed(server: LiveServer, log: Path) -> None:
    anchor = datetime.fromtimestamp(server.now.timestamp() // STEP * STEP, UTC)
    start = anchor - EXCLUDED.start
    server.api("POST", "/api/v1/budget/exclusions", json={
        "service": "search", "slo": "availability", "start": start.isoformat(),
        "end": (start + EXCLUDED.length).isoformat(), "reason": "maintenance", "approved_by": "jane.doe",
        "note": "index rebuild, CHG-2211"})
    opened = server.api("POST", "/api/v1/alerts/alertmanager", json=notification(
        alert("checkout", "payments", fingerprint="c1"), group_key='{}:{alertname="CheckoutBurn"}'))
    server.page_incident = int(opened["incident_id"])
    server.api("POST", "/api/v1/alerts/alertmanager", json=notification(
        alert("search", "discovery", fingerprint="s1", severity="warning",
              summary="search availability: error budget burning 3.4x too fast"),
        group_key='{}:{alertname="SearchBurn"}'))
    fired = server.api("POST", "/api/v1/alerts/alertmanager", json=notification(
        alert("catalog", "discovery", fingerprint="k1", summary="catalog availability: brief burn"),
        group_key='{}:{alertname="CatalogBurn"}'))
    server.api("POST", f"/api/v1/incidents/{fired['incident_id']}/resolve",
               json={"note": "recovered by itself", "root_cause": "a cache node restarted"})

    def budgets_settled() -> bool:
        slos = {s["service"]: s for s in server.api("GET", "/api/v1/budget/status")["slos"]}
        # search is measured with its exclusion once its remaining budget is back in the caution tier.
        return (len(slos) == 3 and all(s["known"] for s in slos.values())
                and slos["search"]["tier"] == "caution")

    wait_until(budgets_settled, "the policy engine to measure every budget (with the exclusion)", 90, log)


def _write_drill(stack_dir: Path) -> None:
    """The last drill's checklist as `fireline drill` writes it (its own writer)."""
    report = DrillReport("d-7f3a", "2026-11-29T05:40:00+00:00", "2026-11-29T05:46:12+00:00",
                         {"alertmanagers": ["http://127.0.0.1:9093"]}, True, [
        ItemResult(1, "routing", "alerts reach exactly the expected receivers", "pass", 41.2,
                   ["6 test alerts reached exactly their 9 expected receivers"]),
        ItemResult(2, "resolve", "resolve notifications arrive", "pass", 35.0, ["resolved sent to 9 receivers"]),
        ItemResult(3, "silence", "a silence suppresses, expiring it restores", "pass", 70.1),
        ItemResult(4, "inhibition", "a page inhibits the ticket of the same service and SLO", "pass", 38.4),
        ItemResult(5, "timing", "group_wait and group_interval hold", "warn", 66.0,
                   ["group_interval 5m observed as 5m 9s"]),
        ItemResult(6, "runbooks", "runbook links resolve", "fail", 0.8,
                   ["runbooks/search-availability-ticket.md: file does not exist"]),
        ItemResult(7, "fire drill", "SLO fire drill: errors page and open an incident in time", "pass", 96.3,
                   ["paged 74s after injection (budget 180s)"]),
        ItemResult(8, "ha", "HA pair: one delivery, still delivered with a replica down", "skip", 0.0,
                   ["one Alertmanager replica"]),
    ])
    write_report(report, stack_dir / "drill" / "last.json")
