"""The rule sets bench/rules_cost.py compares, for the same SLOs on the same raw counters.

- fireline: the real generator (fireline.rules.generate.rule_groups), nothing imitated.
- Sloth-shaped and Pyrra-shaped: RECONSTRUCTIONS written here from the shapes of Sloth v0.16's
  and Pyrra's generated rules (the reference goldens under ../shared/reference/ and the facts
  file's sections 2 and 3). They are not produced by Sloth or Pyrra, and only the parts that
  cost evaluation time or decide the budget figure are faithful: expressions, windows, groups,
  intervals, rule counts. Annotations are shortened.

Every SLO is `availability` of one service: errors are `code=~"5.."` of http_requests_total.
"""

from __future__ import annotations

from typing import Any

from rules_cost_data import METRIC

from fireline.rules.generate import rule_groups
from fireline.rules.plan import (
    BUDGET_GROUP_INTERVAL,
    BUDGET_REMAINING,
    ERRORS_5M,
    ERRORS_THIS_HOUR,
    TOTAL_5M,
    TOTAL_THIS_HOUR,
    RulePlan,
    count_series,
    hour_parity_raw_queries,
    hourly_count_raw_queries,
    ratio_series,
)
from fireline.slo.durations import Duration
from fireline.spec.models import ServiceSpec

OBJECTIVE = 99.9
SLO_NAME = "availability"
SLO_WINDOW_DAYS = 30
ERRORS_MATCH = 'code=~"5.."'
BUDGET = (100 - OBJECTIVE) / 100  # Go's float arithmetic as in Sloth/Pyrra: 0.0009999999999999432


def errors_selector(job: str) -> str:
    return f'{METRIC}{{job="{job}",{ERRORS_MATCH}}}'


def total_selector(job: str) -> str:
    return f'{METRIC}{{job="{job}"}}'


# --- fireline -------------------------------------------------------------------------------

def fireline_spec(job: str) -> ServiceSpec:
    return ServiceSpec.model_validate({
        "apiVersion": "fireline/v1",
        "kind": "Service",
        "metadata": {"name": job},
        "spec": {
            "team": "bench",
            "slos": [{
                "name": SLO_NAME,
                "objective": OBJECTIVE,
                "window": f"{SLO_WINDOW_DAYS}d",
                "sli": {"events": {
                    "errors": f"sum(rate({errors_selector(job)}[{{{{.window}}}}]))",
                    "total": f"sum(rate({total_selector(job)}[{{{{.window}}}}]))",
                }},
            }],
        },
    })


def fireline_groups(jobs: list[str]) -> list[dict[str, Any]]:
    groups: list[dict[str, Any]] = []
    for job in jobs:
        groups.extend(rule_groups(fireline_spec(job)))
    return groups


def fireline_backfill_groups(jobs: list[str], interval: str) -> list[dict[str, Any]]:
    """The recordings fireline's long windows read, for promtool backfill: the 5m error and total
    rates, and the hourly tier (5m rates by hour parity, hour counts) from the raw counters
    (rules.plan.hour_parity_raw_queries, hourly_count_raw_queries), as stack/history.py does."""
    out = []
    for group in fireline_groups(jobs):
        rules = [r for r in group["rules"] if r.get("record") in (ERRORS_5M, TOTAL_5M)]
        if rules:
            out.append({"name": group["name"], "interval": interval, "rules": rules})
    for job in jobs:
        spec = fireline_spec(job)
        slo = spec.spec.slos[0]
        labels = next(r.labels for r in RulePlan.build(spec, slo).recordings if r.name == ERRORS_5M)
        # The 5m rates by hour parity at the live interval (not HOURLY_BACKFILL_STEP, which stack
        # history uses): the hour so far at the end of the run mixes backfilled and live samples, and
        # means of samples spaced alike weigh every minute alike.
        for queries, every in ((hour_parity_raw_queries(slo), interval),
                               (hourly_count_raw_queries(slo), str(BUDGET_GROUP_INTERVAL))):
            out.append({"name": f"fireline:{job}:{SLO_NAME}:hourly-{every}", "interval": every,
                        "rules": [{"record": name, "expr": expr, "labels": labels} for name, expr in queries or ()]})
    return out


def fireline_budget_query(job: str) -> str:
    return f'{BUDGET_REMAINING}{{service="{job}",slo="{SLO_NAME}"}}'


