"""Generated rule files: golden bundles for examples/, determinism, and their structure."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import promql_parser
import pytest
from ruamel.yaml import YAML

from fireline.bundle import BundleContext, RuleFormat, generate_bundle
from fireline.rules.generate import render_rules_file, rule_groups
from fireline.spec.loader import load_services
from fireline.spec.models import ServiceSpec
from tests.conftest import EXAMPLES, ROOT, assert_golden

GOLDEN = ROOT / "tests" / "golden" / "bundle"


def _generate(out: Path, rule_format: RuleFormat = RuleFormat.PROMETHEUS) -> BundleContext:
    return generate_bundle(BundleContext(services=load_services([EXAMPLES]), out=out, rule_format=rule_format))


def test_golden_prometheus_bundle_for_examples(tmp_path: Path) -> None:
    _generate(tmp_path)
    produced = sorted(p.relative_to(tmp_path) for p in (tmp_path / "prometheus").rglob("*.yml"))
    assert [str(p) for p in produced] == [
        "prometheus/checkout.rules.yml", "prometheus/myservice.rules.yml", "prometheus/search.rules.yml",
        "prometheus/tests/checkout.test.yml", "prometheus/tests/myservice.test.yml",
        "prometheus/tests/search.test.yml",
    ]
    for relative in produced:
        assert_golden(GOLDEN / relative, (tmp_path / relative).read_text())


def test_same_spec_same_bytes(tmp_path: Path) -> None:
    _generate(tmp_path / "a")
    _generate(tmp_path / "b")
    for path in (tmp_path / "a").rglob("*.yml"):
        assert path.read_bytes() == (tmp_path / "b" / path.relative_to(tmp_path / "a")).read_bytes()


def test_prometheus_operator_format_wraps_the_same_groups(tmp_path: Path) -> None:
    _generate(tmp_path / "plain")
    _generate(tmp_path / "operator", RuleFormat.PROMETHEUS_OPERATOR)
    yaml = YAML(typ="safe")
    manifest = yaml.load((tmp_path / "operator/prometheus/checkout.prometheusrule.yml").read_text())
    plain = yaml.load((tmp_path / "plain/prometheus/checkout.rules.yml").read_text())
    assert manifest["apiVersion"] == "monitoring.coreos.com/v1" and manifest["kind"] == "PrometheusRule"
    assert manifest["spec"]["groups"] == plain["groups"]


def _checkout() -> ServiceSpec:
    return next(s.spec for s in load_services([EXAMPLES]) if s.spec.name == "checkout")


def _slo_rules(spec: ServiceSpec, slo: str) -> list[dict[str, Any]]:
    """Every group of one SLO: the burn-rate group, its hourly group and its budget group."""
    prefix = f"fireline:{spec.name}:{slo}"
    return [r for g in rule_groups(spec) if g["name"] in (prefix, prefix + ":hourly", prefix + ":budget")
            for r in g["rules"]]


def test_three_groups_per_slo_the_hourly_and_budget_ones_slower() -> None:
    groups = rule_groups(_checkout())
    assert [(g["name"], g.get("interval")) for g in groups] == [
        ("fireline:checkout:availability", None), ("fireline:checkout:availability:hourly", "2m30s"),
        ("fireline:checkout:availability:budget", "2m30s"),
        ("fireline:checkout:latency", None), ("fireline:checkout:latency:hourly", "2m30s"),
        ("fireline:checkout:latency:budget", "2m30s")]
    burn, hourly, budget = ({r.get("record") or r["alert"] for r in g["rules"]} for g in groups[:3])
    # The pages are decided in the 30s group; the ticket tiers on 1d and 3d beside those windows.
    assert "CheckoutAvailabilityBurn" in burn and "slo:sli_error:ratio_rate30d" not in burn
    assert "slo:sli_error:ratio_rate1d" not in burn and "CheckoutAvailabilityBurn" in hourly
    assert hourly >= {"slo:sli_errors:hour_count", "slo:sli_total:hour_to_date_count", "slo:sli_errors:count1d",
                      "slo:sli_error:ratio_rate1d", "slo:sli_error:ratio_rate30d"}
    assert budget >= {"slo:error_budget_remaining:ratio", "CheckoutAvailabilityErrorBudgetLow"}
    # Mimir's and Cortex's default ruler limit is 20 rules a group
    assert all(len(g["rules"]) <= 20 for g in groups)


def test_every_expression_parses_and_every_series_carries_service_and_slo() -> None:
    for group in rule_groups(_checkout()):
        for rule in group["rules"]:
            promql_parser.parse(rule["expr"])
            assert rule["labels"]["service"] == "checkout"
            assert rule["labels"]["slo"] in ("availability", "latency")
            assert rule["labels"]["tier"] == "1"  # metadata.labels on every rule


def test_windows_recorded_and_slo_window_is_event_weighted() -> None:
    records = {r["record"]: r["expr"] for r in _slo_rules(_checkout(), "availability") if "record" in r}
    for window in ("5m", "30m", "1h", "2h", "6h", "1d", "3d", "30d"):
        assert f"slo:sli_error:ratio_rate{window}" in records
    # Windows up to 6h from raw counters, longer ones as all errors over all events of the hourly tier.
    assert "rate(http_requests_total" in records["slo:sli_error:ratio_rate1h"]
    assert "rate(http_requests_total" in records["slo:sli_error:ratio_rate6h"]
    for window in ("1d", "3d", "30d"):
        assert records[f"slo:sli_error:ratio_rate{window}"].startswith(f"slo:sli_errors:count{window}")
        assert records[f"slo:sli_errors:count{window}"].startswith("(sum_over_time(slo:sli_errors:hour_count")
    assert "avg_over_time" not in records["slo:sli_error:ratio_rate30d"]
    assert records["slo:error_budget_remaining:ratio"].startswith("1 - slo:sli_error:ratio_rate30d")


def test_alerts_default_tiers_labels_annotations_and_no_for() -> None:
    alerts = [r for r in _slo_rules(_checkout(), "availability") if "alert" in r]
    burn = [a for a in alerts if a["alert"] == "CheckoutAvailabilityBurn"]
    assert [(a["labels"]["long_window"], a["labels"]["short_window"]) for a in burn] == [
        ("1h", "5m"), ("6h", "30m"), ("1d", "2h"), ("3d", "6h")]
    assert [a["labels"]["fireline_severity"] for a in burn] == ["page", "page", "ticket", "ticket"]
    assert [a["labels"]["severity"] for a in burn] == ["critical", "critical", "warning", "warning"]
    assert all(a["labels"]["team"] == "payments" for a in alerts)
    # No for: on anything that pages or burns; only the no-data ticket waits (alerting.no_data_for).
    assert [a["alert"] for a in alerts if "for" in a] == ["CheckoutAvailabilitySLINoData"]
    assert next(a for a in alerts if "for" in a)["for"] == "15m"
    assert "> 14.4" in burn[0]["expr"] and "> 6\n" in burn[1]["expr"]
    for alert in alerts:
        assert set(alert["annotations"]) >= {"summary", "description", "runbook_url"}
    assert burn[0]["annotations"]["runbook_url"] == "https://runbooks.example.com/checkout/availability"
    # Time to exhaustion is remaining x window / burn rate, done in PromQL (templates have no arithmetic).
    assert "clamp_min(slo:error_budget_remaining:ratio" in burn[0]["annotations"]["description"]
    assert "* 2592000 / (slo:sli_error:ratio_rate1h" in burn[0]["annotations"]["description"]
    budget = [a for a in alerts if a["alert"] == "CheckoutAvailabilityErrorBudgetLow"]
    # Budget alerts are tickets by default, one per level, with their own summary.
    assert [(a["expr"].split(" < ")[1], a["labels"]["budget_level"], a["labels"]["fireline_severity"])
            for a in budget] == [("0.25", "warning", "ticket"), ("0.1", "critical", "ticket")]
    assert all("error budget left" in a["annotations"]["summary"] for a in budget)
    # Facts as data for machines: burn rate, threshold and budget left in annotations of their own.
    assert burn[0]["annotations"]["burn_rate"] == "{{ $value }}"
    assert burn[0]["annotations"]["burn_rate_threshold"] == "14.4"
    assert "slo:error_budget_remaining:ratio" in burn[0]["annotations"]["error_budget_remaining"]
    assert all(a["annotations"]["error_budget_remaining"] == "{{ $value }}" for a in budget)


def test_latency_sli_uses_count_minus_bucket_at_threshold() -> None:
    errors = next(r["expr"] for r in _slo_rules(_checkout(), "latency") if r.get("record") == "slo:sli_errors:rate5m")
    assert 'http_request_duration_seconds_bucket{job="checkout",le="0.5"}[5m]' in errors
    assert 'http_request_duration_seconds_count{job="checkout"}[5m]' in errors


def test_integral_latency_threshold_matches_prometheus_3_le_format(tmp_path: Path) -> None:
    spec = (EXAMPLES / "checkout.yaml").read_text().replace("threshold: 0.5", "threshold: 1")
    (tmp_path / "c.yaml").write_text(spec)
    (service,) = load_services([tmp_path / "c.yaml"])
    text = render_rules_file(service.spec, "c.yaml")
    assert 'le=~"1(\\\\.0)?"' in text


def test_for_only_when_a_tier_asks(tmp_path: Path) -> None:
    spec = (EXAMPLES / "checkout.yaml").read_text().replace(
        "runbook: https://runbooks.example.com/checkout/availability",
        "runbook: https://runbooks.example.com/checkout/availability\n"
        "        tiers: [{long: 1h, short: 5m, budget_percent: 2, severity: page, for: 2m}]",
    )
    (tmp_path / "c.yaml").write_text(spec)
    (service,) = load_services([tmp_path / "c.yaml"])
    alerts = [r for r in rule_groups(service.spec)[0]["rules"] if r.get("alert") == "CheckoutAvailabilityBurn"]
    assert [a.get("for") for a in alerts] == ["2m"]


@pytest.mark.parametrize("disable", ["page", "ticket"])
def test_disabled_severity_writes_no_alert(tmp_path: Path, disable: str) -> None:
    spec = (EXAMPLES / "checkout.yaml").read_text().replace(
        "name: CheckoutAvailabilityBurn", f"name: CheckoutAvailabilityBurn\n        {disable}: {{disable: true}}")
    (tmp_path / "c.yaml").write_text(spec)
    (service,) = load_services([tmp_path / "c.yaml"])
    alerts = [r for g in rule_groups(service.spec) for r in g["rules"] if r.get("alert") == "CheckoutAvailabilityBurn"]
    assert alerts and all(a["labels"]["fireline_severity"] != disable for a in alerts)
