"""What a backtest says about each alert: when it paged, what it cost, how noisy it was.

Definitions (docs/simulate.md):
* first fire: the first notification of the alert relative to the first incident's start (negative
  when it was already firing before), or to the start of the history when there is no incident;
* budget consumed at detection: errors in the SLO window ending at the first fire over the budget
  of a whole SLO window at the traffic seen in that window;
* notifications: firing episodes (each one reaches a human once; Alertmanager repeats not counted);
* an episode is a true positive when it overlaps an incident or the tier's long window after it
  (the window still holds the incident's errors); precision = true episodes / episodes, recall =
  incidents with a true episode / incidents;
* reset: from the end of the last incident to the moment its alerts stop firing.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from decimal import Decimal

import numpy as np

from fireline.sim.engine import PolicyResult, Span, firing_spans
from fireline.sim.history import Incident, SLIHistory
from fireline.sim.promql import BoolArray
from fireline.slo.durations import Duration, human_seconds
from fireline.slo.tiers import Severity

ANY_TIER = "any"


@dataclass(frozen=True)
class AlertRow:
    policy: str
    service: str
    slo: str
    severity: str
    tier: str
    first_fire_seconds: float | None
    budget_consumed_at_detection: float | None
    notifications: int
    firing_seconds: float
    reset_seconds: float | None
    precision: float | None
    recall: float | None


def _overlaps(span: Span, start_ms: int, end_ms: int | None) -> bool:
    return (end_ms is None or span.fire_ms < end_ms) and (span.resolve_ms is None or span.resolve_ms > start_ms)


def _extended(incident: Incident, tail: Duration) -> tuple[int, int | None]:
    return incident.start_ms, None if incident.end_ms is None else incident.end_ms + tail.milliseconds


def budget_consumed(history: SLIHistory, slo_window: Duration, error_budget: Decimal, at_ms: int) -> float | None:
    """Share of an SLO window's budget spent in the SLO window ending at at_ms."""
    start = max(history.start_ms, at_ms - slo_window.milliseconds)
    errors, total = history.events_between(start, at_ms)
    seconds = (at_ms - start) / 1000
    if total <= 0 or seconds <= 0:
        return None
    budget_events = float(error_budget) * (total / seconds) * slo_window.seconds
    return errors / budget_events


def _round(value: float | None, digits: int = 6) -> float | None:
    return None if value is None or math.isnan(value) else round(value, digits)


def alert_row(
    result: PolicyResult,
    history: SLIHistory,
    severity: Severity,
    tier_key: str,
    firing: BoolArray,
    long_window: Duration,
) -> AlertRow:
    spans = firing_spans(firing, result.eval_ms)
    incidents = history.incidents
    reference = history.reference_ms
    last_eval = int(result.eval_ms[-1]) if result.eval_ms.size else reference
    detecting = [s for s in spans if s.resolve_ms is None or s.resolve_ms > reference]
    first = detecting[0].fire_ms if detecting else None
    consumed = None
    if first is not None:
        consumed = budget_consumed(history, result.target.window, result.target.error_budget, first)
    firing_seconds = sum(((s.resolve_ms or last_eval) - s.fire_ms) / 1000 for s in spans)
    true_spans = [s for s in spans if any(_overlaps(s, *_extended(i, long_window)) for i in incidents)]
    precision = len(true_spans) / len(spans) if spans and incidents else (0.0 if spans else None)
    recall = None
    if incidents:
        found = sum(1 for i in incidents if any(_overlaps(s, *_extended(i, long_window)) for s in spans))
        recall = found / len(incidents)
    reset = None
    ended = [i for i in incidents if i.end_ms is not None]
    if ended:
        last = ended[-1]
        assert last.end_ms is not None
        related = [s for s in spans if _overlaps(s, *_extended(last, long_window))]
        if related and related[-1].resolve_ms is not None:
            reset = max(related[-1].resolve_ms - last.end_ms, 0) / 1000
    return AlertRow(
        policy=result.policy.name,
        service=result.target.service,
        slo=result.target.slo,
        severity=severity.value,
        tier=tier_key,
        first_fire_seconds=None if first is None else (first - reference) / 1000,
        budget_consumed_at_detection=_round(consumed),
        notifications=len(spans),
        firing_seconds=firing_seconds,
        reset_seconds=reset,
        precision=_round(precision),
        recall=_round(recall),
    )


