"""Response times: time to acknowledge and to resolve per incident, per team and overall (MTTA, MTTR).

Pure: rows in, report out. Only incidents count (tickets are not paged). An incident still not
acknowledged when the report is made counts against the target once it is older than it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

ACK_TARGET = timedelta(minutes=15)


@dataclass(frozen=True)
class IncidentTimes:
    id: int
    team: str | None
    severity: str
    title: str
    opened_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolved_at: datetime | None


@dataclass(frozen=True)
class IncidentResponse:
    id: int
    team: str | None
    severity: str
    title: str
    opened_at: datetime
    acknowledged_by: str | None
    time_to_acknowledge: float | None   # seconds
    time_to_resolve: float | None
    # True/False once known; None while open, unacknowledged and younger than the target.
    within_target: bool | None


@dataclass(frozen=True)
class Summary:
    incidents: int
    acknowledged: int
    resolved: int
    within_target: int
    missed_target: int
    mtta: float | None   # seconds
    mttr: float | None

    @property
    def within_target_ratio(self) -> float | None:
        judged = self.within_target + self.missed_target
        return self.within_target / judged if judged else None


@dataclass(frozen=True)
class Report:
    start: datetime
    end: datetime
    target: float
    overall: Summary
    teams: dict[str, Summary]
    incidents: list[IncidentResponse]


def response(row: IncidentTimes, now: datetime, target: timedelta = ACK_TARGET) -> IncidentResponse:
    tta = (row.acknowledged_at - row.opened_at).total_seconds() if row.acknowledged_at else None
    ttr = (row.resolved_at - row.opened_at).total_seconds() if row.resolved_at else None
    within: bool | None
    if tta is not None:
        within = tta <= target.total_seconds()
    elif row.resolved_at is not None or now - row.opened_at > target:
        within = False  # resolved without anyone acknowledging, or still waiting past the target
    else:
        within = None
    return IncidentResponse(row.id, row.team, row.severity, row.title, row.opened_at, row.acknowledged_by,
                            tta, ttr, within)


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def summarise(items: list[IncidentResponse]) -> Summary:
    acks = [i.time_to_acknowledge for i in items if i.time_to_acknowledge is not None]
    resolves = [i.time_to_resolve for i in items if i.time_to_resolve is not None]
    return Summary(len(items), len(acks), len(resolves), sum(1 for i in items if i.within_target is True),
                   sum(1 for i in items if i.within_target is False), _mean(acks), _mean(resolves))


def report(rows: list[IncidentTimes], start: datetime, end: datetime, now: datetime,
           target: timedelta = ACK_TARGET) -> Report:
    """Incidents opened in [start, end)."""
    items = [response(r, now, target) for r in sorted(rows, key=lambda r: (r.opened_at, r.id))
             if start <= r.opened_at < end]
    teams: dict[str, list[IncidentResponse]] = {}
    for item in items:
        teams.setdefault(item.team or "(no team)", []).append(item)
    return Report(start, end, target.total_seconds(), summarise(items),
                  {team: summarise(group) for team, group in sorted(teams.items())}, items)


def human(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"
