"""Range queries for the UI's charts, on top of the shared Prometheus client.

The client in fireline.clients.prometheus answers instant queries (what the policy engine needs);
charts need /api/v1/query_range. The subclass reuses its transport and its split of errors into
"unavailable" and "query rejected", so the UI reports them the same way the engine does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from fireline.clients.prometheus import PrometheusClient, PrometheusQueryError

# Prometheus refuses more than 11,000 points per series; the charts need a few hundred.
MAX_POINTS = 10_000


@dataclass(frozen=True)
class RangeSeries:
    labels: dict[str, str]
    points: list[tuple[float, float]]


class RangeClient(PrometheusClient):
    def __enter__(self) -> RangeClient:
        return self

    def query_range(self, promql: str, start: datetime, end: datetime, step_seconds: float) -> list[RangeSeries]:
        if step_seconds <= 0:
            raise ValueError("step must be positive")
        if (end - start).total_seconds() / step_seconds > MAX_POINTS:
            raise ValueError(f"more than {MAX_POINTS} points per series: use a larger step")
        data = self._get("/api/v1/query_range", {
            "query": promql, "start": repr(start.timestamp()), "end": repr(end.timestamp()),
            "step": repr(float(step_seconds))})
        if not isinstance(data, dict) or data.get("resultType") != "matrix":
            kind = data.get("resultType") if isinstance(data, dict) else None
            raise PrometheusQueryError(f"expected a range vector from {promql!r}, got {kind or 'nothing'}")
        return [RangeSeries(dict(item.get("metric", {})), [(float(t), float(v)) for t, v in item.get("values", [])])
                for item in data["result"]]
