"""Who is on call when: rotations, layers, restrictions and overrides, as pure functions of time.

No clock, database or HTTP here: callers pass the instant and the overrides. Every instant is an
aware datetime; results are in UTC.

Daylight saving: daily, weekly and whole-day custom shifts hand off at the same wall-clock time in
the schedule's zone all year (a shift across a DST change is 23 or 25 hours long, or a week of 167
or 169). A handoff at a time that does not exist that day (inside the spring-forward gap) happens
at the same offset as before the jump, i.e. one hour later on the wall clock (02:30 → 03:30); one
at a time that happens twice (fall back) happens at the first of the two. Custom shifts of other
lengths are exact elapsed time from the first handoff.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from fireline.oncall.settings import Layer, Restriction, Schedule

# Segments are computed over bounded spans only (API and feeds cap the span they ask for).
MAX_SPAN = timedelta(days=400)


@dataclass(frozen=True)
class Override:
    """`person` is on call for the schedule from `start` (inclusive) to `end` (exclusive)."""

    id: int
    person: str
    start: datetime
    end: datetime
    reason: str | None = None


@dataclass(frozen=True)
class OnCall:
    person: str
    # "override 3" or "layer 1" (1-based, in the order of fireline.yaml).
    source: str


@dataclass(frozen=True)
class Segment:
    start: datetime
    end: datetime
    person: str
    source: str


def _utc(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError("naive datetime: give the time zone (on-call maths works on instants)")
    return at.astimezone(UTC)


def _local(day: date, zone: ZoneInfo, hour: int, minute: int) -> datetime:
    """The instant of a wall-clock time on a day in a zone (fold=0: the first of repeated times;
    inside a gap, the offset from before the jump)."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone).astimezone(UTC)


class LayerClock:
    """Handoff instants of one layer: shift k starts at `handoff(k)` (k = 0 is the first shift)."""

    def __init__(self, layer: Layer, zone: ZoneInfo) -> None:
        self.layer = layer
        self.zone = zone
        first = layer.start
        weekday = layer.handoff_weekday
        if weekday is not None:
            first = first + timedelta(days=(weekday - first.weekday()) % 7)
        self.first_day = first
        self.handoff_time = layer.handoff_time
        self.days = layer.wall_clock_days
        self.first = self._wall(first)
        self.exact = (None if self.days is not None or layer.shift_length is None
                      else timedelta(milliseconds=layer.shift_length.milliseconds))
        self.end = None if layer.end is None else _local(layer.end, zone, 0, 0)

    def _wall(self, day: date) -> datetime:
        return _local(day, self.zone, self.handoff_time.hour, self.handoff_time.minute)

    def handoff(self, k: int) -> datetime:
        if self.days is not None:
            return self._wall(self.first_day + timedelta(days=k * self.days))
        assert self.exact is not None
        return self.first + k * self.exact

    def index(self, at: datetime) -> int:
        """The shift that `at` falls in (negative before the first handoff)."""
        at = _utc(at)
        if self.days is not None:
            # Estimate on the wall clock, then correct against the exact instants (DST moves them by an hour).
            wall = at.astimezone(self.zone).replace(tzinfo=None)
            first_wall = datetime.combine(self.first_day, self.handoff_time)
            k = (wall - first_wall) // timedelta(days=self.days)
        else:
            assert self.exact is not None
            k = (at - self.first) // self.exact
        while self.handoff(k) > at:
            k -= 1
        while self.handoff(k + 1) <= at:
            k += 1
        return k

    def active(self, at: datetime) -> bool:
        at = _utc(at)
        return at >= self.first and (self.end is None or at < self.end)

    def person(self, k: int) -> str:
        return self.layer.people[k % len(self.layer.people)]

    def boundaries(self, start: datetime, end: datetime) -> list[datetime]:
        """Handoffs, the layer's start and end, inside [start, end]."""
        found = [self.first] + ([self.end] if self.end is not None else [])
        k = max(self.index(start), 0)
        while True:
            moment = self.handoff(k)
            if moment > end:
                break
            found.append(moment)
            k += 1
        return [m for m in found if start <= m <= end]


