"""The native SLO spec (apiVersion fireline/v1, kind Service) and the global Config.

Field names here are the user-facing contract (see docs/spec.md). Imported formats (Sloth,
OpenSLO) are converted into these models, so everything downstream reads one shape.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

import promql_parser
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, field_validator, model_validator

from fireline.slo.durations import Duration, DurationError
from fireline.slo.tiers import DEFAULT_TIERS, Severity, Tier, decimal_text, error_budget

NAME_RE = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
LABEL_NAME_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
METRIC_NAME_RE = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
ALERT_NAME_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_K8S_NAMESPACE_RE = re.compile(r"^(?=.{1,63}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
WINDOW_PLACEHOLDER_RE = re.compile(r"\{\{\s*\.window\s*\}\}")
# Labels fireline sets itself on generated series and alerts; a spec may not override them.
RESERVED_LABELS = frozenset(
    {"service", "slo", "team", "fireline_severity", "long_window", "short_window", "budget_level", "alertname",
     "__name__"}
)

# Labels a group_by may not name: the histogram bucket bound and the compat identity labels.
GROUP_BY_FORBIDDEN = frozenset({"le", "sloth_id", "sloth_service", "sloth_slo", "sloth_severity", "job_name"})

MIN_WINDOW = Duration.parse("7d")
MAX_WINDOW = Duration.parse("90d")


def _to_duration(value: Any) -> Duration:
    if isinstance(value, Duration):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError(f"{value!r} is a bare number: write a duration with a unit, e.g. {value}m or {value}h")
    if not isinstance(value, str):
        raise ValueError(f"expected a duration such as 5m, 1h or 30d, got {type(value).__name__}")
    try:
        return Duration.parse(value)
    except DurationError as exc:
        raise ValueError(str(exc)) from None


def _to_decimal(value: Any) -> Decimal:
    # YAML floats go through their shortest text so 99.9 stays 99.9, not 99.900000000000005684...
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise ValueError(f"expected a number, got {type(value).__name__}")
    try:
        result = Decimal(repr(value) if isinstance(value, float) else str(value))
    except InvalidOperation:
        raise ValueError(f"expected a number, got {value!r}") from None
    if not result.is_finite():
        raise ValueError(f"expected a finite number, got {value!r}")
    return result


DurationField = Annotated[Duration, BeforeValidator(_to_duration), PlainSerializer(str, return_type=str)]
Number = Annotated[Decimal, BeforeValidator(_to_decimal), PlainSerializer(decimal_text, return_type=str)]
Labels = dict[str, str]


def _check_labels(labels: dict[str, str], what: str) -> dict[str, str]:
    for key in labels:
        if not LABEL_NAME_RE.match(key):
            raise ValueError(f"{what} name {key!r} is not a valid Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*)")
    reserved = sorted(RESERVED_LABELS & labels.keys())
    if reserved:
        raise ValueError(f"{what} {', '.join(reserved)} is set by fireline itself and cannot be overridden")
    return labels


def _coerce_label_values(value: Any) -> Any:
    # YAML reads tier: 1 as an int; label values are strings in Prometheus, so accept scalars.
    if isinstance(value, dict):
        return {k: (str(v).lower() if isinstance(v, bool) else str(v)) if isinstance(v, int | float) else v
                for k, v in value.items()}
    return value


LabelMap = Annotated[Labels, BeforeValidator(_coerce_label_values)]


def check_promql(query: str) -> str | None:
    """The parser's complaint about a PromQL expression, or None when it parses."""
    try:
        promql_parser.parse(query)
    except ValueError as exc:
        return str(exc)
    return None


def render_window(query: str, window: Duration) -> str:
    return WINDOW_PLACEHOLDER_RE.sub(str(window), query)


# Aggregations that keep each input series' labels (they select series, they do not merge them).
_SELECTING_AGGREGATIONS = frozenset({"topk", "bottomk", "limitk", "limit_ratio"})


def dropped_labels(query: str, labels: list[str]) -> list[str]:
    """The labels of `labels` that some aggregation in the query removes from its result, in order.

    Any `sum`/`count`/... in the expression that neither keeps a label `by` it nor leaves it out of
    `without` drops that label for everything computed from it.
    """
    tree = promql_parser.parse(query)
    dropped: set[str] = set()
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, promql_parser.AggregateExpr):
            if str(node.op) not in _SELECTING_AGGREGATIONS:
                modifier = node.modifier
                if modifier is None:
                    dropped.update(labels)
                elif str(modifier.type).endswith("By"):
                    dropped.update(name for name in labels if name not in modifier.labels)
                else:
                    dropped.update(name for name in labels if name in modifier.labels)
            stack.append(node.expr)
        elif isinstance(node, promql_parser.BinaryExpr):
            stack.extend((node.lhs, node.rhs))
        elif isinstance(node, promql_parser.Call):
            stack.extend(node.args)
        elif isinstance(node, promql_parser.ParenExpr | promql_parser.UnaryExpr | promql_parser.SubqueryExpr):
            stack.append(node.expr)
    return [name for name in labels if name in dropped]


