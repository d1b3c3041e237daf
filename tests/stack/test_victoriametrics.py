"""`fireline stack up --engine victoriametrics`: VictoriaMetrics, vmagent and vmalert (Debian's
victoria-metrics package) in place of Prometheus, and the whole drill passing on them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from fireline.stack.stack import Ports, down
from tests.conftest import EXAMPLES
from tests.stack.conftest import FIRELINE

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(any(shutil.which(b) is None for b in ("victoria-metrics", "vmagent", "vmalert",
                                                             "prometheus-alertmanager")),
                       reason="needs Debian's victoria-metrics and prometheus-alertmanager (make install)"),
]


def _fireline(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([FIRELINE, *args], capture_output=True, text=True, check=False, timeout=600,
                          env={**os.environ, "COLUMNS": "200"})


@pytest.fixture(scope="module")
def vm_stack(bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, Any]]]:
    state = tmp_path_factory.mktemp("vm") / "stack"
    ports = Ports.free(2)
    try:
        run = _fireline("stack", "up", "--engine", "victoriametrics", "--bundle", str(bundle), "--dir", str(state),
                        "-c", str(EXAMPLES / "fireline.yaml"), "--alertmanager-replicas", "2", "--format", "json",
                        "--prometheus-port", str(ports.prometheus), "--alertmanager-port", str(ports.alertmanager),
                        "--cluster-port", str(ports.cluster), "--fireline-port", str(ports.fireline),
                        "--capture-port", str(ports.capture), "--demo-port", str(ports.demo_service),
                        "--vmagent-port", str(ports.vmagent), "--vmalert-port", str(ports.vmalert))
        assert run.returncode == 0, run.stdout + run.stderr
        yield state, json.loads(run.stdout)
    finally:
        down(state)


def test_the_stack_runs_victoriametrics_vmagent_and_vmalert_not_prometheus(
        vm_stack: tuple[Path, dict[str, Any]]) -> None:
    state, data = vm_stack
    pids = {p.stem for p in (state / "run").glob("*.pid")}
    assert {"victoriametrics", "vmagent", "vmalert"} <= pids and "prometheus" not in pids
    assert data["options"]["engine"] == "victoriametrics"
    # vmalert's rules, seen through VictoriaMetrics' Prometheus-shaped API (proxied), are the bundle's
    rules = httpx.get(f"{data['urls']['prometheus']}/api/v1/rules", timeout=10).json()["data"]["groups"]
    assert "fireline:checkout:availability" in {g["name"] for g in rules}
    status = _fireline("stack", "status", "--dir", str(state))
    assert status.returncode == 0 and "vmalert" in status.stdout and "unhealthy" not in status.stdout


def test_the_whole_drill_passes_on_victoriametrics(vm_stack: tuple[Path, dict[str, Any]]) -> None:
    state, _ = vm_stack
    run = _fireline("drill", "--dir", str(state), "--format", "json")
    assert run.stdout.strip(), run.stderr
    report = json.loads(run.stdout)
    items = {item["number"]: item for item in report["items"]}
    failures = {n: i["details"] for n, i in items.items() if i["status"] == "fail"}
    assert run.returncode == 0 and report["ok"], failures
    assert sorted(items) == [1, 2, 3, 4, 5, 6, 7, 8, 9]
    # every item passes; the runbook item warns only about the example's placeholder link, and the
    # policy item skips: this stack watches no specs (the demo's stack, tests/stack/test_drill.py, does)
    assert all(item["status"] == "pass" for n, item in items.items() if n not in (6, 9))
    assert items[9]["status"] == "skip" and "does not watch" in items[9]["details"][0]
    # the fire drill: real errors from the demo service, recorded and alerted on by vmalert, paged in time
    fire = items[7]
    assert fire["timings"]["page_seconds"] < fire["timings"]["budget_seconds"]
    assert "CheckoutAvailabilityBurn" in fire["evidence"]["alertnames"]
