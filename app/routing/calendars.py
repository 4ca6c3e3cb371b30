"""Calendars: working hours in an IANA time zone, minus public holidays; open-or-not, next opening,
and business-time arithmetic. All arithmetic is on UTC instants; wall-clock hours are turned into
instants day by day, so DST changes, nights, weekends and holidays are exact."""

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays as holidays_lib
import marshmallow as ma

from app.rulelang.documents import Problem

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_INTERVAL = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")
MAX_DAYS_OFF = 400  # company days off in one holiday calendar
_HORIZON_DAYS = 400  # a calendar that never opens within this is refused as an error at run time


def parse_interval(text: str) -> tuple[int, int]:
    """'09:00-18:00' → (540, 1080) minutes after local midnight; '24:00' may end a day."""
    found = _INTERVAL.match(text)
    if not found:
        raise ValueError(f"{text!r} is not HH:MM-HH:MM")
    start = int(found[1]) * 60 + int(found[2])
    end = int(found[3]) * 60 + int(found[4])
    if end > 1440 or end <= start:
        raise ValueError(f"{text!r} must end after it starts, by 24:00 at the latest")
    return start, end


@lru_cache(maxsize=512)
def _public_holidays(country: str, subdivision: str | None, categories: tuple[str, ...], year: int):
    return holidays_lib.country_holidays(country, subdiv=subdivision, years=year, categories=categories)


@dataclass(frozen=True)
class Holidays:
    """A country's public holidays (from the holidays package, observed days included) plus company days."""

    country: str
    subdivision: str | None = None
    categories: tuple[str, ...] = ("public",)
    extra: dict = field(default_factory=dict)  # date -> name

    def name(self, day: date) -> str | None:
        found = self.lookup(day)
        if found is None:
            return None
        holiday, where = found
        return f"company holiday {holiday}" if where == "company" else f"public holiday {holiday} in {where}"

    def lookup(self, day: date) -> tuple[str, str] | None:
        """(the holiday's name, its country or "company"), or None on a working day."""
        if day in self.extra:
            return self.extra[day], "company"
        found = _public_holidays(self.country, self.subdivision, self.categories, day.year).get(day)
        return (found, self.country) if found else None

    def describe(self) -> dict:
        return {
            "country": self.country,
            "subdivision": self.subdivision,
            "categories": list(self.categories),
            "extra": {d.isoformat(): n for d, n in sorted(self.extra.items())},
        }


@dataclass(frozen=True)
class Calendar:
    """When someone is at work: hours per weekday in `tz`, except on holidays; or always."""

    tz: ZoneInfo
    hours: dict  # weekday index 0-6 -> tuple of (start, end) minutes
    holidays: Holidays | None = None
    always_open: bool = False

    def closed_reason(self, at: datetime) -> str | None:
        """None when open at `at`; otherwise why not, in words ops read in a trace."""
        if self.always_open:
            return None
        local = at.astimezone(self.tz)
        holiday = self.holidays.name(local.date()) if self.holidays else None
        if holiday:
            return holiday
        minute = local.hour * 60 + local.minute
        if any(start <= minute < end for start, end in self.hours.get(local.weekday(), ())):
            return None
        return f"outside working hours ({local:%a %H:%M} {self.tz.key})"

    def windows(self, start: datetime, until: datetime | None = None):
        """Working windows (UTC start, UTC end) that end after `start`, in order: up to `until`, or
        (without it) as far as the horizon, past which a calendar that never opens is an error."""
        day = start.astimezone(self.tz).date()
        days = _HORIZON_DAYS if until is None else (until.astimezone(self.tz).date() - day).days + 2
        for offset in range(days):
            current = day + timedelta(days=offset)
            if self.holidays and self.holidays.name(current):
                continue
            for begin, end in self.hours.get(current.weekday(), ()):
                window = (self._instant(current, begin), self._instant(current, end))
                if window[1] > start:
                    yield window
        if until is not None:
            return
        raise ValueError(f"no working hours within {_HORIZON_DAYS} days of {start.isoformat()}")

    def closures(self, start: datetime, until: datetime):
        """The working windows (UTC start, UTC end, (holiday, where)) that holidays take away between
        `start` and `until`: what a holiday costs the calendar."""
        if self.always_open or self.holidays is None:
            return
        day = start.astimezone(self.tz).date()
        for offset in range((until.astimezone(self.tz).date() - day).days + 2):
            current = day + timedelta(days=offset)
            found = self.holidays.lookup(current)
            if found is None:
                continue
            for begin, end in self.hours.get(current.weekday(), ()):
                window = (self._instant(current, begin), self._instant(current, end))
                if window[1] > start and window[0] < until:
                    yield (*window, found)

    def next_opening(self, at: datetime) -> datetime:
        """`at` itself when open, else when the next working window starts (in the calendar's zone)."""
        if self.closed_reason(at) is None:
            return at
        for begin, _ in self.windows(at):
            if begin >= at:
                return begin.astimezone(self.tz)
        raise AssertionError("unreachable: windows() raises when it runs out")

    def add(self, start: datetime, minutes: float) -> datetime:
        """The instant `minutes` of working time after `start` (in the calendar's zone)."""
        if self.always_open:
            return (start.astimezone(UTC) + timedelta(minutes=minutes)).astimezone(self.tz)
        remaining = timedelta(minutes=minutes)
        for begin, end in self.windows(start):
            begin = max(begin, start)
            if remaining <= end - begin:
                return (begin + remaining).astimezone(self.tz)
            remaining -= end - begin
        raise AssertionError("unreachable: windows() raises when it runs out")

    def working_minutes(self, start: datetime, end: datetime) -> float:
        """Working time between two instants, in minutes."""
        if self.always_open:
            return (end - start).total_seconds() / 60
        total = timedelta()
        for begin, finish in self.windows(start, until=end):
            if begin >= end:
                break
            total += min(finish, end) - max(begin, start)
        return total.total_seconds() / 60

    def _instant(self, day: date, minute: int) -> datetime:
        if minute == 1440:
            return datetime.combine(day + timedelta(days=1), time(0), tzinfo=self.tz).astimezone(UTC)
        local = datetime.combine(day, time(minute // 60, minute % 60), tzinfo=self.tz)
        return local.astimezone(UTC)

    def describe_hours(self) -> dict:
        return {
            WEEKDAYS[d]: [f"{s // 60:02d}:{s % 60:02d}-{e // 60:02d}:{e % 60:02d}" for s, e in spans]
            for d, spans in sorted(self.hours.items())
        }


# -- the calendar block shared by pools and SLA clocks ---------------------------------------


class _HolidayDay(ma.Schema):
    date = ma.fields.Date(required=True)
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1))


