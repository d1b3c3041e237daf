"""The gate over HTTP (200/423/503 JSON) and `fireline gate check` exit codes for every tier x change class,
with the policy extension mounted in a real `fireline serve` app listening on loopback."""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import uvicorn
from typer.testing import CliRunner

from fireline.cli import app as cli_app
from fireline.clients.prometheus import PrometheusClient
from fireline.policy.engine import PolicyEngine, prometheus_query
from fireline.policy.server import MIGRATIONS, PolicyRuntime, extension
from fireline.policy.settings import ChangeClass
from fireline.server.app import create_app
from fireline.server.context import make_context
from fireline.server.db import migrate, register_migrations
from fireline.spec.config import Config

from .conftest import CaptureServer, PrometheusServer, free_port
from .harness import SPEC, config_for

TOKEN = "gate-test-token-93ab"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
# A first measurement at each of these instants of the history lands in that tier (worse each time).
TIER_AT = {
    "normal": datetime(2026, 9, 9, 12, tzinfo=UTC), "caution": datetime(2026, 9, 10, 12, tzinfo=UTC),
    "alert": datetime(2026, 9, 11, 12, tzinfo=UTC), "critical": datetime(2026, 9, 12, 12, tzinfo=UTC),
    "lockdown": datetime(2026, 9, 13, 12, tzinfo=UTC),
}
FROZEN = {"normal": set(), "caution": set(), "alert": {"feature"}, "critical": {"feature"},
          "lockdown": {"feature", "critical"}}


@dataclass
class Served:
    url: str
    engine: PolicyEngine


@pytest.fixture
def served(tmp_path: Path, prometheus: PrometheusServer, capture: CaptureServer) -> Iterator[Served]:
    key = tmp_path / "pd-key"
    key.write_text("R0UTINGKEY0123456789abcdef012345", encoding="utf-8")
    spec = tmp_path / "checkout.yaml"
    spec.write_text(SPEC, encoding="utf-8")
    base = config_for(capture.url, prometheus.url, key)
    config = Config.model_validate({**base.model_dump(by_alias=True, exclude_none=True, mode="json"),
                                    "specs": [str(spec)]})
    url = f"sqlite:///{tmp_path / 'serve.db'}"
    register_migrations(MIGRATIONS)
    migrate(url)
    ctx = make_context(config, database=url, token=TOKEN)
    runtime = PolicyRuntime()
    policy = extension(runtime)
    app = create_app(ctx, extensions=[policy], run_scheduler=False)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    assert runtime.engine is not None
    try:
        yield Served(f"http://127.0.0.1:{port}", runtime.engine)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        ctx.db.dispose()


def gate_cli(url: str, change: str, *extra: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli_app, ["gate", "check", "--service", "checkout", "--change", change,
                                          "--server", url, *extra], env={"FIRELINE_TOKEN": TOKEN})
    return result.exit_code, result.output


def test_gate_answers_and_cli_exit_codes_for_every_tier_and_change_class(served: Served) -> None:
    seen = []
    for tier, at in TIER_AT.items():
        served.engine.run_cycle(at)
        for change in ChangeClass:
            response = httpx.get(f"{served.url}/api/v1/gate/checkout", params={"change": str(change)}, headers=AUTH)
            body = response.json()
            refused = str(change) in FROZEN[tier]
            assert response.status_code == (423 if refused else 200), (tier, change, body)
            assert body["allowed"] is (not refused)
            assert body["slos"][0]["tier"] == tier
            if refused:
                assert body["tier"] == tier and body["since"] == at.isoformat()
                assert f"{change} changes are frozen" in body["reason"]
            code, output = gate_cli(served.url, str(change))
            assert code == (1 if refused else 0), output
            assert output.startswith("refused: " if refused else "allowed: ")
            assert len(output.strip().splitlines()) == 1
            seen.append((tier, str(change)))
    assert len(seen) == 15

    metrics = httpx.get(f"{served.url}/metrics").text
    assert 'fireline_policy_tier{service="checkout",slo="availability",tier="lockdown"} 1.0' in metrics
    assert 'fireline_policy_frozen{change="critical",service="checkout",slo="availability"} 1.0' in metrics
    assert 'fireline_policy_budget_known{service="checkout",slo="availability"} 1.0' in metrics

    # Prometheus goes away: the budget is unknown, the lockdown freeze stays, hotfixes are "unknown".
    dead = PrometheusClient(f"http://127.0.0.1:{free_port()}", timeout=2)
    served.engine.query = prometheus_query(dead)
    served.engine.run_cycle(datetime(2026, 9, 13, 12, 1, tzinfo=UTC))
    feature = httpx.get(f"{served.url}/api/v1/gate/checkout", params={"change": "feature"}, headers=AUTH)
    assert feature.status_code == 423 and "currently unknown" in feature.json()["reason"]
    hotfix = httpx.get(f"{served.url}/api/v1/gate/checkout", params={"change": "hotfix"}, headers=AUTH)
    assert hotfix.status_code == 503 and hotfix.json()["allowed"] is None and hotfix.json()["tier"] == "unknown"
    assert gate_cli(served.url, "feature")[0] == 1
    assert gate_cli(served.url, "hotfix")[0] == 2
    assert gate_cli(served.url, "hotfix", "--on-unknown", "allow")[0] == 0
    assert gate_cli(served.url, "hotfix", "--on-unknown", "deny")[0] == 1
    assert 'fireline_policy_budget_known{service="checkout",slo="availability"} 0.0' in \
        httpx.get(f"{served.url}/metrics").text
    # The server itself unreachable.
    nowhere = f"http://127.0.0.1:{free_port()}"
    assert gate_cli(nowhere, "hotfix")[0] == 2
    assert gate_cli(nowhere, "hotfix", "--on-unknown", "allow")[0] == 0
    assert gate_cli(nowhere, "feature", "--on-unknown", "deny")[0] == 1


