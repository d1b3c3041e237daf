"""Generated Grafana dashboards: schema-valid, a burn-rate panel per window with tier thresholds."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import promql_parser

from fireline.bundle import BundleContext, generate_bundle
from fireline.dashboards.grafana import dashboard, render_dashboard
from fireline.rules.plan import windows
from fireline.spec.loader import load_services
from tests.conftest import EXAMPLES

SCHEMA = json.loads((Path(__file__).parent / "grafana-dashboard.schema.json").read_text())


def _services() -> dict[str, object]:
    return {s.spec.name: s.spec for s in load_services([EXAMPLES])}


def test_dashboards_for_all_examples_validate_against_the_schema() -> None:
    for spec in load_services([EXAMPLES]):
        board = dashboard(spec.spec)
        jsonschema.validate(board, SCHEMA)
        ids = [p["id"] for p in board["panels"]]
        assert len(ids) == len(set(ids)), "panel ids must be unique"
        for panel in board["panels"]:
            x, w = panel["gridPos"]["x"], panel["gridPos"]["w"]
            assert x + w <= 24
            for target in panel.get("targets", []):
                promql_parser.parse(target["expr"])
                assert target["datasource"]["uid"] == "${datasource}"


def test_a_burn_rate_panel_per_window_with_the_tier_thresholds() -> None:
    (checkout,) = [s.spec for s in load_services([EXAMPLES / "checkout.yaml"])]
    board = dashboard(checkout)
    slo = checkout.spec.slos[0]
    burn_panels = [p for p in board["panels"] if p["title"].startswith("Burn rate over ")][: len(windows(slo)) - 1]
    titles = [p["title"] for p in burn_panels]
    assert titles == [f"Burn rate over {w}" for w in windows(slo) if w != slo.window]
    one_hour = next(p for p in burn_panels if p["title"] == "Burn rate over 1h")
    steps = one_hour["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert [s["value"] for s in steps] == [None, 14.4]
    five_minutes = next(p for p in burn_panels if p["title"] == "Burn rate over 5m")
    assert one_hour["targets"][0]["expr"] == 'slo:sli_error:ratio_rate1h{service="checkout",slo="availability"} / 0.001'
    assert [s["value"] for s in five_minutes["fieldConfig"]["defaults"]["thresholds"]["steps"]] == [None, 14.4]


def test_datasource_variable_links_and_alert_annotations() -> None:
    (checkout,) = [s.spec for s in load_services([EXAMPLES / "checkout.yaml"])]
    board = dashboard(checkout, ui_url="http://127.0.0.1:8080")
    assert board["templating"]["list"][0]["type"] == "datasource"
    assert board["templating"]["list"][0]["query"] == "prometheus"
    assert 'ALERTS{service="checkout"' in board["annotations"]["list"][0]["expr"]
    urls = [link["url"] for link in board["links"]]
    assert "https://runbooks.example.com/checkout/availability" in urls
    assert "runbooks/checkout-latency-page.md" in urls
    assert "http://127.0.0.1:8080/" in urls


def test_bundle_writes_one_dashboard_per_service_deterministically(tmp_path: Path) -> None:
    for out in ("a", "b"):
        generate_bundle(BundleContext(services=load_services([EXAMPLES]), out=tmp_path / out))
    for name in ("checkout", "search", "myservice"):
        a = (tmp_path / "a" / "grafana" / f"{name}.json").read_bytes()
        assert a == (tmp_path / "b" / "grafana" / f"{name}.json").read_bytes()
        assert json.loads(a)["title"] == f"SLOs: {name}"
    (checkout,) = [s.spec for s in load_services([EXAMPLES / "checkout.yaml"])]
    assert render_dashboard(checkout) == (tmp_path / "a" / "grafana" / "checkout.json").read_text()


def test_the_schema_rejects_what_grafana_would_not_import() -> None:
    (checkout,) = [s.spec for s in load_services([EXAMPLES / "checkout.yaml"])]
    board = dashboard(checkout)
    board["panels"][1]["gridPos"]["w"] = 30
    try:
        jsonschema.validate(board, SCHEMA)
    except jsonschema.ValidationError as exc:
        assert "30 is greater than the maximum of 24" in exc.message
    else:
        raise AssertionError("a 30-column panel passed the schema")
