"""`fireline stack up --history 30d`: the example services' last 30 days, with a story, in the stack's TSDB.

A stack starts from empty data, so every budget would be "unknown" and every chart empty until
weeks had passed. With --history, before Prometheus starts, the demo service's own series
(demo_service.py: same names, same labels, same rates) are written for the days before now and
the recordings that fireline's long windows read are backfilled from them, so the first page of
the UI shows budgets, tiers and burn-downs that mean something:

    checkout/availability   an incident nine days ago spent most of the budget: about 20% is
                            left, the `critical` tier, feature deploys frozen
    checkout/latency        a steady trickle of slow requests: about 65% left (`caution`)
    search/availability     healthy (about 90% left) because a maintenance window sixteen days
                            ago, which would have cost a quarter of the budget, is excluded
                            (the exclusion is posted to fireline serve when the policy engine runs)
    myservice/...           healthy, about 80% left

The shares of failing requests are solved from the SLOs' objectives and windows as the specs give
them, so the story holds when an example's objective changes. Each number above is the budget at
the end of the history; the live traffic after it (no errors unless a drill injects them) moves
it only slightly.

How (docs/drill.md, "History with a story"):

1. raw counters over twice the span (one sample a minute over the span, every five minutes before
   it), as OpenMetrics, into `promtool tsdb create-blocks-from openmetrics` in the stack's data
   directory;
2. a Prometheus on that directory (no scrapes, no rules) answers `promtool tsdb
   create-blocks-from rules` (two side by side) for the bundle's own recording rules of the 5m
   rates (rules.plan.history_recordings), at the stack's evaluation interval: the long windows
   sum those recordings sample by sample, so the history must weigh the same per minute as what
   the stack records live (at 30s a minute of drill errors would count six times); with them, the
   hourly tier that the 1d, 3d and 30d windows read (the hour counts and the 5m rates by hour
   parity), from the raw counters (hourly_backfill_rules);
3. the budget series hourly over the span from the raw counters over a whole window (budget_rules),
   for the SLO page's burn-down;
4. the stack's Prometheus starts on the directory (retention long enough to keep it).

numpy is imported here, and this module only by `stack up --history`.
"""

from __future__ import annotations

import math
import operator
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from ruamel.yaml import YAML

from fireline.rules.plan import (
    BUDGET_GROUP_INTERVAL,
    BUDGET_REMAINING,
    HOURLY_BACKFILL_STEP,
    budget_remaining_raw_query,
    history_recordings,
    hour_parity_raw_queries,
    hourly_count_raw_queries,
)
from fireline.slo.durations import Duration
from fireline.spec.loader import load_services
from fireline.stack.clients import format_time
from fireline.stack.demo_service import CHECKOUT, LATENCY_BUCKETS, MYSERVICE, MYSERVICE_BUCKETS, SEARCH
from fireline.stack.process import LOOPBACK, StackError, free_port, http_ok
from fireline.yamlout import dump_yaml

STEP_SECONDS = 60  # raw samples over the recorded span: one a minute is plenty for 5m rates
OLD_STEP_SECONDS = 300  # before it, read only over whole windows by the hourly budgets
DAY = 86400
SEED = 20261203
# Share of the rules backfill's range queries: Prometheus answers at most 11,000 points per query.
_MAX_POINTS = 10_000


