"""Sloth (prometheus/v1 and the PrometheusServiceLevel CRD) and OpenSLO (v1, v1alpha) importers.

Each foreign document is validated against a model of its own format first, so errors name the
user's fields and lines; then it is converted to the native ServiceSpec with Sloth's meaning:
page = 1h/5m and 6h/30m tiers, ticket = 1d/2h and 3d/6h, alerting labels merged with the
page_alert / ticket_alert labels, the SLO window from the CLI default (Sloth has none in its spec).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from decimal import Decimal
from typing import Any

from pydantic import AliasChoices, Field, field_validator, model_validator

from fireline.slo.durations import Duration
from fireline.slo.tiers import decimal_text, error_budget
from fireline.spec.errors import Problem, SpecError, display_path, field_path
from fireline.spec.loader import Document, position, validate
from fireline.spec.models import (
    RESERVED_LABELS,
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


# What each known Sloth SLO plugin does that fireline's rules do not: said as a warning, never silently
# dropped. Core plugins are the steps of Sloth's own generator; fireline has its own (docs/series.md).
_SLOTH_PLUGINS = {
    "sloth.dev/core/validate/v1": "a step of Sloth's own generator; fireline validates specs itself",
    "sloth.dev/core/sli_rules/v1": "a step of Sloth's own generator; fireline writes its own SLI recordings",
    "sloth.dev/core/metadata_rules/v1": "a step of Sloth's own generator; fireline writes no sloth_* metadata series",
    "sloth.dev/core/alert_rules/v1": "a step of Sloth's own generator; fireline writes its own alerts",
    "sloth.dev/core/debug/v1": "logs in Sloth only; nothing to apply",
    "sloth.dev/core/noop/v1": "does nothing in Sloth either",
    "sloth.dev/contrib/denominator_corrected_rules/v1": (
        "fireline's 1d, 3d and SLO-window ratios are already weighted by traffic (docs/series.md); "
        "no slo:numerator_correction series are written"),
    # Applied with --compat sloth; said so, since without it there is no info series to carry the labels.
    "sloth.dev/contrib/info_labels/v1": (
        "kept as the SLO's info_labels: they go on sloth_slo_info with `fireline generate --compat sloth`; "
        "without it fireline writes no info series and they are not applied"),
    "sloth.dev/contrib/remove_labels/v1": "fireline keeps the spec's labels on its series; remove them from the spec",
    "sloth.dev/contrib/rule_intervals/v1": (
        "fireline evaluates the SLI group at the global interval and the budget group every 2m30s"),
    "sloth.dev/contrib/error_budget_exhausted_alert/v1": (
        "fireline's budget alerts (alerting.budget, warning and critical levels) take its place"),
    "sloth.dev/contrib/validate_victoria_metrics/v1": "generate with --target vmalert for VictoriaMetrics",
}


def sloth_plugin_warnings(doc: Document, spec: SlothSpec, base: tuple[str, ...], camel: bool) -> list[Problem]:
    """One warning per SLO plugin of a Sloth spec (group-wide and per SLO): named, with what is not applied."""
    found: list[tuple[tuple[int | str, ...], Any]] = []
    group_key = "sloPlugins" if camel else "slo_plugins"
    if isinstance(spec.slo_plugins, dict):
        found += [((*base, group_key, "chain", i), item) for i, item in enumerate(spec.slo_plugins.get("chain") or [])]
    for index, slo in enumerate(spec.slos):
        if isinstance(slo.plugins, dict):
            found += [((*base, "slos", index, "plugins", "chain", i), item)
                      for i, item in enumerate(slo.plugins.get("chain") or [])]
    warnings = []
    for loc, item in found:
        plugin = str(item.get("id", "")) if isinstance(item, dict) else ""
        what = _SLOTH_PLUGINS.get(plugin, "a plugin fireline does not know: whatever it changes in Sloth's rules "
                                          "is missing from fireline's")
        verdict = ": " if plugin == "sloth.dev/contrib/info_labels/v1" else " is not applied: "
        warnings.append(Problem(display_path(doc.path), *position(doc.data, loc), field_path(loc),
                                f"Sloth SLO plugin {plugin or '(no id)'}{verdict}{what}"))
    return warnings


def _sloth_info_labels(slo: SlothSLO) -> dict[str, str]:
    """The labels of the SLO's info_labels plugins, which Sloth puts on sloth_slo_info."""
    chain = slo.plugins.get("chain") if isinstance(slo.plugins, dict) else None
    labels: dict[str, str] = {}
    for item in chain or []:
        if isinstance(item, dict) and item.get("id") == "sloth.dev/contrib/info_labels/v1":
            config = item.get("config")
            found = config.get("labels") if isinstance(config, dict) else None
            if isinstance(found, dict):
                labels.update({str(k): str(v) for k, v in found.items()})
    return labels


def _team(labels: dict[str, str], fallback: str) -> str:
    return labels.get("team") or labels.get("owner") or fallback


# Sloth's AlertWindows (`apiVersion: sloth.slok.dev/v1`, `kind: AlertWindows`): the page and
# ticket window pairs of one SLO period, loaded by Sloth with --slo-period-windows-path.


class SlothAlertWindow(Model):
    error_budget_percent: Number = Field(validation_alias=AliasChoices("errorBudgetPercent"))
    short_window: DurationField = Field(validation_alias=AliasChoices("shortWindow"))
    long_window: DurationField = Field(validation_alias=AliasChoices("longWindow"))

    @field_validator("error_budget_percent")
    @classmethod
    def _percent(cls, value: Decimal) -> Decimal:
        if not 0 < value <= 100:
            raise ValueError(f"errorBudgetPercent must be above 0 and at most 100, got {value}")
        return value

    @model_validator(mode="after")
    def _short(self) -> SlothAlertWindow:
        if self.short_window >= self.long_window:
            raise ValueError(f"shortWindow {self.short_window} must be shorter than longWindow {self.long_window}")
        return self


class SlothAlertWindowPair(Model):
    quick: SlothAlertWindow
    slow: SlothAlertWindow


