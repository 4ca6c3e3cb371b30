"""The SLA report of a period: per customer, cases, first responses met and missed, attainment,
median and p90 response minutes, and each miss with its lateness and penalty.

A case belongs to the period of its first report. Its outcome comes from its recorded timeline, so
a past period's report is the same every time: a miss is a response after the deadline, or none by
it (`unacknowledged`); a clock still running is `pending` and counts neither way. Penalties follow
each customer's contract: misses in the order of their deadlines, numbered within the contract's
own period (month or quarter), capped per contract period."""

import re
import statistics
from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal

from app.lifecycle.case import CaseView
from app.routing.contracts import Contracts


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


def sla_report(period: str, views: list[CaseView], contracts: Contracts) -> dict:
    """The report of `period` from the cases first reported in it (their views as replayed)."""
    start, end = period_bounds(period)
    by_customer: dict[str, list[CaseView]] = defaultdict(list)
    for view in views:
        by_customer[view.customer_id].append(view)
    customers = []
    for customer in sorted(by_customer):
        cases = sorted(by_customer[customer], key=lambda v: v.clock.started_at)
        met = [v for v in cases if v.clock.status == "met"]
        missed = sorted((v for v in cases if v.clock.status == "missed"), key=lambda v: v.clock.due_at or v.clock.started_at)
        responses = [v.clock.response_minutes for v in cases if v.clock.response_minutes is not None]
        contract = contracts.of(customer, cases[0].plan)
        misses: list[dict] = []
        total = Decimal(0)
        spent: dict[str, Decimal] = defaultdict(Decimal)
        numbers: dict[str, int] = defaultdict(int)
        for view in missed:
            clock = view.clock
            penalty = Decimal(0)
            if contract is not None:
                key = _contract_period(clock.due_at or clock.started_at, contract.period)
                numbers[key] += 1
                penalty = contract.penalty(numbers[key], spent[key])
                spent[key] += penalty
            total += penalty
            misses.append(
                {
                    "case_id": view.case_id,
                    "severity": clock.level,
                    "due_at": clock.due_at,
                    "acknowledged_at": clock.acknowledged_at,
                    "unacknowledged": clock.acknowledged_at is None,
                    "minutes_late": clock.minutes_late if clock.acknowledged_at is not None else None,
                    "penalty": float(penalty),
                }
            )
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
                "misses": misses,
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