def _check_windowed_query(query: str, what: str) -> str:
    query = query.strip()
    if not WINDOW_PLACEHOLDER_RE.search(query):
        raise ValueError(
            f"{what} has no {{{{.window}}}} placeholder: write the range as [{{{{.window}}}}], e.g. "
            f"sum(rate(http_requests_total[{{{{.window}}}}])), so fireline can evaluate it over each window"
        )
    problem = check_promql(render_window(query, Duration.parse("5m")))
    if problem:
        raise ValueError(f"{what} is not valid PromQL: {problem}")
    return query


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class EventsSLI(Model):
    """Bad events and all events, or good events and all events: rates with [{{.window}}]."""

    errors: str | None = Field(default=None, description="PromQL for the rate of bad events, with [{{.window}}]")
    good: str | None = Field(default=None, description="PromQL for the rate of good events, with [{{.window}}]")
    total: str = Field(description="PromQL for the rate of all events, with [{{.window}}]")

    @field_validator("errors", "good", "total")
    @classmethod
    def _windowed(cls, value: str | None, info: Any) -> str | None:
        return None if value is None else _check_windowed_query(value, f"the {info.field_name} query")

    @model_validator(mode="after")
    def _distinct(self) -> EventsSLI:
        if (self.errors is None) == (self.good is None):
            raise ValueError("give total with exactly one of errors (bad events) or good (good events)")
        if self.errors == self.total:
            raise ValueError("errors and total are the same query: the error ratio would always be 100%")
        if self.good == self.total:
            raise ValueError("good and total are the same query: the error ratio would always be 0%")
        return self


class LatencySLI(Model):
    histogram: str = Field(description="classic histogram name without _bucket/_count")
    selector: str = "{}"
    threshold: float = Field(description="seconds; one of the histogram's le bounds")

    @field_validator("histogram")
    @classmethod
    def _name(cls, value: str) -> str:
        for suffix in ("_bucket", "_count", "_sum"):
            if value.endswith(suffix):
                raise ValueError(f"give the histogram's base name without {suffix}: {value[: -len(suffix)]!r}")
        if not METRIC_NAME_RE.match(value):
            raise ValueError(f"{value!r} is not a valid metric name")
        return value

    @field_validator("selector")
    @classmethod
    def _selector(cls, value: str) -> str:
        value = value.strip() or "{}"
        if not (value.startswith("{") and value.endswith("}")):
            raise ValueError(f"expected a label selector in braces such as '{{job=\"checkout\"}}', got {value!r}")
        problem = check_promql(f"m{value}")
        if problem:
            raise ValueError(f"selector {value!r} is not valid PromQL: {problem}")
        if re.search(r"\ble\s*(=|!=|=~|!~)", value):
            raise ValueError("selector must not match on le: fireline adds le from threshold")
        return value

    @field_validator("threshold", mode="before")
    @classmethod
    def _threshold(cls, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"threshold must be a number of seconds matching an le bound (e.g. 0.5), got {value!r}")
        if value <= 0:
            raise ValueError(f"threshold must be positive, got {value}")
        return value


class SLI(Model):
    events: EventsSLI | None = None
    ratio: str | None = Field(default=None, description="error-ratio PromQL with [{{.window}}]")
    latency: LatencySLI | None = None

    @field_validator("ratio")
    @classmethod
    def _ratio(cls, value: str | None) -> str | None:
        return None if value is None else _check_windowed_query(value, "the ratio query")

    @model_validator(mode="after")
    def _exactly_one(self) -> SLI:
        given = [name for name in ("events", "ratio", "latency") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of events (errors or good, and total), ratio or latency"
                + (f"; got {', '.join(given)}" if given else "")
            )
        return self


class AlertSeverityConfig(Model):
    disable: bool = False
    labels: LabelMap = {}
    annotations: dict[str, str] = {}

    @field_validator("labels")
    @classmethod
    def _labels(cls, value: dict[str, str]) -> dict[str, str]:
        return _check_labels(value, "label")


