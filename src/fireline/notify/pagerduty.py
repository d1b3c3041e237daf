"""PagerDuty Events API v2 bodies: trigger, acknowledge, resolve on one dedup_key per incident.

The routing key is not part of the stored body: it is read from routing_key_file at delivery time
(fireline.notify.endpoints). `payload` is required for trigger only; summary is at most 1024
characters; severity is one of critical, error, warning, info.
"""

from __future__ import annotations

from typing import Any

from fireline.notify.links import safe_url
from fireline.notify.message import Notice, NoticeEvent

SEVERITY = {"SEV1": "critical", "SEV2": "error", "SEV3": "warning", "ticket": "info"}
_ACTION = {
    NoticeEvent.TRIGGERED: "trigger", NoticeEvent.ESCALATED: "trigger", NoticeEvent.REOPENED: "trigger",
    NoticeEvent.ACKNOWLEDGED: "acknowledge", NoticeEvent.RESOLVED: "resolve",
}


def supports(event: NoticeEvent) -> bool:
    """PagerDuty has no event for mitigation or status updates: those go to chat only."""
    return event in _ACTION


def event(notice: Notice) -> dict[str, Any]:
    action = _ACTION[notice.event]
    body: dict[str, Any] = {"event_action": action, "dedup_key": notice.dedup_key}
    if action != "trigger":
        return body
    details: dict[str, Any] = {"incident": notice.incident_id, "status": notice.status,
                               "fireline_severity": notice.severity}
    runbook = safe_url(notice.runbook_url)  # only http(s) links, in the details as in `links`
    for key in ("service", "slo", "team", "burn_rate", "budget_remaining"):
        value = getattr(notice, key)
        if value:
            details[key] = value
    if runbook:
        details["runbook_url"] = runbook
    if notice.escalation_step is not None:
        details["escalation_step"] = notice.escalation_step + 1
    if notice.paged_person:
        details["on_call"] = notice.paged_person + (f" ({notice.paged_via})" if notice.paged_via else "")
    body["payload"] = {
        "summary": (f"[{notice.severity}] {notice.title}")[:1024],
        "source": notice.service or "fireline",
        "severity": SEVERITY.get(notice.severity, "error"),
        "timestamp": notice.opened_at,
        "custom_details": details,
    }
    if notice.slo:
        body["payload"]["component"] = notice.slo
    if notice.team:
        body["payload"]["group"] = notice.team
    if notice.alertname:
        body["payload"]["class"] = notice.alertname
    links = []
    if runbook:
        links.append({"href": runbook, "text": "Runbook"})
    incident = safe_url(notice.incident_url)
    if incident:
        links.append({"href": incident, "text": f"fireline incident #{notice.incident_id}"})
    if links:
        body["links"] = links
    body["client"] = "fireline"
    if incident:
        body["client_url"] = incident
    return body