def fireline_budget_expr(groups: list[dict[str, Any]], job: str) -> str:
    """fireline's budget remaining for one SLO as a single query: the generated budget rule with the
    rules it reads inlined (textually, from the real generator's output), down to what the 30s group
    and the hourly tier record: the SLO-window ratio, the window's counts, the hour so far. Read at
    the end of a run, it is the budget at that instant, not at the budget group's last evaluation."""
    window = Duration.parse(f"{SLO_WINDOW_DAYS}d")
    selector = f'{{service="{job}",slo="{SLO_NAME}"}}'
    inlined_names = [ratio_series(window), count_series(False, window), count_series(True, window),
                     ERRORS_THIS_HOUR, TOTAL_THIS_HOUR]
    exprs = {}
    for group in groups:
        for rule in group["rules"]:
            if rule.get("labels", {}).get("service") == job and rule.get("record") in (*inlined_names,
                                                                                      BUDGET_REMAINING):
                exprs[rule["record"]] = rule["expr"]
    text = str(exprs[BUDGET_REMAINING])
    for name in inlined_names:
        reference = f"{name}{selector}"
        if reference not in text and name == ratio_series(window):
            raise ValueError(f"cannot inline {name} into {text!r}")
        text = text.replace(reference, f"({exprs[name].strip()})")
    return text


# --- Sloth-shaped (reconstruction of Sloth v0.16 default plugin chain output) ----------------

SLOTH_WINDOWS = ["5m", "30m", "1h", "2h", "6h", "1d", "3d"]
SLOTH_PAGE: list[tuple[str, str, float]] = [("5m", "1h", 14.4), ("30m", "6h", 6)]
SLOTH_TICKET: list[tuple[str, str, float]] = [("2h", "1d", 3), ("6h", "3d", 1)]


def _sloth_ids(job: str) -> dict[str, str]:
    return {"sloth_id": f"{job}-{SLO_NAME}", "sloth_service": job, "sloth_slo": SLO_NAME}


def _sloth_sel(job: str) -> str:
    ids = _sloth_ids(job)
    return "{" + ", ".join(f'{k}="{v}"' for k, v in ids.items()) + "}"


def sloth_groups(jobs: list[str]) -> list[dict[str, Any]]:
    """Reconstruction: every window a ratio of raw rates; the period the mean of 5m ratios."""
    groups: list[dict[str, Any]] = []
    period = f"{SLO_WINDOW_DAYS}d"
    for job in jobs:
        ids = _sloth_ids(job)
        sel = _sloth_sel(job)
        sli = []
        for window in SLOTH_WINDOWS:
            sli.append({
                "record": f"slo:sli_error:ratio_rate{window}",
                "expr": (f"(sum(rate({errors_selector(job)}[{window}])))\n/\n"
                         f"(sum(rate({total_selector(job)}[{window}])))\n"),
                "labels": {**ids, "sloth_window": window},
            })
        sli.append({
            "record": f"slo:sli_error:ratio_rate{period}",
            "expr": (f"sum_over_time(slo:sli_error:ratio_rate5m{sel}[{period}])\n"
                     f"/ ignoring (sloth_window)\n"
                     f"count_over_time(slo:sli_error:ratio_rate5m{sel}[{period}])\n"),
            "labels": {**ids, "sloth_window": period},
        })
        meta = [
            {"record": "slo:objective:ratio", "expr": f"vector({OBJECTIVE / 100!r})", "labels": dict(ids)},
            {"record": "slo:error_budget:ratio", "expr": f"vector(1-{OBJECTIVE / 100!r})", "labels": dict(ids)},
            {"record": "slo:time_period:days", "expr": f"vector({SLO_WINDOW_DAYS})", "labels": dict(ids)},
            {"record": "slo:current_burn_rate:ratio",
             "expr": (f"slo:sli_error:ratio_rate5m{sel}\n/ on(sloth_id, sloth_slo, sloth_service) group_left\n"
                      f"slo:error_budget:ratio{sel}\n"),
             "labels": dict(ids)},
            {"record": "slo:period_burn_rate:ratio",
             "expr": (f"slo:sli_error:ratio_rate{period}{sel}\n/ on(sloth_id, sloth_slo, sloth_service) group_left\n"
                      f"slo:error_budget:ratio{sel}\n"),
             "labels": dict(ids)},
            {"record": "slo:period_error_budget_remaining:ratio",
             "expr": f"1 - slo:period_burn_rate:ratio{sel}", "labels": dict(ids)},
            {"record": "sloth_slo_info", "expr": "vector(1)",
             "labels": {**ids, "sloth_mode": "cli-gen-prom", "sloth_objective": f"{OBJECTIVE:g}",
                        "sloth_spec": "prometheus/v1", "sloth_version": "reconstruction"}},
        ]

        def alert(pairs: list[tuple[str, str, float]], severity: str, job: str = job, sel: str = sel
                  ) -> dict[str, Any]:
            parts = []
            for short, long, factor in pairs:
                limit = f"({factor:g} * {BUDGET!r})"
                parts.append(
                    "(\n"
                    f"    max(slo:sli_error:ratio_rate{short}{sel} > {limit}) without (sloth_window)\n"
                    "    and\n"
                    f"    max(slo:sli_error:ratio_rate{long}{sel} > {limit}) without (sloth_window)\n"
                    ")"
                )
            return {
                "alert": "BenchHighErrorRate",
                "expr": "\nor\n".join(parts) + "\n",
                "labels": {"sloth_severity": severity},
                "annotations": {
                    "title": f"({severity}) {{{{$labels.sloth_service}}}} {{{{$labels.sloth_slo}}}} "
                             "SLO error budget burn rate is too fast.",
                },
            }

        groups.append({"name": f"sloth-slo-sli-recordings-{job}-{SLO_NAME}", "rules": sli})
        groups.append({"name": f"sloth-slo-meta-recordings-{job}-{SLO_NAME}", "rules": meta})
        groups.append({"name": f"sloth-slo-alerts-{job}-{SLO_NAME}",
                       "rules": [alert(SLOTH_PAGE, "page"), alert(SLOTH_TICKET, "ticket")]})
    return groups


