"""The response clock: a pure function of a case's timeline, its plan's terms and an instant.

Every input is an entry with its instant (the report, regrades, pauses, resumes, the first
response), so the same timeline always gives the same clock, and a clock is re-derived, never
patched, when the severity or the plan's terms change. Adding working minutes (the deadline) and
measuring them (the response time, pauses, minutes left) use one calendar's arithmetic.
"""

from dataclasses import dataclass
from datetime import datetime

from app.routing.calendars import Calendar


@dataclass(frozen=True)
class ResponseClock:
    """How a case stands against its first-response promise."""

    plan: str
    clock: str  # the plan's clock: business-hours, 24/7, ...
    level: int
    target_minutes: int
    guaranteed: bool  # false when the plan defines no target for the level (the nearest applies)
    started_at: datetime  # the first report
    due_at: datetime | None  # None while paused with time left
    paused: bool
    paused_minutes: float  # working minutes spent waiting on the customer before the first response
    acknowledged_at: datetime | None
    response_minutes: float | None  # working minutes from report to first response, pauses excluded
    status: str  # running | paused | met | missed
    cycle: int  # 0, then one more for each regrade that re-targets the clock
    segments: tuple  # the running spans counted against the current target: (start, end or None)
    minutes_left: float | None = None  # working minutes to the deadline, while it runs
    minutes_late: float | None = None  # working minutes past the deadline, once missed (to the response, or now)

    @property
    def breached(self) -> bool:
        return self.status == "missed"


def instant_after(calendar: Calendar, segments, minutes: float) -> datetime | None:
    """The instant at which `minutes` of working time have run in `segments` (spans in order, the last
    one possibly open); None when they end (paused) before that."""
    remaining = minutes
    for start, end in segments:
        if end is None:
            return calendar.add(start, remaining)
        span = calendar.working_minutes(start, end)
        if span >= remaining:
            return calendar.add(start, remaining)
        remaining -= span
    return None


def minutes_between(calendar: Calendar, start: datetime, end: datetime) -> float:
    """Working minutes from `start` to `end`, negative when `end` comes first."""
    if end >= start:
        return calendar.working_minutes(start, end)
    return -calendar.working_minutes(end, start)