class SlothAlertWindowsSpec(Model):
    slo_period: DurationField = Field(validation_alias=AliasChoices("sloPeriod"))
    page: SlothAlertWindowPair
    ticket: SlothAlertWindowPair

    @model_validator(mode="after")
    def _within_period(self) -> SlothAlertWindowsSpec:
        for name, pair in (("page", self.page), ("ticket", self.ticket)):
            for speed, window in (("quick", pair.quick), ("slow", pair.slow)):
                if window.long_window > self.slo_period:
                    raise ValueError(f"{name}.{speed}.longWindow {window.long_window} is longer than the "
                                     f"sloPeriod {self.slo_period}")
        return self

    def tiers(self) -> list[dict[str, Any]]:
        """fireline tiers with Sloth's meaning: errorBudgetPercent of the period's budget spent over longWindow."""
        return [{"long": str(w.long_window), "short": str(w.short_window),
                 "budget_percent": decimal_text(w.error_budget_percent), "severity": severity}
                for severity, pair in (("page", self.page), ("ticket", self.ticket)) for w in (pair.quick, pair.slow)]


class SlothAlertWindowsDoc(Model):
    api_version: str = Field(validation_alias=AliasChoices("apiVersion"))
    kind: str
    spec: SlothAlertWindowsSpec


@dataclass
class SlothWindows:
    """The AlertWindows among the inputs: Sloth SLOs take the chosen period and its window pairs."""

    period: str = SLOTH_DEFAULT_WINDOW
    tiers: list[dict[str, Any]] | None = None
    source: str | None = None  # file:line of the AlertWindows document in use


def collect_sloth_windows(documents: list[Document], detect: Callable[[Any], str | None]
                          ) -> tuple[SlothWindows, list[Problem]]:
    """Validate every AlertWindows document; choose the one Sloth would use.

    Sloth uses the windows of its default SLO period (30d). fireline reads no Sloth CLI flags, so:
    the 30d AlertWindows when one is given, else the only one given (its period becomes the Sloth
    SLOs' window, as `--default-slo-period` would); several without a 30d one are ambiguous.
    """
    found: list[tuple[Document, SlothAlertWindowsDoc]] = []
    problems: list[Problem] = []
    for doc in documents:
        if detect(doc.data) != "sloth/alert-windows":
            continue
        try:
            found.append((doc, validate(SlothAlertWindowsDoc, doc.data, doc.path)))
        except SpecError as exc:
            problems.extend(exc.problems)
    if not found:
        return SlothWindows(), problems
    periods: dict[Duration, tuple[Document, SlothAlertWindowsDoc]] = {}
    for doc, windows in found:
        period = windows.spec.slo_period
        if period in periods:
            first = periods[period][0]
            problems.append(Problem(display_path(doc.path), *position(doc.data, ("spec", "sloPeriod")),
                                    "spec.sloPeriod", f"AlertWindows for sloPeriod {period} are also given in "
                                    f"{display_path(first.path)}:{position(first.data, ())[0]}"))
            continue
        periods[period] = (doc, windows)
    default = Duration.parse(SLOTH_DEFAULT_WINDOW)
    if default in periods:
        chosen = periods[default]
    elif len(periods) == 1:
        chosen = next(iter(periods.values()))
    else:
        doc = found[0][0]
        problems.append(Problem(display_path(doc.path), *position(doc.data, ()), "spec.sloPeriod",
                                f"AlertWindows for {', '.join(sorted(str(p) for p in periods))} and none for "
                                f"Sloth's default period {SLOTH_DEFAULT_WINDOW}: give one AlertWindows (its period "
                                "becomes the Sloth SLOs' window) or one for 30d"))
        return SlothWindows(), problems
    doc, windows = chosen
    return (SlothWindows(str(windows.spec.slo_period), windows.spec.tiers(),
                         f"{display_path(doc.path)}:{position(doc.data, ())[0]}"), problems)


def _sloth_to_native(spec: SlothSpec, window: str, tiers: list[dict[str, Any]] | None = None) -> dict[str, Any]:
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
            **({"info_labels": info} if (info := _sloth_info_labels(slo)) else {}),
            "sli": sli,
            "alerting": {
                "name": alerting.name,
                **({"tiers": tiers} if tiers is not None else {}),
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


# --- OpenSLO ---------------------------------------------------------------------------------------
# OpenSLO specs are bundles: an SLO names its service, may point at an SLI document (indicatorRef)
# and its queries at a DataSource (metricSourceRef) in other documents or files. The documents
# that carry no SLO are read (and checked) but yield no service of their own.

OPENSLO_APIS = ("openslo/v1", "openslo/v1alpha")
OPENSLO_OBJECT_KINDS = ("Service", "SLI", "DataSource", "AlertPolicy", "AlertCondition", "AlertNotificationTarget")
# Data sources whose query language is PromQL, evaluated by Prometheus or a compatible store.
PROMETHEUS_SOURCES = ("Prometheus", "Thanos", "Mimir", "Cortex", "VictoriaMetrics", "Sloth")
_MONTH_DAYS = 30  # a rolling 1M window is 30 days, Sloth's and fireline's default window


class Refusal(ValueError):
    """A conversion problem at a field of a (possibly other) document, in the user's own terms."""

    def __init__(self, doc: Document, loc: tuple[int | str, ...], message: str) -> None:
        super().__init__(message)
        self.doc, self.loc, self.message = doc, loc, message

    def problem(self) -> Problem:
        return Problem(display_path(self.doc.path), *position(self.doc.data, self.loc), field_path(self.loc),
                       self.message)


def _label_text(value: Any) -> str:
    # OpenSLO v1 lets a label hold a list of values (env: [prod]); Prometheus labels hold one string.
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value).lower() if isinstance(value, bool) else str(value)


class OpenSLOMetadata(Model):
    name: str
    displayName: str | None = None
    namespace: str | None = None
    labels: dict[str, Any] | None = None
    annotations: dict[str, Any] | None = None


class OpenSLOMetricSource(Model):
    type: str | None = None
    metricSourceRef: str | None = None
    spec: dict[str, Any] = {}