def sloth_backfill_groups(jobs: list[str], interval: str) -> list[dict[str, Any]]:
    """Sloth's 30d average reads ratio_rate5m; that recording is what has to be backfilled."""
    out = []
    for group in sloth_groups(jobs):
        if group["name"].startswith("sloth-slo-sli-recordings-"):
            rules = [r for r in group["rules"] if r["record"] == "slo:sli_error:ratio_rate5m"]
            out.append({"name": group["name"], "interval": interval, "rules": rules})
    return out


def sloth_budget_expr(job: str) -> str:
    """Sloth's slo:period_error_budget_remaining:ratio chain as one query (1 - ratio30d / budget,
    the budget as its metadata rule writes it)."""
    period = f"{SLO_WINDOW_DAYS}d"
    for group in sloth_groups([job]):
        for rule in group["rules"]:
            if rule.get("record") == f"slo:sli_error:ratio_rate{period}":
                return f"1 - ({rule['expr'].strip()}) / (1-{OBJECTIVE / 100!r})"
    raise ValueError("no period rule")


def sloth_budget_query(job: str) -> str:
    return f"slo:period_error_budget_remaining:ratio{_sloth_sel(job)}"


# --- Pyrra-shaped (reconstruction of Pyrra's filesystem/controller output, ratio indicator) ---