def _restriction_windows(restriction: Restriction, zone: ZoneInfo, day: date) -> list[tuple[datetime, datetime]]:
    """The covered span that starts on `day`, if the restriction covers that weekday."""
    if day.weekday() not in restriction.weekdays:
        return []
    begin, finish = restriction.start_time, restriction.end_time
    start = _local(day, zone, begin.hour, begin.minute)
    end_day = day if finish > begin else day + timedelta(days=1)
    end = _local(end_day, zone, finish.hour, finish.minute)
    return [(start, end)] if end > start else []


def _restricted_in(layer: Layer, zone: ZoneInfo, at: datetime) -> bool:
    """Whether the layer covers `at` (always, without restrictions)."""
    if not layer.restrictions:
        return True
    day = at.astimezone(zone).date()
    for restriction in layer.restrictions:
        for candidate in (day - timedelta(days=1), day):
            for start, end in _restriction_windows(restriction, zone, candidate):
                if start <= at < end:
                    return True
    return False


class ScheduleClock:
    """One schedule's layers; overrides are passed per question (they live in the database)."""

    def __init__(self, schedule: Schedule) -> None:
        self.schedule = schedule
        self.zone = schedule.zone
        self.layers = [LayerClock(layer, self.zone) for layer in schedule.layers]

    def layer_person(self, index: int, at: datetime) -> str | None:
        clock = self.layers[index]
        if not clock.active(at) or not _restricted_in(clock.layer, self.zone, at):
            return None
        return clock.person(clock.index(at))

    def on_call(self, at: datetime, overrides: Sequence[Override] = ()) -> OnCall | None:
        """Who is on call at `at`: the newest override covering it, else the last layer with someone."""
        at = _utc(at)
        covering = [o for o in overrides if _utc(o.start) <= at < _utc(o.end)]
        if covering:
            newest = max(covering, key=lambda o: o.id)
            return OnCall(newest.person, f"override {newest.id}")
        for index in reversed(range(len(self.layers))):
            person = self.layer_person(index, at)
            if person is not None:
                return OnCall(person, f"layer {index + 1}")
        return None

    def segments(self, start: datetime, end: datetime, overrides: Sequence[Override] = ()) -> list[Segment]:
        """Who is on call over [start, end), as maximal spans of one person (gaps: nobody)."""
        start, end = _utc(start), _utc(end)
        if end <= start:
            return []
        if end - start > MAX_SPAN:
            raise ValueError(f"span longer than {MAX_SPAN.days} days")
        points = {start, end}
        for clock in self.layers:
            points.update(clock.boundaries(start, end))
        first_day = start.astimezone(self.zone).date() - timedelta(days=1)
        last_day = end.astimezone(self.zone).date()
        for layer in self.schedule.layers:
            for restriction in layer.restrictions:
                day = first_day
                while day <= last_day:
                    for a, b in _restriction_windows(restriction, self.zone, day):
                        points.update(p for p in (a, b) if start < p < end)
                    day += timedelta(days=1)
        for override in overrides:
            points.update(p for p in (_utc(override.start), _utc(override.end)) if start < p < end)
        ordered = sorted(p for p in points if start <= p <= end)
        out: list[Segment] = []
        for a, b in itertools.pairwise(ordered):
            who = self.on_call(a, overrides)
            if who is None:
                continue
            if out and out[-1].end == a and out[-1].person == who.person and out[-1].source == who.source:
                out[-1] = Segment(out[-1].start, b, who.person, who.source)
            else:
                out.append(Segment(a, b, who.person, who.source))
        return out

    def until(self, at: datetime, overrides: Sequence[Override] = (),
              horizon: timedelta = timedelta(days=35)) -> datetime | None:
        """When the answer of `on_call(at)` next changes (None: not within the horizon)."""
        current = self.on_call(at, overrides)
        for segment in self.segments(at, _utc(at) + horizon, overrides):
            if current is None:
                return segment.start
            if segment.start <= _utc(at) < segment.end:
                return segment.end if segment.end < _utc(at) + horizon else None
        return None


def person_segments(clocks: Mapping[str, ScheduleClock], overrides: Mapping[str, Sequence[Override]], person: str,
                    start: datetime, end: datetime) -> list[tuple[str, Segment]]:
    """Every span in which `person` is on call, over all schedules: (schedule, segment), by start."""
    found = [(name, segment) for name, clock in sorted(clocks.items())
             for segment in clock.segments(start, end, overrides.get(name, []))
             if segment.person == person]
    return sorted(found, key=lambda item: (item[1].start, item[0]))
