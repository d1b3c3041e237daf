"""`fireline drill`: the alerting checklist, run as a program against real Prometheus and Alertmanager.

Items (docs/drill.md):
  1 routing      test alerts reach exactly the receivers the routing intent says (expected-routes.yml)
  2 resolve      resolving them sends the resolved notification to the same receivers
  3 silence      a silence made through the API suppresses an alert; expiring it restores it
  4 inhibition   a page suppresses the ticket of the same service and SLO
  5 timing       group_wait and group_interval hold within tolerance
  6 runbooks     every alert's runbook_url resolves (file exists or HTTP 200)
  7 fire drill   errors injected into the demo service page at the capture server and open an
                 incident in fireline within the time budget
  8 ha           with two Alertmanagers: one delivery, and still delivered after one is killed
  9 policy       the demo service's errors move its SLO into a worse error-budget policy tier: the
                 tier's actions arrive once, the deploy gate follows, an exclusion restores the budget
                 (drill_policy.py)

Evidence is what arrived at the capture server, per receiver path, recognised by a token unique to
each test alert (in its labels and summary, which Slack, PagerDuty and webhook payloads carry).
Drill alerts carry `drill="true"`; with --safe (the default) the drill refuses to post them unless
the running config routes them only to capture-only receivers (the stack's drill route does).
"""

from __future__ import annotations

import contextlib
import json
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx
from ruamel.yaml import YAML

from fireline.clients.prometheus import PrometheusClient, PrometheusError, utc_now
from fireline.routing.expected import ExpectedRoute
from fireline.routing.tree import AlertmanagerConfig, Route, receivers_for
from fireline.rules.plan import traffic_query
from fireline.stack.amconfig import DRILL_LABEL, DRILL_PREFIX, CaptureMap, unsafe_receivers
from fireline.stack.clients import (
    AlertmanagerSet,
    CaptureClient,
    CapturedRequest,
    FirelineClient,
    TestAlert,
    parse_time,
)
from fireline.stack.process import ProcessManager, StackError

Status = Literal["pass", "fail", "warn", "skip"]
ITEMS = {1: "routing", 2: "resolve", 3: "silence", 4: "inhibition", 5: "timing", 6: "runbooks", 7: "fire drill",
         8: "ha", 9: "policy"}
TITLES = {
    1: "alerts reach exactly the expected receivers",
    2: "resolve notifications arrive",
    3: "a silence suppresses, expiring it restores",
    4: "a page inhibits the ticket of the same service and SLO",
    5: "group_wait and group_interval hold",
    6: "runbook links resolve",
    7: "SLO fire drill: errors page and open an incident in time",
    8: "HA pair: one delivery, still delivered with a replica down",
    9: "error-budget policy: a tier crossing acts once, the gate follows, an exclusion restores",
}
# RFC 2606/6761 names that can never resolve: a runbook there is a placeholder, said as such.
_RESERVED_DOMAIN = re.compile(r"(^|\.)(example\.(com|net|org)|example|test|invalid|localhost)$")
_ROUTING_KEYS = frozenset({"alertname", "team", "fireline_severity", "severity", "slo", "long_window",
                           "short_window"})
_TOKEN_RE = re.compile(r"fd[0-9a-f]{8}n\d{3}")


class DrillRefused(Exception):
    """The drill will not post alerts (unsafe routing, nothing to drill); exit 2, not a checklist failure."""


@dataclass
class ItemResult:
    number: int
    name: str
    title: str
    status: Status
    seconds: float
    details: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass
class DrillReport:
    run_id: str
    started_at: str
    finished_at: str
    target: dict[str, Any]
    safe: bool
    items: list[ItemResult]
    incident: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return all(item.status != "fail" for item in self.items)

    def to_dict(self) -> dict[str, Any]:
        return {"version": 1, "ok": self.ok, **asdict(self)}


@dataclass
class DrillTarget:
    """What the drill runs against: a stack's state dir, or any Alertmanager (+ optional parts)."""

    alertmanagers: list[str]
    expected: list[ExpectedRoute]
    capture: str | None = None
    captured: CaptureMap | None = None  # receiver -> capture paths; None: derived from loopback webhooks
    bundle: Path | None = None
    prometheus: str | None = None
    fireline: str | None = None
    token: str | None = None
    demo_service: str | None = None
    demo: bool = False
    processes: ProcessManager | None = None  # lets the HA item kill (and restart) a replica
    restart_replica: Callable[[int], None] | None = None
    peer_timeout: float = 15.0
    demo_job: str = "checkout"
    prometheus_headers: dict[str, str] = field(default_factory=dict)  # tenant and headers from fireline.yaml
    serve_config: Path | None = None  # the fireline.yaml `fireline serve` runs with (policy, receivers, specs)


@dataclass
class DrillOptions:
    safe: bool = True
    items: tuple[int, ...] = tuple(ITEMS)
    page_budget: float = 180.0
    fire_error_rate: float = 1.0
    margin: float = 4.0  # slack for HTTP, scheduling and gossip, on top of the configured timers


@dataclass
class Case:
    """One test alert: its labels, the receivers it must reach, and the token that finds it in payloads."""

    name: str
    token: str
    alert: TestAlert
    expected: tuple[str, ...]
    posted_at: float = 0.0


