"""Support plans: channels, response targets per severity, and the clock they run on."""
from dataclasses import dataclass
from datetime import datetime

import marshmallow as ma

from .calendars import Calendar, build_calendar, calendar_fields
from .cases import CHANNELS, LEVELS, PLANS
from .documents import Problem, RulesInvalid


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


@dataclass(frozen=True)
class Entitlement:
    ok: bool
    problems: tuple[str, ...]


@dataclass(frozen=True)
class Terms:
    """The support terms in force: plans and the clocks their targets run on."""

    plans: dict  # name -> Plan
    clocks: dict  # name -> Calendar

    def clock_of(self, plan: str) -> Calendar:
        return self.clocks[self.plans[plan].clock]

    def deadline(self, plan_name: str, level: int, reported_at: datetime) -> Sla:
        """When the customer must hear back; a level the plan does not define takes the nearest defined target."""
        plan = self.plans[plan_name]
        note = None
        if level in plan.targets:
            minutes, guaranteed = plan.targets[level], True
        else:
            # nearest defined level; on a tie the more severe one (the shorter target) is the safer promise
            nearest = min(plan.targets, key=lambda defined: (abs(defined - level), defined))
            minutes, guaranteed = plan.targets[nearest], False
            note = (f"Plan {plan_name} defines no target for severity {level}; no response time is guaranteed. "
                    f"The nearest defined target (severity {nearest}, {minutes} min) is applied.")
        due = self.clocks[plan.clock].add(reported_at, minutes)
        if self.clocks[plan.clock].always_open:
            due = due.astimezone(reported_at.tzinfo)  # a wall-clock deadline reads best in the customer's offset
        return Sla(plan_name, minutes, plan.clock, due, guaranteed, note)

    def entitlement(self, plan_name: str, channel: str | None) -> Entitlement:
        plan = self.plans[plan_name]
        problems = []
        if channel is not None and channel not in plan.channels:
            problems.append(f"channel {channel} is not included in plan {plan_name} ({', '.join(plan.channels)})")
        return Entitlement(not problems, tuple(problems))


_Clock = ma.Schema.from_dict({"description": ma.fields.String(load_default=""), **calendar_fields()}, name="Clock")


class _PlanSchema(ma.Schema):
    description = ma.fields.String(load_default="")
    clock = ma.fields.String(required=True)
    channels = ma.fields.List(ma.fields.String(validate=ma.validate.OneOf(CHANNELS)), required=True, validate=ma.validate.Length(min=1))
    targets = ma.fields.Dict(keys=ma.fields.Integer(strict=True, validate=ma.validate.OneOf(LEVELS)),
                             values=ma.fields.Integer(strict=True, validate=ma.validate.Range(min=1)),
                             required=True, validate=ma.validate.Length(min=1),
                             metadata={"description": "severity level -> minutes on the plan's clock"})
    cases_per_quarter = ma.fields.Integer(strict=True, load_default=None, validate=ma.validate.Range(min=1))


class SlaSchema(ma.Schema):
    """sla.yaml: clocks (calendars) and plans."""

    clocks = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Nested(_Clock), required=True)
    plans = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Nested(_PlanSchema), required=True)


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
        plans[name] = Plan(name, spec["clock"], tuple(spec["channels"]), dict(sorted(spec["targets"].items())),
                           spec["cases_per_quarter"])
    if problems:
        raise RulesInvalid(problems)
    return Terms(plans, clocks)
