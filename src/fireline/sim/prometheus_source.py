"""Adapter: an SLO's real history from a Prometheus server (the only network code of the simulator).

The spec's SLI expressions are range-queried with a short rate window at a fixed step; the rates
are integrated back into counters that the engine then evaluates like any other history. Every
query of one run uses the same end time, so all SLOs are replayed over the same instants.
Replayed history is one step coarser than the scrapes Prometheus saw: detection times are exact to
about one step, not to one scrape.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import numpy as np

from fireline.clients.prometheus import PrometheusClient, PrometheusError, PrometheusUnavailable
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


def _moment(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def _range_query(client: PrometheusClient, query: str, window: RangeWindow) -> dict[int, float]:
    values: dict[int, float] = {}
    step_ms = window.step.milliseconds
    chunk_start = window.start_ms
    while chunk_start <= window.end_ms:
        chunk_end = min(chunk_start + (MAX_POINTS - 1) * step_ms, window.end_ms)
        try:
            series = client.query_range(query, _moment(chunk_start), _moment(chunk_end), step_ms / 1000)
        except PrometheusUnavailable as exc:
            raise SimInputError(str(exc)) from None
        except PrometheusError as exc:
            raise SimInputError(f"Prometheus rejected {query!r}: {exc}") from None
        if len(series) > 1:
            raise SimInputError(f"{query!r} returns {len(series)} series; an SLI must aggregate to one (use sum)")
        for t, value in series[0].points if series else []:
            if not math.isnan(value):
                values[round(t * 1000)] = value
        chunk_start = chunk_end + step_ms
    return values


def fetch_history(client: PrometheusClient, slo: SLOSpec, window: RangeWindow) -> SLIHistory:
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


def open_client(url: str, transport: httpx.BaseTransport | None = None,
                headers: Mapping[str, str] | None = None) -> PrometheusClient:
    """The shared client, with fireline.yaml's tenant and headers when simulate was given a config."""
    return PrometheusClient(url, timeout=60.0, transport=transport, headers=headers)