class TierSpec(Model):
    long: DurationField
    short: DurationField
    budget_percent: Number
    severity: Severity
    for_: DurationField = Field(default=Duration(0), alias="for")

    @field_validator("budget_percent")
    @classmethod
    def _budget(cls, value: Decimal) -> Decimal:
        if not 0 < value <= 100:
            raise ValueError(f"budget_percent must be above 0 and at most 100, got {decimal_text(value)}")
        return value

    @model_validator(mode="after")
    def _short_shorter(self) -> TierSpec:
        if self.short >= self.long:
            raise ValueError(
                f"short window {self.short} must be shorter than long window {self.long} "
                f"(the Workbook uses 1/12 of it: {Duration(self.long.milliseconds // 12)})"
            )
        return self

    def to_tier(self) -> Tier:
        return Tier(self.long, self.short, self.budget_percent, self.severity, self.for_)


class BudgetAlerting(Model):
    """Alerts on the budget left over the SLO window: a ticket at each level unless severities say otherwise."""

    disable: bool = False
    name: str | None = None
    warning: Number = Decimal(25)  # percent of budget remaining
    critical: Number = Decimal(10)
    warning_severity: Severity = Severity.TICKET
    critical_severity: Severity = Severity.TICKET
    labels: LabelMap = {}
    annotations: dict[str, str] = {}

    @field_validator("labels")
    @classmethod
    def _labels(cls, value: dict[str, str]) -> dict[str, str]:
        return _check_labels(value, "label")

    @model_validator(mode="after")
    def _order(self) -> BudgetAlerting:
        for level in (self.warning, self.critical):
            if not 0 <= level < 100:
                raise ValueError(f"budget alert levels are percentages of budget left in [0, 100), got {level}")
        if self.critical >= self.warning:
            raise ValueError("critical must be below warning (e.g. warning 25, critical 10)")
        return self


class Alerting(Model):
    disable: bool = False  # no alerts at all for this SLO (burn and budget); the recordings stay
    name: str | None = None
    labels: LabelMap = {}
    annotations: dict[str, str] = {}
    page: AlertSeverityConfig = AlertSeverityConfig(labels={"severity": "critical"})
    ticket: AlertSeverityConfig = AlertSeverityConfig(labels={"severity": "warning"})
    runbook: str | None = None
    tiers: list[TierSpec] | None = None
    budget: BudgetAlerting = BudgetAlerting()
    # Low-traffic guard: events the long window must hold before a burn tier fires. None: derived
    # per tier (slo.tiers.default_min_events); a number: the same for every tier; 0: no guard.
    min_events: int | dict[str, int] | None = None
    # Below the guard, a ticket when the longest page window still counts MIN_ERRORS_TO_FIRE errors.
    trickle: bool = True
    # A ticket when the SLI's total series is absent this long; 0s turns it off.
    no_data_for: DurationField = Duration.parse("15m")

    @field_validator("min_events")
    @classmethod
    def _min_events(cls, value: int | dict[str, int] | None) -> int | dict[str, int] | None:
        counts = [value] if isinstance(value, int) else list(value.values()) if isinstance(value, dict) else []
        if any(isinstance(c, bool) or c < 0 for c in counts):
            raise ValueError("min_events must be a count of events, 0 or more (0 turns the guard off)")
        if isinstance(value, dict):
            for window in value:
                _to_duration(window)
        return value

    @field_validator("name")
    @classmethod
    def _alert_name(cls, value: str | None) -> str | None:
        if value is not None and not ALERT_NAME_RE.match(value):
            raise ValueError(f"alert name {value!r} must match [a-zA-Z_][a-zA-Z0-9_]* (e.g. CheckoutAvailabilityBurn)")
        return value

    @field_validator("labels")
    @classmethod
    def _labels(cls, value: dict[str, str]) -> dict[str, str]:
        return _check_labels(value, "label")

    @field_validator("page", "ticket", mode="before")
    @classmethod
    def _default_severity(cls, value: Any, info: Any) -> Any:
        # A page/ticket block without labels keeps the default severity label.
        if isinstance(value, dict) and "labels" not in value:
            return {**value, "labels": {"severity": "critical" if info.field_name == "page" else "warning"}}
        return value

    @field_validator("tiers")
    @classmethod
    def _tiers(cls, value: list[TierSpec] | None) -> list[TierSpec] | None:
        if value is None:
            return None
        if not value:
            raise ValueError("tiers is empty: leave it out for the defaults, or disable page/ticket instead")
        seen: set[tuple[str, str]] = set()
        for tier in value:
            key = (str(tier.long), str(tier.short))
            if key in seen:
                raise ValueError(f"two tiers use the window pair {tier.long}/{tier.short}")
            seen.add(key)
        return value


