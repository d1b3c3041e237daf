"""The rule plan is the one place that names series and decides windows; what it builds parses."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import promql_parser
import pytest

from fireline.promql import Binary, Call, Number, Paren, Query, VectorSelector, parse_error
from fireline.rules import plan as plan_module
from fireline.rules.plan import AlertKind, RulePlan, Source, window_of_ratio_series, window_source
from fireline.rules.testgen import standin_slo
from fireline.slo.durations import Duration
from fireline.spec.loader import load_services
from tests.conftest import EXAMPLES, ROOT

SRC = ROOT / "src" / "fireline"
PLAN_FILE = SRC / "rules" / "plan.py"
SERIES_NAMES = [plan_module.ERRORS_5M, plan_module.TOTAL_5M, plan_module.OBJECTIVE, plan_module.ERROR_BUDGET,
                plan_module.WINDOW_SECONDS, plan_module.BUDGET_REMAINING, plan_module.ratio_series(Duration(0))[:-2]]
SERIES_LITERAL = re.compile(r"\bslo:[a-z_]+:[a-z0-9_]+")


def _python_files() -> list[Path]:
    return [p for p in sorted(SRC.rglob("*.py")) if p != PLAN_FILE]


def test_series_names_are_spelled_only_in_the_plan() -> None:
    offenders = [f"{p.relative_to(ROOT)}: {name}" for p in _python_files() for name in SERIES_NAMES
                 if name in p.read_text(encoding="utf-8")]
    assert offenders == []


def test_no_slo_series_literal_outside_the_plan() -> None:
    """Code (not prose) outside the plan never spells an `slo:...` series; lint reads other tools' series."""
    offenders = []
    for path in _python_files():
        if "lint" in path.relative_to(SRC).parts:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                      if isinstance(n, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
                      and n.body and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
        for node in ast.walk(tree):
            if (isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
                    and SERIES_LITERAL.search(node.value)):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value[:60]!r}")
    assert offenders == []


def _plans() -> list[RulePlan]:
    services = load_services(sorted(EXAMPLES.glob("*.yaml")))
    return [RulePlan.build(s.spec, slo) for s in services for slo in s.spec.spec.slos]


def test_every_expression_and_template_query_parses() -> None:
    checked = 0
    for plan in _plans():
        for rule in [*plan.recordings, *plan.alerts]:
            assert parse_error(rule.expr.text()) is None, rule.expr.text()
            checked += 1
        for alert in plan.alerts:
            for text in alert.annotations.values():
                for query in re.findall(r"query `([^`]*)`", text):
                    assert parse_error(query) is None, query
                    checked += 1
        for query in (plan.budget_remaining_query(), plan.burn_rate_query(Duration.parse("1h")),
                      plan.error_ratio_query(Duration.parse("5m")), plan.traffic_query() or "up"):
            assert parse_error(query) is None, query
    assert checked > 100


def test_windows_source_decided_once() -> None:
    for plan in _plans():
        for window in plan.recorded_windows():
            if window == Duration.parse("5m"):
                continue
            assert plan.ratio_source(window) is window_source(window, plan.slo.sli.ratio is None)
    assert window_source(Duration.parse("6h")) is Source.RAW
    assert window_source(Duration.parse("1d")) is Source.HOURLY
    assert window_source(Duration.parse("1d"), event_based=False) is Source.RECORDED
    assert window_source(Duration.parse("1d1m")) is Source.RECORDED  # not whole hours
    assert window_of_ratio_series(plan_module.ratio_series(Duration.parse("30d"))) == Duration.parse("30d")
    assert window_of_ratio_series("up") is None


def test_long_windows_and_their_tiers_live_in_the_hourly_group() -> None:
    for plan in _plans():
        names = [g.name for g in plan.groups]
        event_based = plan.slo.sli.ratio is None
        hourly = [w for w in {*plan.recorded_windows(), plan.slo.window}
                  if window_source(w, event_based) is Source.HOURLY]
        if not hourly:
            assert not any(n.endswith(":hourly") for n in names)
            continue
        first, middle, budget = plan.groups
        assert middle.name.endswith(":hourly") and middle.interval == plan_module.BUDGET_GROUP_INTERVAL
        recorded_there = {r.name for r in middle.rules if isinstance(r, plan_module.Recording)}
        for window in hourly:
            assert plan_module.ratio_series(window) in recorded_there
            assert plan_module.count_series(True, window) in recorded_there
        # a tier is decided beside its long window: the pages (long windows up to 6h) in the first group
        for group in (first, middle):
            for alert in (r for r in group.rules if isinstance(r, plan_module.Alert) and r.tier is not None):
                assert (window_source(alert.tier.long_window, event_based) is Source.HOURLY) == (group is middle)
        assert not any(isinstance(r, plan_module.Alert) and r.kind is AlertKind.BURN for r in budget.rules)


def test_printer_parenthesises_by_precedence() -> None:
    a, b = VectorSelector.of("a", {"x": "1"}), VectorSelector.of("b")
    assert Binary("/", Binary("-", a, b), Number.of(2)).text() == '(a{x="1"} - b) / 2'
    assert Binary("-", Number.of(1), Binary("/", a, Number.of(2))).text() == '1 - a{x="1"} / 2'
    assert Binary("/", a, Binary("/", b, Number.of(2))).text() == 'a{x="1"} / (b / 2)'
    assert Binary("*", Query("a - b"), Number.of(0)).text() == "(a - b) * 0"
    assert Binary("or", Query("a or on() vector(0)"), Call.of("vector", Number.of(0))).text() == (
        "a or on() vector(0) or vector(0)")
    assert Paren(Binary("+", a, b)).text() == '(a{x="1"} + b)'
    # What the printer writes means what it says: the parser reads the same tree back.
    for expr in (Binary("/", Binary("-", a, b), Number.of(2)), Binary("^", Binary("^", a, b), Number.of(2))):
        promql_parser.parse(expr.text())
    with pytest.raises(ValueError, match="not valid PromQL"):
        Query("sum(rate(x[5m])")


def test_label_values_are_quoted() -> None:
    sel = VectorSelector.of("m", {"service": 'che"ck\\out'})
    assert sel.text() == 'm{service="che\\"ck\\\\out"}'
    assert parse_error(sel.text()) is None


def test_standin_keeps_every_rule_but_the_sli_queries() -> None:
    (loaded,) = load_services([EXAMPLES / "checkout.yaml"])
    service = loaded.spec
    for slo in service.spec.slos:
        real, stand = RulePlan.build(service, slo), RulePlan.build(service, standin_slo(service, slo))
        # Every alert the same, but the trickle ticket's counts, which read the SLI's raw counters.
        def same(plan: RulePlan) -> list[dict[str, object]]:
            return [{**a.rule(), "expr": a.expr.text() if a.kind is not AlertKind.TRICKLE else ""}
                    for a in plan.alerts]
        assert same(real) == same(stand)
        assert [(r.name, r.labels) for r in real.recordings] == [(r.name, r.labels) for r in stand.recordings]
        # Only the recordings that read the SLI's own series differ.
        differ = [r.name for r, s in zip(real.recordings, stand.recordings, strict=True) if r.expr != s.expr]
        assert all(plan_module.window_source(r.window) is Source.RAW for r in real.recordings
                   if r.name in differ and r.window is not None)
