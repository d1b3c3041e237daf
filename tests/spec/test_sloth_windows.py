"""Sloth specs keep Sloth's alert windows and burn-rate factors exactly, for every golden output.

Sloth's own generated rules (../shared/reference/sloth-golden/*.out.yaml) write each alert as
`ratio_rate<short> > (factor * budget) and ratio_rate<long> > (factor * budget)` per window pair;
fireline's tiers for the same input must have the same pairs, severities and factors.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict

import pytest
import yaml

from fireline.slo.durations import Duration
from fireline.spec.loader import load_services
from tests.conftest import SHARED

GOLDEN = SHARED / "reference" / "sloth-golden"
NAMES = sorted(p.name.removesuffix(".in.yaml") for p in GOLDEN.glob("*.in.yaml")) if GOLDEN.is_dir() else []
CONDITION = re.compile(r'ratio_rate(\w+)\{[^}]*sloth_slo="([^"]+)"[^}]*\} > \(([\d.]+) \* [\d.e-]+\)')
Pairs = dict[tuple[str, str, str], list[tuple[Duration, Duration, float]]]


def _sloth_pairs(name: str) -> Pairs:
    out: Pairs = defaultdict(list)
    documents = [d for d in yaml.safe_load_all((GOLDEN / f"{name}.out.yaml").read_text()) if d]
    # Sloth's CLI writes rule files; for the CRD it writes PrometheusRule objects with spec.groups.
    groups = [g for d in documents for g in (d.get("groups") or d.get("spec", {}).get("groups", []))]
    assert groups
    for group in groups:
        for rule in group["rules"]:
            if "alert" not in rule:
                continue
            service = re.search(r'sloth_service="([^"]+)"', rule["expr"])
            assert service is not None
            conditions = CONDITION.findall(rule["expr"])
            for (short, slo, factor), (long, _, _) in zip(conditions[::2], conditions[1::2], strict=True):
                key = (service.group(1), slo, rule["labels"]["sloth_severity"])
                out[key].append((Duration.parse(short), Duration.parse(long), float(factor)))
    return out


def _fireline_pairs(name: str) -> Pairs:
    out: Pairs = defaultdict(list)
    for loaded in load_services([GOLDEN / f"{name}.in.yaml"]):
        for slo in loaded.spec.spec.slos:
            for tier in slo.tiers():
                out[(loaded.spec.name, slo.name, str(tier.severity))].append(
                    (tier.short_window, tier.long_window, float(tier.burn_rate_threshold(slo.window))))
    return out


@pytest.mark.skipif(not GOLDEN.is_dir(), reason="../shared/reference is not beside this checkout")
@pytest.mark.parametrize("name", NAMES)
def test_windows_and_factors_equal_sloths(name: str) -> None:
    sloth, fireline = _sloth_pairs(name), _fireline_pairs(name)
    if name.startswith("openslo"):
        # Sloth always disables alerts for OpenSLO input; fireline alerts on it with the same tiers.
        assert sloth == {}
        return
    assert sorted(sloth) == sorted(fireline)
    for key, pairs in sloth.items():
        got = sorted(fireline[key])
        assert [(s, lw) for s, lw, _ in sorted(pairs)] == [(s, lw) for s, lw, _ in got], key
        for (_, _, expected), (_, _, actual) in zip(sorted(pairs), got, strict=True):
            assert math.isclose(expected, actual, rel_tol=1e-12), (key, expected, actual)
