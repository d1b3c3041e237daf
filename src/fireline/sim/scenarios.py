"""Synthetic incidents: `KIND:key=value,...` turned into scraped counters with a known ground truth.

Time zero is the start of the history. Before the incident (default: a clean history as long as
the longest window of the policies compared, so every window starts clean) and after it, errors
run at `baseline` (default 0). Traffic and error rates are constant within each scrape interval.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

import numpy as np

from fireline.sim.errors import SimInputError
from fireline.sim.history import Incident, SLIHistory
from fireline.sim.promql import FloatArray, IntArray
from fireline.slo.durations import Duration, DurationError

DAY_MS = 86_400_000
DAY_START_HOUR, DAY_END_HOUR = 8, 20  # diurnal: "day" traffic between 08:00 and 20:00

COMMON_KEYS: dict[str, str] = {
    "rps": "rate",
    "start": "duration",
    "duration": "duration",
    "seed": "int",
    "baseline": "rate",
    "restart_every": "duration",
    "gap_every": "duration",
    "gap_length": "duration",
}
KIND_KEYS: dict[str, dict[str, str]] = {
    "constant": {"error_rate": "ratio"},
    "outage": {},
    "spikes": {"error_rate": "ratio", "length": "duration", "every": "duration"},
    "diurnal": {"day_rps": "rate", "night_rps": "rate", "day_error_rate": "ratio", "night_error_rate": "ratio"},
    "low-traffic": {"error_rate": "ratio"},
    "ramp": {"error_rate": "ratio", "over": "duration"},
}
DEFAULTS: dict[str, dict[str, float | Duration]] = {
    "constant": {},
    "outage": {},
    "spikes": {"error_rate": 1.0, "length": Duration.parse("5m"), "every": Duration.parse("10m")},
    "diurnal": {"day_rps": 20.0, "night_rps": 2.0, "day_error_rate": 0.005, "night_error_rate": 0.05},
    "low-traffic": {"rps": 0.05, "error_rate": 0.1},
    "ramp": {"error_rate": 0.1, "over": Duration.parse("6h")},
}
REQUIRED = {"constant": ("error_rate",)}


@dataclass(frozen=True)
class TrafficPreset:
    """A low-traffic case to compare the plain multi-window policy with the guarded one (`--preset`)."""

    scenario: str
    duration: str
    about: str


# Seeded Poisson traffic, so every run of a preset sees the same requests (docs/simulate.md's table).
TRAFFIC_PRESETS = {
    "low-traffic": TrafficPreset("low-traffic:rps=0.005556,error_rate=0.05,seed=2,start=1h,duration=6h", "12h",
                                 "20 requests an hour, 1 in 20 failing for 6h"),
    "bursty": TrafficPreset("low-traffic:rps=0.0016667,error_rate=0.5,seed=1,start=1h,duration=6h", "12h",
                            "six requests an hour, half of them failing for 6h"),
    "trickle": TrafficPreset("low-traffic:rps=0.005556,error_rate=0.25,seed=3,start=1h,duration=12h", "24h",
                             "20 requests an hour, a quarter failing for 12h"),
}


@dataclass(frozen=True)
class Scenario:
    kind: str
    values: dict[str, float | Duration] = field(default_factory=dict)
    text: str = ""

    def number(self, key: str, default: float = 0.0) -> float:
        value = self.values.get(key, DEFAULTS[self.kind].get(key, default))
        assert not isinstance(value, Duration), key
        return float(value)

    def duration(self, key: str) -> Duration | None:
        value = self.values.get(key, DEFAULTS[self.kind].get(key))
        assert value is None or isinstance(value, Duration), key
        return value

    @property
    def seed(self) -> int:
        return int(self.number("seed"))


def _parse_value(kind: str, key: str, text: str, type_name: str) -> float | Duration:
    where = f"scenario {kind}: {key}={text}"
    if type_name == "duration":
        try:
            return Duration.parse(text)
        except DurationError as exc:
            raise SimInputError(f"{where}: {exc}") from None
    try:
        value = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        raise SimInputError(f"{where}: expected a number (e.g. 0.02 or 2%)") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise SimInputError(f"{where}: expected a finite number")
    if type_name == "int":
        if value != int(value) or value < 0:
            raise SimInputError(f"{where}: expected a whole number >= 0")
        return value
    if value < 0:
        raise SimInputError(f"{where}: must not be negative")
    if type_name == "ratio" and value > 1:
        raise SimInputError(f"{where}: an error rate is a fraction between 0 and 1 (or a percentage such as 2%)")
    return value


def parse_scenario(text: str) -> Scenario:
    """`constant:error_rate=0.02,rps=50`, `outage:duration=20m`, `spikes:length=5m,every=10m`..."""
    kind, _, rest = text.strip().partition(":")
    kind = kind.strip()
    if kind not in KIND_KEYS:
        close = difflib.get_close_matches(kind, KIND_KEYS, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise SimInputError(f"unknown scenario kind {kind!r}{hint}: use one of {', '.join(KIND_KEYS)}")
    allowed = {**COMMON_KEYS, **KIND_KEYS[kind]}
    values: dict[str, float | Duration] = {}
    for item in (part.strip() for part in rest.split(",")):
        if not item:
            continue
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not raw.strip():
            raise SimInputError(f"scenario {kind}: {item!r} is not key=value (e.g. {kind}:rps=50)")
        if key not in allowed:
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise SimInputError(f"scenario {kind}: unknown key {key!r}{hint}; keys: {', '.join(sorted(allowed))}")
        if key in values:
            raise SimInputError(f"scenario {kind}: {key} given twice")
        values[key] = _parse_value(kind, key, raw.strip(), allowed[key])
    for key in REQUIRED.get(kind, ()):
        if key not in values:
            raise SimInputError(f"scenario {kind} needs {key} (e.g. {kind}:{key}=0.02)")
    for key in ("length", "every", "over", "restart_every", "gap_every"):
        value = values.get(key)
        if isinstance(value, Duration) and value.milliseconds == 0:
            raise SimInputError(f"scenario {kind}: {key} must be longer than 0s")
    spikes = {**DEFAULTS[kind], **values}
    if kind == "spikes" and spikes["length"] > spikes["every"]:
        raise SimInputError(f"scenario spikes: length {spikes['length']} is longer than every {spikes['every']}")
    if "gap_length" in values and "gap_every" not in values:
        raise SimInputError(f"scenario {kind}: gap_length needs gap_every (how often scrapes fail)")
    return Scenario(kind, values, text.strip())


@dataclass(frozen=True)
class Timeline:
    start_ms: int  # incident start
    end_ms: int | None  # incident end (None: lasts to the end of the history)
    history_end_ms: int


def timeline(scenario: Scenario, clean_history: Duration, simulate_for: Duration) -> Timeline:
    start = scenario.duration("start") or clean_history
    history_end = start.milliseconds + simulate_for.milliseconds
    length = scenario.duration("duration")
    end = None if length is None else start.milliseconds + length.milliseconds
    if end is not None and end >= history_end:
        end = None
    return Timeline(start.milliseconds, end, history_end)


def _in_incident(t: IntArray, line: Timeline) -> FloatArray:
    inside = t >= line.start_ms
    if line.end_ms is not None:
        inside &= t < line.end_ms
    return inside.astype(np.float64)


def _is_day(t: IntArray) -> FloatArray:
    hour = (t % DAY_MS) // 3_600_000
    return ((hour >= DAY_START_HOUR) & (hour < DAY_END_HOUR)).astype(np.float64)


def _rates(scenario: Scenario, t: IntArray, line: Timeline) -> tuple[FloatArray, FloatArray]:
    """Requests per second and error ratio in force at each time."""
    rps = np.full(t.shape, scenario.number("rps", 10.0))
    baseline = scenario.number("baseline")
    since = (t - line.start_ms).astype(np.float64)
    kind = scenario.kind
    if kind == "constant" or kind == "low-traffic":
        during = np.full(t.shape, scenario.number("error_rate"))
    elif kind == "outage":
        during = np.ones(t.shape)
    elif kind == "spikes":
        length, every = scenario.duration("length"), scenario.duration("every")
        assert length is not None and every is not None
        spiking = (since % every.milliseconds) < length.milliseconds
        during = np.where(spiking, scenario.number("error_rate"), baseline)
    elif kind == "diurnal":
        day = _is_day(t)
        rps = np.where(day > 0, scenario.number("day_rps"), scenario.number("night_rps"))
        during = np.where(day > 0, scenario.number("day_error_rate"), scenario.number("night_error_rate"))
    elif kind == "ramp":
        over = scenario.duration("over")
        assert over is not None
        top = scenario.number("error_rate")
        during = baseline + (top - baseline) * np.clip(since / over.milliseconds, 0.0, 1.0)
    else:  # parse_scenario only admits the kinds above
        raise SimInputError(f"unknown scenario kind {kind!r}")
    inside = _in_incident(t, line)
    return rps, inside * during + (1 - inside) * baseline


def build_history(
    scenario: Scenario,
    *,
    clean_history: Duration,
    simulate_for: Duration,
    scrape_interval: Duration,
) -> SLIHistory:
    """Scrape the scenario's counters every scrape_interval from time zero to the end."""
    line = timeline(scenario, clean_history, simulate_for)
    step = scrape_interval.milliseconds
    times = np.arange(0, line.history_end_ms + 1, step, dtype=np.int64)
    rps, error_ratio = _rates(scenario, times[:-1], line)
    expected = rps * (step / 1000)
    if scenario.kind == "low-traffic":
        rng = np.random.default_rng(scenario.seed)
        total_inc = rng.poisson(expected).astype(np.float64)
        errors_inc = rng.binomial(total_inc.astype(np.int64), np.clip(error_ratio, 0, 1)).astype(np.float64)
    else:
        total_inc = expected
        errors_inc = expected * error_ratio
    total = np.concatenate(([0.0], np.cumsum(total_inc)))
    errors = np.concatenate(([0.0], np.cumsum(errors_inc)))
    restart = scenario.duration("restart_every")
    if restart is not None:
        # The process restarts at every multiple of restart_every; its counters start again from 0
        # and the first scrape after a restart sees only what happened since.
        epoch = times // restart.milliseconds
        first_of_epoch = np.searchsorted(times, epoch * restart.milliseconds, side="left")
        before = np.maximum(first_of_epoch - 1, 0)
        restarted = epoch > 0
        total = total - np.where(restarted, total[before], 0.0)
        errors = errors - np.where(restarted, errors[before], 0.0)
    keep = np.ones(times.shape, dtype=np.bool_)
    gap_every = scenario.duration("gap_every")
    if gap_every is not None:
        gap_length = scenario.duration("gap_length") or Duration.parse("10m")
        keep = ~((times >= gap_every.milliseconds) & (times % gap_every.milliseconds < gap_length.milliseconds))
    incident = Incident(line.start_ms, line.end_ms)
    return SLIHistory(times[keep], total[keep], errors[keep], (incident,), origin_ms=line.start_ms)


def constant_history(
    error_rate: float, *, clean_history: Duration, simulate_for: Duration, scrape_interval: Duration, rps: float = 10.0
) -> SLIHistory:
    """A clean history, then a constant error rate to the end: the sweep's and the closed form's case."""
    scenario = Scenario("constant", {"error_rate": error_rate, "rps": rps})
    return build_history(scenario, clean_history=clean_history, simulate_for=simulate_for,
                         scrape_interval=scrape_interval)
