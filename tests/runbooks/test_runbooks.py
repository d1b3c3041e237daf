"""Generated runbooks and the error-budget policy: golden files, required sections, spec content."""

from __future__ import annotations

import os
import re
import textwrap
from pathlib import Path

import pytest

from fireline.runbooks.generate import CAUSE_TITLES, REQUIRED_SECTIONS, render_runbooks, runbook_files
from fireline.spec.config import Config
from fireline.spec.errors import SpecError
from fireline.spec.loader import load_config, load_services
from fireline.spec.models import CAUSE_RUNBOOKS, ServiceSpec

ROOT = Path(__file__).parents[2]
EXAMPLES = ROOT / "examples"
GOLDEN = Path(__file__).parent / "golden"

OPERATED_SPEC = """\
apiVersion: fireline/v1
kind: Service
metadata: {name: ledger}
spec:
  team: payments
  dashboard: https://grafana.example.com/d/ledger
  operations:
    rollback: |
      kubectl -n ledger rollout undo deployment/ledger

      kubectl -n ledger rollout status deployment/ledger
    scale: kubectl -n ledger scale deployment/ledger --replicas=12
    logs: stern -n ledger ledger --since 15m | grep -E 'level=(error|fatal)'
    feature_flag: flagctl disable ledger-new-posting-path
    failover: ./failover.sh --to eu-west-2
  escalation:
    - {role: on-call engineer, contact: "@ledger-oncall"}
    - {role: team lead, contact: "@dana"}
    - {role: engineering director, contact: "+44 20 7946 0000"}
  warnings:
    - runbook: high-cpu
      alert: LedgerHighCPU
      query: 'sum(rate(process_cpu_seconds_total{job="ledger"}[5m])) > 3'
    - {runbook: dependency-down, alert: LedgerPSPDown, name: psp-down,
       notes: "The PSP status page: https://status.psp.example"}
  slos:
    - name: availability
      objective: 99.95
      sli:
        events:
          errors: sum(rate(ledger_requests_total{code=~"5.."}[{{.window}}]))
          total: sum(rate(ledger_requests_total[{{.window}}]))
      alerting:
        ticket: {disable: true}
"""


def example_services() -> list[ServiceSpec]:
    return [loaded.spec for loaded in load_services([EXAMPLES])]


def example_config() -> Config:
    return load_config(EXAMPLES / "fireline.yaml")


def operated_service(tmp_path: Path) -> ServiceSpec:
    path = tmp_path / "ledger.yaml"
    path.write_text(OPERATED_SPEC, encoding="utf-8")
    return load_services([path])[0].spec


def headings(text: str) -> list[str]:
    return [line[3:] for line in text.splitlines() if line.startswith("## ")]


