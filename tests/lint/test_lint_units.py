"""The pieces the checks stand on: template scanning, PromQL reading, matcher logic, file kinds."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from fireline.lint.checks.promtool import _ruler_file
from fireline.lint.checks.template import check_template
from fireline.lint.files import FileKind, load
from fireline.lint.matchers import implies, overlap
from fireline.lint.promql import burn_groups, parse, selectors, window_of_name
from fireline.routing.tree import parse_matchers
from fireline.slo.durations import Duration


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        ("{{ $value | humanizePercentage }}", None),
        ('{{ with query "up" }}{{ . | first | value }}{{ end }}', None),
        ('{{ (query "up" | first).Value }} {{ "}}" }}', None),
        ("{{- /* braces }} in a comment */ -}}", None),
        ("{{ range $k, $v := $labels }}{{ $k }}={{ $v }}{{ end }}", None),
        ("{{ $value | mul 100 }}", 'function "mul" not defined'),
        ('{{ $labels.team | default "sre" }}', 'function "default" not defined'),
        ("{{ $labels.instance }", "unclosed action"),
        ("{{ if gt $value 1.0 }}high", "has no {{end}}"),
        ("{{ else }}", "{{else}} outside"),
        ("{{ (humanize $value }}", "unclosed ("),
    ],
)
def test_template_problems(template: str, problem: str | None) -> None:
    found = [p.message for p in check_template(template)]
    if problem is None:
        assert found == []
    else:
        assert any(problem in message for message in found), found


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        # fireline
        (
            "slo:sli_error:ratio_rate1h / 0.001 > 14.4 and slo:sli_error:ratio_rate5m / 0.001 > 14.4",
            [[("1h", 14.4, 0.001), ("5m", 14.4, 0.001)]],
        ),
        # Sloth: aggregations around the comparisons, budget as 1 - objective
        (
            "(max(slo:sli_error:ratio_rate5m > (14.4 * 0.001)) without (w) and "
            "max(slo:sli_error:ratio_rate1h > (14.4 * 0.001)) without (w)) or "
            "(slo:sli_error:ratio_rate30m > 6 * (1 - 0.999)"
            " and slo:sli_error:ratio_rate6h > 6 * (1 - 0.999))",
            [[("5m", 14.4, 0.001), ("1h", 14.4, 0.001)], [("30m", 6, 0.001), ("6h", 6, 0.001)]],
        ),
        # recorded burn rates, reversed comparison
        ("14.4 < slo:burn_rate:1h", [[("1h", 14.4, None)]]),
        # range selectors
        ("sum(rate(errors[6h])) / sum(rate(total[6h])) > 6 * 0.001", [[("6h", 6, 0.001)]]),
        # not burn-rate alerts
        ("rate(errors[5m]) > 10 * 0.5", []),
        ("up == 0", []),
        ("slo:error_budget_remaining:ratio < 0.1", []),
    ],
)
def test_burn_groups(expr: str, expected: list[list[tuple[str, float, float | None]]]) -> None:
    groups = burn_groups(parse(expr))
    got = [
        [
            (
                str(c.window),
                round(c.burn_rate, 6),
                None if c.error_budget is None else round(c.error_budget, 9),
            )
            for c in group
        ]
        for group in groups
    ]
    assert got == expected


def test_windows_from_names_and_ranges() -> None:
    assert window_of_name("slo:sli_error:ratio_rate30d") == Duration.parse("30d")
    assert window_of_name("slo:burn_rate:1h30m") == Duration.parse("1h30m")
    assert window_of_name("node_load5") is None
    assert window_of_name("http_requests_total") is None
    found = {s.name: s.window for s in selectors(parse("max_over_time(a[1h:5m]) + rate(b[10m]) + c:rate2h"))}
    assert found == {"a": Duration.parse("1h"), "b": Duration.parse("10m"), "c:rate2h": Duration.parse("2h")}


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ('{severity="critical"}', '{severity="warning"}', False),
        ('{severity="critical"}', '{team="payments"}', True),
        ('{severity=~"critical|warning"}', '{severity="warning"}', True),
        ('{team!~"a|b"}', '{team="a"}', False),
        ('{team!="a"}', '{team="b"}', True),
        ('{a=~"x.*"}', '{a=~"y.*"}', None),  # arbitrary regexes: not decided
    ],
)
def test_overlap(a: str, b: str, expected: bool | None) -> None:
    assert overlap(parse_matchers(a), parse_matchers(b)) is expected


def test_implies() -> None:
    assert implies(parse_matchers('{severity="critical",team="x"}'), parse_matchers('{severity=~"critical|page"}'))
    assert implies(parse_matchers('{severity="critical"}'), [])
    assert not implies(parse_matchers('{team="x"}'), parse_matchers('{severity="critical"}'))
    assert not implies(parse_matchers('{severity=~"critical|warning"}'), parse_matchers('{severity="critical"}'))


def test_file_kinds(tmp_path: Path) -> None:
    (tmp_path / "rules.yml").write_text("groups:\n  - name: g\n    rules:\n      - record: a:b:c\n        expr: up\n")
    (tmp_path / "manifest.yaml").write_text(
        "apiVersion: monitoring.coreos.com/v1\nkind: PrometheusRule\nmetadata: {name: x}\nspec:\n"
        "  groups:\n    - name: g\n      rules:\n        - alert: A\n          expr: up == 0\n"
    )
    (tmp_path / "am.yml").write_text("route: {receiver: a}\nreceivers: [{name: a}]\n")
    # fireline's own config has receivers: too, but is not an Alertmanager config
    (tmp_path / "fireline.yaml").write_text("apiVersion: fireline/v1\nkind: Config\nreceivers: {}\n")
    rule_files, am_files, notes = load([tmp_path])
    kinds = {f.path.name: f.kind for f in rule_files}
    assert kinds == {"rules.yml": FileKind.RULES, "manifest.yaml": FileKind.PROMETHEUS_RULE}
    manifest = next(f for f in rule_files if f.kind is FileKind.PROMETHEUS_RULE)
    assert manifest.rules[0].alert == "A" and manifest.rules[0].line == 8 and manifest.spec_line == 4
    assert [f.path.name for f in am_files] == ["am.yml"]
    assert notes == []


GROUPS = "groups:\n  - name: g\n    rules:\n      - record: a:b:c\n        expr: up\n"


@pytest.mark.parametrize(
    ("text", "ruler"),
    [
        (GROUPS, False),
        ("namespace: team\n" + GROUPS, True),  # Mimir/Cortex
        (GROUPS + "    partial_response_strategy: warn\n", True),  # Thanos
        (GROUPS.replace("expr: up", "expr: up\n        labels: {partial_response_strategy: warn}"), False),
        ("base: &base {partial_response_strategy: warn}\ngroups:\n  - <<: *base\n    name: g\n    rules: []\n", True),
        (GROUPS + "---\nnamespace: other\n", True),  # any document of the file
        ("groups: []\n---\n" + GROUPS, False),
    ],
)
def test_ruler_keys_are_read_when_loading_as_rules_promtool_reads_them(
    tmp_path: Path, text: str, ruler: bool
) -> None:
    """RuleFile.ruler_keys (from the composed nodes) says what rules/promtool's ruamel reading of the file says."""
    path = tmp_path / "rules.yml"
    path.write_text(text)
    rule_files, _, _ = load([path])
    assert rule_files and {f.ruler_keys for f in rule_files} == {ruler}
    assert _ruler_file(dataclasses.replace(rule_files[0], ruler_keys=None)) is ruler
