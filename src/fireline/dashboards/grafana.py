"""A Grafana dashboard per service (classic JSON model, importable into Grafana 10+).

Per SLO: budget remaining, the SLO-window error ratio, the SLI (error ratio and request rate), and
one burn-rate panel per window the tiers use, with the tiers' thresholds drawn as lines. Alerts
of the service show as annotations; links go to the runbooks and the fireline UI. Queries use the
series the rule plan records only, so the dashboard is as cheap as the rules.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from fireline.rules.plan import RulePlan, runbook_file
from fireline.rules.sli import BASE_WINDOW
from fireline.slo.tiers import decimal_text
from fireline.spec.models import ServiceSpec, SLOSpec

SCHEMA_VERSION = 39  # Grafana 10.4; newer Grafanas migrate it on import
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
PANEL_WIDTH = 24
THRESHOLD_COLOURS = ("red", "orange", "yellow", "purple")


def dashboard_uid(service: str) -> str:
    # Grafana uids are at most 40 characters; a stable hash keeps re-imports updating one dashboard.
    return "fireline-" + hashlib.sha256(service.encode()).hexdigest()[:16]


class _Layout:
    def __init__(self) -> None:
        self.next_id = 1
        self.y = 0
        self.x = 0
        self.row_height = 0

    def place(self, width: int, height: int) -> dict[str, int]:
        if self.x + width > PANEL_WIDTH:
            self.y += self.row_height
            self.x, self.row_height = 0, 0
        pos = {"h": height, "w": width, "x": self.x, "y": self.y}
        self.x += width
        self.row_height = max(self.row_height, height)
        return pos

    def new_row(self) -> None:
        if self.x:
            self.y += self.row_height
        self.x, self.row_height = 0, 0

    def panel_id(self) -> int:
        pid = self.next_id
        self.next_id += 1
        return pid


def _target(expr: str, legend: str, ref: str = "A") -> dict[str, Any]:
    return {"datasource": DATASOURCE, "expr": expr, "legendFormat": legend, "refId": ref, "range": True}


def _slo_panels(service: ServiceSpec, slo: SLOSpec, layout: _Layout) -> list[dict[str, Any]]:
    plan = RulePlan.build(service, slo)
    budget = decimal_text(slo.error_budget)
    panels: list[dict[str, Any]] = []
    layout.new_row()
    title = f"{slo.name}: {decimal_text(slo.objective)}% over {slo.window}"
    panels.append({
        "type": "row", "id": layout.panel_id(), "title": title, "collapsed": False,
        "gridPos": layout.place(PANEL_WIDTH, 1), "panels": [],
    })
    panels.append({
        "type": "stat", "id": layout.panel_id(), "title": "Error budget remaining", "datasource": DATASOURCE,
        "gridPos": layout.place(6, 6),
        "targets": [_target(plan.budget_remaining_query(), "remaining")],
        "fieldConfig": {"defaults": {"unit": "percentunit", "decimals": 1, "thresholds": {"mode": "absolute", "steps": [
            {"color": "red", "value": None}, {"color": "orange", "value": 0.1},
            {"color": "yellow", "value": 0.25}, {"color": "green", "value": 0.5}]}}, "overrides": []},
        "options": {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                    "colorMode": "background", "graphMode": "area", "textMode": "auto"},
        "description": f"1 - error ratio over {slo.window} / error budget ({budget}). Negative: overspent.",
    })
    panels.append({
        "type": "timeseries", "id": layout.panel_id(), "title": f"Error budget remaining over {slo.window}",
        "datasource": DATASOURCE, "gridPos": layout.place(9, 6),
        "targets": [_target(plan.budget_remaining_query(), "remaining")],
        "fieldConfig": {"defaults": {"unit": "percentunit"}, "overrides": []},
        "options": {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True}},
    })
    sli_targets = [_target(plan.error_ratio_query(BASE_WINDOW), "error ratio (5m)")]
    traffic = plan.traffic_query()
    if traffic is not None:
        sli_targets.append(_target(traffic, "requests/s (5m)", "B"))
    panels.append({
        "type": "timeseries", "id": layout.panel_id(), "title": "SLI: error ratio and traffic",
        "datasource": DATASOURCE, "gridPos": layout.place(9, 6), "targets": sli_targets,
        "fieldConfig": {"defaults": {"unit": "percentunit"}, "overrides": [
            {"matcher": {"id": "byName", "options": "requests/s (5m)"},
             "properties": [{"id": "unit", "value": "reqps"}, {"id": "custom.axisPlacement", "value": "right"}]}]},
        "options": {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True}},
    })
    tiers = slo.tiers()
    for window in plan.recorded_windows():
        if window == slo.window:
            continue
        used_by = [t for t in tiers if window in (t.long_window, t.short_window)]
        steps: list[dict[str, Any]] = [{"color": "green", "value": None}]
        for i, tier in enumerate(sorted(used_by, key=lambda t: t.burn_rate_threshold(slo.window))):
            steps.append({"color": THRESHOLD_COLOURS[i % len(THRESHOLD_COLOURS)],
                          "value": float(tier.burn_rate_threshold(slo.window))})
        tiers_text = ", ".join(f"{t.key} {t.severity.value} > {decimal_text(t.burn_rate_threshold(slo.window))}"
                               for t in used_by) or "no tier; the 5m base rate"
        panels.append({
            "type": "timeseries", "id": layout.panel_id(), "title": f"Burn rate over {window}",
            "datasource": DATASOURCE, "gridPos": layout.place(8, 7),
            "description": f"Error ratio over {window} divided by the error budget ({budget}). Tiers: {tiers_text}.",
            "targets": [_target(plan.burn_rate_query(window), f"burn rate {window}")],
            "fieldConfig": {"defaults": {
                "unit": "none", "min": 0,
                "thresholds": {"mode": "absolute", "steps": steps},
                "custom": {"thresholdsStyle": {"mode": "line"}},
            }, "overrides": []},
            "options": {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True}},
        })
    return panels


def dashboard(service: ServiceSpec, *, runbook_base_url: str = "runbooks", ui_url: str | None = None) -> dict[str, Any]:
    layout = _Layout()
    panels: list[dict[str, Any]] = []
    for slo in service.spec.slos:
        panels.extend(_slo_panels(service, slo, layout))
    links: list[dict[str, Any]] = []
    for slo in service.spec.slos:
        url = slo.alerting.runbook or f"{runbook_base_url.rstrip('/')}/{runbook_file(service.name, slo.name, 'page')}"
        links.append({"title": f"Runbook: {slo.name}", "type": "link", "url": url, "targetBlank": True,
                      "icon": "doc", "tags": [], "asDropdown": False, "includeVars": False, "keepTime": False,
                      "tooltip": ""})
    if ui_url:
        links.append({"title": "fireline", "type": "link", "url": ui_url.rstrip("/") + "/", "targetBlank": True,
                      "icon": "dashboard", "tags": [], "asDropdown": False, "includeVars": False, "keepTime": False,
                      "tooltip": "incidents and error-budget policy"})
    return {
        "id": None,
        "uid": dashboard_uid(service.name),
        "title": f"SLOs: {service.name}",
        "description": f"Generated by fireline for team {service.spec.team}. Do not edit: regenerate.",
        "tags": ["fireline", "slo", service.spec.team],
        "timezone": "browser",
        "editable": True,
        "graphTooltip": 1,
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "refresh": "1m",
        "time": {"from": "now-7d", "to": "now"},
        "timepicker": {},
        "fiscalYearStartMonth": 0,
        "liveNow": False,
        "links": links,
        "templating": {"list": [{
            "name": "datasource", "label": "Prometheus", "type": "datasource", "query": "prometheus",
            "current": {}, "hide": 0, "refresh": 1, "regex": "", "skipUrlSync": False, "options": [],
        }]},
        "annotations": {"list": [{
            "name": "fireline alerts", "datasource": DATASOURCE, "enable": True, "iconColor": "red",
            "expr": f'ALERTS{{service="{service.name}",alertstate="firing"}}',
            "titleFormat": "{{alertname}} ({{fireline_severity}})", "textFormat": "{{slo}} {{long_window}}",
            "step": "60s", "useValueForTime": False,
        }]},
        "panels": panels,
    }


def render_dashboard(service: ServiceSpec, *, runbook_base_url: str = "runbooks", ui_url: str | None = None) -> str:
    return json.dumps(dashboard(service, runbook_base_url=runbook_base_url, ui_url=ui_url), indent=2) + "\n"
