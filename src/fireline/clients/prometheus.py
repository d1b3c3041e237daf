"""Prometheus HTTP API client: instant queries pinned to a timestamp, with errors that say what failed.

Every query of one evaluation passes the same `time`, so the numbers it combines describe the same
instant (google/slo-generator's lesson). Failures are split into two kinds because callers treat
them differently: `PrometheusUnavailable` (cannot reach it, 5xx, timeout: the answer is unknown)
and `PrometheusQueryError` (Prometheus answered that the query is wrong: a bug to report).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, Self

import httpx

DEFAULT_TIMEOUT = 10.0


class PrometheusError(Exception):
    """Base class: something went wrong talking to Prometheus."""


class PrometheusUnavailable(PrometheusError):
    """Prometheus could not be reached or could not answer (connection refused, timeout, 5xx)."""


class PrometheusQueryError(PrometheusError):
    """Prometheus rejected the query (bad PromQL, 4xx, an error in the response)."""


@dataclass(frozen=True)
class Sample:
    """One element of an instant vector."""

    labels: dict[str, str]
    value: float
    timestamp: float


def _epoch(at: datetime) -> float:
    if at.tzinfo is None:
        raise ValueError("query time must be timezone-aware (naive datetimes are ambiguous)")
    return at.timestamp()


def _parse_value(raw: Any) -> float:
    # Prometheus encodes sample values as strings, including "NaN", "+Inf" and "-Inf".
    return float(raw)


class ConnectionSettings(Protocol):
    """fireline.yaml's prometheus section, as far as a client needs it (server.settings.PrometheusSettings)."""

    @property
    def url(self) -> str | None: ...

    def request_headers(self) -> dict[str, str]: ...


@dataclass(frozen=True)
class RangeSeries:
    labels: dict[str, str]
    points: list[tuple[float, float]]


class PrometheusClient:
    """The one client of the Prometheus HTTP API (or of a Mimir/Cortex/Thanos query frontend, or
    VictoriaMetrics): instant and range queries, loaded rules. One instance may serve a whole cycle.

    `headers` (the tenant's X-Scope-OrgID and any others, from fireline.yaml's prometheus section)
    go with every request; they are never part of an error message.
    """

    def __init__(self, url: str, *, timeout: float = DEFAULT_TIMEOUT,
                 transport: httpx.BaseTransport | None = None, headers: Mapping[str, str] | None = None) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.Client(base_url=self.url, timeout=timeout, transport=transport,
                                  headers=dict(headers or {}))

    @classmethod
    def from_settings(cls, settings: ConnectionSettings, *, timeout: float = DEFAULT_TIMEOUT,
                      transport: httpx.BaseTransport | None = None) -> Self:
        """A client with the section's URL, tenant and headers; a header that cannot be read is 'unavailable'."""
        if settings.url is None:
            raise PrometheusUnavailable("prometheus.url is not set in fireline.yaml")
        try:
            headers = settings.request_headers()
        except ValueError as exc:  # names the file or variable, never its content
            raise PrometheusUnavailable(str(exc)) from None
        return cls(settings.url, timeout=timeout, transport=transport, headers=headers)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> PrometheusClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _get(self, path: str, params: dict[str, str]) -> Any:
        try:
            response = self._http.get(path, params=params)
        except httpx.TimeoutException:
            raise PrometheusUnavailable(f"Prometheus at {self.url} did not answer {path} in time") from None
        except httpx.HTTPError as exc:
            raise PrometheusUnavailable(f"cannot reach Prometheus at {self.url}: {exc}") from None
        if response.status_code >= 500:
            raise PrometheusUnavailable(
                f"Prometheus at {self.url} answered {response.status_code} for {path}: {_error_text(response)}")
        try:
            body = response.json()
        except ValueError:
            raise PrometheusQueryError(
                f"Prometheus at {self.url} answered {response.status_code} for {path} with a body that is not "
                "JSON (is this URL really Prometheus?)") from None
        if response.status_code >= 400 or body.get("status") != "success":
            raise PrometheusQueryError(
                f"Prometheus rejected the query ({response.status_code}): {_error_text(response)}")
        return body.get("data")

    def query(self, promql: str, at: datetime) -> list[Sample]:
        """Instant vector (or scalar, as one unlabelled sample) of promql evaluated at `at`."""
        data = self._get("/api/v1/query", {"query": promql, "time": repr(_epoch(at))})
        result_type = data.get("resultType") if isinstance(data, dict) else None
        if result_type == "vector":
            return [Sample(dict(item.get("metric", {})), _parse_value(item["value"][1]), float(item["value"][0]))
                    for item in data["result"]]
        if result_type == "scalar":
            ts, value = data["result"]
            return [Sample({}, _parse_value(value), float(ts))]
        raise PrometheusQueryError(
            f"expected an instant vector from {promql!r}, got {result_type or 'nothing'}")

    def query_value(self, promql: str, at: datetime) -> float | None:
        """The single value of an expression that aggregates to one series; None when it returns nothing.

        NaN (0/0: no events at all) is returned as NaN, not None: the series exists, it is just empty.
        """
        samples = self.query(promql, at)
        if not samples:
            return None
        if len(samples) > 1:
            labels = ", ".join(sorted(str(s.labels) for s in samples)[:3])
            raise PrometheusQueryError(
                f"{promql!r} returned {len(samples)} series ({labels}...); it must aggregate to one, "
                "e.g. with sum(...)")
        return samples[0].value

    def query_range(self, promql: str, start: datetime, end: datetime, step_seconds: float) -> list[RangeSeries]:
        """Range vector of promql over [start, end] at step; the caller keeps the point count in bounds."""
        if step_seconds <= 0:
            raise ValueError("step must be positive")
        data = self._get("/api/v1/query_range", {
            "query": promql, "start": repr(_epoch(start)), "end": repr(_epoch(end)),
            "step": repr(float(step_seconds))})
        if not isinstance(data, dict) or data.get("resultType") != "matrix":
            kind = data.get("resultType") if isinstance(data, dict) else None
            raise PrometheusQueryError(f"expected a range vector from {promql!r}, got {kind or 'nothing'}")
        return [RangeSeries(dict(item.get("metric", {})),
                            [(float(t), _parse_value(v)) for t, v in item.get("values", [])])
                for item in data["result"]]

    def alerting_rules(self) -> list[dict[str, Any]]:
        """Alerting rules the server has loaded (/api/v1/rules), as it reports them."""
        data = self._get("/api/v1/rules", {"type": "alert"})
        groups = data.get("groups") if isinstance(data, dict) else None
        if not isinstance(groups, list):
            raise PrometheusQueryError(f"{self.url}/api/v1/rules answered without a groups list")
        return [rule for group in groups for rule in group.get("rules") or []
                if rule.get("type", "alerting") == "alerting"]

    def api(self, path: str, params: dict[str, str]) -> Any:
        """The `data` of any GET endpoint of the HTTP API (/api/v1/rules, /api/v1/status/...)."""
        return self._get(path, params)

    def ready(self) -> bool:
        try:
            return self._http.get("/-/ready").status_code == 200
        except httpx.HTTPError:
            return False


def _error_text(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:200] or response.reason_phrase
    if isinstance(body, dict) and body.get("error"):
        return f"{body.get('errorType', 'error')}: {body['error']}"
    return response.reason_phrase


def is_number(value: float | None) -> bool:
    return value is not None and not math.isnan(value) and not math.isinf(value)


def utc_now() -> datetime:
    return datetime.now(UTC)
