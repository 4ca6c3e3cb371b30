"""Calendars over real instants, and properties of the business-time arithmetic."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.routing.calendars import Calendar, Holidays, parse_interval

from .helpers import book

WEEKDAYS_9_18 = dict.fromkeys(range(5), ((540, 1080),))


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


POOLS = book().pools


@pytest.mark.parametrize(
    "pool, instant, reason, opens",
    [
        # 8 March 2026 is a Sunday and International Women's Day; 9 March is the observed day off
        ("ru-l1", "2026-03-08T10:00:00+03:00", "public holiday International Women's Day in RU", "2026-03-10T09:00:00+03:00"),
        (
            "ru-l1",
            "2026-03-09T10:00:00+03:00",
            "public holiday International Women's Day (observed) in RU",
            "2026-03-10T09:00:00+03:00",
        ),
        ("ru-l1", "2026-03-10T09:00:00+03:00", None, "2026-03-10T09:00:00+03:00"),
        ("ru-l1", "2026-03-10T18:00:00+03:00", "outside working hours (Tue 18:00 Europe/Moscow)", "2026-03-11T09:00:00+03:00"),
        # Poland is open on 9 March
        ("pl-l1", "2026-03-09T10:00:00+01:00", None, "2026-03-09T10:00:00+01:00"),
        # EU DST starts 29 March 2026: Monday 09:00 is 07:00 UTC, not 08:00
        ("de-l1", "2026-03-30T07:00:00+00:00", None, "2026-03-30T09:00:00+02:00"),
        ("de-l1", "2026-03-30T06:59:00+00:00", "outside working hours (Mon 08:59 Europe/Berlin)", "2026-03-30T09:00:00+02:00"),
        # US DST starts 8 March and ends 1 November 2026
        ("us-l1", "2026-03-09T12:00:00+00:00", None, "2026-03-09T08:00:00-04:00"),
        ("us-l1", "2026-11-02T12:30:00+00:00", "outside working hours (Mon 07:30 America/New_York)", "2026-11-02T08:00:00-05:00"),
        # Christmas and New Year in several pools
        ("de-l1", "2026-12-24T10:00:00+01:00", "company holiday Christmas Eve", "2026-12-28T09:00:00+01:00"),
        ("cz-l1", "2026-12-24T10:00:00+01:00", "public holiday Christmas Eve in CZ", "2026-12-28T09:00:00+01:00"),
        ("gb-l1", "2026-12-28T10:00:00+00:00", "public holiday Boxing Day (observed) in GB", "2026-12-29T09:00:00+00:00"),
        ("dk-l1", "2026-12-31T10:00:00+01:00", "public holiday New Year's Eve in DK", "2027-01-04T09:00:00+01:00"),
        ("us-l1", "2027-01-01T10:00:00-05:00", "public holiday New Year's Day in US", "2027-01-04T08:00:00-05:00"),
        ("ru-l1", "2027-01-05T10:00:00+03:00", "public holiday New Year Holidays in RU", "2027-01-11T09:00:00+03:00"),
        # Eid al-Fitr 2026 in Jakarta: 21-22 March, with joint leave days on 20, 23 and 24 March
        ("id-l1", "2026-03-20T10:00:00+07:00", "public holiday Eid al-Fitr Joint Holiday in ID", "2026-03-25T09:00:00+07:00"),
        ("id-l1", "2026-03-25T10:00:00+07:00", None, "2026-03-25T10:00:00+07:00"),
        # always open
        ("premium-247", "2026-12-25T03:00:00+00:00", None, "2026-12-25T03:00:00+00:00"),
    ],
)
def test_pool_open_or_closed_and_next_opening(pool, instant, reason, opens):
    calendar = POOLS[pool].calendar
    assert calendar.closed_reason(at(instant)) == reason
    assert calendar.next_opening(at(instant)) == at(opens)


BERLIN = Calendar(ZoneInfo("Europe/Berlin"), WEEKDAYS_9_18, Holidays("DE"))


@pytest.mark.parametrize(
    "start, minutes, due",
    [
        ("2026-06-19T17:30:00+02:00", 720, "2026-06-23T11:30:00+02:00"),  # Friday evening -> Tuesday
        ("2026-06-19T17:30:00+02:00", 2160, "2026-06-25T17:30:00+02:00"),  # 36 business hours
        ("2026-06-20T12:00:00+02:00", 60, "2026-06-22T10:00:00+02:00"),  # reported on a Saturday
        ("2026-06-22T07:00:00+02:00", 60, "2026-06-22T10:00:00+02:00"),  # before opening
        ("2026-06-22T17:00:00+02:00", 60, "2026-06-22T18:00:00+02:00"),  # ends exactly at closing
        ("2026-03-27T17:00:00+01:00", 720, "2026-03-31T11:00:00+02:00"),  # across the EU DST weekend
        ("2026-10-23T17:00:00+02:00", 720, "2026-10-27T11:00:00+01:00"),  # across the autumn change
        ("2026-04-02T17:00:00+02:00", 120, "2026-04-07T10:00:00+02:00"),  # Good Friday and Easter Monday
        ("2026-12-23T17:00:00+01:00", 720, "2026-12-28T11:00:00+01:00"),  # 24 Dec works, 25/26 do not
    ],
)
def test_business_time_arithmetic(start, minutes, due):
    assert BERLIN.add(at(start), minutes) == at(due)


def test_holiday_names_and_company_days():
    holidays = Holidays("DE", extra={at("2026-08-14T00:00:00+00:00").date(): "Summer party"})
    assert holidays.name(at("2026-10-03T00:00:00+00:00").date()) == "public holiday German Unity Day in DE"
    assert holidays.name(at("2026-08-14T00:00:00+00:00").date()) == "company holiday Summer party"
    assert holidays.name(at("2026-08-13T00:00:00+00:00").date()) is None


def test_holiday_lookup_and_the_working_windows_holidays_take_away():
    holidays = Holidays("RU", extra={at("2026-08-14T00:00:00+00:00").date(): "Summer party"})
    assert holidays.lookup(at("2026-03-09T00:00:00+00:00").date()) == ("International Women's Day (observed)", "RU")
    assert holidays.lookup(at("2026-08-14T00:00:00+00:00").date()) == ("Summer party", "company")
    assert holidays.lookup(at("2026-03-10T00:00:00+00:00").date()) is None
    moscow = POOLS["ru-l1"].calendar
    closed = list(moscow.closures(at("2026-03-01T00:00:00+00:00"), at("2026-03-15T00:00:00+00:00")))
    # 8 March is a Sunday (no working hours to lose); the observed Monday loses 09:00-18:00 Moscow time
    assert closed == [
        (at("2026-03-09T06:00:00+00:00"), at("2026-03-09T15:00:00+00:00"), ("International Women's Day (observed)", "RU"))
    ]
    assert list(POOLS["premium-247"].calendar.closures(at("2026-12-24T00:00:00+00:00"), at("2026-12-27T00:00:00+00:00"))) == []


@pytest.mark.parametrize("text", ["9:00-18:00", "09:00-08:00", "09:00-24:30", "25:00-26:00", "09:00"])
def test_bad_intervals_are_refused(text):
    with pytest.raises(ValueError):
        parse_interval(text)


def test_a_calendar_that_never_opens_is_an_error_not_a_hang():
    never = Calendar(ZoneInfo("UTC"), {}, None)
    with pytest.raises(ValueError, match="no working hours"):
        never.next_opening(at("2026-01-01T00:00:00+00:00"))


instants = st.datetimes(
    min_value=datetime(2025, 1, 1),
    max_value=datetime(2028, 12, 31),
    timezones=st.sampled_from(
        [UTC, ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York"), ZoneInfo("Asia/Jakarta"), ZoneInfo("Australia/Sydney")]
    ),
)
CALENDARS = [
    BERLIN,
    POOLS["ru-l1"].calendar,
    POOLS["us-l1"].calendar,
    POOLS["id-l1"].calendar,
    POOLS["au-l1"].calendar,
    POOLS["premium-247"].calendar,
]


@settings(max_examples=300, deadline=None)
@given(start=instants, minutes=st.integers(min_value=1, max_value=5000), which=st.sampled_from(range(len(CALENDARS))))
def test_deadline_properties(start, minutes, which):
    calendar = CALENDARS[which]
    due = calendar.add(start, minutes)
    assert due >= start
    # the interval holds exactly the target's working minutes
    assert calendar.working_minutes(start, due) == pytest.approx(minutes, abs=1e-6)
    # and the deadline falls inside working time (never in a closed gap), unless it ends a window
    just_before = due - timedelta(seconds=1)
    assert calendar.closed_reason(just_before) is None


@settings(max_examples=200, deadline=None)
@given(start=instants, a=st.integers(min_value=1, max_value=3000), b=st.integers(min_value=1, max_value=3000))
def test_deadlines_are_monotonic_and_additive(start, a, b):
    first = BERLIN.add(start, a)
    assert BERLIN.add(start, a + b) == BERLIN.add(first, b)
    assert BERLIN.add(start, min(a, b)) <= BERLIN.add(start, max(a, b))
