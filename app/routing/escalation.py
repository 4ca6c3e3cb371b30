"""Escalation policies (escalation.yaml): what happens while a case waits for its first response.

A policy applies to the customers it names, or to the plans and levels it names; the first that
matches a case applies. Each step acts once per response clock when its share of the response
target has passed unacknowledged: `reroute` to the next open candidate pool, or `escalate` to a
tier. Past the deadline every unacknowledged case is recorded as breached, with a policy or without.
"""

from dataclasses import dataclass

import marshmallow as ma

from app.rulelang.documents import Problem, RulesInvalid, duplicate_ids
from app.rulelang.domain import LEVELS, PLANS

ACTIONS = ("reroute", "escalate")
ESCALATION_TIERS = ("EE", "SE")


@dataclass(frozen=True)
class Step:
    at: int  # percent of the response target gone unacknowledged
    action: str
    tier: str | None = None  # for escalate


@dataclass(frozen=True)
class Policy:
    id: str
    description: str
    customers: tuple[str, ...]
    plans: tuple[str, ...]
    levels: tuple[int, ...]
    steps: tuple[Step, ...]

    def applies(self, customer: str, plan: str, level: int) -> bool:
        if self.customers:
            return customer in self.customers
        return (not self.plans or plan in self.plans) and (not self.levels or level in self.levels)


@dataclass(frozen=True)
class Escalation:
    policies: tuple[Policy, ...] = ()

    def policy_for(self, customer: str, plan: str, level: int) -> Policy | None:
        """The first policy naming the customer, else the first matching its plan and level."""
        named = [p for p in self.policies if p.customers and customer in p.customers]
        return next(iter(named), None) or next(
            (p for p in self.policies if not p.customers and p.applies(customer, plan, level)), None
        )


class _StepSchema(ma.Schema):
    at = ma.fields.Integer(strict=True, required=True, validate=ma.validate.Range(min=1, max=99))
    action = ma.fields.String(required=True, validate=ma.validate.OneOf(ACTIONS))
    tier = ma.fields.String(validate=ma.validate.OneOf(ESCALATION_TIERS))


class _PolicySchema(ma.Schema):
    id = ma.fields.String(required=True, validate=ma.validate.Regexp(r"^[a-z0-9][a-z0-9-]*$"))
    description = ma.fields.String(load_default="")
    customers = ma.fields.List(ma.fields.String(validate=ma.validate.Length(min=1, max=100)), load_default=list)
    plans = ma.fields.List(ma.fields.String(validate=ma.validate.OneOf(PLANS)), load_default=list)
    levels = ma.fields.List(ma.fields.Integer(strict=True, validate=ma.validate.OneOf(LEVELS)), load_default=list)
    steps = ma.fields.List(ma.fields.Nested(_StepSchema), required=True, validate=ma.validate.Length(min=1, max=10))


class EscalationDocument(ma.Schema):
    """escalation.yaml: the policies, in order."""

    policies = ma.fields.List(ma.fields.Nested(_PolicySchema), required=True)


def build(file: str, doc: dict) -> Escalation:
    problems = duplicate_ids(file, "policies", doc["policies"], "policy")
    policies = []
    for spec in doc["policies"]:
        item = f"policies[{spec['id']}]"
        if spec["customers"] and (spec["plans"] or spec["levels"]):
            problems.append(Problem(file, item, "customers", "a policy names customers, or plans and levels, not both"))
        shares = [step["at"] for step in spec["steps"]]
        if shares != sorted(set(shares)):
            problems.append(Problem(file, item, "steps", "steps come in increasing order of `at`, each once"))
        for index, step in enumerate(spec["steps"]):
            if step["action"] == "escalate" and "tier" not in step:
                problems.append(Problem(file, item, f"steps[{index}].tier", "escalate needs a tier: EE or SE"))
            if step["action"] == "reroute" and "tier" in step:
                problems.append(Problem(file, item, f"steps[{index}].tier", "reroute stays in the tier; use escalate"))
        policies.append(
            Policy(
                spec["id"],
                spec["description"],
                tuple(spec["customers"]),
                tuple(spec["plans"]),
                tuple(spec["levels"]),
                tuple(Step(step["at"], step["action"], step.get("tier")) for step in spec["steps"]),
            )
        )
    if problems:
        raise RulesInvalid(problems)
    return Escalation(tuple(policies))
