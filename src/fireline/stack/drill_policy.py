"""Drill item 9: the error-budget policy, end to end on a demo stack.

It drives the demo service until the budget of the SLO it feeds (checkout/availability in the
examples) crosses into the first worse tier that freezes feature deploys (the next worse tier when
it is already frozen), then checks:

- the tiers' `on_enter` actions arrived at the capture server exactly once each: posts, pages and
  tickets counted per receiver against what the policy says, after one more engine cycle (a
  repeat would show there), and the declared incident opened once;
- `fireline gate check` refuses a feature deploy (exit 1) and allows a hotfix (exit 0), as the
  tier's `freeze` says;
- an exclusion of the injected interval (reason maintenance, as a planned drill is) brings the
  budget back to within a point of where it was.

How many errors: budget remaining r = 1 - (E/N)/b over the SLO's window (E errors, N events, b the
error budget); adding x failed requests gives r' = 1 - ((E+x)/(N+x))/b, so x = (qN - E)/(1 - q) with
q = (1 - r')b. N comes from the recorded 5m totals over the window (rules.plan), r from the engine.
The tier in force then returns by itself once hysteresis allows (`policy.hysteresis`).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from fireline.clients.prometheus import PrometheusClient, utc_now
from fireline.rules.plan import recorded_counts_queries
from fireline.spec.config import Config
from fireline.spec.errors import SpecError
from fireline.spec.loader import load_config, load_services
from fireline.spec.policy_settings import TEAM_RECEIVER, PolicySettings, PolicyTier
from fireline.stack.clients import CaptureClient, CapturedRequest, format_time, parse_time
from fireline.stack.process import StackError

TRACKER_PREFIX = "tracker-"  # the stack points tracker <name> at /serve/tracker-<name> on the capture server


@dataclass
class Outcome:
    status: str
    details: list[str]
    evidence: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)



def _receivers(config: Config, names: list[str], team: str) -> list[str]:
    """`team` is the owning team's ticket receivers (else default_receiver), as the engine resolves it."""
    out: list[str] = []
    for name in names:
        if name == TEAM_RECEIVER:
            owners = config.teams.get(team)
            out += list(owners.ticket) if owners and owners.ticket else [config.default_receiver or ""]
        else:
            out.append(name)
    return [r for r in out if r]


def _integrations(config: Config, receiver: str, page: bool) -> list[str]:
    from fireline.notify.endpoints import integrations_of

    found = integrations_of(config, receiver)
    if page and "pagerduty" in found:
        return ["pagerduty"]
    return [i for i in found if i != "pagerduty"]


def _policy_notice(request: CapturedRequest, service: str, slo: str, to_tier: str) -> str | None:
    """The integration of a policy notice about this SLO's transition into to_tier (what
    policy/notices.py sends: every action of one transition carries the tier it goes to), else None."""
    data = request.parsed if isinstance(request.parsed, dict) else {}
    if request.path.endswith("/pagerduty/v2/enqueue"):
        body = data.get("payload") or {}
        ok = body.get("class") == "error-budget-policy" and (body.get("source"), body.get("component")) == (
            service, slo) and (body.get("custom_details") or {}).get("to_tier") == to_tier
        return "pagerduty" if ok else None
    if request.path.endswith("/slack"):
        blocks = data.get("blocks") or []
        header = blocks[0].get("text", {}).get("text") if blocks and isinstance(blocks[0], dict) else None
        fields = [f.get("text") for b in blocks if isinstance(b, dict) for f in b.get("fields") or []]
        ok = header == "Error-budget policy" and {f"*Service*\n{service}", f"*SLO*\n{slo}",
                                                   f"*Tier*\n{to_tier}"} <= set(fields)
        return "slack" if ok else None
    if request.path.endswith("/webhook"):
        ok = str(data.get("kind", "")).startswith("policy.") and (
            data.get("service"), data.get("slo"), data.get("to_tier")) == (service, slo, to_tier)
        return "webhook" if ok else None
    return None