@dataclass(frozen=True)
class Episode:
    """A stretch of the story: `minutes` long from `hour` UTC of the day `days_ago` before the end."""

    days_ago: int
    hour: float
    minutes: int
    note: str

    def span(self, end: int) -> tuple[int, int]:
        day = (end // DAY - self.days_ago) * DAY
        start = day + int(self.hour * 3600)
        return start, start + self.minutes * 60


@dataclass(frozen=True)
class Chapter:
    """One SLO's part of the story: the budget left at the end, and how it was spent."""

    service: str
    slo: str
    remaining: float  # budget remaining at the end of the history (0..1)
    episode: Episode | None = None  # where most of the spending happened; else spread evenly
    episode_spends: float = 0.0  # share of the budget the episode spends
    excluded: bool = False  # the episode is excluded from the budget (a pre-approved maintenance)


INCIDENT = Episode(days_ago=9, hour=14.1, minutes=40, note="checkout outage: payment provider timeouts")
MAINTENANCE = Episode(days_ago=16, hour=2.0, minutes=90, note="search index migration (pre-approved maintenance)")
STORY = (
    Chapter("checkout", "availability", remaining=0.20, episode=INCIDENT, episode_spends=0.75),
    Chapter("checkout", "latency", remaining=0.65),
    Chapter("search", "availability", remaining=0.90, episode=MAINTENANCE, episode_spends=0.25, excluded=True),
    Chapter("myservice", "requests-availability", remaining=0.82),
)


@dataclass
class Series:
    name: str
    labels: dict[str, str]
    values: np.ndarray  # cumulative, one per timestamp

    def prefix(self) -> str:
        text = ",".join(f'{k}="{v}"' for k, v in sorted(self.labels.items()))
        return f"{self.name}{{{text}}} "


@dataclass
class Family:
    name: str
    kind: str  # counter or histogram
    series: list[Series] = field(default_factory=list)


@dataclass
class History:
    start: int  # first raw sample
    end: int
    families: list[Family]
    exclusions: list[dict[str, str]]
    budgets: dict[tuple[str, str], float]  # what the story planned, for the stack's summary and tests
    timestamps: np.ndarray  # of every series' samples
    days: float = 30.0  # the recorded span: the 5m recordings and the hourly budgets cover [end - days, end]

    @property
    def recorded_start(self) -> int:
        # A little before the window, so that the window's start is covered
        return self.end - int(self.days * DAY) - 600

    @property
    def samples(self) -> int:
        return sum(len(s.values) for f in self.families for s in f.series)


@dataclass(frozen=True)
class Objective:
    budget: float  # error budget share (1 - objective)
    window: float  # seconds
    time_weighted: bool  # a `ratio` SLI: its budget is the time average of the 5m ratio, not events


def _objectives(specs: list[Path]) -> dict[tuple[str, str], Objective]:
    """(service, slo) -> its budget and window, as the specs say."""
    out: dict[tuple[str, str], Objective] = {}
    for loaded in load_services(specs):
        for slo in loaded.spec.spec.slos:
            out[(loaded.spec.name, slo.name)] = Objective(float(slo.error_budget), slo.window.seconds,
                                                          slo.sli.ratio is not None)
    return out


def _traffic(ts: np.ndarray, steps: np.ndarray, rps: float, rng: np.random.Generator) -> np.ndarray:
    """Requests in the step ending at each sample: a day's cycle peaking at 14:00 UTC, a little noise."""
    hours = (ts % DAY) / 3600
    cycle = 1 + 0.3 * np.sin(2 * np.pi * (hours - 8) / 24)
    noise = rng.normal(1.0, 0.04, len(ts)).clip(0.8, 1.2)
    return np.asarray(rps * steps * cycle * noise)


def _bad_shares(ts: np.ndarray, steps: np.ndarray, requests: np.ndarray, chapter: Chapter, objective: Objective,
                end: int) -> np.ndarray:
    """Per-step share of bad requests so that the budget left at `end` is the chapter's.

    Event-based SLIs spend the budget per request; a `ratio` SLI per unit of time (each step's
    ratio counts the same, busy or quiet), so its steps weigh alike."""
    budget = objective.budget
    requests = steps if objective.time_weighted else requests
    in_window = ts > end - objective.window
    events = float(requests[in_window].sum())
    allowed = budget * events
    shares = np.zeros(len(ts))
    episode_mask = np.zeros(len(ts), dtype=bool)
    if chapter.episode is not None:
        lo, hi = chapter.episode.span(end)
        episode_mask = (ts > lo) & (ts <= hi)
        episode_events = float(requests[episode_mask].sum())
        shares[episode_mask] = min(1.0, chapter.episode_spends * allowed / max(episode_events, 1.0))
    spent_outside = (1 - chapter.remaining) - (0.0 if chapter.excluded else chapter.episode_spends)
    if chapter.excluded:
        # The excluded interval leaves both sides of the ratio: the rest must spend it all.
        allowed = budget * float(requests[in_window & ~episode_mask].sum())
        spent_outside = 1 - chapter.remaining
    rest = ~episode_mask
    shares[rest] = max(0.0, spent_outside) * allowed / max(float(requests[in_window & rest].sum()), 1.0)
    return shares


def _cumulative(per_step: np.ndarray) -> np.ndarray:
    """Whole counts, rounded on the running total so that no request is lost to rounding."""
    return np.asarray(np.rint(np.cumsum(per_step)))


def _histogram(name: str, labels: dict[str, str], fast: np.ndarray, slow: np.ndarray,
               buckets: tuple[float, ...], threshold: float) -> list[Series]:
    """Cumulative buckets: fast requests spread below the threshold, slow ones above it."""
    fast_c, slow_c = np.cumsum(fast), np.cumsum(slow)
    below = [b for b in buckets if b <= threshold]
    above = [b for b in buckets if b > threshold]
    out = []
    for i, le in enumerate(below):
        share = 1.0 if le == below[-1] else 1 - 0.5 ** (i + 1)
        out.append(Series(f"{name}_bucket", {**labels, "le": f"{le:g}"}, np.rint(fast_c * share)))
    for i, le in enumerate(above):
        share = 1.0 if le == above[-1] else 1 - 0.5 ** (i + 1)
        out.append(Series(f"{name}_bucket", {**labels, "le": f"{le:g}"}, np.rint(fast_c + slow_c * share)))
    total = np.rint(fast_c + slow_c)
    out.append(Series(f"{name}_bucket", {**labels, "le": "+Inf"}, total))
    out.append(Series(f"{name}_count", labels, total))
    out.append(Series(f"{name}_sum", labels, np.round(fast_c * 0.02 + slow_c * 0.9, 3)))
    return out


def synthesise(specs: list[Path], *, end: int, days: float, rps: float, instance: str) -> History:
    """The story's series over [end - 2 x days, end], for demo service traffic of `rps` (checkout).

    Twice the span: the hourly budgets of the burn-down read the raw counters over a whole window
    back from each point (budget_rules); the 5m recordings cover the last `days` (recorded_start)."""
    objectives = _objectives(specs)
    start = end - int(2 * days * DAY) - 600
    fine = end - int(days * DAY) - 3600  # an hour before the recorded span: its first 5m rates read back
    fine -= fine % STEP_SECONDS
    ts = np.concatenate([np.arange(start - start % OLD_STEP_SECONDS, fine, OLD_STEP_SECONDS, dtype=np.int64),
                         np.arange(fine, end + 1, STEP_SECONDS, dtype=np.int64)])
    steps = np.diff(ts, prepend=ts[0] - OLD_STEP_SECONDS).astype(float)
    rng = np.random.default_rng(SEED)
    budgets: dict[tuple[str, str], float] = {}

    def shares(service: str, slo: str, requests: np.ndarray) -> np.ndarray:
        chapter = next((c for c in STORY if (c.service, c.slo) == (service, slo)), None)
        if chapter is None or (service, slo) not in objectives:
            return np.zeros(len(ts))
        budgets[(service, slo)] = chapter.remaining
        return _bad_shares(ts, steps, requests, chapter, objectives[(service, slo)], end)

    families = []
    # checkout: requests by code, and the latency histogram (the latency SLO's threshold: 0.5 s)
    base = {"job": CHECKOUT.job, "instance": instance}
    n = _traffic(ts, steps, rps * CHECKOUT.traffic_share, rng)
    errors = n * shares("checkout", "availability", n)
    slow = n * shares("checkout", "latency", n)
    families.append(Family("http_requests", "counter", [
        Series("http_requests_total", {**base, "code": "200"}, _cumulative(n - errors)),
        Series("http_requests_total", {**base, "code": "500"}, _cumulative(errors))]))
    families.append(Family("http_request_duration_seconds", "histogram",
                           _histogram("http_request_duration_seconds", base, n - slow, slow, LATENCY_BUCKETS, 0.5)))
    # search: queries and failed queries
    base = {"job": SEARCH.job, "instance": instance}
    n = _traffic(ts, steps, rps * SEARCH.traffic_share, rng)
    failed = n * shares("search", "availability", n)
    families.append(Family("search_requests", "counter",
                           [Series("search_requests_total", base, _cumulative(n))]))
    families.append(Family("search_requests_failed", "counter",
                           [Series("search_requests_failed_total", base, _cumulative(failed))]))
    # myservice: a histogram by code; its SLO counts 5xx and 429 as errors
    base = {"job": MYSERVICE.job, "instance": instance}
    n = _traffic(ts, steps, rps * MYSERVICE.traffic_share, rng)
    bad = n * shares("myservice", "requests-availability", n)
    by_code = {"200": n - bad, "500": bad * 2 / 3, "429": bad / 3}
    family = Family("http_request_duration_seconds", "histogram")
    for code, count in by_code.items():
        family.series += _histogram("http_request_duration_seconds", {**base, "code": code}, count,
                                    np.zeros(len(ts)), MYSERVICE_BUCKETS, MYSERVICE_BUCKETS[-1])
    families.append(family)

    exclusions = []
    for chapter in STORY:
        if chapter.excluded and chapter.episode is not None and (chapter.service, chapter.slo) in objectives:
            lo, hi = chapter.episode.span(end)
            exclusions.append({
                "service": chapter.service, "slo": chapter.slo, "start": format_time(lo), "end": format_time(hi),
                "reason": "maintenance", "approved_by": "demo", "note": chapter.episode.note})
    return History(start=int(ts[0]), end=int(ts[-1]), families=families, exclusions=exclusions, budgets=budgets,
                   timestamps=ts, days=days)



def write_openmetrics(path: Path, history: History) -> None:
    """Every series in timestamp order, one after another (what promtool's importer wants)."""
    suffix = [f" {t}\n" for t in history.timestamps.tolist()]
    with path.open("w", encoding="ascii", buffering=1 << 22) as out:
        # A family's samples may come in any order, but its TYPE line once, before them.
        seen: set[str] = set()
        for family in history.families:
            if family.name not in seen:
                out.write(f"# TYPE {family.name} {family.kind}\n")
                seen.add(family.name)
            for series in family.series:
                prefix = series.prefix()
                values = [f"{v:g}" for v in series.values.tolist()]
                out.write("".join(map(operator.add, map(prefix.__add__, values), suffix)))
        out.write("# EOF\n")


def backfill_rules(rule_files: list[Path], interval: str, parts: int) -> list[dict[str, Any]]:
    """The bundle's recording rules of history_recordings() that read raw series, as `parts` rule
    files for promtool (run side by side: the cost is one evaluation per rule and step).

    Those that read other recordings (the 5m error ratio of event-based SLIs, errors / total) are
    left out: promtool evaluates against a Prometheus that has only the raw series, and a second
    pass would cost as much again. Without them the policy engine reads the budget from the raw
    counters until the recordings cover the window (docs/policy.md); every rule reads the
    backfilled errors and totals.
    """
    wanted = history_recordings()
    groups: list[dict[str, Any]] = []
    for path in rule_files:
        data = YAML(typ="safe").load(path.read_text(encoding="utf-8")) or {}
        for group in data.get("groups") or []:
            for rule in group.get("rules") or []:
                if rule.get("record") in wanted and not any(name in str(rule["expr"]) for name in wanted):
                    groups.append({"name": f"{group['name']}:{len(groups)}", "interval": interval,
                                   "rules": [rule]})
    files = [{"groups": groups[i::parts]} for i in range(parts)]
    return [f for f in files if f["groups"]]


def hourly_backfill_rules(rule_files: list[Path], specs: list[Path]) -> list[dict[str, Any]]:
    """The hourly tier of every SLO that has one (rules.plan, Source.HOURLY), computed from the raw
    counters instead of the 5m recordings (which promtool's source Prometheus does not have): the 5m
    rates by hour parity every 5m, the hour counts at the budget group's interval, whose first
    evaluation in each hour records the hour before. Same series and labels as the bundle's rules."""
    labels: dict[tuple[str, str, str], dict[str, Any]] = {}
    for path in rule_files:
        data = YAML(typ="safe").load(path.read_text(encoding="utf-8")) or {}
        for group in data.get("groups") or []:
            for rule in group.get("rules") or []:
                found = rule.get("labels") or {}
                if "record" in rule:
                    labels[(rule["record"], str(found.get("service")), str(found.get("slo")))] = found
    groups = []
    for loaded in load_services(specs):
        for slo in loaded.spec.spec.slos:
            for queries, every in ((hour_parity_raw_queries(slo), str(HOURLY_BACKFILL_STEP)),
                                   (hourly_count_raw_queries(slo), str(BUDGET_GROUP_INTERVAL))):
                for record, expr in queries or ():
                    found = labels.get((record, loaded.spec.name, slo.name))
                    if found is not None:
                        groups.append({"name": f"{loaded.spec.name}:{slo.name}:{record}", "interval": every,
                                       "rules": [{"record": record, "expr": expr, "labels": found}]})
    return groups


BUDGET_INTERVAL = "1h"  # the burn-down's points: under the UI chart's step for a 28d or 30d window


def budget_rules(rule_files: list[Path], specs: list[Path]) -> list[dict[str, Any]]:
    """The bundle's budget-remaining rules (same series, same labels) with the budget computed from
    the raw counters over the window (rules.plan.budget_remaining_raw_query), for promtool.

    The bundle's own rule reads the window ratio, which reads the 5m recordings over the whole window:
    backfilled, those would be right only where the recordings cover a whole window before the point.
    The raw counters go back twice the history's span, so every hourly point of the burn-down has
    its whole window. `ratio` SLIs are left out (their budget is a time average of the 5m ratio):
    their chart fills from the stack's start.
    """
    slos = {(loaded.spec.name, slo.name): slo for loaded in load_services(specs) for slo in loaded.spec.spec.slos}
    groups = []
    for path in rule_files:
        data = YAML(typ="safe").load(path.read_text(encoding="utf-8")) or {}
        for group in data.get("groups") or []:
            for rule in group.get("rules") or []:
                labels = rule.get("labels") or {}
                slo = slos.get((str(labels.get("service")), str(labels.get("slo"))))
                if rule.get("record") != BUDGET_REMAINING or slo is None:
                    continue
                expr = budget_remaining_raw_query(slo)
                if expr is not None:
                    groups.append({"name": f"{group['name']}:history", "interval": BUDGET_INTERVAL,
                                   "rules": [{"record": BUDGET_REMAINING, "expr": expr, "labels": labels}]})
    return [{"groups": groups}] if groups else []


@contextmanager
def _source_prometheus(binary: str, data_dir: Path, work: Path, retention_days: int) -> Iterator[str]:
    """A Prometheus that only answers queries on data_dir (what promtool backfills rules from)."""
    port = free_port()
    config = work / "source.yml"
    config.write_text("global: {}\n", encoding="utf-8")
    with (work / "source-prometheus.log").open("ab") as log:
        proc = subprocess.Popen([
            binary, f"--config.file={config}", f"--storage.tsdb.path={data_dir}",
            f"--web.listen-address={LOOPBACK}:{port}", f"--storage.tsdb.retention.time={retention_days}d"],
            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://{LOOPBACK}:{port}"
    try:
        deadline = time.monotonic() + 60
        while not _ready(url):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise StackError(f"the history's source Prometheus did not start; see {work}/source-prometheus.log")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _ready(url: str) -> bool:
    try:
        return http_ok(f"{url}/-/ready")
    except httpx.HTTPError:  # not listening yet
        return False


def _run(argv: list[str], log: Path, what: str) -> None:
    with log.open("ab") as out:
        done = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, check=False)
    if done.returncode != 0:
        tail = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-5:]
        raise StackError(f"{what} failed (exit {done.returncode}); {log}:\n" + "\n".join(tail))