@dataclass
class Delivery:
    receiver: str
    kind: str
    status: str
    received_at: float
    tokens: frozenset[str]


class Drill:
    def __init__(self, target: DrillTarget, options: DrillOptions, *,
                 progress: Callable[[str], None] = lambda _: None) -> None:
        self.target = target
        self.options = options
        self.progress = progress
        self.run_id = secrets.token_hex(4)
        self.ams = AlertmanagerSet(target.alertmanagers)
        self.capture = CaptureClient(target.capture) if target.capture else None
        self._case_count = 0
        self._posted: list[TestAlert] = []
        self.config: AlertmanagerConfig | None = None
        self.path_to_receiver: dict[str, tuple[str, str]] = {}
        self.incident: dict[str, Any] | None = None
        self._rules: list[dict[str, Any]] | None = None

    # ----------------------------------------------------------------------------------- set-up

    def _load(self) -> AlertmanagerConfig:
        config = self.ams.first_alive().loaded_config()
        captured = self.target.captured or self._captured_from_config(config)
        self.path_to_receiver = {path: (name, kind) for name, items in captured.paths.items() for kind, path in items}
        self._capture_only = captured.receivers()
        self.config = config
        return config

    def _captured_from_config(self, config: AlertmanagerConfig) -> CaptureMap:
        """Outside a stack: receivers whose webhooks point at the capture server are the observable ones."""
        captured = CaptureMap()
        if not self.target.capture:
            return captured
        base = urlsplit(self.target.capture)
        for receiver in config.data.get("receivers") or []:
            for hook in receiver.get("webhook_configs") or []:
                url = urlsplit(str(hook.get("url", "")))
                if (url.hostname, url.port) == (base.hostname, base.port):
                    captured.add(str(receiver["name"]), "webhook", url.path)
        return captured

    def _token(self) -> str:
        self._case_count += 1
        return f"fd{self.run_id}n{self._case_count:03d}"

    def _bundle_alert_labels(self) -> list[dict[str, str]]:
        return [{str(k): str(v) for k, v in (r.get("labels") or {}).items()} for r in self._alert_rules()]

    def _case(self, name: str, labels: dict[str, str], expected: tuple[str, ...], *, slo: str | None = None,
              service: str | None = None) -> Case:
        """A test alert shaped like the bundle's own alerts of that team and severity."""
        token = self._token()
        like = next((lbl for lbl in self._bundle_alert_labels()
                     if labels and all(lbl.get(k) == v for k, v in labels.items())), {})
        # Copy the service and the spec's own labels, never routing keys the case does not name: a case
        # "without fireline_severity" must not borrow one from the alert it looks like.
        full = {k: v for k, v in like.items() if k not in _ROUTING_KEYS}
        if "fireline_severity" in labels:
            full["severity"] = like.get("severity") or {"page": "critical", "ticket": "warning"}.get(
                labels["fireline_severity"], "")
        full.update(labels)
        full.update({
            # One alertname per case keeps each case its own aggregation group.
            "alertname": "FirelineDrill" + "".join(p.capitalize() for p in re.split(r"\W+", name) if p),
            "service": service or full.get("service") or "fireline-drill",
            "slo": slo or f"drill-{token}",
            DRILL_LABEL: "true", "drill_case": token,
        })
        full = {k: v for k, v in full.items() if v != ""}
        summary = f"fireline drill {token}: {name} (test alert, no action needed)"
        return Case(name, token, TestAlert(full, {"summary": summary, "description": summary}), expected)

    def _post(self, cases: list[Case], *, resolved: bool = False) -> None:
        alerts = [c.alert for c in cases]
        now = time.time()
        if self.ams.post_alerts(alerts, resolved=resolved) == 0:
            raise StackError("no Alertmanager replica accepted the test alerts")
        if not resolved:
            self._posted.extend(alerts)
            for case in cases:
                case.posted_at = now

    def _deliveries(self, since: float) -> list[Delivery]:
        if self.capture is None:
            return []
        out = []
        for request in self.capture.requests(since):
            owner = self._owner(request)
            if owner is None:
                continue
            receiver, kind = owner
            out.append(Delivery(receiver, kind, request.status(kind), request.received_at,
                                frozenset(_TOKEN_RE.findall(request.body))))
        return out

    def _owner(self, request: CapturedRequest) -> tuple[str, str] | None:
        found = self.path_to_receiver.get(request.path)
        if found is None:
            return None
        name, kind = found
        return name.removeprefix(DRILL_PREFIX) if self._is_twin(name) else name, kind

    def _is_twin(self, name: str) -> bool:
        return name.startswith(DRILL_PREFIX) and self.config is not None and \
            self.config.receiver(name.removeprefix(DRILL_PREFIX)) is not None

    def _reached(self, deliveries: list[Delivery], token: str, status: str = "firing") -> dict[str, list[Delivery]]:
        out: dict[str, list[Delivery]] = {}
        for d in deliveries:
            if token in d.tokens and d.status == status:
                out.setdefault(d.receiver, []).append(d)
        return out

    def _route_of(self, labels: dict[str, str]) -> Route:
        assert self.config is not None
        routes = self.config.route.match(labels)
        return routes[0]

    def _wait(self, until: Callable[[], bool], timeout: float, step: float = 0.25) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if until():
                return True
            time.sleep(step)
        return until()

    def _observable(self, receivers: tuple[str, ...]) -> tuple[list[str], list[str]]:
        """(receivers whose notifications the capture server sees, those it cannot see)."""
        seen = {self._owner_name(n) for n in self._capture_only}
        return [r for r in receivers if r in seen], [r for r in receivers if r not in seen]

    def _owner_name(self, name: str) -> str:
        return name.removeprefix(DRILL_PREFIX) if self._is_twin(name) else name

    def _max_group_wait(self, cases: list[Case]) -> float:
        return max(self._route_of(c.alert.labels).group_wait.seconds for c in cases)

    def _max_group_interval(self, cases: list[Case]) -> float:
        return max(self._route_of(c.alert.labels).group_interval.seconds for c in cases)

    def _ha_wait(self) -> float:
        # In an HA cluster each replica waits position x peer_timeout before it notifies.
        return (len(self.target.alertmanagers) - 1) * self.target.peer_timeout

    # ------------------------------------------------------------------------------------ items

    def run(self) -> DrillReport:
        started = datetime.now(UTC)
        items: list[ItemResult] = []
        config = self._load()
        routing_cases = [self._case(row.name, dict(row.labels), row.receivers) for row in self.target.expected]
        if not routing_cases:
            raise DrillRefused("no expectations: the expected-routes table is empty")
        if self.options.safe:
            unsafe = unsafe_receivers(config, [c.alert.labels for c in routing_cases], self._capture_only)
            if unsafe:
                listed = "; ".join(f"{name} {why}" for name, why in sorted(unsafe.items()))
                raise DrillRefused(
                    f"--safe: drill alerts (drill=\"true\") would reach receivers that can notify people: {listed}. "
                    "Run the drill against `fireline stack up` (its drill route sends them to the capture server), "
                    "add a first route drill=\"true\" to loopback webhooks, or pass --unsafe on a test Alertmanager")
        if self.capture is None and any(n in self.options.items for n in (1, 2, 3, 4, 5, 7, 8)):
            self.progress("no capture server: deliveries cannot be observed; only routing via the API is checked")
        steps: list[tuple[int, Callable[[], ItemResult]]] = [
            (1, lambda: self.item_routing(routing_cases)),
            (2, lambda: self.item_resolve(routing_cases, items)),
            (3, self.item_silence),
            (4, self.item_inhibition),
            (5, lambda: self.item_timing(routing_cases)),
            (6, self.item_runbooks),
            (7, self.item_fire_drill),
            (8, self.item_ha),
            (9, self.item_policy),
        ]
        try:
            for number, step in steps:
                if number not in self.options.items:
                    continue
                self.progress(f"running ({number}) {TITLES[number]} ...")
                began = time.monotonic()
                try:
                    result = step()
                except (httpx.HTTPError, PrometheusError, StackError, KeyError, ValueError) as exc:
                    result = ItemResult(number, ITEMS[number], TITLES[number], "fail", 0.0,
                                        [f"the check itself failed: {type(exc).__name__}: {exc}"])
                result.seconds = round(time.monotonic() - began, 1)
                items.append(result)
        finally:
            self._cleanup()
        target = {"alertmanagers": self.target.alertmanagers, "capture": self.target.capture,
                  "prometheus": self.target.prometheus, "fireline": self.target.fireline,
                  "bundle": str(self.target.bundle) if self.target.bundle else None}
        return DrillReport(self.run_id, started.isoformat(), datetime.now(UTC).isoformat(), target,
                           self.options.safe, items, self.incident)

    def _cleanup(self) -> None:
        if self._posted:
            with contextlib.suppress(httpx.HTTPError, StackError):
                self.ams.post_alerts(self._posted, resolved=True)
        self.ams.close()
        if self.capture is not None:
            self.capture.close()

    def _result(self, number: int, status: Status, details: list[str], **kw: Any) -> ItemResult:
        return ItemResult(number, ITEMS[number], TITLES[number], status, 0.0, details, **kw)

    def item_routing(self, cases: list[Case]) -> ItemResult:
        since = time.time()
        self._post(cases)
        # Observable receivers are checked by delivery; the others by Alertmanager's own routing.
        wanted = {c.token: set(self._observable(c.expected)[0]) for c in cases}
        timeout = self._max_group_wait(cases) + self._ha_wait() + self.options.margin + 2

        def complete() -> bool:
            deliveries = self._deliveries(since)
            return all(wanted[c.token] <= set(self._reached(deliveries, c.token)) for c in cases)

        self._wait(complete, timeout)
        time.sleep(1.0)  # deliveries to wrong receivers are sent at the same flush; let stragglers land
        deliveries = self._deliveries(since)
        routed = self._routed(cases)
        details: list[str] = []
        evidence: dict[str, Any] = {}
        failed = False
        for case in cases:
            reached = self._reached(deliveries, case.token)
            observable, hidden = self._observable(case.expected)
            missing = [r for r in observable if r not in reached]
            unexpected = sorted(r for r in reached if r not in case.expected)
            api_routed = routed.get(case.token, [])
            hidden_missing = [r for r in hidden if r not in api_routed]
            evidence[case.name] = {"labels": case.alert.labels, "expected": list(case.expected),
                                   "delivered": sorted(reached), "routed": api_routed}
            if missing or unexpected or hidden_missing:
                failed = True
                parts = [f"{r} never received the alert" for r in missing + hidden_missing]
                parts += [f"{r} received it but should not" for r in unexpected]
                details.append(f"{case.name}: {'; '.join(parts)} (expected {', '.join(case.expected)}; "
                               f"delivered to {', '.join(sorted(reached)) or 'nobody'}; "
                               f"Alertmanager routed it to {', '.join(api_routed) or 'nothing'})")
        if not failed:
            details.append(f"{len(cases)} test alerts, each delivered to exactly its expected receivers")
        return self._result(1, "fail" if failed else "pass", details, evidence=evidence)

    def _routed(self, cases: list[Case]) -> dict[str, list[str]]:
        """token -> receivers Alertmanager routed the alert to (its groups API), original names."""
        out: dict[str, list[str]] = {}
        groups = self.ams.first_alive().groups([f'drill_case=~"fd{self.run_id}n.*"'])
        for group in groups:
            receiver = self._owner_name(str(group["receiver"]["name"]))
            for alert in group["alerts"]:
                token = alert["labels"].get("drill_case")
                if token and receiver not in out.setdefault(token, []):
                    out[token].append(receiver)
        return out

    def item_resolve(self, cases: list[Case], done: list[ItemResult]) -> ItemResult:
        if self.capture is None:
            return self._result(2, "skip", ["needs a capture server to see resolve notifications"])
        assert self.config is not None
        since = time.time()
        self._post(cases, resolved=True)
        firing = self._deliveries(0.0)
        expected = {c.token: set(self._reached(firing, c.token)) for c in cases}
        timeout = self._max_group_interval(cases) + self._ha_wait() + self.options.margin + 2

        def complete() -> bool:
            deliveries = self._deliveries(since)
            return all(expected[c.token] <= set(self._reached(deliveries, c.token, "resolved")) for c in cases)

        self._wait(complete, timeout)
        deliveries = self._deliveries(since)
        details: list[str] = []
        latencies: list[float] = []
        for case in cases:
            got = self._reached(deliveries, case.token, "resolved")
            for receiver in sorted(expected[case.token]):
                if receiver in got:
                    latencies.append(min(d.received_at for d in got[receiver]) - since)
                    continue
                why = self._send_resolved_off(receiver)
                details.append(f"{case.name}: {receiver} got the alert but no resolve notification within "
                               f"{timeout:.0f}s{why}")
        status: Status = "fail" if details else "pass"
        if status == "pass":
            if not latencies:
                return self._result(2, "skip", ["no firing notification was observed, so no resolve to expect"])
            details.append(f"{len(latencies)} resolve notifications, {max(latencies):.1f}s after resolving at most")
        timings = {"max_resolve_seconds": round(max(latencies), 2)} if latencies else {}
        return self._result(2, status, details, timings=timings)

    def _send_resolved_off(self, receiver: str) -> str:
        assert self.config is not None
        receivers = self.config.data.get("receivers") or []
        raw: dict[str, Any] = next((r for r in receivers if r.get("name") == receiver), {})
        off = [k.removesuffix("_configs") for k, v in raw.items() if k.endswith("_configs") and isinstance(v, list)
               and any(isinstance(c, dict) and c.get("send_resolved") is False for c in v)]
        return f" ({', '.join(off)} has send_resolved: false: nobody hears that it is over)" if off else ""

    def _first_row(self, severity: str) -> ExpectedRoute | None:
        return next((r for r in self.target.expected if r.labels.get("fireline_severity") == severity
                     and self._observable(r.receivers)[0]), None)

    def item_silence(self) -> ItemResult:
        row = self._first_row("page") or self._first_row("ticket")
        if row is None or self.capture is None:
            return self._result(3, "skip", ["needs a capture server and an observable receiver"])
        case = self._case(f"{row.name} silenced", dict(row.labels), row.receivers)
        observable = self._observable(case.expected)[0]
        am = self.ams.first_alive()
        silence = am.create_silence({"drill_case": case.token}, minutes=10,
                                    comment=f"fireline drill {self.run_id}: silence check")
        for replica in self.ams.replicas:  # silences gossip; wait until every replica knows it
            with contextlib.suppress(httpx.TransportError):
                self._wait(lambda r=replica: r.silence_state(silence) == "active", 10)  # type: ignore[misc]
        since = time.time()
        self._post([case])
        quiet = self._route_of(case.alert.labels).group_wait.seconds + self._ha_wait() + self.options.margin
        time.sleep(quiet)
        leaked = sorted(self._reached(self._deliveries(since), case.token))
        state = am.alerts([f'drill_case="{case.token}"'])
        silenced_by = state[0]["status"]["silencedBy"] if state else []
        details: list[str] = []
        if leaked:
            details.append(f"silenced alert was delivered to {', '.join(leaked)}")
        if not silenced_by:
            details.append("Alertmanager does not list the alert as silenced")
        expired_at = time.time()
        am.expire_silence(silence)
        timeout = self._route_of(case.alert.labels).group_interval.seconds + self._ha_wait() + \
            self.options.margin + 2
        self._wait(lambda: set(observable) <= set(self._reached(self._deliveries(expired_at), case.token)), timeout)
        restored = self._reached(self._deliveries(expired_at), case.token)
        missing = [r for r in observable if r not in restored]
        if missing:
            details.append(f"after expiring the silence {', '.join(missing)} did not get the alert within "
                           f"{timeout:.0f}s")
        timings = {}
        if restored:
            timings["restored_after_seconds"] = round(min(d.received_at for ds in restored.values() for d in ds)
                                                      - expired_at, 2)
        self._post([case], resolved=True)
        if not details:
            details.append(f"silenced for {quiet:.0f}s (nothing delivered), delivered "
                           f"{timings.get('restored_after_seconds', 0):.1f}s after the silence expired")
        return self._result(3, "fail" if leaked or not silenced_by or missing else "pass", details, timings=timings)

    def item_inhibition(self) -> ItemResult:
        page_rows = [r for r in self.target.expected if r.labels.get("fireline_severity") == "page"]
        pair = next(((p, t) for p in page_rows for t in self.target.expected
                     if t.labels.get("fireline_severity") == "ticket" and t.labels.get("team") == p.labels.get("team")
                     and self._observable(t.receivers)[0]), None)
        if pair is None or self.capture is None:
            return self._result(4, "skip", ["needs a team with page and ticket receivers and a capture server"])
        page_row, ticket_row = pair
        slo = f"drill-inhibit-{self.run_id}"
        page = self._case(f"{page_row.name} (inhibitor)", dict(page_row.labels), page_row.receivers, slo=slo)
        ticket = self._case(f"{ticket_row.name} (inhibited)", dict(ticket_row.labels), ticket_row.receivers, slo=slo,
                            service=page.alert.labels["service"])
        since = time.time()
        self._post([page])
        self._post([ticket])
        wait = max(self._route_of(c.alert.labels).group_wait.seconds for c in (page, ticket)) + self._ha_wait() + \
            self.options.margin
        page_observable = self._observable(page.expected)[0]
        self._wait(lambda: set(page_observable) <= set(self._reached(self._deliveries(since), page.token)), wait + 2)
        time.sleep(1.0)
        deliveries = self._deliveries(since)
        page_got = self._reached(deliveries, page.token)
        ticket_got = sorted(self._reached(deliveries, ticket.token))
        state = self.ams.first_alive().alerts([f'drill_case="{ticket.token}"'])
        inhibited_by = state[0]["status"]["inhibitedBy"] if state else []
        details = []
        if ticket_got:
            details.append(f"the ticket was delivered to {', '.join(ticket_got)} while the page of the same service "
                           f"and SLO fired (no inhibit rule page -> ticket with equal [service, slo]?)")
        if not inhibited_by:
            details.append("Alertmanager does not list the ticket as inhibited")
        missing = [r for r in page_observable if r not in page_got]
        if missing:
            details.append(f"the inhibiting page itself did not reach {', '.join(missing)}")
        self._post([ticket, page], resolved=True)
        if not details:
            details.append(f"page delivered to {', '.join(sorted(page_got))}; ticket inhibited, delivered to nobody")
        return self._result(4, "fail" if ticket_got or not inhibited_by or missing else "pass", details)

    def item_timing(self, routing_cases: list[Case]) -> ItemResult:
        row = self._first_row("page") or self._first_row("ticket")
        if row is None or self.capture is None:
            return self._result(5, "skip", ["needs a capture server and an observable receiver"])
        receiver = self._observable(row.receivers)[0][0]
        first = self._case(f"{row.name} timing", dict(row.labels), row.receivers, slo=f"drill-timing-{self.run_id}")
        route = self._route_of(first.alert.labels)
        group_wait, group_interval = route.group_wait.seconds, route.group_interval.seconds
        # Tolerance: Alertmanager timers are exact, delivery adds HTTP and (HA) a peer wait.
        slack = max(2.0, 0.2 * group_wait) + self._ha_wait()
        since = time.time()
        self._post([first])
        self._wait(lambda: receiver in self._reached(self._deliveries(since), first.token),
                   group_wait + slack + self.options.margin)
        got = self._reached(self._deliveries(since), first.token).get(receiver)
        details: list[str] = []
        timings: dict[str, float] = {"group_wait": group_wait, "group_interval": group_interval}
        if not got:
            self._post([first], resolved=True)
            return self._result(5, "fail", [f"no notification at {receiver} within "
                                            f"{group_wait + slack + self.options.margin:.0f}s"], timings=timings)
        t_first = min(d.received_at for d in got)
        measured_wait = t_first - first.posted_at
        timings["measured_group_wait"] = round(measured_wait, 2)
        if not group_wait - 0.5 <= measured_wait <= group_wait + slack:
            details.append(f"first notification {measured_wait:.1f}s after the alert; group_wait is {group_wait:g}s "
                           f"(tolerance -0.5s/+{slack:.1f}s)")
        # A second alert in the same group is notified at the next group_interval tick, not after group_wait.
        time.sleep(min(1.0, group_interval / 4))
        second = self._case_like(first, self._token())
        self._post([second])
        interval_slack = max(2.0, 0.2 * group_interval) + self._ha_wait()
        self._wait(lambda: receiver in self._reached(self._deliveries(t_first + 0.1), second.token),
                   group_interval + interval_slack + self.options.margin)
        got2 = self._reached(self._deliveries(t_first + 0.1), second.token).get(receiver)
        if not got2:
            details.append(f"the second alert of the group never reached {receiver}")
        else:
            measured_interval = min(d.received_at for d in got2) - t_first
            timings["measured_group_interval"] = round(measured_interval, 2)
            if not group_interval - 0.5 <= measured_interval <= group_interval + interval_slack:
                details.append(f"the group's next notification came {measured_interval:.1f}s after the first; "
                               f"group_interval is {group_interval:g}s (tolerance -0.5s/+{interval_slack:.1f}s)")
        self._post([first, second], resolved=True)
        failed = bool(details)
        if not failed:
            details.append(f"at {receiver}: first notification after {measured_wait:.1f}s (group_wait "
                           f"{group_wait:g}s), next after {timings['measured_group_interval']:.1f}s "
                           f"(group_interval {group_interval:g}s)")
        return self._result(5, "fail" if failed else "pass", details, timings=timings)

    def _case_like(self, first: Case, token: str) -> Case:
        """Same group labels as first (same alertname, service, slo), another alert in that group."""
        labels = {**first.alert.labels, "drill_case": token}
        summary = f"fireline drill {token}: {first.name} (second alert of the group)"
        return Case(first.name + " (2nd)", token, TestAlert(labels, {"summary": summary, "description": summary}),
                    first.expected)

    # ------------------------------------------------------------------------------------ runbooks

    def _bundle_rule_files(self) -> list[Path]:
        """Plain rule files of the bundle: the prometheus target's, or the vmalert target's (same format)."""
        if self.target.bundle is None:
            return []
        return sorted(self.target.bundle.glob("prometheus/*.rules.yml")) + \
            sorted(self.target.bundle.glob("vmalert/*.rules.yml"))

    def _alert_rules(self) -> list[dict[str, Any]]:
        """Alerting rules: what Prometheus has loaded if we can ask it, else the bundle's rule files."""
        if self._rules is not None:
            return self._rules
        rules: list[dict[str, Any]] = []
        if self.target.prometheus:
            with contextlib.suppress(PrometheusError, KeyError):
                prom = PrometheusClient(self.target.prometheus, headers=self.target.prometheus_headers)
                try:
                    rules = [{"alert": r["name"], "labels": r.get("labels") or {},
                              "annotations": r.get("annotations") or {}, "expr": r.get("query", "")}
                             for r in prom.alerting_rules()]
                finally:
                    prom.close()
        if not rules and self.target.bundle:
            for path in self._bundle_rule_files():
                data = YAML(typ="safe").load(path.read_text(encoding="utf-8")) or {}
                for group in data.get("groups") or []:
                    rules += [r for r in group.get("rules") or [] if "alert" in r]
        self._rules = rules
        return rules

    def item_runbooks(self) -> ItemResult:
        rules = self._alert_rules()
        if not rules:
            return self._result(6, "skip", ["no alerting rules: pass --prometheus or --bundle"])
        details: list[str] = []
        warnings: list[str] = []
        checked: dict[str, str | None] = {}
        for rule in rules:
            url = str((rule.get("annotations") or {}).get("runbook_url") or "")
            if not url:
                details.append(f"{rule['alert']} has no runbook_url annotation")
                continue
            if url not in checked:
                checked[url] = self._runbook_problem(url)
            problem = checked[url]
            if problem is None:
                continue
            line = f"{rule['alert']}: {url}: {problem}"
            (warnings if problem.startswith("placeholder") else details).append(line)
        details = sorted(set(details))
        warnings = sorted(set(warnings))
        ok_count = sum(1 for p in checked.values() if p is None)
        summary = f"{ok_count} of {len(checked)} runbook links resolve ({len(rules)} alerts)"
        status: Status = "fail" if details else ("warn" if warnings else "pass")
        return self._result(6, status, [summary, *details, *warnings], evidence={"links": checked})

    def _runbook_problem(self, url: str) -> str | None:
        if "{{" in url:
            return "placeholder: templated link, resolved per alert at notification time"
        parts = urlsplit(url)
        if parts.scheme in ("http", "https"):
            host = (parts.hostname or "").lower()
            if _RESERVED_DOMAIN.search(host):
                return f"placeholder: {host} is a reserved example domain (RFC 2606), it cannot resolve"
            try:
                response = httpx.get(url, timeout=5.0, follow_redirects=True)
            except httpx.HTTPError as exc:
                return f"unreachable ({type(exc).__name__})"
            return None if response.status_code == 200 else f"HTTP {response.status_code}"
        path = Path(parts.path if parts.scheme == "file" else url)
        if not path.is_absolute():
            if self.target.bundle is None:
                return "relative link, and no --bundle to resolve it against"
            path = self.target.bundle / path
        return None if path.is_file() else f"no such file {path}"

    # ------------------------------------------------------------------------------------ fire drill

    def _demo_page_rules(self) -> list[dict[str, Any]]:
        """Page alerts of SLOs the demo service feeds (errors-based: injected errors move them)."""
        job = f'job="{self.target.demo_job}"'
        rules = self._alert_rules()
        slos: set[tuple[str, str]] = set()
        if self.target.bundle:
            for path in self._bundle_rule_files():
                text = path.read_text(encoding="utf-8")
                if job in text and "http_requests_total" in text:
                    data = YAML(typ="safe").load(text) or {}
                    for group in data.get("groups") or []:
                        if any("http_requests_total" in str(r.get("expr", "")) for r in group.get("rules") or []):
                            slos.update((str((r.get("labels") or {}).get("service", "")),
                                         str((r.get("labels") or {}).get("slo", "")))
                                        for r in group.get("rules") or [] if "alert" in r)
        return [r for r in rules if (lbl := r.get("labels") or {}).get("fireline_severity") == "page"
                and (lbl.get("service"), lbl.get("slo")) in slos and lbl.get("long_window")]

    def _demo_rules_or_skip(self, number: int, needs_config: bool = False) -> list[dict[str, Any]] | ItemResult:
        """The page rules the demo service feeds, or the item's skip result saying what is missing."""
        t = self.target
        if not (t.demo and t.demo_service and t.prometheus and t.capture and t.fireline and t.token
                and (t.serve_config or not needs_config)):
            return self._result(number, "skip", [
                "needs a demo stack (fireline stack up): demo service, Prometheus, capture server and fireline "
                "serve" + (" with its fireline.yaml" if needs_config else "")])
        rules = self._demo_page_rules()
        if not rules:
            return self._result(number, "skip", ["no page alert in the bundle is fed by the demo service's "
                                                 "http_requests_total{job=\"checkout\"}"])
        return rules

    def item_fire_drill(self) -> ItemResult:
        t = self.target
        rules = self._demo_rules_or_skip(7)
        if isinstance(rules, ItemResult):
            return rules
        assert t.fireline and t.token and t.prometheus and t.demo_service  # _demo_rules_or_skip checked them
        alertnames = sorted({str(r["alert"]) for r in rules})
        labels = dict(rules[0]["labels"])
        service = labels.get("service", "")
        assert self.config is not None
        # Real alerts use the receivers themselves, not the drill twins; the fireline webhook goes to
        # fireline serve, which the incident proves.
        observable = [r for r in receivers_for(self.config, labels) if r in self._capture_only]
        prom = PrometheusClient(t.prometheus, headers=t.prometheus_headers)
        fireline = FirelineClient(t.fireline, t.token)
        http = httpx.Client(timeout=10.0)
        timings: dict[str, float] = {"budget_seconds": self.options.page_budget}
        try:
            firing = prom.query(f'ALERTS{{alertstate="firing",service="{service}",fireline_severity="page"}}',
                                utc_now())
            if firing:
                names = sorted({f.labels["alertname"] for f in firing})
                return self._result(7, "skip", [
                    f"{', '.join(names)} still fires from an earlier outage: a new page cannot be measured until it "
                    "resolves (the 5m window needs ~5 minutes of clean traffic) or the stack restarts"])
            # Measure detection, not warm-up: wait until the SLI has data before breaking anything.
            ready = self._wait(lambda: bool(prom.query(f"{traffic_query(service)} > 0", utc_now())), 90, step=1.0)
            if not ready:
                return self._result(7, "fail", [f"Prometheus has no traffic for {service} after 90s "
                                                f"(is the demo service scraped as job checkout?)"])
            before = {int(i["id"]) for i in fireline.incidents()}
            injected = time.time()
            response = http.post(f"{t.demo_service}/control", json={"error_rate": self.options.fire_error_rate})
            response.raise_for_status()
            self.progress(f"    injected error_rate={self.options.fire_error_rate:g} into the demo service; "
                          f"waiting for the page (budget {self.options.page_budget:.0f}s)")
            pages: dict[str, float] = {}  # page receiver -> first firing notification for the SLO's alerts
            incident: dict[str, Any] | None = None
            deadline = injected + self.options.page_budget
            while time.time() < deadline and (set(pages) != set(observable) or incident is None):
                for request in self.capture.requests(injected) if self.capture else []:
                    owner = self._owner(request)
                    if owner and owner[0] in observable and owner[0] not in pages \
                            and any(a in request.body for a in alertnames) and request.status(owner[1]) == "firing":
                        pages[owner[0]] = request.received_at
                if incident is None:
                    fresh = [i for i in fireline.incidents() if int(i["id"]) not in before
                             and i.get("service") == service and i.get("kind") == "incident"]
                    if fresh:
                        incident = min(fresh, key=lambda i: int(i["id"]))
                time.sleep(1.0)
            page_at = min(pages.values()) if pages else None
            page_text = ", ".join(f"{r} after {at - injected:.0f}s"
                                  for r, at in sorted(pages.items(), key=lambda item: item[1]))
            details: list[str] = []
            if page_at is not None:
                timings["page_seconds"] = round(page_at - injected, 1)
            missing = [r for r in observable if r not in pages]
            if missing:
                details.append(f"no page at {', '.join(missing)} within {self.options.page_budget:.0f}s of "
                               f"injecting errors" + (f" (it did reach {page_text})" if pages else ""))
            if incident is not None:
                opened = parse_time(str(incident["opened_at"])).timestamp()
                timings["incident_seconds"] = round(opened - injected, 1)
                self.incident = fireline.incident(int(incident["id"]))
                if opened - injected > self.options.page_budget:
                    details.append(f"incident #{incident['id']} opened {opened - injected:.0f}s after injection, "
                                   f"over the {self.options.page_budget:.0f}s budget")
            else:
                details.append(f"no incident for {service} opened in fireline within {self.options.page_budget:.0f}s")
            failed = bool(details)
            if not failed:
                details.append(f"errors injected -> page at {page_text} -> incident "
                               f"#{incident['id'] if incident else '?'} open after {timings['incident_seconds']:.0f}s "
                               f"(budget {self.options.page_budget:.0f}s)")
            return self._result(7, "fail" if failed else "pass", details, timings=timings,
                                evidence={"alertnames": alertnames, "service": service,
                                          "pages": {r: round(at - injected, 1) for r, at in pages.items()}})
        finally:
            with contextlib.suppress(httpx.HTTPError):
                http.post(f"{t.demo_service}/control", json={"error_rate": 0.0, "latency_seconds": 0.0})
            http.close()
            prom.close()
            fireline.close()

    # -------------------------------------------------------------------------------- policy

    def item_policy(self) -> ItemResult:
        from fireline.stack.drill_policy import PolicyCheck

        t = self.target
        rules = self._demo_rules_or_skip(9, needs_config=True)
        if isinstance(rules, ItemResult):
            return rules
        assert t.fireline and t.token and t.prometheus and t.capture and t.demo_service and t.serve_config
        labels = dict(rules[0]["labels"])
        check = PolicyCheck(fireline=t.fireline, token=t.token, prometheus=t.prometheus,
                            prometheus_headers=t.prometheus_headers, capture=t.capture, demo_service=t.demo_service,
                            serve_config=t.serve_config, service=labels.get("service", ""),
                            slo=labels.get("slo", ""), progress=self.progress)
        try:
            outcome = check.run()
        finally:
            check.close()
        status: Status = "pass" if outcome.status == "pass" else "skip" if outcome.status == "skip" else "fail"
        return self._result(9, status, outcome.details, evidence=outcome.evidence, timings=outcome.timings)

    # ------------------------------------------------------------------------------------ HA

    def item_ha(self) -> ItemResult:
        if len(self.target.alertmanagers) < 2:
            return self._result(8, "skip", ["one Alertmanager: run the stack with --alertmanager-replicas 2"])
        row = self._first_row("page") or self._first_row("ticket")
        if row is None or self.capture is None:
            return self._result(8, "skip", ["needs a capture server and an observable receiver"])
        observable = self._observable(row.receivers)[0]
        details: list[str] = []
        timings: dict[str, float] = {}
        case = self._case(f"{row.name} HA", dict(row.labels), row.receivers)
        wait = self._route_of(case.alert.labels).group_wait.seconds + self._ha_wait() + self.options.margin + 2
        since = time.time()
        self._post([case])
        self._wait(lambda: set(observable) <= set(self._reached(self._deliveries(since), case.token)), wait)
        time.sleep(self._ha_wait() + 2)  # a duplicate from the second replica would come after its peer wait
        reached = self._reached(self._deliveries(since), case.token)
        counts = {r: len(reached.get(r, [])) for r in observable}
        if any(n != 1 for n in counts.values()):
            details.append("with both replicas up, deliveries per receiver: " +
                           ", ".join(f"{r}: {n}" for r, n in counts.items()) + " (want exactly 1)")
        self._post([case], resolved=True)
        if self.target.processes is None:
            status: Status = "fail" if details else "warn"
            details.append("cannot kill a replica outside a stack (--dir): the failover half was not run")
            return self._result(8, status, details)
        killed = self.target.processes.kill("alertmanager-0")
        if not killed:
            details.append("alertmanager-0 was not running, so the failover half could not run")
            return self._result(8, "fail", details)
        try:
            after = self._case(f"{row.name} HA failover", dict(row.labels), row.receivers)
            since = time.time()
            self._post([after])
            failover_wait = wait + self.target.peer_timeout * 2
            self._wait(lambda: set(observable) <= set(self._reached(self._deliveries(since), after.token)),
                       failover_wait)
            got = self._reached(self._deliveries(since), after.token)
            missing = [r for r in observable if r not in got]
            if missing:
                details.append(f"with alertmanager-0 killed, {', '.join(missing)} got nothing within "
                               f"{failover_wait:.0f}s")
            else:
                timings["failover_delivery_seconds"] = round(
                    min(d.received_at for ds in got.values() for d in ds) - since, 2)
            self._post([after], resolved=True)
        finally:
            if self.target.restart_replica is not None:
                self.target.restart_replica(0)
        failed = bool(details)
        if not failed:
            details.append(f"one delivery per receiver with two replicas; with one killed, delivered after "
                           f"{timings['failover_delivery_seconds']:.1f}s; replica restarted")
        return self._result(8, "fail" if failed else "pass", details, timings=timings)


def write_report(report: DrillReport, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(report.to_dict(), indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)  # the UI never reads a half-written file
    return path
