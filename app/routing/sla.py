"""Support plans: channels, response targets per severity, and the clock they run on."""

from dataclasses import dataclass, replace
from datetime import UTC, datetime

import marshmallow as ma

from app.routing.calendars import Calendar, build_calendar, calendar_fields
from app.rulelang.documents import Problem, RulesInvalid
from app.rulelang.domain import CHANNELS, LEVELS, PLANS


@dataclass(frozen=True)
class Plan:
    name: str
    clock: str
    channels: tuple[str, ...]
    targets: dict  # level -> minutes
    cases_per_quarter: int | None = None


@dataclass(frozen=True)
class Sla:
    plan: str
    target_minutes: int
    clock: str
    due_at: datetime
    guaranteed: bool
    note: str | None
    at_risk: bool = False  # the deadline falls before the chosen pool opens: nobody can keep the promise
    at_risk_reason: str | None = None

    def against(self, pool: str, available_at: datetime, closed: str | None) -> "Sla":
        """This deadline, marked at risk when `pool` (closed for `closed`) opens only after it."""
        if available_at <= self.due_at:
            return self
        why = f" ({closed})" if closed else ""
        return replace(
            self,
            at_risk=True,
            at_risk_reason=(
                f"due {self.due_at.isoformat()}, but {pool} opens {available_at.isoformat()}{why}: "
                f"the promise is kept only if someone takes the case before then"
            ),
        )


@dataclass(frozen=True)
class Entitlement:
    ok: bool
    problems: tuple[str, ...]


@dataclass(frozen=True)
class Terms:
    """The support terms in force: plans and the clocks their targets run on."""

    plans: dict  # name -> Plan
    clocks: dict  # name -> Calendar
    pausable: frozenset = frozenset()  # clocks that stop while a case waits on the customer
    severity_change: str = "from_change"  # a regrade's target runs from the regrade, or from the first report

    def pauses(self, plan: str) -> bool:
        """Whether the plan's clock stops while the case waits on the customer."""
        return self.plans[plan].clock in self.pausable

    def target(self, plan_name: str, level: int) -> tuple[int, bool]:
        """The plan's response target in minutes for a level, and whether it is guaranteed (defined)."""
        plan = self.plans[plan_name]
        if level in plan.targets:
            return plan.targets[level], True
        # nearest defined level; on a tie the more severe one (the shorter target) is the safer promise
        nearest = min(plan.targets, key=lambda defined: (abs(defined - level), defined))
        return plan.targets[nearest], False

    def clock_of(self, plan: str) -> Calendar:
        return self.clocks[self.plans[plan].clock]

    def deadline(self, plan_name: str, level: int, reported_at: datetime) -> Sla:
        """When the customer must hear back; a level the plan does not define takes the nearest defined target."""
        plan = self.plans[plan_name]
        note = None
        minutes, guaranteed = self.target(plan_name, level)
        if not guaranteed:
            nearest = next(defined for defined, target in plan.targets.items() if target == minutes)
            note = (
                f"Plan {plan_name} defines no target for severity {level}; no response time is guaranteed. "
                f"The nearest defined target (severity {nearest}, {minutes} min) is applied."
            )
        due = self.clocks[plan.clock].add(reported_at, minutes)
        if self.clocks[plan.clock].always_open:
            due = due.astimezone(reported_at.tzinfo)  # a wall-clock deadline reads best in the customer's offset
        return Sla(plan_name, minutes, plan.clock, due, guaranteed, note)

    def entitlement(self, plan_name: str, channel: str | None, reported_at: datetime, count_cases=None) -> Entitlement:
        """What the plan includes: the channel, and the quarter's case quota. `count_cases(start, end)`
        counts the customer's earlier cases reported in [start, end); None skips the quota, and a
        counter that fails leaves the quota unchecked, which the entitlement says."""
        plan = self.plans[plan_name]
        problems = []
        if channel is not None and channel not in plan.channels:
            problems.append(f"channel {channel} is not included in plan {plan_name} ({', '.join(plan.channels)})")
        if plan.cases_per_quarter is not None and count_cases is not None:
            start, end = quarter(reported_at)
            try:
                earlier = count_cases(start, end)
            except Exception as exc:  # the store is away: the case is still handled, the flag says so
                problems.append(
                    f"the {plan_name} plan's quota of {plan.cases_per_quarter} cases per quarter was not "
                    f"checked: the decision store is unavailable ({type(exc).__name__})"
                )
            else:
                if earlier >= plan.cases_per_quarter:
                    label = f"{start.year}-Q{(start.month - 1) // 3 + 1}"
                    problems.append(
                        f"case {earlier + 1} in {label}: the {plan_name} plan includes {plan.cases_per_quarter} cases per quarter"
                    )
        return Entitlement(not problems, tuple(problems))


