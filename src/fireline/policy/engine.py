"""The policy engine: one evaluation cycle over every watched SLO, and delivery of planned actions.

A cycle reads every budget at one pinned timestamp, then for each SLO, in one transaction: loads
its state, decides (fireline.policy.decide), stores the new state, the audit record and, on a
transition, the transition row and its planned actions (unique keys). Delivery happens after:
notifications and pages go into the serve outbox and incidents are declared in the same
transaction that marks the action done (exactly once); tickets are HTTP calls retried with backoff.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from fireline.clients.prometheus import PrometheusClient, PrometheusQueryError, PrometheusUnavailable
from fireline.policy.actions import ActionKind, PlannedAction, plan_transition, plan_unknown_notice
from fireline.policy.budget import (
    BatchItem,
    BudgetReading,
    BudgetUnknown,
    MeasurementUnavailable,
    QueryFn,
    VectorQueryFn,
    measure_budget,
    measure_recorded_batch,
)
from fireline.policy.decide import SLOState, decide
from fireline.policy.gate import GateAnswer, gate_decision
from fireline.policy.settings import ChangeClass, PolicySettings
from fireline.policy.tables import BudgetExclusion, PolicyAction, PolicyAudit, PolicySLOState, PolicyTransition
from fireline.policy.tickets import TicketError, TicketRequest, open_ticket
from fireline.policy.windows import BudgetWindow, Interval, budget_window, clip_and_merge
from fireline.server.db import Database
from fireline.spec.config import Config
from fireline.spec.loader import LoadedService
from fireline.spec.models import SLOSpec

log = logging.getLogger("fireline.policy")
RETRY_BASE = timedelta(seconds=5)
RETRY_CAP = timedelta(minutes=10)


@dataclass(frozen=True)
class WatchedSLO:
    service: str
    team: str
    slo: SLOSpec


@dataclass(frozen=True)
class IncidentRequest:
    service: str
    slo: str
    team: str
    severity: str
    title: str
    message: str
    key: str


class IncidentOpener(Protocol):
    def __call__(self, session: Session, request: IncidentRequest, now: datetime) -> dict[str, Any]: ...


class Notifier(Protocol):
    """Puts one notification for one receiver in the serve outbox (same session: exactly once)."""

    def __call__(self, session: Session, *, key: str, receiver: str, kind: ActionKind, service: str, slo: str,
                 payload: dict[str, Any], now: datetime) -> list[str]: ...


@dataclass
class CycleReport:
    at: datetime
    readings: list[BudgetReading | BudgetUnknown] = field(default_factory=list)
    transitions: int = 0
    planned: int = 0


def watched_slos(services: Sequence[LoadedService]) -> list[WatchedSLO]:
    return [WatchedSLO(s.spec.name, s.spec.spec.team, slo) for s in services for slo in s.spec.spec.slos]


def prometheus_query(client: PrometheusClient) -> QueryFn:
    def query(promql: str, at: datetime) -> float | None:
        try:
            return client.query_value(promql, at)
        except PrometheusUnavailable as exc:
            raise MeasurementUnavailable(str(exc)) from None
    return query


def prometheus_vector_query(client: PrometheusClient) -> VectorQueryFn:
    def query(promql: str, at: datetime) -> list[tuple[dict[str, str], float]]:
        try:
            return [(sample.labels, sample.value) for sample in client.query(promql, at)]
        except PrometheusUnavailable as exc:
            raise MeasurementUnavailable(str(exc)) from None
    return query


def _state_of(row: PolicySLOState | None, service: str, slo: str) -> SLOState:
    if row is None:
        return SLOState(service, slo)
    return SLOState(service, slo, row.tier, row.since, row.remaining, row.measured_at, row.unknown_since,
                    row.unknown_reason, row.unknown_notified, row.recovery_tier, row.recovery_cycles, row.transitions)


def _json_number(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) or math.isinf(value) else value


def reading_inputs(measurement: BudgetReading | BudgetUnknown) -> dict[str, Any]:
    queries = [q.as_dict() for q in measurement.queries]
    if isinstance(measurement, BudgetUnknown):
        return {"known": False, "reason": measurement.reason, "queries": queries}
    return {
        "known": True, "window": {"start": measurement.window.start.isoformat(),
                                  "end": measurement.window.end.isoformat(), "kind": measurement.window.describe()},
        "errors": _json_number(measurement.errors), "events": _json_number(measurement.events),
        "excluded_errors": _json_number(measurement.excluded_errors),
        "excluded_events": _json_number(measurement.excluded_events),
        "excluded": [{"start": i.start.isoformat(), "end": i.end.isoformat()} for i in measurement.excluded],
        "source": measurement.source,
        "error_budget": measurement.error_budget, "error_ratio": _json_number(measurement.error_ratio),
        "budget_remaining": _json_number(measurement.remaining), "queries": queries,
    }


class PolicyEngine:
    def __init__(self, config: Config, policy: PolicySettings, slos: Sequence[WatchedSLO], db: Database,
                 query: QueryFn | None, *, notifier: Notifier, open_incident: IncidentOpener,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 ticket_transport: Any = None, vector_query: VectorQueryFn | None = None) -> None:
        self.config = config
        self.policy = policy
        self.slos = list(slos)
        self.db = db
        self.query = query
        self.notifier = notifier
        self.open_incident = open_incident
        self.clock = clock
        self.ticket_transport = ticket_transport
        # With it, the recorded budgets of all SLOs are read in a few queries (measure_recorded_batch).
        self.vector_query = vector_query

    # --- lookup -------------------------------------------------------------------------------

    def find(self, service: str, slo: str | None = None) -> list[WatchedSLO]:
        return [w for w in self.slos if w.service == service and (slo is None or w.slo.name == slo)]

    def services(self) -> list[str]:
        return sorted({w.service for w in self.slos})

    def window_of(self, watched: WatchedSLO, at: datetime) -> BudgetWindow:
        calendar, timezone = self.policy.window_for(watched.service, watched.slo.name)
        return budget_window(at, watched.slo.window, calendar, timezone)

    # --- the cycle ----------------------------------------------------------------------------

    def _excluded(self, watched: WatchedSLO, window: BudgetWindow, exclusions: list[BudgetExclusion]) -> list[Interval]:
        return clip_and_merge([Interval(e.start, e.end) for e in exclusions
                               if e.service == watched.service and e.slo in (None, watched.slo.name)], window)

    def _batch(self, at: datetime, exclusions: list[BudgetExclusion]) -> dict[tuple[str, str], BudgetReading]:
        """The recorded budgets read for all SLOs at once; {} when not asked for or not possible."""
        if self.vector_query is None or self.query is None or self.policy.budget_source == "raw":
            return {}
        items = []
        for watched in self.slos:
            window = self.window_of(watched, at)
            items.append(BatchItem(watched.service, watched.slo, window, self._excluded(watched, window, exclusions)))
        try:
            return measure_recorded_batch(self.vector_query, items, at.astimezone(UTC).replace(microsecond=0),
                                          self.policy.staleness)
        except (MeasurementUnavailable, PrometheusQueryError) as exc:
            log.info("policy: reading all recorded budgets at once failed (%s); reading them one by one", exc)
            return {}

    def measure(self, at: datetime, exclusions: list[BudgetExclusion]) -> list[BudgetReading | BudgetUnknown]:
        results: list[BudgetReading | BudgetUnknown] = []
        unreachable: str | None = None
        batch = self._batch(at, exclusions)
        for watched in self.slos:
            window = self.window_of(watched, at)
            if self.query is None:
                results.append(BudgetUnknown(watched.service, watched.slo.name, window.end,
                                             "prometheus.url is not set in fireline.yaml"))
                continue
            if (found := batch.get((watched.service, watched.slo.name))) is not None:
                results.append(found)
                continue
            if unreachable is not None:
                # One unreachable Prometheus is enough to know: do not wait for N more timeouts.
                results.append(BudgetUnknown(watched.service, watched.slo.name, window.end, unreachable))
                continue
            excluded = self._excluded(watched, window, exclusions)
            try:
                results.append(measure_budget(self.query, watched.service, watched.slo, window, excluded,
                                              self.policy.staleness, self.policy.budget_source))
            except MeasurementUnavailable as exc:
                unreachable = f"Prometheus unreachable: {exc}"
                results.append(BudgetUnknown(watched.service, watched.slo.name, window.end, unreachable))
            except PrometheusQueryError as exc:
                results.append(BudgetUnknown(watched.service, watched.slo.name, window.end,
                                             f"Prometheus rejected the SLI query: {exc}"))
        return results

    def run_cycle(self, now: datetime | None = None) -> CycleReport:
        at = (now or self.clock()).astimezone(UTC).replace(microsecond=0)
        with self.db.transaction() as session:
            exclusions = list(session.scalars(select(BudgetExclusion).where(BudgetExclusion.revoked_at.is_(None))))
            session.expunge_all()
        report = CycleReport(at, self.measure(at, exclusions))
        by_key = {(w.service, w.slo.name): w for w in self.slos}
        for measurement in report.readings:
            watched = by_key[(measurement.service, measurement.slo)]
            with self.db.transaction() as session:
                transitions, planned = self._apply(session, watched, measurement, at)
            report.transitions += transitions
            report.planned += planned
        return report

    def _apply(self, session: Session, watched: WatchedSLO, measurement: BudgetReading | BudgetUnknown,
               at: datetime) -> tuple[int, int]:
        row = session.get(PolicySLOState, (watched.service, watched.slo.name), with_for_update=True)
        if row is not None and row.evaluated_at is not None and row.evaluated_at >= at:
            return 0, 0  # this instant was already evaluated (a re-run after a crash, another leader)
        state = _state_of(row, watched.service, watched.slo.name)
        decision = decide(self.policy, state, measurement)
        new = decision.state
        if row is None:
            row = PolicySLOState(service=new.service, slo=new.slo)
            session.add(row)
        for name in ("tier", "since", "remaining", "measured_at", "unknown_since", "unknown_reason",
                     "unknown_notified", "recovery_tier", "recovery_cycles", "transitions"):
            setattr(row, name, getattr(new, name))
        row.evaluated_at = at
        inputs = reading_inputs(measurement)
        inputs["raw_tier"] = decision.raw_tier
        inputs["hysteresis"] = {"recovery_tier": new.recovery_tier, "recovery_cycles": new.recovery_cycles,
                                "margin": float(self.policy.hysteresis.margin),
                                "cycles": self.policy.hysteresis.cycles}
        known = isinstance(measurement, BudgetReading)
        session.add(PolicyAudit(
            at=at, event="transition" if decision.transition else "decision", service=new.service, slo=new.slo,
            tier=new.tier if known or new.tier else None, previous_tier=state.tier,
            remaining=_json_number(measurement.remaining) if isinstance(measurement, BudgetReading) else None,
            known=known, actor="policy-engine", explanation=decision.explanation, inputs=inputs))
        planned: list[PlannedAction] = []
        transition_id: int | None = None
        window_text = self.window_of(watched, at).describe()
        if decision.transition is not None:
            t = decision.transition
            record = PolicyTransition(service=t.service, slo=t.slo, seq=t.seq, from_tier=t.from_tier,
                                      to_tier=t.to_tier, at=t.at, remaining=t.remaining)
            session.add(record)
            session.flush()
            transition_id = record.id
            planned = plan_transition(self.policy, t, watched.slo, watched.team, window_text)
        if decision.notify_unknown:
            planned += plan_unknown_notice(self.policy, new, watched.slo, watched.team, at)
        added = 0
        for action in planned:
            if session.scalar(select(PolicyAction.id).where(PolicyAction.key == action.key)) is not None:
                continue
            session.add(PolicyAction(key=action.key, transition_id=transition_id, service=action.service,
                                     slo=action.slo, kind=str(action.kind), target=action.target,
                                     payload=action.payload, status="pending", attempts=0, next_attempt_at=at,
                                     created_at=at))
            added += 1
        return (1 if decision.transition else 0), added

    # --- delivery -----------------------------------------------------------------------------

    def dispatch_due(self, now: datetime | None = None, limit: int = 100) -> list[PolicyAction]:
        """Deliver every due action once; returns the rows as they ended (detached)."""
        at = now or self.clock()
        with self.db.transaction() as session:
            due = list(session.scalars(
                select(PolicyAction.id).where(PolicyAction.status == "pending", PolicyAction.next_attempt_at <= at)
                .order_by(PolicyAction.id).limit(limit)))
        done: list[PolicyAction] = []
        for action_id in due:
            done.append(self._deliver(action_id, at))
        return done

    def _deliver(self, action_id: int, at: datetime) -> PolicyAction:
        with self.db.transaction() as session:
            action = session.get(PolicyAction, action_id, with_for_update=True)
            assert action is not None
            if action.status != "pending":
                session.expunge(action)
                return action
            kind = ActionKind(action.kind)
            watched = self.find(action.service, action.slo)
            team = watched[0].team if watched else ""
            try:
                if kind in (ActionKind.NOTIFY, ActionKind.PAGE):
                    keys: list[str] = []
                    for receiver in self.receivers_for(action.target, team):
                        keys += self.notifier(session, key=f"policy:{action.key}:{receiver}", receiver=receiver,
                                              kind=kind, service=action.service, slo=action.slo,
                                              payload=action.payload, now=at)
                    self._finish(session, action, at, {"outbox": keys})
                elif kind is ActionKind.INCIDENT:
                    p = action.payload
                    result = self.open_incident(session, IncidentRequest(
                        action.service, action.slo, team, str(p.get("severity", action.target)), str(p["title"]),
                        str(p.get("message", "")), action.key), at)
                    self._finish(session, action, at, result)
                else:
                    # The HTTP call happens with the row locked, so two leaders can never both open it.
                    self._finish(session, action, at, self._open_ticket(action))
            except TicketError as exc:
                self._failed(session, action, at, str(exc), retryable=exc.retryable)
            session.flush()
            session.expunge(action)
            return action

    def receivers_for(self, target: str, team: str) -> list[str]:
        from fireline.policy.settings import TEAM_RECEIVER

        if target != TEAM_RECEIVER:
            return [target]
        routing = self.config.teams.get(team)
        if routing is not None and routing.ticket:
            return list(routing.ticket)
        return [self.config.default_receiver] if self.config.default_receiver else []

    def _open_ticket(self, action: PolicyAction) -> dict[str, Any]:
        tracker = self.policy.trackers.get(action.target)
        if tracker is None:
            raise TicketError(f"tracker {action.target!r} is not defined under policy.trackers", retryable=False)
        p = action.payload
        request = TicketRequest(str(p["title"]), str(p["body"]), list(p.get("labels") or []),
                                p.get("priority"), p.get("due_date"), action.key)
        return open_ticket(tracker, action.target, request, transport=self.ticket_transport)

    def _finish(self, session: Session, action: PolicyAction, at: datetime, result: dict[str, Any]) -> None:
        action.status = "done"
        action.attempts += 1
        action.done_at = at
        action.result = result
        action.last_error = None
        session.add(PolicyAudit(at=at, event="action", service=action.service, slo=action.slo,
                                tier=str(action.payload.get("tier")), previous_tier=None, remaining=None, known=None,
                                actor="policy-engine",
                                explanation=f"{action.kind} {action.target} done "
                                            f"({action.payload.get('phase')} {action.payload.get('tier')})",
                                inputs={"key": action.key, "result": result}))

    def _failed(self, session: Session, action: PolicyAction, at: datetime, error: str, *, retryable: bool) -> None:
        action.attempts += 1
        action.last_error = error
        if retryable and action.attempts < self.policy.max_attempts:
            action.next_attempt_at = at + min(RETRY_BASE * (2 ** (action.attempts - 1)), RETRY_CAP)
            log.warning("policy action %s failed (attempt %d), will retry: %s", action.key, action.attempts, error)
            return
        action.status = "dead"
        log.error("policy action %s dead after %d attempts: %s", action.key, action.attempts, error)
        session.add(PolicyAudit(at=at, event="action-dead", service=action.service, slo=action.slo,
                                tier=str(action.payload.get("tier")), previous_tier=None, remaining=None, known=None,
                                actor="policy-engine", explanation=f"{action.kind} {action.target} failed: {error}",
                                inputs={"key": action.key, "attempts": action.attempts}))

    # --- reads --------------------------------------------------------------------------------

    def states(self, service: str | None = None) -> list[SLOState]:
        with self.db.transaction() as session:
            rows = {(r.service, r.slo): r for r in session.scalars(select(PolicySLOState))}
            return [_state_of(rows.get((w.service, w.slo.name)), w.service, w.slo.name)
                    for w in self.slos if service is None or w.service == service]

    def gate(self, service: str, change: ChangeClass) -> GateAnswer | None:
        if not self.find(service):
            return None
        return gate_decision(self.policy, service, change, self.states(service))