class HolidayCalendarSchema(ma.Schema):
    country = ma.fields.String(required=True)
    subdivision = ma.fields.String()
    categories = ma.fields.List(ma.fields.String(), load_default=lambda: ["public"], validate=ma.validate.Length(min=1))
    extra = ma.fields.List(ma.fields.Nested(_HolidayDay), load_default=list, validate=ma.validate.Length(max=MAX_DAYS_OFF))


def calendar_fields() -> dict:
    """Fields a document item needs to describe a calendar: timezone, hours, holiday_calendar, always_open."""
    return {
        "timezone": ma.fields.String(required=True),
        "hours": ma.fields.Dict(
            keys=ma.fields.String(validate=ma.validate.OneOf(WEEKDAYS)),
            values=ma.fields.List(ma.fields.String()),
            load_default=dict,
        ),
        "holiday_calendar": ma.fields.Nested(HolidayCalendarSchema),
        "always_open": ma.fields.Boolean(load_default=False),
    }


def build_calendar(file: str, item: str, spec: dict) -> tuple[Calendar | None, list[Problem]]:
    """A Calendar from a validated calendar block, or the problems with it."""
    problems = []
    try:
        tz = ZoneInfo(spec["timezone"])
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(Problem(file, item, "timezone", f"unknown time zone {spec['timezone']!r}"))
        tz = None
    hours = {}
    for day, spans in spec["hours"].items():
        parsed = []
        for index, text in enumerate(spans):
            try:
                parsed.append(parse_interval(text))
            except ValueError as exc:
                problems.append(Problem(file, item, f"hours.{day}[{index}]", str(exc)))
        parsed.sort()
        if any(a[1] > b[0] for a, b in zip(parsed, parsed[1:])):
            problems.append(Problem(file, item, f"hours.{day}", "intervals overlap"))
        hours[WEEKDAYS.index(day)] = tuple(parsed)
    if not spec["always_open"] and not any(hours.values()):
        problems.append(Problem(file, item, "hours", "give working hours, or always_open: true"))
    holidays = None
    if spec.get("holiday_calendar"):
        holidays, more = _build_holidays(file, item, spec["holiday_calendar"])
        problems += more
    if problems or tz is None:
        return None, problems
    calendar = Calendar(tz, hours, holidays, spec["always_open"])
    return calendar, _never_opening(file, item, calendar)


def _never_opening(file: str, item: str, calendar: Calendar) -> list[Problem]:
    """A Problem when the company days off keep the calendar shut for _HORIZON_DAYS: from today and
    from each of them, it must open again (else every case routed there would fail)."""
    if calendar.always_open or calendar.holidays is None or not calendar.holidays.extra:
        return []
    starts = [datetime.now(calendar.tz).date(), *sorted(calendar.holidays.extra)]
    for day in starts:
        try:
            calendar.next_opening(datetime.combine(day, datetime.min.time(), calendar.tz))
        except ValueError:
            return [
                Problem(
                    file,
                    item,
                    "holiday_calendar.extra",
                    f"from {day.isoformat()} the days off leave no working hour within {_HORIZON_DAYS} days",
                )
            ]
    return []


def _build_holidays(file, item, spec) -> tuple[Holidays | None, list[Problem]]:
    country, subdivision = spec["country"], spec.get("subdivision")
    try:  # one country's module, not the whole package's (list_supported_countries imports them all)
        calendar = holidays_lib.country_holidays(country)
    except NotImplementedError:
        return None, [Problem(file, item, "holiday_calendar.country", f"the holidays package knows no country {country!r}")]
    problems = []
    if subdivision is not None and subdivision not in calendar.subdivisions:
        problems.append(Problem(file, item, "holiday_calendar.subdivision", f"{country} has no subdivision {subdivision!r}"))
    known = calendar.supported_categories
    for category in spec["categories"]:
        if category not in known:
            problems.append(
                Problem(
                    file, item, "holiday_calendar.categories", f"{country} has no category {category!r}; it has {sorted(known)}"
                )
            )
    extra = {day["date"]: day["name"] for day in spec["extra"]}
    return Holidays(country, subdivision, tuple(spec["categories"]), extra), problems