class OpenSLOQuery(Model):
    # v1: {metricSource: {type | metricSourceRef, spec: {query}}}; v1alpha: {source, queryType, query}
    metricSource: OpenSLOMetricSource | None = None
    source: str | None = None
    queryType: str | None = None
    query: str | None = None


class OpenSLORatio(Model):
    counter: bool | None = None  # v1
    incremental: bool | None = None  # v1alpha's name for counter
    good: OpenSLOQuery | None = None
    bad: OpenSLOQuery | None = None
    total: OpenSLOQuery | None = None
    raw: OpenSLOQuery | None = None
    rawType: str | None = None

    @property
    def is_counter(self) -> bool:
        if self.incremental is not None:
            return self.incremental
        return True if self.counter is None else self.counter


class OpenSLOIndicatorSpec(Model):
    description: str = ""
    ratioMetric: OpenSLORatio | None = None
    thresholdMetric: dict[str, Any] | None = None


class OpenSLOIndicator(Model):
    metadata: OpenSLOMetadata | None = None
    spec: OpenSLOIndicatorSpec | None = None
    thresholdMetric: dict[str, Any] | None = None  # v1alpha puts it on the indicator itself


class OpenSLOObjective(Model):
    displayName: str | None = None
    target: Number | None = None
    targetPercent: Number | None = None
    ratioMetrics: OpenSLORatio | None = None  # v1alpha puts the ratio on the objective
    op: str | None = None
    value: Any = None
    timeSliceTarget: Any = None
    timeSliceWindow: Any = None
    compositeWeight: Any = None
    indicator: OpenSLOIndicator | None = None
    indicatorRef: str | None = None

    @model_validator(mode="after")
    def _target(self) -> OpenSLOObjective:
        if (self.target is None) == (self.targetPercent is None):
            raise ValueError("give exactly one of target (0-1) or targetPercent (0-100)")
        return self

    def percent(self) -> Decimal:
        return self.targetPercent if self.targetPercent is not None else (self.target or Decimal(0)) * 100


class OpenSLOTimeWindow(Model):
    duration: str | None = None
    count: int | None = None
    unit: str | None = None
    isRolling: bool = True
    calendar: dict[str, Any] | None = None


class OpenSLOSpec(Model):
    service: str
    description: str = ""
    indicator: OpenSLOIndicator | None = None
    indicatorRef: str | None = None
    budgetingMethod: str = "Occurrences"
    objectives: list[OpenSLOObjective] = Field(min_length=1)
    timeWindow: list[OpenSLOTimeWindow] | None = None
    timeWindows: list[OpenSLOTimeWindow] | None = None  # v1alpha spelling
    alertPolicies: list[Any] | None = None  # an empty `alertPolicies:` is null in YAML

    @field_validator("budgetingMethod")
    @classmethod
    def _method(cls, value: str) -> str:
        if value not in ("Occurrences", "Timeslices", "RatioTimeslices"):
            raise ValueError(f"budgetingMethod must be Occurrences, Timeslices or RatioTimeslices, got {value!r}")
        return value


class OpenSLODoc(Model):
    apiVersion: str
    kind: str
    metadata: OpenSLOMetadata
    spec: OpenSLOSpec


class OpenSLOObject(Model):
    """Service, AlertPolicy, AlertCondition, AlertNotificationTarget: checked, carry no SLO."""

    apiVersion: str
    kind: str
    metadata: OpenSLOMetadata
    spec: dict[str, Any] | None = None


class OpenSLOSLIDoc(Model):
    apiVersion: str
    kind: str
    metadata: OpenSLOMetadata
    spec: OpenSLOIndicatorSpec


class OpenSLODataSourceSpec(Model):
    type: str
    description: str = ""
    connectionDetails: Any = None


class OpenSLODataSourceDoc(Model):
    apiVersion: str
    kind: str
    metadata: OpenSLOMetadata
    spec: OpenSLODataSourceSpec


def _prometheus_compatible(kind: str) -> bool:
    return kind.lower() in {s.lower() for s in PROMETHEUS_SOURCES}


def _source_refusal(doc: Document, loc: tuple[int | str, ...], kind: str) -> Refusal:
    return Refusal(doc, loc, f"data source type {kind!r} is not Prometheus-compatible: fireline evaluates SLIs "
                             f"as PromQL (supported types: {', '.join(PROMETHEUS_SOURCES)})")


@dataclass
class OpenSLOBundle:
    """The SLI and DataSource documents of every given file, by metadata.name, for the refs to resolve."""

    slis: dict[str, tuple[Document, OpenSLOSLIDoc]] = dataclass_field(default_factory=dict)
    sources: dict[str, str] = dataclass_field(default_factory=dict)  # DataSource name -> type
    # AlertCondition and AlertPolicy documents by metadata.name, for conditionRef and SLO alertPolicies.
    conditions: dict[str, tuple[Document, dict[str, Any]]] = dataclass_field(default_factory=dict)
    policies: dict[str, tuple[Document, dict[str, Any]]] = dataclass_field(default_factory=dict)


