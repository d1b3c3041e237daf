"""Range queries for the UI's charts: the shared Prometheus client's, under the name the UI uses.

The client in fireline.clients.prometheus answers instant and range queries with one split of
errors into "unavailable" and "query rejected", so the UI reports them the way the engine does.
"""

from __future__ import annotations

from datetime import datetime

from fireline.clients.prometheus import PrometheusClient, RangeSeries

# Prometheus refuses more than 11,000 points per series; the charts need a few hundred.
MAX_POINTS = 10_000

__all__ = ["MAX_POINTS", "RangeClient", "RangeSeries"]


class RangeClient(PrometheusClient):
    def __enter__(self) -> RangeClient:
        return self

    def query_range(self, promql: str, start: datetime, end: datetime, step_seconds: float) -> list[RangeSeries]:
        if step_seconds > 0 and (end - start).total_seconds() / step_seconds > MAX_POINTS:
            raise ValueError(f"more than {MAX_POINTS} points per series: use a larger step")
        return super().query_range(promql, start, end, step_seconds)
