"""The route-tree model against Alertmanager 0.25's own answer (amtool config routes test)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from fireline.routing.tree import (
    ConfigError,
    Matcher,
    MatchOp,
    parse_config,
    parse_matcher,
    parse_matchers,
    receivers_for,
)

AMTOOL = shutil.which("amtool")

CONTINUE_AND_NESTED = """\
route:
  receiver: default
  group_by: [alertname]
  routes:
    - matchers: [team="db"]
      continue: true
      receiver: db
    - match_re: {severity: "critical|page"}
      receiver: pager
      routes:
        - matchers: ['{env="staging",zone!~"eu.*"}']
          receiver: staging
    - matchers: [team=web]
      receiver: web
    - matchers: [team="db"]
      receiver: db-again
receivers:
  - name: default
  - name: db
  - name: db-again
  - name: pager
  - name: staging
  - name: web
"""

# Critical first without continue: the team routes below never see critical alerts.
SHADOWING = """\
route:
  receiver: default
  routes:
    - match: {severity: critical}
      receiver: pager
    - matchers: ['team="payments"']
      receiver: payments
      routes:
        - matchers: [severity="warning"]
          receiver: payments-warn
          continue: true
        - matchers: [severity=~"warn.*"]
          receiver: payments-warn-2
    - matchers: [team!="payments", service=~""]
      receiver: no-service
receivers:
  - name: default
  - name: pager
  - name: payments
  - name: payments-warn
  - name: payments-warn-2
  - name: no-service
"""

# Every page reaches the webhook and its team; inherited receivers; a deep chain of continues.
INHERITED = """\
route:
  receiver: sre
  routes:
    - matchers: [fireline_severity=~"page|ticket"]
      receiver: hook
      continue: true
    - matchers: [team="payments"]
      routes:
        - matchers: [fireline_severity="page"]
          receiver: payments-pager
          continue: true
        - matchers: [fireline_severity="page"]
          receiver: payments-slack
          continue: true
        - matchers: [fireline_severity="ticket"]
          receiver: payments-slack
    - matchers: [team="search", 'tier!~"(gold|silver)"']
      receiver: search
receivers:
  - name: sre
  - name: hook
  - name: payments-pager
  - name: payments-slack
  - name: search
"""

CASES: list[tuple[str, list[dict[str, str]]]] = [
    (
        CONTINUE_AND_NESTED,
        [
            {},
            {"team": "db"},
            {"team": "db", "severity": "page", "env": "staging"},
            {"team": "db", "severity": "page", "env": "staging", "zone": "eu1"},
            {"team": "web", "severity": "critical"},
            {"team": "web", "severity": "criticalx"},
            {"team": "web"},
            {"severity": "page", "env": "staging", "zone": "us1"},
        ],
    ),
    (
        SHADOWING,
        [
            {"severity": "critical", "team": "payments"},
            {"severity": "warning", "team": "payments"},
            {"severity": "warnings", "team": "payments"},
            {"severity": "info", "team": "payments"},
            {"severity": "info", "team": "search"},
            {"severity": "info", "team": "search", "service": "x"},
            {"team": "payments", "service": "x"},
        ],
    ),
    (
        INHERITED,
        [
            {"team": "payments", "fireline_severity": "page"},
            {"team": "payments", "fireline_severity": "ticket"},
            {"team": "payments"},
            {"team": "search", "fireline_severity": "page"},
            {"team": "search", "tier": "gold"},
            {"team": "search", "tier": "golden"},
            {"team": "other"},
        ],
    ),
]


def amtool_receivers(config_file: Path, labels: dict[str, str]) -> list[str]:
    assert AMTOOL is not None
    args = [f"{k}={v}" for k, v in labels.items()]
    done = subprocess.run(
        [AMTOOL, "config", "routes", "test", f"--config.file={config_file}", *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    return done.stdout.strip().split(",")


@pytest.mark.promtool
@pytest.mark.skipif(AMTOOL is None, reason="amtool is not installed")
@pytest.mark.parametrize(("text", "label_sets"), CASES, ids=["continue-nested", "shadowing", "inherited"])
def test_receivers_agree_with_amtool(tmp_path: Path, text: str, label_sets: list[dict[str, str]]) -> None:
    config_file = tmp_path / "alertmanager.yml"
    config_file.write_text(text)
    assert AMTOOL is not None
    check = subprocess.run([AMTOOL, "check-config", str(config_file)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    config = parse_config(text, str(config_file))
    for labels in label_sets:
        assert receivers_for(config, labels) == amtool_receivers(config_file, labels), labels


def test_first_match_stops_unless_continue() -> None:
    config = parse_config(CONTINUE_AND_NESTED)
    assert receivers_for(config, {"team": "db"}) == ["db", "db-again"]
    assert receivers_for(config, {"team": "db", "severity": "page", "env": "staging"}) == ["db", "staging"]
    # The nested route misses (zone matches eu.*), so its parent handles the alert.
    assert receivers_for(config, {"severity": "page", "env": "staging", "zone": "eu1"}) == ["pager"]
    assert receivers_for(config, {}) == ["default"]


def test_inheritance_and_lines() -> None:
    config = parse_config(INHERITED)
    payments = config.route.children[1]
    assert payments.receiver == "sre" and payments.declared_receiver is None
    assert payments.line == 7
    assert payments.children[0].line == 9 and payments.children[0].receiver_line == 10
    assert config.route.children[0].continue_ and not payments.continue_
    assert str(payments.group_wait) == "30s" and str(payments.repeat_interval) == "4h"
    assert [r.name for r in config.receivers] == ["sre", "hook", "payments-pager", "payments-slack", "search"]
    assert config.receivers[2].line == 22
    assert receivers_for(config, {"team": "payments", "fireline_severity": "page"}) == [
        "hook",
        "payments-pager",
        "payments-slack",
    ]


def test_deprecated_forms_become_matchers() -> None:
    config = parse_config(SHADOWING)
    critical = config.route.children[0]
    assert critical.matchers == [Matcher("severity", MatchOp.EQUAL, "critical")]
    assert critical.matchers[0].deprecated_form == "match"
    assert critical.matchers[0].line == 4


def test_inhibit_rules_read_every_form() -> None:
    config = parse_config(
        """\