def collect_openslo(documents: list[Document]) -> tuple[OpenSLOBundle, list[Problem]]:
    """Read every OpenSLO object document; SLOs are converted afterwards, against the whole bundle."""
    bundle = OpenSLOBundle()
    problems: list[Problem] = []
    sli_docs: list[tuple[Document, OpenSLOSLIDoc]] = []
    for doc in documents:
        if not (isinstance(doc.data, dict) and doc.data.get("apiVersion") in OPENSLO_APIS):
            continue
        kind = doc.data.get("kind")
        try:
            if kind == "DataSource":
                source: OpenSLODataSourceDoc = validate(OpenSLODataSourceDoc, doc.data, doc.path)
                if not _prometheus_compatible(source.spec.type):
                    raise SpecError([_source_refusal(doc, ("spec", "type"), source.spec.type).problem()])
                bundle.sources[source.metadata.name] = source.spec.type
            elif kind == "SLI":
                sli: OpenSLOSLIDoc = validate(OpenSLOSLIDoc, doc.data, doc.path)
                sli_docs.append((doc, sli))
                bundle.slis[sli.metadata.name] = (doc, sli)
            elif kind in OPENSLO_OBJECT_KINDS:
                obj: OpenSLOObject = validate(OpenSLOObject, doc.data, doc.path)
                if kind == "AlertCondition":
                    bundle.conditions[obj.metadata.name] = (doc, doc.data)
                elif kind == "AlertPolicy":
                    bundle.policies[obj.metadata.name] = (doc, doc.data)
        except SpecError as exc:
            problems.extend(exc.problems)
    # An SLI is checked where it is written, whether or not an SLO uses it yet.
    for doc, sli in sli_docs:
        try:
            _indicator_events(sli.spec, doc, ("spec",), bundle)
        except Refusal as exc:
            problems.append(exc.problem())
    return bundle, problems


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

    try:
        expr = promql_parser.parse(query)
    except ValueError as exc:
        raise ValueError(f"{query!r} is not valid PromQL: {exc}") from None
    if isinstance(expr, promql_parser.VectorSelector):
        return f"sum({'rate' if counter else 'sum_over_time'}({query}[{{{{.window}}}}]))"
    kind = "counter" if counter else "gauge"
    raise ValueError(
        f"cannot derive events over a window from {query!r}: give a {kind} selector "
        f"(e.g. http_requests_total{{code=~\"5..\"}}) or a query with [{{{{.window}}}}]"
    )


def _promql(query: OpenSLOQuery, doc: Document, loc: tuple[int | str, ...], bundle: OpenSLOBundle) -> str:
    if query.metricSource is not None:
        ms = query.metricSource
        if ms.type is not None:
            kind, kind_loc = ms.type, (*loc, "metricSource", "type")
        elif ms.metricSourceRef is not None:
            if ms.metricSourceRef not in bundle.sources:
                raise Refusal(doc, (*loc, "metricSource", "metricSourceRef"),
                              f"metricSourceRef {ms.metricSourceRef!r} names no DataSource document in the "
                              "given files: give the file with that DataSource too, or write type: Prometheus")
            kind, kind_loc = bundle.sources[ms.metricSourceRef], (*loc, "metricSource", "metricSourceRef")
        else:
            raise Refusal(doc, (*loc, "metricSource"), "give type: Prometheus or a metricSourceRef")
        if not _prometheus_compatible(kind):
            raise _source_refusal(doc, kind_loc, kind)
        text = ms.spec.get("query") or ms.spec.get("promql")
        if not isinstance(text, str):
            raise Refusal(doc, (*loc, "metricSource", "spec"), "expected the PromQL as metricSource.spec.query")
        return text
    if query.source is not None and not _prometheus_compatible(query.source):
        raise _source_refusal(doc, (*loc, "source"), query.source)
    if query.query is None:
        raise Refusal(doc, loc, "no PromQL query: expected metricSource.spec.query (v1) or query (v1alpha)")
    return query.query


def _ratio_events(ratio: OpenSLORatio, doc: Document, loc: tuple[int | str, ...],
                  bundle: OpenSLOBundle) -> dict[str, str]:
    if ratio.raw is not None:
        raise Refusal(doc, (*loc, "raw"), "raw ratio metrics are not supported: give good (or bad) and total")
    if ratio.total is None or (ratio.good is None) == (ratio.bad is None):
        raise Refusal(doc, loc, "give total with exactly one of good or bad")
    counter = ratio.is_counter

    def rate(name: str, query: OpenSLOQuery) -> str:
        try:
            return _openslo_rate(_promql(query, doc, (*loc, name), bundle), counter)
        except Refusal:
            raise
        except ValueError as exc:
            raise Refusal(doc, (*loc, name), str(exc)) from None

    total = rate("total", ratio.total)
    if ratio.bad is not None:
        return {"errors": rate("bad", ratio.bad), "total": total}
    assert ratio.good is not None
    return {"good": rate("good", ratio.good), "total": total}


_THRESHOLD_REFUSAL = ("thresholdMetric indicators are not supported yet (a gauge against a threshold): "
                      "write the SLI as a ratioMetric of good and total events")


def _indicator_events(spec: OpenSLOIndicatorSpec, doc: Document, loc: tuple[int | str, ...],
                      bundle: OpenSLOBundle) -> dict[str, str]:
    if spec.thresholdMetric is not None:
        raise Refusal(doc, (*loc, "thresholdMetric"), _THRESHOLD_REFUSAL)
    if spec.ratioMetric is None:
        raise Refusal(doc, loc, "give a ratioMetric indicator")
    return _ratio_events(spec.ratioMetric, doc, (*loc, "ratioMetric"), bundle)


def _window(windows: list[OpenSLOTimeWindow], doc: Document, key: str) -> Duration:
    if not windows:
        return Duration.parse(SLOTH_DEFAULT_WINDOW)
    if len(windows) > 1:
        raise Refusal(doc, ("spec", key), "at most one time window is supported")
    tw, loc = windows[0], ("spec", key, 0)
    if tw.duration is not None:
        text = str(tw.duration).strip()
        month = re.fullmatch(r"(\d+)M", text)
        try:
            window = (Duration.parse(f"{int(month.group(1)) * _MONTH_DAYS}d") if month else Duration.parse(text))
        except ValueError as exc:
            raise Refusal(doc, (*loc, "duration"), str(exc)) from None
    else:
        units = {"Minute": "m", "Hour": "h", "Day": "d", "Week": "w"}
        if tw.count is None or tw.unit not in (*units, "Month"):
            raise Refusal(doc, loc, "give duration (e.g. 28d, 4w, 1M), or count with unit Day, Week or Month")
        window = (Duration.parse(f"{tw.count * _MONTH_DAYS}d") if tw.unit == "Month"
                  else Duration.parse(f"{tw.count}{units[tw.unit]}"))
    if not tw.isRolling:
        raise Refusal(doc, (*loc, "isRolling"),
                      f"calendar windows (isRolling: false) are not supported yet: fireline's SLO windows are "
                      f"rolling; write isRolling: true for a rolling {window} window")
    return window


