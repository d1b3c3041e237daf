"""Pyrra's own alert windows, factors and `for` durations (slo/rules.go Windows()), for any SLO window."""

from __future__ import annotations

from decimal import Decimal

import pytest

from fireline.slo.durations import Duration
from fireline.spec.importers import pyrra_tiers


def _table(objective: str, window: str) -> list[tuple[str, str, str, Decimal, str]]:
    w = Duration.parse(window)
    out = []
    for tier in pyrra_tiers(Decimal(objective), w):
        factor = Decimal(tier["budget_percent"]) / 100 * Decimal(w.milliseconds) / Duration.parse(
            tier["long"]).milliseconds
        out.append((tier["short"], tier["long"], tier["for"], factor.quantize(Decimal("0.000001")), tier["severity"]))
    return out


@pytest.mark.parametrize(("window", "expected"), [
    # Pyrra's Test_windows (28d) and the grpc-latency fixture (7d) in slo/rules_test.go.
    ("28d", [("5m", "1h", "2m", 14, "page"), ("30m", "6h", "15m", 7, "page"), ("2h", "1d", "1h", 2, "ticket"),
             ("6h", "4d", "3h", 1, "ticket")]),
    ("7d", [("1m", "15m", "1m", 14, "page"), ("8m", "1h30m", "4m", 7, "page"), ("30m", "6h", "15m", 2, "ticket"),
            ("1h30m", "1d", "45m", 1, "ticket")]),
    # 30d: Go's integer division then Round(time.Minute), as Pyrra computes it.
    ("30d", [("5m", "1h4m", "2m", 14, "page"), ("32m", "6h26m", "16m", 7, "page"),
             ("2h9m", "1d1h43m", "1h4m", 2, "ticket"), ("6h26m", "4d6h51m", "3h13m", 1, "ticket")]),
])
def test_windows_and_factors_are_pyrras(window: str, expected: list[tuple[str, str, str, int, str]]) -> None:
    assert _table("99.9", window) == [(s, long, f, Decimal(k).quantize(Decimal("0.000001")), sev)
                                      for s, long, f, k, sev in expected]


def test_tiers_that_cannot_fire_are_left_out() -> None:
    # A 10% budget: 14x needs 140% errors, the other factors still fit.
    assert [t["long"] for t in pyrra_tiers(Decimal(90), Duration.parse("28d"))] == ["6h", "1d", "4d"]
    # Factor 1 always fits a budget below 100%: some tier is always left.
    assert [t["long"] for t in pyrra_tiers(Decimal(50), Duration.parse("28d"))] == ["1d", "4d"]
