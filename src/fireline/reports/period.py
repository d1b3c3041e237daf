"""Report periods: a calendar month (2026-11), an ISO week (2026-W48) or the last N days (last-30d).

Months and weeks begin at midnight in the given zone (DST-correct through zoneinfo). A period that
has not ended yet ends now: the report covers what has happened so far and says so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
_LAST = re.compile(r"^last-(\d+)d$")
FORMS = "YYYY-MM (a month), YYYY-Www (an ISO week) or last-Nd (the N days up to now)"


class PeriodError(ValueError):
    """The period text is not one of the accepted forms, or names a period that has not begun."""


@dataclass(frozen=True)
class Period:
    label: str  # as given: 2026-11, 2026-W48, last-30d
    start: datetime  # UTC
    end: datetime  # UTC; now when the period is still running
    complete: bool  # False: the period runs past now and the report covers it so far
    timezone: str
    until_now: bool = False  # end is now (whole seconds): rows stored during this second belong in it

    @property
    def seconds(self) -> int:
        return int((self.end - self.start).total_seconds())

    @property
    def rows_end(self) -> datetime:
        """Exclusive bound for stored rows (incidents, transitions) that belong to the period."""
        return self.end + timedelta(seconds=1) if self.until_now else self.end

    def describe(self) -> str:
        zone = ZoneInfo(self.timezone)
        start, end = self.start.astimezone(zone), self.end.astimezone(zone)
        text = f"{start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} ({self.timezone})"
        return text if self.complete else f"{text}, so far"


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)


def parse_period(text: str, now: datetime, timezone: str = "UTC") -> Period:
    zone = ZoneInfo(timezone)
    now = now.astimezone(UTC).replace(microsecond=0)
    value = text.strip()
    if match := _MONTH.match(value):
        year, month = int(match.group(1)), int(match.group(2))
        if not 1 <= month <= 12:
            raise PeriodError(f"period {text!r}: month {month} is not 01-12")
        start = _midnight(date(year, month, 1), zone)
        following = date(year + (month == 12), month % 12 + 1, 1)
        end = _midnight(following, zone)
    elif match := _WEEK.match(value):
        year, week = int(match.group(1)), int(match.group(2))
        try:
            monday = date.fromisocalendar(year, week, 1)
        except ValueError:
            raise PeriodError(f"period {text!r}: {year} has no ISO week {week}") from None
        start = _midnight(monday, zone)
        end = _midnight(monday + timedelta(days=7), zone)
    elif match := _LAST.match(value):
        days = int(match.group(1))
        if not 1 <= days <= 400:
            raise PeriodError(f"period {text!r}: the number of days must be 1 to 400")
        return Period(value, now - timedelta(days=days), now, True, timezone, until_now=True)
    else:
        raise PeriodError(f"period {text!r} is not {FORMS}")
    if start >= now:
        raise PeriodError(f"period {text!r} begins {start.isoformat()}, after now ({now.isoformat()})")
    return Period(value, start, min(end, now), end <= now, timezone, until_now=end > now)
