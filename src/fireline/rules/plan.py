"""The rule plan: one typed model of every series, alert and reader query of an SLO.

Generation is a short ordered chain per SLO (after Sloth): SLI recordings -> window ratios ->
metadata and budget -> alerts, each step filling one part of a `RulePlan`. Every output (rule
files, PrometheusRule, promtool tests, runbooks, dashboards) and every reader (the simulator, the
UI, the policy engine, the postmortem, the drill) asks the plan: series names, which windows read
raw counters and which read recordings, and the PromQL of "budget remaining of this SLO" are
decided here and nowhere else.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any

from fireline.promql import Binary, Call, Expr, Matcher, Number, Paren, RangeSelector, Subquery, VectorSelector
from fireline.promql.selectors import Selector
from fireline.rules.sli import BASE_WINDOW, RAW_WINDOW_MAX, SLIQueries
from fireline.slo.durations import Duration, DurationError
from fireline.slo.tiers import MIN_ERRORS_TO_FIRE, Severity, Tier, decimal_text, default_min_events
from fireline.spec.models import ServiceSpec, SLOSpec

# --- series names: the only place in src/ that spells them ---------------------------------------

ERRORS_5M = "slo:sli_errors:rate5m"
TOTAL_5M = "slo:sli_total:rate5m"
OBJECTIVE = "slo:objective:ratio"
ERROR_BUDGET = "slo:error_budget:ratio"
WINDOW_SECONDS = "slo:window:seconds"
BUDGET_REMAINING = "slo:error_budget_remaining:ratio"
# The hourly tier (Source.HOURLY): counts of whole clock hours, and of the hour so far.
ERRORS_1H = "slo:sli_errors:hour_count"
TOTAL_1H = "slo:sli_total:hour_count"
ERRORS_THIS_HOUR = "slo:sli_errors:hour_to_date_count"
TOTAL_THIS_HOUR = "slo:sli_total:hour_to_date_count"
_ERRORS_COUNT_PREFIX = "slo:sli_errors:count"
_TOTAL_COUNT_PREFIX = "slo:sli_total:count"
# The 5m rates again, each only during even (odd) clock hours: a range over the last hour then holds
# just the current hour's samples, so the hour so far is read without a range that starts at the hour.
ERRORS_5M_BY_PARITY = ("slo:sli_errors:rate5m_even_hours", "slo:sli_errors:rate5m_odd_hours")
TOTAL_5M_BY_PARITY = ("slo:sli_total:rate5m_even_hours", "slo:sli_total:rate5m_odd_hours")
_RATIO_PREFIX = "slo:sli_error:ratio_rate"
_RATIO_NAME_RE = re.compile(re.escape(_RATIO_PREFIX) + r"(.+)$")

# Sloth's names, written with `--compat sloth` so that Sloth's dashboards, routes and silences keep working.
SLOTH_TIME_PERIOD_DAYS = "slo:time_period:days"
SLOTH_CURRENT_BURN_RATE = "slo:current_burn_rate:ratio"
SLOTH_PERIOD_BURN_RATE = "slo:period_burn_rate:ratio"
SLOTH_PERIOD_BUDGET_REMAINING = "slo:period_error_budget_remaining:ratio"
SLOTH_INFO = "sloth_slo_info"
COMPAT_MODES = ("sloth",)

DEFAULT_RUNBOOK_BASE = "runbooks"
# The SLO-window rules read days of recorded samples: evaluated every 30s they were most of the
# cost of a rule set (bench/RESULTS.md). Budget remaining moves slowly, so they get their own group.
BUDGET_GROUP_INTERVAL = Duration.parse("2m30s")
HOUR = Duration.parse("1h")
HOURLY_BACKFILL_STEP = Duration.parse("5m")


def ratio_series(window: Duration) -> str:
    """Name of the recorded error ratio over a window."""
    return f"{_RATIO_PREFIX}{window}"


def count_series(total: bool, window: Duration) -> str:
    """Name of the recorded count of errors (or events) over an hourly window (Source.HOURLY)."""
    return f"{_TOTAL_COUNT_PREFIX if total else _ERRORS_COUNT_PREFIX}{window}"


def window_of_ratio_series(name: str) -> Duration | None:
    """The window of a recorded error-ratio series name, or None for any other name."""
    match = _RATIO_NAME_RE.match(name)
    if match is None:
        return None
    try:
        return Duration.parse(match.group(1))
    except DurationError:
        return None


class Source(StrEnum):
    """Where a recorded window's value comes from."""

    RAW = "raw"            # the SLI's own counters, with rate() over the window
    HOURLY = "hourly"      # whole clock hours of recorded counts, plus the parts of hours at both ends
    RECORDED = "recorded"  # fireline's 5m recordings, summed or averaged over the window
    CONSTANT = "constant"  # a number from the spec (objective, budget, window length)


def window_source(window: Duration, event_based: bool = True) -> Source:
    """Raw counters up to RAW_WINDOW_MAX (exact rate() for every page tier); beyond, hourly counts for
    SLIs that count events over whole hours (1d, 3d, 28d, 30d), the 5m recordings for the rest."""
    if window <= RAW_WINDOW_MAX:
        return Source.RAW
    if event_based and window.milliseconds % HOUR.milliseconds == 0:
        return Source.HOURLY
    return Source.RECORDED


def identity(service: str, slo: str) -> dict[str, str]:
    """The labels that name one SLO on every series and alert fireline writes."""
    return {"service": service, "slo": slo}


def _identity_matchers(service: str | None, slo: str | None) -> tuple[Matcher, ...]:
    pairs = (("service", service), ("slo", slo))
    return tuple(Matcher(name, "=", value) for name, value in pairs if value is not None)