class PolicyCheck:
    def __init__(self, *, fireline: str, token: str, prometheus: str, prometheus_headers: dict[str, str],
                 capture: str, demo_service: str, serve_config: Path, service: str, slo: str,
                 progress: Any) -> None:
        self.fireline, self.prometheus, self.capture_url = fireline, prometheus, capture
        self.demo_service, self.serve_config = demo_service, serve_config
        self.service, self.slo = service, slo
        self.token = token
        self.progress = progress
        self.http = httpx.Client(base_url=fireline, headers={"Authorization": f"Bearer {token}"}, timeout=10.0)
        self.prom = PrometheusClient(prometheus, headers=prometheus_headers)
        self.capture = CaptureClient(capture)

    def close(self) -> None:
        self.http.close()
        self.prom.close()
        self.capture.close()

    # --------------------------------------------------------------------------------- readings

    def status(self) -> dict[str, Any] | None:
        response = self.http.get("/api/v1/budget/status")
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return next((s for s in response.json()["slos"] if (s["service"], s["slo"]) == (self.service, self.slo)),
                    {})

    def _wait_status(self, until: Any, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        current = self.status() or {}
        while not until(current) and time.monotonic() < deadline:
            time.sleep(1.0)
            current = self.status() or {}
        return current

    def _events(self, window_seconds: float) -> float:
        from fireline.slo.durations import Duration

        _, events = recorded_counts_queries(self.service, self.slo, Duration.of_seconds(window_seconds))
        found = self.prom.query(events, utc_now())
        return float(found[0].value) if found else 0.0

    # ------------------------------------------------------------------------------------- run

    def run(self) -> Outcome:
        config = load_config(self.serve_config)
        policy = config.policy
        if policy is None:
            return Outcome("skip", ["no `policy:` in fireline.yaml: the error-budget policy engine is off"])
        slo_spec, team = self._spec(config)
        if slo_spec is None:
            return Outcome("skip", [f"the policy engine does not watch {self.service}/{self.slo} "
                                    "(fireline stack up --specs: the specs it reads)"])
        current = self._wait_status(lambda s: bool(s.get("known")), 60)
        if not current.get("known"):
            return Outcome("fail", [f"the policy engine has no budget for {self.service}/{self.slo} after 60s: "
                                    f"{current.get('unknown_reason') or 'never measured'}"])
        tiers = policy.tiers
        now_index = policy.tier_index(current["tier"])
        target_index = self._target(tiers, now_index)
        if target_index is None:
            return Outcome("skip", [f"{self.service}/{self.slo} is in the last tier ({current['tier']}): "
                                    "there is no worse tier to cross"])
        target = tiers[target_index]
        before = float(current["budget_remaining"])
        goal = self._goal(tiers, target_index)
        budget = float(slo_spec.error_budget)
        events = self._events(slo_spec.window.seconds)
        errors = (1 - before) * budget * events
        q = (1 - goal) * budget
        needed = max(1, math.ceil((q * events - errors) / (1 - q)))
        self.progress(f"    {self.service}/{self.slo}: {before:.1%} left (tier {current['tier']}); sending {needed} "
                      f"failing requests to reach {goal:.0%} (tier {target.name})")
        timings: dict[str, float] = {}
        # A transition the engine just made is still being delivered: let it land before counting.
        settle = _epoch(str(current.get("since", ""))) + 5 - time.time()
        if settle > 0:
            time.sleep(settle)
        burst_start = time.time()
        self._burst(needed)
        burst_end = time.time()
        timings["burst_seconds"] = round(burst_end - burst_start, 1)

        moved = self._wait_status(lambda s: s.get("tier") in [t.name for t in tiers[target_index:]]
                                  and bool(s.get("known")), 90)
        details: list[str] = []
        if moved.get("tier") != target.name:
            return Outcome("fail", [f"after {needed} failing requests the tier is {moved.get('tier')!r} "
                                    f"({moved.get('budget_remaining')}), not {target.name} within 90s"],
                           timings=timings)
        timings["tier_seconds"] = round(time.time() - burst_end, 1)
        crossed = tiers[now_index + 1:target_index + 1]
        once, evidence = self._actions_once(config, policy, tiers[now_index], crossed, team, since=burst_start)
        details += once
        details += self._gate(target)
        restored = self._exclude(burst_start, burst_end, before)
        details += restored
        failed = [d for d in details if d.startswith("FAIL ")]
        summary = (f"{needed} failing requests: {before:.1%} -> {float(moved['budget_remaining']):.1%}, tier "
                   f"{current['tier']} -> {target.name} after {timings['tier_seconds']:.0f}s")
        return Outcome("fail" if failed else "pass", [summary, *[d.removeprefix("FAIL ") for d in details]],
                       evidence=evidence, timings=timings)

    def _spec(self, config: Config) -> tuple[Any, str]:
        from fireline.policy.server import spec_paths

        paths = spec_paths(config)
        if not paths:
            return None, ""  # `specs:` empty: the engine watches nothing
        try:
            services = load_services(paths)
        except SpecError as exc:
            raise StackError(f"the specs fireline serve watches do not load: {exc}") from None
        for loaded in services:
            if loaded.spec.name != self.service:
                continue
            for slo in loaded.spec.spec.slos:
                if slo.name == self.slo:
                    return slo, loaded.spec.spec.team
        return None, ""

    @staticmethod
    def _target(tiers: list[PolicyTier], now_index: int) -> int | None:
        """The first worse tier that freezes feature deploys; the next worse one when none does or it is
        already frozen."""
        if now_index + 1 >= len(tiers):
            return None
        for index in range(now_index + 1, len(tiers)):
            if "feature" in tiers[index].freeze and "feature" not in tiers[now_index].freeze:
                return index
        return now_index + 1

    @staticmethod
    def _goal(tiers: list[PolicyTier], index: int) -> float:
        """A budget well inside the tier: the middle of its range, or 5 points under the last boundary."""
        upper = float(tiers[index - 1].min_remaining or 0) / 100
        lower = tiers[index].min_remaining
        return upper - 0.05 if lower is None else (upper + float(lower) / 100) / 2

    def _burst(self, count: int) -> None:
        with httpx.Client(base_url=self.demo_service, timeout=10.0) as demo:
            demo.post("/control", json={"error_rate": 1.0}).raise_for_status()
            try:
                def one(_: int) -> None:
                    demo.get("/api/checkout")

                with ThreadPoolExecutor(max_workers=4) as pool:
                    list(pool.map(one, range(count)))
            finally:
                demo.post("/control", json={"error_rate": 0.0, "latency_seconds": 0.0})

    @staticmethod
    def _expected(config: Config, left: PolicyTier, crossed: list[PolicyTier], team: str
                  ) -> tuple[Counter[tuple[str, str]], int, int]:
        """What the engine plans (policy/actions.py): on_leave of the tier left, on_enter of each tier entered."""
        notices: Counter[tuple[str, str]] = Counter()
        tickets = incidents = 0
        for actions in [left.on_leave, *(tier.on_enter for tier in crossed)]:
            for receiver in _receivers(config, actions.notify, team):
                notices.update((receiver, i) for i in _integrations(config, receiver, page=False))
            for receiver in _receivers(config, actions.page, team):
                notices.update((receiver, i) for i in _integrations(config, receiver, page=True))
            tickets += len(actions.ticket)
            incidents += actions.incident is not None
        return notices, tickets, incidents

    def _observed(self, since: float, to_tier: str) -> tuple[Counter[tuple[str, str]], int]:
        notices: Counter[tuple[str, str]] = Counter()
        tickets = 0
        for request in self.capture.requests(since):
            parts = request.path.split("/")
            if len(parts) < 4 or parts[1] != "serve":
                continue
            if parts[2].startswith(TRACKER_PREFIX):
                body = request.parsed if isinstance(request.parsed, dict) else {}
                tickets += f"{self.service}/{self.slo}" in json.dumps(body)
                continue
            integration = _policy_notice(request, self.service, self.slo, to_tier)
            if integration is not None:
                notices[(parts[2], integration)] += 1
        return notices, tickets

    def _actions_once(self, config: Config, policy: PolicySettings, left: PolicyTier, crossed: list[PolicyTier],
                      team: str, since: float) -> tuple[list[str], dict[str, Any]]:
        want_notices, want_tickets, want_incidents = self._expected(config, left, crossed, team)
        to_tier = crossed[-1].name

        def arrived() -> bool:
            notices, tickets = self._observed(since, to_tier)
            return all(notices[k] >= n for k, n in want_notices.items()) and tickets >= want_tickets

        deadline = time.monotonic() + 30
        while not arrived() and time.monotonic() < deadline:
            time.sleep(0.5)
        # One more engine cycle and outbox round: a repeated action would arrive now.
        measured = (self.status() or {}).get("measured_at")
        self._wait_status(lambda s: s.get("measured_at") != measured, policy.interval.seconds * 2 + 5)
        time.sleep(3.0)
        notices, tickets = self._observed(since, to_tier)
        listed = self.http.get("/api/v1/incidents")
        listed.raise_for_status()
        # The engine declares incidents through intake as alertname ErrorBudgetPolicy; the title says budget.
        opened = [i for i in listed.json() if i.get("service") == self.service
                  and "budget" in str(i.get("title", "")).lower() and _epoch(str(i.get("opened_at", ""))) >= since - 1]
        details: list[str] = []
        tiers = f"leaving {left.name}, entering " + ", ".join(t.name for t in crossed)
        if notices == want_notices and tickets == want_tickets and len(opened) == want_incidents:
            posted = ", ".join(f"{r} ({i})" + (f" x{n}" if n > 1 else "") for (r, i), n in sorted(notices.items()))
            details.append(f"{tiers}: {posted or 'no posts or pages'}"
                           + (f", {tickets} ticket(s)" if tickets else "")
                           + (f", {len(opened)} incident(s)" if opened else "")
                           + ": what the tiers' actions plan, none repeated after another cycle")
        else:
            details.append(f"FAIL {tiers}: expected posts/pages {dict(want_notices)}, {want_tickets} "
                           f"ticket(s), {want_incidents} incident(s); arrived {dict(notices)}, {tickets} ticket(s), "
                           f"{len(opened)} incident(s)")
        evidence = {"expected": {f"{r}/{i}": n for (r, i), n in want_notices.items()},
                    "arrived": {f"{r}/{i}": n for (r, i), n in notices.items()}, "tickets": tickets,
                    "incidents": [i.get("id") for i in opened]}
        return details, evidence

    def _gate(self, tier: PolicyTier) -> list[str]:
        """`fireline gate check`, run as a pipeline runs it: exit 1 refused, 0 allowed."""
        from fireline.policy.commands import SERVER_ENV, TOKEN_ENV

        out = []
        env = {**os.environ, SERVER_ENV: self.fireline, TOKEN_ENV: self.token}
        for change, frozen in (("feature", "feature" in tier.freeze), ("hotfix", "hotfix" in tier.freeze)):
            run = subprocess.run([sys.executable, "-c", "from fireline.cli import main; main()", "gate", "check",
                                  "--service", self.service, "--change", change],
                                 capture_output=True, text=True, check=False, timeout=60, env=env)
            want = 1 if frozen else 0
            verdict = {0: "allows", 1: "refuses"}.get(run.returncode, f"exits {run.returncode} on")
            line = f"`fireline gate check` {verdict} a {change} deploy of {self.service} (exit {run.returncode})"
            out.append(line if run.returncode == want else
                       f"FAIL {line}: tier {tier.name} says {'refuse' if frozen else 'allow'}; "
                       f"{(run.stdout + run.stderr).strip()[:200]}")
        return out

    def _exclude(self, start: float, end: float, before: float) -> list[str]:
        # The last failing requests are scraped within a scrape interval; exclude up to after that.
        time.sleep(max(0.0, end + 6 - time.time()))
        response = self.http.post("/api/v1/budget/exclusions", json={
            "service": self.service, "slo": self.slo, "start": format_time(start - 2), "end": format_time(time.time()),
            "reason": "maintenance", "approved_by": "fireline drill",
            "note": "errors injected by `fireline drill` (item 9) to cross a policy tier"})
        if response.status_code >= 300:
            return [f"FAIL the exclusion was refused: HTTP {response.status_code} {response.text[:200]}"]
        exclusion = response.json().get("id")
        after = self._wait_status(lambda s: s.get("known") and float(s.get("budget_remaining", 0)) >= before - 0.01, 60)
        value = float(after.get("budget_remaining") or 0)
        line = (f"exclusion #{exclusion} of the injected interval: budget back to {value:.1%} "
                f"(was {before:.1%}); the tier returns once hysteresis allows")
        return [line if value >= before - 0.01 else f"FAIL {line.split(';')[0]}, not within a point of it in 60s"]


def _epoch(text: str) -> float:
    try:
        return parse_time(text).timestamp()
    except ValueError:
        return 0.0