def _move_blocks(source: Path, data_dir: Path) -> int:
    moved = 0
    for block in sorted(p for p in source.iterdir() if p.is_dir()):
        shutil.move(str(block), str(data_dir / block.name))
        moved += 1
    return moved


@dataclass
class Written:
    history: History
    seconds: dict[str, float]
    blocks: int


def retention_days(days: float) -> int:
    """Prometheus' retention that keeps the whole history (raw counters go back twice the span)."""
    return math.ceil(2 * days) + 5


def story_until_now(specs: list[Path], *, days: float, rps: float, instance: str) -> History:
    """The story ending a step before now: the stack's own scrapes take over from there."""
    return synthesise(specs, end=int(time.time()) - STEP_SECONDS, days=days, rps=rps, instance=instance)


def write_history(history: History, *, specs: list[Path], rule_files: list[Path], data_dir: Path, work: Path,
                  days: float, evaluation_interval: str, prometheus: str, promtool: str) -> Written:
    """Steps 1 and 2 of the module's docstring; returns what was written and how long each step took."""
    if shutil.which(promtool) is None and not Path(promtool).exists():
        raise StackError(f"{promtool} not found: --history needs promtool (Debian package prometheus)")
    work.mkdir(parents=True, exist_ok=True)
    data_dir.mkdir(parents=True, exist_ok=True)
    seconds: dict[str, float] = {}
    t = time.monotonic()
    raw = work / "history.om"
    write_openmetrics(raw, history)
    seconds["openmetrics"] = time.monotonic() - t

    t = time.monotonic()
    hours = math.ceil(2 * days * 24) + 24
    _run([promtool, "tsdb", "create-blocks-from", "openmetrics", f"--max-block-duration={hours}h", "--quiet",
          str(raw), str(data_dir)], work / "import.log", "promtool tsdb create-blocks-from openmetrics")
    raw.unlink()
    seconds["import"] = time.monotonic() - t

    t = time.monotonic()
    step = Duration.parse(evaluation_interval).seconds
    # Blocks of whole hours whose range query stays under Prometheus' points limit.
    block_hours = max(1, min(72, int(_MAX_POINTS * step // 3600)))
    blocks = 0
    with _source_prometheus(prometheus, data_dir, work, retention_days(days)) as url:
        running = []
        parts = backfill_rules(rule_files, evaluation_interval, parts=2)
        hourly = hourly_backfill_rules(rule_files, specs)
        for i, part in enumerate(parts):
            part["groups"].extend(hourly[i::len(parts)])
        for i, rules in enumerate(parts, start=1):
            rules_file = work / f"backfill-{i}.yml"
            rules_file.write_text(dump_yaml(rules, header="The bundle's 5m recordings, for the history's backfill."),
                                  encoding="utf-8")
            out = work / f"backfill-{i}"
            shutil.rmtree(out, ignore_errors=True)
            out.mkdir()
            log = work / f"backfill-{i}.log"
            with log.open("ab") as sink:
                running.append((out, log, subprocess.Popen(
                    [promtool, "tsdb", "create-blocks-from", "rules", f"--start={history.recorded_start}",
                     f"--end={history.end}", f"--url={url}", f"--eval-interval={evaluation_interval}",
                     f"--output-dir={out}", f"--max-block-duration={block_hours}h", "--quiet", str(rules_file)],
                    stdout=sink, stderr=subprocess.STDOUT)))
        failed = [(log, proc.returncode) for _, log, proc in running if proc.wait() != 0]
        if failed:
            log, code = failed[0]
            tail = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-5:]
            raise StackError(f"promtool tsdb create-blocks-from rules failed (exit {code}); {log}:\n"
                             + "\n".join(tail))
    for out, _, _ in running:
        blocks += _move_blocks(out, data_dir)
    seconds["recordings"] = time.monotonic() - t

    # The burn-down: the budget series hourly, from the 5m recordings just written (a Prometheus
    # that has them answers).
    t = time.monotonic()
    for rules in budget_rules(rule_files, specs):
        rules_file = work / "backfill-budget.yml"
        rules_file.write_text(dump_yaml(rules, header="The bundle's budget rules, window ratio inlined."),
                              encoding="utf-8")
        out = work / "backfill-budget"
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir()
        with _source_prometheus(prometheus, data_dir, work, retention_days(days)) as url:
            _run([promtool, "tsdb", "create-blocks-from", "rules", f"--start={history.end - int(days * DAY)}",
                  f"--end={history.end}", f"--url={url}", f"--eval-interval={BUDGET_INTERVAL}",
                  f"--output-dir={out}", f"--max-block-duration={math.ceil(days) * 24 + 24}h", "--quiet",
                  str(rules_file)], work / "backfill-budget.log", "promtool tsdb create-blocks-from rules (budget)")
        blocks += _move_blocks(out, data_dir)
    seconds["budget"] = time.monotonic() - t
    return Written(history=history, seconds=seconds, blocks=blocks)