def budget_remaining_query(service: str | None = None, slo: str | None = None,
                           group: dict[str, str] | None = None) -> str:
    """Budget remaining (1 untouched, 0 spent) of one SLO, of a service's SLOs, or of every SLO;
    of one group of a grouped SLO when its group labels are given."""
    extra = tuple(Matcher(name, "=", value) for name, value in (group or {}).items())
    return Selector(BUDGET_REMAINING, (*_identity_matchers(service, slo), *extra)).text()


def budget_remaining_over_query(service: str, slo: str, span: Duration) -> str:
    """The latest budget remaining recorded within each span ending at the query time: a chart's
    points whatever the spacing of the samples, as long as it is under the span (the budget group
    records every 2m30s; a backfilled history, stack/history.py, hourly)."""
    selector = VectorSelector(Selector(BUDGET_REMAINING, _identity_matchers(service, slo)))
    return Call.of("last_over_time", selector.range(span)).text()


def budget_remaining_raw_query(slo: SLOSpec) -> str | None:
    """Budget remaining over the SLO window straight from the SLI's raw counters (all errors over all
    events, Prometheus' increase()), for times before the budget group recorded it (a backfilled
    history). None for `ratio` SLIs: their budget is the time average of the 5m ratio, which only the
    recordings give cheaply."""
    q = SLIQueries(slo)
    if not q.event_based:
        return None
    ratio = Binary("/", q.errors(slo.window), q.total(slo.window))
    return Binary("-", Number.of(1), Binary("/", ratio, Number.of(slo.error_budget))).text()


def window_ratios_query() -> str:
    """Every recorded error-ratio series of every SLO and window, for one instant query."""
    return Selector("", (Matcher("__name__", "=~", re.escape(_RATIO_PREFIX) + ".+"),)).text()


def burn_rate_query(service: str, slo: str, window: Duration, error_budget: Decimal) -> str:
    """Burn rate over a window: the recorded error ratio as a multiple of the error budget."""
    ratio = VectorSelector(Selector(ratio_series(window), _identity_matchers(service, slo)))
    return Binary("/", ratio, Number.of(error_budget)).text()


def error_ratio_query(service: str, slo: str, window: Duration) -> str:
    """The recorded error ratio of one SLO over a window (the budget group records the SLO window's)."""
    return Selector(ratio_series(window), _identity_matchers(service, slo)).text()


def recorded_counts_queries(service: str, slo: str, span: Duration) -> tuple[str, str]:
    """Errors and events in the span ending at the query time, from the recorded 5m rates: their mean
    rate times the span (event-based SLIs). One series each, however many raw series the SLI reads."""
    seconds = Number.of(Decimal(span.milliseconds) / 1000)

    def count(name: str) -> str:
        selector = VectorSelector(Selector(name, _identity_matchers(service, slo)))
        return Binary("*", Call.of("avg_over_time", selector.range(span)), seconds).text()

    return count(ERRORS_5M), count(TOTAL_5M)


def recorded_ratio_average_query(service: str, slo: str, span: Duration) -> str:
    """Time average of the recorded 5m error ratio over the span (ratio SLIs have no event counts)."""
    selector = VectorSelector(Selector(ratio_series(BASE_WINDOW), _identity_matchers(service, slo)))
    return Call.of("avg_over_time", selector.range(span)).text()


def recordings_present_query(service: str, slo: str) -> str:
    """A series the SLI group records every evaluation: present at a time = the recordings ran then."""
    return Selector(ratio_series(BASE_WINDOW), _identity_matchers(service, slo)).text()


def recorded_fresh_query(span: Duration) -> str:
    """Every SLO whose SLI group recorded its 5m ratio within the span: one instant query for all SLOs."""
    return Call.of("present_over_time", VectorSelector(Selector(ratio_series(BASE_WINDOW), ())).range(span)).text()


def recordings_present_all_query() -> str:
    """Every SLO's recorded 5m ratio (present at a time = its recordings ran then), for one instant query."""
    return Selector(ratio_series(BASE_WINDOW), ()).text()


def window_ratio_all_query(window: Duration) -> str:
    """The recorded error ratio over a window of every SLO that records one, for one instant query."""
    return Selector(ratio_series(window), ()).text()


def _has_hourly_tier(slo: SLOSpec) -> bool:
    return SLIQueries(slo).event_based and any(window_source(w) is Source.HOURLY for w in windows(slo))


def hourly_count_raw_queries(slo: SLOSpec) -> tuple[tuple[str, str], ...] | None:
    """The hourly counts (ERRORS_1H, TOTAL_1H) straight from the SLI's raw counters, for a backfill
    that runs against a Prometheus holding only raw series (bench/, stack/history.py): at the first
    evaluation of each hour, increase() over the last whole clock hour. The rules' own version reads
    the 5m recordings. None when the SLO has no hourly window. Evaluate at BUDGET_GROUP_INTERVAL."""
    q = SLIQueries(slo)
    if not _has_hourly_tier(slo):
        return None
    errors = Paren(Binary("or", q.errors(HOUR), q.zero_errors(HOUR)))
    # A 1h-step subquery is evaluated at the hour boundaries (Prometheus aligns subquery steps to
    # absolute time): its last step is the previous clock hour, whenever in this hour it is read.
    return tuple((name, _once_an_hour(Call.of("last_over_time", Subquery(Binary("*", expr, Number.of(3600)), HOUR,
                                                                         HOUR))).text())
                 for name, expr in ((ERRORS_1H, errors), (TOTAL_1H, Paren(q.total(HOUR)))))


