"""OpenSLO bundles and Pyrra objectives as their users write them, and errors at the user's own line."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from fireline.bundle import BundleContext, generate_bundle
from fireline.check import check_bundle
from fireline.slo.tiers import Severity
from fireline.spec.errors import SpecError
from fireline.spec.loader import load_services
from tests.conftest import EXAMPLES

FORMATS = Path(__file__).parent / "formats"
BUNDLE = FORMATS / "openslo-bundle"


def _error(tmp_path: Path, text: str, name: str = "spec.yaml") -> str:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(SpecError) as caught:
        load_services([path])
    return str(caught.value)


def test_openslo_bundle_resolves_indicator_ref_across_files() -> None:
    (loaded,) = load_services([BUNDLE])
    spec = loaded.spec
    assert spec.name == "basket" and spec.spec.team == "shop"  # team: [shop] is a list in OpenSLO v1
    assert spec.metadata.labels == {"env": "prod,eu"}
    (slo,) = spec.spec.slos
    assert slo.objective == Decimal("99.9")
    assert str(slo.window) == "30d"  # duration: 1M, rolling
    assert slo.sli.events is not None
    assert slo.sli.events.errors == 'sum(rate(http_requests_total{job="basket",code=~"5.."}[{{.window}}]))'


def test_indicator_ref_without_its_sli_names_the_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(BUNDLE)
    with pytest.raises(SpecError) as caught:
        load_services([Path("service-and-slo.yaml")])
    assert str(caught.value) == (
        "service-and-slo.yaml:18:17: spec.indicatorRef: indicatorRef 'basket-errors' names no SLI document "
        "in the given files: give the file with that `kind: SLI` too"
    )


def test_openslo_v1alpha_incremental_false_is_a_gauge_summed_over_the_window() -> None:
    (loaded,) = load_services([FORMATS / "openslo-v1alpha.yaml"])
    (slo,) = loaded.spec.spec.slos
    assert str(slo.window) == "28d" and slo.objective == Decimal("99")
    assert slo.sli.events is not None
    assert slo.sli.events.good == "sum(sum_over_time(ledger_writes_ok[{{.window}}]))"


@pytest.mark.parametrize(("duration", "window"), [("1M", "30d"), ("1w", "7d"), ("4w", "28d"), ("28d", "28d")])
def test_openslo_durations(tmp_path: Path, duration: str, window: str) -> None:
    text = (FORMATS / "openslo-v1.yaml").read_text().replace("duration: 28d", f"duration: {duration}")
    (tmp_path / "slo.yaml").write_text(text)
    (loaded,) = load_services([tmp_path / "slo.yaml"])
    assert str(loaded.spec.spec.slos[0].window) == window


def test_error_in_second_document_reports_that_documents_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    first = (FORMATS / "openslo-v1.yaml").read_text()
    second = first.replace("name: web-availability", "name: web-2").replace("target: 0.995", "target: 1.5")
    message = _error(tmp_path, first + "---\n" + second)
    offset = first.count("\n") + 1
    line = offset + second.splitlines().index("      target: 1.5")
    assert message.startswith(f"spec.yaml:{line + 1}:15: spec.objectives[0].target: after converting this OpenSLO "
                              "document: objective must be a percentage"), message


def test_list_form_error_reports_the_items_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    message = _error(tmp_path, (
        "- apiVersion: openslo/v1\n  kind: Service\n  metadata:\n    name: a\n"
        "- apiVersion: openslo/v1\n  kind: Service\n  metadata:\n    nme: b\n"
    ))
    assert message.startswith("spec.yaml:8:5: metadata.nme: unknown field 'nme'"), message


def test_non_prometheus_source_names_its_type(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    text = (FORMATS / "openslo-v1.yaml").read_text().replace("type: Prometheus", "type: Datadog", 1)
    message = _error(tmp_path, text)
    assert message == (
        "spec.yaml:23:19: spec.indicator.spec.ratioMetric.bad.metricSource.type: data source type 'Datadog' is "
        "not Prometheus-compatible: fireline evaluates SLIs as PromQL (supported types: Prometheus, Thanos, "
        "Mimir, Cortex, VictoriaMetrics, Sloth)"
    )


def test_calendar_window_and_timeslices_are_refused_clearly(tmp_path: Path) -> None:
    text = (FORMATS / "openslo-v1.yaml").read_text()
    calendar = _error(tmp_path, text.replace("isRolling: true", "isRolling: false"))
    assert "spec.timeWindow[0].isRolling: calendar windows (isRolling: false) are not supported yet" in calendar
    slices = _error(tmp_path, text.replace("budgetingMethod: Occurrences", "budgetingMethod: Timeslices"))
    assert "spec.budgetingMethod: budgetingMethod Timeslices is not supported yet" in slices


def test_unsupported_openslo_version(tmp_path: Path) -> None:
    message = _error(tmp_path, "apiVersion: openslo.com/v2alpha\nkind: Service\nmetadata:\n  name: a\n")
    assert message.endswith("spec.yaml:1:13: apiVersion: OpenSLO openslo.com/v2alpha is not supported: "
                            "use openslo/v1 or openslo/v1alpha")


def test_pyrra_objectives() -> None:
    (loaded,) = load_services([FORMATS / "pyrra.yaml"])
    assert loaded.format == "pyrra/v1alpha1"
    spec = loaded.spec
    assert spec.name == "gateway" and spec.spec.team == "edge"  # namespace, pyrra.dev/team
    errors, latency, probe = spec.spec.slos
    assert errors.objective == Decimal("99.5") and str(errors.window) == "28d"  # target "99.5", window 4w
    assert errors.alerting.annotations == {"runbook": "https://runbooks.example/gateway"}
    # Pyrra's own windows and factors for 28d (14, 7, 2, 1; tests/spec/test_pyrra_windows.py).
    assert [t.key for t in errors.tiers()] == ["1h/5m", "6h/30m", "1d/2h", "4d/6h"]
    assert latency.sli.events is not None
    assert latency.sli.events.good == (
        'sum(rate(http_request_duration_seconds_bucket{job="gateway",le="0.25"}[{{.window}}]))')
    assert latency.alerting.name == "GatewayLatencyBurn"
    # 90% over 28d: Pyrra's 14x tier would need 140% errors; the tiers that can fire stay.
    assert [(t.key, t.severity) for t in latency.tiers()] == [
        ("6h/30m", Severity.PAGE), ("1d/2h", Severity.TICKET), ("4d/6h", Severity.TICKET)]
    assert probe.sli.events is not None
    assert probe.sli.events.total == 'sum(count_over_time(probe_success{job="blackbox"}[{{.window}}]))'
    assert probe.tiers() == []  # alerting.disabled


def test_pyrra_refusals(tmp_path: Path) -> None:
    text = (FORMATS / "pyrra.yaml").read_text().split("---\n")[0]
    grouped = _error(tmp_path, text.replace("  total:\n        metric: http_requests_total{job=\"gateway\"}\n",
                                            "  total:\n        metric: http_requests_total{job=\"gateway\"}\n"
                                            "      grouping: [service]\n"))
    assert "spec.indicator.ratio.grouping[0]: grouping by 'service' is not supported" in grouped
    not_selector = _error(tmp_path, text.replace('metric: http_requests_total{job="gateway"}',
                                                 'metric: sum(rate(http_requests_total[5m]))'))
    assert "spec.indicator.ratio.total.metric: Pyrra takes a vector selector here" in not_selector


def test_sloth_files_of_one_service_merge_and_a_repeated_slo_is_refused(tmp_path: Path) -> None:
    text = (EXAMPLES / "sloth-myservice.yaml").read_text()
    (tmp_path / "a.yaml").write_text(text)
    (tmp_path / "b.yaml").write_text(text.replace('name: "requests-availability"', 'name: "requests-availability-2"'))
    (loaded,) = load_services([tmp_path])
    assert [s.name for s in loaded.spec.spec.slos][-1] == "requests-availability-2"
    (tmp_path / "c.yaml").write_text(text)
    with pytest.raises(SpecError, match="SLO 'requests-availability' of service 'myservice' is also defined in"):
        load_services([tmp_path])


@pytest.mark.promtool
@pytest.mark.parametrize("source", [BUNDLE, FORMATS / "openslo-v1alpha.yaml", FORMATS / "pyrra.yaml"],
                         ids=lambda p: p.name)
def test_imported_bundles_pass_check(tmp_path: Path, source: Path) -> None:
    services = load_services([source])
    generate_bundle(BundleContext(services=services, out=tmp_path))
    failed = [(r.service, r.step, r.output[-2000:]) for r in check_bundle(tmp_path) if not r.ok]
    assert failed == []