def quarter(instant: datetime) -> tuple[datetime, datetime]:
    """The calendar quarter (UTC) containing `instant`, as [start, end)."""
    utc = instant.astimezone(UTC)
    first_month = (utc.month - 1) // 3 * 3 + 1
    start = datetime(utc.year, first_month, 1, tzinfo=UTC)
    end = datetime(utc.year + (first_month == 10), (first_month + 2) % 12 + 1, 1, tzinfo=UTC)
    return start, end


_Clock = ma.Schema.from_dict(
    {
        "description": ma.fields.String(load_default=""),
        "pausable": ma.fields.Boolean(
            load_default=False, metadata={"description": "the clock stops while a case waits on the customer"}
        ),
        **calendar_fields(),
    },
    name="Clock",
)
SEVERITY_CHANGES = ("from_change", "from_report")


class _PlanSchema(ma.Schema):
    description = ma.fields.String(load_default="")
    clock = ma.fields.String(required=True)
    channels = ma.fields.List(
        ma.fields.String(validate=ma.validate.OneOf(CHANNELS)), required=True, validate=ma.validate.Length(min=1)
    )
    targets = ma.fields.Dict(
        keys=ma.fields.Integer(strict=True, validate=ma.validate.OneOf(LEVELS)),
        values=ma.fields.Integer(strict=True, validate=ma.validate.Range(min=1)),
        required=True,
        validate=ma.validate.Length(min=1),
        metadata={"description": "severity level -> minutes on the plan's clock"},
    )
    cases_per_quarter = ma.fields.Integer(strict=True, load_default=None, validate=ma.validate.Range(min=1))


class SlaDocument(ma.Schema):
    """sla.yaml: clocks (calendars) and plans."""

    clocks = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Nested(_Clock), required=True)
    plans = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Nested(_PlanSchema), required=True)
    severity_change = ma.fields.String(
        load_default="from_change",
        validate=ma.validate.OneOf(SEVERITY_CHANGES),
        metadata={"description": "a regraded case's new target runs from the regrade, or from the first report"},
    )


def build(file: str, doc: dict) -> Terms:
    problems, clocks, plans = [], {}, {}
    for name, spec in doc["clocks"].items():
        calendar, more = build_calendar(file, f"clocks.{name}", spec)
        problems += more
        clocks[name] = calendar
    for name in PLANS:
        if name not in doc["plans"]:
            problems.append(Problem(file, "", "plans", f"plan {name!r} has no terms"))
    for name, spec in doc["plans"].items():
        item = f"plans.{name}"
        if name not in PLANS:
            problems.append(Problem(file, item, "", f"unknown plan; plans are {list(PLANS)}"))
        if spec["clock"] not in doc["clocks"]:
            problems.append(Problem(file, item, "clock", f"undefined clock {spec['clock']!r}"))
        plans[name] = Plan(
            name, spec["clock"], tuple(spec["channels"]), dict(sorted(spec["targets"].items())), spec["cases_per_quarter"]
        )
    if problems:
        raise RulesInvalid(problems)
    pausable = frozenset(name for name, spec in doc["clocks"].items() if spec["pausable"])
    return Terms(plans, clocks, pausable, doc["severity_change"])