def hour_parity_raw_queries(slo: SLOSpec) -> tuple[tuple[str, str], ...] | None:
    """The 5m rates by hour parity (ERRORS_5M_BY_PARITY, TOTAL_5M_BY_PARITY) from the raw counters,
    for the same backfill. Evaluated every HOURLY_BACKFILL_STEP: only their means over hours are read,
    and 5m rates 5m apart are the hour's mean rate exactly, at a tenth of the cost of every 30s.
    (Errors are not masked by the events' presence as in the rules: a backfill has both throughout.)
    None when the SLO has no hourly window."""
    q = SLIQueries(slo)
    if not _has_hourly_tier(slo):
        return None
    total = Paren(q.total(BASE_WINDOW))
    errors = Paren(Binary("or", q.errors(BASE_WINDOW), q.zero_errors(BASE_WINDOW)))
    return tuple((names[parity], Binary("and", expr, Paren(_hour_parity_is(parity)), modifier="on()").text())
                 for names, expr in ((ERRORS_5M_BY_PARITY, errors), (TOTAL_5M_BY_PARITY, total))
                 for parity in (0, 1))


# The hourly tier's hours end on the hour: a sample taken at 10:00:00 is the last of the hour from
# 09:00 (a recorded rate stands for the interval before it), so every clock reading is of the time a
# second earlier.
def _second_ago() -> Expr:
    return Binary("-", Call.of("time"), Number.of(1))


def _hour_parity_is(parity: int) -> Expr:
    """True during even (0) or odd (1) hours of the day; a day has 24, so they alternate at midnight."""
    return Binary("==", Binary("%", Call.of("hour", Call.of("vector", _second_ago())), Number.of(2)),
                  Number.of(parity))


def _seconds_into_hour() -> Expr:
    """Seconds since the hour began: 1 to 3600 (at 10:00:00 the hour from 09:00 is whole)."""
    return Binary("+", Binary("%", _second_ago(), Number.of(3600)), Number.of(1))


def _once_an_hour(count: Expr, already: RangeSelector | None = None) -> Expr:
    """The previous clock hour's count, kept only at the first evaluation of each hour: evaluations
    are BUDGET_GROUP_INTERVAL apart, so exactly one falls in the hour's first interval. `already` (the
    series itself over that interval) keeps it to one when something evaluates more often (promtool
    test rules evaluates every group at its evaluation_interval)."""
    top = Binary("<=", Call.of("vector", _seconds_into_hour()), Number.of(int(BUDGET_GROUP_INTERVAL.seconds)))
    kept: Expr = Binary("and", count, Paren(top), modifier="on()")
    if already is not None:
        kept = Binary("unless", kept, Call.of("present_over_time", already))
    return kept


def history_recordings() -> tuple[str, ...]:
    """The 5m recordings that the policy engine (the window's start, exclusions) and the hourly
    tier read over long spans: what a backfill must write (stack/history.py). The hourly tier itself,
    which the 1d, 3d and SLO windows read, comes from hour_parity_raw_queries and
    hourly_count_raw_queries."""
    return ERRORS_5M, TOTAL_5M, ratio_series(BASE_WINDOW)


def traffic_query(service: str | None = None) -> str:
    """Events per second over the 5m base window, recorded for event-based SLIs."""
    return Selector(TOTAL_5M, _identity_matchers(service, None)).text()


# --- the plan's parts ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Recording:
    name: str
    expr: Expr
    labels: dict[str, str]
    source: Source
    window: Duration | None = None

    def rule(self) -> dict[str, Any]:
        return {"record": self.name, "expr": self.expr.text(), "labels": dict(self.labels)}


class AlertKind(StrEnum):
    BURN = "burn"        # a multi-window burn-rate tier
    BUDGET = "budget"    # budget remaining below a level
    TRICKLE = "trickle"  # errors keep coming at a traffic too low for the burn-rate tiers
    NO_DATA = "no_data"  # the SLI's total series is absent


@dataclass(frozen=True)
class Alert:
    name: str
    kind: AlertKind
    severity: Severity
    expr: Expr
    labels: dict[str, str]
    annotations: dict[str, str]
    threshold: Decimal  # burn rate for BURN, budget-remaining fraction for BUDGET
    runbook_kind: str   # page, ticket, budget-warning, budget-critical
    tier: Tier | None = None
    for_: Duration = field(default_factory=lambda: Duration(0))

    def rule(self) -> dict[str, Any]:
        rule: dict[str, Any] = {"alert": self.name, "expr": self.expr.text()}
        if self.for_.milliseconds:
            rule["for"] = str(self.for_)
        rule["labels"] = dict(self.labels)
        rule["annotations"] = dict(self.annotations)
        return rule


@dataclass(frozen=True)
class Group:
    name: str
    rules: tuple[Recording | Alert, ...]
    interval: Duration | None = None  # None: the global evaluation interval

    def rule_group(self) -> dict[str, Any]:
        group: dict[str, Any] = {"name": self.name}
        if self.interval is not None:
            group["interval"] = str(self.interval)
        group["rules"] = [r.rule() for r in self.rules]
        return group


def _group_placeholder(label: str) -> str:
    return f"FIRELINE_GROUP_{label}"


def group_name(service: str, slo: str) -> str:
    return f"fireline:{service}:{slo}"


def budget_group_name(service: str, slo: str) -> str:
    return f"fireline:{service}:{slo}:budget"


def hourly_group_name(service: str, slo: str) -> str:
    return f"fireline:{service}:{slo}:hourly"