def alert_rows(result: PolicyResult, history: SLIHistory) -> list[AlertRow]:
    """A row per tier, then per severity a row `any` for all its tiers together."""
    rows: list[AlertRow] = []
    for severity in (Severity.PAGE, Severity.TICKET):
        tiers = [t for t in result.tiers if t.tier.severity is severity]
        windows = [t.tier.long_window for t in tiers]
        for t in tiers:
            rows.append(alert_row(result, history, severity, t.tier.key, t.firing, t.tier.long_window))
        trickle = result.trickle if severity is Severity.TICKET else None
        if trickle is not None:
            windows.append(trickle.trickle.window)
            rows.append(alert_row(result, history, severity, trickle.trickle.key, trickle.firing,
                                  trickle.trickle.window))
        if len(windows) > 1:
            combined = result.severity_firing(severity)
            assert combined is not None
            rows.append(alert_row(result, history, severity, ANY_TIER, combined, max(windows)))
    return rows


@dataclass(frozen=True)
class SweepRow:
    policy: str
    service: str
    slo: str
    severity: str
    tier: str
    error_rate: float
    first_fire_seconds: float | None
    closed_form_seconds: float | None
    budget_consumed_at_detection: float | None


def _fmt_seconds(value: float | None) -> str:
    return "-" if value is None else ("-" + human_seconds(-value) if value < 0 else human_seconds(value))


def _fmt_share(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.3g}%"


def _table(header: list[str], rows: list[list[str]], right: set[int]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    lines = []
    for row in [header, *rows]:
        cells = [c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def render_alert_table(rows: list[AlertRow]) -> str:
    header = ["policy", "service/slo", "severity", "tier", "first fire", "budget@fire", "notifs", "firing",
              "reset", "precision", "recall"]
    body = [[
        r.policy, f"{r.service}/{r.slo}", r.severity, r.tier, _fmt_seconds(r.first_fire_seconds),
        _fmt_share(r.budget_consumed_at_detection), str(r.notifications), human_seconds(r.firing_seconds),
        _fmt_seconds(r.reset_seconds), _fmt_share(r.precision), _fmt_share(r.recall),
    ] for r in rows]
    return _table(header, body, right={4, 5, 6, 7, 8, 9, 10})


def render_sweep_table(rows: list[SweepRow]) -> str:
    """One block per policy and SLO: error rates down, tiers across, detection time (closed form)."""
    blocks = []
    keys: list[tuple[str, str, str]] = []
    for r in rows:
        key = (r.policy, r.service, r.slo)
        if key not in keys:
            keys.append(key)
    for policy, service, slo in keys:
        mine = [r for r in rows if (r.policy, r.service, r.slo) == (policy, service, slo)]
        tiers: list[tuple[str, str]] = []
        for r in mine:
            if (r.severity, r.tier) not in tiers:
                tiers.append((r.severity, r.tier))
        rates = sorted({r.error_rate for r in mine})
        header = ["error rate", *(f"{sev} {tier}" for sev, tier in tiers)]
        body = []
        for rate in rates:
            line = [f"{rate * 100:g}%"]
            for sev, tier in tiers:
                cell = next(r for r in mine if r.error_rate == rate and (r.severity, r.tier) == (sev, tier))
                if cell.first_fire_seconds is None:
                    line.append("never")
                else:
                    text = f"{human_seconds(cell.first_fire_seconds)} ({_fmt_share(cell.budget_consumed_at_detection)})"
                    line.append(text)
            body.append(line)
        title = f"{policy} on {service}/{slo}: time to fire for a constant error rate (budget spent by then)"
        blocks.append(title + "\n" + _table(header, body, right=set(range(1, len(header)))))
    return "\n\n".join(blocks)


def to_json(key: str, rows: list[AlertRow] | list[SweepRow], extra: dict[str, object] | None = None) -> str:
    payload: dict[str, object] = {key: [asdict(r) for r in rows]}
    if extra:
        payload.update(extra)
    return json.dumps(payload, indent=2, sort_keys=False, allow_nan=False)


def severity_mask(result: PolicyResult, severity: Severity) -> BoolArray:
    combined = result.severity_firing(severity)
    return combined if combined is not None else np.zeros(result.eval_ms.shape, dtype=np.bool_)
