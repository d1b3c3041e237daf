"""Adapter: an SLO's real history from a Prometheus server (the only network code of the simulator).

The spec's SLI expressions are range-queried with a short rate window at a fixed step; the rates
are integrated back into counters that the engine then evaluates like any other history. Every
query of one run uses the same end time, so all SLOs are replayed over the same instants.
Replayed history is one step coarser than the scrapes Prometheus saw: detection times are exact to
about one step, not to one scrape.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import httpx
import numpy as np

from fireline.rules.sli import SLIQueries
from fireline.sim.errors import SimInputError
from fireline.sim.history import SLIHistory
from fireline.slo.durations import Duration
from fireline.spec.models import SLOSpec

MAX_POINTS = 10_000  # Prometheus refuses range queries of more than 11,000 points per series


@dataclass(frozen=True)
class RangeWindow:
    """One run's query range, pinned: [end - since, end] at step."""

    end_ms: int
    since: Duration
    step: Duration

    @classmethod
    def ending_at(cls, now_ms: int, since: Duration, step: Duration) -> RangeWindow:
        # Align to the step so that reruns over the same data give the same samples.
        return cls(now_ms - now_ms % step.milliseconds, since, step)

    @property
    def start_ms(self) -> int:
        return self.end_ms - self.since.milliseconds

    @property
    def rate_window(self) -> Duration:
        # rate() needs two samples: twice the step, and never under 1m (two scrapes at 30s).
        return Duration(max(2 * self.step.milliseconds, 60_000))


def _range_query(client: httpx.Client, query: str, window: RangeWindow) -> dict[int, float]:
    values: dict[int, float] = {}
    step_ms = window.step.milliseconds
    chunk_start = window.start_ms
    while chunk_start <= window.end_ms:
        chunk_end = min(chunk_start + (MAX_POINTS - 1) * step_ms, window.end_ms)
        params = {"query": query, "start": f"{chunk_start / 1000:.3f}", "end": f"{chunk_end / 1000:.3f}",
                  "step": f"{step_ms / 1000:g}"}
        try:
            response = client.get("/api/v1/query_range", params=params)
        except httpx.HTTPError as exc:
            raise SimInputError(f"cannot reach Prometheus at {client.base_url}: {exc}") from None
        body = _json(response)
        if body.get("status") != "success":
            raise SimInputError(f"Prometheus rejected {query!r}: {body.get('error', response.status_code)}")
        series = body.get("data", {}).get("result", [])
        if len(series) > 1:
            raise SimInputError(f"{query!r} returns {len(series)} series; an SLI must aggregate to one (use sum)")
        for t, v in series[0]["values"] if series else []:
            value = float(v)
            if not math.isnan(value):
                values[round(float(t) * 1000)] = value
        chunk_start = chunk_end + step_ms
    return values


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        raise SimInputError(f"Prometheus answered HTTP {response.status_code} without JSON") from None
    if not isinstance(body, dict):
        raise SimInputError("Prometheus answered with unexpected JSON")
    return body


def fetch_history(client: httpx.Client, slo: SLOSpec, window: RangeWindow) -> SLIHistory:
    queries = SLIQueries(slo)
    rate_window = window.rate_window
    if queries.event_based:
        total = _range_query(client, queries.total(rate_window).text(), window)
        errors = _range_query(client, queries.errors(rate_window).text(), window)
    else:
        # A ratio SLI has no counts: replay it as one event per second with that error ratio.
        errors = _range_query(client, queries.ratio(rate_window).text(), window)
        total = {t: 1.0 for t in errors}
    times = sorted(total)
    if len(times) < 2:
        raise SimInputError(f"SLO {slo.name}: Prometheus has fewer than two samples of its SLI in the last "
                            f"{window.since}; check the SLI queries and --since")
    ts = np.array(times, dtype=np.int64)
    step = window.step.seconds
    total_rate = np.array([total[t] for t in times])
    # No error series at a step reads as 0 errors, as the generated rules' `or vector(0)` does.
    error_rate = np.array([errors.get(t, 0.0) for t in times])
    return SLIHistory(
        ts,
        np.concatenate(([0.0], np.cumsum(total_rate[1:] * step))),
        np.concatenate(([0.0], np.cumsum(error_rate[1:] * step))),
    )


def open_client(url: str, transport: httpx.BaseTransport | None = None) -> httpx.Client:
    return httpx.Client(base_url=url.rstrip("/"), timeout=60.0, transport=transport)