route: {receiver: a}
receivers: [{name: a, slack_configs: [{channel: '#x'}]}]
inhibit_rules:
  - source_match: {severity: critical}
    target_match_re: {severity: "warn.*"}
    target_matchers: ['team="x"']
    equal: [service, slo]
"""
    )
    (rule,) = config.inhibit_rules
    assert rule.line == 4
    assert rule.source_matchers == (Matcher("severity", MatchOp.EQUAL, "critical"),)
    assert rule.target_matchers == (
        Matcher("severity", MatchOp.REGEX, "warn.*"),
        Matcher("team", MatchOp.EQUAL, "x"),
    )
    assert rule.equal == ("service", "slo")
    assert config.receivers[0].kinds == ("slack",)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('severity="critical"', Matcher("severity", MatchOp.EQUAL, "critical")),
        ("severity = critical", Matcher("severity", MatchOp.EQUAL, "critical")),
        ('team!="a,b"', Matcher("team", MatchOp.NOT_EQUAL, "a,b")),
        ('x=~"a|b"', Matcher("x", MatchOp.REGEX, "a|b")),
        ('x!~"a\\"b"', Matcher("x", MatchOp.NOT_REGEX, 'a"b')),
        ("foo=", Matcher("foo", MatchOp.EQUAL, "")),
    ],
)
def test_parse_matcher(text: str, expected: Matcher) -> None:
    assert parse_matcher(text) == expected


def test_parse_matcher_list_form() -> None:
    assert parse_matchers('{a="b", c=~"d|e",f!="g,h"}') == [
        Matcher("a", MatchOp.EQUAL, "b"),
        Matcher("c", MatchOp.REGEX, "d|e"),
        Matcher("f", MatchOp.NOT_EQUAL, "g,h"),
    ]


def test_regex_is_anchored_and_missing_label_is_empty() -> None:
    assert not Matcher("s", MatchOp.REGEX, "crit").matches({"s": "critical"})
    assert Matcher("s", MatchOp.REGEX, "crit.*").matches({"s": "critical"})
    assert Matcher("s", MatchOp.NOT_EQUAL, "x").matches({})
    assert Matcher("s", MatchOp.REGEX, "").matches({})


@pytest.mark.parametrize("bad", ['a="b', "1a=b", 'a="b"c"', "a~b"])
def test_bad_matchers_rejected(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_matcher(bad)


def test_bad_matcher_in_config_names_line() -> None:
    with pytest.raises(ConfigError) as exc:
        text = "route:\n  receiver: a\n  routes:\n    - matchers: ['a=\"b']\nreceivers: [{name: a}]\n"
        parse_config(text, "am.yml")
    assert exc.value.line == 4 and str(exc.value).startswith("am.yml:4:")
