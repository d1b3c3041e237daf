"""Slack Block Kit and PagerDuty Events v2 bodies against schemas written from the public docs."""

from __future__ import annotations

import copy
from datetime import datetime

import pytest

from fireline.notify import pagerduty, slack, webhook
from fireline.notify.endpoints import DeliveryTarget
from fireline.notify.message import Notice, NoticeEvent
from tests.notify.schemas import PAGERDUTY_EVENT_V2, SLACK_INCOMING_WEBHOOK, assert_pagerduty, assert_slack, errors
from tests.server.support import ROUTING_KEY


def notice(event: NoticeEvent = NoticeEvent.TRIGGERED, **changes: object) -> Notice:
    base = dict(
        event=event, incident_id=42, title="checkout availability: error budget burning 15.2x faster than allowed",
        severity="SEV1", status="triggered", summary="Burn rate over 1h: 15.20", opened_at="2026-11-29T12:00:00+00:00",
        service="checkout", slo="availability", team="payments", alertname="CheckoutAvailabilityErrorBudgetBurn",
        burn_rate="15.20", budget_remaining="81.3%", runbook_url="https://runbooks.example.com/checkout.md",
        incident_url="https://fireline.example.com/api/v1/incidents/42", escalation_step=0,
    )
    base.update(changes)
    return Notice(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize("event", list(NoticeEvent))
def test_every_slack_message_is_valid_block_kit(event: NoticeEvent) -> None:
    body = slack.message(notice(event, sections=[("What happened", "x"), ("Next steps", "y")]),
                         channel="#payments", username="fireline")
    assert_slack(body)
    types = [block["type"] for block in body["blocks"]]
    assert types[0] == "header" and types[-1] == "actions"
    buttons = body["blocks"][-1]["elements"]
    assert [b["action_id"] for b in buttons] == ["runbook", "incident"]


def test_slack_limits_are_respected_for_huge_input() -> None:
    big = notice(title="t" * 5000, summary="s" * 10_000, team="x" * 3000,
                 sections=[("Root cause", "r" * 9000)], note="n" * 4000)
    body = slack.message(big)
    assert_slack(body)
    assert len(body["blocks"][0]["text"]["text"]) == 150


def test_slack_fields_show_burn_rate_and_budget() -> None:
    fields = [f["text"] for f in slack.message(notice())["blocks"][1]["fields"]]
    assert "*Burn rate*\n15.20" in fields and "*Error budget left*\n81.3%" in fields


def test_relative_runbook_links_are_not_buttons() -> None:
    body = slack.message(notice(runbook_url="runbooks/checkout.md", incident_url=None))
    assert_slack(body)
    assert all(block["type"] != "actions" for block in body["blocks"])


def test_slack_schema_rejects_what_slack_rejects() -> None:
    good = slack.message(notice())
    for mutate in (
        lambda b: b["blocks"][0]["text"].update(type="mrkdwn"),          # header text must be plain_text
        lambda b: b["blocks"][0]["text"].update(text="x" * 151),         # header too long
        lambda b: b["blocks"][1].update(fields=[b["blocks"][1]["fields"][0]] * 11),  # at most 10 fields
        lambda b: b["blocks"][-1]["elements"][0].update(style="green"),  # style primary|danger
        lambda b: b["blocks"].append({"type": "banner"}),                # unknown block type
        lambda b: b.pop("text"),                                         # fallback text is required
    ):
        broken = copy.deepcopy(good)
        mutate(broken)
        assert errors(SLACK_INCOMING_WEBHOOK, broken), broken


@pytest.mark.parametrize("event", [NoticeEvent.TRIGGERED, NoticeEvent.ESCALATED, NoticeEvent.REOPENED,
                                   NoticeEvent.ACKNOWLEDGED, NoticeEvent.RESOLVED])
def test_pagerduty_events_are_valid_v2(event: NoticeEvent) -> None:
    body = DeliveryTarget("https://events.pagerduty.com/v2/enqueue", {"routing_key": ROUTING_KEY}).finish(
        pagerduty.event(notice(event)))
    assert_pagerduty(body)
    assert body["dedup_key"] == "fireline-42"
    if body["event_action"] == "trigger":
        datetime.fromisoformat(body["payload"]["timestamp"])
        assert body["payload"]["severity"] == "critical"


def test_pagerduty_has_no_event_for_mitigation_or_updates() -> None:
    assert not pagerduty.supports(NoticeEvent.MITIGATED)
    assert not pagerduty.supports(NoticeEvent.STATUS_UPDATE)


@pytest.mark.parametrize("severity,expected", [("SEV1", "critical"), ("SEV2", "error"), ("SEV3", "warning"),
                                               ("ticket", "info")])
def test_pagerduty_severity(severity: str, expected: str) -> None:
    body = pagerduty.event(notice(severity=severity))
    assert body["payload"]["severity"] == expected


def test_pagerduty_schema_rejects_what_pagerduty_rejects() -> None:
    good = {"routing_key": ROUTING_KEY, **pagerduty.event(notice())}
    for mutate in (
        lambda b: b.pop("payload"),                       # trigger needs a payload
        lambda b: b["payload"].update(severity="high"),   # not a v2 severity
        lambda b: b.update(event_action="create"),        # v1 vocabulary
        lambda b: b.update(service_key=ROUTING_KEY),      # v1 field
        lambda b: b["payload"].update(summary="x" * 1025),
    ):
        broken = copy.deepcopy(good)
        mutate(broken)
        assert errors(PAGERDUTY_EVENT_V2, broken), broken
    assert errors(PAGERDUTY_EVENT_V2, {"routing_key": ROUTING_KEY, "event_action": "resolve"})  # no dedup_key


def test_routing_key_is_never_stored() -> None:
    body = pagerduty.event(notice())
    assert "routing_key" not in body
    assert "routing_key" not in webhook.body(notice())
