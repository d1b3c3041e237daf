"""fireline.yaml's Alertmanager sections: clear, located errors for bad input; secrets only by file."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from fireline.spec.config import Config
from fireline.spec.errors import SpecError
from fireline.spec.loader import load_config

EXAMPLES = Path(__file__).parents[2] / "examples"

HEAD = "apiVersion: fireline/v1\nkind: Config\n"


def load_text(tmp_path: Path, body: str) -> Config:
    path = tmp_path / "fireline.yaml"
    path.write_text(HEAD + textwrap.dedent(body), encoding="utf-8")
    return load_config(path)


def problems(tmp_path: Path, body: str) -> list[str]:
    with pytest.raises(SpecError) as info:
        load_text(tmp_path, body)
    return [f"{p.line}:{p.field}: {p.message}" for p in info.value.problems]


def test_example_config_loads() -> None:
    config = load_config(EXAMPLES / "fireline.yaml")
    assert config.default_receiver == "sre-slack"
    assert config.teams["payments"].page == ["payments-pager", "payments-slack"]
    assert config.alertmanager.defaults.group_by == ["alertname", "service", "severity"]
    assert str(config.alertmanager.defaults.repeat_interval) == "4h"
    assert config.runbooks.base_url == "runbooks"


def test_defaults_when_sections_are_left_out(tmp_path: Path) -> None:
    config = load_text(tmp_path, "")
    assert config.default_receiver is None
    assert config.alertmanager.version == "0.25"
    defaults = config.alertmanager.defaults
    timers = (defaults.group_wait, defaults.group_interval, defaults.repeat_interval)
    assert [str(d) for d in timers] == ["30s", "5m", "4h"]


def test_undefined_team_receiver_is_named_with_its_line(tmp_path: Path) -> None:
    found = problems(tmp_path, """\
        default_receiver: sre
        receivers:
          sre: {slack: {channel: "#sre", api_url_file: /s}}
          payments-slack: {slack: {channel: "#p", api_url_file: /s}}
        teams:
          payments: {page: [payments-slak]}
        """)
    assert found == ["8:teams.payments.page[0]: team 'payments' page receiver 'payments-slak' is not defined "
                     "under receivers; did you mean 'payments-slack'?"]


def test_undefined_default_receiver(tmp_path: Path) -> None:
    found = problems(tmp_path, """\
        default_receiver: nobody
        receivers:
          sre: {slack: {channel: "#sre", api_url_file: /s}}
        """)
    assert found == ["3:default_receiver: default_receiver 'nobody' is not defined under receivers "
                     "(defined receivers: sre)"]


def test_teams_without_default_receiver(tmp_path: Path) -> None:
    found = problems(tmp_path, """\
        receivers:
          sre: {slack: {channel: "#sre", api_url_file: /s}}
        teams:
          sre: {page: [sre]}
        """)
    assert len(found) == 1 and found[0].startswith("1:default_receiver: default_receiver is required")


@pytest.mark.parametrize(("receiver", "expected"), [
    ("{pagerduty: {routing_key_file: /k, routing_key: abc123}}",
     "receivers.r.pagerduty.routing_key: routing_key is an inline secret"),
    ("{slack: {channel: '#a', api_url_file: /s, api_url: 'https://hooks.slack.com/services/T/B/X'}}",
     "receivers.r.slack.api_url: api_url (the Slack webhook URL) is an inline secret"),
    ("{pagerduty: {routing_key_file: /k, service_key: abc}}",
     "receivers.r.pagerduty.service_key: service_key is the PagerDuty Events API v1"),
    ("{pagerduty: {routing_key_file: /k, url: 'https://events.pagerduty.com/generic/2010-04-15/create_event.json'}}",
     "receivers.r.pagerduty.url: url 'https://events.pagerduty.com/generic/2010-04-15/create_event.json' "
     "is the Events API v1 endpoint"),
    ("{webhook: {url: 'https://hooks.slack.com/services/T/B/X'}}",
     "receivers.r.webhook.url: url is a Slack incoming-webhook URL"),
    ("{webhook: {url: 'https://example.com/hook?token=abc'}}",
     "receivers.r.webhook.url: url carries a token in its query string"),
    ("{webhook: {url: 'https://user:pw@example.com/hook'}}",
     "receivers.r.webhook.url: url carries a password in the URL"),
    ("{pagerduty: {routing_key_file: YOUR_PAGERDUTY_KEY}}",
     "receivers.r.pagerduty.routing_key_file: routing_key_file 'YOUR_PAGERDUTY_KEY' looks like a "
     "placeholder"),
    ("{email: {to: a@b, from: c@d, smarthost: 'smtp:587', auth_password: hunter2}}",
     "receivers.r.email.auth_password: auth_password is an inline secret"),
    ("{webhook: {url_file: /u}}",
     "receivers.r.webhook.url_file: url_file needs Alertmanager 0.26 or newer"),
    ("{}", "receivers.r: a receiver needs at least one of pagerduty, slack, webhook or email"),
    ("{slack: {channel: payments, api_url_file: /s}}",
     "receivers.r.slack.channel: channel 'payments' must be a channel such as '#payments-alerts'"),
])
def test_bad_receivers(tmp_path: Path, receiver: str, expected: str) -> None:
    found = problems(tmp_path, f"default_receiver: r\nreceivers:\n  r: {receiver}\n")
    assert any(expected in p for p in found), found
    assert all("abc123" not in p and "hunter2" not in p for p in found), "a secret was echoed in an error"


def test_url_file_is_accepted_for_newer_alertmanager(tmp_path: Path) -> None:
    config = load_text(tmp_path, """\
        alertmanager: {version: "0.28"}
        default_receiver: r
        receivers:
          r: {webhook: {url_file: /etc/fireline/hook.url}}
        """)
    assert config.alertmanager.version_tuple == (0, 28)


@pytest.mark.parametrize(("section", "expected"), [
    ("alertmanager: {version: '0.24'}", "older than 0.25"),
    ("alertmanager: {version: latest}", "is not a version"),
    ("alertmanager: {webhook: 127.0.0.1:8080/hook}", "must be an http:// or https:// URL"),
    ("alertmanager: {defaults: {group_by: [alertname, '...']}}",
     "'...' (group by every label) must be the only"),
    ("alertmanager: {defaults: {group_by: [service, service]}}", "group_by repeats service"),
    ("alertmanager: {defaults: {repeat_interval: 0s}}", "repeat_interval cannot be 0"),
    ("alertmanager: {defaults: {group_wait: 30}}", "is a bare number"),
    ("alertmanager: {defualts: {}}", "unknown field 'defualts'; did you mean 'defaults'?"),
    ("receivers: {fireline: {webhook: {url: 'http://x/'}}}\ndefault_receiver: fireline",
     "receiver name 'fireline' is reserved"),
    ("default_receiver: r\nreceivers: {r: {slack: {channel: '#a', api_url_file: /s}}}\n"
     "teams: {payments: {page: [r, r]}}", "page lists r twice"),
])
def test_bad_sections(tmp_path: Path, section: str, expected: str) -> None:
    found = problems(tmp_path, section + "\n")
    assert any(expected in p for p in found), found


def test_float_version_is_read_as_text(tmp_path: Path) -> None:
    assert load_text(tmp_path, "alertmanager: {version: 0.27}\n").alertmanager.version == "0.27"