def test_bad_input_is_4xx_naming_the_field(served: Served) -> None:
    bad_change = httpx.get(f"{served.url}/api/v1/gate/checkout", params={"change": "yolo"}, headers=AUTH)
    assert bad_change.status_code == 422 and bad_change.json()["detail"][0]["field"] == "query.change"
    assert httpx.get(f"{served.url}/api/v1/gate/nosuch", headers=AUTH).status_code == 404
    assert httpx.get(f"{served.url}/api/v1/gate/checkout").status_code == 401
    code, output = gate_cli(served.url, "feature")  # never measured yet: unknown
    assert code == 2 and output.startswith("unknown: ")

    exclusions = f"{served.url}/api/v1/budget/exclusions"
    body = {"service": "checkout", "slo": "availability", "start": "2026-09-13T10:00:00Z",
            "end": "2026-09-13T11:00:00Z", "reason": "platform-outage", "approved_by": "jane.doe"}
    reversed_ = httpx.post(exclusions, json={**body, "end": "2026-09-13T09:00:00Z"}, headers=AUTH)
    assert reversed_.status_code == 422 and "end must be after start" in reversed_.text
    wrong_reason = httpx.post(exclusions, json={**body, "reason": "bad-luck"}, headers=AUTH)
    assert wrong_reason.status_code == 422 and wrong_reason.json()["detail"][0]["field"] == "reason"
    assert httpx.post(exclusions, json={**body, "slo": "nosuch"}, headers=AUTH).status_code == 404
    created = httpx.post(exclusions, json=body, headers={**AUTH, "X-Fireline-Actor": "bob"})
    assert created.status_code == 201, created.text
    exclusion_id = created.json()["id"]
    assert [e["id"] for e in httpx.get(exclusions, headers=AUTH).json()["exclusions"]] == [exclusion_id]
    assert httpx.delete(f"{exclusions}/{exclusion_id}", headers=AUTH).status_code == 200
    assert httpx.get(exclusions, headers=AUTH).json()["exclusions"] == []
    assert httpx.delete(f"{exclusions}/999", headers=AUTH).status_code == 404
    audit = httpx.get(f"{served.url}/api/v1/policy/audit", params={"event": "exclusion-added"}, headers=AUTH).json()
    assert [(r["actor"], r["inputs"]["approved_by"]) for r in audit["records"]] == [("bob", "jane.doe")]

    runner = CliRunner()
    env = {"FIRELINE_TOKEN": TOKEN}
    result = runner.invoke(cli_app, ["budget", "exclude", "--service", "checkout", "--slo", "availability",
                                     "--from", "2026-09-13T10:00:00Z", "--to", "2026-09-13T11:00:00Z",
                                     "--reason", "maintenance", "--approved-by", "jane", "--server", served.url],
                           env=env)
    assert result.exit_code == 0 and result.output.startswith("exclusion #"), result.output
    result = runner.invoke(cli_app, ["budget", "exclude", "--service", "checkout", "--from", "2026-09-13T10:00:00",
                                     "--to", "2026-09-13T11:00:00Z", "--reason", "maintenance", "--approved-by",
                                     "jane", "--server", served.url], env=env)
    assert result.exit_code == 2 and "--from" in result.output and "Traceback" not in result.output
    served.engine.run_cycle(TIER_AT["critical"])
    status = runner.invoke(cli_app, ["budget", "status", "--server", served.url], env=env)
    assert status.exit_code == 0 and "checkout" in status.output and "critical" in status.output


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[str]:
    binary = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    if binary is None:
        pytest.skip("Alertmanager is needed (Debian package prometheus-alertmanager)")
    config = tmp_path / "alertmanager.yml"
    config.write_text("route: {receiver: blackhole}\nreceivers: [{name: blackhole}]\n", encoding="utf-8")
    port = free_port()
    process = subprocess.Popen([binary, f"--config.file={config}", f"--storage.path={tmp_path / 'am'}",
                                f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/-/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline and process.poll() is None, "alertmanager did not start"
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_maintenance_exclusion_creates_and_expires_an_alertmanager_silence(served: Served, alertmanager: str) -> None:
    served.engine.config = served.engine.config.model_copy(update={
        "alertmanager": served.engine.config.alertmanager.model_copy(update={"url": alertmanager})})
    start = datetime.now(UTC).replace(microsecond=0)
    body = {"service": "checkout", "start": start.isoformat(), "end": (start + timedelta(hours=2)).isoformat(),
            "reason": "maintenance", "approved_by": "jane.doe", "note": "DB upgrade", "silence": True}
    outage = httpx.post(f"{served.url}/api/v1/budget/exclusions", json={**body, "reason": "platform-outage"},
                        headers=AUTH)
    assert outage.status_code == 422 and "maintenance" in outage.text
    created = httpx.post(f"{served.url}/api/v1/budget/exclusions", json=body, headers=AUTH)
    assert created.status_code == 201, created.text
    silence_id = created.json()["silence_id"]
    silence = httpx.get(f"{alertmanager}/api/v2/silence/{silence_id}").json()
    assert silence["status"]["state"] == "active" and silence["createdBy"] == "jane.doe"
    assert silence["matchers"] == [{"name": "service", "value": "checkout", "isRegex": False, "isEqual": True}]
    revoked = httpx.delete(f"{served.url}/api/v1/budget/exclusions/{created.json()['id']}", headers=AUTH)
    assert revoked.status_code == 200
    assert httpx.get(f"{alertmanager}/api/v2/silence/{silence_id}").json()["status"]["state"] == "expired"
