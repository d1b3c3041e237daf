"""The pure core: rotations, layers, restrictions, overrides and daylight-saving changes."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fireline.oncall.ical import feed
from fireline.oncall.rotation import OnCall, Override, ScheduleClock, Segment
from fireline.oncall.settings import Schedule
from fireline.spec.errors import SpecError
from fireline.spec.loader import load_config

HERE = Path(__file__).parent
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def clock(zone: str, *layers: dict[str, Any]) -> ScheduleClock:
    return ScheduleClock(Schedule.model_validate({"time_zone": zone, "layers": list(layers)}))


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def who(c: ScheduleClock, at: datetime, overrides: list[Override] | None = None) -> str | None:
    found = c.on_call(at, overrides or [])
    return found.person if found else None


WEEKLY = {"rotation": "weekly", "handoff": "Mon 09:00", "start": "2026-11-02", "people": ["alice", "bob"]}


# ------------------------------------------------------------------------------------------ rotations

def test_weekly_rotation_of_the_issue_hands_off_on_monday_at_nine_berlin_time() -> None:
    c = clock("Europe/Berlin", WEEKLY)
    assert who(c, utc("2026-11-02T07:59:59Z")) is None  # before the first handoff (09:00 CET = 08:00Z)
    assert c.on_call(utc("2026-11-02T08:00:00Z")) == OnCall("alice", "layer 1")
    assert who(c, utc("2026-11-09T07:59:59Z")) == "alice"
    assert who(c, utc("2026-11-09T08:00:00Z")) == "bob"
    assert who(c, utc("2026-11-16T08:00:00Z")) == "alice"
    assert who(c, utc("2026-12-02T12:00:00Z")) == "alice"  # week of Mon 30 Nov: shift 4


def test_weekly_handoff_day_after_the_start_date_waits_for_that_day() -> None:
    c = clock("UTC", {**WEEKLY, "handoff": "Wed 10:00", "start": "2026-11-02"})
    assert who(c, utc("2026-11-04T09:59:00Z")) is None
    assert who(c, utc("2026-11-04T10:00:00Z")) == "alice"
    assert who(c, utc("2026-11-11T10:00:00Z")) == "bob"


def test_weekly_without_a_day_hands_off_on_the_start_dates_weekday() -> None:
    c = clock("UTC", {**WEEKLY, "handoff": "09:00", "start": "2026-11-05"})  # a Thursday
    assert who(c, utc("2026-11-12T08:59:00Z")) == "alice"
    assert who(c, utc("2026-11-12T09:00:00Z")) == "bob"


def test_daily_rotation_cycles_through_everyone() -> None:
    c = clock("UTC", {"rotation": "daily", "handoff": "18:00", "start": "2026-11-01", "people": ["a", "b", "c"]})
    seen = [who(c, utc(f"2026-11-{day:02d}T19:00:00Z")) for day in range(1, 8)]
    assert seen == ["a", "b", "c", "a", "b", "c", "a"]
    assert who(c, utc("2026-11-02T17:59:59Z")) == "a"


def test_custom_exact_shifts_are_elapsed_time() -> None:
    c = clock("UTC", {"rotation": "custom", "shift_length": "12h", "handoff": "08:00", "start": "2026-11-01",
                      "people": ["day", "night"]})
    assert who(c, utc("2026-11-01T08:00:00Z")) == "day"
    assert who(c, utc("2026-11-01T20:00:00Z")) == "night"
    assert who(c, utc("2026-11-02T07:59:00Z")) == "night"
    assert who(c, utc("2026-11-02T08:00:00Z")) == "day"


def test_layer_end_stops_the_rotation() -> None:
    c = clock("UTC", {**WEEKLY, "end": "2026-11-20"})
    assert who(c, utc("2026-11-19T23:59:00Z")) == "alice"
    assert who(c, utc("2026-11-20T00:00:00Z")) is None


# ---------------------------------------------------------------------------------- daylight saving

def test_daily_handoff_keeps_nine_oclock_across_both_dst_changes_in_berlin() -> None:
    c = clock("Europe/Berlin", {"rotation": "daily", "handoff": "09:00", "start": "2027-03-20",
                                "people": ["a", "b"]})
    # 2027-03-28 02:00 CET → 03:00 CEST: 09:00 local moves from 08:00Z to 07:00Z.
    shifts = c.segments(utc("2027-03-27T00:00:00Z"), utc("2027-03-30T00:00:00Z"))
    starts = [s.start.astimezone(BERLIN).strftime("%m-%d %H:%M") for s in shifts[1:]]
    assert starts == ["03-27 09:00", "03-28 09:00", "03-29 09:00"]
    assert shifts[1].end - shifts[1].start == timedelta(hours=23)  # Sat 09:00 CET → Sun 09:00 CEST
    assert shifts[2].end - shifts[2].start == timedelta(hours=24)
    # 2027-10-31 03:00 CEST → 02:00 CET: that shift is 25 hours long.
    autumn = c.segments(utc("2027-10-30T00:00:00Z"), utc("2027-11-01T12:00:00Z"))
    assert [s.start.astimezone(BERLIN).hour for s in autumn[1:]] == [9, 9, 9]
    assert autumn[1].end - autumn[1].start == timedelta(hours=25)  # Sat 09:00 CEST → Sun 09:00 CET


def test_weekly_handoff_stays_at_local_time_over_the_spring_change() -> None:
    c = clock("Europe/Berlin", WEEKLY)
    # Mon 2027-03-22 09:00 CET = 08:00Z; Mon 2027-03-29 09:00 CEST = 07:00Z: a week of 167 hours.
    assert who(c, utc("2027-03-29T06:59:59Z")) == who(c, utc("2027-03-22T08:00:00Z"))
    assert who(c, utc("2027-03-29T07:00:00Z")) != who(c, utc("2027-03-22T08:00:00Z"))


def test_handoff_inside_the_spring_gap_happens_after_the_jump() -> None:
    # New York, 2027-03-14: 02:00 EST jumps to 03:00 EDT, so 02:30 does not exist that day.
    c = clock("America/New_York", {"rotation": "daily", "handoff": "02:30", "start": "2027-03-12",
                                   "people": ["a", "b"]})
    handoffs = [s.start for s in c.segments(utc("2027-03-13T00:00:00Z"), utc("2027-03-16T00:00:00Z"))[1:]]
    local = [h.astimezone(NEW_YORK).strftime("%d %H:%M %Z") for h in handoffs]
    assert local == ["13 02:30 EST", "14 03:30 EDT", "15 02:30 EDT"]


def test_handoff_at_a_repeated_time_happens_at_the_first_one() -> None:
    # Berlin, 2026-10-25: 03:00 CEST falls back to 02:00 CET; 02:30 happens twice.
    c = clock("Europe/Berlin", {"rotation": "daily", "handoff": "02:30", "start": "2026-10-20",
                                "people": ["a", "b"]})
    first = utc("2026-10-25T00:30:00Z")  # 02:30 CEST
    assert who(c, first - timedelta(seconds=1)) != who(c, first)
    assert who(c, first) == who(c, utc("2026-10-25T01:30:00Z"))  # the second 02:30 is no handoff


def test_exact_twelve_hour_shifts_drift_on_the_wall_clock_across_dst() -> None:
    c = clock("Europe/Berlin", {"rotation": "custom", "shift_length": "12h", "handoff": "08:00",
                                "start": "2027-03-27", "people": ["day", "night"]})
    after = c.segments(utc("2027-03-28T12:00:00Z"), utc("2027-03-29T12:00:00Z"))
    assert all(s.end - s.start == timedelta(hours=12) for s in after[1:-1])
    assert after[1].start.astimezone(BERLIN).hour == 21  # 08:00 CET + 36h of elapsed time = 21:00 CEST


def test_whole_day_custom_shifts_keep_the_wall_clock() -> None:
    c = clock("Europe/Berlin", {"rotation": "custom", "shift_length": "3d", "handoff": "10:00",
                                "start": "2027-03-25", "people": ["a", "b"]})
    starts = [s.start.astimezone(BERLIN) for s in c.segments(utc("2027-03-25T00:00:00Z"),
                                                               utc("2027-04-05T00:00:00Z"))]
    assert [(s.day, s.hour) for s in starts] == [(25, 10), (28, 10), (31, 10), (3, 10)]


# --------------------------------------------------------------------------- layers and restrictions

BUSINESS_HOURS = {"rotation": "weekly", "handoff": "Mon 09:00", "start": "2026-11-02", "people": ["dana"],
                  "restrictions": [{"days": ["mon", "tue", "wed", "thu", "fri"], "from": "09:00", "to": "17:00"}]}


def test_a_restricted_later_layer_covers_business_hours_and_the_base_layer_the_rest() -> None:
    c = clock("Europe/Berlin", WEEKLY, BUSINESS_HOURS)
    assert c.on_call(utc("2026-12-02T10:00:00Z")) == OnCall("dana", "layer 2")  # Wed 11:00 Berlin
    assert c.on_call(utc("2026-12-02T16:00:00Z")) == OnCall("alice", "layer 1")  # Wed 17:00 Berlin: ended
    assert c.on_call(utc("2026-12-05T10:00:00Z")) == OnCall("alice", "layer 1")  # Saturday
    day = c.segments(utc("2026-12-02T00:00:00Z"), utc("2026-12-03T00:00:00Z"))
    assert [(s.person, s.start.astimezone(BERLIN).hour) for s in day] == [("alice", 1), ("dana", 9), ("alice", 17)]


def test_a_restriction_past_midnight_covers_the_night() -> None:
    nights = {"rotation": "daily", "handoff": "17:00", "start": "2026-11-01", "people": ["owl"],
              "restrictions": [{"from": "22:00", "to": "06:00"}]}
    c = clock("UTC", nights)
    assert who(c, utc("2026-11-03T23:00:00Z")) == "owl"
    assert who(c, utc("2026-11-04T05:59:00Z")) == "owl"
    assert who(c, utc("2026-11-04T06:00:00Z")) is None
    assert who(c, utc("2026-11-04T21:59:00Z")) is None


def test_restriction_hours_follow_local_time_across_dst() -> None:
    c = clock("Europe/Berlin", BUSINESS_HOURS)
    assert who(c, utc("2027-03-26T08:00:00Z")) == "dana"   # Fri 09:00 CET
    assert who(c, utc("2027-03-29T06:30:00Z")) is None     # Mon 08:30 CEST
    assert who(c, utc("2027-03-29T07:00:00Z")) == "dana"   # Mon 09:00 CEST


# --------------------------------------------------------------------------------------- overrides

def test_an_override_wins_over_every_layer_and_ends_exclusively() -> None:
    c = clock("Europe/Berlin", WEEKLY, BUSINESS_HOURS)
    cover = Override(1, "carol", utc("2026-12-02T09:30:00Z"), utc("2026-12-02T12:00:00Z"))
    assert c.on_call(utc("2026-12-02T10:00:00Z"), [cover]) == OnCall("carol", "override 1")
    assert c.on_call(utc("2026-12-02T12:00:00Z"), [cover]) == OnCall("dana", "layer 2")


def test_the_newest_of_overlapping_overrides_wins() -> None:
    c = clock("UTC", WEEKLY)
    older = Override(1, "carol", utc("2026-12-01T00:00:00Z"), utc("2026-12-10T00:00:00Z"))
    newer = Override(2, "erin", utc("2026-12-03T00:00:00Z"), utc("2026-12-04T00:00:00Z"))
    assert who(c, utc("2026-12-03T12:00:00Z"), [newer, older]) == "erin"
    assert who(c, utc("2026-12-04T12:00:00Z"), [newer, older]) == "carol"
    spans = c.segments(utc("2026-12-02T00:00:00Z"), utc("2026-12-05T00:00:00Z"), [older, newer])
    assert [(s.person, s.source) for s in spans] == [("carol", "override 1"), ("erin", "override 2"),
                                                     ("carol", "override 1")]


def test_an_override_fills_a_gap_nobody_covers() -> None:
    c = clock("UTC", {**BUSINESS_HOURS, "restrictions": [{"days": ["mon"], "from": "09:00", "to": "10:00"}]})
    night = Override(5, "owl", utc("2026-12-02T00:00:00Z"), utc("2026-12-02T06:00:00Z"))
    assert who(c, utc("2026-12-02T03:00:00Z")) is None
    assert who(c, utc("2026-12-02T03:00:00Z"), [night]) == "owl"


def test_until_is_the_next_change() -> None:
    c = clock("Europe/Berlin", WEEKLY)
    assert c.until(utc("2026-12-02T12:00:00Z")) == utc("2026-12-07T08:00:00Z")
    cover = Override(1, "carol", utc("2026-12-03T00:00:00Z"), utc("2026-12-04T00:00:00Z"))
    assert c.until(utc("2026-12-02T12:00:00Z"), [cover]) == utc("2026-12-03T00:00:00Z")
    assert c.until(utc("2026-11-01T00:00:00Z")) == utc("2026-11-02T08:00:00Z")  # nobody until the start


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        clock("UTC", WEEKLY).on_call(datetime(2026, 12, 1, 12, 0))


@settings(max_examples=60, deadline=None)
@given(offset=st.integers(min_value=0, max_value=60 * 24 * 60 - 1),
       override_start=st.integers(min_value=0, max_value=60 * 24 * 50), override_hours=st.integers(1, 200))
def test_segments_agree_with_on_call_at_every_instant(offset: int, override_start: int, override_hours: int) -> None:
    """Over 60 days spanning the autumn change, the segment holding any instant names who on_call names."""
    c = clock("Europe/Berlin", WEEKLY, BUSINESS_HOURS,
              {"rotation": "custom", "shift_length": "2d", "handoff": "20:00", "start": "2026-10-01",
               "people": ["x", "y", "z"], "restrictions": [{"days": ["sat", "sun"], "from": "20:00", "to": "08:00"}]})
    start = utc("2026-10-01T00:00:00Z")
    override = Override(9, "ovr", start + timedelta(minutes=override_start),
                        start + timedelta(minutes=override_start, hours=override_hours))
    spans = c.segments(start, start + timedelta(days=60), [override])
    at = start + timedelta(minutes=offset, seconds=17)
    holding = [s for s in spans if s.start <= at < s.end]
    expected = c.on_call(at, [override])
    assert (holding[0].person if holding else None) == (expected.person if expected else None)
    assert all(a.end <= b.start for a, b in itertools.pairwise(spans))


# ------------------------------------------------------------------------------------- iCalendar

def test_calendar_feed_is_rfc5545_with_utc_times_and_stable_uids() -> None:
    from icalendar import Calendar

    c = clock("Europe/Berlin", WEEKLY)
    shifts = c.segments(utc("2027-03-15T00:00:00Z"), utc("2027-04-05T00:00:00Z"))
    body = feed("On call: payments-primary", [("payments-primary", s) for s in shifts], utc("2027-03-01T00:00:00Z"))
    assert body == (HERE / "golden" / "payments-primary.ics").read_bytes()
    assert b"\r\n" in body  # RFC 5545 lines end in CRLF
    parsed = Calendar.from_ical(body)
    events = list(parsed.walk("VEVENT"))
    assert [str(e["SUMMARY"]).split()[0] for e in events] == ["alice", "bob", "alice", "bob"]
    handoff = events[3].decoded("DTSTART")
    assert handoff == utc("2027-03-29T07:00:00Z")  # Monday 09:00 CEST, after the change
    assert len({str(e["UID"]) for e in events}) == len(events)


def test_person_feed_collects_shifts_over_schedules() -> None:
    from fireline.oncall.rotation import person_segments

    clocks = {"primary": clock("Europe/Berlin", WEEKLY), "secondary": clock("Europe/Berlin", {
        **WEEKLY, "people": ["bob", "alice"]})}
    found = person_segments(clocks, {}, "alice", utc("2026-11-02T00:00:00Z"), utc("2026-11-23T00:00:00Z"))
    assert [(name, s.start.day) for name, s in found] == [("primary", 2), ("secondary", 9), ("primary", 16)]
    assert all(isinstance(s, Segment) for _, s in found)


# ------------------------------------------------------------------------------------ configuration

def test_the_configuration_example_of_the_issue_loads() -> None:
    config = load_config(HERE / "issue16.yaml")
    steps = config.teams["payments"].escalation
    assert steps[0].schedule == "payments-primary" and steps[1].person == "bob"
    assert config.integrations.slack is not None and config.integrations.pagerduty is not None
    assert ScheduleClock(config.schedules["payments-primary"]).on_call(utc("2026-11-10T12:00:00Z")) == OnCall(
        "bob", "layer 1")


@pytest.mark.parametrize(("change", "message"), [
    (("time_zone: Europe/Berlin", "time_zone: Europe/Berlinn"), "is not an IANA time zone"),
    (('handoff: "Mon 09:00"', 'handoff: "Mon 9am"'), "must be a time such as"),
    (('handoff: "Mon 09:00"', 'handoff: "Mun 09:00"'), "is not a day of the week"),
    (("rotation: weekly", "rotation: daily"), "only weekly rotations have"),
    (("rotation: weekly", "rotation: custom"), "needs shift_length"),
    (("people: [alice, bob]", "people: [alice, bobby]"), "who is not defined under people"),
    (("schedule: payments-primary", "schedule: payments-primry"), "escalation schedule 'payments-primry'"),
    (("person: bob}", "person: bob, receiver: payments-slack}"), "not person and receiver"),
    (("slack_user: U01ALICE", "slack_user: alice"), "must be a Slack member id"),
])
def test_bad_on_call_config_is_an_error_with_file_line_and_field(tmp_path: Path, change: tuple[str, str],
                                                                  message: str) -> None:
    text = (HERE / "issue16.yaml").read_text()
    assert change[0] in text
    path = tmp_path / "fireline.yaml"
    path.write_text(text.replace(change[0], change[1], 1))
    with pytest.raises(SpecError) as caught:
        load_config(path)
    problems = [str(p) for p in caught.value.problems]
    assert any(message in p for p in problems), problems
    assert all("fireline.yaml:" in p for p in problems), problems


def test_the_example_of_docs_oncall_loads(tmp_path: Path) -> None:
    text = (HERE.parent.parent / "docs" / "oncall.md").read_text()
    block = text.split("```yaml\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "fireline.yaml"
    path.write_text(block)
    config = load_config(path)
    primary = ScheduleClock(config.schedules["payments-primary"])
    assert primary.on_call(utc("2026-12-02T10:00:00Z")) == OnCall("carol", "layer 2")  # Wed 11:00, business hours
    assert primary.on_call(utc("2026-12-02T20:00:00Z")) == OnCall("alice", "layer 1")