class SLOSpec(Model):
    name: str
    objective: Number
    window: DurationField = Duration.parse("30d")
    description: str = ""
    labels: LabelMap = {}
    # Labels only on Sloth's sloth_slo_info series (written with --compat sloth): Sloth's info_labels.
    info_labels: LabelMap = {}
    # One budget per value of these labels (per route, tenant, region): the SLI keeps them, every
    # recording and alert carries them, and each label value burns and alerts on its own.
    group_by: list[str] = Field(default=[], description="labels that split the SLO into one budget per value")
    sli: SLI
    alerting: Alerting = Alerting()

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not NAME_RE.match(value):
            raise ValueError(f"SLO name {value!r} must be letters, digits, '-', '_' or '.' (e.g. availability)")
        return value

    @field_validator("objective")
    @classmethod
    def _objective(cls, value: Decimal) -> Decimal:
        if not 0 < value < 100:
            raise ValueError(f"objective must be a percentage above 0 and below 100 (e.g. 99.9), got {value}")
        if value < 1:
            raise ValueError(
                f"objective {value} looks like a ratio: write it as a percentage ({decimal_text(value * 100)})"
            )
        return value

    @field_validator("window")
    @classmethod
    def _window(cls, value: Duration) -> Duration:
        if not MIN_WINDOW <= value <= MAX_WINDOW:
            raise ValueError(f"window must be between {MIN_WINDOW} and {MAX_WINDOW}, got {value}")
        return value

    @field_validator("labels")
    @classmethod
    def _labels(cls, value: dict[str, str]) -> dict[str, str]:
        return _check_labels(value, "label")

    @field_validator("group_by")
    @classmethod
    def _group_by(cls, value: list[str]) -> list[str]:
        for name in value:
            if not LABEL_NAME_RE.match(name):
                raise ValueError(f"group_by label {name!r} is not a valid Prometheus label name")
            if name in RESERVED_LABELS or name in GROUP_BY_FORBIDDEN:
                raise ValueError(f"group_by label {name!r} is set by fireline or the SLI itself; group by a "
                                 "label of the SLI's series (route, tenant, region)")
        if len(set(value)) != len(value):
            raise ValueError(f"group_by names a label twice: {value}")
        return value

    @model_validator(mode="after")
    def _groups_kept(self) -> SLOSpec:
        if not self.group_by:
            return self
        if overlap := sorted(set(self.group_by) & (self.labels.keys() | self.info_labels.keys())):
            raise ValueError(f"{', '.join(overlap)} is both a group_by label and a fixed label of the SLO")
        queries: list[tuple[str, str]] = []
        if self.sli.events is not None:
            queries = [(f"the {n} query", q) for n in ("errors", "good", "total")
                       if (q := getattr(self.sli.events, n)) is not None]
        elif self.sli.ratio is not None:
            queries = [("the ratio query", self.sli.ratio)]
        for what, query in queries:
            dropped = dropped_labels(render_window(query, Duration.parse("5m")), self.group_by)
            if dropped:
                raise ValueError(f"{what} aggregates away the group_by label(s) {', '.join(dropped)}: keep them, "
                                 f"e.g. sum by ({', '.join(self.group_by)}) (rate(...[{{{{.window}}}}]))")
        return self

    @model_validator(mode="after")
    def _tiers_can_fire(self) -> SLOSpec:
        for tier in self.tiers():
            ratio = tier.error_ratio_threshold(self.window, self.error_budget)
            if ratio > 1:
                raise ValueError(
                    f"tier {tier.key} ({tier.severity}) needs an error ratio of {float(ratio):.0%} to fire, "
                    f"which is impossible with objective {self.objective}: give alerting.tiers with "
                    "smaller budget_percent, or disable the severity"
                )
        return self

    @property
    def error_budget(self) -> Decimal:
        return error_budget(self.objective)

    def tiers(self) -> list[Tier]:
        """The tiers in force, without the disabled severities."""
        if self.alerting.disable:
            return []
        chosen = [t.to_tier() for t in self.alerting.tiers] if self.alerting.tiers is not None else list(DEFAULT_TIERS)
        return [t for t in chosen if t.severity not in self.disabled_severities()]

    def disabled_severities(self) -> set[Severity]:
        if self.alerting.disable:
            return set(Severity)
        disabled = {Severity.PAGE} if self.alerting.page.disable else set()
        if self.alerting.ticket.disable:
            disabled.add(Severity.TICKET)
        return disabled


