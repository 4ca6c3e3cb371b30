"""Penalty contracts (contracts.yaml): what a missed response target costs, per customer and period.

A contract belongs to a plan, or to one customer (which overrides its plan's). Misses are counted in
order within a period (a calendar month or quarter, UTC): the first miss costs the schedule's first
amount, the second the second, and every miss after the schedule's end its last amount; the period's
total is capped. An amount is money in the document's currency, or a share of the period's fee
("5%", which needs `fee`)."""

from dataclasses import dataclass
from decimal import Decimal

import marshmallow as ma

from app.rulelang.documents import Problem, RulesInvalid
from app.rulelang.domain import PLANS

PERIODS = ("month", "quarter")


@dataclass(frozen=True)
class Contract:
    name: str  # "plan premium" or "customer acme-global"
    period: str
    penalties: tuple[Decimal, ...]  # money per miss, in order
    cap: Decimal | None

    def penalty(self, miss_number: int, so_far: Decimal) -> Decimal:
        """What the `miss_number`-th miss (1-based) of a period costs, given what earlier ones cost."""
        amount = self.penalties[min(miss_number, len(self.penalties)) - 1]
        if self.cap is not None:
            amount = max(Decimal(0), min(amount, self.cap - so_far))
        return amount


@dataclass(frozen=True)
class Contracts:
    currency: str = "EUR"
    plans: dict | None = None  # plan -> Contract
    customers: dict | None = None  # customer id -> Contract

    def of(self, customer: str, plan: str) -> Contract | None:
        """The customer's own contract, else its plan's, else none (misses cost nothing)."""
        return (self.customers or {}).get(customer) or (self.plans or {}).get(plan)


class _ContractSchema(ma.Schema):
    period = ma.fields.String(required=True, validate=ma.validate.OneOf(PERIODS))
    penalties = ma.fields.List(ma.fields.Raw(), required=True, validate=ma.validate.Length(min=1, max=20))
    cap = ma.fields.Raw(load_default=None)
    fee = ma.fields.Decimal(load_default=None, validate=ma.validate.Range(min=0), metadata={"description": "the period's fee"})


class ContractsDocument(ma.Schema):
    """contracts.yaml: the currency, contracts per plan and per customer."""

    currency = ma.fields.String(load_default="EUR", validate=ma.validate.Regexp(r"^[A-Z]{3}$"))
    plans = ma.fields.Dict(
        keys=ma.fields.String(validate=ma.validate.OneOf(PLANS)), values=ma.fields.Nested(_ContractSchema), load_default=dict
    )
    customers = ma.fields.Dict(
        keys=ma.fields.String(validate=ma.validate.Length(min=1, max=100)),
        values=ma.fields.Nested(_ContractSchema),
        load_default=dict,
    )


def _money(file: str, item: str, field: str, value, fee: Decimal | None, problems: list) -> Decimal:
    text = str(value).strip()
    try:
        if text.endswith("%"):
            share = Decimal(text[:-1])
            if fee is None:
                problems.append(Problem(file, item, field, f"{text} is a share of the fee: give the contract a fee"))
                return Decimal(0)
            amount = fee * share / 100
        else:
            amount = Decimal(text)
    except ArithmeticError:
        problems.append(Problem(file, item, field, f"{value!r} is neither an amount nor a share such as '5%'"))
        return Decimal(0)
    if not amount.is_finite() or amount < 0 or amount > Decimal("1e12"):
        problems.append(Problem(file, item, field, f"{value!r} must be an amount from 0 to 10^12"))
        return Decimal(0)
    return amount.quantize(Decimal("0.01"))


def build(file: str, doc: dict) -> Contracts:
    problems: list[Problem] = []

    def contract(kind: str, name: str, spec: dict) -> Contract:
        item = f"{kind}.{name}"
        penalties = tuple(
            _money(file, item, f"penalties[{i}]", value, spec["fee"], problems) for i, value in enumerate(spec["penalties"])
        )
        cap = None if spec["cap"] is None else _money(file, item, "cap", spec["cap"], spec["fee"], problems)
        return Contract(f"{kind[:-1]} {name}", spec["period"], penalties, cap)

    plans = {name: contract("plans", name, spec) for name, spec in doc["plans"].items()}
    customers = {name: contract("customers", name, spec) for name, spec in doc["customers"].items()}
    if problems:
        raise RulesInvalid(problems)
    return Contracts(doc["currency"], plans, customers)
