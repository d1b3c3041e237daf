"""`fireline lint --prometheus URL` against a real Prometheus the test starts on a free port.

The server loads one rule file; the test lints another that differs from it the ways a deployment
drifts: a rule not deployed, a rule deployed with another expression, a rule whose evaluation
fails, a metric that does not exist, a range longer than the retention.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from fireline.cli import app
from fireline.lint.checks.live import EVAL_TIME, ServerState, _Live, retention_of
from fireline.lint.model import LintContext
from fireline.lint.runner import lint
from fireline.slo.durations import Duration

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("prometheus") is None, reason="prometheus is needed (Debian package prometheus)"),
]

LOADED = """\
groups:
  - name: api
    interval: 1s
    rules:
      - alert: ApiDown
        expr: up == 0
        labels: {severity: warning}
      - alert: TooManyTargets
        expr: count(up) > 5
        labels: {severity: warning}
      - record: job:up:joined
        expr: up * on () up
"""
LINTED = """\
groups:
  - name: api
    interval: 1s
    rules:
      - alert: ApiDown
        expr: up==0
        labels: {severity: warning}
      - alert: TooManyTargets
        expr: count(up) > 1
        labels: {severity: warning}
      - record: job:up:joined
        expr: up * on () up
      - alert: NotDeployed
        expr: rate(http_requests_totl[5m]) > 1
        labels: {severity: warning}
  - name: slo
    rules:
      - alert: MonthlyUptime
        expr: avg_over_time(up[30d]) < 0.99
        labels: {severity: warning}
      - alert: ErrorBudgetBurn
        expr: (1 - avg_over_time(up[1h])) / 0.001 > 14.4 and (1 - avg_over_time(up[5m])) / 0.001 > 14.4
        labels: {severity: critical}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("live")
    port = free_port()
    (tmp / "rules.yml").write_text(LOADED)
    # Two scrape jobs of itself: `up` has two series, so `up * on () up` fails with many-to-many matching.
    (tmp / "prometheus.yml").write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        f"rule_files: [{tmp / 'rules.yml'}]\n"
        "scrape_configs:\n"
        f"  - job_name: self\n    static_configs: [{{targets: ['127.0.0.1:{port}']}}]\n"
        f"  - job_name: self-again\n    static_configs: [{{targets: ['127.0.0.1:{port}']}}]\n"
    )
    log = (tmp / "prometheus.log").open("wb")
    process = subprocess.Popen(
        ["prometheus", f"--config.file={tmp / 'prometheus.yml'}", f"--storage.tsdb.path={tmp / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}", "--storage.tsdb.retention.time=2d"],
        stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # ready, scraped, and the failing rule evaluated once
            assert process.poll() is None, (tmp / "prometheus.log").read_text()[-2000:]
            try:
                groups = httpx.get(f"{url}/api/v1/rules", timeout=2).json()["data"]["groups"]
                up = httpx.get(f"{url}/api/v1/query", params={"query": "count(up == 1)"}, timeout=2).json()
                if up["data"]["result"] and up["data"]["result"][0]["value"][1] == "2" and any(
                    r.get("lastError") for g in groups for r in g["rules"]
                ):
                    break
            except (httpx.HTTPError, KeyError, ValueError):
                pass
            time.sleep(0.3)
        else:
            pytest.fail("prometheus did not scrape and evaluate within 60s")
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_live_checks_find_what_differs_from_the_running_server(prometheus: str, tmp_path: Path) -> None:
    path = tmp_path / "rules.yml"
    path.write_text(LINTED)
    result = lint([path], promtool=None, amtool=None, prometheus=prometheus)
    live = sorted((f.line, f.check) for f in result.findings if f.check.startswith("live/"))
    assert live == [
        (9, "live/not-loaded"),  # TooManyTargets runs with another threshold
        (12, "live/eval-error"),  # many-to-many matching
        (13, "live/not-loaded"),  # NotDeployed
        (14, "live/missing-series"),  # http_requests_totl
        (18, "live/not-loaded"),  # group slo is not deployed at all
        (19, "live/retention"),  # 30d range, 2d kept
        (21, "live/not-loaded"),
        (21, "live/retention"),  # a burn-rate alert on 2d of history for a 30d SLO
    ]
    messages = {f.line: f.message for f in result.findings if f.check in ("live/eval-error", "live/retention")}
    assert "many-to-many" in messages[12]
    assert "keeps 2d" in messages[19]


def test_disabling_live_checks_and_an_unreachable_server(prometheus: str, tmp_path: Path) -> None:
    path = tmp_path / "rules.yml"
    path.write_text(LINTED)
    quiet = lint([path], promtool=None, amtool=None, prometheus=prometheus,
                 disabled={"live/not-loaded", "live/retention"})
    assert {f.check for f in quiet.findings if f.check.startswith("live/")} == {"live/eval-error",
                                                                              "live/missing-series"}
    result = CliRunner().invoke(app, ["lint", str(path), "--prometheus", f"http://127.0.0.1:{free_port()}",
                                      "--disable", "rules/promtool"])
    assert result.exit_code == 2
    assert "--prometheus: cannot reach Prometheus" in result.stderr


def test_evaluation_time_over_the_interval_is_reported(prometheus: str, tmp_path: Path) -> None:
    # A real server's fast group is not reported; one slower than its interval is (the same API shape).
    path = tmp_path / "rules.yml"
    path.write_text(LINTED)
    state_groups = httpx.get(f"{prometheus}/api/v1/rules", timeout=5).json()["data"]["groups"]
    from fireline.lint.files import load

    rule_files, _, _ = load([path])
    ctx = LintContext(slo_period=Duration.parse("30d"), rule_files=rule_files)
    fast = _Live(ServerState(prometheus, groups=state_groups), ctx, off=set())
    assert not [f for f, _ in fast.findings() if f.check == EVAL_TIME.id]
    slow_groups = [{**g, "evaluationTime": 2.5} for g in state_groups]
    slow = _Live(ServerState(prometheus, groups=slow_groups), ctx, off=set())
    assert [(f.line, f.check) for f, _ in slow.findings() if f.check == EVAL_TIME.id] == [(2, "live/eval-time")]


def test_retention_text() -> None:
    assert retention_of("15d") == Duration.parse("15d")
    assert retention_of("15d or 512MiB") == Duration.parse("15d")
    assert retention_of("512MiB") is None
