"""fireline.yaml's server:, prometheus: and escalation sections: defaults, errors with file:line, chains."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from fireline.incidents.escalation import Step, chain_for
from fireline.incidents.postmortem import BudgetImpact, budget_impact
from fireline.server.context import TokenError, read_token
from fireline.server.settings import ServerSettings
from fireline.spec.config import Config
from fireline.spec.errors import SpecError
from fireline.spec.loader import load_config

BASE = """apiVersion: fireline/v1
kind: Config
default_receiver: sre
receivers:
  sre: {slack: {channel: "#sre", api_url_file: /etc/fireline/slack.url}}
  pager: {pagerduty: {routing_key_file: /etc/fireline/pd.key}}
  lead: {slack: {channel: "@lead", api_url_file: /etc/fireline/slack.url}}
teams:
  payments:
    page: [pager]
"""


def _problems(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "fireline.yaml"
    path.write_text(text)
    with pytest.raises(SpecError) as caught:
        load_config(path)
    return [str(p) for p in caught.value.problems]


def test_defaults() -> None:
    server = ServerSettings()
    assert server.database == "sqlite:///fireline.db" and (server.host, server.port) == ("127.0.0.1", 8080)
    assert server.severity.severity_of({"severity": "critical"}) == "SEV1"
    assert server.severity.severity_of({"severity": "P1", "fireline_severity": "page"}) == "SEV2"
    assert server.severity.severity_of({"severity": "warning", "fireline_severity": "ticket"}) == "ticket"
    assert server.severity.severity_of({}) == "ticket"
    assert ServerSettings(database="postgresql://u@h/db").database == "postgresql+psycopg://u@h/db"


def test_escalation_receiver_typo_points_at_file_and_line(tmp_path: Path) -> None:
    text = BASE + "    escalation:\n    - {after: 0m, notify: [pager]}\n    - {after: 15m, notify: [laed]}\n"
    [problem] = _problems(tmp_path, text)
    assert "fireline.yaml:13" in problem and "'laed' is not defined" in problem and "did you mean 'lead'" in problem


def test_escalation_steps_must_be_in_order(tmp_path: Path) -> None:
    text = BASE + "    escalation:\n    - {after: 30m, notify: [lead]}\n    - {after: 0m, notify: [pager]}\n"
    [problem] = _problems(tmp_path, text)
    assert "increasing order of `after`" in problem and "fireline.yaml:12:5: teams.payments.escalation" in problem


@pytest.mark.parametrize("server,expected", [
    ("{database: mysql://x/y}", "must be sqlite:///PATH or postgresql://"),
    ("{listen: localhost}", "must be host:port"),
    ("{escalation_lead: nobody}", "server.escalation_lead 'nobody' is not defined"),
    ("{max_body_bytes: 10}", "greater than or equal to 1024"),
    ("{severity: {map: {critical: SEV9}}}", "got 'SEV9'"),
    ("{tokenfile: /x}", "tokenfile"),
])
def test_server_section_errors(tmp_path: Path, server: str, expected: str) -> None:
    problems = _problems(tmp_path, BASE + f"server: {server}\n")
    assert any(expected in p and "fireline.yaml:" in p for p in problems), problems


def test_slack_url_override_is_checked_like_other_urls(tmp_path: Path) -> None:
    text = BASE.replace('api_url_file: /etc/fireline/slack.url}}\n  pager',
                        'api_url_file: /etc/fireline/slack.url, url: "https://hooks.slack.com/services/T/B/X"}}\n'
                        '  pager', 1)
    assert any("Slack incoming-webhook URL, which is a secret" in p for p in _problems(tmp_path, text))


def _config(**server: object) -> Config:
    return Config.model_validate({
        "apiVersion": "fireline/v1", "kind": "Config", "default_receiver": "sre",
        "receivers": {name: {"slack": {"channel": "#x", "api_url_file": "/f"}} for name in ("sre", "pager", "lead",
                                                                                                  "director")},
        "teams": {"payments": {"page": ["pager"]},
                  "search": {"page": ["pager"], "escalation": [{"after": "0m", "notify": ["sre"]}]}},
        "server": server,
    })


def test_default_chain_engineer_lead_director() -> None:
    config = _config(escalation_lead="lead", escalation_director="director")
    assert chain_for(config, "payments", ticket=False) == [Step(0, ("pager",)), Step(900, ("lead",)),
                                                          Step(1800, ("director",))]
    assert chain_for(config, "unknown-team", ticket=False)[0] == Step(0, ("sre",))
    assert chain_for(config, "search", ticket=False) == [Step(0, ("sre",))]  # the team's own chain wins
    assert chain_for(config, "payments", ticket=True) == []
    assert chain_for(_config(), "payments", ticket=False) == [Step(0, ("pager",))]


def test_token_from_env_wins_over_file(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("from-file\n")
    settings = ServerSettings(token_file=str(token))
    assert read_token(settings, {}) == "from-file"
    assert read_token(settings, {"FIRELINE_TOKEN": "from-env"}) == "from-env"
    token.write_text("  \n")
    with pytest.raises(TokenError, match="is empty"):
        read_token(settings, {})
    with pytest.raises(TokenError, match="cannot read"):
        read_token(ServerSettings(token_file=str(tmp_path / "missing")), {})
    with pytest.raises(TokenError, match="no API token"):
        read_token(ServerSettings(), {})


def test_budget_impact_queries_the_budget_series_at_both_ends() -> None:
    start, end = datetime(2026, 11, 29, 12, tzinfo=UTC), datetime(2026, 11, 29, 13, tzinfo=UTC)
    asked: list[tuple[str, datetime]] = []

    def query(expr: str, at: datetime) -> float | None:
        asked.append((expr, at))
        return 0.8 if at == start else 0.65

    impact = budget_impact(query, "check\"out", "availability", start, end)
    assert impact == BudgetImpact(0.8, 0.65) and round(impact.consumed, 6) == 0.15
    assert asked[0] == ('slo:error_budget_remaining:ratio{service="check\\"out",slo="availability"}', start)
    assert budget_impact(lambda e, t: None, "a", "b", start, end) is None


def test_postmortem_reports_budget_consumed() -> None:
    from fireline.incidents.models import Incident
    from fireline.incidents.postmortem import render

    opened = datetime(2026, 11, 29, 12, tzinfo=UTC)
    incident = Incident(id=3, title="checkout burn", severity="SEV1", kind="incident", status="resolved",
                        service="checkout", slo="availability", team="payments", opened_at=opened,
                        resolved_at=datetime(2026, 11, 29, 13, 30, tzinfo=UTC))
    text = render(incident, [], [], [], BudgetImpact(0.8, 0.65), datetime(2026, 11, 29, 14, tzinfo=UTC))
    assert "- Duration: 1h 30m" in text
    assert "- Error budget consumed during the incident: 15.0% (remaining 80.0% → 65.0%)" in text
    assert "- Nobody acknowledged the incident." in text
    assert "review due by 2026-11-30 13:30:00 UTC" in text
