"""Sloth (prometheus/v1 and the PrometheusServiceLevel CRD) and OpenSLO (v1, v1alpha) importers.

Each foreign document is validated against a model of its own format first, so errors name the
user's fields and lines; then it is converted to the native ServiceSpec with Sloth's meaning:
page = 1h/5m and 6h/30m tiers, ticket = 1d/2h and 3d/6h, alerting labels merged with the
page_alert / ticket_alert labels, the SLO window from the CLI default (Sloth has none in its spec).
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from pydantic import AliasChoices, Field, field_validator, model_validator

from fireline.slo.durations import Duration
from fireline.spec.errors import Problem, SpecError, display_path
from fireline.spec.loader import Document, position, validate
from fireline.spec.models import (
    DurationField,
    LabelMap,
    Model,
    Number,
    ServiceSpec,
    _check_windowed_query,
    check_promql,
)

SLOTH_DEFAULT_WINDOW = "30d"


# --- Sloth ---------------------------------------------------------------------------------------
# The CRD spells fields in camelCase (errorQuery) and prometheus/v1 in snake_case (error_query);
# one model accepts both through aliases.


def _alias(snake: str, camel: str) -> Any:
    return Field(default=None, validation_alias=AliasChoices(snake, camel))


class SlothEvents(Model):
    error_query: str = Field(validation_alias=AliasChoices("error_query", "errorQuery"))
    total_query: str = Field(validation_alias=AliasChoices("total_query", "totalQuery"))

    @field_validator("error_query", "total_query")
    @classmethod
    def _q(cls, value: str, info: Any) -> str:
        return _check_windowed_query(value, info.field_name)


class SlothRaw(Model):
    error_ratio_query: str = Field(validation_alias=AliasChoices("error_ratio_query", "errorRatioQuery"))

    @field_validator("error_ratio_query")
    @classmethod
    def _q(cls, value: str) -> str:
        return _check_windowed_query(value, "error_ratio_query")


class SlothSLI(Model):
    events: SlothEvents | None = None
    raw: SlothRaw | None = None
    plugin: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _one(self) -> SlothSLI:
        if self.plugin is not None:
            raise ValueError("Sloth SLI plugins run Go code inside Sloth; rewrite this SLI as events or raw")
        if (self.events is None) == (self.raw is None):
            raise ValueError("give exactly one of events or raw")
        return self


class SlothAlertMeta(Model):
    disable: bool = False
    labels: LabelMap = {}
    annotations: dict[str, str] = {}


class SlothAlerting(Model):
    name: str | None = None
    labels: LabelMap = {}
    annotations: dict[str, str] = {}
    page_alert: SlothAlertMeta = _alias("page_alert", "pageAlert")
    ticket_alert: SlothAlertMeta = _alias("ticket_alert", "ticketAlert")


class SlothSLO(Model):
    name: str
    objective: Number
    description: str = ""
    labels: LabelMap = {}
    sli: SlothSLI
    alerting: SlothAlerting = SlothAlerting()
    plugins: dict[str, Any] | None = None


class SlothSpec(Model):
    service: str
    labels: LabelMap = {}
    slos: list[SlothSLO] = Field(min_length=1)
    slo_plugins: dict[str, Any] | None = _alias("slo_plugins", "sloPlugins")


class SlothPrometheusV1(SlothSpec):
    version: str


def _team(labels: dict[str, str], fallback: str) -> str:
    return labels.get("team") or labels.get("owner") or fallback


def _sloth_to_native(spec: SlothSpec, window: str) -> dict[str, Any]:
    # fireline sets service/slo/team itself; Sloth users often carry team/owner in labels.
    reserved = {"service", "slo", "team"}
    svc_labels = {k: v for k, v in spec.labels.items() if k not in reserved}
    slos = []
    for slo in spec.slos:
        sli: dict[str, Any]
        if slo.sli.events is not None:
            sli = {"events": {"errors": slo.sli.events.error_query, "total": slo.sli.events.total_query}}
        else:
            assert slo.sli.raw is not None
            sli = {"ratio": slo.sli.raw.error_ratio_query}
        alerting = slo.alerting
        base = {k: v for k, v in alerting.labels.items() if k not in reserved}
        page = alerting.page_alert or SlothAlertMeta()
        ticket = alerting.ticket_alert or SlothAlertMeta()
        slos.append({
            "name": slo.name,
            "objective": slo.objective,
            "window": window,
            "description": slo.description,
            "labels": {k: v for k, v in slo.labels.items() if k not in reserved},
            "sli": sli,
            "alerting": {
                "name": alerting.name,
                "annotations": alerting.annotations,
                "page": {"disable": page.disable, "labels": {**base, **page.labels},
                         "annotations": page.annotations},
                "ticket": {"disable": ticket.disable, "labels": {**base, **ticket.labels},
                           "annotations": ticket.annotations},
            },
        })
    return {
        "apiVersion": "fireline/v1",
        "kind": "Service",
        "metadata": {"name": spec.service, "labels": svc_labels},
        "spec": {"team": _team(spec.labels, spec.service), "slos": slos},
    }


# --- OpenSLO -------------------------------------------------------------------------------------


class OpenSLOMetricSource(Model):
    type: str | None = None  # v1: metricSourceRef / type: Prometheus
    metricSourceRef: str | None = None
    spec: dict[str, Any] = {}


class OpenSLOQuery(Model):
    # v1: {metricSource: {type: Prometheus, spec: {query: ...}}}; v1alpha: {source, queryType, query}
    metricSource: OpenSLOMetricSource | None = None
    source: str | None = None
    queryType: str | None = None
    query: str | None = None

    def promql(self) -> str:
        if self.query is not None:
            return self.query
        if self.metricSource is not None:
            q = self.metricSource.spec.get("query") or self.metricSource.spec.get("promql")
            if isinstance(q, str):
                return q
        raise ValueError("no PromQL query: expected metricSource.spec.query")


class OpenSLORatio(Model):
    counter: bool = True
    good: OpenSLOQuery | None = None
    bad: OpenSLOQuery | None = None
    total: OpenSLOQuery

    @model_validator(mode="after")
    def _one(self) -> OpenSLORatio:
        if (self.good is None) == (self.bad is None):
            raise ValueError("give exactly one of good or bad, with total")
        return self


class OpenSLOIndicatorSpec(Model):
    ratioMetric: OpenSLORatio | None = None
    thresholdMetric: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _ratio(self) -> OpenSLOIndicatorSpec:
        if self.ratioMetric is None:
            raise ValueError("only ratioMetric indicators are supported (thresholdMetric needs a gauge SLI)")
        return self


class OpenSLOIndicator(Model):
    metadata: dict[str, Any] = {}
    spec: OpenSLOIndicatorSpec


class OpenSLOObjective(Model):
    displayName: str | None = None
    target: Number | None = None
    targetPercent: Number | None = None
    ratioMetrics: OpenSLORatio | None = None  # v1alpha puts the ratio on the objective
    op: str | None = None
    value: Any = None
    timeSliceTarget: Any = None
    timeSliceWindow: Any = None

    @model_validator(mode="after")
    def _target(self) -> OpenSLOObjective:
        if (self.target is None) == (self.targetPercent is None):
            raise ValueError("give exactly one of target (0-1) or targetPercent (0-100)")
        return self

    def percent(self) -> Decimal:
        return self.targetPercent if self.targetPercent is not None else (self.target or Decimal(0)) * 100


class OpenSLOTimeWindow(Model):
    duration: DurationField | None = None
    count: int | None = None
    unit: str | None = None
    isRolling: bool = True
    calendar: dict[str, Any] | None = None

    def window(self) -> Duration:
        if self.duration is not None:
            return self.duration
        units = {"Day": "d", "Hour": "h", "Week": "w", "Minute": "m"}
        if self.count is None or self.unit not in units:
            raise ValueError("give duration (e.g. 28d), or count with unit Day/Week/Hour")
        return Duration.parse(f"{self.count}{units[self.unit]}")


class OpenSLOMetadata(Model):
    name: str
    displayName: str | None = None
    labels: dict[str, Any] = {}
    annotations: dict[str, Any] = {}


class OpenSLOSpec(Model):
    service: str
    description: str = ""
    indicator: OpenSLOIndicator | None = None
    indicatorRef: str | None = None
    budgetingMethod: str = "Occurrences"
    objectives: list[OpenSLOObjective] = Field(min_length=1)
    timeWindow: list[OpenSLOTimeWindow] | None = None
    timeWindows: list[OpenSLOTimeWindow] | None = None  # v1alpha spelling
    alertPolicies: list[Any] = []

    @field_validator("budgetingMethod")
    @classmethod
    def _occurrences(cls, value: str) -> str:
        if value != "Occurrences":
            raise ValueError(f"only budgetingMethod Occurrences can be alerted on by burn rate, got {value!r}")
        return value


class OpenSLODoc(Model):
    apiVersion: str
    kind: str
    metadata: OpenSLOMetadata
    spec: OpenSLOSpec


_WINDOW_RE = re.compile(r"\{\{\s*\.window\s*\}\}")


def _openslo_rate(query: str, counter: bool) -> str:
    """OpenSLO queries are bare series; fireline needs events over {{.window}}.

    A counter (`counter: true`, the default) becomes `sum(rate(q[{{.window}}]))`. A gauge
    (`counter: false`) holds each sample's count of events itself, so it is summed over the window,
    never wrapped in rate(): `sum(sum_over_time(q[{{.window}}]))`.
    """
    query = query.strip()
    if _WINDOW_RE.search(query):
        return query  # already windowed (as Sloth's OpenSLO examples are)
    import promql_parser

    expr = promql_parser.parse(query)
    if isinstance(expr, promql_parser.VectorSelector):
        return f"sum({'rate' if counter else 'sum_over_time'}({query}[{{{{.window}}}}]))"
    kind = "counter" if counter else "gauge"
    raise ValueError(
        f"cannot derive events over a window from {query!r}: give a {kind} selector "
        f"(e.g. http_requests_total{{code=~\"5..\"}}) or a query with [{{{{.window}}}}]"
    )


def _openslo_to_native(doc: OpenSLODoc) -> dict[str, Any]:
    spec = doc.spec
    if spec.indicator is None and any(o.ratioMetrics is None for o in spec.objectives):
        raise ValueError("indicatorRef is not supported: inline the SLI as spec.indicator")
    windows = spec.timeWindow or spec.timeWindows or []
    if len(windows) > 1:
        raise ValueError("at most one timeWindow is supported")
    window = windows[0].window() if windows else Duration.parse(SLOTH_DEFAULT_WINDOW)
    slos = []
    for i, objective in enumerate(spec.objectives):
        ratio = objective.ratioMetrics or (spec.indicator.spec.ratioMetric if spec.indicator else None)
        if ratio is None:
            raise ValueError(f"objectives[{i}] has no ratio metric")
        total = _openslo_rate(ratio.total.promql(), ratio.counter)
        if ratio.bad is not None:
            events = {"errors": _openslo_rate(ratio.bad.promql(), ratio.counter), "total": total}
        else:
            assert ratio.good is not None
            events = {"good": _openslo_rate(ratio.good.promql(), ratio.counter), "total": total}
        name = doc.metadata.name if len(spec.objectives) == 1 else f"{doc.metadata.name}-{i}"
        slos.append({
            "name": name,
            "objective": objective.percent(),
            "window": str(window),
            "description": spec.description,
            "sli": {"events": events},
        })
    labels = {str(k): str(v) for k, v in doc.metadata.labels.items()}
    return {
        "apiVersion": "fireline/v1",
        "kind": "Service",
        "metadata": {"name": spec.service, "labels": {k: v for k, v in labels.items() if k not in ("team",)}},
        "spec": {"team": labels.get("team") or labels.get("owner") or spec.service, "slos": slos},
    }


# --- dispatch ------------------------------------------------------------------------------------


def _native(native: dict[str, Any], doc: Document, what: str) -> ServiceSpec:
    """Validate a converted document; positions point at the original document's top."""
    try:
        spec: ServiceSpec = ServiceSpec.model_validate(native)
        return spec
    except Exception as exc:
        from pydantic import ValidationError

        if not isinstance(exc, ValidationError):
            raise
        line, col = position(doc.data, ())
        problems = [
            Problem(display_path(doc.path), line, col, ".".join(str(p) for p in e["loc"]),
                    f"after converting this {what} document: {e['msg'].removeprefix('Value error, ')}")
            for e in exc.errors()
        ]
        raise SpecError(problems) from None