# OpenSLO alerting: an SLO's alertPolicies (names, alertPolicyRef, or inline AlertPolicy documents)
# hold conditions (conditionRef or inline AlertCondition); each burn-rate condition is a fireline tier.
_PAGE_SEVERITIES = {"page", "critical", "high", "urgent", "sev1", "sev2", "p1", "p2"}
_TICKET_SEVERITIES = {"ticket", "warning", "low", "medium", "info", "sev3", "sev4", "p3", "p4", "p5"}


def _mapping(value: Any, doc: Document, loc: tuple[int | str, ...], what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Refusal(doc, loc, f"expected {what} (a mapping)")
    return value


def _condition_tier(condition_doc: Document, data: dict[str, Any], loc: tuple[int | str, ...],
                    window: Duration) -> dict[str, Any]:
    spec = _mapping(data.get("spec"), condition_doc, (*loc, "spec"), "the AlertCondition's spec")
    cond = _mapping(spec.get("condition"), condition_doc, (*loc, "spec", "condition"), "spec.condition")
    where = (*loc, "spec", "condition")
    if str(cond.get("kind", "")).lower() != "burnrate":
        raise Refusal(condition_doc, (*where, "kind"), f"condition kind {cond.get('kind')!r} is not supported: "
                                                         "fireline alerts on burn rates (kind: burnrate)")
    if str(cond.get("op", "")).lower() not in ("gt", "gte"):
        raise Refusal(condition_doc, (*where, "op"), f"op {cond.get('op')!r}: a burn-rate alert fires when the "
                                                       "burn rate is above its threshold; use gt or gte")
    try:
        threshold = Decimal(str(cond.get("threshold")))
        long = Duration.parse(str(cond.get("lookbackWindow")))
        after = Duration.parse(str(cond["alertAfter"])) if cond.get("alertAfter") else Duration(0)
    except (ArithmeticError, ValueError) as exc:
        raise Refusal(condition_doc, where, f"threshold, lookbackWindow and alertAfter: {exc}") from None
    if not threshold > 0:
        raise Refusal(condition_doc, (*where, "threshold"), f"threshold must be a burn rate above 0, got {threshold}")
    budget_percent = threshold * Decimal(long.milliseconds) / Decimal(window.milliseconds) * 100
    if budget_percent > 100:
        raise Refusal(condition_doc, (*where, "threshold"),
                      f"burn rate {threshold} over {long} spends {budget_percent:.4g}% of the {window} budget: "
                      "more than all of it, so it can never fire")
    severity = str(spec.get("severity", "")).strip().lower()
    if severity in _PAGE_SEVERITIES:
        kind = "page"
    elif severity in _TICKET_SEVERITIES:
        kind = "ticket"
    else:
        raise Refusal(condition_doc, (*loc, "spec", "severity"),
                      f"severity {spec.get('severity')!r}: say page (or critical, high) or ticket (or warning, low)")
    # The Workbook's short window: a twelfth of the long one, so a tier stops firing soon after the burn ends.
    short = Duration(max(long.milliseconds // 12, 60_000))
    return {"long": str(long), "short": str(short), "budget_percent": decimal_text(budget_percent.normalize()),
            "severity": kind, "for": str(after)}


def _policy_tiers(doc: Document, spec: OpenSLOSpec, bundle: OpenSLOBundle, window: Duration
                  ) -> list[dict[str, Any]] | None:
    """Tiers from the SLO's alert policies; None when it names none (the default tiers apply)."""
    tiers: list[dict[str, Any]] = []
    for index, item in enumerate(spec.alertPolicies or []):
        loc: tuple[int | str, ...] = ("spec", "alertPolicies", index)
        name = item if isinstance(item, str) else item.get("alertPolicyRef") if isinstance(item, dict) else None
        if name is not None:
            if name not in bundle.policies:
                raise Refusal(doc, loc, f"alert policy {name!r} names no AlertPolicy document in the given files")
            policy_doc, policy = bundle.policies[name]
            policy_loc: tuple[int | str, ...] = ()
        else:
            policy_doc, policy, policy_loc = doc, _mapping(item, doc, loc, "an AlertPolicy"), loc
        policy_spec = _mapping(policy.get("spec"), policy_doc, (*policy_loc, "spec"), "the AlertPolicy's spec")
        if policy_spec.get("alertWhenBreaching") is False:
            continue  # the policy asks for no alert while the SLO breaches
        conditions = policy_spec.get("conditions") or []
        for c_index, condition in enumerate(conditions if isinstance(conditions, list) else []):
            c_loc: tuple[int | str, ...] = (*policy_loc, "spec", "conditions", c_index)
            ref = condition.get("conditionRef") if isinstance(condition, dict) else None
            if ref is not None:
                if ref not in bundle.conditions:
                    raise Refusal(policy_doc, (*c_loc, "conditionRef"),
                                  f"conditionRef {ref!r} names no AlertCondition document in the given files")
                condition_doc, data = bundle.conditions[ref]
                tiers.append(_condition_tier(condition_doc, data, (), window))
            else:
                tiers.append(_condition_tier(policy_doc, _mapping(condition, policy_doc, c_loc, "an AlertCondition"),
                                             c_loc, window))
    return tiers or None


def _openslo_to_native(doc: Document, openslo: OpenSLODoc, bundle: OpenSLOBundle) -> dict[str, Any]:
    spec = openslo.spec
    if spec.budgetingMethod != "Occurrences":
        raise Refusal(doc, ("spec", "budgetingMethod"),
                      f"budgetingMethod {spec.budgetingMethod} is not supported yet: fireline alerts on burn "
                      "rates of event counts (Occurrences)")
    key = "timeWindow" if spec.timeWindow is not None else "timeWindows"
    window = _window(spec.timeWindow or spec.timeWindows or [], doc, key)
    tiers = _policy_tiers(doc, spec, bundle, window)
    slos = []
    for i, objective in enumerate(spec.objectives):
        loc: tuple[int | str, ...] = ("spec", "objectives", i)
        if objective.ratioMetrics is not None:
            events = _ratio_events(objective.ratioMetrics, doc, (*loc, "ratioMetrics"), bundle)
        else:
            indicator, ref = objective.indicator or spec.indicator, objective.indicatorRef or spec.indicatorRef
            ref_loc = (*loc, "indicatorRef") if objective.indicatorRef else ("spec", "indicatorRef")
            ind_loc = (*loc, "indicator") if objective.indicator else ("spec", "indicator")
            if indicator is not None:
                if indicator.thresholdMetric is not None:
                    raise Refusal(doc, (*ind_loc, "thresholdMetric"), _THRESHOLD_REFUSAL)
                if indicator.spec is None:
                    raise Refusal(doc, ind_loc, "the indicator has no spec with a ratioMetric")
                events = _indicator_events(indicator.spec, doc, (*ind_loc, "spec"), bundle)
            elif ref is not None:
                if ref not in bundle.slis:
                    raise Refusal(doc, ref_loc, f"indicatorRef {ref!r} names no SLI document in the given files: "
                                                "give the file with that `kind: SLI` too")
                sli_doc, sli = bundle.slis[ref]
                events = _indicator_events(sli.spec, sli_doc, ("spec",), bundle)
            else:
                raise Refusal(doc, loc, "no indicator: give spec.indicator, spec.indicatorRef or ratioMetrics")
        name = openslo.metadata.name if len(spec.objectives) == 1 else f"{openslo.metadata.name}-{i}"
        slos.append({
            "name": name,
            "objective": objective.percent(),
            "window": str(window),
            "description": spec.description,
            "sli": {"events": events},
            **({"alerting": {"tiers": tiers}} if tiers is not None else {}),
        })
    labels = {str(k): _label_text(v) for k, v in (openslo.metadata.labels or {}).items()}
    team = openslo.metadata.labels.get("team") if openslo.metadata.labels else None
    team_name = (team[0] if isinstance(team, list) and team else team) or labels.get("owner") or spec.service
    return {
        "apiVersion": "fireline/v1",
        "kind": "Service",
        "metadata": {"name": spec.service, "labels": {k: v for k, v in labels.items() if k not in ("team",)}},
        "spec": {"team": str(team_name), "slos": slos},
    }


# --- Pyrra ---------------------------------------------------------------------------------------
# pyrra.dev/v1alpha1 ServiceLevelObjective: one SLO per document, its queries written by Pyrra from
# plain vector selectors. fireline writes the same events over {{.window}}; the service is the
# document's namespace (Pyrra groups objectives by it), or the SLO's own name when it has none.

PYRRA_API = "pyrra.dev/v1alpha1"
PYRRA_PREFIX = "pyrra.dev/"


class PyrraMetric(Model):
    metric: str


class PyrraRatio(Model):
    errors: PyrraMetric
    total: PyrraMetric
    grouping: list[str] | None = None


class PyrraLatency(Model):
    success: PyrraMetric
    total: PyrraMetric
    grouping: list[str] | None = None


class PyrraLatencyNative(Model):
    total: PyrraMetric
    latency: str
    grouping: list[str] | None = None


class PyrraBoolGauge(Model):
    metric: str
    grouping: list[str] | None = None


class PyrraIndicator(Model):
    ratio: PyrraRatio | None = None
    latency: PyrraLatency | None = None
    latencyNative: PyrraLatencyNative | None = None
    bool_gauge: PyrraBoolGauge | None = None

    @model_validator(mode="after")
    def _one(self) -> PyrraIndicator:
        given = [n for n in ("ratio", "latency", "latencyNative", "bool_gauge") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of ratio, latency, latencyNative or bool_gauge"
                             + (f"; got {', '.join(given)}" if given else ""))
        return self


class PyrraAlerting(Model):
    disabled: bool | None = None
    burnrates: bool | None = None
    absent: bool | None = None
    name: str | None = None
    absentName: str | None = None
    severities: dict[str, Any] | None = None


class PyrraSpec(Model):
    target: Number
    window: DurationField
    description: str | None = None
    indicator: PyrraIndicator
    alerting: PyrraAlerting = PyrraAlerting()
    partial_response_strategy: str | None = None
    performanceOverAccuracy: bool | None = None
    ruleOutput: dict[str, Any] | None = None


class PyrraMetadata(Model):
    name: str
    namespace: str | None = None
    labels: dict[str, Any] | None = None
    annotations: dict[str, Any] | None = None


class PyrraDoc(Model):
    apiVersion: str
    kind: str
    metadata: PyrraMetadata
    spec: PyrraSpec


def _pyrra_selector(doc: Document, loc: tuple[int | str, ...], text: str) -> str:
    import promql_parser

    try:
        expr = promql_parser.parse(text)
    except ValueError as exc:
        raise Refusal(doc, loc, f"{text!r} is not valid PromQL: {exc}") from None
    if not isinstance(expr, promql_parser.VectorSelector):
        raise Refusal(doc, loc, f"Pyrra takes a vector selector here (e.g. http_requests_total{{job=\"api\"}}), "
                                f"got {text!r}")
    return text.strip()


# Pyrra's multi-window alerts (slo/rules.go Windows()): windows as fractions of the SLO window, each
# rounded to the minute, and fixed burn-rate factors: (short, long, for) divisors and the factor.
_PYRRA_WINDOWS = ((8064, 672, 20160, 14, "page"), (1344, 112, 2688, 7, "page"),
                  (336, 28, 672, 2, "ticket"), (112, 7, 224, 1, "ticket"))


def _go_minutes(window: Duration, divisor: int) -> Duration:
    """window / divisor rounded to the minute as Go's time.Duration.Round does (half away from zero)."""
    ms = window.milliseconds // divisor
    return Duration((ms + 30_000) // 60_000 * 60_000)


def pyrra_tiers(objective: Decimal, window: Duration) -> list[dict[str, Any]]:
    """Pyrra's four tiers for the window, with its factors (14, 7, 2, 1) and `for` durations.

    A tier that needs more than 100% errors to fire (objectives below about 97% on 28d) is left out:
    Pyrra writes such an alert anyway and it never fires.
    """
    budget = error_budget(objective)
    tiers = []
    for short_div, long_div, for_div, factor, severity in _PYRRA_WINDOWS:
        long, short = _go_minutes(window, long_div), _go_minutes(window, short_div)
        if factor * budget > 1:
            continue
        # budget_percent such that the burn-rate threshold is exactly Pyrra's factor for this long window.
        percent = Decimal(factor) * Decimal(long.milliseconds) / Decimal(window.milliseconds) * 100
        tiers.append({"long": str(long), "short": str(short), "budget_percent": decimal_text(percent.normalize()),
                      "severity": severity, "for": str(_go_minutes(window, for_div))})
    return tiers


def _pyrra_to_native(doc: Document, pyrra: PyrraDoc) -> dict[str, Any]:
    spec, ind = pyrra.spec, pyrra.spec.indicator
    loc: tuple[int | str, ...] = ("spec", "indicator")
    chosen = next(n for n in ("ratio", "latency", "latencyNative", "bool_gauge") if getattr(ind, n) is not None)
    grouping = list(getattr(ind, chosen).grouping or [])
    for index, label in enumerate(grouping):
        if not re.fullmatch(r"[a-zA-Z_][a-zA-Z0-9_]*", label):
            raise Refusal(doc, (*loc, chosen, "grouping", index), f"{label!r} is not a valid Prometheus label name")
        if label in RESERVED_LABELS:
            raise Refusal(doc, (*loc, chosen, "grouping", index),
                          f"grouping by {label!r} is not supported: fireline sets {label!r} on every series it "
                          f"records (the SLO's identity), so the groups would collide; relabel the metric's "
                          f"{label!r} (e.g. to exported_{label}) at scrape time and group by that")
    # Pyrra's grouping is one SLO per label value: fireline's group_by, the sums kept by those labels.
    by = f" by ({', '.join(grouping)}) " if grouping else ""
    events: dict[str, str]
    if ind.ratio is not None:
        errors = _pyrra_selector(doc, (*loc, "ratio", "errors", "metric"), ind.ratio.errors.metric)
        total = _pyrra_selector(doc, (*loc, "ratio", "total", "metric"), ind.ratio.total.metric)
        events = {"errors": f"sum{by}(rate({errors}[{{{{.window}}}}]))",
                  "total": f"sum{by}(rate({total}[{{{{.window}}}}]))"}
    elif ind.latency is not None:
        success = _pyrra_selector(doc, (*loc, "latency", "success", "metric"), ind.latency.success.metric)
        total = _pyrra_selector(doc, (*loc, "latency", "total", "metric"), ind.latency.total.metric)
        if not re.search(r"\ble\s*=", success):
            raise Refusal(doc, (*loc, "latency", "success", "metric"),
                          "the success metric must select one bucket with le, e.g. "
                          "http_request_duration_seconds_bucket{le=\"0.5\"}")
        events = {"good": f"sum{by}(rate({success}[{{{{.window}}}}]))",
                  "total": f"sum{by}(rate({total}[{{{{.window}}}}]))"}
    elif ind.bool_gauge is not None:
        # A 0/1 gauge (probe_success): each sample is one event, good when 1.
        metric = _pyrra_selector(doc, (*loc, "bool_gauge", "metric"), ind.bool_gauge.metric)
        events = {"good": f"sum{by}(sum_over_time({metric}[{{{{.window}}}}]))",
                  "total": f"sum{by}(count_over_time({metric}[{{{{.window}}}}]))"}
    else:
        raise Refusal(doc, (*loc, "latencyNative"),
                      "latencyNative (native histograms) is not supported yet: use latency with a classic "
                      "histogram's _bucket and _count")
    labels = {k.removeprefix(PYRRA_PREFIX): _label_text(v) for k, v in (pyrra.metadata.labels or {}).items()
              if k.startswith(PYRRA_PREFIX)}
    annotations = {k.removeprefix(PYRRA_PREFIX): _label_text(v)
                   for k, v in (pyrra.metadata.annotations or {}).items() if k.startswith(PYRRA_PREFIX)}
    alerting: dict[str, Any] = {
        "disable": bool(spec.alerting.disabled) or spec.alerting.burnrates is False,
        "annotations": annotations,
    }
    if spec.alerting.name is not None:
        alerting["name"] = spec.alerting.name
    alerting["tiers"] = pyrra_tiers(spec.target, spec.window)  # never empty: factor 1 fits any budget
    team = labels.pop("team", None)
    service = pyrra.metadata.namespace or pyrra.metadata.name
    return {
        "apiVersion": "fireline/v1",
        "kind": "Service",
        "metadata": {"name": service, "labels": {}},
        "spec": {"team": team or service, "slos": [{
            "name": pyrra.metadata.name,
            "objective": spec.target,
            "window": str(spec.window),
            "description": spec.description or "",
            "labels": labels,
            **({"group_by": grouping} if grouping else {}),
            "sli": {"events": events},
            "alerting": alerting,
        }]},
    }


# --- dispatch ------------------------------------------------------------------------------------


Loc = tuple[int | str, ...]


def _sloth_origin(base: Loc, camel: bool) -> Callable[[Loc], Loc]:
    """Where a native field came from in a Sloth document (prometheus/v1 snake_case, the CRD camelCase)."""
    names = {
        "errors": "errorQuery" if camel else "error_query", "total": "totalQuery" if camel else "total_query",
        "page": "pageAlert" if camel else "page_alert", "ticket": "ticketAlert" if camel else "ticket_alert",
    }

    def origin(loc: Loc) -> Loc:
        if loc[:2] == ("metadata", "name"):
            return (*base, "service")
        if loc[:1] == ("metadata",) or loc[:2] == ("spec", "team"):
            return (*base, "labels")
        if loc[:2] != ("spec", "slos") or len(loc) < 3:
            return base
        slo, rest = (*base, "slos", loc[2]), loc[3:]
        if rest[:2] == ("sli", "events") and len(rest) > 2:
            return (*slo, "sli", "events", names.get(str(rest[2]), str(rest[2])))
        if rest[:2] == ("sli", "ratio"):
            return (*slo, "sli", "raw", "errorRatioQuery" if camel else "error_ratio_query")
        if rest[:1] == ("alerting",) and len(rest) > 1:
            return (*slo, "alerting", names.get(str(rest[1]), str(rest[1])), *rest[2:])
        if rest[:1] in (("name",), ("objective",), ("description",), ("labels",), ("sli",), ("alerting",)):
            return (*slo, *rest)
        return slo

    return origin


def _openslo_origin(openslo: OpenSLODoc) -> Callable[[Loc], Loc]:
    window_key = "timeWindow" if openslo.spec.timeWindow is not None else "timeWindows"

    def origin(loc: Loc) -> Loc:
        if loc[:2] == ("metadata", "name"):
            return ("spec", "service")
        if loc[:1] == ("metadata",) or loc[:2] == ("spec", "team"):
            return ("metadata", "labels")
        if loc[:2] != ("spec", "slos") or len(loc) < 4:
            return ()
        i, field = loc[2], loc[3]
        objective = openslo.spec.objectives[i] if isinstance(i, int) and i < len(openslo.spec.objectives) else None
        if field == "objective":
            key = "targetPercent" if objective is not None and objective.targetPercent is not None else "target"
            return ("spec", "objectives", i, key)
        if field == "window":
            return ("spec", window_key)
        if field == "name":
            return ("metadata", "name")
        if field == "sli":
            if objective is not None and objective.ratioMetrics is not None:
                return ("spec", "objectives", i, "ratioMetrics")
            return ("spec", "indicatorRef" if openslo.spec.indicatorRef else "indicator")
        return ("spec", "objectives", i)

    return origin


def _pyrra_origin(loc: Loc) -> Loc:
    if loc[:2] == ("metadata", "name"):
        return ("metadata", "namespace")
    if loc[:1] == ("metadata",) or loc[:2] == ("spec", "team"):
        return ("metadata", "labels")
    if loc[:2] != ("spec", "slos") or len(loc) < 4:
        return ()
    field = {"objective": ("spec", "target"), "window": ("spec", "window"), "name": ("metadata", "name"),
             "sli": ("spec", "indicator"), "labels": ("metadata", "labels"), "description": ("spec", "description")}
    if loc[3] == "alerting":
        return ("spec", "alerting", *(("name",) if loc[4:5] == ("name",) else ()))
    return field.get(str(loc[3]), ("spec",))


def _native(native: dict[str, Any], doc: Document, what: str, origin: Callable[[Loc], Loc]) -> ServiceSpec:
    """Validate a converted document; errors point at the field of the original it came from."""
    try:
        spec: ServiceSpec = ServiceSpec.model_validate(native)
        return spec
    except Exception as exc:
        from pydantic import ValidationError

        if not isinstance(exc, ValidationError):
            raise
        problems = []
        for e in exc.errors():
            where = origin(tuple(e["loc"]))
            problems.append(Problem(display_path(doc.path), *position(doc.data, where), field_path(where),
                                    f"after converting this {what} document: "
                                    f"{e['msg'].removeprefix('Value error, ')}"))
        raise SpecError(problems) from None


def convert(fmt: str, doc: Document, *, sloth_windows: SlothWindows | None = None,
            openslo: OpenSLOBundle | None = None, warnings: list[Problem] | None = None) -> list[ServiceSpec]:
    """The services of one document; OpenSLO refs resolve against openslo (all given files), Sloth SLOs
    take the period and window pairs of the AlertWindows given (sloth_windows). What is read but not
    applied (Sloth SLO plugins) is added to warnings."""
    windows = sloth_windows or SlothWindows()
    said = warnings if warnings is not None else []
    if fmt == "fireline/Service":
        return [validate(ServiceSpec, doc.data, doc.path)]
    if fmt == "sloth/alert-windows":
        return []  # checked by collect_sloth_windows; applied to the Sloth SLOs
    if fmt == "sloth/prometheus-v1":
        sloth: SlothSpec = validate(SlothPrometheusV1, doc.data, doc.path)
        said.extend(sloth_plugin_warnings(doc, sloth, (), camel=False))
        return [_native(_sloth_to_native(sloth, windows.period, windows.tiers), doc, "Sloth",
                        _sloth_origin((), camel=False))]
    if fmt == "sloth/k8s":
        if not isinstance(doc.data.get("spec"), dict):
            raise SpecError([Problem(display_path(doc.path), *position(doc.data, ("spec",)), "spec",
                                     "expected a mapping with service and slos")])
        sloth = validate(SlothSpec, doc.data["spec"], doc.path, ("spec",))
        said.extend(sloth_plugin_warnings(doc, sloth, ("spec",), camel=True))
        return [_native(_sloth_to_native(sloth, windows.period, windows.tiers), doc, "Sloth",
                        _sloth_origin(("spec",), camel=True))]
    if fmt == "openslo/object":
        return []  # checked by collect_openslo; Service, SLI, DataSource and alerting documents hold no SLO
    if fmt in OPENSLO_APIS:
        openslo_doc: OpenSLODoc = validate(OpenSLODoc, doc.data, doc.path)
        try:
            native = _openslo_to_native(doc, openslo_doc, openslo or OpenSLOBundle())
        except Refusal as exc:
            raise SpecError([exc.problem()]) from None
        return [_native(native, doc, "OpenSLO", _openslo_origin(openslo_doc))]
    if fmt == "pyrra/v1alpha1":
        pyrra: PyrraDoc = validate(PyrraDoc, doc.data, doc.path)
        try:
            native = _pyrra_to_native(doc, pyrra)
        except Refusal as exc:
            raise SpecError([exc.problem()]) from None
        return [_native(native, doc, "Pyrra", _pyrra_origin)]
    raise AssertionError(f"unhandled format {fmt}")


__all__ = ["check_promql", "collect_openslo", "collect_sloth_windows", "convert"]