def go_duration(seconds: int) -> str:
    """Prometheus model.Duration.String(): 30d prints as 4w2d, 1h4m as 1h4m."""
    parts = []
    for unit, size in (("y", 365 * 86400), ("w", 7 * 86400), ("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(parts) or "0s"


def _round_minute(seconds: float) -> int:
    # Go's time.Duration.Round(time.Minute) rounds halves away from zero.
    return int((seconds + 30) // 60) * 60


def pyrra_windows(window_seconds: int) -> list[tuple[str, str, str, int, str]]:
    """(short, long, for, factor, severity) per tier: Pyrra's Windows(), relative to 28d."""
    w = window_seconds
    tiers = [(8064, 672, 20160, 14, "critical"), (1344, 112, 2688, 7, "critical"),
             (336, 28, 672, 2, "warning"), (112, 7, 224, 1, "warning")]
    return [(go_duration(_round_minute(w / s)), go_duration(_round_minute(w / long)),
             go_duration(_round_minute(w / f)), factor, severity)
            for s, long, f, factor, severity in tiers]


def pyrra_increase_interval(window_seconds: int) -> str:
    """increaseInterval(): 2m30s for SLO windows of 28d up to 34d (the only case benchmarked)."""
    days = window_seconds / 86400
    if not 28 <= days < 35:
        raise ValueError("the Pyrra-shaped reconstruction only models 28d-34d SLO windows")
    return "2m30s"


PYRRA_RECORD = "http_requests"  # total metric name with _total trimmed, as Pyrra names records


def pyrra_slo_name(job: str) -> str:
    return f"{job}-{SLO_NAME}"


def pyrra_groups(jobs: list[str]) -> list[dict[str, Any]]:
    """Reconstruction: burn-rate windows from raw counters (30s group); the period from
    increase() over the whole SLO window on raw counters (group evaluated every 2m30s)."""
    window_seconds = SLO_WINDOW_DAYS * 86400
    window = go_duration(window_seconds)
    tiers = pyrra_windows(window_seconds)
    windows = sorted({w for t in tiers for w in t[:2]}, key=_go_seconds)
    groups: list[dict[str, Any]] = []
    for job in jobs:
        slo = pyrra_slo_name(job)
        labels = {"job": job, "slo": slo}
        matchers = f'job="{job}",slo="{slo}"'
        increase = [
            {"record": f"{PYRRA_RECORD}:increase{window}",
             # grouped by the label the errors selector matches with a regex (code), as Pyrra does
             "expr": f"sum by (code) (increase({total_selector(job)}[{window}]))",
             "labels": dict(labels)},
            {"alert": "SLOMetricAbsent", "expr": f"absent({total_selector(job)}) == 1",
             "for": "6m", "labels": {**labels, "severity": "critical"}},
        ]
        burn: list[dict[str, Any]] = []
        for w in windows:
            burn.append({
                "record": f"{PYRRA_RECORD}:burnrate{w}",
                "expr": f"sum(rate({errors_selector(job)}[{w}])) / sum(rate({total_selector(job)}[{w}]))",
                "labels": dict(labels),
            })
        for short, long, for_, factor, severity in tiers:
            threshold = f"({factor} * (1-{OBJECTIVE / 100!r}))"
            burn.append({
                "alert": "ErrorBudgetBurn",
                "expr": (f"{PYRRA_RECORD}:burnrate{short}{{{matchers}}} > {threshold} and "
                         f"{PYRRA_RECORD}:burnrate{long}{{{matchers}}} > {threshold}"),
                "for": for_,
                "labels": {**labels, "severity": severity, "short": short, "long": long},
            })
        groups.append({"name": f"{slo}-increase", "interval": pyrra_increase_interval(window_seconds),
                       "rules": increase})
        groups.append({"name": slo, "interval": "30s", "rules": burn})
    return groups


def _go_seconds(text: str) -> int:
    import re

    sizes = {"y": 365 * 86400, "w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1}
    return sum(int(n) * sizes[u] for n, u in re.findall(r"(\d+)([ywdhms])", text))


def pyrra_budget_query(job: str) -> str:
    """Budget left as Pyrra's UI/generic rules derive it from the increase recording."""
    window = go_duration(SLO_WINDOW_DAYS * 86400)
    sel = f'job="{job}",slo="{pyrra_slo_name(job)}"'
    rec = f"{PYRRA_RECORD}:increase{window}"
    return (f"1 - (sum(({rec}{{{sel},{ERRORS_MATCH}}}) or vector(0)) / sum({rec}{{{sel}}}))"
            f" / {BUDGET!r}")


def pyrra_budget_expr(job: str) -> str:
    """The same figure straight from the increase rule's expression: its recorded
    sum by (code) (increase(total[W])) restricted to code=~"5.." and summed is
    sum(increase(errors[W]))."""
    window = go_duration(SLO_WINDOW_DAYS * 86400)
    return (f"1 - ((sum(increase({errors_selector(job)}[{window}])) or vector(0)) / "
            f"sum(increase({total_selector(job)}[{window}]))) / {BUDGET!r}")


def pyrra_budget_timestamp_query(job: str) -> str:
    window = go_duration(SLO_WINDOW_DAYS * 86400)
    return f'max(timestamp({PYRRA_RECORD}:increase{window}{{job="{job}",slo="{pyrra_slo_name(job)}"}}))'