def check_golden(name: str, actual: str) -> None:
    path = GOLDEN / name
    if os.environ.get("FIRELINE_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
    assert path.exists(), f"{path} is missing: run with FIRELINE_UPDATE_GOLDEN=1 and review it"
    assert actual == path.read_text(encoding="utf-8"), (
        f"{path} differs: rerun with FIRELINE_UPDATE_GOLDEN=1 if intended")


def test_example_bundle_files_golden() -> None:
    files = runbook_files(example_services(), example_config())
    expected_names = {f"runbooks/{service}-{slo}-{kind}.md"
                      for service, slo in (("checkout", "availability"), ("checkout", "latency"),
                                           ("search", "availability"), ("myservice", "requests-availability"))
                      for kind in ("page", "ticket", "budget-warning", "budget-critical")}
    assert set(files) == expected_names | {"docs/error-budget-policy.md"}
    for relative, text in files.items():
        check_golden(relative.replace("/", "__"), text)
    # Nothing stale left in the golden folder from files no longer generated.
    assert {p.name for p in GOLDEN.iterdir() if not p.name.startswith("ledger")} == {
        r.replace("/", "__") for r in files}


def test_every_runbook_has_the_required_sections_in_order(tmp_path: Path) -> None:
    files = render_runbooks([*example_services(), operated_service(tmp_path)], example_config())
    assert any(name.startswith("ledger-") for name in files)
    for name, text in files.items():
        assert headings(text)[: len(REQUIRED_SECTIONS)] == list(REQUIRED_SECTIONS), name
        assert "{{" not in text and "{%" not in text, name


def test_operated_service_runbooks_golden(tmp_path: Path) -> None:
    files = render_runbooks([operated_service(tmp_path)], example_config())
    assert set(files) == {"ledger-availability-page.md", "ledger-availability-budget-warning.md",
                          "ledger-availability-budget-critical.md", "ledger-high-cpu.md",
                          "ledger-psp-down.md"}
    for name, text in files.items():
        check_golden(name, text)


def test_operations_snippets_are_verbatim(tmp_path: Path) -> None:
    page = render_runbooks([operated_service(tmp_path)], example_config())["ledger-availability-page.md"]
    # The blank line inside the rollback snippet survives the blank-line tidying.
    assert ("```sh\n   kubectl -n ledger rollout undo deployment/ledger\n\n"
            "   kubectl -n ledger rollout status deployment/ledger\n   ```") in page
    assert "stern -n ledger ledger --since 15m | grep -E 'level=(error|fatal)'" in page
    assert "flagctl disable ledger-new-posting-path" in page
    assert "./failover.sh --to eu-west-2" in page
    assert "https://grafana.example.com/d/ledger" in page
    assert ("1. on-call engineer: @ledger-oncall\n2. team lead: @dana\n"
            "3. engineering director: +44 20 7946 0000") in page
    assert "No `spec.operations" not in page


def test_page_runbook_tier_figures() -> None:
    page = render_runbooks(example_services(), example_config())["checkout-availability-page.md"]
    # 30d, 99.9%: 14.4x over 1h lets 2% burn, exhausts the budget in 50h (not 2h),
    # and fires 52s into a full outage.
    assert "| 1h / 5m | 14.4 | 1.44% | 2% | 50h | 52s (2%) |" in page
    assert "| 6h / 30m | 6 | 0.6% | 5% | 5d | 2m 10s (5%) |" in page
    assert 'slo:sli_error:ratio_rate5m{service="checkout",slo="availability"} / 0.001' in page
    assert "acknowledge within 15 minutes" in page
    assert "`payments-pager`, `payments-slack`" in page
    ticket = render_runbooks(example_services(), example_config())["checkout-availability-ticket.md"]
    assert "| 1d / 2h | 3 | 0.3% | 10% | 10d |" in ticket
    assert "| 1h / 5m" not in ticket


def test_28d_window_thresholds_follow_the_formula() -> None:
    page = render_runbooks(example_services(), example_config())["search-availability-page.md"]
    assert "| 1h / 5m | 13.44 |" in page and "| 6h / 30m | 5.6 |" in page


def test_latency_sli_queries_and_patterns() -> None:
    page = render_runbooks(example_services(), example_config())["checkout-latency-page.md"]
    assert 'http_request_duration_seconds_bucket{job="checkout",le="0.5"}' in page
    assert "latency rose right after a deploy" in page


def test_budget_runbooks_carry_the_policy_level() -> None:
    files = render_runbooks(example_services(), example_config())
    critical = files["checkout-availability-budget-critical.md"]
    warning = files["checkout-availability-budget-warning.md"]
    assert "below 10% (critical)" in critical and "Declare a P1 incident." in critical
    assert "below 25% (warning)" in warning and "Pause CI/CD deploys except hotfixes" in warning
    assert "Declare a P1 incident." not in warning


def test_team_without_routing_falls_back_to_default_receiver(tmp_path: Path) -> None:
    config_path = tmp_path / "fireline.yaml"
    config_path.write_text(textwrap.dedent("""\
        apiVersion: fireline/v1
        kind: Config
        default_receiver: sre
        receivers: {sre: {slack: {channel: "#sre", api_url_file: /s}}}
        """), encoding="utf-8")
    page = render_runbooks(example_services(), load_config(config_path))["checkout-availability-page.md"]
    assert "receivers `sre` (team payments has no entry under teams in fireline.yaml" in page
    # Without any fireline.yaml the runbooks still render, without a receivers line.
    without_config = render_runbooks(example_services(), None)["checkout-availability-page.md"]
    assert "Alertmanager receivers" not in without_config


@pytest.mark.parametrize("cause", CAUSE_RUNBOOKS)
def test_every_cause_template_renders(tmp_path: Path, cause: str) -> None:
    spec = OPERATED_SPEC.replace("runbook: high-cpu", f"runbook: {cause}")
    path = tmp_path / "ledger.yaml"
    path.write_text(spec, encoding="utf-8")
    files = render_runbooks([load_services([path])[0].spec], None)
    text = files[f"ledger-{cause}.md"]
    assert text.startswith("<!-- Generated by fireline")
    assert f"# ledger: {CAUSE_TITLES[cause]} (`LedgerHighCPU`)" in text
    assert headings(text) == list(REQUIRED_SECTIONS)
    assert 'sum(rate(process_cpu_seconds_total{job="ledger"}[5m])) > 3' in text


def test_unknown_cause_template_is_a_located_error(tmp_path: Path) -> None:
    path = tmp_path / "ledger.yaml"
    path.write_text(OPERATED_SPEC.replace("runbook: high-cpu", "runbook: high-cpus"), encoding="utf-8")
    with pytest.raises(SpecError) as info:
        load_services([path])
    problem = info.value.problems[0]
    assert problem.line == 21 and problem.field == "spec.warnings[0].runbook"
    assert "unknown cause runbook 'high-cpus': use one of high-cpu, high-memory" in problem.message


def test_policy_document() -> None:
    doc = runbook_files(example_services(), example_config())["docs/error-budget-policy.md"]
    for level in ("| above 75% | normal |", "| 50–75% | caution |", "| 25–50% | alert |",
                  "| 10–25% | critical |", "| below 10% | lockdown |"):
        assert level in doc
    assert "| checkout | availability | payments | 99.9% | 30d | 0.1% | 43m 12s |" in doc
    assert re.search(r"Page the SRE lead and the engineering director", doc)


def test_output_is_deterministic() -> None:
    assert runbook_files(example_services(), example_config()) == runbook_files(
        list(reversed(example_services())), example_config())