def _camel(text: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", text) if part)


def burn_alert_name(service: ServiceSpec, slo: SLOSpec) -> str:
    return slo.alerting.name or f"{_camel(service.name)}{_camel(slo.name)}ErrorBudgetBurn"


def budget_alert_name(service: ServiceSpec, slo: SLOSpec) -> str:
    return slo.alerting.budget.name or f"{_camel(service.name)}{_camel(slo.name)}ErrorBudgetLow"


def trickle_alert_name(service: ServiceSpec, slo: SLOSpec) -> str:
    return f"{_camel(service.name)}{_camel(slo.name)}ErrorTrickle"


def no_data_alert_name(service: ServiceSpec, slo: SLOSpec) -> str:
    return f"{_camel(service.name)}{_camel(slo.name)}SLINoData"


def runbook_file(service: str, slo: str, kind: str) -> str:
    """File name of a generated runbook; kind is page, ticket, budget-warning or budget-critical."""
    return f"{service}-{slo}-{kind}.md"


@dataclass(frozen=True)
class GenerateOptions:
    runbook_base_url: str = DEFAULT_RUNBOOK_BASE
    compat: str | None = None  # "sloth": Sloth's labels and metadata series besides fireline's


def sloth_labels(service: str, slo: str) -> dict[str, str]:
    """The labels Sloth puts on every series of an SLO (its default sloth_id is service-slo)."""
    return {"sloth_id": f"{service}-{slo}", "sloth_service": service, "sloth_slo": slo}


def windows(slo: SLOSpec) -> list[Duration]:
    """Every window a ratio is recorded for: the 5m base, the tiers' windows, the SLO window."""
    found = {BASE_WINDOW, slo.window}
    for tier in slo.tiers():
        found.update((tier.long_window, tier.short_window))
    return sorted(found)


# Annotations that carry an alert's facts as data for machines (fireline serve reads them); prose
# annotations (summary, description) are for people and never parsed.
FACT_BURN_RATE = "burn_rate"
FACT_BURN_THRESHOLD = "burn_rate_threshold"
FACT_BUDGET_REMAINING = "error_budget_remaining"
FACT_ANNOTATIONS = (FACT_BURN_RATE, FACT_BURN_THRESHOLD, FACT_BUDGET_REMAINING)


def guard_events(slo: SLOSpec, tier: Tier) -> int:
    """Events the tier's long window must hold before it may fire (alerting.min_events; 0: no guard).

    Only SLIs with event counts have a guard; the caller knows whether this one does."""
    given = slo.alerting.min_events
    if isinstance(given, int):
        return given
    if isinstance(given, dict):
        for window, count in given.items():
            if Duration.parse(window) == tier.long_window:
                return count
    return default_min_events(tier, slo.window, slo.error_budget)


def trickle_tier(slo: SLOSpec) -> Tier | None:
    """The tier whose long window the trickle ticket counts errors in: the longest page window
    (the longest window of any tier when nothing pages); None when the ticket is off or unguarded."""
    pages = [t for t in slo.tiers() if t.severity is Severity.PAGE] or slo.tiers()
    if not slo.alerting.trickle or not pages:
        return None
    tier = max(pages, key=lambda t: t.long_window)
    return tier if guard_events(slo, tier) else None


class _Builder:
    """Fills a RulePlan step by step; each method is one step of the chain."""

    def __init__(self, service: ServiceSpec, slo: SLOSpec, options: GenerateOptions) -> None:
        self.service, self.slo, self.options = service, slo, options
        self.queries = SLIQueries(slo)
        self.budget = slo.error_budget
        self.matchers = _identity_matchers(service.name, slo.name)
        # Labels on every rule: identity first, then the user's, sorted for stable output.
        self.sloth = options.compat == "sloth"
        self.labels = {
            **identity(service.name, slo.name),
            **(sloth_labels(service.name, slo.name) if self.sloth else {}),
            **dict(sorted({**service.metadata.labels, **slo.labels}.items())),
        }
        # In an alert's annotations a grouped SLO's series are read for the alert's own group: the
        # selectors get one matcher per group label, filled from $labels when the template runs.
        self.group_placeholders = tuple(Matcher(name, "=", _group_placeholder(name)) for name in slo.group_by)
        self.in_template = False

    # series of this SLO, selected by its identity (and, inside annotations, by the alert's group)
    def series(self, name: str) -> VectorSelector:
        extra = self.group_placeholders if self.in_template else ()
        return VectorSelector(Selector(name, (*self.matchers, *extra)))

    @contextmanager
    def for_template(self) -> Iterator[None]:
        self.in_template = True
        try:
            yield
        finally:
            self.in_template = False

    def ratio(self, window: Duration) -> VectorSelector:
        return self.series(ratio_series(window))

    def burn_rate(self, window: Duration) -> Expr:
        return Binary("/", self.ratio(window), Number.of(self.budget))

    def events_over(self, window: Duration) -> Expr:
        """Events in a window, from the recorded 5m total rate: its mean rate times the window (from
        the hourly counts for an hourly window, which read far fewer samples)."""
        if self.source(window) is Source.HOURLY:
            return self.series(count_series(True, window))
        seconds = Number.of(Decimal(window.milliseconds) / 1000)
        return Binary("*", Call.of("avg_over_time", self.series(TOTAL_5M).range(window)), seconds)

    def counted_over(self, window: Duration) -> tuple[Expr, Expr]:
        """Errors and events in a window as counts (rate x window) from the raw counters, for tickets
        that must not fire on a young history: rate() does not extrapolate past the data it has,
        where a mean of recorded 5m rates times the window would."""
        seconds = Number.of(Decimal(window.milliseconds) / 1000)
        errors = Paren(Binary("or", self.queries.errors(window), self.queries.zero_errors(window)))
        return Binary("*", errors, seconds), Binary("*", Paren(self.queries.total(window)), seconds)

    def source(self, window: Duration) -> Source:
        return window_source(window, self.queries.event_based)

    def hourly_windows(self) -> list[Duration]:
        """The windows read from the hourly tier: counts and ratios recorded in the hourly group."""
        return sorted(w for w in {*self.tier_windows(), self.slo.window} if self.source(w) is Source.HOURLY)

    def in_hourly_group(self, tier: Tier) -> bool:
        """A tier whose long window is hourly is decided where that window is recorded."""
        return self.source(tier.long_window) is Source.HOURLY

    def by_parity(self) -> list[Recording]:
        """The 5m rates split by hour parity (ERRORS_5M_BY_PARITY), errors only where there are events:
        the hourly tier takes means, and an error rate of 0 (`or vector(0)`) at a time with no total
        would dilute the errors' mean and not the events'."""
        out = []
        for parity in (0, 1):
            errors = Binary("and", Binary("and", self.series(ERRORS_5M), self.series(TOTAL_5M)),
                            Paren(_hour_parity_is(parity)), modifier="on()")
            out.append(self.record(ERRORS_5M_BY_PARITY[parity], errors, Source.RECORDED, BASE_WINDOW))
        for parity in (0, 1):
            total = Binary("and", self.series(TOTAL_5M), Paren(_hour_parity_is(parity)), modifier="on()")
            out.append(self.record(TOTAL_5M_BY_PARITY[parity], total, Source.RECORDED, BASE_WINDOW))
        return out

    def mean_in_hour(self, total: bool, previous: bool, ago: Duration | None = None) -> Expr:
        """The mean 5m rate over the current clock hour so far, or over the whole previous one (at the
        same time `ago` earlier), from the rate recorded only in hours of that hour's parity: over the
        last hour (two, for the previous one) it holds exactly that hour's samples. hour() tells which
        parity is current."""
        names = TOTAL_5M_BY_PARITY if total else ERRORS_5M_BY_PARITY
        span = Duration(2 * HOUR.milliseconds) if previous else HOUR
        shift = ((ago.milliseconds // HOUR.milliseconds) if ago is not None else 0) + (1 if previous else 0)
        either: Expr | None = None
        for parity in (0, 1):
            mean = Call.of("avg_over_time", self.series(names[parity]).range(span, ago))
            chosen = Binary("and", mean, Paren(_hour_parity_is((parity + shift) % 2)), modifier="on()",
                            before="\n  ")
            either = chosen if either is None else Binary("or", either, chosen, before="\n", after="\n")
        assert either is not None
        return Paren(either, multiline=True, indent=True)

    def part_of_hour(self, total: bool, ago: Duration | None = None) -> Expr:
        """Errors or events from the top of the clock hour to now (to the same minute `ago` earlier):
        the mean 5m rate over the hour so far times the seconds since the hour began."""
        return Binary("*", self.mean_in_hour(total, False, ago), Paren(_seconds_into_hour()))

    def hourly_counts(self) -> list[Recording]:
        """The hourly tier: each whole clock hour's errors and events, recorded once at the top of the
        next hour, and the hour so far at every evaluation."""
        out = []
        for hourly, total in ((ERRORS_1H, False), (TOTAL_1H, True)):
            counted = Binary("*", self.mean_in_hour(total, True), Number.of(3600))
            out.append(self.record(hourly, _once_an_hour(counted, self.series(hourly).range(BUDGET_GROUP_INTERVAL)),
                                   Source.HOURLY, HOUR))
        for hourly, this_hour, total in ((ERRORS_1H, ERRORS_THIS_HOUR, False), (TOTAL_1H, TOTAL_THIS_HOUR, True)):
            # No 5m rate this hour (a broken scrape) is no events this hour, not no budget.
            idle = Binary("*", Call.of("present_over_time", self.series(hourly).range(self.slo.window)), Number.of(0))
            out.append(self.record(this_hour, Binary("or", self.part_of_hour(total), idle, before="\n"),
                                   Source.HOURLY, HOUR))
        return out

    def window_counts(self, window: Duration) -> list[Recording]:
        return [self.record(count_series(total, window), self.hourly_count(total, window), Source.HOURLY, window)
                for total in (False, True)]

    def hourly_count(self, total: bool, window: Duration) -> Expr:
        """Errors (or events) in the window: the whole hours recorded within it, plus the hour so far,
        minus the part of the oldest hour that lies before the window's start."""
        hourly, this_hour = (TOTAL_1H, TOTAL_THIS_HOUR) if total else (ERRORS_1H, ERRORS_THIS_HOUR)
        now = self.series(this_hour)
        none = Binary("*", now, Number.of(0))
        # A second short: Prometheus 2 ranges include both ends, and at the first evaluation of an
        # hour the count of the hour that just left the window was recorded exactly one window ago.
        hours = Call.of("sum_over_time", self.series(hourly).range(Duration(window.milliseconds - 1000)))
        before_start = Paren(Binary("or", self.part_of_hour(total, window), none, before="\n"), multiline=True,
                             indent=True)
        return Binary("-", Binary("+", Paren(Binary("or", hours, none)), now, before="\n"), before_start,
                      before="\n")

    def min_events(self, tier: Tier) -> int:
        """The low-traffic guard of a tier; 0 when off or when the SLI has no event counts (ratio)."""
        return guard_events(self.slo, tier) if self.queries.event_based else 0

    def record(self, name: str, expr: Expr, source: Source, window: Duration | None = None) -> Recording:
        return Recording(name, expr, dict(self.labels), source, window)

    def tier_windows(self) -> list[Duration]:
        """Windows the burn-rate alerts read; the SLO window only when a tier uses it too."""
        used = {BASE_WINDOW}
        for tier in self.slo.tiers():
            used.update((tier.long_window, tier.short_window))
        return sorted(used)

    def window_ratio(self, window: Duration) -> Recording:
        q = self.queries
        source = self.source(window)
        expr: Expr
        if source is Source.RAW:
            expr = q.ratio(window)
        elif source is Source.HOURLY:
            expr = Binary("/", self.series(count_series(False, window)), self.series(count_series(True, window)),
                          before="\n", after="\n")
        elif q.event_based:
            expr = Binary("/", Call.of("sum_over_time", self.series(ERRORS_5M).range(window)),
                          Call.of("sum_over_time", self.series(TOTAL_5M).range(window)), before="\n", after="\n")
        else:
            expr = Call.of("avg_over_time", self.ratio(BASE_WINDOW).range(window))
        return self.record(ratio_series(window), expr, source, window)

    def sli_recordings(self) -> list[Recording]:
        q = self.queries
        out: list[Recording] = []
        if q.event_based:
            errors = Binary("or", q.errors(BASE_WINDOW), q.zero_errors(BASE_WINDOW), before="\n")
            out.append(self.record(ERRORS_5M, errors, Source.RAW, BASE_WINDOW))
            out.append(self.record(TOTAL_5M, q.total(BASE_WINDOW), Source.RAW, BASE_WINDOW))
            out.append(self.record(ratio_series(BASE_WINDOW),
                                   Binary("/", self.series(ERRORS_5M), self.series(TOTAL_5M), before="\n", after="\n"),
                                   Source.RECORDED, BASE_WINDOW))
            if self.hourly_windows():
                out.extend(self.by_parity())
        else:
            out.append(self.record(ratio_series(BASE_WINDOW), q.ratio(BASE_WINDOW), Source.RAW, BASE_WINDOW))
        out.extend(self.window_ratio(w) for w in self.tier_windows()
                   if w != BASE_WINDOW and self.source(w) is not Source.HOURLY)
        return out

    def metadata_recordings(self) -> list[Recording]:
        slo_window = [] if self.slo.window in {*self.tier_windows(), *self.hourly_windows()} else [
            self.window_ratio(self.slo.window)]
        seconds = Decimal(self.slo.window.milliseconds) / 1000
        remaining = Binary("-", Number.of(1), Binary("/", self.ratio(self.slo.window), Number.of(self.budget)))
        return [
            *slo_window,
            self.record(OBJECTIVE, Call.of("vector", Number.of(self.slo.objective / 100)), Source.CONSTANT),
            self.record(ERROR_BUDGET, Call.of("vector", Number.of(self.budget)), Source.CONSTANT),
            self.record(WINDOW_SECONDS, Call.of("vector", Number.of(seconds)), Source.CONSTANT),
            self.record(BUDGET_REMAINING, remaining, Source.RECORDED, self.slo.window),
            *(self.sloth_metadata() if self.sloth else []),
        ]

    def sloth_metadata(self) -> list[Recording]:
        """Sloth's metadata series, for its Grafana dashboards (same names, labels and meaning)."""
        days = Decimal(self.slo.window.milliseconds) / 86_400_000
        period_burn = Binary("/", self.ratio(self.slo.window), Number.of(self.budget))
        info = self.record(SLOTH_INFO, Call.of("vector", Number.of(1)), Source.CONSTANT)
        info.labels.update({**self.slo.info_labels, "sloth_mode": "fireline-compat",
                            "sloth_objective": decimal_text(self.slo.objective), "sloth_spec": "prometheus/v1",
                            "sloth_version": "fireline"})
        return [
            self.record(SLOTH_TIME_PERIOD_DAYS, Call.of("vector", Number.of(days)), Source.CONSTANT),
            self.record(SLOTH_CURRENT_BURN_RATE, Binary("/", self.ratio(BASE_WINDOW), Number.of(self.budget)),
                        Source.RECORDED, BASE_WINDOW),
            self.record(SLOTH_PERIOD_BURN_RATE, period_burn, Source.RECORDED, self.slo.window),
            self.record(SLOTH_PERIOD_BUDGET_REMAINING, Binary("-", Number.of(1), self.series(SLOTH_PERIOD_BURN_RATE)),
                        Source.RECORDED, self.slo.window),
            info,
        ]

    def runbook(self, kind: str) -> str:
        if self.slo.alerting.runbook:
            return self.slo.alerting.runbook
        base = self.options.runbook_base_url.rstrip("/")
        return f"{base}/{runbook_file(self.service.name, self.slo.name, kind)}"

    def template_query(self, promql: Expr, fmt: str | None) -> str:
        # Prometheus templates have no arithmetic: the sum is done by PromQL through query.
        shown = f" | {fmt}" if fmt else ""
        text = promql.text()
        if self.slo.group_by:
            # printf fills the alert's group into the query: %[i]q quotes $labels.<i-th group label>.
            text = text.replace("%", "%%")
            for index, matcher in enumerate(self.group_placeholders, start=1):
                text = text.replace(matcher.text(), f"{matcher.name}=%[{index}]q")
            args = " ".join(f"$labels.{name}" for name in self.slo.group_by)
            source = f"printf `{text}` {args} | query"
        else:
            source = f"query `{text}`"
        return (f"{{{{ with {source} }}}}{{{{ . | first | value{shown} }}}}"
                f"{{{{ else }}}}{'unknown' if fmt else ''}{{{{ end }}}}")

    def severity_labels(self, severity: Severity) -> dict[str, str]:
        cfg = self.slo.alerting.page if severity is Severity.PAGE else self.slo.alerting.ticket
        return {
            **self.labels,
            "team": self.service.spec.team,
            **self.slo.alerting.labels,
            **cfg.labels,
            **({"sloth_severity": severity.value} if self.sloth else {}),
            "fireline_severity": severity.value,
        }

    def burn_alert(self, tier: Tier) -> Alert:
        threshold = tier.burn_rate_threshold(self.slo.window)
        threshold_num = Number.of(threshold)
        long_burn, short_burn = self.burn_rate(tier.long_window), self.burn_rate(tier.short_window)
        expr: Expr = Binary("and", Binary(">", long_burn, threshold_num), Binary(">", short_burn, threshold_num),
                            before="\n", after="\n")
        guard = self.min_events(tier)
        if guard:
            # Too few events in the long window and one failure would be a large ratio: no page on it.
            expr = Binary("and", expr, Binary(">=", self.events_over(tier.long_window), Number.of(guard)),
                          before="\n", after="\n")
        window_seconds = Number.of(Decimal(self.slo.window.milliseconds) / 1000)
        with self.for_template():
            exhaustion = Binary("/", Binary("*", Call.of("clamp_min", self.series(BUDGET_REMAINING), Number.of(0)),
                                            window_seconds), Paren(self.burn_rate(tier.long_window)))
            remaining = self.series(BUDGET_REMAINING)
            long_ratio = self.ratio(tier.long_window)
        objective = decimal_text(self.slo.objective)
        error_ratio_threshold = float(tier.error_ratio_threshold(self.slo.window, self.budget))
        what = self.slo.description.rstrip(".") + ". " if self.slo.description else ""
        generated = {
            "summary": (f"{self.service.name} {self.slo.name}: error budget burning "
                        f"{{{{ $value | printf \"%.1f\" }}}}x faster than allowed "
                        f"({tier.long_window}/{tier.short_window} windows, {tier.severity.value})"),
            "description": (
                f"{what}Burn rate over {tier.long_window}: {{{{ $value | printf \"%.2f\" }}}} "
                f"(threshold {threshold_num}, also exceeded over {tier.short_window}). "
                f"Error ratio over {tier.long_window}: "
                f"{self.template_query(long_ratio, 'humanizePercentage')} "
                f"(objective {objective}%, alert above {error_ratio_threshold:.4g}). "
                f"Error budget left over {self.slo.window}: "
                f"{self.template_query(remaining, 'humanizePercentage')}. "
                f"At this rate the remaining budget is gone in "
                f"{self.template_query(exhaustion, 'humanizeDuration')}."
            ),
            "runbook_url": self.runbook(tier.severity.value),
        }
        facts = {
            FACT_BURN_RATE: "{{ $value }}",
            FACT_BURN_THRESHOLD: threshold_num.text(),
            FACT_BUDGET_REMAINING: self.template_query(remaining, None),
        }
        cfg = self.slo.alerting.page if tier.severity is Severity.PAGE else self.slo.alerting.ticket
        labels = {
            **self.severity_labels(tier.severity),
            "long_window": str(tier.long_window),
            "short_window": str(tier.short_window),
        }
        annotations = {**generated, **self.slo.alerting.annotations, **cfg.annotations, **facts}
        return Alert(burn_alert_name(self.service, self.slo), AlertKind.BURN, tier.severity, expr, labels,
                     annotations, threshold, tier.severity.value, tier, tier.for_)

    def budget_alerts(self) -> list[Alert]:
        budget_cfg = self.slo.alerting.budget
        # Alerting switched off (alerting.disable, or page and ticket both disabled as Sloth's
        # no-alerts spec does) means no alerts at all for the SLO, budget alerts included.
        if budget_cfg.disable or self.slo.disabled_severities() == set(Severity):
            return []
        alerts = []
        with self.for_template():
            window_ratio = self.ratio(self.slo.window)
        for level_name, level, severity in (
            ("warning", budget_cfg.warning, budget_cfg.warning_severity),
            ("critical", budget_cfg.critical, budget_cfg.critical_severity),
        ):
            fraction = level / 100
            generated = {
                "summary": (f"{self.service.name} {self.slo.name}: {{{{ $value | humanizePercentage }}}} "
                            f"of the {self.slo.window} error budget left (below {decimal_text(level)}%)"),
                "description": (
                    f"Error ratio over {self.slo.window}: "
                    f"{self.template_query(window_ratio, 'humanizePercentage')} "
                    f"against an objective of {decimal_text(self.slo.objective)}%. "
                    "Follow the error-budget policy for this level."
                ),
                "runbook_url": self.runbook(f"budget-{level_name}"),
            }
            # The burn alerts' own summary and description describe a burn, not the budget.
            common = {k: v for k, v in self.slo.alerting.annotations.items() if k not in ("summary", "description")}
            labels = {**self.severity_labels(severity), **budget_cfg.labels, "budget_level": level_name}
            annotations = {**generated, **common, **budget_cfg.annotations, FACT_BUDGET_REMAINING: "{{ $value }}"}
            expr = Binary("<", self.series(BUDGET_REMAINING), Number.of(fraction))
            alerts.append(Alert(budget_alert_name(self.service, self.slo), AlertKind.BUDGET, severity, expr,
                                labels, annotations, fraction, f"budget-{level_name}"))
        return alerts

    def _support_runbook(self) -> str:
        # Trickle and no-data tickets are investigated like the slow-burn ticket (or the page).
        return "ticket" if any(t.severity is Severity.TICKET for t in self.slo.tiers()) else "page"

    def trickle_alert(self) -> Alert | None:
        """Below the guard of the longest page window, MIN_ERRORS_TO_FIRE errors in it are a ticket.

        Fewer events than the guard (MIN_ERRORS_TO_FIRE / error-ratio threshold) and at least
        MIN_ERRORS_TO_FIRE errors mean an error ratio above the tier's threshold: the tier's own
        condition, heard as a ticket when traffic is too low for a page to be trusted.
        """
        tier = trickle_tier(self.slo) if self.queries.event_based else None
        if tier is None:
            return None
        guard = self.min_events(tier)
        window = tier.long_window
        errors, events = self.counted_over(window)
        expr = Binary("and", Binary(">=", errors, Number.of(MIN_ERRORS_TO_FIRE)),
                      Binary("<", events, Number.of(guard)), before="\n", after="\n")
        labels = {**self.severity_labels(Severity.TICKET), "long_window": str(window)}
        annotations = {
            "summary": (f"{self.service.name} {self.slo.name}: {{{{ $value | printf \"%.0f\" }}}} failed requests "
                        f"in {window}, at a traffic too low for the burn-rate alerts"),
            "description": (f"At least {MIN_ERRORS_TO_FIRE} errors in {window} among fewer than {guard} events: "
                            f"an error ratio above the {tier.key} tier's threshold, with too little traffic for "
                            "that tier to page. Investigate the failures."),
            "runbook_url": self.runbook(self._support_runbook()),
        }
        return Alert(trickle_alert_name(self.service, self.slo), AlertKind.TRICKLE, Severity.TICKET, expr, labels,
                     {**annotations, **self.slo.alerting.annotations, **self.slo.alerting.ticket.annotations},
                     Decimal(MIN_ERRORS_TO_FIRE), self._support_runbook(), tier)

    def no_data_alert(self) -> Alert | None:
        """The SLI's total series absent for alerting.no_data_for: every burn alert is silent then."""
        wait = self.slo.alerting.no_data_for
        if not wait.milliseconds or self.slo.disabled_severities() == set(Severity):
            return None
        signal = self.series(TOTAL_5M) if self.queries.event_based else self.ratio(BASE_WINDOW)
        annotations = {
            "summary": f"{self.service.name} {self.slo.name}: the SLI has had no data for {wait}",
            "description": ("The SLI's series are absent (scrape broken, metric renamed, no traffic at all): "
                            "no burn-rate or budget alert of this SLO can fire until they return."),
            "runbook_url": self.runbook(self._support_runbook()),
        }
        return Alert(no_data_alert_name(self.service, self.slo), AlertKind.NO_DATA, Severity.TICKET,
                     Call.of("absent", signal), self.severity_labels(Severity.TICKET),
                     {**annotations, **self.slo.alerting.annotations, **self.slo.alerting.ticket.annotations},
                     Decimal(0), self._support_runbook(), None, wait)

    def build(self) -> RulePlan:
        # Recording rules come first in each group, so the alerts after them read fresh values.
        # Trickle and no-data are tickets over hours or minutes of absence: the slower group is enough.
        traffic = [a for a in (self.trickle_alert(), self.no_data_alert()) if a is not None]
        # Tiers whose long window is hourly are decided in the hourly group, beside that window.
        tiers = self.slo.tiers()
        burn: list[Recording | Alert] = [*self.sli_recordings(),
                                         *(self.burn_alert(t) for t in tiers if not self.in_hourly_group(t))]
        windows = self.hourly_windows()
        hourly: list[Recording | Alert] = [
            *(self.hourly_counts() if windows else []),
            *(r for w in windows for r in self.window_counts(w)),
            *(self.window_ratio(w) for w in windows),
            *(self.burn_alert(t) for t in tiers if self.in_hourly_group(t)),
        ]
        budget: list[Recording | Alert] = [*self.metadata_recordings(), *self.budget_alerts(), *traffic]
        # In this order when evaluated together (promtool's group_eval_order): each group reads the
        # ones before it. Prometheus runs them side by side; a read is then at most an interval old.
        groups = (
            Group(group_name(self.service.name, self.slo.name), tuple(burn)),
            *([Group(hourly_group_name(self.service.name, self.slo.name), tuple(hourly), BUDGET_GROUP_INTERVAL)]
              if hourly else []),
            Group(budget_group_name(self.service.name, self.slo.name), tuple(budget), BUDGET_GROUP_INTERVAL),
        )
        return RulePlan(self.service, self.slo, groups)


@dataclass(frozen=True)
class RulePlan:
    """Every series, alert and reader query of one SLO."""

    service: ServiceSpec
    slo: SLOSpec
    groups: tuple[Group, ...]

    @classmethod
    def build(cls, service: ServiceSpec, slo: SLOSpec, options: GenerateOptions | None = None) -> RulePlan:
        return _Builder(service, slo, options or GenerateOptions()).build()

    @property
    def identity(self) -> dict[str, str]:
        return identity(self.service.name, self.slo.name)

    @property
    def group_by(self) -> tuple[str, ...]:
        """The labels that split this SLO into one budget per value; () for one budget."""
        return tuple(self.slo.group_by)

    @property
    def selector(self) -> str:
        """The label selector that picks this SLO's series: {service="...",slo="..."}."""
        return Selector("", _identity_matchers(self.service.name, self.slo.name)).text()

    @property
    def recordings(self) -> list[Recording]:
        return [r for g in self.groups for r in g.rules if isinstance(r, Recording)]

    @property
    def alerts(self) -> list[Alert]:
        return [r for g in self.groups for r in g.rules if isinstance(r, Alert)]

    def alerts_of(self, kind: AlertKind) -> list[Alert]:
        return [a for a in self.alerts if a.kind is kind]

    def burn_alerts(self) -> list[Alert]:
        return [a for a in self.alerts if a.kind is AlertKind.BURN]

    def budget_alerts(self) -> list[Alert]:
        return [a for a in self.alerts if a.kind is AlertKind.BUDGET]

    def recorded_windows(self) -> list[Duration]:
        return sorted({r.window for r in self.recordings if r.name.startswith(_RATIO_PREFIX) and r.window})

    def ratio_source(self, window: Duration) -> Source:
        """How the error ratio over a recorded window is computed (raw counters or recordings)."""
        for r in self.recordings:
            if r.name == ratio_series(window):
                return r.source
        raise KeyError(f"{self.service.name}/{self.slo.name} records no error ratio over {window}")

    # reader queries
    def error_ratio_query(self, window: Duration) -> str:
        return error_ratio_query(self.service.name, self.slo.name, window)

    def burn_rate_query(self, window: Duration) -> str:
        return burn_rate_query(self.service.name, self.slo.name, window, self.slo.error_budget)

    def budget_remaining_query(self, group: dict[str, str] | None = None) -> str:
        return budget_remaining_query(self.service.name, self.slo.name, group)

    def traffic_query(self) -> str | None:
        """Events per second over 5m, for event-based SLIs (ratio SLIs have no event count)."""
        if not SLIQueries(self.slo).event_based:
            return None
        return Selector(TOTAL_5M, _identity_matchers(self.service.name, self.slo.name)).text()

    def rule_groups(self) -> list[dict[str, Any]]:
        return [g.rule_group() for g in self.groups]


def plans(service: ServiceSpec, options: GenerateOptions | None = None) -> list[RulePlan]:
    return [RulePlan.build(service, slo, options) for slo in service.spec.slos]