class Operations(Model):
    """Shell snippets for the runbooks, shown verbatim."""

    rollback: str | None = None
    scale: str | None = None
    logs: str | None = None
    feature_flag: str | None = None
    failover: str | None = None


# --- Runbook content (fireline.runbooks): escalation contacts and cause-based warning runbooks ---
# Template ids under src/fireline/runbooks/templates/causes/; docs/runbooks.md describes each.
CAUSE_RUNBOOKS = (
    "high-cpu", "high-memory", "disk-filling", "pod-restarts",
    "certificate-expiry", "dependency-down", "database-connections", "queue-backlog",
)


class EscalationContact(Model):
    """One step of the escalation path shown in runbooks, in order (engineer -> lead -> director)."""

    role: str = Field(description="e.g. on-call engineer, team lead, engineering director")
    contact: str = Field(description="how to reach them: @handle, PagerDuty schedule, phone")


class CauseWarning(Model):
    """A runbook for one of the service's own cause-based warning alerts (fireline writes the runbook only)."""

    runbook: str = Field(description="template id, one of CAUSE_RUNBOOKS")
    alert: str = Field(description="name of the alerting rule this runbook is for")
    name: str | None = Field(default=None, description="file name part; defaults to the template id")
    query: str | None = Field(default=None, description="the alert's PromQL, shown in the runbook")
    notes: str = ""

    @field_validator("runbook")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in CAUSE_RUNBOOKS:
            raise ValueError(f"unknown cause runbook {value!r}: use one of {', '.join(CAUSE_RUNBOOKS)}")
        return value

    @field_validator("alert")
    @classmethod
    def _alert(cls, value: str) -> str:
        if not ALERT_NAME_RE.match(value):
            raise ValueError(f"alert name {value!r} must match [a-zA-Z_][a-zA-Z0-9_]*")
        return value

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        if value is not None and not NAME_RE.match(value):
            raise ValueError(f"name {value!r} must be letters, digits, '-', '_' or '.' "
                             "(it becomes a file name)")
        return value

    @property
    def file_part(self) -> str:
        return self.name or self.runbook


class ServiceBody(Model):
    team: str
    slos: list[SLOSpec] = Field(min_length=1)
    operations: Operations = Operations()
    dashboard: str | None = None
    escalation: list[EscalationContact] = Field(default_factory=list)
    warnings: list[CauseWarning] = Field(default_factory=list)

    @field_validator("team")
    @classmethod
    def _team(cls, value: str) -> str:
        if not NAME_RE.match(value):
            raise ValueError(f"team {value!r} must be letters, digits, '-', '_' or '.'")
        return value

    @field_validator("slos")
    @classmethod
    def _unique(cls, value: list[SLOSpec]) -> list[SLOSpec]:
        names = [slo.name for slo in value]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"SLO names must be unique within a service; repeated: {', '.join(duplicates)}")
        return value

    @field_validator("warnings")
    @classmethod
    def _unique_warning_files(cls, value: list[CauseWarning]) -> list[CauseWarning]:
        parts = [w.file_part for w in value]
        repeated = sorted({p for p in parts if parts.count(p) > 1})
        if repeated:
            raise ValueError(f"two warnings would write the runbook {', '.join(repeated)}: "
                             "give each a distinct name")
        return value


class Metadata(Model):
    name: str
    # Kubernetes namespace of the PrometheusRule/VMRule manifests (generate --target prometheus-operator|vmrule).
    namespace: str | None = None
    labels: LabelMap = {}

    @field_validator("namespace")
    @classmethod
    def _namespace(cls, value: str | None) -> str | None:
        if value is not None and not _K8S_NAMESPACE_RE.match(value):
            raise ValueError(f"namespace {value!r} must be a Kubernetes namespace: at most 63 lowercase letters, "
                             "digits or '-', starting and ending with a letter or digit")
        return value

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not NAME_RE.match(value):
            raise ValueError(f"service name {value!r} must be letters, digits, '-', '_' or '.' (e.g. checkout)")
        return value

    @field_validator("labels")
    @classmethod
    def _labels(cls, value: dict[str, str]) -> dict[str, str]:
        return _check_labels(value, "label")


class ServiceSpec(Model):
    api_version: Literal["fireline/v1"] = Field(alias="apiVersion")
    kind: Literal["Service"]
    metadata: Metadata
    spec: ServiceBody

    @property
    def name(self) -> str:
        return self.metadata.name
