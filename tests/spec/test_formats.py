"""Every supported input format loads into the native model with its own meaning."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from fireline.slo.tiers import Severity
from fireline.spec.loader import load_services
from tests.conftest import EXAMPLES, SHARED

FORMATS = Path(__file__).parent / "formats"


def test_native_examples() -> None:
    services = {s.spec.name: s for s in load_services([EXAMPLES])}
    assert set(services) == {"checkout", "search", "myservice"}
    checkout = services["checkout"].spec
    assert checkout.spec.team == "payments"
    assert checkout.metadata.labels == {"tier": "1"}
    availability, latency = checkout.spec.slos
    assert availability.objective == Decimal("99.9")
    assert availability.error_budget == Decimal("0.001")
    assert [t.key for t in availability.tiers()] == ["1h/5m", "6h/30m", "1d/2h", "3d/6h"]
    assert latency.sli.latency is not None and latency.sli.latency.threshold == 0.5
    search = services["search"].spec.spec.slos[0]
    assert str(search.window) == "28d"
    assert [t.severity for t in search.tiers()] == [Severity.PAGE, Severity.PAGE, Severity.TICKET]


def test_sloth_prometheus_v1_keeps_sloth_meaning() -> None:
    (loaded,) = load_services([EXAMPLES / "sloth-myservice.yaml"])
    assert loaded.format == "sloth/prometheus-v1"
    spec = loaded.spec
    assert spec.spec.team == "myteam"  # from Sloth's owner label
    assert spec.metadata.labels == {"owner": "myteam", "repo": "myorg/myservice", "tier": "2"}
    slo = spec.spec.slos[0]
    assert str(slo.window) == "30d"  # Sloth's default period
    assert slo.alerting.name == "MyServiceHighErrorRate"
    # alerting.labels merged into each of page_alert / ticket_alert labels
    assert slo.alerting.page.labels == {"category": "availability", "severity": "pageteam", "routing_key": "myteam"}
    assert slo.alerting.ticket.labels["slack_channel"] == "#alerts-myteam"
    assert slo.sli.events is not None and "[{{.window}}]" in slo.sli.events.errors


def test_sloth_crd_with_disabled_ticket() -> None:
    (loaded,) = load_services([FORMATS / "sloth-k8s.yaml"])
    assert loaded.format == "sloth/k8s"
    slo = loaded.spec.spec.slos[0]
    assert {t.severity for t in slo.tiers()} == {Severity.PAGE}


def test_openslo_v1_ratio_metric() -> None:
    (loaded,) = load_services([FORMATS / "openslo-v1.yaml"])
    assert loaded.format == "openslo/v1"
    spec = loaded.spec
    assert spec.name == "storefront" and spec.spec.team == "web"
    slo = spec.spec.slos[0]
    assert slo.objective == Decimal("99.5") and str(slo.window) == "28d"
    assert slo.sli.events is not None
    assert slo.sli.events.errors == 'sum(rate(http_requests_total{job="storefront",code=~"5.."}[{{.window}}]))'


SLOTH_GOLDEN = SHARED / "reference" / "sloth-golden"


@pytest.mark.skipif(not SLOTH_GOLDEN.is_dir(), reason="../shared/reference is not beside this checkout")
@pytest.mark.parametrize(
    "name",
    ["getting-started", "home-wifi", "k8s-getting-started", "kubernetes-apiserver", "multifile", "no-alerts",
     "openslo-getting-started", "raw-home-wifi"],
)
def test_sloth_golden_inputs_load(name: str) -> None:
    services = load_services([SLOTH_GOLDEN / f"{name}.in.yaml"])
    assert services
    for loaded in services:
        for slo in loaded.spec.spec.slos:
            assert str(slo.window) == "30d"
