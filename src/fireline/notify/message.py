"""What a notification says, independent of where it goes (Slack, PagerDuty, a webhook)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class NoticeEvent(enum.StrEnum):
    TRIGGERED = "triggered"        # the incident opened: the first escalation step
    ESCALATED = "escalated"        # a later step: nobody acknowledged in time
    REOPENED = "reopened"
    ACKNOWLEDGED = "acknowledged"
    MITIGATED = "mitigated"
    RESOLVED = "resolved"
    STATUS_UPDATE = "status_update"


@dataclass(frozen=True)
class Notice:
    event: NoticeEvent
    incident_id: int
    title: str
    severity: str              # SEV1, SEV2, SEV3 or ticket
    status: str
    summary: str
    opened_at: str             # RFC 3339
    service: str | None = None
    slo: str | None = None
    team: str | None = None
    alertname: str | None = None
    burn_rate: str | None = None
    budget_remaining: str | None = None
    runbook_url: str | None = None
    incident_url: str | None = None
    escalation_step: int | None = None
    actor: str | None = None
    note: str | None = None
    # Titled sections of a status update (what happened, root cause, ...), in order.
    sections: list[tuple[str, str]] = field(default_factory=list)
    firing_alerts: int = 0
    # Who an escalation step paged (a schedule's person on call, or a named person).
    paged_person: str | None = None
    paged_slack_user: str | None = None
    paged_via: str | None = None

    @property
    def dedup_key(self) -> str:
        """One PagerDuty alert per incident: trigger, acknowledge and resolve all name it."""
        return f"fireline-{self.incident_id}"
