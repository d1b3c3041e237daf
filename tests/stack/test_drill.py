"""`fireline drill` against real Prometheus 2.42 and Alertmanager 0.25 started by `fireline stack up`.

Short timings (group_wait 3s, group_interval 10s, 5s evaluation) keep the whole checklist,
including the SLO fire drill and the HA failover, around a minute per stack.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from ruamel.yaml import YAML

from fireline.stack.process import http_ok
from fireline.stack.stack import Ports, down
from tests.conftest import EXAMPLES
from tests.stack.conftest import FIRELINE
from tests.stack.demo_story import check_overview_after_the_drill, check_story

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("prometheus") is None or shutil.which("prometheus-alertmanager") is None,
                       reason="needs Debian's prometheus and prometheus-alertmanager"),
]


def _fireline(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    run = subprocess.run([FIRELINE, *args], capture_output=True, text=True, check=False, timeout=600,
                         env={**os.environ, "COLUMNS": "200"})
    if check and run.returncode != 0:
        raise AssertionError(f"fireline {' '.join(args)} exited {run.returncode}\n{run.stdout}\n{run.stderr}")
    return run


def _stack_up(bundle: Path, state: Path, replicas: int, *extra: str) -> dict[str, Any]:
    ports = Ports.free(replicas)
    run = _fireline("stack", "up", "--bundle", str(bundle), "--dir", str(state), "-c", str(EXAMPLES / "fireline.yaml"),
                    "--alertmanager-replicas", str(replicas), "--format", "json", *extra,
                    "--prometheus-port", str(ports.prometheus), "--alertmanager-port", str(ports.alertmanager),
                    "--cluster-port", str(ports.cluster), "--fireline-port", str(ports.fireline),
                    "--capture-port", str(ports.capture), "--demo-port", str(ports.demo_service))
    state_data: dict[str, Any] = json.loads(run.stdout)
    return state_data


def _items(report: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return {item["number"]: item for item in report["items"]}


@pytest.fixture(scope="module")
def demo_stack(bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, Any]]]:
    """What `make demo` starts: two Alertmanagers, the example specs, 30 days of history."""
    state = tmp_path_factory.mktemp("ha") / "stack"
    try:
        data = _stack_up(bundle, state, 2, "--specs", str(EXAMPLES), "--history", "30d")
        data["token"] = Path(data["token_file"]).read_text().strip()
        yield state, data
    finally:
        down(state)


def test_the_demo_story_then_the_full_drill_on_an_ha_stack(demo_stack: tuple[Path, dict[str, Any]],
                                                            tmp_path_factory: pytest.TempPathFactory) -> None:
    ha_stack, data = demo_stack
    check_story(data, tmp_path_factory)
    run = _fireline("drill", "--dir", str(ha_stack), "--format", "json", check=False)
    report = json.loads(run.stdout)
    items = _items(report)
    failures = {n: i["details"] for n, i in items.items() if i["status"] == "fail"}
    assert run.returncode == 0 and report["ok"], failures
    assert sorted(items) == [1, 2, 3, 4, 5, 6, 7, 8, 9]
    assert all(item["status"] == "pass" for n, item in items.items() if n != 6)
    # The example's checkout availability runbook is a placeholder on runbooks.example.com; the rest are files.
    assert items[6]["status"] == "warn"
    assert any("runbooks.example.com" in line for line in items[6]["details"])

    routing = items[1]["evidence"]["payments page"]
    assert routing["delivered"] == ["fireline", "payments-pager", "payments-slack"]
    assert items[1]["evidence"]["payments ticket"]["delivered"] == ["fireline", "payments-slack"]
    timing = items[5]["timings"]
    assert 2.5 <= timing["measured_group_wait"] <= 3 + 2 + 2  # group_wait 3s (+ HA peer wait)
    assert 9.5 <= timing["measured_group_interval"] <= 10 + 2 + 2
    fire = items[7]["timings"]
    assert fire["page_seconds"] <= fire["budget_seconds"] == 180
    assert fire["incident_seconds"] <= 180
    assert report["incident"]["service"] == "checkout"
    assert report["incident"]["timeline"][0]["kind"] == "opened"
    assert "failover_delivery_seconds" in items[8]["timings"]
    policy = items[9]
    assert "tier critical -> lockdown" in policy["details"][0], policy["details"]
    assert policy["evidence"]["expected"] == policy["evidence"]["arrived"] == {
        "leadership/slack": 2, "payments-slack/slack": 1, "sre-lead/pagerduty": 1, "eng-director/pagerduty": 1}
    assert len(policy["evidence"]["incidents"]) == 1
    assert any("refuses a feature deploy" in d for d in policy["details"])
    assert any("allows a hotfix deploy" in d for d in policy["details"])
    check_overview_after_the_drill(data["urls"]["fireline"])

    # The checklist the UI reads is the same report.
    saved = json.loads((ha_stack / "drill" / "last.json").read_text())
    assert saved["run_id"] == report["run_id"] and saved["ok"] is True
    # The killed replica was restarted: the stack is whole again.
    assert _fireline("stack", "status", "--dir", str(ha_stack), check=False).returncode == 0


def _mistaken_bundle(bundle: Path, out: Path) -> Path:
    """BRIEF.md's routing mistake: a severity=critical route without continue above the team routes.
    Also no inhibit rules, and a Slack receiver without send_resolved (two more classic mistakes)."""
    shutil.copytree(bundle, out)
    path = out / "alertmanager" / "alertmanager.yml"
    yaml = YAML(typ="safe")
    data = yaml.load(path.read_text())
    routes = data["route"]["routes"]
    assert routes[0]["receiver"] == "fireline" and routes[0]["continue"] is True
    routes.insert(1, {"receiver": "oncall-pager", "matchers": ['severity="critical"']})
    data["receivers"].append({"name": "oncall-pager", "pagerduty_configs": [
        {"routing_key_file": "/etc/fireline/secrets/oncall.key", "send_resolved": True}]})
    for receiver in data["receivers"]:
        if receiver["name"] == "payments-slack":
            receiver["slack_configs"][0]["send_resolved"] = False
    del data["inhibit_rules"]
    with path.open("w") as fh:
        yaml.dump(data, fh)
    return out


def test_drill_catches_shadowed_team_routes_and_missing_inhibition(bundle: Path, tmp_path: Path) -> None:
    broken = _mistaken_bundle(bundle, tmp_path / "broken")
    state = tmp_path / "stack"
    try:
        _stack_up(broken, state, replicas=1)
        run = _fireline("drill", "--dir", str(state), "--items", "1,2,4", "--format", "json", check=False)
        assert run.returncode == 1, run.stderr
        report = json.loads(run.stdout)
        items = _items(report)
        assert report["ok"] is False
        assert items[1]["status"] == "fail"
        page = next(line for line in items[1]["details"] if line.startswith("payments page:"))
        assert "payments-pager never received the alert" in page
        assert "payments-slack never received the alert" in page
        assert "oncall-pager received it but should not" in page
        # Tickets are not critical: they still reach the team, so the drill does not blame them.
        assert not any(line.startswith("payments ticket:") for line in items[1]["details"])
        assert items[2]["status"] == "fail"
        assert any("payments-slack" in line and "send_resolved: false" in line for line in items[2]["details"])
        assert items[4]["status"] == "fail"
        assert any("the ticket was delivered" in line for line in items[4]["details"])

        text = _fireline("drill", "--dir", str(state), "--items", "1", check=False)
        assert text.returncode == 1
        assert "FAIL  (1) alerts reach exactly the expected receivers" in text.stdout
        assert "payments-pager never received the alert" in text.stdout
    finally:
        down(state)
    assert _fireline("stack", "status", "--dir", str(state), check=False).returncode == 1


def test_unsafe_alertmanager_is_refused_before_any_alert_is_posted(bundle: Path, tmp_path: Path) -> None:
    """An Alertmanager whose routes send drill alerts to PagerDuty/Slack: --safe refuses, exit 2."""
    am_port = Ports.free(1).alertmanager
    config = tmp_path / "am.yml"
    config.write_text((bundle / "alertmanager" / "alertmanager.yml").read_text())
    proc = subprocess.Popen(["prometheus-alertmanager", f"--config.file={config}",
                             f"--storage.path={tmp_path / 'data'}", f"--web.listen-address=127.0.0.1:{am_port}",
                             "--cluster.listen-address="], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            with contextlib.suppress(httpx.HTTPError):
                if http_ok(f"http://127.0.0.1:{am_port}/-/ready"):
                    break
            time.sleep(0.1)
        run = _fireline("drill", "--alertmanager", f"http://127.0.0.1:{am_port}", "-c",
                        str(EXAMPLES / "fireline.yaml"), check=False)
        assert run.returncode == 2
        assert "payments-pager has pagerduty integrations" in " ".join(run.stderr.split())
        alerts = httpx.get(f"http://127.0.0.1:{am_port}/api/v2/alerts").json()
        assert alerts == []
    finally:
        proc.terminate()
        proc.wait(10)
