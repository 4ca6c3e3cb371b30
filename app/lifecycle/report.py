"""The SLA report of a period: per customer, cases, first responses met and missed, attainment,
median and p90 response minutes, and each miss with its lateness and penalty.

A case belongs to the period of its first report. Its outcome comes from its recorded timeline, so
a past period's report is the same every time: a miss is a recorded breach, or a first response
after the deadline (a later regrade does not undo it); a clock still running is `pending` and counts
neither way. Penalties follow each customer's contract: misses numbered in the order of their broken
deadlines within the contract's own period (month or quarter, by first report), capped per contract
period, the same in a monthly and in a quarterly report."""

import re
import statistics
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from app.lifecycle.case import CaseView
from app.lifecycle.clock import minutes_between
from app.routing.contracts import Contract, Contracts
from app.routing.sla import Terms


class PeriodInvalid(ValueError):
    pass


def period_bounds(period: str) -> tuple[datetime, datetime]:
    """[start, end) in UTC of "2026-11" (a month) or "2026-Q4" (a quarter)."""
    month = re.fullmatch(r"(\d{4})-(\d{2})", period)
    quarter = re.fullmatch(r"(\d{4})-Q([1-4])", period)
    if month and 1 <= int(month[2]) <= 12:
        year, first, months = int(month[1]), int(month[2]), 1
    elif quarter:
        year, first, months = int(quarter[1]), (int(quarter[2]) - 1) * 3 + 1, 3
    else:
        raise PeriodInvalid(f"{period!r} is not a month (2026-11) or a quarter (2026-Q4)")
    if not 1970 <= year <= 9998:
        raise PeriodInvalid(f"{period!r} is out of range")
    start = datetime(year, first, 1, tzinfo=UTC)
    end_month = first + months
    end = datetime(year + (end_month > 12), (end_month - 1) % 12 + 1, 1, tzinfo=UTC)
    return start, end


def _contract_period(instant: datetime, kind: str) -> str:
    utc = instant.astimezone(UTC)
    return f"{utc.year}-{utc.month:02d}" if kind == "month" else f"{utc.year}-Q{(utc.month - 1) // 3 + 1}"


def _percentile(values: list[float], share: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(share * (len(ordered) - 1))))  # nearest rank
    return ordered[rank]


def window(period: str) -> tuple[datetime, datetime]:
    """The first reports a report of `period` must read: the whole quarters around it, since a
    contract may number its misses by quarter while the report covers a month."""
    start, end = period_bounds(period)
    first = datetime(start.year, (start.month - 1) // 3 * 3 + 1, 1, tzinfo=UTC)
    last, _ = period_bounds(_contract_period(end - timedelta(microseconds=1), "quarter"))
    return first, period_bounds(_contract_period(last, "quarter"))[1]


@dataclass(frozen=True)
class Miss:
    """A broken first-response promise: the deadline that was broken, at the level it was broken at."""

    view: CaseView
    due_at: datetime
    level: int

    @classmethod
    def of(cls, view: CaseView) -> "Miss | None":
        """A case whose promise was broken: recorded breached, or answered late (a regrade or a later
        clock cycle does not undo a breach)."""
        breach = next((e for e in view.entries if e.type == "breached"), None)
        if breach is not None:
            return cls(view, datetime.fromisoformat(breach.data["due_at"]), breach.data.get("level", view.clock.level))
        if view.clock.status == "missed" and view.clock.due_at is not None:
            return cls(view, view.clock.due_at, view.clock.level)
        return None


def sla_report(period: str, views: list[CaseView], contracts: Contracts, terms: Terms) -> dict:
    """The report of `period` from the cases first reported in it. `views` may hold more (window()):
    misses are numbered, and capped, within each contract period over all of them."""
    start, end = period_bounds(period)
    misses = {view.case_id: miss for view in views if (miss := Miss.of(view)) is not None}
    penalties = _penalties(misses, contracts)
    by_customer: dict[str, list[CaseView]] = defaultdict(list)
    for view in views:
        if start <= view.clock.started_at < end:
            by_customer[view.customer_id].append(view)
    customers = []
    for customer in sorted(by_customer):
        cases = sorted(by_customer[customer], key=lambda v: v.clock.started_at)
        missed = sorted((misses[v.case_id] for v in cases if v.case_id in misses), key=lambda m: m.due_at)
        met = [v for v in cases if v.case_id not in misses and v.clock.status == "met"]
        responses = [v.clock.response_minutes for v in cases if v.clock.response_minutes is not None]
        contract = contracts.of(customer, cases[0].plan)
        rows = []
        for miss in missed:
            acknowledged = miss.view.clock.acknowledged_at
            calendar = terms.clock_of(miss.view.plan)
            late = None if acknowledged is None else round(minutes_between(calendar, miss.due_at, acknowledged), 2)
            rows.append(
                {
                    "case_id": miss.view.case_id,
                    "severity": miss.level,
                    "due_at": miss.due_at,
                    "acknowledged_at": acknowledged,
                    "unacknowledged": acknowledged is None,
                    "minutes_late": late,
                    "penalty": float(penalties.get(miss.view.case_id, Decimal(0))),
                }
            )
        total = sum((penalties.get(m.view.case_id, Decimal(0)) for m in missed), Decimal(0))
        decided = len(met) + len(missed)
        customers.append(
            {
                "customer": customer,
                "plan": cases[-1].plan,
                "contract": contract.name if contract else None,
                "cases": len(cases),
                "met": len(met),
                "missed": len(missed),
                "pending": len(cases) - decided,
                "attainment": round(100 * len(met) / decided, 2) if decided else None,
                "median_response_minutes": round(statistics.median(responses), 2) if responses else None,
                "p90_response_minutes": _percentile(responses, 0.9),
                "misses": rows,
                "penalty_total": float(total),
            }
        )
    return {
        "period": period,
        "start": start,
        "end": end,
        "currency": contracts.currency,
        "customers": customers,
        "penalty_total": float(sum(Decimal(str(c["penalty_total"])) for c in customers)),
    }


def _penalties(misses: dict, contracts: Contracts) -> dict[str, Decimal]:
    """Each miss's penalty: numbered in the order of its broken deadline within the customer's contract
    period (of the case's first report), and capped per contract period."""
    groups: dict[tuple, list[Miss]] = defaultdict(list)
    held: dict[str, Contract] = {}  # by name: a customer whose plan changed has misses under two contracts
    for miss in misses.values():
        contract = contracts.of(miss.view.customer_id, miss.view.plan)
        if contract is not None:
            held[contract.name] = contract
            groups[(miss.view.customer_id, contract.name, _contract_period(miss.view.clock.started_at, contract.period))].append(
                miss
            )
    penalties = {}
    for (_, name, _), group in groups.items():
        contract = held[name]
        spent = Decimal(0)
        for number, miss in enumerate(sorted(group, key=lambda m: m.due_at), start=1):
            penalty = contract.penalty(number, spent)
            spent += penalty
            penalties[miss.view.case_id] = penalty
    return penalties
