"""Synthetic scrape data for bench/rules_cost.py: counters, OpenMetrics text, exact ground truth.

Every service exposes `http_requests_total{job, instance, code}`: per instance one good series
(code="200") and one bad series (code="500"), so M label series = M/2 instances x 2 codes.
Traffic is diurnal (10x between the daily peak and the night trough) and Poisson per scrape;
errors are binomial on top of a background error ratio plus incidents (an outage, a slow burn,
short spikes) placed at random times, so some land at night when one bad request weighs ten
times as much in a ratio as by day. That is exactly where averaging 5m ratios over the SLO
window (Sloth) and counting events (the truth) part ways.

The ground truth is kept as per-scrape increments summed over instances, so the errors and
events in any window (a, b] are exact integer sums, independent of PromQL.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

METRIC = "http_requests_total"
FAMILY = "http_requests"
ERROR_CODE = "500"
GOOD_CODE = "200"


def job_name(index: int) -> str:
    return f"svc-{index:02d}"


@dataclass
class Incident:
    kind: str  # outage, slow-burn, spike
    start: int  # unix seconds
    seconds: int
    error_ratio: float  # added to the background ratio while it lasts


@dataclass
class ServiceTruth:
    job: str
    instances: int
    # Cumulative sums with a leading 0: errors/events in scrapes [i, j) are cum[j] - cum[i].
    cum_errors: np.ndarray
    cum_total: np.ndarray
    incidents: list[Incident] = field(default_factory=list)


@dataclass
class Dataset:
    start: int  # timestamp of the first scrape (unix seconds)
    end: int  # timestamp of the last scrape
    step: int
    services: list[ServiceTruth]

    @property
    def timestamps(self) -> np.ndarray:
        return np.arange(self.start, self.end + 1, self.step, dtype=np.int64)

    def window_counts(self, service: int, lo: float, hi: float) -> tuple[int, int]:
        """Exact (errors, events) of the scrapes with timestamps in (lo, hi]."""
        ts = self.timestamps
        i = int(np.searchsorted(ts, lo, side="right"))
        j = int(np.searchsorted(ts, hi, side="right"))
        truth = self.services[service]
        return (int(truth.cum_errors[j] - truth.cum_errors[i]), int(truth.cum_total[j] - truth.cum_total[i]))

    def budget_remaining(self, service: int, lo: float, hi: float, budget: float) -> float:
        errors, total = self.window_counts(service, lo, hi)
        return 1.0 - (errors / total) / budget if total else float("nan")


def _diurnal(ts: np.ndarray, peak_hour: float) -> np.ndarray:
    """Load factor in [0.1, 1]: a 10x swing between the daily peak and the trough 12h later."""
    phase = 2 * math.pi * ((ts / 86400.0) - peak_hour / 24.0)
    return 0.1 + 0.9 * (0.5 + 0.5 * np.cos(phase))


def _incidents(rng: np.random.Generator, start: int, end: int) -> list[Incident]:
    span = end - start
    days = span / 86400
    found: list[Incident] = []

    def place(seconds: int) -> int:
        return int(start + rng.uniform(0, max(span - seconds, 1)))

    # Roughly half the services have an outage and a slow burn; spikes scale with the days covered.
    if rng.random() < 0.5:
        seconds = int(rng.uniform(10, 45)) * 60
        found.append(Incident("outage", place(seconds), seconds, float(rng.uniform(0.2, 0.8))))
    if rng.random() < 0.6:
        seconds = int(rng.uniform(min(6, days * 12), min(36, days * 12))) * 3600
        found.append(Incident("slow-burn", place(seconds), seconds, float(rng.uniform(0.0005, 0.002))))
    for _ in range(int(rng.poisson(max(days / 5, 1)))):
        seconds = int(rng.uniform(2, 10)) * 60
        found.append(Incident("spike", place(seconds), seconds, float(rng.uniform(0.02, 0.1))))
    return found


def synthesise(services: int, series_per_service: int, days: float, end: int, step: int, seed: int
               ) -> tuple[Dataset, list[np.ndarray]]:
    """Counters for every service; returns the dataset and, per service, the raw per-scrape
    increments (instances x 2 codes x scrapes) that the OpenMetrics writer turns into counters."""
    if series_per_service < 2 or series_per_service % 2:
        raise ValueError("series per service must be even: each instance has a good and a bad series")
    n = int(days * 86400 // step)
    start = end - (n - 1) * step
    ts = np.arange(start, end + 1, step, dtype=np.int64)
    rng = np.random.default_rng(seed)
    instances = series_per_service // 2
    truths: list[ServiceTruth] = []
    increments: list[np.ndarray] = []
    for index in range(services):
        peak_rps = float(rng.lognormal(math.log(8.0), 0.6))  # per instance, at the daily peak
        peak_hour = float(rng.uniform(12, 18))
        background = float(rng.uniform(0.0001, 0.0004))
        incidents = _incidents(rng, start, end)
        ratio = np.full(n, background)
        for inc in incidents:
            ratio[(ts >= inc.start) & (ts < inc.start + inc.seconds)] += inc.error_ratio
        np.clip(ratio, 0.0, 1.0, out=ratio)
        mean = peak_rps * step * _diurnal(ts, peak_hour)
        total = rng.poisson(np.broadcast_to(mean, (instances, n)))
        errors = rng.binomial(total, np.broadcast_to(ratio, (instances, n)))
        good = total - errors
        err_sum = errors.sum(axis=0)
        tot_sum = total.sum(axis=0)
        truths.append(ServiceTruth(
            job=job_name(index), instances=instances,
            cum_errors=np.concatenate(([0], np.cumsum(err_sum))),
            cum_total=np.concatenate(([0], np.cumsum(tot_sum))),
            incidents=incidents,
        ))
        increments.append(np.stack([good, errors], axis=1).astype(np.int64))  # (instances, 2, n)
    return Dataset(start=start, end=end, step=step, services=truths), increments


def write_openmetrics(path: Path, dataset: Dataset, increments: list[np.ndarray]) -> int:
    """Stream every series as an OpenMetrics counter; returns the number of samples written.

    One series at a time, in timestamp order, so memory stays at one series' text and promtool
    can append each series in order. The timestamp suffixes are shared by all series, and the
    per-line join runs in C (map/operator.add) rather than a Python-level f-string loop.
    """
    ts_suffix = [f" {t}\n" for t in dataset.timestamps.tolist()]
    samples = 0
    with path.open("w", encoding="ascii", buffering=1 << 22) as out:
        out.write(f"# TYPE {FAMILY} counter\n")
        for truth, inc in zip(dataset.services, increments, strict=True):
            for instance in range(truth.instances):
                for col, code in ((0, GOOD_CODE), (1, ERROR_CODE)):
                    prefix = f'{METRIC}{{code="{code}",instance="i-{instance:02d}",job="{truth.job}"}} '
                    values = np.cumsum(inc[instance, col]).tolist()
                    out.write("".join(map(operator.add, map(prefix.__add__, map(str, values)), ts_suffix)))
                    samples += len(values)
        out.write("# EOF\n")
    return samples
