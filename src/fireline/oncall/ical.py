"""iCalendar (RFC 5545) feeds of on-call shifts: one per schedule, one per person.

Events carry UTC times (exact across daylight-saving changes; calendar apps show them in local
time). UIDs are derived from schedule, person and start, so a client that refreshes the feed
updates events instead of duplicating them. DTSTAMP is the `now` passed in, so a feed is a
function of its inputs (golden-tested).
"""

from __future__ import annotations

from datetime import UTC, datetime

from icalendar import Calendar, Event

from fireline.oncall.rotation import Segment

PRODID = "-//fireline//on-call//EN"


def feed(title: str, shifts: list[tuple[str, Segment]], now: datetime, *, description: str | None = None) -> bytes:
    """shifts: (schedule, segment) pairs."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", title)
    if description:
        calendar.add("x-wr-caldesc", description)
    stamp = now.astimezone(UTC).replace(microsecond=0)
    for schedule, segment in shifts:
        start = segment.start.astimezone(UTC)
        event = Event()
        event.add("uid", f"{schedule}.{segment.person}.{start:%Y%m%dT%H%M%SZ}@fireline")
        event.add("dtstamp", stamp)
        event.add("dtstart", start)
        event.add("dtend", segment.end.astimezone(UTC))
        event.add("summary", f"{segment.person} on call: {schedule}")
        event.add("description", f"{segment.person} is on call for {schedule} ({segment.source}).")
        event.add("categories", ["on-call"])
        event.add("transp", "TRANSPARENT")
        calendar.add_component(event)
    data: bytes = calendar.to_ical()
    return data
