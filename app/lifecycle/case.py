"""A case's timeline and what follows from it: its state, severity, pool and tier, and its response
clock. Pure: `replay(entries, terms, now)` is the whole truth about a case, and `refusal()` says
which event the case's state does not allow."""

from dataclasses import dataclass, field
from datetime import datetime

from app.lifecycle.clock import ResponseClock, instant_after, minutes_between
from app.routing.sla import Terms

# Events engineers (and integrations) send; the service records `decided` for every classification,
# and the scheduler `rerouted` and `breached`.
EVENTS = (
    "acknowledged",
    "severity_changed",
    "escalated",
    "reassigned",
    "waiting_on_customer",
    "customer_replied",
    "resolved",
    "reopened",
)
SYSTEM = ("decided", "rerouted", "breached")
STATES = ("open", "acknowledged", "waiting", "resolved")


@dataclass(frozen=True)
class Entry:
    """One thing that happened to a case, at its instant."""

    type: str
    at: datetime
    data: dict = field(default_factory=dict)
    author: str = ""
    engineer: str | None = None
    id: int | None = None
    recorded_at: datetime | None = None


@dataclass(frozen=True)
class CaseView:
    case_id: str
    customer_id: str
    plan: str
    state: str
    severity: int
    regraded: bool  # the provider changed the severity: later classifications no longer do
    pool: str
    tier: str
    clock: ResponseClock
    entries: tuple[Entry, ...]

    @property
    def breached(self) -> bool:
        """The first response was late, or has not come by the deadline (or a breach was recorded)."""
        return self.clock.breached or any(e.type == "breached" for e in self.entries)

    @property
    def clocks(self) -> dict:
        return {"response": self.clock}

    def executed(self, step: str, cycle: int) -> bool:
        """Whether the scheduler already took `step` on this clock."""
        return any(e.data.get("step") == step and e.data.get("cycle") == cycle for e in self.entries)


def refusal(view: CaseView, event: str, data: dict) -> str | None:
    """Why the case's state does not allow the event, or None."""
    state = view.state
    if event == "acknowledged":
        if view.clock.acknowledged_at is not None:
            return f"the case was already acknowledged at {view.clock.acknowledged_at.isoformat()}; it is {state}"
        if state == "resolved":
            return "the case is resolved; reopen it first"
    elif event == "customer_replied":
        if state != "waiting":
            return f"the case is {state}, not waiting on the customer"
    elif event == "reopened":
        if state != "resolved":
            return f"the case is {state}, not resolved"
    elif state == "resolved":
        return "the case is resolved; reopen it first"
    elif event == "waiting_on_customer" and state == "waiting":
        return "the case is already waiting on the customer"
    elif event == "severity_changed" and data.get("level") == view.severity:
        return f"the case is already severity {view.severity}"
    return None


def replay(case_id: str, customer_id: str, plan: str, entries, terms: Terms, now: datetime) -> CaseView:
    """Fold a timeline (in order) into the case's state and response clock as at `now`."""
    entries = tuple(sorted(entries, key=lambda e: e.at))  # stable: the store orders ties by id
    first = entries[0]
    assert first.type == "decided", "a case starts with its first classification"
    calendar = terms.clock_of(plan)
    pausable = terms.pauses(plan)
    reported = datetime.fromisoformat(first.data["reported_at"])
    level, pool, tier = first.data["level"], first.data["pool"], first.data["tier"]
    state, regraded, cycle = "open", False, 0
    counted: list[list] = [[reported, None]]  # spans counted against the current target
    paused_since: datetime | None = None
    paused_minutes = 0.0
    acknowledged_at: datetime | None = None
    response_minutes: float | None = None
    met: bool | None = None
    due_at_response: datetime | None = None
    running_since = reported  # for the response time: every running span since the report
    elapsed = 0.0

    def target(at_level: int) -> int:
        return terms.target(plan, at_level)[0]

    def retarget(new_level: int, at: datetime) -> None:
        nonlocal level, cycle, counted
        if new_level == level:
            return
        level = new_level
        if acknowledged_at is None:
            cycle += 1
            if terms.severity_change == "from_change":
                counted = [] if paused_since is not None else [[at, None]]

    def respond(at: datetime) -> None:
        nonlocal acknowledged_at, response_minutes, met, due_at_response, elapsed
        acknowledged_at = at
        due_at_response = instant_after(calendar, counted, target(level))  # the deadline that applied
        elapsed += calendar.working_minutes(running_since, at)
        if counted and counted[-1][1] is None:
            counted[-1][1] = at
        response_minutes = round(elapsed, 2)
        met = due_at_response is None or at <= due_at_response

    def resume(at: datetime) -> None:
        nonlocal paused_minutes, paused_since, running_since
        assert paused_since is not None
        paused_minutes += calendar.working_minutes(paused_since, at)
        paused_since, running_since = None, at
        counted.append([at, None])

    for entry in entries[1:]:
        at, kind, data = entry.at, entry.type, entry.data
        if kind == "decided":
            if not regraded:  # the customer's edit: the same clock, from the first report, at the new level
                level = data["level"]
            if acknowledged_at is None:
                pool, tier = data["pool"], data["tier"]
        elif kind == "severity_changed":
            regraded = True
            retarget(data["level"], at)
        elif kind in ("escalated", "reassigned", "rerouted"):
            pool = data.get("pool", pool)
            tier = data.get("tier", tier)
        elif kind == "waiting_on_customer":
            state = "waiting"
            if pausable and acknowledged_at is None and paused_since is None:
                elapsed += calendar.working_minutes(running_since, at)
                if counted and counted[-1][1] is None:
                    counted[-1][1] = at
                paused_since = at
        elif kind == "customer_replied":
            state = "acknowledged" if acknowledged_at else "open"
            if paused_since is not None:
                resume(at)
        elif kind in ("acknowledged", "resolved"):
            if acknowledged_at is None:  # the first response (a resolution is one too)
                if paused_since is not None:  # a response while waiting ends the wait
                    resume(at)
                respond(at)
            state = kind
        elif kind == "reopened":
            state = "acknowledged" if acknowledged_at else "open"

    minutes, guaranteed = terms.target(plan, level)
    left = late = None
    if acknowledged_at is not None:
        status = "met" if met else "missed"
        due = due_at_response
        if due is not None and not met:
            late = round(minutes_between(calendar, due, acknowledged_at), 2)
    else:
        due = instant_after(calendar, counted, minutes)
        if due is not None and now >= due:
            status = "missed"
            late = round(minutes_between(calendar, due, now), 2)
        else:
            status = "paused" if paused_since is not None else "running"
            left = None if due is None else round(minutes_between(calendar, max(now, reported), due), 2)
    clock = ResponseClock(
        plan,
        terms.plans[plan].clock,
        level,
        minutes,
        guaranteed,
        reported,
        due,
        paused_since is not None,
        round(paused_minutes + (calendar.working_minutes(paused_since, now) if paused_since and now > paused_since else 0), 2),
        acknowledged_at,
        response_minutes,
        status,
        cycle,
        tuple((start, end) for start, end in counted),
        left,
        late,
    )
    return CaseView(case_id, customer_id, plan, state, level, regraded, pool, tier, clock, entries)
