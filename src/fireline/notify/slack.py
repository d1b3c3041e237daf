"""Slack incoming-webhook messages in Block Kit: header, summary with fields, context, buttons.

Limits from Slack's Block Kit reference: header text is plain_text up to 150 characters; section
text up to 3000; at most 10 section fields of up to 2000 each; button text up to 75 and url up to
3000; `text` is the notification fallback when blocks are present.

Every text that comes from an alert or a person (title, summary, labels, notes, update sections) is
escaped (`&`, `<`, `>`), so it cannot mention `<!channel>` or hide a link; only fireline's own markup
(bold field names) is left as markup. Buttons link to http(s) URLs only.
"""

from __future__ import annotations

from typing import Any

from fireline.notify.links import safe_url, slack_clip, slack_escape
from fireline.notify.message import Notice, NoticeEvent

_ICON = {"SEV1": ":red_circle:", "SEV2": ":large_orange_circle:", "SEV3": ":large_yellow_circle:",
         "ticket": ":large_blue_circle:"}
_VERB = {
    NoticeEvent.TRIGGERED: "triggered", NoticeEvent.ESCALATED: "escalated",
    NoticeEvent.REOPENED: "reopened", NoticeEvent.ACKNOWLEDGED: "acknowledged",
    NoticeEvent.MITIGATED: "mitigated", NoticeEvent.RESOLVED: "resolved",
    NoticeEvent.STATUS_UPDATE: "status update",
}


def _clip(text: str, limit: int) -> str:
    return slack_clip(text, limit)


def _plain(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": _clip(text or " ", limit), "emoji": True}


def _mrkdwn(text: str, limit: int = 3000) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": _clip(text or " ", limit)}


# action_id of the interactive buttons (fireline.oncall.slack handles the presses).
ACKNOWLEDGE_ACTION = "fireline_acknowledge"
ON_IT_ACTION = "fireline_on_it"
RESOLVE_ACTION = "fireline_resolve"


def _interactive_buttons(notice: Notice) -> list[dict[str, Any]]:
    """Acknowledge and "I'm on it" while nobody owns the incident, Resolve until it is resolved."""
    value = str(notice.incident_id)
    buttons: list[dict[str, Any]] = []
    if notice.status == "triggered":
        buttons.append({"type": "button", "action_id": ACKNOWLEDGE_ACTION, "style": "primary", "value": value,
                        "text": _plain("Acknowledge", 75)})
        buttons.append({"type": "button", "action_id": ON_IT_ACTION, "value": value, "text": _plain("I'm on it", 75)})
    if notice.status != "resolved":
        buttons.append({"type": "button", "action_id": RESOLVE_ACTION, "style": "danger", "value": value,
                        "text": _plain("Resolve", 75),
                        "confirm": {"title": _plain("Resolve the incident?", 100),
                                    "text": _plain(f"Incident #{notice.incident_id} will be closed and PagerDuty "
                                                   "resolved.", 300),
                                    "confirm": _plain("Resolve", 30), "deny": _plain("Cancel", 30)}})
    return buttons


def message(notice: Notice, *, channel: str | None = None, username: str | None = None,
            interactive: bool = False) -> dict[str, Any]:
    """interactive: add Acknowledge / I'm on it / Resolve buttons (the messages of a Slack app)."""
    esc = slack_escape
    icon = ":large_green_circle:" if notice.event is NoticeEvent.RESOLVED else _ICON.get(notice.severity, "")
    verb = _VERB[notice.event]
    if notice.event is NoticeEvent.ESCALATED and notice.escalation_step is not None:
        verb = f"escalated (step {notice.escalation_step + 1}, not acknowledged)"
    headline = f"{esc(notice.severity)} {verb}: {esc(notice.title)}"
    fields = [("Severity", notice.severity), ("Status", notice.status)]
    if notice.service:
        fields.append(("Service", f"{notice.service}/{notice.slo}" if notice.slo else notice.service))
    if notice.team:
        fields.append(("Team", notice.team))
    if notice.burn_rate:
        fields.append(("Burn rate", notice.burn_rate))
    if notice.budget_remaining:
        fields.append(("Error budget left", notice.budget_remaining))
    if notice.firing_alerts:
        fields.append(("Firing alerts", str(notice.firing_alerts)))
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": _plain(f"{icon} {headline}".strip(), 150)},
        {"type": "section", "text": _mrkdwn(esc(notice.summary)),
         "fields": [_mrkdwn(f"*{name}*\n{esc(value)}", 2000) for name, value in fields[:10]]},
    ]
    if notice.paged_person:
        who = (f"<@{notice.paged_slack_user}> ({notice.paged_person})" if notice.paged_slack_user
               else notice.paged_person)
        via = f", on call in {notice.paged_via}" if notice.paged_via else ""
        blocks.append({"type": "section", "text": _mrkdwn(f":pager: Paging {who}{via}")})
    for title, text in notice.sections:
        blocks.append({"type": "section", "text": _mrkdwn(f"*{esc(title)}*\n{esc(text)}")})
    context = [f"Incident #{notice.incident_id}", f"opened {esc(notice.opened_at)}"]
    if notice.actor:
        context.append(f"by {esc(notice.actor)}")
    if notice.note:
        context.append(esc(notice.note))
    blocks.append({"type": "context", "elements": [_mrkdwn(" · ".join(context), 3000)]})
    buttons = []
    runbook = safe_url(notice.runbook_url)
    if runbook is not None and len(runbook) <= 3000:
        buttons.append({"type": "button", "action_id": "runbook", "text": _plain("Runbook", 75), "url": runbook})
    incident = safe_url(notice.incident_url)
    if incident is not None:
        buttons.append({"type": "button", "action_id": "incident", "style": "primary",
                        "text": _plain(f"Incident #{notice.incident_id}", 75), "url": incident[:3000]})
    if interactive:
        buttons.extend(_interactive_buttons(notice))
    if buttons:
        blocks.append({"type": "actions", "elements": buttons})
    out: dict[str, Any] = {"text": _clip(headline, 3000), "blocks": blocks}
    if channel:
        out["channel"] = channel
    if username:
        out["username"] = username
    return out
