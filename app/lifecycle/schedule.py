"""What the scheduler must do for a case, and when: the escalation policy's steps and the breach,
each once per response clock (cycle). Pure; the store keeps the due moments and the service acts."""

from dataclasses import dataclass
from datetime import datetime

from app.lifecycle.case import CaseView
from app.lifecycle.clock import instant_after
from app.routing.escalation import Escalation
from app.routing.sla import Terms

BREACH = "breach"


@dataclass(frozen=True)
class DueAction:
    case_id: str
    step: str  # "<policy>:<index>" or "breach"
    cycle: int
    action: str  # reroute | escalate | breach
    due_at: datetime
    tier: str | None = None
    reason: str = ""


def due_actions(view: CaseView, escalation: Escalation, terms: Terms) -> list[DueAction]:
    """The steps still to take on the case's current response clock, with their due moments; none
    once the case is acknowledged or resolved, and none while its clock is paused with time left."""
    clock = view.clock
    if clock.acknowledged_at is not None or view.state == "resolved":
        return []
    calendar = terms.clock_of(view.plan)
    actions = []
    policy = escalation.policy_for(view.customer_id, view.plan, view.severity)
    for index, step in enumerate(policy.steps if policy else ()):
        key = f"{policy.id}:{index}" if policy else ""
        if view.executed(key, clock.cycle):
            continue
        due = instant_after(calendar, clock.segments, clock.target_minutes * step.at / 100)
        if due is not None:
            reason = f"policy {policy.id if policy else ''}: not acknowledged at {step.at}% of the {clock.target_minutes}-minute target"
            actions.append(DueAction(view.case_id, key, clock.cycle, step.action, due, step.tier, reason))
    if clock.due_at is not None and not view.executed(BREACH, clock.cycle):
        reason = f"not acknowledged by the deadline {clock.due_at.isoformat()} ({clock.target_minutes} min, {clock.clock})"
        actions.append(DueAction(view.case_id, BREACH, clock.cycle, BREACH, clock.due_at, None, reason))
    return actions
