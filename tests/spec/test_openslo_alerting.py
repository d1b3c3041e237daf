"""OpenSLO alert policies: each burn-rate AlertCondition of an SLO's alertPolicies becomes a fireline tier."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from fireline.slo.tiers import Severity
from fireline.spec.errors import SpecError
from fireline.spec.loader import load_services

SLO = """\
apiVersion: openslo/v1
kind: SLO
metadata: {name: availability}
spec:
  service: checkout
  budgetingMethod: Occurrences
  timeWindow: [{duration: 30d, isRolling: true}]
  objectives: [{target: 0.999}]
  indicator:
    metadata: {name: errors}
    spec:
      ratioMetric:
        counter: true
        bad: {metricSource: {type: Prometheus, spec: {query: 'http_requests_total{job="checkout",code=~"5.."}'}}}
        total: {metricSource: {type: Prometheus, spec: {query: 'http_requests_total{job="checkout"}'}}}
  alertPolicies:
    - alertPolicyRef: fast-burn
    - kind: AlertPolicy
      metadata: {name: slow-burn}
      spec:
        conditions:
          - kind: AlertCondition
            metadata: {name: slow}
            spec:
              severity: ticket
              condition: {kind: burnrate, op: gte, threshold: 1, lookbackWindow: 3d}
"""
POLICY = """\
apiVersion: openslo/v1
kind: AlertPolicy
metadata: {name: fast-burn}
spec:
  alertWhenBreaching: true
  conditions:
    - conditionRef: fast
  notificationTargets: [{targetRef: pager}]
---
apiVersion: openslo/v1
kind: AlertCondition
metadata: {name: fast}
spec:
  severity: page
  condition: {kind: burnrate, op: gt, threshold: 14.4, lookbackWindow: 1h, alertAfter: 2m}
"""


def _write(tmp: Path, slo: str = SLO, policy: str = POLICY) -> Path:
    (tmp / "slo.yaml").write_text(slo, encoding="utf-8")
    (tmp / "policy.yaml").write_text(policy, encoding="utf-8")
    return tmp


def test_burn_rate_conditions_become_tiers(tmp_path: Path) -> None:
    slo = load_services([_write(tmp_path)])[0].spec.spec.slos[0]
    tiers = [(str(t.long_window), str(t.short_window), t.budget_percent, t.severity, str(t.for_))
             for t in slo.tiers()]
    assert tiers == [("1h", "5m", Decimal(2), Severity.PAGE, "2m"), ("3d", "6h", Decimal(10), Severity.TICKET, "0s")]
    assert [t.burn_rate_threshold(slo.window) for t in slo.tiers()] == [Decimal("14.4"), Decimal(1)]


def test_no_policies_keep_the_default_tiers(tmp_path: Path) -> None:
    plain = SLO.split("  alertPolicies:")[0] + "  alertPolicies: []\n"
    slo = load_services([_write(tmp_path, plain, "")])[0].spec.spec.slos[0]
    assert len(slo.tiers()) == 4


@pytest.mark.parametrize(("old", "new", "message"), [
    ("op: gt,", "op: lte,", "op 'lte': a burn-rate alert fires when the burn rate is above its threshold"),
    ("kind: burnrate, op: gt", "kind: threshold, op: gt", "condition kind 'threshold' is not supported"),
    ("threshold: 14.4", "threshold: 1000", "more than all of it"),
    ("severity: page", "severity: someday", "severity 'someday': say page"),
    ("conditionRef: fast", "conditionRef: nowhere", "conditionRef 'nowhere' names no AlertCondition"),
])
def test_refusals_name_the_policy_file_line_and_field(tmp_path: Path, old: str, new: str, message: str) -> None:
    with pytest.raises(SpecError) as refused:
        load_services([_write(tmp_path, SLO, POLICY.replace(old, new))])
    text = str(refused.value)
    assert message in text and "policy.yaml:" in text, text


def test_an_unknown_policy_name_is_refused_at_the_slo(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"slo.yaml:\d+:\d+: spec.alertPolicies\[0\]: alert policy 'fast-burn' names"):
        load_services([_write(tmp_path, SLO, "")])
