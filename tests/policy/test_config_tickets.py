"""policy: in fireline.yaml (errors name file:line and field), references, and ticket requests per tracker."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from fireline.policy.references import check_policy_references
from fireline.policy.settings import Tracker
from fireline.policy.tickets import TicketError, TicketRequest, open_ticket
from fireline.spec.config import Config
from fireline.spec.errors import SpecError
from fireline.spec.loader import load_config

TICKET = TicketRequest("Reliability: checkout", "budget at 8%", ["reliability"], "high", "2026-12-01", "k/1")


def load(tmp_path: Path, policy: str) -> Config:
    path = tmp_path / "fireline.yaml"
    path.write_text("apiVersion: fireline/v1\nkind: Config\npolicy:\n" + policy, encoding="utf-8")
    return load_config(path)


@pytest.mark.parametrize(("policy", "expected"), [
    ("  intervall: 1m\n", "fireline.yaml:4:3: policy.intervall: unknown field 'intervall'; did you mean 'interval'?"),
    ("  hysteresis: {margin: 60}\n", "policy.hysteresis.margin: margin is in percentage points"),
    ("  timezone: Mars/Olympus\n", "policy.timezone: timezone 'Mars/Olympus' is not an IANA time zone"),
    ("  tiers:\n    - {name: a, min_remaining: 10}\n    - {name: b, min_remaining: 20}\n    - {name: c}\n",
     "each min_remaining must be below the one before"),
    ("  tiers:\n    - {name: a, on_enter: {message: 'hi {user}'}}\n", "unknown placeholder {user}"),
    ("  trackers: {gh: {type: github, repository: acme/rel, token: abc}}\n", "token is an inline secret"),
    ("  tiers:\n    - {name: a, freeze: [features]}\n", "policy.tiers[0].freeze[0]"),
])
def test_bad_policy_names_file_line_and_field(tmp_path: Path, policy: str, expected: str) -> None:
    with pytest.raises(SpecError) as caught:
        load(tmp_path, policy)
    assert expected in str(caught.value)
    assert str(caught.value).startswith("fireline.yaml:") or "fireline.yaml:" in str(caught.value)


def test_default_policy_needs_its_receivers_and_tracker(tmp_path: Path) -> None:
    problems = check_policy_references(load(tmp_path, "  interval: 2m\n"))
    assert "policy.tiers[3].on_enter.notify[0] (tier critical): receiver 'leadership' is not defined under " \
           "receivers" in problems
    assert any("tracker 'reliability' is not defined" in p for p in problems)
    assert any("policy.tiers[4].on_enter.page[1] (tier lockdown): receiver 'eng-director'" in p for p in problems)


def recorder(status: int = 201, answer: object = None) -> tuple[list[httpx.Request], httpx.MockTransport]:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status, json=answer if answer is not None else {})
    return seen, httpx.MockTransport(handle)


def test_github_issue_request(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GH_TOKEN_TEST", "ghp_secret")
    tracker = Tracker(type="github", repository="acme/reliability", token_env="GH_TOKEN_TEST")
    seen, transport = recorder(answer={"number": 42, "html_url": "https://github.com/acme/reliability/issues/42"})
    result = open_ticket(tracker, "reliability", TICKET, transport=transport)
    assert result["url"] == "https://github.com/acme/reliability/issues/42" and result["id"] == 42
    request = seen[0]
    assert str(request.url) == "https://api.github.com/repos/acme/reliability/issues"
    assert request.headers["authorization"] == "Bearer ghp_secret"
    body = json.loads(request.content)
    assert body["labels"] == ["reliability", "priority:high"] and "Due: 2026-12-01" in body["body"]


def test_jira_issue_request_with_token_file(tmp_path: Path) -> None:
    token = tmp_path / "jira-token"
    token.write_text("jira-secret\n", encoding="utf-8")
    tracker = Tracker(type="jira", url="https://acme.atlassian.net", project="SRE", token_file=str(token),
                      user="bot@acme.example")
    seen, transport = recorder(answer={"key": "SRE-7", "self": "https://acme.atlassian.net/rest/api/2/issue/1"})
    assert open_ticket(tracker, "jira", TICKET, transport=transport)["id"] == "SRE-7"
    fields = json.loads(seen[0].content)["fields"]
    assert fields["project"] == {"key": "SRE"} and fields["priority"] == {"name": "High"}
    assert fields["duedate"] == "2026-12-01" and fields["issuetype"] == {"name": "Task"}
    assert seen[0].headers["authorization"].startswith("Basic ")


def test_ticket_errors_say_whether_to_retry_and_never_leak_the_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GH_TOKEN_TEST", "ghp_secret")
    tracker = Tracker(type="github", repository="acme/reliability", token_env="GH_TOKEN_TEST")
    for status, retryable in ((503, True), (429, True), (422, False), (401, False)):
        _, transport = recorder(status, {"message": "nope"})
        with pytest.raises(TicketError) as caught:
            open_ticket(tracker, "reliability", TICKET, transport=transport)
        assert caught.value.retryable is retryable
        assert "ghp_secret" not in str(caught.value)
    monkeypatch.delenv("GH_TOKEN_TEST")
    with pytest.raises(TicketError, match="GH_TOKEN_TEST is not set"):
        open_ticket(tracker, "reliability", TICKET, transport=recorder()[1])