def convert(fmt: str, doc: Document, *, sloth_window: str = SLOTH_DEFAULT_WINDOW) -> list[ServiceSpec]:
    if fmt == "fireline/Service":
        return [validate(ServiceSpec, doc.data, doc.path)]
    if fmt == "sloth/prometheus-v1":
        sloth: SlothSpec = validate(SlothPrometheusV1, doc.data, doc.path)
        return [_native(_sloth_to_native(sloth, sloth_window), doc, "Sloth")]
    if fmt == "sloth/k8s":
        if not isinstance(doc.data.get("spec"), dict):
            raise SpecError([Problem(display_path(doc.path), *position(doc.data, ("spec",)), "spec",
                                     "expected a mapping with service and slos")])
        sloth = validate(SlothSpec, doc.data["spec"], doc.path, ("spec",))
        return [_native(_sloth_to_native(sloth, sloth_window), doc, "Sloth")]
    if fmt in ("openslo/v1", "openslo/v1alpha"):
        openslo: OpenSLODoc = validate(OpenSLODoc, doc.data, doc.path)
        try:
            native = _openslo_to_native(openslo)
        except ValueError as exc:
            where = position(doc.data, ("spec",))
            raise SpecError([Problem(display_path(doc.path), *where, "spec", str(exc))]) from None
        return [_native(native, doc, "OpenSLO")]
    raise AssertionError(f"unhandled format {fmt}")


__all__ = ["check_promql", "convert"]
